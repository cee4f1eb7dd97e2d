"""A mock `Denoiser` that records every forward and whose output tells the passes apart."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from echomotion_samplers import Prediction, Task, TextCondition


@dataclass(frozen=True)
class Call:
    video: Tensor | None
    motion: Tensor | None
    video_sigma: Tensor | None
    motion_sigma: Tensor | None
    text: TextCondition | None
    task: Task

    @property
    def batch(self) -> int:
        for t in (self.video, self.motion):
            if t is not None:
                return int(t.shape[0])
        raise AssertionError("a call with neither modality")


def _row_mean(t: Tensor) -> Tensor:
    """(N, ...) → (N,) broadcastable back to (N, 1, ...)."""
    return t.flatten(1).mean(1)


def _like(values: Tensor, target: Tensor) -> Tensor:
    return values.reshape(-1, *([1] * (target.ndim - 1)))


@dataclass
class RecordingDenoiser:
    """Each output row depends on its own inputs, on the other modality being present and on its
    σ, on the text (or ∅) and on the task, so any wrong pass changes the result."""

    calls: list[Call] = field(default_factory=list)

    def __call__(
        self,
        *,
        video: Tensor | None,
        motion: Tensor | None,
        video_sigma: Tensor | None,
        motion_sigma: Tensor | None,
        text: TextCondition | None,
        task: Task,
    ) -> Prediction:
        assert (video is None) == (video_sigma is None)
        assert (motion is None) == (motion_sigma is None)
        self.calls.append(Call(video, motion, video_sigma, motion_sigma, text, task))
        batch = int((video if video is not None else motion).shape[0])  # type: ignore[union-attr]
        text_term = torch.full((batch,), -1.0) if text is None else 2.0 * _row_mean(text.embeddings)
        task_term = 0.01 * float(task)
        out_v = out_m = None
        if video is not None and video_sigma is not None:
            shared = text_term + task_term + 0.3 * video_sigma
            if motion is not None and motion_sigma is not None:
                shared = shared + 0.7 * _row_mean(motion) + 0.2 * motion_sigma
            out_v = 1.5 * video + _like(shared, video) + 0.1 * video**2
        if motion is not None and motion_sigma is not None:
            shared = -0.5 * text_term + task_term + 0.4 * motion_sigma
            if video is not None and video_sigma is not None:
                shared = shared + 0.6 * _row_mean(video) - 0.25 * video_sigma
            out_m = -0.8 * motion + _like(shared, motion) + 0.05 * motion**3
        return Prediction(video=out_v, motion=out_m)
