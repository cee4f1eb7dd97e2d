"""Checkpoints with torch.distributed.checkpoint: model, optimizer, EMA, LR schedule, step, phase,
data position and every RNG state; written to a temporary folder and renamed, so a crash never
leaves a half checkpoint that `--resume` would pick up.

Layout: `<root>/step_00000100/` = DCP shards (`model`, `optim`, `ema`, `rng` tensors) + `meta.json`
(step, phase, data position, LR-schedule state, python/numpy RNG, the config).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import Tensor, nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

__all__ = ["CheckpointManager", "capture_rng", "restore_rng"]

_PREFIX = "step_"


def capture_rng(generators: dict[str, torch.Generator]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Torch RNG states as tensors (for DCP) and python/numpy states as JSON."""
    tensors = {f"generator.{k}": g.get_state() for k, g in generators.items()}
    tensors["torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["cuda"] = torch.cuda.get_rng_state()
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]  # noqa: NPY002 (the global state is what we restore)
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
    }
    return tensors, plain


def restore_rng(
    tensors: dict[str, Tensor], plain: dict[str, Any], generators: dict[str, torch.Generator]
) -> None:
    for k, g in generators.items():
        g.set_state(tensors[f"generator.{k}"])
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))  # noqa: NPY002


def _is_main() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class CheckpointManager:
    """Saves and finds checkpoints under `root`, keeping the newest `keep_last`."""

    def __init__(self, root: str | os.PathLike[str], keep_last: int = 2) -> None:
        self.root = Path(root)
        self.keep_last = keep_last

    def checkpoints(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        done = [
            p
            for p in self.root.iterdir()
            if p.name.startswith(_PREFIX) and (p / "meta.json").is_file()
        ]
        return sorted(done, key=lambda p: int(p.name[len(_PREFIX) :]))

    def latest(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def save(
        self,
        step: int,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        tensors: dict[str, dict[str, Tensor]],
        meta: dict[str, Any],
    ) -> Path:
        """Collective on every rank. `tensors`: extra groups (e.g. "ema", "rng"); `meta`: JSON."""
        final = self.root / f"{_PREFIX}{step:08d}"
        tmp = self.root / f".{final.name}.tmp"
        if _is_main():
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
        _barrier()
        model_sd, optim_sd = get_state_dict(model, optimizer)
        dcp.save({"model": model_sd, "optim": optim_sd, **tensors}, checkpoint_id=str(tmp))
        _barrier()
        if _is_main():
            (tmp / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=1))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            for old in self.checkpoints()[: -self.keep_last]:
                shutil.rmtree(old, ignore_errors=True)
        _barrier()
        return final

    def load(
        self,
        path: str | os.PathLike[str],
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        tensors: dict[str, dict[str, Tensor]],
    ) -> dict[str, Any]:
        """Fill model, optimizer and the `tensors` templates (in place) from `path`; return meta."""
        path = Path(path)
        if not (path / "meta.json").is_file():
            raise FileNotFoundError(f"not a complete checkpoint (no meta.json): {path}")
        model_sd, optim_sd = get_state_dict(model, optimizer)
        state: dict[str, Any] = {"model": model_sd, "optim": optim_sd, **tensors}
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(
            model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"]
        )
        for k in tensors:
            tensors[k] = state[k]
        meta: dict[str, Any] = json.loads((path / "meta.json").read_text())
        return meta
