"""Motions for the export, reader and pipeline tests: the codec's walk cycle seen by a camera."""

from __future__ import annotations

import torch

from echomotion_motion_codec import SkeletonBodyModel, SMPLMotion, transform_motion, walk_cycle
from echomotion_motion_codec.render import PinholeCamera


def camera_walk(num_frames: int = 9, fps: float = 16.0, *, seed: int = 0) -> SMPLMotion:
    """A walk in the camera frame (x right, y down, z forward), about 3.5 m in front of it."""
    betas = 0.5 * torch.randn(10, generator=torch.Generator().manual_seed(seed))
    body_model = SkeletonBodyModel()
    world = walk_cycle(num_frames, fps, betas=betas, body_model=body_model, speed=0.8)
    eye, target = torch.tensor([2.0, 1.3, -2.5]), torch.tensor([0.0, 0.9, 0.4])
    camera = PinholeCamera.look_at(eye, target, 64, 64)
    return transform_motion(
        world, camera.rotation, camera.translation, body_model=body_model, frame="camera"
    )
