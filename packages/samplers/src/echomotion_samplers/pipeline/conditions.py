"""The given inputs of a generation, checked and brought into the model's terms: prompts, a
conditioning motion (m2v: fps, 4k + 1 frames, batch, placed in the camera frame) and conditioning
video frames (v2m: uint8, 4k + 1 frames)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from echomotion_motion_codec import BodyModel, SMPLMotion, transform_motion
from echomotion_motion_codec.render import default_camera

from ..video_io import is_wan_frame_count, round_to_wan_frames

__all__ = ["as_prompts", "place_in_camera", "prepare_motion", "prepare_video"]

FPS_TOLERANCE = 1e-3


def as_prompts(prompt: str | Sequence[str], name: str = "prompt") -> list[str]:
    """A prompt or a list of them → a non-empty list of strings."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError(
            f"{name}: expected a string or a non-empty list of strings, got {prompt!r}"
        )
    return prompts


def place_in_camera(
    motion: SMPLMotion, body_model: BodyModel, width: int, height: int
) -> SMPLMotion:
    """A motion in the model's camera frame (float32, CPU), η recomputed under `body_model`.

    World-frame motion (y up; mocap, BVH input) is seen by the motion codec's default
    three-quarter camera for a `width × height` image (`render.default_camera`), per sequence."""
    motion = motion.to("cpu", torch.float32)
    if motion.frame == "world":
        batched = bool(motion.batch_shape)
        sequences = [motion[i] for i in range(motion.batch_shape[0])] if batched else [motion]
        placed = []
        for seq in sequences:
            camera = default_camera(seq, width, height)
            placed.append(
                transform_motion(
                    seq, camera.rotation, camera.translation, body_model=body_model, frame="camera"
                )
            )
        motion = SMPLMotion.stack(placed) if batched else placed[0]
    return motion.recompute_joints(body_model)


def prepare_motion(
    motion: SMPLMotion, *, fps: float, batch: int, body_model: BodyModel, width: int, height: int
) -> SMPLMotion:
    """The m2v condition: checked (fps, 4k + 1 frames, batch 1 or `batch`), placed in the camera
    frame and repeated to a batch of `batch` sequences."""
    if not math.isclose(motion.fps, fps, rel_tol=0, abs_tol=FPS_TOLERANCE):
        raise ValueError(
            f"motion: {motion.fps:g} fps, the checkpoint's model runs at {fps:g} fps "
            "(resample it first, e.g. echomotion_motion_codec.resample_motion)"
        )
    if not is_wan_frame_count(motion.num_frames):
        raise ValueError(
            f"motion: {motion.num_frames} frames; expected 4k + 1 frames (e.g. "
            f"{round_to_wan_frames(motion.num_frames, warn=False)})"
        )
    if motion.batch_shape not in ((), (1,), (batch,)):
        raise ValueError(
            f"motion: expected one sequence or a batch of {batch} (one per prompt), "
            f"got batch shape {motion.batch_shape}"
        )
    placed = place_in_camera(motion, body_model, width, height)
    if not placed.batch_shape:
        placed = SMPLMotion.stack([placed])
    if placed.batch_shape[0] != batch:
        placed = SMPLMotion.stack([placed[0]] * batch)
    return replace(placed, fps=fps)


def prepare_video(video: np.ndarray | Tensor) -> np.ndarray:
    """The v2m condition: uint8 frames (T, H, W, 3) or (B, T, H, W, 3) → (B, T, H, W, 3), 4k + 1
    frames."""
    frames = video.cpu().numpy() if isinstance(video, Tensor) else np.asarray(video)
    if frames.ndim == 4:
        frames = frames[None]
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(
            f"video: expected uint8 frames (T, H, W, 3) or (B, T, H, W, 3), got "
            f"{frames.dtype} {frames.shape}"
        )
    if not is_wan_frame_count(frames.shape[1]):
        raise ValueError(
            f"video: {frames.shape[1]} frames; expected 4k + 1 frames (e.g. "
            f"{round_to_wan_frames(frames.shape[1], warn=False)})"
        )
    return frames
