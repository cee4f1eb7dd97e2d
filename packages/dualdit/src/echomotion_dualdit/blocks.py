"""One layer of the dual DiT, whole: Wan's video block, the motion block beside it, one attention.

Dimension legend: ``B`` batch, ``Sv`` video tokens (F·H·W), ``Sm`` motion tokens (Tm·51), ``L``
text tokens, ``D`` hidden, ``N`` heads, ``Hd`` head dim (``D = N·Hd``).

A :class:`DualStreamBlock` *is* a diffusers ``WanTransformerBlock`` (the video stream, so its
weights keep Wan's names: ``blocks.{i}.attn1.to_q.weight`` …) that owns the motion stream's block
as a child (``blocks.{i}.motion.*``). Everything one layer runs is inside this module's own
``forward``, so the layer is the unit a wrapper (FSDP2's ``fully_shard``, activation
checkpointing, regional ``torch.compile``) takes whole: its parameters are gathered when its
forward starts and no code outside it reads them.

With both streams in a dual layer, ``forward`` reads like SD3.5's ``block_mixing`` (paper
eq. 1): each stream's pre-attention (its adaLN), its q/k/v projection + QK-RMSNorm + MVS-RoPE,
the concatenation (video first), one attention, the split by slicing, each stream's output
projection and post-attention (gate, text cross-attention, FFN). Each stream keeps its own
weights; only the attention is shared. The pre- and post-attention mirror
``WanTransformerBlock.forward`` line for line (adaLN in fp32, gated residuals), and the q/k/v and
output sides are the ones the ``attn1`` processor runs (``processor.py``), so a stream alone is
simply that block's own forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.transformers.transformer_wan import WanTransformerBlock
from torch import Tensor

from echomotion_dualdit.processor import project_out, project_qkv
from echomotion_mvsrope import DEFAULT_THETA, mvs_attention

__all__ = ["DualStreamBlock", "Modulation", "block_modulation"]


@dataclass(frozen=True)
class Modulation:
    """A block's adaLN terms for one stream (Wan's six), each ``(B, 1, D)`` fp32."""

    shift_msa: Tensor
    scale_msa: Tensor
    gate_msa: Tensor
    shift_ffn: Tensor
    scale_ffn: Tensor
    gate_ffn: Tensor


def block_modulation(block: WanTransformerBlock, timestep_proj: Tensor) -> Modulation:
    """``scale_shift_table (1, 6, D) + timestep_proj (B, 6, D)`` split into Wan's six terms."""
    terms = (block.scale_shift_table + timestep_proj.float()).chunk(6, dim=1)  # 6 × (B, 1, D)
    return Modulation(*terms)


def _pre_attention(block: WanTransformerBlock, tokens: Tensor, mod: Modulation) -> Tensor:
    """adaLN before self-attention: ``norm1(x)·(1 + scale) + shift``; ``(B, S, D)``."""
    normed = block.norm1(tokens.float()) * (1 + mod.scale_msa) + mod.shift_msa  # (B, S, D) fp32
    return normed.type_as(tokens)


def _post_attention(
    block: WanTransformerBlock, tokens: Tensor, attn_out: Tensor, mod: Modulation, text: Tensor
) -> Tensor:
    """Gated residual of the self-attention, then text cross-attention and the gated FFN."""
    tokens = (tokens.float() + attn_out * mod.gate_msa).type_as(tokens)  # (B, S, D)

    normed = block.norm2(tokens.float()).type_as(tokens)  # (B, S, D)
    tokens = tokens + block.attn2(normed, text, None, None)  # (B, S, D)

    normed = (block.norm3(tokens.float()) * (1 + mod.scale_ffn) + mod.shift_ffn).type_as(tokens)
    ff = block.ffn(normed)  # (B, S, D)
    return (tokens.float() + ff.float() * mod.gate_ffn).type_as(tokens)  # (B, S, D)


class DualStreamBlock(WanTransformerBlock):  # type: ignore[misc]
    """Wan's block (the video stream) plus, in a dual layer, a motion block of the same shape.

    Args:
        dim, ffn_dim, num_heads, qk_norm, cross_attn_norm, eps: ``WanTransformerBlock``'s.
        dual: whether motion tokens take part in this layer (else they pass it unchanged).
        shared_weights: the paper's A.8.3 ablation: no motion block; motion tokens run through
            this block's own (video) weights.
    """

    def __init__(
        self,
        dim: int,
        ffn_dim: int,
        num_heads: int,
        qk_norm: str,
        cross_attn_norm: bool,
        eps: float,
        *,
        dual: bool,
        shared_weights: bool = False,
    ) -> None:
        super().__init__(dim, ffn_dim, num_heads, qk_norm, cross_attn_norm, eps)
        self.motion: WanTransformerBlock | None = (
            WanTransformerBlock(dim, ffn_dim, num_heads, qk_norm, cross_attn_norm, eps)
            if dual and not shared_weights
            else None
        )
        self.shared_weights = dual and shared_weights
        self.rope_theta = DEFAULT_THETA
        self.kernel_backend: str | None = None  # None: echomotion_mvsrope decides by device

    @property
    def is_dual(self) -> bool:
        return self.motion is not None or self.shared_weights

    @property
    def motion_branch(self) -> WanTransformerBlock | None:
        """The block the motion tokens run through here (None: they pass unchanged)."""
        return self if self.shared_weights else self.motion

    def forward(  # type: ignore[override]
        self,
        video: Tensor | None,
        motion: Tensor | None,
        text: Tensor,
        video_proj: Tensor | None,
        motion_proj: Tensor | None,
        video_pos: Tensor | None,
        motion_pos: Tensor | None,
    ) -> tuple[Tensor | None, Tensor | None]:
        """One layer. ``video (B, Sv, D)``, ``motion (B, Sm, D)`` (either may be None: absent),
        ``text (B, L, D)``, ``*_proj (B, 6, D)`` per-modality time projections, ``*_pos (S, 3)``.

        Both streams in a dual layer: the joint block below; otherwise :meth:`_alone`.
        """
        motion_block = self.motion_branch
        if video is None or motion is None or motion_block is None:
            return self._alone(video, motion, text, video_proj, motion_proj, video_pos, motion_pos)
        assert video_proj is not None and motion_proj is not None
        assert video_pos is not None and motion_pos is not None
        theta, backend = self.rope_theta, self.kernel_backend
        video_mod = block_modulation(self, video_proj)  # 6 × (B, 1, D)
        motion_mod = block_modulation(motion_block, motion_proj)  # 6 × (B, 1, D)

        # 1. Each stream's pre-attention: its adaLN.
        video_in = _pre_attention(self, video, video_mod)  # (B, Sv, D)
        motion_in = _pre_attention(motion_block, motion, motion_mod)  # (B, Sm, D)

        # 2. Each stream's q/k/v projection, QK-RMSNorm and MVS-RoPE at its own positions.
        video_qkv = project_qkv(
            self.attn1, video_in, video_pos, theta=theta, backend=backend
        )  # (B, Sv, N, Hd) each
        motion_qkv = project_qkv(
            motion_block.attn1, motion_in, motion_pos, theta=theta, backend=backend
        )  # (B, Sm, N, Hd) each

        # 3. Concatenate along the sequence, video first, and attend once (q/k already rotated).
        q = torch.cat([video_qkv.q, motion_qkv.q], dim=1)  # (B, Sv+Sm, N, Hd)
        k = torch.cat([video_qkv.k, motion_qkv.k], dim=1)  # (B, Sv+Sm, N, Hd)
        v = torch.cat([video_qkv.v, motion_qkv.v], dim=1)  # (B, Sv+Sm, N, Hd)
        heads = mvs_attention(q, k, v, backend=backend)  # (B, Sv+Sm, N, Hd)

        # 4. Split by slicing: the first Sv tokens are video, the rest motion.
        num_video = video.shape[1]
        video_heads = heads[:, :num_video]  # (B, Sv, N, Hd)
        motion_heads = heads[:, num_video:]  # (B, Sm, N, Hd)

        # 5. Each stream's output projection, then its post-attention: gate, cross-attention, FFN.
        video_attn = project_out(self.attn1, video_heads)  # (B, Sv, D)
        motion_attn = project_out(motion_block.attn1, motion_heads)  # (B, Sm, D)
        video = _post_attention(self, video, video_attn, video_mod, text)  # (B, Sv, D)
        motion = _post_attention(motion_block, motion, motion_attn, motion_mod, text)  # (B, Sm, D)
        return video, motion

    def _alone(
        self,
        video: Tensor | None,
        motion: Tensor | None,
        text: Tensor,
        video_proj: Tensor | None,
        motion_proj: Tensor | None,
        video_pos: Tensor | None,
        motion_pos: Tensor | None,
    ) -> tuple[Tensor | None, Tensor | None]:
        """Each present stream through its own block's Wan forward (its ``attn1`` processor runs
        the same q/k/v and output sides as the joint block); motion passes a video-only layer."""
        if video is not None:
            assert video_proj is not None and video_pos is not None
            video = super().forward(video, text, video_proj, video_pos)  # (B, Sv, D): Wan's own
        motion_block = self.motion_branch
        if motion is not None and motion_block is not None:
            assert motion_proj is not None and motion_pos is not None
            motion = (
                super().forward(motion, text, motion_proj, motion_pos)  # the video block's weights
                if self.shared_weights
                else motion_block(motion, text, motion_proj, motion_pos)
            )  # (B, Sm, D)
        return video, motion
