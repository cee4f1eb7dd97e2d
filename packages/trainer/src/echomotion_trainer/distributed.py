"""torch.distributed plumbing: process-group setup from torchrun's environment and FSDP2.

The model never mentions FSDP (STYLE.md): `parallelize` applies `fully_shard` to each
transformer layer, then to the root. One process without torchrun is world size 1 on the same
code path (a process group of one when FSDP2 is used for bf16, none otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

if TYPE_CHECKING:
    from echomotion_dualdit import DualDiT

    from .config import TrainConfig

__all__ = [
    "DistInfo",
    "all_reduce_mean",
    "init_distributed",
    "needs_sharding",
    "parallelize",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto", *, timeout_minutes: float = 60.0) -> DistInfo:
    """Join torchrun's process group (NCCL on CUDA, gloo on CPU) if launched by torchrun.

    ``timeout_minutes`` bounds how long a collective waits for the slowest rank (NCCL's default
    of 10 minutes is shorter than a first real run's slow steps)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device: 'cuda' was asked for but no CUDA device is available")
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend=_backend(dev), timeout=timedelta(minutes=timeout_minutes))
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def _backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def needs_sharding(config: TrainConfig, info: DistInfo) -> bool:
    """FSDP2 wraps the model when there are several processes, or when it computes in bf16
    (FSDP2's mixed precision keeps fp32 master weights; one process is a group of one)."""
    return info.distributed or config.mixed_precision == "bf16"


def parallelize(model: DualDiT, config: TrainConfig, info: DistInfo) -> DualDiT:
    """Shard ``model`` with FSDP2 as ``config`` says (or return it as it is, see `needs_sharding`).

    The unit is a transformer layer (``model.blocks[i]``: a `DualStreamBlock`, the video block
    with its motion block), the module whose own forward runs everything the layer computes;
    then the root (embeddings, heads, the motion codec MLPs). Parameters stay fp32 (master
    weights); with bf16 the gathered copies are bf16 and gradients are reduced in fp32.
    """
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard

    bad = sorted({str(p.dtype) for p in model.parameters() if p.dtype != torch.float32})
    if bad:
        raise ValueError(
            f"model: master weights must be float32, got {bad} (build_model upcasts a bf16 checkpoint)"
        )
    if not needs_sharding(config, info):
        return model
    if not dist.is_initialized():  # one process in bf16: a process group of one
        dist.init_process_group(
            backend=_backend(info.device),
            store=dist.HashStore(),
            rank=0,
            world_size=1,
            timeout=timedelta(minutes=config.parallel.timeout_minutes),
        )
    policy = MixedPrecisionPolicy(
        param_dtype=torch.bfloat16 if config.mixed_precision == "bf16" else None,
        reduce_dtype=torch.float32,
        cast_forward_inputs=False,  # timesteps and positions stay fp32; autocast casts matmuls
    )
    par = config.parallel
    options: dict[str, Any] = {"mp_policy": policy}
    if par.cpu_offload:
        options["offload_policy"] = CPUOffloadPolicy(pin_memory=info.device.type == "cuda")
    for layer in model.blocks:
        fully_shard(layer, reshard_after_forward=par.reshard_after_forward, **options)
    # The root's parameters (embeddings, heads) are used again at the start of backward.
    fully_shard(model, reshard_after_forward=False, **options)
    return model


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean over ranks (identity on one process)."""
    if dist.is_available() and dist.is_initialized():
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= dist.get_world_size()
    return value
