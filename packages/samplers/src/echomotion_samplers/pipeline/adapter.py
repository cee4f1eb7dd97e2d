"""The dual DiT seen as a `Denoiser`: σ → Wan timestep, Task by name, ∅ text → null embeddings.

Dimension legend: `B` batch, `C, F, h, w` video latents, `Tm` motion frames, `P` = 235,
`L` text tokens, `Dt` text width.
"""

from __future__ import annotations

import torch
from torch import Tensor

from echomotion_dualdit import DualDiT
from echomotion_dualdit import Task as DualTask

from ..denoiser import Prediction, Task, TextCondition, sigma_to_timestep

__all__ = ["DualDiTDenoiser"]


class DualDiTDenoiser:
    """Adapts `DualDiT.forward` to the samplers' `Denoiser` protocol.

    null_text: (1, L, Dt) or (B, L, Dt) token states used when the sampler passes `text=None`
    (the encoded empty prompt: what training feeds for a dropped prompt). Inputs are cast to the
    model's dtype, the predicted velocities back to float32. A text mask, when given, zeroes the
    masked tokens: the model attends every token, and zero states are its padding (Wan).
    """

    def __init__(self, model: DualDiT, null_text: Tensor) -> None:
        if null_text.ndim != 3:
            raise ValueError(
                f"null_text: expected (1, L, Dt) token states, got {tuple(null_text.shape)}"
            )
        self.model = model
        self.null_text = null_text

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
        reference = video if video is not None else motion
        if reference is None:
            raise ValueError("denoiser: expected video or motion (or both), got neither")
        batch, device = int(reference.shape[0]), reference.device
        dtype = self.model.dtype  # the compute dtype (some tables stay float32 under bf16)
        if text is None:
            states = self.null_text.to(device=device, dtype=dtype).expand(batch, -1, -1)
        else:
            states = text.embeddings.to(device=device, dtype=dtype)  # (B, L, Dt)
            if text.mask is not None:
                states = states * text.mask[..., None].to(device=device, dtype=dtype)
        out = self.model(
            video=None if video is None else video.to(dtype),
            motion=None if motion is None else motion.to(dtype),
            video_timestep=None if video_sigma is None else sigma_to_timestep(video_sigma.float()),
            motion_timestep=None
            if motion_sigma is None
            else sigma_to_timestep(motion_sigma.float()),
            encoder_hidden_states=states,
            task=torch.full((batch,), int(DualTask[Task(task).name]), device=device),
        )
        return Prediction(
            video=None if out.video is None else out.video.float(),
            motion=None if out.motion is None else out.motion.float(),
        )
