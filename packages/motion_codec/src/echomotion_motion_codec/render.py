"""Skeleton rendering: project a motion's joints through a pinhole camera and draw the bones.

Drawing uses Pillow and encoding PyAV (the `video` extra). Left limbs are drawn blue, right
limbs orange, the spine and head light grey; world-frame motions get a floor grid.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .motion import SMPLMotion
from .skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
from .video import write_video

__all__ = ["PinholeCamera", "render_skeleton_frames", "render_skeleton_video"]

_LEFT, _RIGHT, _CENTER = (70, 130, 255), (255, 140, 40), (225, 225, 225)


@dataclass(frozen=True)
class PinholeCamera:
    """OpenCV-style camera: x_cam = R·x + t (x right, y down, z forward); pixels = K·x_cam."""

    rotation: Tensor  # (3, 3)
    translation: Tensor  # (3,)
    focal: float
    width: int
    height: int

    @classmethod
    def identity(cls, width: int, height: int, fov_degrees: float = 55.0) -> PinholeCamera:
        """The camera of a camera-frame motion."""
        focal = 0.5 * width / math.tan(math.radians(fov_degrees) / 2)
        return cls(torch.eye(3), torch.zeros(3), focal, width, height)

    @classmethod
    def look_at(
        cls, eye: Tensor, target: Tensor, width: int, height: int, fov_degrees: float = 55.0
    ) -> PinholeCamera:
        """A camera at `eye` looking at `target` in a y-up world, image y pointing down."""
        forward = target - eye
        forward = forward / forward.norm()
        up = torch.tensor([0.0, 1.0, 0.0])
        right = torch.linalg.cross(forward, up)
        right = right / right.norm()
        down = torch.linalg.cross(forward, right)
        rotation = torch.stack([right, down, forward])  # rows: camera axes in world coordinates
        focal = 0.5 * width / math.tan(math.radians(fov_degrees) / 2)
        return cls(rotation, -rotation @ eye, focal, width, height)

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """(..., 3) world points → (..., 2) pixels and (...,) depth."""
        cam = points.float() @ self.rotation.T.float() + self.translation.float()
        depth = cam[..., 2]
        z = depth.clamp_min(1e-3)
        u = self.focal * cam[..., 0] / z + self.width / 2
        v = self.focal * cam[..., 1] / z + self.height / 2
        return torch.stack([u, v], dim=-1), depth


def default_camera(motion: SMPLMotion, width: int, height: int) -> PinholeCamera:
    """Camera-frame motions: the identity camera. World frame: a three-quarter view from the
    front-left of the motion's mean pelvis position (the body faces +z), framing the whole path."""
    if motion.frame == "camera":
        return PinholeCamera.identity(width, height)
    pelvis = motion.joints[..., 0, :].reshape(-1, 3).float()
    center = pelvis.mean(0)
    extent = float((pelvis.max(0).values - pelvis.min(0).values)[[0, 2]].max())
    distance = 3.0 + 0.9 * extent
    target = torch.tensor([float(center[0]), 0.85, float(center[2])])
    eye = target + torch.tensor([0.6 * distance, 0.5, 0.8 * distance])
    return PinholeCamera.look_at(eye, target, width, height)


def _color(joint: int) -> tuple[int, int, int]:
    name = SMPL_JOINT_NAMES[joint]
    return _LEFT if name.startswith("left") else _RIGHT if name.startswith("right") else _CENTER


def render_skeleton_frames(
    motion: SMPLMotion,
    *,
    width: int = 256,
    height: int = 256,
    camera: PinholeCamera | None = None,
    background: tuple[int, int, int] = (24, 24, 28),
) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one sequence's skeleton."""
    from PIL import Image, ImageDraw

    if motion.batch_shape:
        raise ValueError(
            f"motion: expected one sequence, got a batch of shape {motion.batch_shape}"
        )
    camera = camera or default_camera(motion, width, height)
    pix, depth = camera.project(motion.joints.detach().cpu())  # (T, 24, 2), (T, 24)
    floor = _floor_lines(motion, camera) if motion.frame == "world" else []
    line_w = max(2, width // 96)
    frames = np.empty((motion.num_frames, height, width, 3), dtype=np.uint8)
    bones = sorted(range(1, 24), key=lambda j: 0 if _color(j) == _CENTER else 1)
    for t in range(motion.num_frames):
        img = Image.new("RGB", (width, height), background)
        draw = ImageDraw.Draw(img)
        for a, b in floor:
            draw.line([a, b], fill=(60, 60, 70), width=1)
        # far bones first so near ones are drawn over them
        for j in sorted(bones, key=lambda j: -float(depth[t, j] + depth[t, SMPL_PARENTS[j]])):
            p = SMPL_PARENTS[j]
            if depth[t, j] <= 0 or depth[t, p] <= 0:
                continue
            draw.line(
                [tuple(pix[t, p].tolist()), tuple(pix[t, j].tolist())], fill=_color(j), width=line_w
            )
        for j in range(24):
            if depth[t, j] > 0:
                x, y = pix[t, j].tolist()
                r = line_w
                draw.ellipse([x - r, y - r, x + r, y + r], fill=_color(j))
        frames[t] = np.asarray(img)
    return frames


def _floor_lines(
    motion: SMPLMotion, camera: PinholeCamera
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    pelvis = motion.joints[..., 0, :].reshape(-1, 3).float()
    lo = torch.floor(pelvis.min(0).values) - 2
    hi = torch.ceil(pelvis.max(0).values) + 2
    lines = []
    xs = torch.arange(float(lo[0]), float(hi[0]) + 0.5, 0.5)
    zs = torch.arange(float(lo[2]), float(hi[2]) + 0.5, 0.5)
    for x in xs:
        lines.append(torch.stack([torch.tensor([x, 0.0, lo[2]]), torch.tensor([x, 0.0, hi[2]])]))
    for z in zs:
        lines.append(torch.stack([torch.tensor([lo[0], 0.0, z]), torch.tensor([hi[0], 0.0, z])]))
    out = []
    for seg in lines:
        pix, depth = camera.project(seg)
        if (depth > 0.1).all():
            out.append((tuple(pix[0].tolist()), tuple(pix[1].tolist())))
    return out  # type: ignore[return-value]


def render_skeleton_video(
    motion: SMPLMotion,
    path: str | os.PathLike[str],
    *,
    width: int = 256,
    height: int = 256,
    camera: PinholeCamera | None = None,
) -> Path:
    """Render one sequence's skeleton to an mp4 at the motion's fps."""
    frames = render_skeleton_frames(motion, width=width, height=height, camera=camera)
    return write_video(path, frames, motion.fps)
