"""Per-step choice of the training paradigm and of the dropped conditions (DESIGN §6).

| paradigm | text                | other modality             |
|----------|---------------------|----------------------------|
| joint    | dropped with p_text | —                          |
| m2v      | dropped with p_text | motion dropped with p_cond |
| v2m      | always dropped      | video dropped with p_cond  |
Phase 1 is motion-only (video absent), text dropped with p_text. Text is dropped per sample
(its row gets the null embedding); a dropped modality is absent for the whole step (its tokens
are not in the sequence), which is how ICCFG's ∅ passes see it at sampling time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import torch
from torch import Tensor

from echomotion_samplers import Task

from .config import PhaseConfig

__all__ = ["Role", "StepPlan", "plan_step"]


class Role(StrEnum):
    NOISED = "noised"  # generated: noised at a sampled σ, loss on it
    CLEAN = "clean"  # condition: σ = 0, never noised, no loss
    ABSENT = "absent"  # not in the sequence (∅)


@dataclass(frozen=True)
class StepPlan:
    """What one training step feeds the model."""

    task: Task
    video: Role
    motion: Role
    drop_text: Tensor  # (B,) bool: rows whose prompt is replaced by the null condition

    @property
    def paradigm(self) -> str:
        return self.task.name.lower()


def plan_step(
    phase: int, cfg: PhaseConfig, batch_size: int, generator: torch.Generator
) -> StepPlan:
    """Sample a step's paradigm and drops from `generator` (CPU, so every rank can agree)."""
    if phase not in (1, 2):
        raise ValueError(f"phase: expected 1 or 2, got {phase}")

    def coin(p: float) -> bool:
        return bool(torch.rand((), generator=generator) < p)

    def text_drops(p: float) -> Tensor:
        return torch.rand(batch_size, generator=generator) < p

    if phase == 1:
        return StepPlan(Task.MOTION_ONLY, Role.ABSENT, Role.NOISED, text_drops(cfg.p_text_drop))
    probs = torch.tensor([cfg.joint, cfg.m2v, cfg.v2m], dtype=torch.float64)
    choice = int(torch.multinomial(probs / probs.sum(), 1, generator=generator))
    if choice == 0:
        return StepPlan(Task.JOINT, Role.NOISED, Role.NOISED, text_drops(cfg.p_text_drop))
    if choice == 1:
        motion = Role.ABSENT if coin(cfg.p_cond_drop) else Role.CLEAN
        return StepPlan(Task.M2V, Role.NOISED, motion, text_drops(cfg.p_text_drop))
    video = Role.ABSENT if coin(cfg.p_cond_drop) else Role.CLEAN
    return StepPlan(Task.V2M, video, Role.NOISED, torch.ones(batch_size, dtype=torch.bool))
