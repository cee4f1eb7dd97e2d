"""An aesthetic scorer from a local TorchScript file (e.g. an exported LAION-style predictor).

The module takes (N, 3, H, W) float frames in [0, 1] and returns (N,) or (N, 1) scores; the
clip's score is the mean over `samples` frames spread evenly over the clip.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["TorchScriptAestheticScorer"]


class TorchScriptAestheticScorer:
    def __init__(
        self, path: str | os.PathLike[str], *, samples: int = 4, size: int | None = 224
    ) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"aesthetic model: {path} not found (a TorchScript file)")
        self.path = path
        self.samples = samples
        self.size = size
        self.model = torch.jit.load(str(path), map_location="cpu").eval()

    def __reduce__(self) -> tuple[type, tuple[str, int, int | None]]:  # picklable for workers
        return (type(self), (str(self.path), self.samples, self.size))

    def score(self, frames: np.ndarray) -> float:
        idx = np.linspace(0, len(frames) - 1, min(self.samples, len(frames))).round().astype(int)
        x = torch.from_numpy(frames[idx]).permute(0, 3, 1, 2).float() / 255.0
        if self.size is not None:
            x = torch.nn.functional.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False
            )
        with torch.no_grad():
            return float(self.model(x).reshape(-1).mean())
