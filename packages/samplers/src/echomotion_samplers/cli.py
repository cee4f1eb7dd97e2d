"""The `echomotion` command (typer): `generate`, plus subcommands other packages register.

Plug-in contract (entry-point group `echomotion.commands`): each entry point names a callable
`register(app: typer.Typer) -> None` that adds its commands to the app, e.g. in a package's
pyproject.toml

    [project.entry-points."echomotion.commands"]
    train = "echomotion_trainer.cli:register"

A plug-in that fails to load is reported on stderr and skipped; `generate` keeps working.
"""

from __future__ import annotations

import json
import sys
import warnings
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console

from .generate_inputs import InputError, check_generate_inputs
from .generate_inputs import Mode as ModeName
from .pipeline_config import CheckpointError

__all__ = ["ENTRY_POINT_GROUP", "app", "load_plugins", "main"]

ENTRY_POINT_GROUP = "echomotion.commands"

app = typer.Typer(
    name="echomotion",
    help="EchoMotion: generate human video and SMPL motion jointly, motion → video, video → motion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


class Mode(StrEnum):
    joint = "joint"
    m2v = "m2v"
    v2m = "v2m"


class Solver(StrEnum):
    unipc = "unipc"
    euler = "euler"
    stochastic = "stochastic"


class DType(StrEnum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


@app.callback()
def _root() -> None:
    """EchoMotion: generate human video and SMPL motion jointly, motion → video, video → motion."""


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error[/red]: {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code=2)


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise InputError(f"--device: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device: {name!r} asked for, but no CUDA device is available")
    return name


@app.command()
def generate(
    checkpoint: Annotated[
        Path,
        typer.Option(
            "--checkpoint",
            "-c",
            help="Checkpoint directory (pipeline.json, transformer/, motion_normalizer.safetensors).",
            envvar="ECHOMOTION_CHECKPOINT",
        ),
    ],
    mode: Annotated[
        Mode,
        typer.Option(
            help="joint: text → video + motion; m2v: motion (+ text) → video; v2m: video → motion."
        ),
    ] = Mode.joint,
    prompt: Annotated[
        list[str] | None,
        typer.Option(
            "--prompt", "-p", help="Text prompt (joint, m2v); repeat the option for a batch."
        ),
    ] = None,
    negative_prompt: Annotated[
        str | None,
        typer.Option(help="The ∅ text of the guidance (default: the checkpoint's, usually empty)."),
    ] = None,
    motion: Annotated[
        Path | None,
        typer.Option(
            help="m2v: motion file, .npz (echomotion motion format) or .bvh (as echomotion "
            "writes it); at the checkpoint's fps, 4k + 1 frames, finite values."
        ),
    ] = None,
    video: Annotated[
        Path | None,
        typer.Option(
            help="v2m: video file (.mp4) at the checkpoint's fps and size, 4k + 1 frames."
        ),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(min=1, help="Solver steps (default: the checkpoint's, 50).")
    ] = None,
    shift: Annotated[
        float | None,
        typer.Option(min=0.0, help="Timestep shift σ' = sσ/(1+(s−1)σ) (default: 8.0)."),
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Text guidance scale ω₁ (default: 6.0; 1 = none).")
    ] = None,
    guidance_cond: Annotated[
        float | None,
        typer.Option(help="Cross-modal guidance scale ω₂ of m2v / v2m (default: 1.0 = none)."),
    ] = None,
    guidance_interval: Annotated[
        tuple[float, float] | None,
        typer.Option(
            help="LO HI: guide only the solver steps at noise levels LO ≤ σ ≤ HI, the others "
            "unguided (default: the checkpoint's, 0 1 = every step)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Noise seed (default: random, written to generation.json).")
    ] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            help="Frames (joint: rounded to 4k + 1 with a warning; m2v / v2m: must equal the "
            "input's). Default: the checkpoint's."
        ),
    ] = None,
    height: Annotated[
        int | None, typer.Option(help="Height in pixels (default: the checkpoint's).")
    ] = None,
    width: Annotated[
        int | None, typer.Option(help="Width in pixels (default: the checkpoint's).")
    ] = None,
    solver: Annotated[
        Solver | None,
        typer.Option(
            help="Flow-matching solver: unipc, euler, or stochastic (Euler with fresh noise each "
            "step). Default: the checkpoint's."
        ),
    ] = None,
    eta: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="The stochastic solver's η for the video: 0 (= euler) … 1 (DDPM's ancestral "
            "step). Default: the checkpoint's.",
        ),
    ] = None,
    motion_eta: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="The stochastic solver's η for the motion (default: the checkpoint's).",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (created if missing).")
    ] = Path("outputs"),
    device: Annotated[
        str, typer.Option(help="Torch device: auto (CUDA if available), cpu, cuda, cuda:1, …")
    ] = "auto",
    dtype: Annotated[DType, typer.Option(help="Precision of the transformer.")] = DType.float32,
) -> None:
    """Generate with a checkpoint and write the results to --out.

    Writes per sample: sample.mp4 (generated video), sample.npz and sample.bvh (generated
    motion), sample_skeleton.mp4 (video | skeleton), sample_sheet.png (contact sheet), and
    generation.json (the settings, the seed and the files). Inputs are checked before any model
    is loaded.
    """
    if guidance_interval is not None and not (
        0.0 <= guidance_interval[0] < guidance_interval[1] <= 1.0
    ):
        raise _fail(
            f"--guidance-interval: expected LO HI with 0 ≤ LO < HI ≤ 1, got "
            f"{guidance_interval[0]} {guidance_interval[1]}"
        )
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            inputs = check_generate_inputs(
                mode=cast(ModeName, mode.value),
                checkpoint=checkpoint,
                prompts=prompt,
                motion_path=motion,
                video_path=video,
                frames=frames,
                height=height,
                width=width,
            )
            torch_device = _device(device)
    except (InputError, CheckpointError) as err:
        raise _fail(str(err)) from None
    for w in caught:
        console.print(f"[yellow]warning[/yellow]: {w.message}", highlight=False)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _fail(f"--out: cannot create {out} ({err})") from None

    import torch

    from .export import export_result
    from .pipeline import EchoMotionPipeline

    pipeline = EchoMotionPipeline.from_pretrained(
        checkpoint, device=torch_device, dtype=getattr(torch, dtype.value)
    )
    sampling = {
        "steps": steps,
        "shift": shift,
        "guidance": guidance,
        "guidance_cond": guidance_cond,
        "guidance_interval": guidance_interval,
        "solver": None if solver is None else solver.value,
        "eta": eta,
        "motion_eta": motion_eta,
        "seed": seed,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if inputs.mode == "joint":
            result = pipeline.joint(
                list(inputs.prompts),
                negative_prompt=negative_prompt,
                num_frames=inputs.frames,
                height=inputs.height,
                width=inputs.width,
                **sampling,
            )
        elif inputs.mode == "m2v":
            assert inputs.motion is not None
            result = pipeline.motion_to_video(
                list(inputs.prompts),
                inputs.motion,
                negative_prompt=negative_prompt,
                height=inputs.height,
                width=inputs.width,
                **sampling,
            )
        else:
            assert inputs.video is not None
            result = pipeline.video_to_motion(inputs.video, **sampling)
    for w in caught:
        console.print(f"[yellow]warning[/yellow]: {w.message}", highlight=False)
    samples = export_result(result, out, body_model=pipeline.body_model)
    defaults = pipeline.config.sampling
    record = {
        "mode": inputs.mode,
        "checkpoint": str(checkpoint),
        "prompts": list(result.prompts),
        "negative_prompt": pipeline.config.negative_prompt
        if negative_prompt is None
        else negative_prompt,
        "motion": None if motion is None else str(motion),
        "video": None if video is None else str(video),
        "seed": result.seed,
        "steps": defaults.steps if steps is None else steps,
        "shift": defaults.shift if shift is None else shift,
        "guidance": defaults.guidance if guidance is None else guidance,
        "guidance_cond": defaults.guidance_cond if guidance_cond is None else guidance_cond,
        "guidance_interval": list(
            defaults.guidance_interval if guidance_interval is None else guidance_interval
        ),
        "solver": defaults.solver if solver is None else solver.value,
        "eta": defaults.eta if eta is None else eta,
        "motion_eta": defaults.motion_eta if motion_eta is None else motion_eta,
        "frames": result.num_frames,
        "height": result.height,
        "width": result.width,
        "fps": result.fps,
        "device": torch_device,
        "dtype": dtype.value,
        "files": [[p.name for p in s.paths()] for s in samples],
    }
    (out / "generation.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for s in samples:
        for p in s.paths():
            typer.echo(str(p))
    typer.echo(str(out / "generation.json"))


_loaded: dict[int, list[str]] = {}


def load_plugins(target: typer.Typer = app) -> list[str]:
    """Call every `echomotion.commands` entry point with `target` (once per app); returns the
    names of the plug-ins loaded."""
    if id(target) in _loaded:
        return _loaded[id(target)]
    loaded: list[str] = []
    _loaded[id(target)] = loaded
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()(target)
        except Exception as err:  # a broken plug-in must not take `generate` down with it
            print(
                f"echomotion: skipping plug-in {ep.name!r} ({ep.value}): {type(err).__name__}: {err}",
                file=sys.stderr,
            )
            continue
        loaded.append(ep.name)
    return loaded


def main() -> None:
    """The `echomotion` console script: load the plug-ins, then run the app."""
    load_plugins(app)
    app()
