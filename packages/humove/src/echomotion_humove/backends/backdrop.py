"""A weight-free person detector for plain-backdrop video (the synthetic world, studio shots).

With a static camera without roll over a plain wall and floor, the background is constant along
each image row. Each row's background is its median colour; pixels far from it are foreground;
connected foreground regions large enough are people. Not for cluttered real-world video — use
a learned detector there (MediaPipe, or your own behind `PersonDetector`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BackdropPersonDetector"]


@dataclass(frozen=True)
class BackdropPersonDetector:
    threshold: float = 60.0  # L1 colour distance from the row's background (0–765)
    min_pixels: float = 0.004  # of the frame area
    min_height: float = 0.08  # box height as a fraction of the frame (drops shadows)

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        import cv2

        out = []
        h, w = frames.shape[1:3]
        for frame in frames:
            f = frame.astype(np.int16)
            background = np.median(f, axis=1, keepdims=True)  # (H, 1, 3)
            mask = (np.abs(f - background).sum(-1) > self.threshold).astype(np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            boxes = []
            for i in range(1, n):
                x, y, bw, bh, area = stats[i]
                if area >= self.min_pixels * h * w and bh >= self.min_height * h:
                    boxes.append([x, y, x + bw, y + bh, 1.0])
            out.append(np.asarray(boxes, dtype=np.float64).reshape(-1, 5))
        return out
