"""Rectified-flow training math (Wan / diffusers convention, as echomotion_samplers).

x_σ = (1 − σ)·x + σ·ε (σ = 1 pure noise, σ = 0 clean); the model predicts the velocity ε − x
and gets Wan's timestep σ·1000. This is the paper's A.2 with t = 1 − σ and the sign flipped.
Training σ: u ~ U(0, 1) shifted by σ' = s·u / (1 + (s − 1)·u) (Wan's shift, s = 8 by default).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "add_noise",
    "flow_loss",
    "sample_sigmas",
    "shift_sigma",
    "velocity_target",
]


def shift_sigma(sigma: Tensor, shift: float) -> Tensor:
    """Wan's timestep shift; s > 1 pushes σ towards the noisy end."""
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def sample_sigmas(
    batch: int, *, shift: float, generator: torch.Generator, device: torch.device | str = "cpu"
) -> Tensor:
    """(B,) training noise levels in (0, 1], drawn on the CPU generator for reproducibility."""
    u = torch.rand(batch, generator=generator, dtype=torch.float64)
    u = u.clamp(min=1e-4)  # σ = 0 is the clean condition; never train the generated stream there
    return shift_sigma(u, shift).to(device=device, dtype=torch.float32)


def add_noise(x: Tensor, noise: Tensor, sigma: Tensor) -> Tensor:
    """x_σ for data x (B, ...), noise like x, σ (B,)."""
    s = sigma.to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    return (1.0 - s) * x + s * noise


def velocity_target(x: Tensor, noise: Tensor) -> Tensor:
    """d x_σ / dσ = ε − x."""
    return noise - x


def flow_loss(
    prediction: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    region: Tensor | None = None,
) -> Tensor:
    """Mean squared error in float32; ``weight`` (B,) scales each sample's squared errors;
    ``region`` (broadcastable to the prediction, e.g. (B, 1, F, h, w) from
    `regions.region_weight`) makes it the region-weighted mean Σ r·e / Σ r."""
    err = (prediction.float() - target.float()).pow(2)
    if weight is not None:
        err = err * weight.float().reshape(-1, *([1] * (err.dim() - 1)))
    if region is None:
        return err.mean()
    r = region.float().expand_as(err)
    return (err * r).sum() / r.sum().clamp_min(1e-12)
