"""Diffusers attention-processor plumbing: a ``WanAttention`` computed with mvsrope's kernels.

Dimension legend: ``B`` batch, ``S`` tokens, ``L`` context (text) tokens, ``N`` heads, ``Hd``
head dim, ``D = N·Hd`` hidden.

Everything here only reads a diffusers ``WanAttention``'s weights (``to_q``/``to_k``/``to_v``, or
``to_qkv``/``to_kv`` after ``fuse_projections()``; ``norm_q``/``norm_k``, RMSNorms over ``N·Hd``;
``to_out``) and hands the math to ``echomotion_mvsrope`` (positions, QK-RMSNorm + MVS-RoPE,
attention; the PyTorch reference on CPU, Triton on CUDA; ``backend`` or
``$ECHOMOTION_MVSROPE_BACKEND`` override it).

- :func:`project_qkv` and :func:`project_out` are a self-attention's two sides: the dual block
  (:class:`~echomotion_dualdit.blocks.DualStreamBlock`) calls them for each stream around its one
  joint attention, and the processors call them around a single stream's attention, so a stream
  alone computes exactly what its side of the joint attention computes.
- :class:`MVSAttnProcessor` has diffusers' processor signature; ``rotary_emb`` may be MVS-RoPE
  positions or Wan's ``(cos, sin)`` table, so it is a drop-in for a ``WanTransformer3DModel``
  (``set_attn_processor``), cross-attention included.
- :class:`MVSRoPEAttnProcessor` is what the dual DiT sets on each ``attn1``: the same, refusing
  what the model never passes there (so a wiring mistake fails loudly).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.transformers.transformer_wan import WanAttention
from torch import Tensor

from echomotion_mvsrope import DEFAULT_THETA, mvs_attention, qk_norm_rope, rms_norm_heads_reference

__all__ = [
    "HeadsQKV",
    "MVSAttnProcessor",
    "MVSRoPEAttnProcessor",
    "project_out",
    "project_qkv",
]


@dataclass(frozen=True)
class HeadsQKV:
    """One stream's projected q, k, v, each ``(B, S, N, Hd)``; q and k normalized and rotated."""

    q: Tensor
    k: Tensor
    v: Tensor


def _norm_params(norm: torch.nn.Module, inner: int, name: str) -> tuple[Tensor, float]:
    """An RMSNorm's weight ``(N·Hd,)`` and eps."""
    weight = getattr(norm, "weight", None)
    eps = getattr(norm, "eps", None)
    if not isinstance(weight, Tensor) or tuple(weight.shape) != (inner,):
        raise ValueError(
            f"attn.{name} must be an RMSNorm over N*D = {inner} channels with a weight"
        )
    return weight, 1e-6 if eps is None else float(eps)


def _heads(
    attn: WanAttention, hidden_states: Tensor, context: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """q from ``hidden_states``, k/v from ``context`` (None: self-attention), each ``(B, S|L, N, Hd)``.

    Follows diffusers' ``_get_qkv_projections``: after ``attn.fuse_projections()`` a
    self-attention projects through ``to_qkv`` and a cross-attention its k/v through ``to_kv``.
    """
    if hidden_states.dim() != 3:
        raise ValueError(f"hidden_states must be [B, S, C], got {list(hidden_states.shape)}")
    fused = getattr(attn, "fused_projections", False)
    if fused and context is None:
        q, k, v = attn.to_qkv(hidden_states).chunk(3, dim=-1)
    elif fused:
        q = attn.to_q(hidden_states)
        k, v = attn.to_kv(context).chunk(2, dim=-1)
    else:
        source = hidden_states if context is None else context
        q, k, v = attn.to_q(hidden_states), attn.to_k(source), attn.to_v(source)
    heads = attn.heads
    return (
        q.unflatten(2, (heads, -1)),  # (B, S, N, Hd)
        k.unflatten(2, (heads, -1)),  # (B, L, N, Hd)
        v.unflatten(2, (heads, -1)),  # (B, L, N, Hd)
    )


def project_qkv(
    attn: WanAttention,
    hidden_states: Tensor,
    positions: Tensor,
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> HeadsQKV:
    """A self-attention's input side: q/k/v projection, then QK-RMSNorm + MVS-RoPE (kernel 1).

    Args:
        attn: the attention module (its own projections and norm weights).
        hidden_states: ``(B, S, D)``.
        positions: ``(S, 3)`` or ``(B, S, 3)`` fp32 ``(t, h, w)``.
        theta: RoPE base.
        backend: mvsrope backend (``"triton"``, ``"reference"`` or None = by device).

    Returns:
        :class:`HeadsQKV` with ``(B, S, N, Hd)`` tensors, q and k rotated.
    """
    q, k, v = _heads(attn, hidden_states, None)  # (B, S, N, Hd) each
    inner = q.shape[2] * q.shape[3]
    q_weight, eps = _norm_params(attn.norm_q, inner, "norm_q")
    k_weight, _ = _norm_params(attn.norm_k, inner, "norm_k")
    q, k = qk_norm_rope(
        q, k, q_weight, k_weight, positions, eps=eps, theta=theta, backend=backend
    )  # (B, S, N, Hd) each
    return HeadsQKV(q, k, v)


def project_out(attn: WanAttention, heads: Tensor) -> Tensor:
    """The output side: merge heads ``(B, S, N, Hd)``, output projection (and its dropout) → ``(B, S, D)``."""
    hidden = attn.to_out[0](heads.flatten(2))  # (B, S, D)
    out: Tensor = attn.to_out[1](hidden) if len(attn.to_out) > 1 else hidden
    return out


def _rotate_with_table(x: Tensor, freqs_cos: Tensor, freqs_sin: Tensor) -> Tensor:
    """Wan's rotation from its precomputed ``(cos, sin)`` ``(1, S, 1, Hd)`` table."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)  # (B, S, N, Hd/2)
    cos, sin = freqs_cos[..., 0::2], freqs_sin[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2).type_as(x)


class MVSAttnProcessor:
    """A diffusers attention processor for ``WanAttention`` running on mvsrope's kernels.

    Self-attention (no ``encoder_hidden_states``) with ``rotary_emb`` positions runs
    :func:`project_qkv` (kernel 1), the attention (kernel 2) and :func:`project_out`; with a
    ``(cos, sin)`` table (what ``WanTransformer3DModel`` passes) it normalizes, rotates from the
    table and runs kernel 2 on the rotated q/k. Cross-attention normalizes q and k (no RoPE) and
    runs kernel 2. Attention masks and image-conditioning projections (``add_k_proj``) are not
    supported.

    Args:
        backend: ``"triton"``, ``"reference"`` or None (by device; see
            :func:`echomotion_mvsrope.resolve_backend`).
        theta: RoPE base.
    """

    def __init__(self, backend: str | None = None, theta: float = DEFAULT_THETA) -> None:
        self.backend = backend
        self.theta = float(theta)

    def __call__(
        self,
        attn: WanAttention,
        hidden_states: Tensor,
        encoder_hidden_states: Tensor | None = None,
        attention_mask: Tensor | None = None,
        rotary_emb: Tensor | tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """``hidden_states (B, S, D)`` → ``(B, S, D)``."""
        if attention_mask is not None:
            raise ValueError(
                "MVSAttnProcessor does not support attention_mask (Wan attends without one)"
            )
        if getattr(attn, "add_k_proj", None) is not None:
            raise ValueError(
                "MVSAttnProcessor does not support image-conditioning projections (add_k_proj)"
            )
        if encoder_hidden_states is None and isinstance(rotary_emb, Tensor):
            qkv = project_qkv(
                attn, hidden_states, rotary_emb, theta=self.theta, backend=self.backend
            )  # (B, S, N, Hd) each
            heads = mvs_attention(qkv.q, qkv.k, qkv.v, backend=self.backend)  # q/k pre-rotated
            return project_out(attn, heads)  # (B, S, D)
        if encoder_hidden_states is not None and isinstance(rotary_emb, Tensor):
            raise ValueError(
                "rotary_emb positions apply to self-attention only (encoder_hidden_states is set)"
            )
        q, k, v = _heads(attn, hidden_states, encoder_hidden_states)  # (B, S|L, N, Hd)
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
        heads = mvs_attention(q, k, v, backend=self.backend)  # (B, S, N, Hd)
        return project_out(attn, heads)  # (B, S, D)


class MVSRoPEAttnProcessor(MVSAttnProcessor):
    """What the dual DiT sets on every ``attn1``: self-attention with MVS-RoPE positions.

    A plain ``WanTransformerBlock.forward`` (video-only layers, and a stream alone in a dual
    layer) then computes QK-RMSNorm + MVS-RoPE and the attention with the project's kernels.
    Refuses Wan's ``(cos, sin)`` tables where the token positions ``(S, 3)`` belong, text, masks.

    Args:
        backend: ``"triton"``, ``"reference"`` or None (by device).
        theta: RoPE base.
    """

    def __call__(
        self,
        attn: WanAttention,
        hidden_states: Tensor,
        encoder_hidden_states: Tensor | None = None,
        attention_mask: Tensor | None = None,
        rotary_emb: Tensor | tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """``hidden_states (B, S, D)`` → ``(B, S, D)``; ``rotary_emb`` = positions ``(S, 3)``."""
        if encoder_hidden_states is not None:
            raise ValueError(
                "MVSRoPEAttnProcessor is for self-attention (attn1); encoder_hidden_states must be None"
            )
        if attention_mask is not None:
            raise ValueError(
                "MVSRoPEAttnProcessor attends to every token; attention_mask must be None"
            )
        if not isinstance(rotary_emb, Tensor):
            raise ValueError(
                "MVSRoPEAttnProcessor needs rotary_emb = token positions, a float tensor (S, 3) "
                "(echomotion_mvsrope.video_positions / joint_positions), not Wan's (cos, sin) tables"
            )
        return super().__call__(attn, hidden_states, rotary_emb=rotary_emb)
