"""The sampling loop: seeded noise → (ICCFG velocity → solver step) × N → clean latents."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor

from .denoiser import (
    Denoiser,
    Latents,
    Modality,
    Prediction,
    Task,
    TextCondition,
    draw_noise,
)
from .guidance import GuidanceScales, guided_velocity
from .solvers import FlowSolver, SolverConfig

__all__ = ["StepCallback", "StepInfo", "initial_noise", "sample"]


@dataclass(frozen=True)
class StepInfo:
    """What the per-step callback sees after step `index` (0-based) of `num_steps`.

    sigma: the noise level the velocity was evaluated at; next_sigma: the level `latents` are at.
    velocity: the guided velocity of the generated modalities; latents: the state after the step.
    denoised: the clean estimate x̂ = x_σ − σ·velocity of each generated modality (None for the
    given one): what the step moved towards, the picture of where sampling stands.
    """

    index: int
    num_steps: int
    sigma: float
    next_sigma: float
    velocity: Prediction
    latents: Latents
    denoised: Latents = field(default_factory=Latents)


StepCallback = Callable[[StepInfo], None]


def initial_noise(
    shapes: dict[Modality, Sequence[int]],
    *,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Latents:
    """Standard normal noise for each modality in `shapes`, drawn video first, then motion.

    Drawn in float32 on the generator's device, then moved: the same seed gives the same noise
    on every device and dtype.
    """
    noise: dict[Modality, Tensor | None] = {m: None for m in Modality}
    for modality in (Modality.VIDEO, Modality.MOTION):
        if modality in shapes:
            shape = tuple(int(s) for s in shapes[modality])
            noise[modality] = draw_noise(shape, generator, device, dtype)
    return Latents(video=noise[Modality.VIDEO], motion=noise[Modality.MOTION])


def sample(
    denoiser: Denoiser,
    task: Task,
    *,
    text: TextCondition | None,
    null_text: TextCondition | None = None,
    video_shape: Sequence[int] | None = None,
    motion_shape: Sequence[int] | None = None,
    video: Tensor | None = None,
    motion: Tensor | None = None,
    scales: GuidanceScales | None = None,
    solver: SolverConfig | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    batch_passes: bool = True,
    callback: StepCallback | None = None,
    progress: bool = False,
) -> Latents:
    """Sample `task`'s generated modalities with ICCFG and a flow-matching solver.

    Generated modalities are given by shape (`video_shape` (B, C, F, H, W), `motion_shape`
    (B, Tm, P)) and start from `initial_noise(generator=...)` (the stochastic solver draws its
    per-step noise from the same generator); the given modality of m2v / v2m is
    passed clean (`motion` for m2v, `video` for v2m) and stays clean. text / null_text / scales
    / batch_passes are as in `guided_velocity`; each step guides with `scales.at(σ)` (no
    guidance outside `scales.interval`). `callback` runs after every step; `progress`
    shows a rich progress bar. The state is kept in float32 on `device`; a denoiser that runs in
    another dtype casts its inputs and outputs itself (as diffusers' Wan pipeline does).
    Returns the final Latents: generated modalities at σ = 0, the given one unchanged.
    """
    task = Task(task)
    solver_config = solver if solver is not None else SolverConfig()
    shapes: dict[Modality, Sequence[int] | None] = {
        Modality.VIDEO: video_shape,
        Modality.MOTION: motion_shape,
    }
    given: dict[Modality, Tensor | None] = {Modality.VIDEO: video, Modality.MOTION: motion}
    for modality in Modality:
        name = modality.value
        if modality in task.generated:
            if shapes[modality] is None:
                raise ValueError(f"{name}_shape: task {task.name} generates {name}; pass its shape")
            if given[modality] is not None:
                raise ValueError(
                    f"{name}: task {task.name} generates {name}; pass {name}_shape, not a tensor"
                )
        elif modality in task.given:
            if given[modality] is None:
                raise ValueError(
                    f"{name}: task {task.name} is conditioned on a clean {name} tensor; pass it"
                )
            if shapes[modality] is not None:
                raise ValueError(
                    f"{name}_shape: task {task.name} does not generate {name}; leave it None"
                )
        elif shapes[modality] is not None or given[modality] is not None:
            raise ValueError(
                f"{name}/{name}_shape: task {task.name} does not use {name}; leave both None"
            )

    noise = initial_noise(
        {m: s for m, s in shapes.items() if s is not None},
        generator=generator,
        device=device,
    )
    latents = Latents(
        video=noise.video if video is None else video.to(device=device, dtype=torch.float32),
        motion=noise.motion if motion is None else motion.to(device=device, dtype=torch.float32),
    )
    flow = FlowSolver(solver_config, task.generated, generator=generator)
    guidance = scales if scales is not None else GuidanceScales()

    bar: Progress | None = None
    if progress:
        bar = Progress(
            TextColumn(f"sampling {task.name.lower()}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        bar.start()
    try:
        bar_task = bar.add_task("steps", total=flow.num_steps) if bar is not None else None
        for i in range(flow.num_steps):
            with torch.no_grad():
                velocity = guided_velocity(
                    denoiser,
                    task,
                    latents,
                    flow.sigma(i),
                    text=text,
                    null_text=null_text,
                    scales=guidance.at(flow.sigma(i)),
                    batch_passes=batch_passes,
                )
                denoised = (
                    _denoised(latents, velocity, flow.sigma(i), task.generated)
                    if callback is not None
                    else Latents()
                )
                latents = flow.step(i, latents, velocity)
            if callback is not None:
                callback(
                    StepInfo(
                        i,
                        flow.num_steps,
                        flow.sigma(i),
                        flow.sigma(i + 1),
                        velocity,
                        latents,
                        denoised,
                    )
                )
            if bar is not None and bar_task is not None:
                bar.advance(bar_task)
    finally:
        if bar is not None:
            bar.stop()
    return latents


def _denoised(
    latents: Latents, velocity: Prediction, sigma: float, generated: Iterable[Modality]
) -> Latents:
    """x̂ = x_σ − σ·u of each generated stream."""
    out: dict[Modality, Tensor | None] = dict.fromkeys(Modality)
    for modality in generated:
        x, v = latents.get(modality), velocity.get(modality)
        if x is not None and v is not None:
            out[modality] = x - sigma * v
    return Latents(video=out[Modality.VIDEO], motion=out[Modality.MOTION])
