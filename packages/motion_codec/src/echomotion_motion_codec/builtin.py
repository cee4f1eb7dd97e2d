"""A built-in procedural motion (a walk cycle), so the codec runs with no data at all."""

from __future__ import annotations

import math

import torch

from .motion import SMPLMotion
from .rotations import euler_to_matrix
from .skeleton import NUM_BETAS, NUM_JOINTS, SMPL_JOINT_NAMES, BodyModel, SkeletonBodyModel

__all__ = ["walk_cycle"]

_J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def walk_cycle(
    num_frames: int = 49,
    fps: float = 16.0,
    *,
    speed: float = 1.2,
    cadence: float = 1.8,
    betas: torch.Tensor | None = None,
    body_model: BodyModel | None = None,
) -> SMPLMotion:
    """A person walking along +z in the world frame (y up, floor at y = 0).

    cadence: strides (two steps) per second; speed: meters per second.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
    body_model = body_model or SkeletonBodyModel()
    t = torch.arange(num_frames, dtype=torch.float32) / fps  # (T,)
    phase = 2 * math.pi * cadence * t
    euler = torch.zeros(num_frames, NUM_JOINTS, 3)  # intrinsic XYZ angles per joint
    swing = 0.45 * torch.sin(phase)
    euler[:, _J["left_hip"], 0] = -swing
    euler[:, _J["right_hip"], 0] = swing
    euler[:, _J["left_knee"], 0] = 0.6 * torch.clamp(torch.sin(phase - 1.2), min=0.0) + 0.05
    euler[:, _J["right_knee"], 0] = (
        0.6 * torch.clamp(torch.sin(phase + math.pi - 1.2), min=0.0) + 0.05
    )
    euler[:, _J["left_ankle"], 0] = -0.15 * torch.sin(phase - 0.5)
    euler[:, _J["right_ankle"], 0] = 0.15 * torch.sin(phase - 0.5)
    # Arms down from the T-pose, swinging opposite to the legs; elbows slightly bent.
    euler[:, _J["left_shoulder"], 2] = -1.30
    euler[:, _J["right_shoulder"], 2] = 1.30
    euler[:, _J["left_shoulder"], 0] = 0.35 * torch.sin(phase)
    euler[:, _J["right_shoulder"], 0] = -0.35 * torch.sin(phase)
    euler[:, _J["left_elbow"], 1] = 0.25
    euler[:, _J["right_elbow"], 1] = -0.25
    euler[:, _J["spine1"], 1] = 0.08 * torch.sin(phase)  # torso counter-rotation
    euler[:, _J["pelvis"], 1] = -0.06 * torch.sin(phase)
    pose = euler_to_matrix(euler, "XYZ")  # (T, 24, 3, 3)
    global_orient = pose[:, 0]
    betas = torch.zeros(NUM_BETAS) if betas is None else betas.to(torch.float32)
    # Vertical bob twice a stride; the pelvis starts at the rest height (feet on the floor).
    transl = torch.stack(
        [torch.zeros_like(t), 0.02 * torch.cos(2 * phase) - 0.03, speed * t], dim=-1
    )  # (T, 3)
    return SMPLMotion.from_rotations(
        transl, global_orient, pose, betas, fps=fps, body_model=body_model, frame="world"
    )
