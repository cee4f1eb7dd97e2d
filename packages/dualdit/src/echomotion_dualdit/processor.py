"""The dual DiT's attention processor for Wan self-attention: mvsrope's hook, held to its use here.

Set on every ``attn1`` of the dual DiT, so that a plain ``WanTransformerBlock.forward`` (video-only
blocks, and single-modality passes through dual blocks) computes QK-RMSNorm + MVS-RoPE and the
attention with the project's kernels: the PyTorch reference on CPU, Triton on CUDA (the dispatch
is ``echomotion_mvsrope``'s; ``backend`` or ``$ECHOMOTION_MVSROPE_BACKEND`` override it).

The math is :class:`echomotion_mvsrope.MVSAttnProcessor`'s; this subclass only refuses what the
dual DiT never passes an ``attn1`` (so a wiring mistake fails loudly): Wan's ``(cos, sin)`` tables
where the token positions ``(S, 3)`` fp32 ``(t, h, w)`` belong, text, masks.
"""

from __future__ import annotations

from torch import Tensor

from echomotion_mvsrope import AttentionModule, MVSAttnProcessor


class MVSRoPEAttnProcessor(MVSAttnProcessor):
    """Self-attention with MVS-RoPE positions for a ``WanAttention`` (``attn1``).

    Args:
        backend: ``"triton"``, ``"reference"`` or None (by device).
        theta: RoPE base.
    """

    def __call__(
        self,
        attn: AttentionModule,
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
