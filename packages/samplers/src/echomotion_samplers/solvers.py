"""Flow-matching solvers: diffusers' Euler and UniPC schedulers, and a stochastic (ancestral)
Euler, behind one interface that steps every generated stream (video latents, motion) with the
same σ schedule.

Each generated stream gets its own scheduler instance built from the same config: UniPC is a
multistep method whose history must not mix streams. A clean conditioning stream is never stepped.

The stochastic solver is DDIM's η family written for the flow x_σ = (1 − σ)x̂ + σε: from the
velocity u at σ it takes the clean estimate x̂ = x − σu and the noise it implies
ε̂ = (x − (1 − σ)x̂)/σ = x + (1 − σ)u, and moves to
    x_{σ'} = (1 − σ')x̂ + σ'(√(1 − ρ²)·ε̂ + ρ·z),   z ~ N(0, I) fresh each step,
    ρ = η·√(1 − ((1 − σ)σ' / ((1 − σ')σ))²).
η = 0 is the Euler step exactly (DDIM); η = 1 draws x_{σ'} from the Gaussian posterior
q(x_{σ'} | x_σ, x₀ = x̂) (DDPM's ancestral step), so the fresh share ρ shrinks like the square
root of the step and the sampler keeps the data's marginals as steps are refined. With a
learned u, fresh noise keeps the denoiser's inputs close to Gaussian-noised data: an error it
made at one step (e.g. part of the noise it failed to remove) is partly replaced by noise
instead of being carried into the next input as if it were signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, get_args

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from torch import Tensor

from .denoiser import NUM_TRAIN_TIMESTEPS, Latents, Modality, Prediction, draw_noise
from .schedules import base_sigmas, shifted_sigmas

__all__ = ["FlowSolver", "Scheduler", "SolverConfig", "SolverKind", "make_scheduler"]

SolverKind = Literal["euler", "unipc", "stochastic"]


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

    kind: "unipc" (diffusers' UniPCMultistepScheduler with flow sigmas, Wan's default), "euler"
        (FlowMatchEulerDiscreteScheduler) or "stochastic" (ancestral Euler with fresh noise, see
        the module doc). num_steps: denoiser evaluations per sample (the paper: 50). shift: Wan's
        timestep shift (the paper samples with 8.0). order: UniPC's order. eta, motion_eta: the
        stochastic solver's η for the video and the motion stream, 0 (= Euler, DDIM) … 1 (DDPM's
        ancestral step); the other kinds ignore them. The defaults are what measured best on the
        synthetic world's checkpoint: fresh noise cleans the video of the colour speckle a
        deterministic solver keeps, while motion is more accurate without it.
    """

    kind: SolverKind = "unipc"
    num_steps: int = 50
    shift: float = 8.0
    order: int = 2
    eta: float = 1.0
    motion_eta: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in get_args(SolverKind):
            raise ValueError(f"kind: expected one of {get_args(SolverKind)}, got {self.kind!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps: expected an integer >= 1, got {self.num_steps}")
        if not self.shift > 0:
            raise ValueError(f"shift: expected a positive number, got {self.shift}")
        if self.order not in (1, 2, 3):
            raise ValueError(f"order: expected 1, 2 or 3, got {self.order}")
        for name in ("eta", "motion_eta"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"{name}: expected a number in [0, 1] (0 = Euler, 1 = DDPM), "
                    f"got {getattr(self, name)}"
                )


def make_scheduler(config: SolverConfig) -> Scheduler:
    """A fresh diffusers scheduler for `config`, its timesteps set and its step index at 0.

    The unshifted σ's are Wan's `linspace(1, 0, N + 1)[:-1]`; the scheduler applies the shift.
    """
    if config.kind in ("euler", "stochastic"):  # stochastic: Euler's σ grid, our own step
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

    generator: where the stochastic solver draws its fresh noise (each step, stream by stream in
    `Modality` order, on the generator's device in float32, then moved: the same seed gives the
    same samples on any device); None draws from torch's global generator.
    """

    def __init__(
        self,
        config: SolverConfig,
        generated: Iterable[Modality],
        *,
        generator: torch.Generator | None = None,
    ) -> None:
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
        self.generator = generator
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
            if self.config.kind == "stochastic":
                stepped = self._ancestral(index, x, v, self.fresh_share(index, modality))
            else:
                scheduler = self._schedulers[modality]
                stepped = scheduler.step(v, self.timesteps[index], x, return_dict=False)[0]
            out[modality] = stepped.to(x.dtype)
        self._next += 1
        return Latents(video=out[Modality.VIDEO], motion=out[Modality.MOTION])

    def fresh_share(self, index: int, modality: Modality = Modality.VIDEO) -> float:
        """ρ of step `index` for a stream: the share of the noise at σ[index + 1] the stochastic
        solver draws fresh, η·√(1 − ((1 − σ)σ' / ((1 − σ')σ))²) (module doc) with the stream's
        η (`eta` for video, `motion_eta` for motion); 0 for the other kinds."""
        eta = self.config.eta if modality is Modality.VIDEO else self.config.motion_eta
        if self.config.kind != "stochastic" or eta == 0.0:
            return 0.0
        sigma, sigma_next = self.sigma(index), self.sigma(index + 1)
        if sigma_next <= 0.0:
            return 0.0
        kept = (1.0 - sigma) * sigma_next / ((1.0 - sigma_next) * sigma)
        return eta * max(0.0, 1.0 - kept**2) ** 0.5

    def _ancestral(self, index: int, x: Tensor, v: Tensor, share: float) -> Tensor:
        """The stochastic step σ[index] → σ[index + 1] (module doc), in float32."""
        sigma, sigma_next = self.sigma(index), self.sigma(index + 1)
        x, v = x.float(), v.float()
        clean = x - sigma * v  # x̂
        noise = x + (1.0 - sigma) * v  # ε̂
        if share > 0.0:  # 0 at the last step (σ' = 0: it lands on x̂) and for η = 0 (Euler)
            fresh = draw_noise(tuple(x.shape), self.generator, x.device)
            noise = (1.0 - share**2) ** 0.5 * noise + share * fresh
        return (1.0 - sigma_next) * clean + sigma_next * noise
