"""``torch.autograd.Function`` wrappers around the Triton kernels.

Positions, theta, eps and the scale are not differentiable (they get ``None`` gradients).
"""

from __future__ import annotations

from typing import Any

import torch

from echomotion_mvsrope.triton_attention import attention_backward, attention_forward
from echomotion_mvsrope.triton_norm_rope import norm_rope_backward, norm_rope_forward, rope_forward


class QKNormRoPEFunction(torch.autograd.Function):
    """Kernel 1: ``(q, k, q_weight, k_weight, positions, eps, theta) -> (q_rot, k_rot)``."""

    @staticmethod
    def forward(
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        q_weight: torch.Tensor,
        k_weight: torch.Tensor,
        positions: torch.Tensor,
        eps: float,
        theta: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q, k = q.contiguous(), k.contiguous()
        q_out, k_out, q_rstd, k_rstd = norm_rope_forward(
            q, k, q_weight, k_weight, positions, eps, theta
        )
        ctx.save_for_backward(q, k, q_weight, k_weight, q_rstd, k_rstd, positions)
        ctx.theta = theta
        return q_out, k_out

    @staticmethod
    def backward(
        ctx: Any, dq_out: torch.Tensor, dk_out: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        q, k, q_weight, k_weight, q_rstd, k_rstd, positions = ctx.saved_tensors
        dq_out = torch.zeros_like(q) if dq_out is None else dq_out
        dk_out = torch.zeros_like(k) if dk_out is None else dk_out
        dq, dk, dqw, dkw = norm_rope_backward(
            dq_out, dk_out, q, k, q_weight, k_weight, q_rstd, k_rstd, positions, ctx.theta
        )
        return dq, dk, dqw, dkw, None, None, None


class RoPEFunction(torch.autograd.Function):
    """Kernel 1's RoPE path: ``(x, positions, theta, inverse) -> x_rot``; backward rotates back."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, positions: torch.Tensor, theta: float, inverse: bool
    ) -> torch.Tensor:
        ctx.save_for_backward(positions)
        ctx.theta = theta
        ctx.inverse = inverse
        return rope_forward(x, positions, theta, inverse=inverse)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (positions,) = ctx.saved_tensors
        return rope_forward(grad, positions, ctx.theta, inverse=not ctx.inverse), None, None, None


class MVSAttentionFunction(torch.autograd.Function):
    """Kernel 2: ``(q, k, v, q_positions, k_positions, theta, sm_scale) -> out``."""

    @staticmethod
    def forward(
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        q_positions: torch.Tensor | None,
        k_positions: torch.Tensor | None,
        theta: float,
        sm_scale: float,
    ) -> torch.Tensor:
        out, lse, k_rot = attention_forward(q, k, v, q_positions, k_positions, theta, sm_scale)
        ctx.save_for_backward(q, k_rot, v.contiguous(), out, lse, q_positions, k_positions)
        ctx.theta = theta
        ctx.sm_scale = sm_scale
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k_rot, v, out, lse, q_positions, k_positions = ctx.saved_tensors
        dq, dk, dv = attention_backward(
            grad_out, q, k_rot, v, out, lse, q_positions, k_positions, ctx.theta, ctx.sm_scale
        )
        return dq, dk, dv, None, None, None, None
