"""Test backends for the build pipeline (importable by name from worker processes)."""

from __future__ import annotations

import time

import numpy as np

from echomotion_humove.backends.backdrop import BackdropPersonDetector
from echomotion_humove.pipeline import MeshEstimate
from echomotion_humove.schema import Caption
from echomotion_humove.synth import synthesize_motion
from echomotion_motion_codec.rotations import rotation_6d_to_matrix


class ContrastAesthetic:
    """Score = the frames' colour standard deviation / 64 (a plain grey frame scores 0)."""

    def score(self, frames: np.ndarray) -> float:
        return float(frames.std() / 64.0)


class BoxKeypoints:
    """24 keypoints spread over the backdrop detector's largest box; invisible without a box."""

    def keypoints(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros((len(frames), 24, 3))
        for t, boxes in enumerate(BackdropPersonDetector().detect(frames)):
            if len(boxes):
                x0, y0, x1, y1, _ = boxes[
                    np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
                ]
                g = np.linspace(0, 1, 24)
                out[t] = np.stack([x0 + g * (x1 - x0), y0 + g * (y1 - y0), np.ones(24)], -1)
        return out


class NoisyHMR:
    """A walk in front of the camera with per-frame noise (what a jittery estimator gives)."""

    def __init__(self, nan_frame: int | None = None, delay: float = 0.0) -> None:
        self.nan_frame = nan_frame
        self.delay = delay

    def recover(self, frames: np.ndarray, boxes: np.ndarray) -> MeshEstimate:
        time.sleep(self.delay)
        t = len(frames)
        m = synthesize_motion(0, num_frames=t, fps=16.0, action="walk").motion
        g = np.random.default_rng(t)
        transl = m.transl.numpy() + np.array([0.0, 0.0, 3.0]) + 0.02 * g.standard_normal((t, 3))
        orient = rotation_6d_to_matrix(m.global_orient).numpy()
        pose = rotation_6d_to_matrix(m.pose).numpy()
        betas = np.repeat(m.betas.numpy()[None], t, 0) + 0.05 * g.standard_normal((t, 10))
        if self.nan_frame is not None:
            transl[self.nan_frame] = np.nan
        return MeshEstimate(transl, orient, pose, betas)


class FixedCaptioner:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def caption(self, frames: np.ndarray) -> Caption:
        time.sleep(self.delay)
        return Caption.from_parts("a person", "in front of a plain wall", "moves")
