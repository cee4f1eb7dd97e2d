"""Reading an mp4 for video → motion, and Wan's frame-count rule, with PyAV (the `av` package).

Writing goes through the motion codec's `write_video` (H.264, atomic); see export.py.
Frames are uint8 RGB `(T, H, W, 3)` everywhere outside the model.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "VideoInfo",
    "VideoReadError",
    "is_wan_frame_count",
    "probe_video",
    "read_video",
    "round_to_wan_frames",
]


class VideoReadError(ValueError):
    """A video file is missing, unreadable or has no frames."""


@dataclass(frozen=True)
class VideoInfo:
    """What the CLI checks before loading a model: rate, length and size of the first stream."""

    fps: float
    num_frames: int
    width: int
    height: int


def is_wan_frame_count(num_frames: int) -> bool:
    """Wan's causal VAE maps pixel frame 0 alone and then groups of 4: counts are 4k + 1."""
    return num_frames >= 1 and (num_frames - 1) % 4 == 0


def round_to_wan_frames(num_frames: int, *, warn: bool = True) -> int:
    """`num_frames // 4 · 4 + 1`, diffusers' WanPipeline rule (80 → 81, 83 → 81, 84 → 85);
    warns when it changes the count."""
    if num_frames < 1:
        raise ValueError(f"num_frames: expected an integer >= 1, got {num_frames}")
    rounded = num_frames // 4 * 4 + 1
    if warn and rounded != num_frames:
        warnings.warn(
            f"num_frames: {num_frames} is not of the form 4k + 1 (Wan's frame rule); using {rounded}",
            UserWarning,
            stacklevel=2,
        )
    return rounded


def _open(path: Path):  # type: ignore[no-untyped-def]  # av.container.InputContainer
    import av

    if not path.is_file():
        raise VideoReadError(f"video file not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:  # type: ignore[attr-defined]
        raise VideoReadError(f"{path}: not a readable video ({err})") from err
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path}: the file has no video stream")
    return container


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame rate, exact frame count (by decoding) and size of the first video stream."""
    import av

    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        count = 0
        try:
            for _ in container.decode(stream):
                count += 1
        except av.error.FFmpegError as err:  # type: ignore[attr-defined]
            raise VideoReadError(f"{path}: decoding failed after {count} frames ({err})") from err
        if count == 0 or rate is None:
            raise VideoReadError(f"{path}: no decodable frames")
        return VideoInfo(
            fps=float(rate), num_frames=count, width=stream.width, height=stream.height
        )


def read_video(path: str | os.PathLike[str]) -> tuple[np.ndarray, float]:
    """All frames as (T, H, W, 3) uint8 RGB, and the stream's frame rate."""
    import av

    path = Path(path)
    frames: list[np.ndarray] = []
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError as err:  # type: ignore[attr-defined]
            raise VideoReadError(
                f"{path}: decoding failed after {len(frames)} frames ({err})"
            ) from err
    if not frames or rate is None:
        raise VideoReadError(f"{path}: no decodable frames")
    return np.stack(frames), float(rate)
