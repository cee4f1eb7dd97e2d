"""The dual block's joint self-attention, as one function (STYLE.md rule 3, SD3.5's block_mixing).

Dimension legend: ``B`` batch, ``Sv`` video tokens (F·H·W), ``Sm`` motion tokens (Tm·51),
``D`` hidden, ``N`` heads, ``Hd`` head dim (``D = N·Hd``).

Each branch keeps its own weights (a diffusers ``WanAttention``): q/k/v projections, the
QK-RMSNorm across heads and the output projection. Only the attention itself is shared: the two
token sequences are concatenated (video first, eq. 1), attend to each other once, and the result
is split back by explicit slicing. MVS-RoPE and the norm run through ``echomotion_mvsrope``
(PyTorch reference on CPU, Triton on CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.transformers.transformer_wan import WanAttention
from torch import Tensor

from echomotion_mvsrope import DEFAULT_THETA, mvs_attention, qk_norm_rope


@dataclass(frozen=True)
class BranchInput:
    """One modality's input to a self-attention: its weights, its tokens, their positions."""

    attn: WanAttention
    tokens: Tensor  # (B, S, D), already adaLN-modulated
    positions: Tensor  # (S, 3) fp32 MVS-RoPE (t, h, w)


@dataclass(frozen=True)
class QKV:
    """Projected, normalized and rotated heads of one token sequence."""

    q: Tensor  # (B, S, N, Hd)
    k: Tensor  # (B, S, N, Hd)
    v: Tensor  # (B, S, N, Hd)


def project_qkv(
    attn: WanAttention,
    tokens: Tensor,
    positions: Tensor,
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> QKV:
    """Wan's self-attention input side: q/k/v projection, QK-RMSNorm, MVS-RoPE on q and k."""
    if getattr(attn, "fused_projections", False):
        q, k, v = attn.to_qkv(tokens).chunk(3, dim=-1)  # (B, S, N·Hd) each
    else:
        q, k, v = attn.to_q(tokens), attn.to_k(tokens), attn.to_v(tokens)  # (B, S, N·Hd) each
    heads = attn.heads
    q = q.unflatten(2, (heads, -1))  # (B, S, N, Hd)
    k = k.unflatten(2, (heads, -1))  # (B, S, N, Hd)
    v = v.unflatten(2, (heads, -1))  # (B, S, N, Hd)
    eps = attn.norm_q.eps if attn.norm_q.eps is not None else 1e-6
    q, k = qk_norm_rope(
        q,
        k,
        attn.norm_q.weight,
        attn.norm_k.weight,
        positions,
        eps=eps,
        theta=theta,
        backend=backend,
    )  # (B, S, N, Hd) each
    return QKV(q=q, k=k, v=v)


def project_out(attn: WanAttention, heads: Tensor) -> Tensor:
    """Wan's self-attention output side: merge heads, output projection (and its dropout)."""
    merged = heads.flatten(2, 3)  # (B, S, D)
    return attn.to_out[1](attn.to_out[0](merged))  # (B, S, D)


def joint_self_attention(
    video: BranchInput | None,
    motion: BranchInput | None,
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    """Self-attention over ``[video; motion]`` with per-branch weights (paper eq. 1).

    Args:
        video: the video branch (Sv tokens), or None when the video is absent.
        motion: the motion branch (Sm tokens), or None when the motion is absent.
        theta: RoPE base.
        backend: mvsrope backend (``"triton"``, ``"reference"`` or None = by device).

    Returns:
        ``(video_out (B, Sv, D) | None, motion_out (B, Sm, D) | None)``, each after its own
        branch's output projection (not yet gated: the gate is the block's adaLN).
    """
    if video is None and motion is None:
        raise ValueError("joint_self_attention needs at least one of video and motion, got neither")

    # 1. Each branch: its own q/k/v projection, QK-RMSNorm and MVS-RoPE at its own positions.
    video_qkv = (
        project_qkv(video.attn, video.tokens, video.positions, theta=theta, backend=backend)
        if video
        else None
    )
    motion_qkv = (
        project_qkv(motion.attn, motion.tokens, motion.positions, theta=theta, backend=backend)
        if motion
        else None
    )

    # 2. Concatenate along the sequence, video first; one attention over the joint sequence.
    present = [qkv for qkv in (video_qkv, motion_qkv) if qkv is not None]
    q = torch.cat([x.q for x in present], dim=1)  # (B, Sv+Sm, N, Hd)
    k = torch.cat([x.k for x in present], dim=1)  # (B, Sv+Sm, N, Hd)
    v = torch.cat([x.v for x in present], dim=1)  # (B, Sv+Sm, N, Hd)
    heads = mvs_attention(
        q, k, v, theta=theta, backend=backend
    )  # (B, Sv+Sm, N, Hd), q/k pre-rotated
    heads = heads.type_as(q)

    # 3. Split by explicit slicing: the first Sv tokens are video, the rest motion.
    num_video = video.tokens.shape[1] if video is not None else 0
    video_heads = heads[:, :num_video]  # (B, Sv, N, Hd)
    motion_heads = heads[:, num_video:]  # (B, Sm, N, Hd)

    # 4. Each branch: its own output projection.
    video_out = project_out(video.attn, video_heads) if video is not None else None  # (B, Sv, D)
    motion_out = (
        project_out(motion.attn, motion_heads) if motion is not None else None
    )  # (B, Sm, D)
    return video_out, motion_out
