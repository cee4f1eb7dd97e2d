"""What a generation returns: video frames and SMPL motion of a batch, in the model's camera frame.

Kept apart from the pipeline (which imports the dual DiT) so export and the CLI's writers can
use it without the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from echomotion_motion_codec import SMPLMotion
from echomotion_motion_codec.render import PinholeCamera

from .denoiser import Latents, Modality, Task

__all__ = ["DEFAULT_FOV_DEGREES", "GenerationResult", "camera_for_frames"]

# The horizontal field of view of the camera the model's `camera` frame implies when the
# checkpoint names none: the synthetic world's virtual camera (humove, 50°).
DEFAULT_FOV_DEGREES = 50.0


def camera_for_frames(
    width: int, height: int, fov_degrees: float = DEFAULT_FOV_DEGREES
) -> PinholeCamera:
    """The identity pinhole camera of a camera-frame motion over `width × height` frames:
    principal point at the centre, focal = (W / 2) / tan(fov / 2) pixels (square pixels)."""
    if not 0 < fov_degrees < 180:
        raise ValueError(f"fov_degrees: expected a number in (0, 180), got {fov_degrees}")
    camera = PinholeCamera.identity(width, height)
    focal = 0.5 * width / math.tan(math.radians(fov_degrees) / 2)
    return PinholeCamera(camera.rotation, camera.translation, focal, width, height)


@dataclass(frozen=True, eq=False)
class GenerationResult:
    """One call of the pipeline, for a batch of B samples.

    task: the mode that ran. video: (B, T, H, W, 3) uint8 RGB frames — generated (joint, m2v) or
    the input (v2m). motion: a batched `SMPLMotion` (B, T, …) in the `camera` frame at the video's
    fps, η by forward kinematics — generated (joint, v2m) or the given one (m2v, placed in the
    camera frame). Motion frames = video frames. prompts: the B prompts (empty for v2m).
    latents: the final sampling state (normalized video latents and motion). fov_degrees: the
    camera's horizontal field of view (see `camera`).
    """

    task: Task
    video: np.ndarray
    motion: SMPLMotion
    fps: float
    prompts: tuple[str, ...]
    latents: Latents
    fov_degrees: float = DEFAULT_FOV_DEGREES
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.video.dtype != np.uint8 or self.video.ndim != 5 or self.video.shape[-1] != 3:
            raise ValueError(
                f"video: expected uint8 frames (B, T, H, W, 3), got {self.video.dtype} {self.video.shape}"
            )
        b, t = self.video.shape[:2]
        if self.motion.batch_shape != (b,) or self.motion.num_frames != t:
            raise ValueError(
                f"motion: expected a batch of {b} sequences of {t} frames (as the video), got batch "
                f"{self.motion.batch_shape} × {self.motion.num_frames} frames"
            )

    @property
    def batch_size(self) -> int:
        return int(self.video.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.video.shape[1])

    @property
    def height(self) -> int:
        return int(self.video.shape[2])

    @property
    def width(self) -> int:
        return int(self.video.shape[3])

    @property
    def generated(self) -> frozenset[Modality]:
        """The modalities the model generated (the others are the inputs, passed through)."""
        return self.task.generated

    def camera(self) -> PinholeCamera:
        """The camera the model's frame implies: identity pose, this result's frame size and fov."""
        return camera_for_frames(self.width, self.height, self.fov_degrees)
