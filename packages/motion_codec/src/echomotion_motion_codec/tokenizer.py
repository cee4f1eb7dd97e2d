"""Motion projector/decoder MLPs: (B, T, 235) parameters ⇄ (B, T, 51, D) tokens.

Dimension legend: B batch, T motion frames, S = 51 slots, D hidden size, P = 235 parameters.
Three encoder MLPs (position, rotation, shape), each shared across its group's slots, plus a
learned per-slot embedding; three decoder MLPs back to the parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layout import GROUP_WIDTH, GROUPS, MOTION_DIM, NUM_SLOTS, MotionLayout

__all__ = ["MotionDetokenizer", "MotionTokenizer"]


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


def _group_indices(layout: MotionLayout) -> dict[str, Tensor]:
    return {g: layout.group_index(g) for g in GROUPS}


class MotionTokenizer(nn.Module):
    """(B, T, 235) → (B, T, 51, D)."""

    def __init__(self, hidden_dim: int, mlp_dim: int | None = None) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        mlp_dim = mlp_dim or hidden_dim
        layout = MotionLayout()
        self.encoders = nn.ModuleDict(
            {g: _mlp(GROUP_WIDTH[g], mlp_dim, hidden_dim) for g in GROUPS}
        )
        self.slot_embedding = nn.Parameter(torch.zeros(NUM_SLOTS, hidden_dim))
        nn.init.normal_(self.slot_embedding, std=0.02)
        for g, idx in _group_indices(layout).items():
            self.register_buffer(f"index_{g}", idx, persistent=False)
        # Slot order of the concatenated groups equals the layout order (position, rotation, shape).
        order = [s.index for g in GROUPS for s in layout.group_slots(g)]
        if order != list(range(NUM_SLOTS)):
            raise AssertionError("layout groups are not contiguous in slot order")

    def forward(self, motion: Tensor) -> Tensor:
        if motion.shape[-1] != MOTION_DIM or motion.dim() != 3:
            raise ValueError(
                f"motion: expected shape (B, T, {MOTION_DIM}), got {tuple(motion.shape)}"
            )
        tokens = []
        for g in GROUPS:
            idx: Tensor = getattr(self, f"index_{g}")  # (S_g, W_g)
            values = motion[..., idx]  # (B, T, S_g, W_g)
            tokens.append(self.encoders[g](values))  # (B, T, S_g, D)
        return torch.cat(tokens, dim=-2) + self.slot_embedding.to(motion.dtype)  # (B, T, 51, D)


class MotionDetokenizer(nn.Module):
    """(B, T, 51, D) → (B, T, 235)."""

    def __init__(self, hidden_dim: int, mlp_dim: int | None = None) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        mlp_dim = mlp_dim or hidden_dim
        layout = MotionLayout()
        self.decoders = nn.ModuleDict(
            {g: _mlp(hidden_dim, mlp_dim, GROUP_WIDTH[g]) for g in GROUPS}
        )
        self.group_sizes = [len(layout.group_slots(g)) for g in GROUPS]

    def forward(self, tokens: Tensor) -> Tensor:
        if (
            tokens.dim() != 4
            or tokens.shape[-2] != NUM_SLOTS
            or tokens.shape[-1] != self.hidden_dim
        ):
            raise ValueError(
                f"tokens: expected shape (B, T, {NUM_SLOTS}, {self.hidden_dim}), got {tuple(tokens.shape)}"
            )
        parts = torch.split(tokens, self.group_sizes, dim=-2)  # (B, T, S_g, D) each
        values = [self.decoders[g](p).flatten(-2) for g, p in zip(GROUPS, parts, strict=True)]
        return torch.cat(values, dim=-1)  # (B, T, 235)
