"""An unsharded copy of the trained model (optionally with the EMA weights), for export and
validation. Collective under FSDP2: every rank calls it; rank 0 gets the model, the others None."""

from __future__ import annotations

import copy

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from echomotion_dualdit import DualDiT

from .loop import Trainer

__all__ = ["full_model"]


def _full(t: Tensor) -> Tensor:
    full_tensor = getattr(t, "full_tensor", None)
    return full_tensor() if callable(full_tensor) else t  # DTensor → all-gathered tensor


def full_model(trainer: Trainer, *, ema: bool = True) -> DualDiT | None:
    model = trainer.model
    if not (dist.is_available() and dist.is_initialized()):
        copied = copy.deepcopy(model)
        if ema and trainer.ema is not None:
            trainer.ema.copy_to(copied)
        return copied  # type: ignore[return-value]
    state = get_model_state_dict(
        model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    shadow = (
        {k: _full(v).cpu() for k, v in trainer.ema.shadow.items()} if ema and trainer.ema else {}
    )
    if dist.get_rank() != 0:
        return None
    copied = DualDiT.from_config(model.config)  # type: ignore[attr-defined]
    copied.load_state_dict(state)
    with torch.no_grad():
        for name, p in copied.named_parameters():
            if name in shadow:
                p.copy_(shadow[name].to(p.dtype))
    return copied  # type: ignore[no-any-return]
