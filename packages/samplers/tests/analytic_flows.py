"""Data distributions whose flow-matching velocity is known in closed form, as denoisers.

For data x₀ ~ Σ_k π_k N(μ_k, Σ_k) and x_σ = (1 − σ)x₀ + σε, given component k,
x_σ ~ N((1 − σ)μ_k, C_k) with C_k = (1 − σ)²Σ_k + σ²I, and with r = x_σ − (1 − σ)μ_k:
    E[ε | x_σ, k] = σ C_k⁻¹ r,   E[x₀ | x_σ, k] = μ_k + (1 − σ) Σ_k C_k⁻¹ r.
The optimal velocity E[ε − x₀ | x_σ] mixes the per-component ones with the posterior weights.
For one Gaussian the ODE's end point from noise ε is exactly μ + Σ^{1/2} ε (symmetric root).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from echomotion_samplers import Prediction, Task, TextCondition


@dataclass(frozen=True)
class GaussianMixture:
    """means (K, D), covariances (K, D, D), weights (K,), float64."""

    means: Tensor
    covariances: Tensor
    weights: Tensor

    @staticmethod
    def gaussian(mean: Tensor, covariance: Tensor) -> GaussianMixture:
        return GaussianMixture(
            mean[None].double(), covariance[None].double(), torch.ones(1, dtype=torch.float64)
        )

    @property
    def mean(self) -> Tensor:
        return (self.weights[:, None] * self.means).sum(0)

    @property
    def covariance(self) -> Tensor:
        centred = self.means - self.mean
        outer = centred[:, :, None] * centred[:, None, :]
        return (self.weights[:, None, None] * (self.covariances + outer)).sum(0)

    def velocity(self, x: Tensor, sigma: Tensor) -> Tensor:
        """x: (N, D) at noise levels sigma: (N,) → E[ε − x₀ | x_σ] (N, D), float64 inside."""
        out = torch.empty(x.shape, dtype=torch.float64)
        for level in sigma.unique():
            rows = sigma == level
            out[rows] = self._velocity_at(x[rows].double(), float(level))
        return out.to(x.dtype)

    def _velocity_at(self, x: Tensor, s: float) -> Tensor:
        eye = torch.eye(x.shape[1], dtype=torch.float64)
        cov = (1 - s) ** 2 * self.covariances + s**2 * eye  # (K, D, D)
        inverse = torch.linalg.inv(cov)
        r = x[:, None, :] - (1 - s) * self.means[None]  # (N, K, D)
        solved = torch.einsum("kde,nke->nkd", inverse, r)  # C_k⁻¹ r
        e_noise = s * solved
        e_data = self.means[None] + (1 - s) * torch.einsum("kde,nke->nkd", self.covariances, solved)
        log_w = (
            self.weights.log()[None]
            - 0.5 * (r * solved).sum(-1)
            - 0.5 * torch.linalg.slogdet(cov).logabsdet[None]
        )  # (N, K)
        post = torch.softmax(log_w, dim=1)[..., None]
        return (post * (e_noise - e_data)).sum(1)

    def transport(self, noise: Tensor) -> Tensor:
        """The exact ODE end point for noise (N, D); one Gaussian only."""
        if self.means.shape[0] != 1:
            raise ValueError("transport: exact only for a single Gaussian")
        values, vectors = torch.linalg.eigh(self.covariances[0])
        root = vectors @ torch.diag(values.sqrt()) @ vectors.T
        return (self.means[0] + noise.double() @ root.T).to(noise.dtype)


@dataclass
class AnalyticDenoiser:
    """A `Denoiser` whose video rows follow `video` and motion rows `motion` (flattened per row),
    ignoring text, task and the other modality. Records the σ's it was called with."""

    video: GaussianMixture
    motion: GaussianMixture
    sigmas_seen: list[float] = field(default_factory=list)

    def __call__(
        self,
        *,
        video: Tensor | None,
        motion: Tensor | None,
        video_sigma: Tensor | None,
        motion_sigma: Tensor | None,
        text: TextCondition | None,
        task: Task,
    ) -> Prediction:
        out: dict[str, Tensor | None] = {"video": None, "motion": None}
        for name, x, sigma, dist in (
            ("video", video, video_sigma, self.video),
            ("motion", motion, motion_sigma, self.motion),
        ):
            if x is None:
                continue
            assert sigma is not None
            if float(sigma.max()) > 0:
                self.sigmas_seen.append(float(sigma.max()))
            out[name] = dist.velocity(x.reshape(x.shape[0], -1), sigma).reshape(x.shape)
        return Prediction(video=out["video"], motion=out["motion"])
