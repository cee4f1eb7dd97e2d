"""The denoiser as the solvers and guidance see it: the `Denoiser` protocol and its tensor bundles.

Convention (Wan / diffusers flow matching, used by the whole package): a sample at noise level
σ ∈ [0, 1] is `x_σ = (1 − σ)·x_data + σ·noise` (σ = 1 pure noise, σ = 0 clean data) and the
denoiser predicts the velocity `dx_σ/dσ = noise − x_data`. A model that takes Wan timesteps gets
`timestep = σ·1000` from its adapter (`sigma_to_timestep`). The paper's A.2 writes the same flow
with t = 1 − σ and the opposite velocity sign.

Dimension legend: `B` batch, `C` latent channels, `F` latent frames, `H, W` latent height/width,
`Tm` motion frames, `P` motion parameters per frame (235), `L` text tokens, `Dt` text width.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol

import torch
from torch import Tensor

__all__ = [
    "NUM_TRAIN_TIMESTEPS",
    "Denoiser",
    "Latents",
    "Modality",
    "Prediction",
    "Task",
    "TextCondition",
    "draw_noise",
    "sigma_to_timestep",
]

NUM_TRAIN_TIMESTEPS = 1000


def sigma_to_timestep(sigma: Tensor) -> Tensor:
    """Wan's timestep for a noise level: `σ·1000` (float; 0 = clean)."""
    return sigma * NUM_TRAIN_TIMESTEPS


class Modality(StrEnum):
    """The two token streams of the dual DiT."""

    VIDEO = "video"
    MOTION = "motion"


class Task(IntEnum):
    """The task id the dual DiT embeds (DESIGN §5); also the sampling mode.

    Values are part of the checkpoint format (they index the task embedding): never reorder.
    """

    JOINT = 0  # text → video + motion
    M2V = 1  # motion (+ text) → video
    V2M = 2  # video → motion
    MOTION_ONLY = 3  # text → motion (phase 1, video branch absent)

    @property
    def generated(self) -> frozenset[Modality]:
        """The modalities this task denoises from noise."""
        return _GENERATED[self]

    @property
    def given(self) -> frozenset[Modality]:
        """The clean conditioning modalities (σ = 0, never stepped)."""
        return _GIVEN[self]


_GENERATED: dict[Task, frozenset[Modality]] = {
    Task.JOINT: frozenset({Modality.VIDEO, Modality.MOTION}),
    Task.M2V: frozenset({Modality.VIDEO}),
    Task.V2M: frozenset({Modality.MOTION}),
    Task.MOTION_ONLY: frozenset({Modality.MOTION}),
}
_GIVEN: dict[Task, frozenset[Modality]] = {
    Task.JOINT: frozenset(),
    Task.M2V: frozenset({Modality.MOTION}),
    Task.V2M: frozenset({Modality.VIDEO}),
    Task.MOTION_ONLY: frozenset(),
}


@dataclass(frozen=True)
class TextCondition:
    """Encoded prompts.

    embeddings: (B, L, Dt) token states of the text encoder.
    mask: (B, L) bool, True for real tokens; None = every token is attended (Wan pads to a fixed
        length and attends the padding, so its adapter may ignore the mask).
    """

    embeddings: Tensor
    mask: Tensor | None = None

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 3:
            raise ValueError(
                f"embeddings: expected a (B, L, Dt) tensor, got shape {tuple(self.embeddings.shape)}"
            )
        if self.mask is not None and (
            self.mask.dtype != torch.bool or self.mask.shape != self.embeddings.shape[:2]
        ):
            raise ValueError(
                f"mask: expected a bool tensor of shape {tuple(self.embeddings.shape[:2])}, "
                f"got {self.mask.dtype} {tuple(self.mask.shape)}"
            )

    @property
    def batch_size(self) -> int:
        return int(self.embeddings.shape[0])

    def expand(self, batch_size: int) -> TextCondition:
        """Repeat a batch-1 condition (e.g. one negative prompt) to `batch_size` rows."""
        if self.batch_size == batch_size:
            return self
        if self.batch_size != 1:
            raise ValueError(f"text: expected batch size 1 or {batch_size}, got {self.batch_size}")
        mask = None if self.mask is None else self.mask.expand(batch_size, -1)
        return TextCondition(self.embeddings.expand(batch_size, -1, -1), mask)

    @staticmethod
    def concat(conditions: list[TextCondition]) -> TextCondition:
        """Concatenate along the batch; shorter prompts are zero-padded and masked out."""
        if not conditions:
            raise ValueError("conditions: expected at least one TextCondition")
        widths = {c.embeddings.shape[2] for c in conditions}
        if len(widths) != 1:
            raise ValueError(f"conditions: text widths differ: {sorted(widths)}")
        length = max(c.embeddings.shape[1] for c in conditions)
        need_mask = any(c.mask is not None or c.embeddings.shape[1] != length for c in conditions)
        embeddings: list[Tensor] = []
        masks: list[Tensor] = []
        for c in conditions:
            pad = length - c.embeddings.shape[1]
            embeddings.append(torch.nn.functional.pad(c.embeddings, (0, 0, 0, pad)))
            if need_mask:
                mask = c.mask
                if mask is None:
                    mask = torch.ones(
                        c.embeddings.shape[:2], dtype=torch.bool, device=c.embeddings.device
                    )
                masks.append(torch.nn.functional.pad(mask, (0, pad), value=False))
        return TextCondition(torch.cat(embeddings), torch.cat(masks) if need_mask else None)


@dataclass(frozen=True)
class Latents:
    """The state of a sample: each modality's tensor, or None where the modality is absent.

    video: (B, C, F, H, W) video latents. motion: (B, Tm, P) normalized motion parameters.
    (The solvers never look inside a stream: any shape with the batch first works.)
    """

    video: Tensor | None = None
    motion: Tensor | None = None

    def get(self, modality: Modality) -> Tensor | None:
        return self.video if modality is Modality.VIDEO else self.motion


def draw_noise(
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Standard normal noise drawn in float32 on the generator's device (`device` without one),
    then moved to `device` / `dtype`: the same seed gives the same noise on every device."""
    draw_device = generator.device if generator is not None else torch.device(device)
    drawn = torch.randn(shape, generator=generator, device=draw_device, dtype=torch.float32)
    return drawn.to(device=device, dtype=dtype)


@dataclass(frozen=True)
class Prediction:
    """A denoiser's output: the velocity (noise − data) for each modality it was given.

    video: like `Latents.video`; motion: like `Latents.motion`; None where the input was absent.
    The prediction for a clean conditioning modality may be anything: guidance ignores it.
    """

    video: Tensor | None = None
    motion: Tensor | None = None

    def get(self, modality: Modality) -> Tensor | None:
        return self.video if modality is Modality.VIDEO else self.motion


class Denoiser(Protocol):
    """What the solvers and ICCFG call. The dual DiT gets a thin adapter to this in the pipeline.

    Arguments (keyword only; each modality is either present with its σ, or absent = ∅):
        video: (B, C, F, H, W) latents at `video_sigma`, or None.
        motion: (B, Tm, P) normalized motion at `motion_sigma`, or None.
        video_sigma, motion_sigma: (B,) float32 noise levels in [0, 1]; 0 = clean conditioning
            (Wan timestep 0); None exactly when the modality is None.
        text: the prompt condition for all B rows, or None = the null condition ∅ (the adapter
            maps it to what training used for a dropped prompt).
        task: the task id embedded by the model.

    Returns the velocity for each present modality, same shapes as the inputs.
    """

    def __call__(
        self,
        *,
        video: Tensor | None,
        motion: Tensor | None,
        video_sigma: Tensor | None,
        motion_sigma: Tensor | None,
        text: TextCondition | None,
        task: Task,
    ) -> Prediction: ...
