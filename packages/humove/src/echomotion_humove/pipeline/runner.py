"""`humove build`: raw videos → a HuMoVe dataset, through the stages of the paper's A.4.

Per source video: scene split (PySceneDetect, ours) → one clip per scene, cut into the
dataset's media; per clip, in order: aesthetic filter, single-person filter, keypoint
visibility, mesh recovery, temporal smoothing, forward kinematics, captioning.

Sources are assigned to shards (sorted paths, `sources_per_shard` each); a shard is one job of
the executor (local process pool or Ray). Every result is cached under `work/` as it is made —
the scene list per source, one JSON per (clip, stage), the stage artifacts — with atomic
writes, so re-running skips finished work and a killed build resumes where it stopped. Skipped
stages (no backend) are not cached, so adding a backend later and re-running runs just them.
Every source and clip ends in the manifest: accepted, partial (a stage was skipped) or
rejected with the stage and the reason; nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from echomotion_motion_codec.video import write_video

from ..parallel import Executor, run_shards
from ..schema import ClipRecord, StageOutcome
from ..storage import atomic_write_text, init_dataset, media_paths, write_shard_manifest
from ..video_io import VideoReadError, probe_video, read_video
from .stages import ClipContext, Stage

__all__ = ["BuildConfig", "build_dataset", "detect_scenes", "source_id"]


@dataclass(frozen=True)
class BuildConfig:
    stages: tuple[Stage, ...]
    scene_threshold: float = 27.0  # ContentDetector's default
    min_frames: int = 9
    max_frames: int | None = None  # longer scenes are cut into pieces of this length
    sources_per_shard: int = 16
    extra: dict[str, Any] = field(default_factory=dict)


def source_id(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("._-")[:40] or "video"
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def detect_scenes(path: Path, threshold: float = 27.0) -> list[tuple[int, int]]:
    """[start, end) frame ranges of the scenes of a video (a video without cuts is one scene)."""
    from scenedetect import ContentDetector, detect

    scenes = detect(str(path), ContentDetector(threshold=threshold), start_in_scene=True)
    return [(int(a.get_frames()), int(b.get_frames())) for a, b in scenes]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@dataclass(frozen=True)
class _ShardJob:
    root: str
    sources: tuple[str, ...]
    shard: int
    config: BuildConfig

    def __call__(self, shard: int) -> dict[str, Any]:
        root = Path(self.root)
        computed = 0
        records: list[ClipRecord] = []
        for src in self.sources:
            recs, n = self._source(root, Path(src))
            records += recs
            computed += n
        write_shard_manifest(root, self.shard, records)
        return {"shard": self.shard, "clips": len(records), "computed": computed}

    def _source(self, root: Path, path: Path) -> tuple[list[ClipRecord], int]:
        cfg = self.config
        sid = source_id(path)
        work = root / "work" / sid
        work.mkdir(parents=True, exist_ok=True)
        computed = 0
        split_file = work / "scene_split.json"
        split = _read_json(split_file)
        if split is None:
            computed += 1
            try:
                info = probe_video(path)
                scenes = detect_scenes(path, cfg.scene_threshold)
                split = {"ok": True, "fps": info.fps, "width": info.width, "height": info.height,
                         "num_frames": info.num_frames, "scenes": scenes}  # fmt: skip
            except (VideoReadError, OSError, RuntimeError, ValueError) as err:
                split = {"ok": False, "reason": f"unreadable video: {err}"}
            atomic_write_text(split_file, json.dumps(split))
        if not split["ok"]:
            rec = ClipRecord(
                id=sid, source=str(path), shard=self.shard, start_time=0.0, end_time=0.0, fps=1.0,
                num_frames=0, width=0, height=0, status="rejected",
                stages=(StageOutcome(stage="scene_split", status="rejected", reason=split["reason"]),),
            )  # fmt: skip
            return [rec], computed
        fps, w, h = float(split["fps"]), int(split["width"]), int(split["height"])
        pieces: list[tuple[int, int]] = []
        for a, b in split["scenes"]:
            step = cfg.max_frames or (b - a)
            pieces += [(s, min(s + step, b)) for s in range(a, b, max(step, 1))]
        records: list[ClipRecord] = []
        frames_cache = None
        for k, (a, b) in enumerate(pieces):
            cid = f"{sid}-{k:03d}"
            video_file, motion_file = media_paths(self.shard, cid)
            base = dict(
                id=cid, source=str(path), shard=self.shard, start_time=a / fps, end_time=b / fps,
                fps=fps, num_frames=b - a, width=w, height=h,
            )  # fmt: skip
            outcomes = [StageOutcome(stage="scene_split", status="done", reason=f"frames {a}–{b}")]
            if b - a < cfg.min_frames:
                outcomes[0] = StageOutcome(
                    stage="scene_split", status="rejected",
                    reason=f"scene of {b - a} frames is shorter than {cfg.min_frames}",
                )  # fmt: skip
                records.append(ClipRecord(**base, stages=tuple(outcomes), status="rejected"))  # type: ignore[arg-type]
                continue
            if not (root / video_file).is_file():
                if frames_cache is None:
                    frames_cache, _ = read_video(path)
                write_video(root / video_file, frames_cache[a:b], fps)
                computed += 1
            ctx = ClipContext(root, cid, video_file, motion_file, root / "work" / cid, w, h, fps)
            ctx.work.mkdir(parents=True, exist_ok=True)
            quality: dict[str, float] = {}
            updates: dict[str, Any] = {"video_file": video_file}
            status = "accepted"
            for stage in cfg.stages:
                cache = ctx.work / f"{stage.name}.json"
                result = _read_json(cache)
                if result is None:
                    res = stage.run(ctx)
                    result = {
                        "status": res.status,
                        "reason": res.reason,
                        "quality": res.quality,
                        "updates": res.updates,
                    }
                    if res.status != "skipped":
                        atomic_write_text(cache, json.dumps(result))
                        computed += 1
                outcomes.append(
                    StageOutcome(stage=stage.name, status=result["status"], reason=result["reason"])
                )
                quality.update(result["quality"])
                updates.update(result["updates"])
                if result["status"] == "rejected":
                    status = "rejected"
                    break
                if result["status"] == "skipped":
                    status = "partial"
            records.append(
                ClipRecord(
                    **base, **updates, quality=quality, stages=tuple(outcomes), status=status
                )  # type: ignore[arg-type]
            )
        return records, computed


def build_dataset(
    sources: list[Path],
    out: str | os.PathLike[str],
    config: BuildConfig,
    *,
    workers: int = 1,
    executor: Executor = "local",
    progress: bool = False,
) -> dict[str, int]:
    """Build (or resume) a dataset from raw videos. Returns {"clips", "computed"}: computed is
    the number of pieces of work done now (0 when everything was already done)."""
    root = init_dataset(out, kind="built")
    ordered = sorted(str(Path(p).resolve()) for p in sources)
    n = config.sources_per_shard
    groups = [tuple(ordered[i : i + n]) for i in range(0, len(ordered), n)]
    jobs = {s: _ShardJob(str(root), g, s, config) for s, g in enumerate(groups)}
    summaries = run_shards(
        _Dispatch(jobs),
        list(jobs),
        workers=workers,
        executor=executor,
        progress=progress,
        description="building",
    )
    return {
        "clips": sum(s["clips"] for s in summaries),
        "computed": sum(s["computed"] for s in summaries),
    }


@dataclass(frozen=True)
class _Dispatch:
    jobs: dict[int, _ShardJob]

    def __call__(self, shard: int) -> dict[str, Any]:
        return self.jobs[shard](shard)
