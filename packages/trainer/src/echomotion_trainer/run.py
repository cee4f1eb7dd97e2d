"""`run_training`: a whole run from a config — set-up, the two phases, checkpoints, export.

Launched as one process or by torchrun (same code). Rank 0 synthesizes (if asked) and fits the
statistics while the other ranks wait; every rank encodes its share of the latent and text
cache; then every rank builds the same model (seeded), shards it with FSDP2 (several processes,
or bf16), and trains.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .build import build_model, check_model_source, prepare_data
from .config import TrainConfig
from .distributed import init_distributed, parallelize
from .export import export_pipeline
from .gather import full_model
from .loop import StepRecord, Trainer
from .scalars import ScalarLogger
from .sources import IndexedBatchSource
from .validation import Validator

__all__ = ["RunSummary", "run_training"]


@dataclass(frozen=True)
class RunSummary:
    steps: int
    seconds: float
    final_loss_motion: float | None
    final_loss_video: float | None
    out_dir: Path
    export_dir: Path | None


def _final_losses(out_dir: Path, records: list[StepRecord], n: int = 20) -> dict[str, float | None]:
    """Mean of the last `n` logged motion / video losses of the whole run: from `metrics.jsonl`
    (which a resumed run continues), else from this invocation's records."""
    log = out_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    rows = rows or [vars(r) for r in records]
    out: dict[str, float | None] = {}
    for key in ("loss_motion", "loss_video"):
        values = [r[key] for r in rows if r.get(key) is not None][-n:]
        out[key] = sum(values) / len(values) if values else None
    return out


def run_training(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> RunSummary:
    start = time.time()
    check_model_source(config.model)  # before hours of encoding, not after
    info = init_distributed(config.device, timeout_minutes=config.parallel.timeout_minutes)
    out_dir = Path(config.out_dir)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(config.to_yaml())
        if not resume:
            _start_fresh(out_dir)
    warnings.filterwarnings("ignore", message="torch.distributed is disabled")
    data = prepare_data(config, out_dir, info=info)  # collective: every rank encodes its share
    codec = data.codec  # space-to-depth normalized with the training videos' statistics, or None

    torch.manual_seed(config.seed)  # every rank builds the same initial weights
    model = build_model(config.model)
    torch.nn.Module.to(model, info.device)  # (diffusers' typed `to` wrapper confuses mypy)
    model = parallelize(model, config, info)
    loader: dict[str, Any] = {
        "batch_size": config.data.batch_size,
        "rank": info.rank,
        "world_size": info.world_size,
        "num_workers": config.data.num_workers,
        "pin_memory": info.device.type == "cuda",
    }
    sources = {
        1: IndexedBatchSource(data.motion, data.collate_motion, seed=config.seed + 1, **loader),
        2: IndexedBatchSource(data.paired, data.collate_paired, seed=config.seed + 2, **loader),
    }
    scalars = ScalarLogger(out_dir, config.logging, enabled=info.is_main)
    for note in scalars.notes:
        print(note, file=sys.stderr)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not (progress and info.is_main),
    )
    task_id = bar.add_task(config.recipe, total=config.total_steps, stats="")
    tokens_per_step = _tokens_per_step(config, data.paired[0]) * info.world_size

    def on_step(record: StepRecord) -> None:
        scalars.log(record)
        stats = f"phase {record.phase} {record.paradigm:<11} loss {record.loss:.4f} {record.seconds * 1e3:.0f} ms/step"
        stats += f" {tokens_per_step / max(record.seconds, 1e-9):,.0f} tok/s"
        bar.update(task_id, completed=record.step, stats=stats)

    trainer = Trainer(
        config, model, sources, data.null_text, info, out_dir=out_dir, on_step=on_step
    )
    if config.logging.validate_every:
        trainer.validate = Validator(
            config, trainer, paired=data.paired, normalizer=data.normalizer, codec=codec
        )
    if resume and trainer.resume():
        bar.update(task_id, completed=trainer.step)
    with bar:
        records = trainer.train()
    scalars.close()
    export_dir = None
    final = full_model(trainer)  # collective under FSDP; the model on rank 0
    losses = _final_losses(out_dir, records)
    if info.is_main:
        export_dir = export_pipeline(config, final, data.normalizer, out_dir / "final", codec=codec)
        summary = {"steps": trainer.step, "seconds": time.time() - start,
                   "final_loss_motion": losses["loss_motion"],
                   "final_loss_video": losses["loss_video"]}  # fmt: skip
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if dist.is_initialized():
        dist.destroy_process_group()
    return RunSummary(
        steps=trainer.step,
        seconds=time.time() - start,
        final_loss_motion=losses["loss_motion"],
        final_loss_video=losses["loss_video"],
        out_dir=out_dir,
        export_dir=export_dir,
    )


def _start_fresh(out_dir: Path) -> None:
    """A run without --resume does not mix with an earlier one in the same folder: its
    checkpoints and step log are removed (the data, latent cache and statistics stay)."""
    old = out_dir / "checkpoints"
    if old.is_dir() and any(old.iterdir()):
        print(
            f"starting fresh: removing the earlier run's checkpoints in {old} (use --resume to continue)",
            file=sys.stderr,
        )
        shutil.rmtree(old)
    (out_dir / "metrics.jsonl").unlink(missing_ok=True)


def _tokens_per_step(config: TrainConfig, item: dict[str, Any]) -> int:
    """Video + motion tokens of one process's batch (for the tokens/s figure)."""
    _, f, h, w = item["video_latents"].shape
    video = f * (h // 2) * (w // 2)  # the presets patchify (1, 2, 2)
    motion = item["transl"].shape[0] * 51
    return config.data.batch_size * (video + motion)
