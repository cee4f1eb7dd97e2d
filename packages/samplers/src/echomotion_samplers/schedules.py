"""Noise-level schedules for flow-matching sampling, with Wan's timestep shift.

σ runs from 1 (pure noise) to 0 (clean data). Wan's shift `σ' = s·σ / (1 + (s − 1)·σ)` spends
more of the steps at high noise for s > 1 (s = 1 is the identity).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["base_sigmas", "shift_sigmas", "shifted_sigmas"]


def shift_sigmas(sigmas: Tensor, shift: float) -> Tensor:
    """Wan's shift applied elementwise: `s·σ / (1 + (s − 1)·σ)`; keeps 0 and 1 fixed."""
    if not shift > 0:
        raise ValueError(f"shift: expected a positive number, got {shift}")
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def base_sigmas(num_steps: int) -> Tensor:
    """(num_steps,) float64 unshifted noise levels `linspace(1, 0, num_steps + 1)[:-1]` — Wan's
    `get_sampling_sigmas`; the terminal σ = 0 is appended by the schedulers."""
    if num_steps < 1:
        raise ValueError(f"num_steps: expected an integer >= 1, got {num_steps}")
    return torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)[:-1]


def shifted_sigmas(num_steps: int, shift: float) -> Tensor:
    """(num_steps + 1,) float64 shifted noise levels from 1 down to the terminal 0: step i
    evaluates the denoiser at σ[i] and moves the sample to σ[i + 1]."""
    sigmas = shift_sigmas(base_sigmas(num_steps), shift)
    return torch.cat([sigmas, sigmas.new_zeros(1)])
