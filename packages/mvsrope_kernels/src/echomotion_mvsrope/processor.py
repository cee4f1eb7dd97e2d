"""The hook the dual DiT plugs into: diffusers-style attention processing on the kernels.

This module never imports diffusers. It works on any module shaped like diffusers'
``WanAttention`` (see :class:`AttentionModule`): ``to_q``, ``to_k``, ``to_v`` linears,
``norm_q``/``norm_k`` RMSNorms over ``N·D`` (``weight``, ``eps``), ``to_out`` (a sequence whose
first item is the output linear), and ``heads``.

- :class:`MVSAttnProcessor` has diffusers' processor call signature
  ``(attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None)``;
  ``rotary_emb`` may be MVS-RoPE positions (``[S, 3]``/``[B, S, 3]``) or Wan's ``(cos, sin)``
  table, so it drops into a ``WanTransformer3DModel`` via ``set_attn_processor``.
- :func:`joint_attention` is the dual block's self-attention read top to bottom (SD3.5 style):
  each stream projects and normalizes+rotates its own q/k (kernel 1, its own norm weights),
  the streams are concatenated, one attention runs (kernel 2), the output is split and each
  stream applies its own output projection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from echomotion_mvsrope.api import mvs_attention, qk_norm_rope
from echomotion_mvsrope.reference import DEFAULT_THETA, rms_norm_heads_reference


class AttentionModule(Protocol):
    """What the processor reads from an attention module (diffusers' ``WanAttention`` fits)."""

    heads: int
    to_q: Any
    to_k: Any
    to_v: Any
    norm_q: Any
    norm_k: Any
    to_out: Any


@dataclass(frozen=True)
class HeadsQKV:
    """One stream's projected q, k, v, each ``[B, S, N, D]``; q and k normalized and rotated."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor


def _norm_params(norm: Any, inner: int, name: str) -> tuple[torch.Tensor, float]:
    weight = getattr(norm, "weight", None)
    eps = getattr(norm, "eps", None)
    if weight is None or tuple(weight.shape) != (inner,):
        raise ValueError(
            f"attn.{name} must be an RMSNorm over N*D = {inner} channels with a weight"
        )
    return weight, 1e-6 if eps is None else float(eps)


def project_qkv(
    attn: AttentionModule,
    hidden_states: torch.Tensor,
    positions: torch.Tensor,
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> HeadsQKV:
    """Project one stream, then Wan's QK RMSNorm + MVS-RoPE (kernel 1).

    Args:
        attn: the stream's attention module.
        hidden_states: ``[B, S, C]``.
        positions: ``[S, 3]`` or ``[B, S, 3]``.

    Returns:
        :class:`HeadsQKV` with ``[B, S, N, D]`` tensors.
    """
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be [B, S, C], got {list(hidden_states.shape)}")
    heads = attn.heads
    q = attn.to_q(hidden_states).unflatten(2, (heads, -1))  # (B, S, N, D)
    k = attn.to_k(hidden_states).unflatten(2, (heads, -1))
    v = attn.to_v(hidden_states).unflatten(2, (heads, -1))
    inner = q.shape[2] * q.shape[3]
    q_weight, eps = _norm_params(attn.norm_q, inner, "norm_q")
    k_weight, _ = _norm_params(attn.norm_k, inner, "norm_k")
    q, k = qk_norm_rope(q, k, q_weight, k_weight, positions, eps=eps, theta=theta, backend=backend)
    return HeadsQKV(q, k, v)


def _output(attn: AttentionModule, out: torch.Tensor) -> torch.Tensor:
    hidden = attn.to_out[0](out.flatten(2))  # (B, S, C)
    return attn.to_out[1](hidden) if len(attn.to_out) > 1 else hidden


def joint_attention(
    attns: Sequence[AttentionModule],
    hidden_states: Sequence[torch.Tensor],
    positions: Sequence[torch.Tensor],
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> list[torch.Tensor]:
    """Joint self-attention over several streams (video, motion, ...), each with its own weights.

    Args:
        attns: one attention module per stream (same ``heads`` and head dim).
        hidden_states: per stream ``[B, S_i, C_i]``.
        positions: per stream ``[S_i, 3]`` or ``[B, S_i, 3]`` (e.g. video then motion positions).

    Returns:
        Per stream ``[B, S_i, C_i]``: the stream's slice of the joint attention, after its own
        output projection.
    """
    if not (len(attns) == len(hidden_states) == len(positions)) or not attns:
        raise ValueError(
            "attns, hidden_states and positions must be non-empty and of equal length, got "
            f"{len(attns)}, {len(hidden_states)}, {len(positions)}"
        )
    streams = [
        project_qkv(a, h, p, theta=theta, backend=backend)
        for a, h, p in zip(attns, hidden_states, positions, strict=True)
    ]
    lengths = [s.q.shape[1] for s in streams]
    q = torch.cat([s.q for s in streams], dim=1)  # (B, ΣS_i, N, D)
    k = torch.cat([s.k for s in streams], dim=1)
    v = torch.cat([s.v for s in streams], dim=1)
    out = mvs_attention(q, k, v, backend=backend)  # (B, ΣS_i, N, D), q/k pre-rotated
    pieces = out.split(lengths, dim=1)
    return [_output(a, o) for a, o in zip(attns, pieces, strict=True)]


def _rotate_with_table(
    x: torch.Tensor, freqs_cos: torch.Tensor, freqs_sin: torch.Tensor
) -> torch.Tensor:
    """Wan's rotation from its precomputed ``(cos, sin)`` ``[1, S, 1, D]`` table."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)  # (B, S, N, D/2)
    cos, sin = freqs_cos[..., 0::2], freqs_sin[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2).type_as(x)


class MVSAttnProcessor:
    """A diffusers-compatible attention processor running on this package's kernels.

    Self-attention (no ``encoder_hidden_states``) with ``rotary_emb`` positions runs kernel 1
    (norm + MVS-RoPE) then kernel 2; with a ``(cos, sin)`` table (what ``WanTransformer3DModel``
    passes) it normalizes, rotates from the table and runs kernel 2 on the rotated q/k.
    Cross-attention normalizes q and k (no RoPE) and runs kernel 2. Attention masks and
    image-conditioning projections (``add_k_proj``) are not supported.

    Args:
        backend: ``"triton"``, ``"reference"`` or None (auto; see :func:`resolve_backend`).
        theta: RoPE base.
    """

    def __init__(self, backend: str | None = None, theta: float = DEFAULT_THETA) -> None:
        self.backend = backend
        self.theta = theta

    def __call__(
        self,
        attn: AttentionModule,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``hidden_states [B, S, C]`` → ``[B, S, C]``."""
        if attention_mask is not None:
            raise ValueError(
                "MVSAttnProcessor does not support attention_mask (Wan attends without one)"
            )
        if getattr(attn, "add_k_proj", None) is not None:
            raise ValueError(
                "MVSAttnProcessor does not support image-conditioning projections (add_k_proj)"
            )
        if encoder_hidden_states is None and isinstance(rotary_emb, torch.Tensor):
            qkv = project_qkv(
                attn, hidden_states, rotary_emb, theta=self.theta, backend=self.backend
            )
            out = mvs_attention(qkv.q, qkv.k, qkv.v, backend=self.backend)
            return _output(attn, out)
        if encoder_hidden_states is not None and isinstance(rotary_emb, torch.Tensor):
            raise ValueError(
                "rotary_emb positions apply to self-attention only (encoder_hidden_states is set)"
            )
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        heads = attn.heads
        q = attn.to_q(hidden_states).unflatten(2, (heads, -1))  # (B, S, N, D)
        k = attn.to_k(context).unflatten(2, (heads, -1))  # (B, L, N, D)
        v = attn.to_v(context).unflatten(2, (heads, -1))
        inner = q.shape[2] * q.shape[3]
        q_weight, eps = _norm_params(attn.norm_q, inner, "norm_q")
        k_weight, _ = _norm_params(attn.norm_k, inner, "norm_k")
        q = rms_norm_heads_reference(q, q_weight, eps).to(q.dtype)
        k = rms_norm_heads_reference(k, k_weight, eps).to(k.dtype)
        if rotary_emb is not None:
            if len(rotary_emb) != 2:
                raise ValueError(
                    "rotary_emb must be positions [S, 3] / [B, S, 3] or a (cos, sin) pair"
                )
            q = _rotate_with_table(q, *rotary_emb)
            k = _rotate_with_table(k, *rotary_emb)
        out = mvs_attention(q, k, v, backend=self.backend)
        return _output(attn, out)
