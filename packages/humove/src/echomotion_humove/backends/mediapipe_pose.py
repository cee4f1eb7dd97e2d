"""MediaPipe pose (the `mediapipe` extra: its wheel ships the pose model, so it runs offline):
33 landmarks with visibility per frame, and a person box from them. MediaPipe's pose tracks a
single person, so as a person detector it tells "no person" from "a person" but never sees a
second one; pair it with a multi-person detector where that matters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MediaPipePose"]


class MediaPipePose:
    """Both a `KeypointDetector` and a `PersonDetector` (model_complexity 1: bundled in the wheel)."""

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        try:
            import mediapipe  # noqa: F401
        except ImportError as err:
            raise ImportError(
                "MediaPipe pose needs: pip install 'echomotion-humove[mediapipe]'"
            ) from err
        self.min_detection_confidence = min_detection_confidence

    def _landmarks(self, frames: np.ndarray) -> np.ndarray:
        import mediapipe as mp

        h, w = frames.shape[1:3]
        out = np.zeros((len(frames), 33, 3))
        pose_cls: Any = mp.solutions.pose.Pose
        with pose_cls(static_image_mode=False, model_complexity=1,
                      min_detection_confidence=self.min_detection_confidence) as pose:  # fmt: skip
            for t, frame in enumerate(frames):
                result = pose.process(np.ascontiguousarray(frame))
                if result.pose_landmarks is None:
                    continue
                for k, lm in enumerate(result.pose_landmarks.landmark):
                    out[t, k] = (lm.x * w, lm.y * h, lm.visibility)
        return out

    def keypoints(self, frames: np.ndarray) -> np.ndarray:
        return self._landmarks(frames)

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        boxes = []
        for kp in self._landmarks(frames):
            vis = kp[kp[:, 2] > 0.5]
            if len(vis) < 4:
                boxes.append(np.zeros((0, 5)))
                continue
            x0, y0 = vis[:, :2].min(0)
            x1, y1 = vis[:, :2].max(0)
            pad = 0.1 * max(x1 - x0, y1 - y0)
            boxes.append(
                np.array([[x0 - pad, y0 - pad, x1 + pad, y1 + pad, float(vis[:, 2].mean())]])
            )
        return boxes
