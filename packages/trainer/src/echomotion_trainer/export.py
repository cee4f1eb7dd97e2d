"""Export of a finished run: the EMA (or raw) weights as a folder the generation pipeline loads."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from .loop import Trainer

__all__ = ["export_pipeline"]


def export_pipeline(config: Any, trainer: Trainer, normalizer: Any, out: Path) -> Path:
    """Write `out/transformer/` (save_pretrained, safetensors), the motion normalizer and the
    training config; written next to `out` and renamed into place."""
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model = trainer.model
    if trainer.ema is not None:
        model = copy.deepcopy(model)
        trainer.ema.copy_to(model)
    model.save_pretrained(str(tmp / "transformer"))  # type: ignore[operator]
    normalizer.save(tmp / "motion_normalizer.safetensors")
    (tmp / "train_config.yaml").write_text(config.to_yaml())
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
