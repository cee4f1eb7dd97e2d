#!/usr/bin/env python3
"""Train and score the ablation variants (experiments/ablations/README.md); resumable.

    python experiments/ablations/run.py                       # every variant, seeds 0 and 1, 500 steps
    python experiments/ablations/run.py --steps 6 --seeds 0 --variants base video-only --out /tmp/abl
    python experiments/ablations/report.py                    # then: docs/ablations.md + PNGs

Per run (`<out>/<variant>/seed<k>/`): the trainer's own files (`metrics.jsonl`, `summary.json`,
`final/`, …), `heldout.json` (heldout.py), `eval.json` (`evaluate_checkpoint`, small) and
`run.json` (what was run and how long each stage took). A stage whose file exists is skipped; a
killed training run resumes from its last checkpoint. The clips are synthesized once into
`<out>/data` (training) and `<out>/heldout`, the action classifier is trained once into
`<out>/classifier`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from heldout import heldout_losses, make_heldout, write_heldout
from variants import BASE_RECIPE, VARIANTS, variant_config

from echomotion_humove.action_classifier import (
    ActionClassifier,
    ActionClassifierConfig,
    train_action_classifier,
)
from echomotion_humove.synth.writer import SynthConfig, write_synthetic_dataset
from echomotion_motion_codec import atomic_path
from echomotion_trainer.checkpoint import CheckpointManager
from echomotion_trainer.config import TrainConfig, load_config
from echomotion_trainer.evaluation import evaluate_checkpoint
from echomotion_trainer.recipes import recipe
from echomotion_trainer.run import run_training

SETTINGS = "ablation.json"


def write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=500, help="training steps per run (all phases)")
    p.add_argument(
        "--phase1-steps", type=int, default=None, help="two-phase runs' phase 1 (default steps/5)"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default="outputs/ablations", help="runs, data and results go here")
    p.add_argument(
        "--train-clips", type=int, default=None, help="synthetic training clips (default: recipe's)"
    )
    p.add_argument("--heldout-clips", type=int, default=64)
    p.add_argument("--eval-clips", type=int, default=8, help="evaluate_checkpoint clips per run")
    p.add_argument("--eval-steps", type=int, default=20, help="evaluate_checkpoint solver steps")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default). Use 1 when another job shares the CPU: "
        "two multi-threaded torch processes on 2 cores slow each other down several-fold",
    )
    p.add_argument("--dry-run", action="store_true", help="print each run's overrides and stop")
    args = p.parse_args(argv)
    if args.phase1_steps is None:
        args.phase1_steps = args.steps // 5
    if args.train_clips is None:
        args.train_clips = recipe(BASE_RECIPE).data.synthesize
    return args


def record_settings(out: Path, args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """`<out>/ablation.json`: the budget (must match earlier runs here) and what has been asked."""
    path = out / SETTINGS
    budget = {
        "steps": args.steps,
        "phase1_steps": args.phase1_steps,
        "train_clips": args.train_clips,
    }
    old = json.loads(path.read_text()) if path.is_file() else {}
    if old and {k: old.get(k) for k in budget} != budget:
        raise SystemExit(
            f"{out} holds runs made with { ({k: old.get(k) for k in budget}) }, asked for {budget}: "
            "use another --out"
        )
    settings = {
        **budget,
        "seeds": sorted(set(old.get("seeds", [])) | set(args.seeds)),
        "variants": [v for v in VARIANTS if v in set(old.get("variants", [])) | set(args.variants)],
        "heldout_clips": args.heldout_clips,
        "eval_clips": args.eval_clips,
        "eval_steps": args.eval_steps,
        "command": shlex.join(["python", "experiments/ablations/run.py", *argv]),
    }
    write_json(path, settings)
    return settings


def classifier_dir(out: Path, config: TrainConfig) -> Path:
    """The joint mode's action classifier, trained once (as `evaluate_checkpoint` would)."""
    path = out / "classifier"
    try:
        ActionClassifier.load(path)
    except FileNotFoundError:
        frames = config.data.frames
        model = train_action_classifier(
            num_motions=240,
            steps=150,
            num_frames=frames,
            min_frames=max(2, (frames + 1) // 2),
            config=ActionClassifierConfig(fps=config.data.fps),
        )
        model.save(path)
    return path


def finished(run: Path) -> bool:
    return (run / "summary.json").is_file() and (run / "final" / "pipeline.json").is_file()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def train(config: TrainConfig) -> None:
    """Resume from the run's newest complete checkpoint if there is one, else start afresh
    (which also clears a killed run's step log)."""
    latest = CheckpointManager(Path(config.out_dir) / "checkpoints").latest()
    run_training(config, resume=latest is not None, progress=False)


def one_run(config: TrainConfig, out: Path, args: argparse.Namespace, sample_eval: bool) -> str:
    """Train (unless done), score; returns the stage timings as text."""
    run = Path(config.out_dir)
    seconds: dict[str, float] = {}
    notes = []
    if finished(run):
        done = load_config(run / "config.yaml")
        if done.total_steps != config.total_steps or done.phase1.steps != config.phase1.steps:
            raise SystemExit(f"{run}: a finished run with another budget is there")
        notes.append("train done")
        seconds["train"] = float(json.loads((run / "summary.json").read_text())["seconds"])
    else:
        seconds["train"] = timed(lambda: train(config))
        notes.append(f"train {seconds['train']:.0f} s")
    if not (run / "heldout.json").is_file():
        seconds["heldout"] = timed(
            lambda: write_heldout(run / "heldout.json", heldout_losses(run, out / "heldout"))
        )
        notes.append(f"held-out {seconds['heldout']:.0f} s")
    if sample_eval and not (run / "eval.json").is_file():

        def evaluate() -> None:
            report = evaluate_checkpoint(
                run / "final",
                clips=args.eval_clips,
                steps=args.eval_steps,
                classifier=classifier_dir(out, config),
                camera_distance=config.data.synth_camera_distance,
            )
            report.write(run / "eval.json")

        seconds["eval"] = timed(evaluate)
        notes.append(f"eval {seconds['eval']:.0f} s")
    old = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    write_json(
        run / "run.json",
        {
            "variant": config.recipe.removeprefix("ablation-"),
            "seed": config.seed,
            "steps": config.total_steps,
            "phase1_steps": config.phase1.steps,
            "seconds": {**old.get("seconds", {}), **seconds},
        },
    )
    return ", ".join(notes) if notes else "all done"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out = Path(args.out).resolve()
    data_dir = out / "data"

    def config(variant: str, seed: int) -> TrainConfig:
        return variant_config(variant, seed=seed, steps=args.steps,
                              phase1_steps=args.phase1_steps, out_root=out, data_dir=data_dir)  # fmt: skip

    runs = [(v, s, config(v, s)) for s in args.seeds for v in args.variants]
    if args.dry_run:
        for v, s, cfg in runs:
            print(f"{v}/seed{s}: {' '.join(VARIANTS[v].overrides) or '(base)'}")
            print(f"  phases {cfg.phase1.steps} + {cfg.phase2.steps}, model {cfg.model}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    out.mkdir(parents=True, exist_ok=True)
    record_settings(out, args, argv)
    first = runs[0][2]
    d = first.data
    start = time.perf_counter()
    clips = args.train_clips
    print(f"data: {clips} training clips in {data_dir}, {args.heldout_clips} held-out")
    synth = SynthConfig(
        clips=clips,
        width=d.width,
        height=d.height,
        num_frames=d.frames,
        fps=d.fps,
        seed=0,
        camera_distance=d.synth_camera_distance,
    )
    write_synthetic_dataset(data_dir, synth, workers=2, progress=False)
    make_heldout(out / "heldout", first, args.heldout_clips)
    print(f"data ready in {time.perf_counter() - start:.0f} s; {len(runs)} runs", flush=True)
    failed = []
    for i, (v, s, cfg) in enumerate(runs, 1):
        t0 = time.perf_counter()
        try:
            notes = one_run(cfg, out, args, VARIANTS[v].sample_eval)
        except Exception as err:  # one broken run must not cost the others (a NaN loss, …)
            traceback.print_exc()
            notes = f"FAILED: {type(err).__name__}: {err}"
            failed.append(f"{v}/seed{s}")
        took = time.perf_counter() - t0
        elapsed = time.perf_counter() - start
        print(
            f"[{i:2d}/{len(runs)}] {v}/seed{s}: {took:.0f} s ({notes}); "
            f"elapsed {elapsed / 60:.1f} min",
            flush=True,
        )
    print(f"{len(runs)} runs in {(time.perf_counter() - start) / 60:.1f} min")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (run the same command again to retry)")
    print(f"next: python experiments/ablations/report.py --out {args.out}")


if __name__ == "__main__":
    main()
