"""Rotation conversions: axis-angle, unit quaternion (w, x, y, z), matrix, 6D, Euler.

All functions are batched over any leading dimensions, differentiable, and keep the input dtype.
6D follows the **columns** convention (Zhou et al.; HMR2.0, HumanML3D): the first two columns of
the matrix, column after column, ``[R00 R10 R20, R01 R11 R21]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "euler_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quaternion",
    "matrix_to_rotation_6d",
    "quaternion_multiply",
    "quaternion_slerp",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rotation_6d_to_matrix",
]


def _check_last(x: Tensor, shape: tuple[int, ...], name: str) -> None:
    if tuple(x.shape[-len(shape) :]) != shape:
        raise ValueError(
            f"{name}: expected shape (..., {', '.join(map(str, shape))}), got {tuple(x.shape)}"
        )


def axis_angle_to_quaternion(axis_angle: Tensor) -> Tensor:
    """(..., 3) rotation vectors → (..., 4) unit quaternions (w, x, y, z)."""
    _check_last(axis_angle, (3,), "axis_angle")
    angle = torch.linalg.vector_norm(axis_angle, dim=-1, keepdim=True)  # (..., 1)
    half = 0.5 * angle
    small = angle < 1e-6
    # sin(θ/2)/θ, with its Taylor series near 0 so the gradient stays finite.
    safe = torch.where(small, torch.ones_like(angle), angle)
    k = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / safe)
    return torch.cat([torch.cos(half), axis_angle * k], dim=-1)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """(..., 4) quaternions (w, x, y, z; any norm > 0) → (..., 3) rotation vectors, angle in [0, π]."""
    _check_last(quaternion, (4,), "quaternion")
    q = quaternion / torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)  # w ≥ 0 → angle ≤ π
    xyz = q[..., 1:]
    sin_half = torch.linalg.vector_norm(xyz, dim=-1, keepdim=True)
    half = torch.atan2(sin_half, q[..., :1])
    angle = 2.0 * half
    small = sin_half < 1e-6
    safe = torch.where(small, torch.ones_like(sin_half), sin_half)
    # θ / sin(θ/2), with the series 2 + θ²/12 near 0.
    k = torch.where(small, 2.0 + angle * angle / 12.0, angle / safe)
    return xyz * k


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """(..., 4) quaternions (w, x, y, z; normalised here) → (..., 3, 3) rotation matrices."""
    _check_last(quaternion, (4,), "quaternion")
    q = quaternion / torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    m = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )  # fmt: skip
    return m.reshape(*q.shape[:-1], 3, 3)


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """(..., 3, 3) rotation matrices → (..., 4) unit quaternions (w, x, y, z) with w ≥ 0.

    Of the four algebraically equal candidates, each row takes the one with the largest
    denominator, so the result is accurate for every angle including π.
    """
    _check_last(matrix, (3, 3), "matrix")
    m = matrix.reshape(*matrix.shape[:-2], 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    four_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22],
        dim=-1,
    )
    root = torch.sqrt(torch.clamp(four_sq, min=0.0))  # (..., 4) = 2|w|, 2|x|, 2|y|, 2|z|
    candidates = torch.stack(
        [
            torch.stack([root[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, root[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, root[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, root[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    floor = torch.tensor(0.1, dtype=root.dtype, device=root.device)
    candidates = candidates / (2.0 * torch.maximum(root[..., None], floor))
    best = four_sq.argmax(dim=-1)  # (...)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    q = torch.gather(candidates, -2, index).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """(..., 3) rotation vectors → (..., 3, 3) matrices."""
    return quaternion_to_matrix(axis_angle_to_quaternion(axis_angle))


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """(..., 3, 3) matrices → (..., 3) rotation vectors with angle in [0, π]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def matrix_to_rotation_6d(matrix: Tensor) -> Tensor:
    """(..., 3, 3) → (..., 6): first column then second column."""
    _check_last(matrix, (3, 3), "matrix")
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def rotation_6d_to_matrix(rot6d: Tensor, eps: float = 1e-8) -> Tensor:
    """(..., 6) → (..., 3, 3) by Gram–Schmidt on the two columns; b3 = b1 × b2."""
    _check_last(rot6d, (6,), "rot6d")
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = a1 / torch.linalg.vector_norm(a1, dim=-1, keepdim=True).clamp_min(eps)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / torch.linalg.vector_norm(a2, dim=-1, keepdim=True).clamp_min(eps)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)  # columns


def quaternion_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product a ⊗ b of (..., 4) quaternions (w, x, y, z): the rotation b, then a."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quaternion_slerp(q0: Tensor, q1: Tensor, t: Tensor | float) -> Tensor:
    """Spherical interpolation along the shorter arc; t broadcasts against (...,)."""
    q0 = q0 / torch.linalg.vector_norm(q0, dim=-1, keepdim=True)
    q1 = q1 / torch.linalg.vector_norm(q1, dim=-1, keepdim=True)
    t = torch.as_tensor(t, dtype=q0.dtype, device=q0.device)
    if t.dim() > 0:
        t = t[..., None]
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    near = sin_omega < 1e-6
    safe = torch.where(near, torch.ones_like(sin_omega), sin_omega)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * omega) / safe)
    w1 = torch.where(near, t, torch.sin(t * omega) / safe)
    out = w0 * q0 + w1 * q1
    return out / torch.linalg.vector_norm(out, dim=-1, keepdim=True)


_AXES = {"X": 0, "Y": 1, "Z": 2}


def _axis_matrix(axis: str, angle: Tensor) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == "X":
        flat = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == "Y":
        flat = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        flat = [c, -s, zero, s, c, zero, zero, zero, one]
    return torch.stack(flat, dim=-1).reshape(*angle.shape, 3, 3)


def euler_to_matrix(angles: Tensor, order: str) -> Tensor:
    """(..., 3) intrinsic Euler angles in radians, in `order` (e.g. "ZXY": R = Rz·Rx·Ry)."""
    _check_order(order)
    _check_last(angles, (3,), "angles")
    mats = [_axis_matrix(axis, angles[..., i]) for i, axis in enumerate(order)]
    return mats[0] @ mats[1] @ mats[2]


def _check_order(order: str) -> None:
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"order: expected a permutation of 'XYZ' such as 'ZXY', got {order!r}")


def matrix_to_euler(matrix: Tensor, order: str) -> Tensor:
    """(..., 3, 3) → (..., 3) intrinsic Tait–Bryan angles (radians) in `order`, R = R_a·R_b·R_c.

    The middle angle lies in [−π/2, π/2]; at gimbal lock the third angle is set to 0.
    """
    _check_order(order)
    _check_last(matrix, (3, 3), "matrix")
    i, j, k = (_AXES[a] for a in order)
    # sign of the permutation (i, j, k): +1 for cyclic orders XYZ, YZX, ZXY.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    r = matrix
    middle = torch.asin(torch.clamp(sign * r[..., i, k], -1.0, 1.0))
    cos_mid = torch.sqrt(r[..., i, i] ** 2 + r[..., i, j] ** 2)
    locked = cos_mid < 1e-6
    first = torch.atan2(-sign * r[..., j, k], r[..., k, k])
    third = torch.atan2(-sign * r[..., i, j], r[..., i, i])
    # Gimbal lock: only first ± third is defined; put it all in the first angle.
    first_locked = torch.atan2(sign * r[..., k, j], r[..., j, j])
    first = torch.where(locked, first_locked, first)
    third = torch.where(locked, torch.zeros_like(third), third)
    return torch.stack([first, middle, third], dim=-1)
