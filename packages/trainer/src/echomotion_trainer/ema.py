"""Exponential moving average of a model's floating-point parameters (kept in float32)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["EMA"]


class EMA:
    """shadow ← decay·shadow + (1 − decay)·param after every optimizer step.

    Works on plain and FSDP2-sharded parameters alike: a sharded parameter's shadow is a DTensor
    with the same placement, so distributed checkpointing saves it like the model.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay: expected a number in (0, 1), got {decay}")
        self.decay = decay
        # Every parameter, frozen or not: phase 1 freezes the video branch, phase 2 trains it,
        # and its shadow must exist (equal to the frozen weights) when it starts to move.
        self.shadow: dict[str, Tensor] = {
            name: p.detach().float().clone() for name, p in model.named_parameters()
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for name, p in model.named_parameters():
            if p.requires_grad and name in self.shadow:  # a frozen parameter equals its shadow
                self.shadow[name].lerp_(p.detach().float(), 1.0 - self.decay)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        for name, p in model.named_parameters():
            if name in self.shadow:
                p.copy_(self.shadow[name].to(p.dtype))

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(
                f"EMA state is missing {len(missing)} parameters, e.g. {sorted(missing)[:3]}"
            )
        for name in self.shadow:
            self.shadow[name].copy_(state[name])
