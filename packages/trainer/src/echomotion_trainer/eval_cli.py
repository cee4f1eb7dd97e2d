"""`echomotion eval`: score a checkpoint's three modes on fresh synthetic clips (`evaluation.py`),
print a table and write the JSON report atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.console import Console
from rich.table import Table

from echomotion_samplers.settings import SolverKind

if TYPE_CHECKING:
    from .evaluation import EvalReport

__all__ = ["eval_command", "report_table"]

# = evaluation.MODES / DEFAULT_SEED, spelled out so that registering the command (every
# `echomotion` call) imports neither torch nor the synthetic world (a test checks they agree).
MODES = ("joint", "m2v", "v2m")
DEFAULT_SEED = 10_000
SOLVERS = get_args(SolverKind)  # samplers' settings schema (pydantic only, no torch)

_console = Console(stderr=True)


def report_table(report: EvalReport) -> Table:
    """One row per (mode, metric)."""
    table = Table(
        title=(
            f"{report.checkpoint}: {report.clips} clips {report.width}x{report.height}, "
            f"{report.num_frames} frames, {report.steps} steps"
        )
    )
    table.add_column("mode")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for mode, values in report.metrics.items():
        for i, (name, value) in enumerate(values.items()):
            table.add_row(mode if i == 0 else "", name, f"{value:.4g}")
    return table


def eval_command(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="checkpoint directory (pipeline.json, …)")
    ],
    clips: Annotated[int, typer.Option("--clips", min=1, help="synthetic clips to score")] = 8,
    steps: Annotated[int, typer.Option("--steps", min=1, help="solver steps per sample")] = 20,
    seed: Annotated[
        int, typer.Option("--seed", help="first clip seed (held out from training) and noise seed")
    ] = DEFAULT_SEED,
    classifier: Annotated[
        Path | None,
        typer.Option("--classifier", help="action classifier folder; default: train one here"),
    ] = None,
    modes: Annotated[
        str, typer.Option("--modes", help=f"comma-separated subset of {','.join(MODES)}")
    ] = ",".join(MODES),
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 8,
    camera_distance: Annotated[
        tuple[float, float] | None,
        typer.Option(
            "--camera-distance",
            help="NEAR FAR: the clips' camera range in meters; default: the one the checkpoint "
            "trained with (its train_config.yaml), else humove's default",
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="default: cuda when available, else cpu")
    ] = None,
    guidance: Annotated[
        float | None,
        typer.Option("--guidance", help="text guidance ω₁ (default: the checkpoint's)"),
    ] = None,
    guidance_cond: Annotated[
        float | None,
        typer.Option("--guidance-cond", help="cross-modal guidance ω₂ (default: the checkpoint's)"),
    ] = None,
    guidance_interval: Annotated[
        tuple[float, float] | None,
        typer.Option(
            "--guidance-interval",
            help="LO HI: guide only at noise levels LO ≤ σ ≤ HI (default: the checkpoint's)",
        ),
    ] = None,
    solver: Annotated[
        str | None,
        typer.Option("--solver", help="unipc, euler or stochastic (default: the checkpoint's)"),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="JSON report")] = Path("report.json"),
) -> None:
    """Evaluate a checkpoint: v2m pose error, m2v video fidelity, joint consistency / smoothness /
    text following, on synthetic clips the model has not seen."""
    import torch

    from echomotion_samplers.pipeline_config import CheckpointError

    from .evaluation import evaluate_checkpoint

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    if not chosen or any(m not in MODES for m in chosen):
        _console.print(
            f"[red]error:[/red] --modes: expected some of {','.join(MODES)}, got {modes!r}"
        )
        raise typer.Exit(2)
    if classifier is not None and not classifier.is_dir():
        _console.print(f"[red]error:[/red] --classifier: {classifier} is not a directory")
        raise typer.Exit(2)
    if camera_distance is not None and not 0 < camera_distance[0] <= camera_distance[1]:
        _console.print(
            "[red]error:[/red] --camera-distance: expected NEAR FAR meters with "
            f"0 < NEAR <= FAR, got {camera_distance[0]:g} {camera_distance[1]:g}"
        )
        raise typer.Exit(2)
    if guidance_interval is not None and not (
        0.0 <= guidance_interval[0] < guidance_interval[1] <= 1.0
    ):
        _console.print(
            "[red]error:[/red] --guidance-interval: expected LO HI with 0 ≤ LO < HI ≤ 1, got "
            f"{guidance_interval[0]:g} {guidance_interval[1]:g}"
        )
        raise typer.Exit(2)
    if solver is not None and solver not in SOLVERS:
        _console.print(
            f"[red]error:[/red] --solver: expected one of {', '.join(SOLVERS)}, got {solver!r}"
        )
        raise typer.Exit(2)
    given = {
        "guidance": guidance,
        "guidance_cond": guidance_cond,
        "guidance_interval": guidance_interval,
        "solver": solver,
    }
    sampling = {k: v for k, v in given.items() if v is not None}
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        report = evaluate_checkpoint(
            checkpoint,
            clips=clips,
            seed=seed,
            steps=steps,
            classifier=classifier,
            modes=chosen,
            batch_size=batch_size,
            device=device,
            camera_distance=camera_distance,
            sampling=sampling,
            log=lambda msg: _console.print(f"[dim]{msg}[/dim]"),
        )
    except CheckpointError as err:
        _console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    Console().print(report_table(report))
    report.write(out)
    _console.print(f"report: {out} ({report.seconds:.0f} s)")
