"""`MotionNormalizer`: per-channel mean/std of the 235-number motion vector, fitted from data."""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from .atomic import atomic_path
from .layout import MOTION_DIM

__all__ = ["MotionNormalizer"]

_FORMAT = "echomotion.motion_normalizer"
_VERSION = "1"


class MotionNormalizer(torch.nn.Module):
    """x_norm = (x − mean) / std per channel. A channel whose std is below `min_std` (e.g. β of a
    single-subject dataset) gets std = 1, so it is only centred and stays exactly invertible."""

    mean: Tensor
    std: Tensor

    def __init__(self, mean: Tensor, std: Tensor, *, min_std: float = 1e-4) -> None:
        super().__init__()
        if mean.shape != (MOTION_DIM,) or std.shape != (MOTION_DIM,):
            raise ValueError(
                f"mean/std: expected shape ({MOTION_DIM},), got {tuple(mean.shape)} and {tuple(std.shape)}"
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
            raise ValueError("mean/std: values must be finite")
        std = torch.where(std < min_std, torch.ones_like(std), std)
        self.register_buffer("mean", mean.detach().to(torch.float32).clone())
        self.register_buffer("std", std.detach().to(torch.float32).clone())

    @classmethod
    def fit(cls, batches: Iterable[Tensor], *, min_std: float = 1e-4) -> MotionNormalizer:
        """Fit from tensors of shape (..., 235) (e.g. packed sequences), accumulated in float64."""
        count = 0
        total = torch.zeros(MOTION_DIM, dtype=torch.float64)
        total_sq = torch.zeros(MOTION_DIM, dtype=torch.float64)
        shift: Tensor | None = None  # first sample, for a numerically stable variance
        for batch in batches:
            if batch.shape[-1] != MOTION_DIM:
                raise ValueError(
                    f"batches: expected tensors of shape (..., {MOTION_DIM}), got {tuple(batch.shape)}"
                )
            flat = batch.detach().reshape(-1, MOTION_DIM).to(torch.float64).cpu()
            if flat.shape[0] == 0:
                continue
            if shift is None:
                shift = flat[0].clone()
            d = flat - shift
            total += d.sum(0)
            total_sq += (d * d).sum(0)
            count += flat.shape[0]
        if count == 0 or shift is None:
            raise ValueError("batches: no frames to fit the normalizer on")
        mean_d = total / count
        var = (total_sq / count - mean_d**2).clamp_min(0.0)
        return cls(mean_d + shift, var.sqrt(), min_std=min_std)

    def normalize(self, x: Tensor) -> Tensor:
        """(..., 235) → (..., 235)."""
        return (x - self.mean.to(x)) / self.std.to(x)

    def denormalize(self, x: Tensor) -> Tensor:
        """(..., 235) → (..., 235)."""
        return x * self.std.to(x) + self.mean.to(x)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a safetensors file atomically (temp file in the same folder, then rename)."""
        with atomic_path(path, ".tmp.safetensors") as tmp:
            save_file(
                {"mean": self.mean.contiguous(), "std": self.std.contiguous()},
                str(tmp),
                metadata={"format": _FORMAT, "version": _VERSION},
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MotionNormalizer:
        tensors = load_file(str(path))
        missing = {"mean", "std"} - set(tensors)
        if missing:
            raise ValueError(
                f"{path}: not a motion normalizer file, missing tensors {sorted(missing)}"
            )
        return cls(tensors["mean"], tensors["std"], min_std=0.0)
