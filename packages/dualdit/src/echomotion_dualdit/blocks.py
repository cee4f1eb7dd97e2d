"""The dual-modality block: two Wan blocks (video, motion) joined by one self-attention.

Dimension legend: ``B`` batch, ``Sv`` video tokens, ``Sm`` motion tokens, ``L`` text tokens,
``D`` hidden.

Weights live in two ``diffusers`` ``WanTransformerBlock`` modules (the video one keeps Wan's
parameter names); this file holds the forward that mixes them. Each half below mirrors
``WanTransformerBlock.forward`` line for line (adaLN in fp32, gated residuals), so a branch run
alone through :func:`dual_block_forward` equals that block's own forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffusers.models.transformers.transformer_wan import WanTransformerBlock
from torch import Tensor

from echomotion_dualdit.attention import BranchInput, joint_self_attention
from echomotion_mvsrope import DEFAULT_THETA


@dataclass(frozen=True)
class Modulation:
    """A block's adaLN terms for one branch (Wan's six), each ``(B, 1, D)`` fp32."""

    shift_msa: Tensor
    scale_msa: Tensor
    gate_msa: Tensor
    shift_ffn: Tensor
    scale_ffn: Tensor
    gate_ffn: Tensor


@dataclass(frozen=True)
class BranchState:
    """What one modality brings to a block."""

    tokens: Tensor  # (B, S, D)
    timestep_proj: Tensor  # (B, 6, D): this modality's time embedding, projected
    text: Tensor  # (B, L, D): the text embedding (shared by both branches)
    positions: Tensor  # (S, 3) fp32 MVS-RoPE (t, h, w)


def block_modulation(block: WanTransformerBlock, timestep_proj: Tensor) -> Modulation:
    """``scale_shift_table (1, 6, D) + timestep_proj (B, 6, D)`` split into Wan's six terms."""
    terms = (block.scale_shift_table + timestep_proj.float()).chunk(6, dim=1)  # 6 × (B, 1, D)
    return Modulation(*terms)


def pre_attention(block: WanTransformerBlock, tokens: Tensor, mod: Modulation) -> Tensor:
    """adaLN before self-attention: ``norm1(x)·(1 + scale) + shift``; ``(B, S, D)``."""
    normed = block.norm1(tokens.float()) * (1 + mod.scale_msa) + mod.shift_msa  # (B, S, D) fp32
    return normed.type_as(tokens)


def post_attention(
    block: WanTransformerBlock, tokens: Tensor, attn_out: Tensor, mod: Modulation, text: Tensor
) -> Tensor:
    """Gated residual of the self-attention, then text cross-attention and the gated FFN."""
    tokens = (tokens.float() + attn_out * mod.gate_msa).type_as(tokens)  # (B, S, D)

    normed = block.norm2(tokens.float()).type_as(tokens)  # (B, S, D)
    tokens = tokens + block.attn2(normed, text, None, None)  # (B, S, D)

    normed = (block.norm3(tokens.float()) * (1 + mod.scale_ffn) + mod.shift_ffn).type_as(tokens)
    ff = block.ffn(normed)  # (B, S, D)
    return (tokens.float() + ff.float() * mod.gate_ffn).type_as(tokens)  # (B, S, D)


def dual_block_forward(
    video_block: WanTransformerBlock,
    motion_block: WanTransformerBlock,
    video: BranchState | None,
    motion: BranchState | None,
    *,
    theta: float = DEFAULT_THETA,
    backend: str | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    """One dual block: per-branch adaLN, joint self-attention, per-branch cross-attention + FFN.

    Returns:
        ``(video (B, Sv, D) | None, motion (B, Sm, D) | None)``: None where the input was None.
    """
    video_mod = block_modulation(video_block, video.timestep_proj) if video else None
    motion_mod = block_modulation(motion_block, motion.timestep_proj) if motion else None

    # 1. Each branch's pre-attention (its own adaLN).
    video_in = (
        BranchInput(
            video_block.attn1, pre_attention(video_block, video.tokens, video_mod), video.positions
        )
        if video and video_mod
        else None
    )
    motion_in = (
        BranchInput(
            motion_block.attn1,
            pre_attention(motion_block, motion.tokens, motion_mod),
            motion.positions,
        )
        if motion and motion_mod
        else None
    )

    # 2. One self-attention over [video; motion].
    video_attn, motion_attn = joint_self_attention(
        video_in, motion_in, theta=theta, backend=backend
    )

    # 3. Each branch's post-attention (its own gate, text cross-attention and FFN).
    video_out = (
        post_attention(video_block, video.tokens, video_attn, video_mod, video.text)
        if video and video_mod and video_attn is not None
        else None
    )
    motion_out = (
        post_attention(motion_block, motion.tokens, motion_attn, motion_mod, motion.text)
        if motion and motion_mod and motion_attn is not None
        else None
    )
    return video_out, motion_out
