"""Public API: pick the Triton kernels or the PyTorch reference, then call them.

Backend choice, first match wins:

1. the ``backend`` argument (``"triton"`` or ``"reference"``; ``None`` or ``"auto"`` = decide);
2. the environment variable ``ECHOMOTION_MVSROPE_BACKEND`` (same values);
3. ``"triton"`` when the tensors are on CUDA, else ``"reference"``.

``"triton"`` on CPU tensors is an error unless ``TRITON_INTERPRET=1`` was set before triton was
imported (the interpreter: exact but slow, for tests).

Layout: ``[B, S, N, D]`` (batch, tokens, heads, head dim), as diffusers' Wan processor holds q/k/v
after ``unflatten(2, (heads, -1))``. Positions ``[S, 3]`` (shared by the batch) or ``[B, S, 3]``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Literal

import torch

from echomotion_mvsrope.reference import (
    DEFAULT_THETA,
    _check_weight,
    attention_reference,
    check_attention_inputs,
    check_heads,
    check_positions,
    qk_norm_rope_reference,
    rope_reference,
)

Backend = Literal["triton", "reference"]
BACKEND_ENV = "ECHOMOTION_MVSROPE_BACKEND"
_CHOICES = ("triton", "reference", "auto")
_TRITON_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


def _triton_installed() -> bool:
    """Triton ships Linux wheels only (the package's dependency carries that marker)."""
    return importlib.util.find_spec("triton") is not None


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on")


def resolve_backend(backend: str | None, *tensors: torch.Tensor) -> Backend:
    """The backend that a call with these tensors uses (see the module docstring).

    Raises:
        ValueError: on an unknown backend name, or ``"triton"`` for CPU tensors without
            ``TRITON_INTERPRET=1``.
    """
    source = "backend argument"
    choice = backend
    if choice is None or choice == "auto":
        env = os.environ.get(BACKEND_ENV, "").strip().lower()
        choice, source = (env, f"${BACKEND_ENV}") if env else ("auto", "")
    if choice not in _CHOICES:
        raise ValueError(f"{source or 'backend'} must be one of {_CHOICES}, got {choice!r}")
    on_cuda = all(t.device.type == "cuda" for t in tensors)
    if choice == "auto":
        return "triton" if on_cuda and tensors and _triton_installed() else "reference"
    if choice == "triton" and not _triton_installed():
        raise ValueError(
            f"backend 'triton' (from the {source or 'default'}) needs the triton package, which "
            "has Linux wheels only; use 'reference'"
        )
    if choice == "triton" and not on_cuda and not _interpreting():
        devices = sorted({str(t.device) for t in tensors})
        raise ValueError(
            f"backend 'triton' (from the {source}) needs CUDA tensors, got {devices}; use 'reference' "
            "or set TRITON_INTERPRET=1 before importing triton (the slow CPU interpreter)"
        )
    if choice == "triton":
        for t in tensors:
            if t.dtype not in _TRITON_DTYPES:
                raise ValueError(f"backend 'triton' supports {_TRITON_DTYPES}, got {t.dtype}")
    return "triton" if choice == "triton" else "reference"


def qk_norm_rope(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor,
    k_weight: torch.Tensor,
    positions: torch.Tensor,
    *,
    eps: float = 1e-6,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Wan's QK RMSNorm (across all heads, with weight) then MVS-RoPE, for q and k together.

    Args:
        q: ``[B, S, N, D]``.
        k: ``[B, S, N, D]``.
        q_weight: ``[N*D]`` (``attn.norm_q.weight``).
        k_weight: ``[N*D]`` (``attn.norm_k.weight``).
        positions: ``[S, 3]`` or ``[B, S, 3]`` ``(t, h, w)`` (see :mod:`echomotion_mvsrope.positions`).
        eps: RMSNorm epsilon (Wan: 1e-6).
        theta: RoPE base (Wan: 10000).
        backend: ``"triton"``, ``"reference"`` or None (see :func:`resolve_backend`).

    Returns:
        ``(q_rot, k_rot)``, each ``[B, S, N, D]`` in its input's dtype; differentiable w.r.t.
        q, k and both weights.
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
    if resolve_backend(backend, q, k, q_weight, k_weight) == "reference":
        return qk_norm_rope_reference(q, k, q_weight, k_weight, positions, eps=eps, theta=theta)
    from echomotion_mvsrope.autograd import QKNormRoPEFunction

    return QKNormRoPEFunction.apply(q, k, q_weight, k_weight, positions, eps, theta)  # type: ignore[no-any-return]


def mvs_rope(
    x: torch.Tensor,
    positions: torch.Tensor,
    *,
    theta: float = DEFAULT_THETA,
    inverse: bool = False,
    backend: str | None = None,
) -> torch.Tensor:
    """MVS-RoPE alone (no norm): rotate ``x [B, S, N, D]`` by its positions; same shape and dtype.

    Args:
        x: ``[B, S, N, D]``.
        positions: ``[S, 3]`` or ``[B, S, 3]``.
        theta: RoPE base.
        inverse: rotate by the negative angles.
        backend: see :func:`resolve_backend`.
    """
    check_heads(x, "x")
    check_positions(positions, x.shape[0], x.shape[1])
    if resolve_backend(backend, x) == "reference":
        return rope_reference(x, positions, theta, inverse=inverse)
    from echomotion_mvsrope.autograd import RoPEFunction

    return RoPEFunction.apply(x, positions, theta, inverse)  # type: ignore[no-any-return]


def mvs_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    q_positions: torch.Tensor | None = None,
    k_positions: torch.Tensor | None = None,
    theta: float = DEFAULT_THETA,
    scale: float | None = None,
    backend: str | None = None,
) -> torch.Tensor:
    """Non-causal attention over a (joint) sequence, with MVS-RoPE applied inside.

    Args:
        q: ``[B, Sq, N, D]``, un-rotated when ``q_positions`` is given, else already rotated.
        k: ``[B, Sk, N, D]``, likewise with ``k_positions``.
        v: ``[B, Sk, N, D]``.
        q_positions: ``[Sq, 3]`` / ``[B, Sq, 3]`` or None (q pre-rotated).
        k_positions: ``[Sk, 3]`` / ``[B, Sk, 3]`` or None (k pre-rotated).
        theta: RoPE base.
        scale: softmax scale, default ``1/sqrt(D)``.
        backend: see :func:`resolve_backend`.

    Returns:
        ``[B, Sq, N, D]`` in q's dtype; differentiable w.r.t. the un-rotated q, k and v.
    """
    check_attention_inputs(q, k, v)
    if q_positions is not None:
        check_positions(q_positions, q.shape[0], q.shape[1], "q_positions")
    if k_positions is not None:
        check_positions(k_positions, k.shape[0], k.shape[1], "k_positions")
    if resolve_backend(backend, q, k, v) == "reference":
        return attention_reference(
            q, k, v, q_positions=q_positions, k_positions=k_positions, theta=theta, scale=scale
        )
    if q.shape[-1] > 128:
        raise ValueError(f"the Triton attention supports head dim D <= 128, got {q.shape[-1]}")
    from echomotion_mvsrope.autograd import MVSAttentionFunction

    sm_scale = scale if scale is not None else q.shape[-1] ** -0.5
    return MVSAttentionFunction.apply(q, k, v, q_positions, k_positions, theta, sm_scale)  # type: ignore[no-any-return]
