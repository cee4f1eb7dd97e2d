"""What the build pipeline needs from model backends (defined here, by their consumer).

Frames are (T, H, W, 3) uint8 RGB arrays of one clip; boxes are pixels (x0, y0, x1, y1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..schema import Caption

__all__ = [
    "AestheticScorer",
    "Captioner",
    "KeypointDetector",
    "MeshEstimate",
    "MeshRecovery",
    "PersonDetector",
]


@runtime_checkable
class AestheticScorer(Protocol):
    def score(self, frames: np.ndarray) -> float:
        """A clip's aesthetic score (higher is better; the stage's threshold is in its units)."""
        ...


@runtime_checkable
class PersonDetector(Protocol):
    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        """Per frame, an (N, 5) array of person boxes (x0, y0, x1, y1, score), N ≥ 0."""
        ...


@runtime_checkable
class KeypointDetector(Protocol):
    def keypoints(self, frames: np.ndarray) -> np.ndarray:
        """(T, K, 3): x, y in pixels and a visibility/confidence in [0, 1] per keypoint."""
        ...


@dataclass(frozen=True)
class MeshEstimate:
    """Per-frame SMPL in the camera frame (OpenCV axes), as mesh recovery gives it.

    transl (T, 3); global_orient (T, 3, 3); pose (T, 24, 3, 3) local rotations (θ₀ is
    replaced by γ); betas (T, 10), one estimate per frame (the smoothing stage fuses them).
    """

    transl: np.ndarray
    global_orient: np.ndarray
    pose: np.ndarray
    betas: np.ndarray


@runtime_checkable
class MeshRecovery(Protocol):
    def recover(self, frames: np.ndarray, boxes: np.ndarray) -> MeshEstimate:
        """Per-frame SMPL for the tracked person; boxes (T, 4) is the track."""
        ...


@runtime_checkable
class Captioner(Protocol):
    def caption(self, frames: np.ndarray) -> Caption:
        """The three-part caption of a clip."""
        ...
