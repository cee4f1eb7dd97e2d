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

from echomotion_mvsrope import DEFAULT_THETA, MVSAttnProcessor, mvs_attention


@dataclass(frozen=True)
class BranchInput:
    """One modality's input to a self-attention: its weights, its tokens, their positions."""

    attn: WanAttention
    tokens: Tensor  # (B, S, D), already adaLN-modulated
    positions: Tensor  # (S, 3) fp32 MVS-RoPE (t, h, w)


def joint_self_attention(
    video: BranchInput | None,
    motion: BranchInput | None,
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    """Self-attention over ``[video; motion]`` with per-branch weights (paper eq. 1).

    Each branch's input and output sides are those of mvsrope's attention processor hook (the
    same code that runs a single-branch ``attn1``), so a branch alone equals its processor.

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
    hook = MVSAttnProcessor(backend=backend, theta=theta)

    # 1. Each branch: its own q/k/v projection, QK-RMSNorm and MVS-RoPE at its own positions.
    video_qkv = (
        hook.project_qkv(video.attn, video.tokens, video.positions) if video else None
    )  # (B, Sv, N, Hd) each
    motion_qkv = (
        hook.project_qkv(motion.attn, motion.tokens, motion.positions) if motion else None
    )  # (B, Sm, N, Hd) each

    # 2. Concatenate along the sequence, video first; one attention over the joint sequence.
    present = [qkv for qkv in (video_qkv, motion_qkv) if qkv is not None]
    q = torch.cat([x.q for x in present], dim=1)  # (B, Sv+Sm, N, Hd)
    k = torch.cat([x.k for x in present], dim=1)  # (B, Sv+Sm, N, Hd)
    v = torch.cat([x.v for x in present], dim=1)  # (B, Sv+Sm, N, Hd)
    heads = mvs_attention(q, k, v, backend=backend)  # (B, Sv+Sm, N, Hd), q/k pre-rotated

    # 3. Split by explicit slicing: the first Sv tokens are video, the rest motion.
    num_video = video.tokens.shape[1] if video is not None else 0
    video_heads = heads[:, :num_video]  # (B, Sv, N, Hd)
    motion_heads = heads[:, num_video:]  # (B, Sm, N, Hd)

    # 4. Each branch: its own output projection.
    video_out = (
        hook.project_out(video.attn, video_heads) if video is not None else None
    )  # (B, Sv, D)
    motion_out = (
        hook.project_out(motion.attn, motion_heads) if motion is not None else None
    )  # (B, Sm, D)
    return video_out, motion_out
