"""Train the real tiny DualDiT for a few steps (one process, or one rank under torchrun) and dump
the losses, paradigms and final weights as JSON.

Usage: python distributed_worker.py OUT.json PER_PROCESS_BATCH [--crash-after N] [--resume]
       [KEY=VALUE ...]   (training-config overrides)

The model is built and sharded by the same functions `run_training` uses (`build_model`,
`parallelize`); the data are fixed random latents, motions and text states, so the test is
about the distributed mechanics, not the data pipeline.
"""

import argparse
import json
import os
import signal
import warnings

import torch
from torch import Tensor
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from echomotion_trainer.build import build_model
from echomotion_trainer.config import TrainConfig, apply_overrides
from echomotion_trainer.distributed import init_distributed, parallelize
from echomotion_trainer.loop import TrainBatch, Trainer
from echomotion_trainer.sources import IndexedBatchSource

warnings.filterwarnings("ignore")

# Tiny-preset shapes: space-to-depth latents (48 channels), 3 latent frames of 4×4 cells, 9 motion
# frames, MiniLM-width text states.
ITEMS, C, F, H, W, TM, L, DT = 32, 48, 3, 4, 4, 9, 8, 384


def _data() -> list[dict[str, Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "video": torch.randn(C, F, H, W, generator=g),  # (C, F, h, w)
            "motion": torch.randn(TM, 235, generator=g),  # (Tm, P)
            "text": torch.randn(L, DT, generator=g),  # (L, Dt)
        }
        for _ in range(ITEMS)
    ]


def _collate(items: list[dict[str, Tensor]]) -> TrainBatch:
    return TrainBatch(*(torch.stack([i[k] for i in items]) for k in ("video", "motion", "text")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("per_process", type=int)
    parser.add_argument("--crash-after", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    base = [
        "device=cpu",
        "optim.lr=1e-3",
        "optim.warmup_steps=0",
        "optim.ema_decay=0.9",
        "phase1.steps=2",
        "phase2.steps=6",
        "phase2.p_cond_drop=0.5",
        "phase2.p_text_drop=0.3",
        f"data.batch_size={args.per_process}",
        f"out_dir={args.out}.run",
    ]
    cfg = apply_overrides(TrainConfig(), [*base, *args.overrides])
    info = init_distributed(cfg.device, timeout_minutes=cfg.parallel.timeout_minutes)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)
    model = parallelize(model, cfg, info)
    compute: set[str] = set()  # the dtype of a weight as the layer's forward sees it
    probe = model.blocks[0].attn1.to_q
    probe.register_forward_pre_hook(lambda m, _: compute.add(str(m.weight.dtype)))
    data = _data()
    sources = {
        p: IndexedBatchSource(
            data,
            _collate,
            batch_size=cfg.data.batch_size,
            seed=p,
            rank=info.rank,
            world_size=info.world_size,
        )
        for p in (1, 2)
    }
    trainer = Trainer(cfg, model, sources, torch.zeros(1, L, DT), info)
    if args.resume:
        assert trainer.resume(), "no checkpoint to resume from"
    if args.crash_after:
        trainer.train(until=args.crash_after)
        torch.distributed.barrier()  # every rank has finished the step (and its checkpoint)
        if info.rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)  # torchrun then stops the other rank
        torch.distributed.barrier()
    records = trainer.train()
    state = get_model_state_dict(
        model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    if info.is_main:
        with open(args.out, "w") as fh:
            json.dump(
                {
                    "losses": [r.loss for r in records],
                    "steps": [r.step for r in records],
                    "paradigms": [r.paradigm for r in records],
                    "master_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
                    "compute_dtypes": sorted(compute),
                    "sharded": type(model).__name__.startswith("FSDP"),
                    "params": {k: v.float().flatten().tolist() for k, v in state.items()},
                },
                fh,
            )
    if torch.distributed.is_initialized():
        # leave together: a rank that tears gloo down while another still writes its results
        # can abort at exit ("terminate called without an active exception")
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
