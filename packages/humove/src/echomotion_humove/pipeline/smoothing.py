"""Temporal smoothing of per-frame SMPL estimates, rotations on the manifold.

Rotations are smoothed as unit quaternions: signs are aligned along time (q and −q are the same
rotation, so each frame takes the sign nearer to its predecessor), a Gaussian-weighted average
is taken over a window, and the result is renormalized — the chordal L2 mean of nearby
rotations, which is a rotation again and never suffers Euler-angle wrap-around or gimbal lock.
Translation is smoothed with the same kernel; β is fused into one per clip (per-frame median).
Edges use the part of the kernel inside the clip (renormalized), so the clip keeps its length.
"""

from __future__ import annotations

import numpy as np
import torch

from echomotion_motion_codec.rotations import matrix_to_quaternion, quaternion_to_matrix

from .backends import MeshEstimate

__all__ = ["align_quaternion_signs", "gaussian_smooth", "smooth_estimate", "smooth_rotations"]


def _kernel(sigma: float) -> np.ndarray:
    radius = max(1, round(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    return np.exp(-0.5 * (x / sigma) ** 2)


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth along axis 0 with a Gaussian of `sigma` frames (edges renormalized)."""
    if sigma <= 0 or x.shape[0] < 2:
        return x.copy()
    k = _kernel(sigma)
    r = len(k) // 2
    flat = x.reshape(x.shape[0], -1).astype(np.float64)
    t = flat.shape[0]
    out = np.zeros_like(flat)
    weight = np.zeros((t, 1))
    for i, w in enumerate(k):
        shift = i - r
        lo, hi = max(0, -shift), min(t, t - shift)
        out[lo:hi] += w * flat[lo + shift : hi + shift]
        weight[lo:hi] += w
    return (out / weight).reshape(x.shape).astype(x.dtype)


def align_quaternion_signs(q: np.ndarray) -> np.ndarray:
    """(T, ..., 4) quaternions with signs flipped so consecutive frames have a positive dot."""
    q = q.copy()
    for t in range(1, q.shape[0]):
        flip = (q[t] * q[t - 1]).sum(-1) < 0
        q[t][flip] *= -1
    return q


def smooth_rotations(mats: np.ndarray, sigma: float) -> np.ndarray:
    """(T, ..., 3, 3) rotation matrices smoothed over time → (T, ..., 3, 3) rotations."""
    q = matrix_to_quaternion(torch.from_numpy(mats.astype(np.float64))).numpy()
    q = align_quaternion_signs(q)
    q = gaussian_smooth(q, sigma)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return quaternion_to_matrix(torch.from_numpy(q)).numpy()


def smooth_estimate(est: MeshEstimate, sigma: float = 1.5) -> MeshEstimate:
    """A smoothed copy: γ and θ on SO(3), v by the same kernel, β = the per-frame median
    repeated (one body per clip)."""
    betas = np.median(est.betas, axis=0, keepdims=True).repeat(est.betas.shape[0], 0)
    return MeshEstimate(
        transl=gaussian_smooth(est.transl.astype(np.float64), sigma),
        global_orient=smooth_rotations(est.global_orient, sigma),
        pose=smooth_rotations(est.pose, sigma),
        betas=betas,
    )
