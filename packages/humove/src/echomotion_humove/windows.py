"""Fixed-length training windows over clips: 4k+1 frames (what Wan's causal VAE encodes into
k+1 latent frames), at a stride, never crossing a clip's end."""

from __future__ import annotations

from dataclasses import dataclass

from .schema import ClipRecord

__all__ = ["Window", "check_window_length", "clip_windows", "dataset_windows"]


@dataclass(frozen=True)
class Window:
    """Frames [start, start + length) of clip `record`."""

    record: ClipRecord
    start: int
    length: int

    @property
    def key(self) -> str:
        """A file-name-safe name of the window (used by the latent cache)."""
        return f"{self.record.id}.f{self.start:05d}-{self.length}"


def check_window_length(length: int) -> None:
    if length < 1 or (length - 1) % 4:
        raise ValueError(
            f"window: expected a frame count of the form 4k+1 (1, 5, 9, …, 33, 81), got {length}"
        )


def clip_windows(num_frames: int, length: int, stride: int | None = None) -> list[int]:
    """Start frames of the windows of one clip (empty if the clip is shorter than a window)."""
    check_window_length(length)
    stride = length if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride: expected >= 1, got {stride}")
    return list(range(0, num_frames - length + 1, stride))


def dataset_windows(
    records: list[ClipRecord], length: int, stride: int | None = None
) -> list[Window]:
    """Every window of every record, in record order."""
    return [
        Window(r, s, length) for r in records for s in clip_windows(r.num_frames, length, stride)
    ]
