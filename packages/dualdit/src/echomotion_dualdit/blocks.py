"""One layer of the dual DiT: Wan's video block, the motion block beside it, one joint attention.

Dimension legend: ``B`` batch, ``Sv`` video tokens, ``Sm`` motion tokens, ``L`` text tokens,
``D`` hidden.

A :class:`DualStreamBlock` *is* a diffusers ``WanTransformerBlock`` (the video branch, so its
weights keep Wan's names: ``blocks.{i}.attn1.to_q.weight`` …) that owns the motion branch as a
child block (``blocks.{i}.motion.*``). Everything one layer runs is inside this module's own
``forward``, so the layer is the unit a wrapper (FSDP2's ``fully_shard``, activation
checkpointing, regional ``torch.compile``) can take whole: its parameters are gathered when its
forward starts and no code outside it reads them.

The joint half mirrors ``WanTransformerBlock.forward`` line for line (adaLN in fp32, gated
residuals), so a branch run alone equals that block's own forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffusers.models.transformers.transformer_wan import WanTransformerBlock
from torch import Tensor

from echomotion_dualdit.attention import BranchInput, joint_self_attention
from echomotion_mvsrope import DEFAULT_THETA

__all__ = ["DualStreamBlock", "Modulation", "block_modulation"]


@dataclass(frozen=True)
class Modulation:
    """A block's adaLN terms for one branch (Wan's six), each ``(B, 1, D)`` fp32."""

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
    """Wan's block (the video branch) plus, in a dual layer, a motion branch of the same shape.

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

        Both present in a dual layer: the joint block; otherwise each present stream runs its own
        branch alone (motion passes a video-only layer unchanged).
        """
        branch = self.motion_branch
        if video is not None and motion is not None and branch is not None:
            assert video_proj is not None and motion_proj is not None
            assert video_pos is not None and motion_pos is not None
            return self._joint(
                video, motion, text, video_proj, motion_proj, video_pos, motion_pos, branch
            )
        if video is not None:
            assert video_proj is not None and video_pos is not None
            video = super().forward(video, text, video_proj, video_pos)  # (B, Sv, D): Wan's own
        if motion is not None and branch is not None:
            assert motion_proj is not None and motion_pos is not None
            motion = (
                super().forward(motion, text, motion_proj, motion_pos)  # the video block's weights
                if self.shared_weights
                else branch(motion, text, motion_proj, motion_pos)
            )  # (B, Sm, D)
        return video, motion

    def _joint(
        self,
        video: Tensor,
        motion: Tensor,
        text: Tensor,
        video_proj: Tensor,
        motion_proj: Tensor,
        video_pos: Tensor,
        motion_pos: Tensor,
        branch: WanTransformerBlock,
    ) -> tuple[Tensor, Tensor]:
        """Per-branch adaLN, one self-attention over ``[video; motion]``, per-branch
        cross-attention + FFN. Returns ``(video (B, Sv, D), motion (B, Sm, D))``."""
        video_mod = block_modulation(self, video_proj)
        motion_mod = block_modulation(branch, motion_proj)

        # 1. Each branch's pre-attention (its own adaLN).
        video_in = BranchInput(self.attn1, _pre_attention(self, video, video_mod), video_pos)
        motion_in = BranchInput(
            branch.attn1, _pre_attention(branch, motion, motion_mod), motion_pos
        )

        # 2. One self-attention over [video; motion].
        video_attn, motion_attn = joint_self_attention(
            video_in, motion_in, theta=self.rope_theta, backend=self.kernel_backend
        )
        assert video_attn is not None and motion_attn is not None

        # 3. Each branch's post-attention (its own gate, text cross-attention and FFN).
        video_out = _post_attention(self, video, video_attn, video_mod, text)  # (B, Sv, D)
        motion_out = _post_attention(branch, motion, motion_attn, motion_mod, text)  # (B, Sm, D)
        return video_out, motion_out
