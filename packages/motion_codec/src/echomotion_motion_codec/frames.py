"""Coordinate frames: rigid transforms of whole SMPL sequences about the rest pelvis J₀(β).

SMPL rotates the body about J₀(β), not the origin, so a rigid map x ↦ M·x + c of the world
changes a sequence as  γ' = M·γ,  v' = M·(v + J₀) + c − J₀  (DATA_FORMATS.md); η is mapped directly.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .motion import CoordinateFrame, SMPLMotion
from .rotations import matrix_to_rotation_6d
from .skeleton import BodyModel

__all__ = ["CAMERA_FROM_YUP", "Z_UP_TO_Y_UP", "transform_motion"]

# AMASS (z up) → y up, HumanML3D's convention: (x, y, z) ↦ (−x, z, y), a proper rotation.
Z_UP_TO_Y_UP = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
# A 180° turn about x: camera axes (y down, z forward) ⇄ y up (the BVH fallback of DESIGN §3).
CAMERA_FROM_YUP = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def transform_motion(
    motion: SMPLMotion,
    rotation: Tensor,
    translation: Tensor | None = None,
    *,
    body_model: BodyModel,
    frame: CoordinateFrame | None = None,
) -> SMPLMotion:
    """Apply x ↦ R·x + c to a motion; R, c shared by all frames (one per sequence of a batch).

    γ and θ₀ are both rotated (they carry the same fact); local θ₁… are unchanged.

    `frame` names the frame of the result (defaults to the input's).
    """
    if rotation.shape[-2:] != (3, 3) or tuple(rotation.shape[:-2]) not in ((), motion.batch_shape):
        raise ValueError(
            f"rotation: expected shape (3, 3) or {(*motion.batch_shape, 3, 3)} (one per sequence), "
            f"got {tuple(rotation.shape)}"
        )
    c = torch.zeros(3) if translation is None else translation
    if tuple(c.shape) not in ((3,), (*motion.batch_shape, 3)):
        raise ValueError(
            f"translation: expected shape (3,) or {(*motion.batch_shape, 3)}, got {tuple(c.shape)}"
        )
    r = rotation.to(motion.transl)[..., None, :, :]  # (..., 1, 3, 3): same for every frame
    c = c.to(motion.transl)[..., None, :]  # (..., 1, 3)
    j0 = body_model.rest_joints(motion.betas)[..., None, 0, :]  # (..., 1, 3)
    transl = (r @ (motion.transl + j0)[..., None])[..., 0] + c - j0  # (..., T, 3)
    orient = r @ motion.global_orient_matrix()  # (..., T, 3, 3)
    pose = motion.pose_matrix()  # (..., T, 24, 3, 3)
    pose = torch.cat([(r @ pose[..., 0, :, :])[..., None, :, :], pose[..., 1:, :, :]], dim=-3)
    joints = (r[..., None, :, :] @ motion.joints[..., None])[..., 0] + c[..., None, :]
    return replace(
        motion,
        transl=transl,
        global_orient=matrix_to_rotation_6d(orient),
        pose=matrix_to_rotation_6d(pose),
        joints=joints,
        frame=motion.frame if frame is None else frame,
    )
