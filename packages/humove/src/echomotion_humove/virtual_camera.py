"""A virtual camera placed around a world-frame motion, and the motion seen from it.

Used twice (DESIGN §3): the synthetic world renders from such a camera, and phase-1 mocap
(AMASS, HumanML3D) is placed into a camera frame by one, so both training phases see motion in
the camera frame with the same distribution of views. Sampled: yaw around the subject,
distance, camera height, a small pitch offset.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
from torch import Tensor

from echomotion_motion_codec import BodyModel, SMPLMotion, transform_motion
from echomotion_motion_codec.render import PinholeCamera

__all__ = ["CameraRange", "VirtualCamera", "place_in_camera", "sample_camera"]


@dataclass(frozen=True)
class CameraRange:
    """Ranges the sampler draws from (uniform)."""

    yaw_degrees: tuple[float, float] = (-180.0, 180.0)  # around the subject, 0 = in front
    # meters from the path's centre (plus half its extent); `sample_camera` backs off until
    # every joint fits, so the near end frames the subject as large as the margin allows
    distance: tuple[float, float] = (1.2, 2.0)
    height: tuple[float, float] = (0.9, 1.6)  # camera height above the floor, meters
    pitch_degrees: tuple[float, float] = (-4.0, 4.0)  # extra tilt after looking at the subject
    fov_degrees: float = 50.0

    def __post_init__(self) -> None:
        near, far = self.distance
        if not 0 < near <= far:
            raise ValueError(
                f"distance: expected (near, far) meters with 0 < near <= far, got {self.distance}"
            )


@dataclass(frozen=True)
class VirtualCamera:
    """A static pinhole camera in a y-up world: x_cam = R·x_world + t (OpenCV axes)."""

    rotation: Tensor  # (3, 3) camera_from_world
    translation: Tensor  # (3,)
    fov_degrees: float

    def pinhole(self, width: int, height: int) -> PinholeCamera:
        focal = 0.5 * width / math.tan(math.radians(self.fov_degrees) / 2)
        return PinholeCamera(self.rotation, self.translation, focal, width, height)

    def world_from_camera(self) -> Tensor:
        """(4, 4) the inverse map, x_world = Rᵀ(x_cam − t)."""
        out = torch.eye(4, dtype=torch.float64)
        rt = self.rotation.double().T
        out[:3, :3] = rt
        out[:3, 3] = -rt @ self.translation.double()
        return out

    def camera_from_world(self) -> Tensor:
        out = torch.eye(4, dtype=torch.float64)
        out[:3, :3] = self.rotation.double()
        out[:3, 3] = self.translation.double()
        return out


def _look_at(eye: Tensor, target: Tensor, pitch: float) -> Tensor:
    forward = target - eye
    forward = forward / forward.norm()
    up = torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype)
    right = torch.linalg.cross(forward, up)
    right = right / right.norm()
    down = torch.linalg.cross(forward, right)
    rot = torch.stack([right, down, forward])  # rows: camera axes in world coordinates
    c, s = math.cos(pitch), math.sin(pitch)
    tilt = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]], dtype=eye.dtype)
    return tilt @ rot


def sample_camera(
    joints_world: Tensor,
    rng: random.Random,
    ranges: CameraRange | None = None,
    *,
    facing_yaw: float = 0.0,
    aspect: float = 1.0,
    margin: float = 0.08,
) -> VirtualCamera:
    """A camera that sees every joint of `joints_world` (T, 24, 3) (y up) inside the image,
    with `margin` (fraction of the image) to spare; moved back until it does (at most 12 tries).

    facing_yaw: the subject's initial heading (radians about y, 0 = +z); the sampled yaw is
    relative to it, so yaw 0 films the subject from the front.
    """
    ranges = ranges or CameraRange()
    pts = joints_world.reshape(-1, 3).double()
    lo, hi = pts.min(0).values, pts.max(0).values
    center = 0.5 * (lo + hi)
    extent = float((hi - lo)[[0, 2]].norm())
    yaw = facing_yaw + math.radians(rng.uniform(*ranges.yaw_degrees))
    distance = rng.uniform(*ranges.distance) + 0.5 * extent
    height = rng.uniform(*ranges.height)
    pitch = math.radians(rng.uniform(*ranges.pitch_degrees))
    target = torch.tensor(
        [float(center[0]), float(0.5 * (lo[1] + hi[1])), float(center[2])], dtype=torch.float64
    )
    direction = torch.tensor([math.sin(yaw), 0.0, math.cos(yaw)], dtype=torch.float64)
    tan_x = math.tan(math.radians(ranges.fov_degrees) / 2)
    tan_y = tan_x / aspect
    for _ in range(12):
        eye = target + distance * direction
        eye[1] = height
        rot = _look_at(eye, target, pitch)
        cam = (pts - eye) @ rot.T  # (N, 3)
        z = cam[:, 2].clamp_min(1e-6)
        ok = bool(
            (cam[:, 2] > 0.5).all()
            and (cam[:, 0].abs() / z).max() < tan_x * (1 - 2 * margin)
            and (cam[:, 1].abs() / z).max() < tan_y * (1 - 2 * margin)
        )
        if ok:
            break
        distance *= 1.12
    return VirtualCamera(rot.float(), (-rot @ eye).float(), ranges.fov_degrees)


def place_in_camera(
    motion: SMPLMotion, camera: VirtualCamera, *, body_model: BodyModel
) -> SMPLMotion:
    """A world-frame motion seen from `camera`: the camera-frame motion (J₀-aware transform)."""
    if motion.frame != "world":
        raise ValueError(f"motion: expected a world-frame motion, got frame={motion.frame!r}")
    return transform_motion(
        motion,
        camera.rotation.to(motion.dtype),
        camera.translation.to(motion.dtype),
        body_model=body_model,
        frame="camera",
    )
