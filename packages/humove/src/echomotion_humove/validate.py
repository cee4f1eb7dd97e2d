"""`humove validate`: check a dataset — schema, files present, video/motion agreeing with the record.

Every problem is collected (none stops the check) with the clip, the kind of problem and a
message naming the field, what was found and what was expected.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from .schema import ClipRecord
from .storage import (
    list_shards,
    read_dataset_info,
    read_manifest_rows,
    row_to_record,
    shard_manifest_path,
)
from .video_io import VideoReadError, probe_video

__all__ = ["Problem", "ValidationReport", "validate_dataset"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    severity: Severity
    clip: str  # clip id, or a file name for dataset-level problems
    kind: str  # schema | missing-file | video | motion | mismatch | duplicate | orphan | dataset
    message: str


@dataclass
class ValidationReport:
    root: Path
    num_records: int = 0
    status_counts: Counter[str] = field(default_factory=Counter)
    shards: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def kinds(self) -> set[str]:
        return {p.kind for p in self.errors}

    def add(self, severity: Severity, clip: str, kind: str, message: str) -> None:
        self.problems.append(Problem(severity, clip, kind, message))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)


def _check_media(root: Path, rec: ClipRecord, report: ValidationReport) -> None:
    from echomotion_motion_codec import load_motion

    if rec.status == "accepted":
        # video is optional: motion-only (mocap) datasets hold accepted clips without one
        for name in ("motion_file", "caption"):
            if getattr(rec, name) is None:
                report.add("error", rec.id, "schema", f"{name}: required for an accepted clip")
    if rec.video_file is not None:
        path = root / rec.video_file
        if not path.is_file():
            report.add("error", rec.id, "missing-file", f"video_file: {rec.video_file} not found")
        else:
            try:
                info = probe_video(path)
            except VideoReadError as err:
                report.add("error", rec.id, "video", str(err))
            else:
                if not _close(info.fps, rec.fps):
                    report.add(
                        "error",
                        rec.id,
                        "mismatch",
                        f"video fps {info.fps:g} != record fps {rec.fps:g}",
                    )
                if info.num_frames != rec.num_frames:
                    report.add(
                        "error",
                        rec.id,
                        "mismatch",
                        f"video has {info.num_frames} frames, record says num_frames={rec.num_frames}",
                    )
                if (info.width, info.height) != (rec.width, rec.height):
                    report.add(
                        "error",
                        rec.id,
                        "mismatch",
                        f"video is {info.width}x{info.height}, record says {rec.width}x{rec.height}",
                    )
    if rec.motion_file is not None:
        path = root / rec.motion_file
        if not path.is_file():
            report.add("error", rec.id, "missing-file", f"motion_file: {rec.motion_file} not found")
        else:
            try:
                motion = load_motion(path)
            except (ValueError, OSError) as err:
                report.add("error", rec.id, "motion", f"motion_file: {err}")
            else:
                if not _close(motion.fps, rec.fps):
                    report.add(
                        "error",
                        rec.id,
                        "mismatch",
                        f"motion fps {motion.fps:g} != record fps {rec.fps:g}",
                    )
                if motion.num_frames != rec.num_frames:
                    report.add(
                        "error",
                        rec.id,
                        "mismatch",
                        f"motion has {motion.num_frames} frames, record says num_frames={rec.num_frames}",
                    )
                if motion.frame != rec.motion_frame:
                    report.add(
                        "error",
                        rec.id,
                        "mismatch",
                        f"motion is in the {motion.frame!r} frame, record says motion_frame={rec.motion_frame!r}",
                    )
    if rec.num_frames and not math.isclose(
        rec.end_time - rec.start_time, rec.num_frames / rec.fps, abs_tol=1.01 / rec.fps
    ):
        report.add(
            "error",
            rec.id,
            "mismatch",
            f"end_time − start_time = {rec.end_time - rec.start_time:.3f} s but {rec.num_frames} "
            f"frames at {rec.fps:g} fps last {rec.num_frames / rec.fps:.3f} s",
        )


def validate_dataset(
    root: str | os.PathLike[str], *, check_media: bool = True, progress: bool = False
) -> ValidationReport:
    """Check a dataset directory; never raises for a problem of the dataset, reports it."""
    root = Path(root)
    report = ValidationReport(root=root)
    try:
        read_dataset_info(root)
    except (OSError, ValueError) as err:
        report.add("error", "humove.json", "dataset", str(err))
        return report
    shards = list_shards(root)
    report.shards = len(shards)
    if not shards:
        report.add("error", "manifest", "dataset", "no shard manifests under manifest/")
    records: list[ClipRecord] = []
    seen: Counter[str] = Counter()
    try:
        rows = list(read_manifest_rows(root))
    except Exception as err:  # a corrupt parquet file
        report.add("error", "manifest", "schema", f"cannot read the manifest: {err}")
        return report
    for path, row in rows:
        clip = str(row.get("id"))
        seen[clip] += 1
        try:
            rec = row_to_record(row)
        except (ValidationError, ValueError) as err:
            msg = str(err).replace("\n", "; ")
            report.add("error", clip, "schema", f"{path.name}: {msg}")
            continue
        if shard_manifest_path(root, rec.shard) != path:
            report.add(
                "error", clip, "schema", f"shard: record says {rec.shard}, it is in {path.name}"
            )
        records.append(rec)
    for clip, count in seen.items():
        if count > 1:
            report.add("error", clip, "duplicate", f"id appears {count} times in the manifest")
    report.num_records = len(records)
    report.status_counts = Counter(r.status for r in records)
    if check_media:
        _check_all_media(root, records, report, progress)
    referenced = {f for r in records for f in (r.video_file, r.motion_file) if f}
    media = root / "media"
    if media.is_dir():
        for p in sorted(media.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                rel = p.relative_to(root).as_posix()
                if rel not in referenced:
                    report.add("warning", rel, "orphan", "file not referenced by any record")
    return report


def _check_all_media(
    root: Path, records: list[ClipRecord], report: ValidationReport, progress: bool
) -> None:
    if not progress:
        for rec in records:
            _check_media(root, rec, report)
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("checking clips", total=len(records))
        for rec in records:
            _check_media(root, rec, report)
            bar.advance(task)
