"""Export of generated samples: mp4, motion `.npz`, BVH, a video-and-skeleton mp4, a contact sheet.

Video goes through the motion codec's PyAV writer (H.264, even sizes, atomic); motion through its
`.npz` and BVH writers. The skeleton is projected with the camera the model's frame implies: a
camera-frame motion is seen by the identity pinhole camera at the frames' size with the
checkpoint's field of view (`camera_for_frames`), so it lands on the person in the video.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from echomotion_motion_codec import (
    BodyModel,
    SkeletonBodyModel,
    SMPLMotion,
    atomic_path,
    save_motion,
)
from echomotion_motion_codec.bvh import save_bvh
from echomotion_motion_codec.render import PinholeCamera, render_skeleton_frames
from echomotion_motion_codec.video import write_video

from .denoiser import Modality
from .result import DEFAULT_FOV_DEGREES, GenerationResult, camera_for_frames

__all__ = [
    "ExportedSample",
    "SkeletonLayout",
    "contact_sheet",
    "export_result",
    "skeleton_frames",
    "video_with_skeleton",
    "write_mp4",
]

SkeletonLayout = Literal["side_by_side", "overlay"]
_BACKGROUND = (24, 24, 28)  # render_skeleton_frames' default; never a bone colour


def _check_frames(frames: np.ndarray, name: str = "frames") -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames)
        raise ValueError(f"{name}: expected uint8 frames (T, H, W, 3), got {got}")
    if frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"{name}: expected uint8 frames (T, H, W, 3), got shape {frames.shape}")


def write_mp4(path: str | os.PathLike[str], frames: np.ndarray, fps: float) -> Path:
    """(T, H, W, 3) uint8 → H.264 mp4 at `fps` (H and W even)."""
    _check_frames(frames)
    return write_video(path, frames, fps)


def skeleton_frames(
    motion: SMPLMotion,
    width: int,
    height: int,
    *,
    camera: PinholeCamera | None = None,
    fov_degrees: float = DEFAULT_FOV_DEGREES,
) -> np.ndarray:
    """(T, H, W, 3) uint8 drawings of one sequence's skeleton on a dark background.

    camera: defaults to the identity camera with `fov_degrees` for a camera-frame motion (the
    model's frame); a world-frame motion gets the codec's default three-quarter view.
    """
    if camera is None and motion.frame == "camera":
        camera = camera_for_frames(width, height, fov_degrees)
    return render_skeleton_frames(
        motion, width=width, height=height, camera=camera, background=_BACKGROUND
    )


def video_with_skeleton(
    video: np.ndarray,
    motion: SMPLMotion,
    *,
    layout: SkeletonLayout = "side_by_side",
    camera: PinholeCamera | None = None,
    fov_degrees: float = DEFAULT_FOV_DEGREES,
) -> np.ndarray:
    """The video with its skeleton: `side_by_side` → (T, H, 2W, 3) [video | skeleton];
    `overlay` → (T, H, W, 3), bones drawn over the video. One sequence, T = the motion's frames."""
    _check_frames(video, "video")
    if motion.batch_shape or motion.num_frames != video.shape[0]:
        raise ValueError(
            f"motion: expected one sequence of {video.shape[0]} frames (the video's), got batch "
            f"{motion.batch_shape} × {motion.num_frames} frames"
        )
    height, width = video.shape[1:3]
    drawn = skeleton_frames(motion, width, height, camera=camera, fov_degrees=fov_degrees)
    if layout == "side_by_side":
        return np.concatenate([video, drawn], axis=2)
    if layout == "overlay":
        bones = (drawn != np.asarray(_BACKGROUND, dtype=np.uint8)).any(axis=-1, keepdims=True)
        return np.where(bones, drawn, video)
    raise ValueError(f"layout: expected 'side_by_side' or 'overlay', got {layout!r}")


def contact_sheet(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    *,
    num_frames: int = 8,
    columns: int = 4,
    gap: int = 2,
    labels: bool = True,
    min_tile_height: int = 96,
) -> Path:
    """A PNG grid of `num_frames` evenly spaced frames (first and last included), with the
    frame index in each tile's corner. frames: (T, H, W, 3) uint8. Frames lower than
    `min_tile_height` are enlarged by the smallest integer factor that reaches it (nearest
    neighbour, so pixels stay sharp): a 32×32 sample makes 96×96 tiles."""
    from PIL import Image, ImageDraw

    _check_frames(frames)
    if num_frames < 1 or columns < 1 or gap < 0 or min_tile_height < 0:
        raise ValueError(
            "num_frames, columns: expected >= 1, gap and min_tile_height >= 0, got "
            f"{num_frames}, {columns}, {gap}, {min_tile_height}"
        )
    total, height, width = frames.shape[:3]
    scale = max(1, -(-min_tile_height // height))
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
        height, width = height * scale, width * scale
    picks = sorted({round(i * (total - 1) / max(num_frames - 1, 1)) for i in range(num_frames)})
    cols = min(columns, len(picks))
    rows = (len(picks) + cols - 1) // cols
    sheet = Image.new(
        "RGB", (cols * width + (cols + 1) * gap, rows * height + (rows + 1) * gap), (0, 0, 0)
    )
    draw = ImageDraw.Draw(sheet)
    for k, t in enumerate(picks):
        x = gap + (k % cols) * (width + gap)
        y = gap + (k // cols) * (height + gap)
        sheet.paste(Image.fromarray(frames[t]), (x, y))
        if labels:
            draw.text((x + 2, y + 1), str(t), fill=(255, 255, 255))
    with atomic_path(path, ".tmp.png") as tmp:
        sheet.save(tmp, format="PNG")
    return Path(path)


@dataclass(frozen=True)
class ExportedSample:
    """The files written for one sample of a batch (None: not written for this mode)."""

    video: Path | None  # the generated video (joint, m2v)
    motion: Path | None  # the generated motion .npz (joint, v2m)
    bvh: Path | None  # the generated motion as BVH (joint, v2m)
    skeleton_video: Path  # video | skeleton, side by side (every mode)
    contact_sheet: Path  # PNG of frames of the side-by-side video (every mode)

    def paths(self) -> list[Path]:
        return [
            p
            for p in (self.video, self.motion, self.bvh, self.skeleton_video, self.contact_sheet)
            if p is not None
        ]


def export_result(
    result: GenerationResult,
    out_dir: str | os.PathLike[str],
    *,
    stem: str = "sample",
    body_model: BodyModel | None = None,
    layout: SkeletonLayout = "side_by_side",
    sheet_frames: int = 8,
) -> list[ExportedSample]:
    """Write every sample of `result` into `out_dir`.

    Names: `{stem}.mp4` (generated video), `{stem}.npz` and `{stem}.bvh` (generated motion),
    `{stem}_skeleton.mp4` (video and skeleton) and `{stem}_sheet.png` (contact sheet of it);
    with a batch of B > 1 the stem gets an index, `{stem}_{i}`. The inputs of m2v / v2m are not
    written again. body_model: the BVH rest skeleton (default: the built-in skeleton).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    body_model = body_model or SkeletonBodyModel()
    written: list[ExportedSample] = []
    for i in range(result.batch_size):
        name = stem if result.batch_size == 1 else f"{stem}_{i}"
        frames = result.video[i]  # (T, H, W, 3)
        motion = result.motion[i].to("cpu")
        video_path = motion_path = bvh_path = None
        if Modality.VIDEO in result.generated:
            video_path = write_mp4(out / f"{name}.mp4", frames, result.fps)
        if Modality.MOTION in result.generated:
            motion_path = save_motion(out / f"{name}.npz", motion)
            bvh_path = save_bvh(out / f"{name}.bvh", motion, body_model=body_model)
        combined = video_with_skeleton(
            frames, motion, layout=layout, camera=result.camera(), fov_degrees=result.fov_degrees
        )
        skeleton_path = write_mp4(out / f"{name}_skeleton.mp4", combined, result.fps)
        sheet_path = contact_sheet(out / f"{name}_sheet.png", combined, num_frames=sheet_frames)
        written.append(ExportedSample(video_path, motion_path, bvh_path, skeleton_path, sheet_path))
    return written
