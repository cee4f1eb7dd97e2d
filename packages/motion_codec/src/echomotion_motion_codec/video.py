"""Writing frames to an mp4 with PyAV (H.264, yuv420p), atomically. Needs the `video` extra."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from .atomic import atomic_path

__all__ = ["write_video"]


def write_video(
    path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float, *, crf: int = 18
) -> Path:
    """Encode uint8 RGB frames (H, W, 3), H and W even, to an H.264 mp4 at `fps`."""
    try:
        import av
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "writing video needs PyAV: pip install 'echomotion-motion-codec[video]'"
        ) from err
    count = 0
    with (
        atomic_path(path, ".tmp.mp4") as tmp,
        av.open(str(tmp), mode="w", format="mp4") as container,
    ):
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(
                    f"frames: expected uint8 arrays of shape (H, W, 3), got {frame.dtype} {frame.shape}"
                )
            h, w = frame.shape[:2]
            if h % 2 or w % 2:
                raise ValueError(f"frames: H.264 needs even sizes, got {h}x{w}")
            if count == 0:
                stream.height, stream.width = h, w
            elif (h, w) != (stream.height, stream.width):
                raise ValueError(
                    f"frames: frame {count} is {h}x{w}, the first was {stream.height}x{stream.width}"
                )
            container.mux(
                stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                )
            )
            count += 1
        if count == 0:
            raise ValueError("frames: no frames to write")
        container.mux(stream.encode(None))
    return Path(path)
