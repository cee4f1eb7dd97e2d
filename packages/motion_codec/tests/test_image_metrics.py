"""PSNR and SSIM on images with a known answer."""

from __future__ import annotations

import math

import pytest
import torch

from echomotion_motion_codec.image_metrics import psnr, ssim


def _smooth_image(seed: int = 0, size: int = 32) -> torch.Tensor:
    """(size, size, 3) uint8: a few random sinusoids, so a shifted copy differs everywhere."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    img = torch.zeros(size, size, 3)
    for c in range(3):
        fx, fy, phase = torch.rand(3, generator=g) * torch.tensor([0.6, 0.6, 6.0])
        img[..., c] = 127.5 + 100 * torch.sin(fx * x + fy * y + phase)
    return img.round().clamp(0, 255).to(torch.uint8)


def test_psnr_of_a_known_mse() -> None:
    target = torch.zeros(2, 16, 16, 3, dtype=torch.uint8)
    pred = torch.full_like(target, 10)  # MSE = 100
    expected = 10 * math.log10(255**2 / 100)
    assert torch.allclose(psnr(pred, target), torch.full((2,), expected, dtype=torch.float64))
    # float images in [0, 1] with MSE 0.01 → 20 dB
    a = torch.zeros(8, 8, 1)
    assert float(psnr(a + 0.1, a, data_range=1.0)) == pytest.approx(20.0)
    assert bool(torch.isposinf(psnr(pred, pred)).all())


def test_ssim_of_identical_constant_and_shifted_images() -> None:
    img = _smooth_image()
    assert float(ssim(img, img)) == pytest.approx(1.0, abs=1e-12)
    shifted = torch.roll(img, shifts=2, dims=1)
    assert float(ssim(shifted, img)) < 0.95
    # constant images a, b: no variance, so SSIM = (2ab + C1) / (a² + b² + C1)
    a, b = 100.0, 140.0
    c1 = (0.01 * 255) ** 2
    got = ssim(torch.full((12, 12, 1), a).byte(), torch.full((12, 12, 1), b).byte())
    assert float(got) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-12)
    # batched: one value per frame
    frames = torch.stack([img, shifted, img])
    values = ssim(frames, torch.stack([img, img, img]))
    assert values.shape == (3,) and values[0] == values[2] == pytest.approx(1.0)


def test_ssim_decreases_with_noise() -> None:
    img = _smooth_image(1).double() / 255
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(img.shape, generator=g, dtype=torch.float64)
    values = [float(ssim(img + s * noise, img, data_range=1.0)) for s in (0.0, 0.02, 0.1)]
    assert values[0] == pytest.approx(1.0) and values[0] > values[1] > values[2]


def test_image_metric_errors() -> None:
    with pytest.raises(ValueError, match="data_range: required for non-uint8"):
        psnr(torch.zeros(4, 4, 3), torch.zeros(4, 4, 3))
    with pytest.raises(ValueError, match=r"pred, target: expected equal shapes"):
        psnr(torch.zeros(4, 4, 3).byte(), torch.zeros(4, 5, 3).byte())
    with pytest.raises(ValueError, match=r"pred: expected images of shape \(\.\.\., H, W, C\)"):
        ssim(torch.zeros(4, 4).byte(), torch.zeros(4, 4).byte())
    with pytest.raises(ValueError, match="H, W >= 11"):
        ssim(torch.zeros(8, 8, 3).byte(), torch.zeros(8, 8, 3).byte())
