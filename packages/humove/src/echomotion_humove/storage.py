"""A HuMoVe dataset on disk: a sharded parquet manifest plus per-clip media.

Layout of a dataset directory::

    humove.json                     format name, version, free-form metadata
    manifest/shard-00000.parquet    the clip records of shard 0 (one parquet file per shard)
    media/00000/<id>.mp4            the clip's video (H.264)
    media/00000/<id>.motion.npz     the clip's motion (the codec's motion .npz)

A shard is the unit of work: one worker writes one shard's media, then its manifest file,
atomically (temp + rename), so a shard whose manifest exists is complete. The manifest
directory as a whole is a parquet dataset (``pyarrow.dataset.dataset(root / "manifest")``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from echomotion_motion_codec import atomic_path

from .schema import ClipRecord

__all__ = [
    "DATASET_FORMAT",
    "DATASET_VERSION",
    "MANIFEST_SCHEMA",
    "ManifestRow",
    "atomic_write_bytes",
    "atomic_write_text",
    "init_dataset",
    "list_shards",
    "media_paths",
    "read_dataset_info",
    "read_manifest",
    "read_manifest_rows",
    "record_to_row",
    "row_to_record",
    "shard_manifest_path",
    "write_shard_manifest",
]

DATASET_FORMAT = "echomotion.humove"
DATASET_VERSION = 1

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("shard", pa.int32()),
        ("start_time", pa.float64()),
        ("end_time", pa.float64()),
        ("fps", pa.float64()),
        ("num_frames", pa.int32()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("category", pa.string()),
        ("subcategory", pa.string()),
        ("action_label", pa.string()),
        ("caption_appearance", pa.string()),
        ("caption_background", pa.string()),
        ("caption_action", pa.string()),
        ("caption_full", pa.string()),
        ("video_file", pa.string()),
        ("motion_file", pa.string()),
        ("motion_frame", pa.string()),
        ("world_from_camera", pa.list_(pa.float64())),
        ("focal", pa.float64()),
        ("quality", pa.string()),  # JSON object name → float
        ("stages", pa.string()),  # JSON list of {stage, status, reason}
        ("status", pa.string()),
        ("rejected_stage", pa.string()),  # denormalized, for queries
        ("reject_reason", pa.string()),
    ]
)

ManifestRow = dict[str, Any]


# ---------------------------------------------------------------------------- atomic files
def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` via a temp file in the same folder and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------- layout
def init_dataset(root: str | os.PathLike[str], **meta: Any) -> Path:
    """Create (or reuse) a dataset directory and its `humove.json`."""
    root = Path(root)
    info_path = root / "humove.json"
    if info_path.exists():
        info = read_dataset_info(root)
        info.update({k: v for k, v in meta.items() if k not in info})
    else:
        info = {"format": DATASET_FORMAT, "version": DATASET_VERSION, **meta}
    (root / "manifest").mkdir(parents=True, exist_ok=True)
    (root / "media").mkdir(parents=True, exist_ok=True)
    atomic_write_text(info_path, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return root


def read_dataset_info(root: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(root) / "humove.json"
    if not path.is_file():
        raise FileNotFoundError(f"{root}: not a HuMoVe dataset (no humove.json)")
    info = json.loads(path.read_text(encoding="utf-8"))
    if info.get("format") != DATASET_FORMAT:
        raise ValueError(f"{path}: format {info.get('format')!r}, expected {DATASET_FORMAT!r}")
    if info.get("version") != DATASET_VERSION:
        raise ValueError(f"{path}: version {info.get('version')!r}, this reader knows 1")
    return dict(info)


def shard_manifest_path(root: str | os.PathLike[str], shard: int) -> Path:
    return Path(root) / "manifest" / f"shard-{shard:05d}.parquet"


def media_paths(shard: int, clip_id: str) -> tuple[str, str]:
    """(video, motion) paths of a clip, relative to the dataset root."""
    folder = f"media/{shard:05d}"
    return f"{folder}/{clip_id}.mp4", f"{folder}/{clip_id}.motion.npz"


def list_shards(root: str | os.PathLike[str]) -> list[int]:
    """Shards whose manifest file exists (i.e. finished shards), sorted."""
    folder = Path(root) / "manifest"
    if not folder.is_dir():
        return []
    out = []
    for p in folder.glob("shard-*.parquet"):
        try:
            out.append(int(p.stem.split("-", 1)[1]))
        except ValueError:
            continue
    return sorted(out)


# ---------------------------------------------------------------------------- rows ⇄ records
def record_to_row(record: ClipRecord) -> ManifestRow:
    cap = record.caption
    rej = record.rejection
    return {
        "id": record.id,
        "source": record.source,
        "shard": record.shard,
        "start_time": record.start_time,
        "end_time": record.end_time,
        "fps": record.fps,
        "num_frames": record.num_frames,
        "width": record.width,
        "height": record.height,
        "category": record.category,
        "subcategory": record.subcategory,
        "action_label": record.action_label,
        "caption_appearance": cap.appearance if cap else None,
        "caption_background": cap.background if cap else None,
        "caption_action": cap.action if cap else None,
        "caption_full": cap.full if cap else None,
        "video_file": record.video_file,
        "motion_file": record.motion_file,
        "motion_frame": record.motion_frame,
        "world_from_camera": (
            [v for row in record.world_from_camera for v in row]
            if record.world_from_camera
            else None
        ),
        "focal": record.focal,
        "quality": json.dumps(record.quality, sort_keys=True),
        "stages": json.dumps([s.model_dump() for s in record.stages]),
        "status": record.status,
        "rejected_stage": rej.stage if rej else None,
        "reject_reason": rej.reason if rej else None,
    }


def row_to_record(row: ManifestRow) -> ClipRecord:
    """A manifest row → ClipRecord; raises pydantic.ValidationError (or ValueError) if invalid."""
    data = {k: v for k, v in row.items() if k in ClipRecord.model_fields}
    caption_keys = ("appearance", "background", "action", "full")
    parts = {k: row.get(f"caption_{k}") for k in caption_keys}
    data["caption"] = None if all(v is None for v in parts.values()) else parts
    wfc = row.get("world_from_camera")
    if wfc is not None:
        if len(wfc) != 16:
            raise ValueError(f"world_from_camera: expected 16 numbers (4×4), got {len(wfc)}")
        data["world_from_camera"] = [list(wfc[i : i + 4]) for i in range(0, 16, 4)]
    try:
        data["quality"] = json.loads(row.get("quality") or "{}")
        data["stages"] = json.loads(row.get("stages") or "[]")
    except json.JSONDecodeError as err:
        raise ValueError(f"quality/stages: not valid JSON ({err})") from err
    return ClipRecord.model_validate(data)


# ---------------------------------------------------------------------------- manifest I/O
def write_shard_manifest(
    root: str | os.PathLike[str], shard: int, records: Iterable[ClipRecord]
) -> Path:
    """Write one shard's manifest atomically; every record must belong to `shard`."""
    rows = []
    for rec in records:
        if rec.shard != shard:
            raise ValueError(f"record {rec.id!r} is in shard {rec.shard}, not {shard}")
        rows.append(record_to_row(rec))
    table = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
    path = shard_manifest_path(root, shard)
    with atomic_path(path) as tmp:
        pq.write_table(table, str(tmp))
    return path


def shard_rows(root: str | os.PathLike[str], shard: int) -> int:
    """Number of records in a shard's manifest (0 when it has none), read from the footer."""
    path = shard_manifest_path(root, shard)
    return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0


def read_manifest_rows(root: str | os.PathLike[str]) -> Iterator[tuple[Path, ManifestRow]]:
    """Raw rows of every shard manifest, with the file they came from (no validation)."""
    for shard in list_shards(root):
        path = shard_manifest_path(root, shard)
        for row in pq.read_table(path).to_pylist():
            yield path, row


def read_manifest(
    root: str | os.PathLike[str], *, status: str | Iterable[str] | None = None
) -> list[ClipRecord]:
    """Every clip record of a dataset (optionally only those with the given status), in shard
    then manifest order. Invalid rows raise with the file and the row's id."""
    wanted = {status} if isinstance(status, str) else set(status) if status is not None else None
    out: list[ClipRecord] = []
    for path, row in read_manifest_rows(root):
        try:
            rec = row_to_record(row)
        except (ValidationError, ValueError) as err:
            raise ValueError(
                f"{path}: row {row.get('id')!r} is not a valid clip record: {err}"
            ) from err
        if wanted is None or rec.status in wanted:
            out.append(rec)
    return out
