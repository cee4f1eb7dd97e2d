"""Scalars of each step: metrics.jsonl is written by the loop; this adds TensorBoard (if the
`tensorboard` package is installed) and Weights & Biases (if installed and asked for)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from .config import LoggingConfig
from .loop import StepRecord

__all__ = ["ScalarLogger"]


class ScalarLogger:
    def __init__(self, out_dir: Path, cfg: LoggingConfig, *, enabled: bool = True) -> None:
        self.cfg = cfg
        self.notes: list[str] = []
        self._tb: Any = None
        self._wandb: Any = None
        if not enabled:
            return
        if cfg.tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                self.notes.append(
                    "TensorBoard logging skipped: `pip install tensorboard` to enable it"
                )
            else:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(out_dir / "tensorboard"))
        if cfg.wandb:
            if importlib.util.find_spec("wandb") is None:
                raise RuntimeError(
                    "logging.wandb is set but wandb is not installed: pip install wandb"
                )
            import wandb

            self._wandb = wandb.init(dir=str(out_dir), config={"out_dir": str(out_dir)})

    def log(self, record: StepRecord) -> None:
        if record.step % self.cfg.every:
            return
        scalars = {
            f"train/{k}": v
            for k, v in record.as_dict().items()
            if isinstance(v, int | float) and k not in ("step", "phase") and v is not None
        }
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, record.step)
        if self._wandb is not None:
            self._wandb.log(scalars, step=record.step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
