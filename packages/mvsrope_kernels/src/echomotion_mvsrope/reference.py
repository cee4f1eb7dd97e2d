"""Plain-PyTorch MVS-RoPE, Wan's QK RMSNorm and attention: the ground truth for the kernels.

Dimension legend: ``B`` batch, ``S`` tokens, ``N`` heads, ``D`` head dim. Tensors are
``[B, S, N, D]`` (diffusers' Wan processor layout after ``unflatten``); positions are
``[S, 3]`` (shared by the batch) or ``[B, S, 3]`` float ``(t, h, w)``.

RoPE is Wan's: the head dim splits into ``t_dim = D - 2·(2·(D//6))`` and
``h_dim = w_dim = 2·(D//6)`` channels (128 → 44/42/42), consecutive channels ``(2j, 2j+1)``
form a rotated pair, and pair j of an axis with ``a`` channels turns by
``pos · θ^(-2j'/a)`` (j' the pair's index within the axis). Angles are computed in float64
from the positions (as diffusers builds its table), rotation math runs in fp32 (fp64 for
fp64 inputs), and the result is rounded once to the input dtype.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

DEFAULT_THETA = 10000.0


def rope_axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Channels per axis ``(t_dim, h_dim, w_dim)`` for a head dim, exactly as Wan splits it."""
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 6 or head_dim % 2:
        raise ValueError(f"head_dim must be an even int >= 6, got {head_dim!r}")
    h_dim = w_dim = 2 * (head_dim // 6)
    return head_dim - h_dim - w_dim, h_dim, w_dim


@functools.lru_cache(maxsize=64)
def _pair_tables(head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    dims = rope_axis_dims(head_dim)
    freqs = [1.0 / (theta ** (torch.arange(0, a, 2, dtype=torch.float64) / a)) for a in dims]
    axes = [torch.full((a // 2,), i, dtype=torch.long) for i, a in enumerate(dims)]
    return torch.cat(freqs), torch.cat(axes)  # (D/2,) float64, (D/2,) long


def rope_pair_frequencies(head_dim: int, theta: float = DEFAULT_THETA) -> torch.Tensor:
    """Frequency of each rotated pair, ``(D/2,)`` float64 (t pairs, then h, then w)."""
    return _pair_tables(head_dim, float(theta))[0].clone()


def rope_pair_axes(head_dim: int) -> torch.Tensor:
    """Which position axis (0 = t, 1 = h, 2 = w) drives each rotated pair, ``(D/2,)`` long."""
    return _pair_tables(head_dim, DEFAULT_THETA)[1].clone()


def check_positions(positions: torch.Tensor, batch: int, seq: int, name: str = "positions") -> None:
    """Raise ValueError unless ``positions`` is a float ``[S, 3]`` or ``[B, S, 3]`` tensor."""
    if not isinstance(positions, torch.Tensor):
        raise ValueError(
            f"{name} must be a tensor of shape [S, 3] or [B, S, 3], got {type(positions)}"
        )
    ok_shape = (positions.dim() == 2 and tuple(positions.shape) == (seq, 3)) or (
        positions.dim() == 3 and tuple(positions.shape) == (batch, seq, 3)
    )
    if not ok_shape:
        raise ValueError(
            f"{name} must have shape [S, 3] = [{seq}, 3] or [B, S, 3] = [{batch}, {seq}, 3], "
            f"got {list(positions.shape)}"
        )
    if not positions.is_floating_point():
        raise ValueError(
            f"{name} must be a floating tensor (fp32 (t, h, w)), got {positions.dtype}"
        )


def check_heads(x: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``x`` is a floating ``[B, S, N, D]`` tensor with an even D >= 6."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x)
        raise ValueError(f"{name} must be a [B, S, N, D] tensor, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {x.dtype}")
    if x.shape[-1] < 6 or x.shape[-1] % 2:
        raise ValueError(
            f"{name} head dim D = {x.shape[-1]} must be even and >= 6 (Wan's 3D RoPE split)"
        )


def rope_angles(
    positions: torch.Tensor, head_dim: int, theta: float = DEFAULT_THETA
) -> torch.Tensor:
    """Rotation angle of each pair at each token, float64.

    Args:
        positions: ``[..., S, 3]`` ``(t, h, w)``.
        head_dim: ``D``.
        theta: RoPE base.

    Returns:
        ``[..., S, D/2]`` float64.
    """
    freqs, axes = _pair_tables(head_dim, float(theta))
    pos = positions.to(torch.float64)[..., axes.to(positions.device)]  # (..., S, D/2)
    return pos * freqs.to(positions.device)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _rotate(x: torch.Tensor, angles: torch.Tensor, inverse: bool) -> torch.Tensor:
    """Rotate consecutive pairs of ``x [B, S, N, D]`` (compute dtype) by ``angles [B|1, S, D/2]``."""
    cos = torch.cos(angles).to(x.dtype)[:, :, None, :]  # (B|1, S, 1, D/2)
    sin = torch.sin(angles).to(x.dtype)[:, :, None, :]
    if inverse:
        sin = -sin
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)  # (B, S, N, D/2) each
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(
        -2
    )  # (B, S, N, D)


def _batched_angles(positions: torch.Tensor, head_dim: int, theta: float) -> torch.Tensor:
    angles = rope_angles(positions, head_dim, theta)
    return angles if angles.dim() == 3 else angles[None]  # (B|1, S, D/2)


def rope_reference(
    x: torch.Tensor,
    positions: torch.Tensor,
    theta: float = DEFAULT_THETA,
    *,
    inverse: bool = False,
) -> torch.Tensor:
    """Apply MVS-RoPE (Wan's 3D RoPE at arbitrary float positions).

    Args:
        x: ``[B, S, N, D]``.
        positions: ``[S, 3]`` or ``[B, S, 3]`` ``(t, h, w)``.
        theta: RoPE base (Wan: 10000).
        inverse: rotate by the negative angles (the transpose; used for gradients).

    Returns:
        ``[B, S, N, D]`` in ``x``'s dtype.
    """
    check_heads(x, "x")
    check_positions(positions, x.shape[0], x.shape[1])
    angles = _batched_angles(positions, x.shape[-1], theta)
    return _rotate(x.to(_compute_dtype(x)), angles, inverse).to(x.dtype)


def _check_weight(weight: torch.Tensor, x: torch.Tensor, name: str) -> None:
    inner = x.shape[2] * x.shape[3]
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (inner,):
        shape = list(weight.shape) if isinstance(weight, torch.Tensor) else type(weight)
        raise ValueError(
            f"{name} must have shape [N*D] = [{inner}] (RMSNorm across all heads), got {shape}"
        )


def rms_norm_heads_reference(
    x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Wan's QK RMSNorm across all heads (``nn.RMSNorm(N*D)`` on the flattened inner dim).

    Args:
        x: ``[B, S, N, D]``.
        weight: ``[N*D]``.
        eps: added to the mean square.

    Returns:
        ``[B, S, N, D]`` in the compute dtype (fp32, or fp64 for fp64 inputs), not rounded.
    """
    ct = _compute_dtype(x)
    flat = x.to(ct).flatten(2)  # (B, S, N*D)
    rstd = torch.rsqrt(flat.square().mean(dim=-1, keepdim=True) + eps)  # (B, S, 1)
    return (flat * rstd * weight.to(ct)).unflatten(2, x.shape[2:])  # (B, S, N, D)


def qk_norm_rope_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor,
    k_weight: torch.Tensor,
    positions: torch.Tensor,
    eps: float = 1e-6,
    theta: float = DEFAULT_THETA,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Wan's ``norm_q``/``norm_k`` (RMSNorm over ``N*D`` with weight) followed by MVS-RoPE.

    Args:
        q: ``[B, S, N, D]``.
        k: ``[B, S, N, D]`` (same shape as ``q``: one token sequence).
        q_weight: ``[N*D]``.
        k_weight: ``[N*D]``.
        positions: ``[S, 3]`` or ``[B, S, 3]``.
        eps: RMSNorm epsilon (Wan: 1e-6).
        theta: RoPE base.

    Returns:
        ``(q_out, k_out)``, each ``[B, S, N, D]`` in its input's dtype, rounded once.
    """
    check_heads(q, "q")
    check_heads(k, "k")
    if q.shape != k.shape:
        raise ValueError(
            f"q and k must have the same [B, S, N, D] shape, got {list(q.shape)} and {list(k.shape)}"
        )
    _check_weight(q_weight, q, "q_weight")
    _check_weight(k_weight, k, "k_weight")
    check_positions(positions, q.shape[0], q.shape[1])
    angles = _batched_angles(positions, q.shape[-1], theta)
    q_out = _rotate(rms_norm_heads_reference(q, q_weight, eps), angles, False).to(q.dtype)
    k_out = _rotate(rms_norm_heads_reference(k, k_weight, eps), angles, False).to(k.dtype)
    return q_out, k_out


def attention_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    q_positions: torch.Tensor | None = None,
    k_positions: torch.Tensor | None = None,
    theta: float = DEFAULT_THETA,
    scale: float | None = None,
) -> torch.Tensor:
    """Non-causal softmax attention, with MVS-RoPE applied to q and k first when positions are given.

    Args:
        q: ``[B, Sq, N, D]``.
        k: ``[B, Sk, N, D]``.
        v: ``[B, Sk, N, D]``.
        q_positions: ``[Sq, 3]`` / ``[B, Sq, 3]``, or None when q is already rotated.
        k_positions: ``[Sk, 3]`` / ``[B, Sk, 3]``, or None when k is already rotated.
        theta: RoPE base.
        scale: softmax scale, default ``1/sqrt(D)``.

    Returns:
        ``[B, Sq, N, D]`` in q's dtype.
    """
    check_attention_inputs(q, k, v)
    if q_positions is not None:
        q = rope_reference(q, q_positions, theta)
    if k_positions is not None:
        k = rope_reference(k, k_positions, theta)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=scale
    )  # (B, N, Sq, D)
    return out.transpose(1, 2)  # (B, Sq, N, D)


def check_attention_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """Raise ValueError unless q ``[B, Sq, N, D]``, k and v ``[B, Sk, N, D]`` agree."""
    check_heads(q, "q")
    check_heads(k, "k")
    if not isinstance(v, torch.Tensor) or v.dim() != 4:
        raise ValueError("v must be a [B, Sk, N, D] tensor")
    if k.shape != v.shape:
        raise ValueError(
            f"k and v must have the same [B, Sk, N, D] shape, got {list(k.shape)} and {list(v.shape)}"
        )
    if q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise ValueError(
            f"q [B, Sq, N, D] = {list(q.shape)} and k [B, Sk, N, D] = {list(k.shape)} must agree in B, N and D"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
