"""EchoMotion samplers: flow-matching solvers and in-context CFG over a `Denoiser` protocol.

Convention: x_σ = (1 − σ)·data + σ·noise, σ = 1 pure noise, the denoiser predicts noise − data
(Wan / diffusers); see denoiser.py.
"""

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
