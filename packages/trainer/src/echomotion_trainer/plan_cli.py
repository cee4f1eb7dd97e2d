"""`echomotion plan`: per-GPU memory of a recipe before training it (`plan.py`), registered
beside `train` and `eval`. Registering imports neither torch nor the model (every `echomotion`
call registers); running the command does."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from .recipes import RECIPES

__all__ = ["plan_command"]

_console = Console(stderr=True)


def plan_command(
    recipe_name: Annotated[
        str, typer.Option("--recipe", help=f"named preset: {', '.join(sorted(RECIPES))}")
    ] = "wan2.1-1.3b",
    gpus: Annotated[int, typer.Option("--gpus", help="ranks FSDP2 shards over")] = 1,
    gpu_memory: Annotated[
        float, typer.Option("--gpu-memory", help="memory of one GPU in GB (10⁹ bytes)")
    ] = 80.0,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="per GPU; default the recipe's")
    ] = None,
    frames: Annotated[
        int | None, typer.Option("--frames", help="pixel frames, 4k + 1; default the recipe's")
    ] = None,
    height: Annotated[int | None, typer.Option("--height", help="default the recipe's")] = None,
    width: Annotated[int | None, typer.Option("--width", help="default the recipe's")] = None,
    phase: Annotated[
        int, typer.Option("--phase", help="the phase the table details (the other is a row)")
    ] = 2,
    kernels: Annotated[
        str,
        typer.Option(
            "--kernels",
            help="mvsrope kernels whose saved tensors are measured: reference (the CPU's; "
            "seconds, saves more) or triton (CUDA's, through Triton's CPU interpreter; minutes)",
        ),
    ] = "reference",
    markdown: Annotated[
        bool, typer.Option("--markdown", help="print a markdown table (for READMEs)")
    ] = False,
) -> None:
    """Plan per-GPU memory: parameters, gradients, AdamW, EMA, activations (measured on tiny
    forwards and scaled), with and without checkpointing and CPU offload; says what fits."""
    from .recipes import recipe

    try:
        if gpus < 1:
            raise ValueError(f"--gpus must be ≥ 1, got {gpus}")
        if not gpu_memory > 0:
            raise ValueError(f"--gpu-memory must be > 0 GB, got {gpu_memory}")
        if phase not in (1, 2):
            raise ValueError(f"--phase must be 1 or 2, got {phase}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"--batch-size must be ≥ 1, got {batch_size}")
        if kernels not in ("reference", "triton"):
            raise ValueError(f"--kernels must be reference or triton, got {kernels!r}")
        if kernels == "triton" and "triton" not in sys.modules:
            os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede triton's import
        config = recipe(recipe_name)
        from .plan import plan_markdown, plan_memory, plan_table, train_shape

        train_shape(config, batch=batch_size, frames=frames, height=height, width=width)
        plan = plan_memory(
            config,
            gpus=gpus,
            gpu_memory=gpu_memory,
            batch=batch_size,
            frames=frames,
            height=height,
            width=width,
            kernels=kernels,
        )  # ValueError too where triton was imported without its interpreter
    except ValueError as err:
        _console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    if markdown:
        typer.echo(plan_markdown(plan, phase))
    else:
        Console(width=160).print(plan_table(plan, phase))
