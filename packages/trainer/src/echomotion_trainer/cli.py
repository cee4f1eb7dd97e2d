"""`echomotion train`: registered on the `echomotion` command through the `echomotion.commands`
entry point (samplers' plug-in contract), and runnable as `python -m echomotion_trainer` —
which is what torchrun launches: `torchrun --nproc-per-node 8 -m echomotion_trainer train ...`.
`echomotion eval` (`eval_cli.py`) and `echomotion plan` (`plan_cli.py`) are registered beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .config import ConfigError, apply_overrides, load_config
from .recipes import RECIPES, recipe

__all__ = ["export", "register", "train"]

_console = Console(stderr=True)


def train(
    recipe_name: Annotated[
        str, typer.Option("--recipe", help=f"named preset: {', '.join(sorted(RECIPES))}")
    ] = "synth-tiny",
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML/TOML file; its keys override the recipe")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from the newest checkpoint in out_dir")
    ] = False,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="print the resolved config and exit")
    ] = False,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="KEY=VALUE overrides, e.g. optim.lr=1e-4 phase2.steps=500"),
    ] = None,
) -> None:
    """Train EchoMotion: phase 1 (motion only), then phase 2 (joint / m2v / v2m)."""
    try:
        cfg = recipe(recipe_name)
        if config is not None:
            cfg = load_config(config, base=cfg)
        cfg = apply_overrides(cfg, list(overrides or []))
    except (ConfigError, ValueError) as err:
        _console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    if print_config:
        typer.echo(cfg.to_yaml())
        return
    from .run import run_training

    summary = run_training(cfg, resume=resume)
    if summary.export_dir is None:  # a rank other than 0 of a torchrun job: rank 0 reports
        return
    _console.print(
        f"trained {summary.steps} steps in {summary.seconds:.0f} s; "
        f"final motion loss {summary.final_loss_motion}, video loss {summary.final_loss_video}; "
        f"checkpoint: {summary.export_dir}"
    )


def export(
    run_dir: Annotated[Path, typer.Argument(help="a run's out_dir (holds checkpoints/)")],
    step: Annotated[
        int | None, typer.Option("--step", help="which checkpoint; default the newest")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="default <run_dir>/export_step_<N>")
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="the raw weights instead of the EMA")] = False,
) -> None:
    """Turn a training checkpoint into a checkpoint `echomotion generate` loads."""
    from .export import export_checkpoint

    try:
        path = export_checkpoint(run_dir, step=step, out=out, ema=not raw)
    except (FileNotFoundError, ConfigError, ValueError) as err:
        _console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    _console.print(f"exported {path}")


def register(app: typer.Typer) -> None:
    """The `echomotion.commands` entry point."""
    from .eval_cli import eval_command
    from .plan_cli import plan_command

    app.command("train")(train)
    app.command("eval")(eval_command)
    app.command("export")(export)
    app.command("plan")(plan_command)


def main() -> None:
    app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)

    @app.callback()
    def _root() -> None:
        """EchoMotion training."""

    app()
