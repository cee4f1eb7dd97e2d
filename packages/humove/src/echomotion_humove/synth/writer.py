"""Writing a synthetic dataset: `humove synth` — clips rendered, stored in the HuMoVe format.

Clip i of a dataset made with `seed` uses the clip seed `seed * 1_000_003 + i`, so a dataset
is reproducible clip by clip and growing `--clips` keeps the clips already there. A shard
whose manifest holds all its clips is skipped, so an interrupted run resumes where it stopped
and a grown dataset re-renders only its last, partial shard.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from echomotion_motion_codec import save_motion
from echomotion_motion_codec.video import write_video

from ..parallel import Executor, run_shards
from ..schema import ClipRecord, StageOutcome
from ..storage import (
    init_dataset,
    list_shards,
    media_paths,
    read_dataset_info,
    shard_rows,
    write_shard_manifest,
)
from ..virtual_camera import CameraRange
from .world import SyntheticClip, synthesize_clip

__all__ = ["SynthConfig", "clip_record", "clip_seed", "write_synthetic_dataset"]


@dataclass(frozen=True)
class SynthConfig:
    clips: int
    width: int = 64
    height: int = 64
    num_frames: int = 33
    fps: float = 16.0
    seed: int = 0
    shard_size: int = 32
    supersample: int = 2
    # (near, far) camera distance in meters, see `CameraRange.distance`
    camera_distance: tuple[float, float] = CameraRange().distance

    def __post_init__(self) -> None:
        try:
            self.camera_range  # noqa: B018 — CameraRange checks the range
        except ValueError as err:
            raise ValueError(f"camera_distance: {str(err).removeprefix('distance: ')}") from None

    @property
    def camera_range(self) -> CameraRange:
        near, far = (float(v) for v in self.camera_distance)
        return CameraRange(distance=(near, far))

    def shard_range(self, shard: int) -> range:
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, self.clips))

    @property
    def num_shards(self) -> int:
        return math.ceil(self.clips / self.shard_size)


def clip_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def visible_fraction(clip: SyntheticClip) -> float:
    """Fraction of (frame, joint) pairs whose projection falls inside the image."""
    h, w = clip.frames.shape[1:3]
    pin = clip.camera.pinhole(w, h)
    j = clip.motion.joints.float()  # camera frame already
    z = j[..., 2].clamp_min(1e-3)
    u = pin.focal * j[..., 0] / z + w / 2
    v = pin.focal * j[..., 1] / z + h / 2
    inside = (j[..., 2] > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    return float(inside.float().mean())


def clip_record(clip: SyntheticClip, clip_id: str, shard: int, source: str) -> ClipRecord:
    video_file, motion_file = media_paths(shard, clip_id)
    t, h, w = clip.frames.shape[:3]
    return ClipRecord(
        id=clip_id,
        source=source,
        shard=shard,
        start_time=0.0,
        end_time=t / clip.fps,
        fps=clip.fps,
        num_frames=t,
        width=w,
        height=h,
        category=clip.category,
        subcategory=clip.subcategory,
        action_label=clip.action,
        caption=clip.caption,
        video_file=video_file,
        motion_file=motion_file,
        motion_frame="camera",
        world_from_camera=tuple(
            tuple(float(v) for v in row) for row in clip.world_from_camera.tolist()
        ),  # type: ignore[arg-type]
        focal=clip.focal,
        quality={"keypoint_visibility": visible_fraction(clip)},
        stages=(StageOutcome(stage="synth", status="done", reason=f"seed {clip.seed}"),),
        status="accepted",
    )


@dataclass(frozen=True)
class _ShardJob:
    root: str
    config: SynthConfig

    def __call__(self, shard: int) -> dict[str, Any]:
        cfg = self.config
        records = []
        for index in cfg.shard_range(shard):
            seed = clip_seed(cfg.seed, index)
            clip = synthesize_clip(
                seed,
                width=cfg.width,
                height=cfg.height,
                num_frames=cfg.num_frames,
                fps=cfg.fps,
                supersample=cfg.supersample,
                camera_range=cfg.camera_range,
            )
            clip_id = f"synth-{cfg.seed}-{index:06d}"
            rec = clip_record(clip, clip_id, shard, f"synthetic:seed={seed}")
            assert rec.video_file is not None and rec.motion_file is not None
            write_video(Path(self.root) / rec.video_file, clip.frames, clip.fps)
            save_motion(Path(self.root) / rec.motion_file, clip.motion)
            records.append(rec)
        write_shard_manifest(self.root, shard, records)
        return {"shard": shard, "clips": len(records)}


def write_synthetic_dataset(
    out: str | os.PathLike[str],
    config: SynthConfig,
    *,
    workers: int = 1,
    executor: Executor = "local",
    progress: bool = False,
) -> dict[str, int]:
    """Write (or finish) a synthetic dataset; returns {"written": shards done now, "skipped": …}."""
    if config.clips < 1:
        raise ValueError(f"clips: expected >= 1, got {config.clips}")
    settings: dict[str, Any] = {
        "seed": config.seed,
        "clips": config.clips,
        "width": config.width,
        "height": config.height,
        "num_frames": config.num_frames,
        "fps": config.fps,
        "shard_size": config.shard_size,
        "supersample": config.supersample,
        "camera_distance": [float(v) for v in config.camera_distance],
    }
    if (Path(out) / "humove.json").is_file():  # finishing or growing: the clips must match
        before = read_dataset_info(out).get("synth") or {}
        for key, value in settings.items():
            if key != "clips" and key in before and before[key] != value:
                raise ValueError(
                    f"{key}: the synthetic dataset at {out} was made with {key} = "
                    f"{before[key]!r}, this config asks for {value!r}; use a new folder"
                )
    root = init_dataset(out, kind="synthetic", synth=settings)
    # a shard is done when its manifest holds all its clips: growing `clips` re-renders the
    # last, partial shard (clip by clip the same) and adds the new ones
    done = {s for s in list_shards(root) if shard_rows(root, s) == len(config.shard_range(s))}
    todo = [s for s in range(config.num_shards) if s not in done]
    run_shards(
        _ShardJob(str(root), config),
        todo,
        workers=workers,
        executor=executor,
        progress=progress,
        description="synthesizing",
    )
    return {"written": len(todo), "skipped": config.num_shards - len(todo)}
