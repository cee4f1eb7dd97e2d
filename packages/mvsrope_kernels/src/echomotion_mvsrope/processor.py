"""The hook the dual DiT plugs into: diffusers-style attention processing on the kernels.

This module never imports diffusers. It works on any module shaped like diffusers'
``WanAttention`` (see :class:`AttentionModule`): ``to_q``, ``to_k``, ``to_v`` linears (or, after
``fuse_projections()``, ``to_qkv`` / ``to_kv``), ``norm_q``/``norm_k`` RMSNorms over ``N·D``
(``weight``, ``eps``), ``to_out`` (a sequence whose first item is the output linear), and
``heads``.

:class:`MVSAttnProcessor` has diffusers' processor call signature
``(attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None)``;
``rotary_emb`` may be MVS-RoPE positions (``[S, 3]``/``[B, S, 3]``) or Wan's ``(cos, sin)``
table, so it drops into a ``WanTransformer3DModel`` via ``set_attn_processor``. Its two halves
are public, :meth:`MVSAttnProcessor.project_qkv` (projection + QK-RMSNorm + MVS-RoPE, kernel 1)
and :meth:`MVSAttnProcessor.project_out` (merge heads + output projection), so that the dual
DiT's joint self-attention (``echomotion_dualdit.attention``) runs each branch's side exactly as
this processor does and only owns the concatenation, the one attention and the split.
"""

from __future__ import annotations

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


def _project(
    attn: AttentionModule, hidden_states: torch.Tensor, context: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q from ``hidden_states``, k/v from ``context`` (None: self-attention), each ``[B, S, N, D]``.

    Follows diffusers' ``_get_qkv_projections``: after ``attn.fuse_projections()`` a
    self-attention projects through ``to_qkv`` and a cross-attention its k/v through ``to_kv``.
    """
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be [B, S, C], got {list(hidden_states.shape)}")
    fused = getattr(attn, "fused_projections", False)
    if fused and context is None:
        q, k, v = attn.to_qkv(hidden_states).chunk(3, dim=-1)  # type: ignore[attr-defined]
    elif fused:
        q = attn.to_q(hidden_states)
        k, v = attn.to_kv(context).chunk(2, dim=-1)  # type: ignore[attr-defined]
    else:
        source = hidden_states if context is None else context
        q, k, v = attn.to_q(hidden_states), attn.to_k(source), attn.to_v(source)
    heads = attn.heads
    return (
        q.unflatten(2, (heads, -1)),  # (B, S, N, D)
        k.unflatten(2, (heads, -1)),  # (B, L, N, D)
        v.unflatten(2, (heads, -1)),  # (B, L, N, D)
    )


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
        self.theta = float(theta)

    def project_qkv(
        self, attn: AttentionModule, hidden_states: torch.Tensor, positions: torch.Tensor
    ) -> HeadsQKV:
        """A self-attention's input side: q/k/v projection, then QK-RMSNorm + MVS-RoPE (kernel 1).

        Args:
            attn: the attention module (its own projections and norm weights).
            hidden_states: ``[B, S, C]``.
            positions: ``[S, 3]`` or ``[B, S, 3]``.

        Returns:
            :class:`HeadsQKV` with ``[B, S, N, D]`` tensors, q and k rotated.
        """
        q, k, v = _project(attn, hidden_states, None)  # (B, S, N, D) each
        inner = q.shape[2] * q.shape[3]
        q_weight, eps = _norm_params(attn.norm_q, inner, "norm_q")
        k_weight, _ = _norm_params(attn.norm_k, inner, "norm_k")
        q, k = qk_norm_rope(
            q, k, q_weight, k_weight, positions, eps=eps, theta=self.theta, backend=self.backend
        )  # (B, S, N, D) each
        return HeadsQKV(q, k, v)

    def project_out(self, attn: AttentionModule, heads: torch.Tensor) -> torch.Tensor:
        """The output side: merge heads ``[B, S, N, D]``, output projection (and its dropout)."""
        hidden = attn.to_out[0](heads.flatten(2))  # (B, S, C)
        return attn.to_out[1](hidden) if len(attn.to_out) > 1 else hidden

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
            qkv = self.project_qkv(attn, hidden_states, rotary_emb)
            out = mvs_attention(qkv.q, qkv.k, qkv.v, backend=self.backend)  # q/k pre-rotated
            return self.project_out(attn, out)
        if encoder_hidden_states is not None and isinstance(rotary_emb, torch.Tensor):
            raise ValueError(
                "rotary_emb positions apply to self-attention only (encoder_hidden_states is set)"
            )
        q, k, v = _project(attn, hidden_states, encoder_hidden_states)  # (B, S|L, N, D)
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
        return self.project_out(attn, out)
