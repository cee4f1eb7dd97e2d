"""The sampling settings: one schema for `pipeline.json`'s defaults, `echomotion generate` and
`echomotion eval` overrides, and the trainer's `sampling` config section.

Pydantic only (no torch, no diffusers), so a config or a checkpoint's pipeline.json is read
without importing a model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SamplingDefaults", "SolverKind"]

# = solvers.SolverKind, spelled out so that reading settings does not import diffusers
# (tests check the two agree).
SolverKind = Literal["euler", "unipc", "stochastic"]


class SamplingDefaults(BaseModel):
    """Defaults of the sampler (the paper's: 50 UniPC steps, shift 8, guidance 6, ω₂ = 1, guided
    at every noise level; `guidance_interval` [lo, hi] limits guidance to lo ≤ σ ≤ hi).
    `eta`, `motion_eta`: the "stochastic" solver's η for the video and the motion stream
    (0 = Euler … 1 = DDPM's ancestral step; the other solvers ignore them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(default=50, ge=1)
    shift: float = Field(default=8.0, gt=0)
    guidance: float = 6.0
    guidance_cond: float = 1.0
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    solver: SolverKind = "unipc"
    eta: float = Field(default=1.0, ge=0.0, le=1.0)
    motion_eta: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _interval(self) -> SamplingDefaults:
        lo, hi = self.guidance_interval
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(
                "sampling.guidance_interval: expected [lo, hi] with 0 ≤ lo < hi ≤ 1 (the noise "
                f"levels σ where guidance applies), got {list(self.guidance_interval)}"
            )
        return self
