"""Reading videos with PyAV: probing (fps, exact frame count, size) and decoding frame ranges.

Writing goes through the codec's `write_video` (H.264, atomic). Frame counts are counted by
decoding, never taken from container metadata, which is often absent or approximate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["VideoInfo", "VideoReadError", "probe_video", "read_video"]


class VideoReadError(ValueError):
    """A video file is missing, unreadable or has no video stream."""


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reads: fps (average rate), exact frame count, size."""

    fps: float
    num_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _open(path: Path):  # type: ignore[no-untyped-def]
    import av

    if not path.is_file():
        raise VideoReadError(f"{path}: no such video file")
    try:
        container = av.open(str(path))
    except Exception as err:  # PyAV raises several error classes for broken input
        raise VideoReadError(f"{path}: cannot open as a video ({err})") from err
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path}: has no video stream")
    return container


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame rate, exact frame count (by decoding) and size of a video."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if rate is None or float(rate) <= 0:
            raise VideoReadError(f"{path}: no frame rate in the video stream")
        count = 0
        width = height = 0
        try:
            for frame in container.decode(stream):
                if count == 0:
                    width, height = frame.width, frame.height
                count += 1
        except Exception as err:
            raise VideoReadError(f"{path}: decoding failed after {count} frames ({err})") from err
        if count == 0:
            raise VideoReadError(f"{path}: no decodable frames")
        return VideoInfo(fps=float(rate), num_frames=count, width=width, height=height)
    finally:
        container.close()


def read_video(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, float]:
    """Decode frames [start, stop) as (T, H, W, 3) uint8 RGB; returns (frames, fps)."""
    path = Path(path)
    container = _open(path)
    frames: list[np.ndarray] = []
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate is not None else 0.0
        index = 0
        try:
            for frame in container.decode(stream):
                if stop is not None and index >= stop:
                    break
                if index >= start:
                    frames.append(frame.to_ndarray(format="rgb24"))
                index += 1
        except Exception as err:
            raise VideoReadError(f"{path}: decoding failed at frame {index} ({err})") from err
    finally:
        container.close()
    if not frames:
        raise VideoReadError(f"{path}: no frames in range [{start}, {stop})")
    return np.stack(frames), fps
