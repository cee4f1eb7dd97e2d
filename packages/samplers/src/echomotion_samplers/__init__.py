"""EchoMotion samplers: flow-matching solvers and in-context CFG over a `Denoiser` protocol.

Convention: x_σ = (1 − σ)·data + σ·noise, σ = 1 pure noise, the denoiser predicts noise − data
(Wan / diffusers); see denoiser.py. The generation pipeline is `echomotion_samplers.pipeline`
(imports the dual DiT); export is `echomotion_samplers.export`; the CLI `echomotion_samplers.cli`.

Names are imported on first use (PEP 562), so `echomotion --help` and the CLI's input checks do
not pay for importing diffusers.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .denoiser import (
        NUM_TRAIN_TIMESTEPS,
        Denoiser,
        Latents,
        Modality,
        Prediction,
        Task,
        TextCondition,
        sigma_to_timestep,
    )
    from .guidance import GuidancePass, GuidanceScales, guidance_passes, guided_velocity
    from .sampling import StepCallback, StepInfo, initial_noise, sample
    from .schedules import base_sigmas, shift_sigmas, shifted_sigmas
    from .solvers import FlowSolver, SolverConfig, SolverKind, make_scheduler

__version__ = "0.1.0"

_MODULE_OF = {
    **dict.fromkeys(
        (
            "NUM_TRAIN_TIMESTEPS",
            "Denoiser",
            "Latents",
            "Modality",
            "Prediction",
            "Task",
            "TextCondition",
            "sigma_to_timestep",
        ),
        "denoiser",
    ),
    **dict.fromkeys(
        ("GuidancePass", "GuidanceScales", "guidance_passes", "guided_velocity"), "guidance"
    ),
    **dict.fromkeys(("StepCallback", "StepInfo", "initial_noise", "sample"), "sampling"),
    **dict.fromkeys(("base_sigmas", "shift_sigmas", "shifted_sigmas"), "schedules"),
    **dict.fromkeys(("FlowSolver", "SolverConfig", "SolverKind", "make_scheduler"), "solvers"),
}

__all__ = [
    "NUM_TRAIN_TIMESTEPS",
    "Denoiser",
    "FlowSolver",
    "GuidancePass",
    "GuidanceScales",
    "Latents",
    "Modality",
    "Prediction",
    "SolverConfig",
    "SolverKind",
    "StepCallback",
    "StepInfo",
    "Task",
    "TextCondition",
    "base_sigmas",
    "guidance_passes",
    "guided_velocity",
    "initial_noise",
    "make_scheduler",
    "sample",
    "shift_sigmas",
    "shifted_sigmas",
    "sigma_to_timestep",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'echomotion_samplers' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
