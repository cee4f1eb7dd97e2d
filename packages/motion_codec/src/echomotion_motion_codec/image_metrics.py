"""Frame metrics for videos: PSNR and SSIM, batched over any leading dims (e.g. frames).

Images are **channels-last** (..., H, W, C) — what the synthetic world and video decoders give —
either uint8 (data range 255 by default) or floating point with an explicit `data_range`.
Grayscale images are (..., H, W, 1). Computation runs in float64.

SSIM is the standard formulation of Wang et al. (2004): an 11×11 Gaussian window with σ = 1.5,
C1 = (0.01 L)², C2 = (0.03 L)², local statistics with population (biased) variances, the map
taken over the *valid* window positions only (no padding), computed per channel and averaged
over channels. This is the map skimage's `structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, channel_axis=-1)` averages (it filters with padding, then
crops the 5-pixel border, leaving the valid positions); skimage is not a dependency, so that
equality is by construction, not tested.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SSIM_SIGMA", "SSIM_WINDOW", "psnr", "ssim"]

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def _prepare(
    pred: Tensor, target: Tensor, data_range: float | None
) -> tuple[Tensor, Tensor, float]:
    for name, x in (("pred", pred), ("target", target)):
        if not isinstance(x, Tensor) or x.dim() < 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected images of shape (..., H, W, C), got {shape}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred, target: expected equal shapes (..., H, W, C), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if data_range is None:
        if pred.dtype != torch.uint8 or target.dtype != torch.uint8:
            raise ValueError(
                f"data_range: required for non-uint8 images (got {pred.dtype}, {target.dtype}); "
                "pass e.g. 1.0 for images in [0, 1] or 2.0 for [-1, 1]"
            )
        data_range = 255.0
    if not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range: expected a positive finite number, got {data_range!r}")
    return pred.double(), target.double(), float(data_range)


def psnr(pred: Tensor, target: Tensor, *, data_range: float | None = None) -> Tensor:
    """Peak signal-to-noise ratio in **dB** per image: (..., H, W, C) → (...).

    10·log10(L² / MSE) with the MSE over H, W and C; +inf for identical images."""
    a, b, peak = _prepare(pred, target, data_range)
    mse = ((a - b) ** 2).mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(peak**2 / mse)  # mse = 0 → +inf


def _gaussian_window(size: int, sigma: float) -> Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()  # (size,): separable, the 2-D window is its outer product


def ssim(pred: Tensor, target: Tensor, *, data_range: float | None = None) -> Tensor:
    """Structural similarity per image: (..., H, W, C) → (...), in [−1, 1], 1 for identical
    images. H and W must be at least 11 (the window)."""
    a, b, peak = _prepare(pred, target, data_range)
    h, w, c = a.shape[-3:]
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise ValueError(f"pred: expected H, W >= {SSIM_WINDOW} for SSIM's window, got {h}x{w}")
    lead = a.shape[:-3]
    # (..., H, W, C) → (N·C, 1, H, W): each channel filtered on its own
    a = a.movedim(-1, -3).reshape(-1, 1, h, w)
    b = b.movedim(-1, -3).reshape(-1, 1, h, w)
    g = _gaussian_window(SSIM_WINDOW, SSIM_SIGMA).to(a.device)

    def blur(x: Tensor) -> Tensor:  # valid separable Gaussian filter
        x = F.conv2d(x, g.view(1, 1, -1, 1))
        return F.conv2d(x, g.view(1, 1, 1, -1))

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )  # (N·C, 1, H−10, W−10)
    per_channel = ssim_map.mean(dim=(-3, -2, -1)).reshape(*lead, c)
    return per_channel.mean(-1)
