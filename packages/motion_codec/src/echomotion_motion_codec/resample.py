"""Resampling a motion to another frame rate: slerp for rotations, lerp for translation."""

from __future__ import annotations

import math

import torch

from .motion import SMPLMotion
from .rotations import matrix_to_quaternion, quaternion_slerp, quaternion_to_matrix
from .skeleton import BodyModel

__all__ = ["resample_motion"]


def resample_motion(motion: SMPLMotion, fps: float, *, body_model: BodyModel) -> SMPLMotion:
    """One sequence at `fps`, covering the same duration (frames at k/fps ≤ (T−1)/fps_in); η by FK."""
    if motion.batch_shape:
        raise ValueError(
            f"motion: expected one sequence, got a batch of shape {motion.batch_shape}"
        )
    if not fps > 0 or not math.isfinite(fps):
        raise ValueError(f"fps: expected a positive number, got {fps}")
    if fps == motion.fps:
        return motion
    m = motion.to(dtype=torch.float64)
    duration = (m.num_frames - 1) / m.fps
    count = math.floor(duration * fps + 1e-9) + 1
    src = torch.arange(count, dtype=torch.float64) * (m.fps / fps)  # source frame coordinate
    lo = src.floor().long().clamp(max=m.num_frames - 1)
    hi = (lo + 1).clamp(max=m.num_frames - 1)
    frac = src - lo.double()  # (T',)
    quats = matrix_to_quaternion(
        torch.cat([m.global_orient_matrix()[:, None], m.pose_matrix()], dim=1)
    )  # (T, 25, 4)
    q = quaternion_slerp(quats[lo], quats[hi], frac[:, None].expand(count, quats.shape[1]))
    mats = quaternion_to_matrix(q)  # (T', 25, 3, 3)
    transl = m.transl[lo] + frac[:, None] * (m.transl[hi] - m.transl[lo])
    out = SMPLMotion.from_rotations(
        transl, mats[:, 0], mats[:, 1:], m.betas, fps=fps, body_model=body_model, frame=m.frame
    )
    return out.to(dtype=motion.dtype)
