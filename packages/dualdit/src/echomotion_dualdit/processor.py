"""A diffusers attention processor for Wan self-attention that runs through ``echomotion_mvsrope``.

Set on every ``attn1`` of the dual DiT, so that a plain ``WanTransformerBlock.forward`` (video-only
blocks, and single-modality passes through dual blocks) computes QK-RMSNorm + MVS-RoPE and the
attention with the project's kernels: the PyTorch reference on CPU, Triton on CUDA (the dispatch
is ``echomotion_mvsrope``'s; ``backend`` or ``$ECHOMOTION_MVSROPE_BACKEND`` override it).

Where Wan's processor receives ``rotary_emb = (cos, sin)`` tables, this one receives the token
positions ``(S, 3)`` fp32 ``(t, h, w)``: the kernels build the rotation from them.
"""

from __future__ import annotations

from diffusers.models.transformers.transformer_wan import WanAttention
from torch import Tensor

from echomotion_dualdit.attention import project_out, project_qkv
from echomotion_mvsrope import DEFAULT_THETA, mvs_attention


class MVSRoPEAttnProcessor:
    """Self-attention with MVS-RoPE for a ``WanAttention`` (dimension legend: attention.py)."""

    def __init__(self, theta: float = DEFAULT_THETA, backend: str | None = None) -> None:
        self.theta = float(theta)
        self.backend = backend

    def __call__(
        self,
        attn: WanAttention,
        hidden_states: Tensor,
        encoder_hidden_states: Tensor | None = None,
        attention_mask: Tensor | None = None,
        rotary_emb: Tensor | None = None,
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
        if rotary_emb is None or isinstance(rotary_emb, tuple):
            raise ValueError(
                "MVSRoPEAttnProcessor needs rotary_emb = token positions, a float tensor (S, 3) "
                "(echomotion_mvsrope.video_positions / joint_positions), not Wan's (cos, sin) tables"
            )
        qkv = project_qkv(attn, hidden_states, rotary_emb, theta=self.theta, backend=self.backend)
        heads = mvs_attention(
            qkv.q, qkv.k, qkv.v, theta=self.theta, backend=self.backend
        )  # (B, S, N, Hd)
        return project_out(attn, heads.type_as(qkv.q))  # (B, S, D)
