"""Flow-matching solvers: diffusers' Euler and UniPC schedulers behind one interface that steps
every generated stream (video latents, motion) with the same σ schedule.

Each generated stream gets its own scheduler instance built from the same config: UniPC is a
multistep method whose history must not mix streams. A clean conditioning stream is never stepped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, get_args

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from torch import Tensor

from .denoiser import NUM_TRAIN_TIMESTEPS, Latents, Modality, Prediction
from .schedules import base_sigmas, shifted_sigmas

__all__ = ["FlowSolver", "Scheduler", "SolverConfig", "SolverKind", "make_scheduler"]

SolverKind = Literal["euler", "unipc"]


class Scheduler(Protocol):
    """The part of a diffusers scheduler the solver uses."""

    sigmas: Tensor
    timesteps: Tensor

    def set_timesteps(self, *, sigmas: Any) -> None: ...

    def set_begin_index(self, begin_index: int = 0) -> None: ...

    def step(
        self, model_output: Tensor, timestep: Tensor, sample: Tensor, return_dict: bool = True
    ) -> Any: ...


@dataclass(frozen=True)
class SolverConfig:
    """How to integrate the flow from σ = 1 to σ = 0.

    kind: "unipc" (diffusers' UniPCMultistepScheduler with flow sigmas, Wan's default) or "euler"
        (FlowMatchEulerDiscreteScheduler). num_steps: denoiser evaluations per sample (the
        paper: 50). shift: Wan's timestep shift (the paper samples with 8.0). order: UniPC's order.
    """

    kind: SolverKind = "unipc"
    num_steps: int = 50
    shift: float = 8.0
    order: int = 2

    def __post_init__(self) -> None:
        if self.kind not in get_args(SolverKind):
            raise ValueError(f"kind: expected one of {get_args(SolverKind)}, got {self.kind!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps: expected an integer >= 1, got {self.num_steps}")
        if not self.shift > 0:
            raise ValueError(f"shift: expected a positive number, got {self.shift}")
        if self.order not in (1, 2, 3):
            raise ValueError(f"order: expected 1, 2 or 3, got {self.order}")


def make_scheduler(config: SolverConfig) -> Scheduler:
    """A fresh diffusers scheduler for `config`, its timesteps set and its step index at 0.

    The unshifted σ's are Wan's `linspace(1, 0, N + 1)[:-1]`; the scheduler applies the shift.
    """
    if config.kind == "euler":
        scheduler = cast(
            Scheduler,
            FlowMatchEulerDiscreteScheduler(
                num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=config.shift
            ),
        )
    else:
        scheduler = cast(
            Scheduler,
            UniPCMultistepScheduler(
                num_train_timesteps=NUM_TRAIN_TIMESTEPS,
                prediction_type="flow_prediction",
                use_flow_sigmas=True,
                flow_shift=config.shift,
                solver_order=config.order,
            ),
        )
    scheduler.set_timesteps(sigmas=base_sigmas(config.num_steps).numpy())
    scheduler.set_begin_index(0)
    return scheduler


class FlowSolver:
    """Integrates the generated streams of a `Latents` over one shared σ schedule.

    Use: for i in range(solver.num_steps): evaluate the (guided) velocity at `solver.sigmas[i]`,
    then `latents = solver.step(i, latents, velocity)`. Steps must be taken in order, once each.
    """

    def __init__(self, config: SolverConfig, generated: Iterable[Modality]) -> None:
        streams = sorted(set(generated))
        if not streams:
            raise ValueError("generated: expected at least one modality to denoise")
        self.config = config
        self.generated: frozenset[Modality] = frozenset(streams)
        self._schedulers = {m: make_scheduler(config) for m in streams}
        first = self._schedulers[streams[0]]
        sigmas: Tensor = first.sigmas.detach().to("cpu", torch.float32)
        expected = shifted_sigmas(config.num_steps, config.shift).to(torch.float32)
        # The schedule is ours, the integrator diffusers': check they agree (UniPC nudges σ = 1
        # to 1 − 1e-6 to keep a log finite).
        if sigmas.shape != expected.shape or not torch.allclose(sigmas, expected, atol=1e-5):
            raise RuntimeError(
                f"diffusers' {config.kind} scheduler built sigmas {sigmas.tolist()} instead of the "
                f"shifted schedule {expected.tolist()}; the installed diffusers changed behaviour"
            )
        self.sigmas = sigmas
        self.timesteps: Tensor = first.timesteps.detach().to("cpu")
        self._next = 0

    @property
    def num_steps(self) -> int:
        return self.config.num_steps

    def sigma(self, index: int) -> float:
        """The noise level at which step `index` evaluates the denoiser."""
        return float(self.sigmas[index])

    def step(self, index: int, latents: Latents, velocity: Prediction) -> Latents:
        """Move each generated stream from σ[index] to σ[index + 1]; other streams pass through.

        latents: the state at σ[index]; velocity: noise − data for (at least) each generated stream.
        """
        if index != self._next:
            raise ValueError(
                f"index: the solver is at step {self._next} of {self.num_steps}, got step {index} "
                "(steps are taken in order, once each)"
            )
        out: dict[Modality, Tensor | None] = {m: latents.get(m) for m in Modality}
        for modality in sorted(self.generated):
            x = latents.get(modality)
            v = velocity.get(modality)
            if x is None or v is None:
                raise ValueError(
                    f"latents/velocity: the solver denoises {modality.value}, so both must hold a "
                    f"{modality.value} tensor (got latents {'absent' if x is None else 'present'}, "
                    f"velocity {'absent' if v is None else 'present'})"
                )
            if v.shape != x.shape:
                raise ValueError(
                    f"velocity.{modality.value}: expected shape {tuple(x.shape)}, got {tuple(v.shape)}"
                )
            scheduler = self._schedulers[modality]
            stepped = scheduler.step(v, self.timesteps[index], x, return_dict=False)[0]
            out[modality] = stepped.to(x.dtype)
        self._next += 1
        return Latents(video=out[Modality.VIDEO], motion=out[Modality.MOTION])
