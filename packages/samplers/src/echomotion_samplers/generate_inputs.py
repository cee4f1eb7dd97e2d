"""Checks of `echomotion generate`'s inputs against the checkpoint, before any model is loaded.

Reads only pipeline.json, small JSON configs and the input files; every problem is an
`InputError` whose message names the option, the file and what is wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from echomotion_motion_codec import MotionValidationError, SMPLMotion, load_motion

from .bvh_reader import BVHFormatError, read_bvh
from .pipeline_config import (
    NORMALIZER_NAME,
    TRANSFORMER_DIR,
    CheckpointError,
    PipelineConfig,
    resolve_path,
)
from .video_io import VideoReadError, is_wan_frame_count, probe_video, read_video

__all__ = ["GenerateInputs", "InputError", "Mode", "check_generate_inputs"]

Mode = Literal["joint", "m2v", "v2m"]
_FPS_TOLERANCE = 1e-3


class InputError(ValueError):
    """An input of `echomotion generate` is missing or does not fit the checkpoint."""


@dataclass(frozen=True)
class GenerateInputs:
    """Validated inputs: the checkpoint's config, the prompts, the loaded motion or video frames,
    and the output size (frames, height, width)."""

    mode: Mode
    config: PipelineConfig
    prompts: tuple[str, ...]
    motion: SMPLMotion | None
    video: np.ndarray | None  # (1, T, H, W, 3) uint8
    frames: int
    height: int
    width: int


def _spatial_multiple(checkpoint: Path, config: PipelineConfig) -> tuple[int, int]:
    """Pixels per transformer patch (codec factor × patch size), from the JSON configs."""
    try:
        transformer = json.loads((checkpoint / TRANSFORMER_DIR / "config.json").read_text())
        patch = [int(p) for p in transformer.get("patch_size", (1, 2, 2))]
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"{checkpoint / TRANSFORMER_DIR}: unreadable config.json ({err})"
        ) from err
    codec = config.video_codec
    factor = codec.patch
    if codec.kind == "wan_vae":
        vae_dir = resolve_path(checkpoint, codec.path)
        assert vae_dir is not None
        vae_config = vae_dir / "vae" / "config.json"
        vae_config = vae_config if vae_config.is_file() else vae_dir / "config.json"
        if not vae_config.is_file():
            raise CheckpointError(f"video_codec: no VAE config.json under {vae_dir}")
        factor = int(json.loads(vae_config.read_text()).get("scale_factor_spatial") or 8)
    return factor * patch[1], factor * patch[2]


def check_checkpoint(checkpoint: Path) -> PipelineConfig:
    """pipeline.json parsed, and the transformer and normalizer files present."""
    config = PipelineConfig.load(checkpoint)
    for needed in (checkpoint / TRANSFORMER_DIR / "config.json", checkpoint / NORMALIZER_NAME):
        if not needed.is_file():
            raise CheckpointError(f"{needed}: missing from the checkpoint directory {checkpoint}")
    return config


def _load_motion_file(path: Path) -> SMPLMotion:
    if not path.is_file():
        raise InputError(f"--motion: file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".bvh"):
        raise InputError(f"--motion: expected a .npz or .bvh file, got {path.name!r}")
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                bad = [
                    k
                    for k in ("transl", "global_orient", "pose", "betas", "joints")
                    if k in data and not np.isfinite(data[k]).all()
                ]
        except (ValueError, OSError) as err:
            raise InputError(f"--motion: {path}: not a readable .npz file ({err})") from err
        if bad:
            raise InputError(f"--motion: {path}: the motion contains NaN or inf values in {bad}")
    try:
        return load_motion(path) if suffix == ".npz" else read_bvh(path)
    except (MotionValidationError, BVHFormatError, ValueError) as err:
        raise InputError(f"--motion: {path}: {err}") from err


def _check_frames(option: str, found: int, frames: int | None) -> int:
    if not is_wan_frame_count(found):
        raise InputError(
            f"{option}: {found} frames; the model needs 4k + 1 frames (e.g. {(found - 1) // 4 * 4 + 1})"
        )
    if frames is not None and frames != found:
        raise InputError(f"{option}: has {found} frames but --frames is {frames}")
    return found


def _check_fps(option: str, fps: float, config: PipelineConfig) -> None:
    if not math.isclose(fps, config.fps, rel_tol=0, abs_tol=_FPS_TOLERANCE):
        raise InputError(
            f"{option}: {fps:g} fps, but the checkpoint's model runs at {config.fps:g} fps"
        )


def check_generate_inputs(
    *,
    mode: Mode,
    checkpoint: Path,
    prompts: list[str] | None,
    motion_path: Path | None,
    video_path: Path | None,
    frames: int | None,
    height: int | None,
    width: int | None,
) -> GenerateInputs:
    """Check everything `generate` can check without a model; raise InputError/CheckpointError."""
    config = check_checkpoint(checkpoint)
    prompts = [p for p in (prompts or [])]
    if mode in ("joint", "m2v") and not prompts:
        raise InputError(f"--prompt: --mode {mode} needs a prompt")
    if any(not p.strip() for p in prompts):
        raise InputError("--prompt: a prompt is empty")
    if mode == "v2m" and prompts:
        raise InputError("--prompt: --mode v2m does not use a prompt (v2m drops the text)")
    if motion_path is not None and mode != "m2v":
        raise InputError(f"--motion: only --mode m2v takes a motion (got --mode {mode})")
    if video_path is not None and mode != "v2m":
        raise InputError(f"--video: only --mode v2m takes a video (got --mode {mode})")
    if frames is not None and frames < 1:
        raise InputError(f"--frames: expected a positive number, got {frames}")
    for name, size in (("--height", height), ("--width", width)):
        if size is not None and (size < 2 or size % 2):
            raise InputError(f"{name}: expected an even number of pixels >= 2, got {size}")

    out_h = config.height if height is None else height
    out_w = config.width if width is None else width
    motion: SMPLMotion | None = None
    video: np.ndarray | None = None
    out_frames = config.num_frames if frames is None else frames
    if mode == "m2v":
        if motion_path is None:
            raise InputError("--motion: --mode m2v needs a motion file (.npz or .bvh)")
        motion = _load_motion_file(motion_path)
        _check_fps("--motion", motion.fps, config)
        out_frames = _check_frames("--motion", motion.num_frames, frames)
        if motion.batch_shape not in ((), (1,), (len(prompts),)):
            raise InputError(
                f"--motion: holds a batch of {motion.batch_shape[0]} sequences; expected 1 or one "
                f"per --prompt ({len(prompts)})"
            )
    if mode == "v2m":
        if video_path is None:
            raise InputError("--video: --mode v2m needs a video file (.mp4)")
        try:
            info = probe_video(video_path)
        except VideoReadError as err:
            raise InputError(f"--video: {err}") from err
        _check_fps("--video", info.fps, config)
        out_frames = _check_frames("--video", info.num_frames, frames)
        if (info.height, info.width) != (out_h, out_w):
            source = "--height/--width" if height or width else "the checkpoint's size"
            raise InputError(
                f"--video: {info.width}x{info.height} pixels (W x H), but {source} is "
                f"{out_w}x{out_h}"
            )
        video = read_video(video_path)[0][None]
    my, mx = _spatial_multiple(checkpoint, config)
    if out_h % my or out_w % mx:
        raise InputError(
            f"--height/--width: {out_w}x{out_h} (W x H); this checkpoint needs multiples of "
            f"{mx} x {my} pixels"
        )
    return GenerateInputs(
        mode=mode,
        config=config,
        prompts=tuple(prompts),
        motion=motion,
        video=video,
        frames=out_frames,
        height=out_h,
        width=out_w,
    )
