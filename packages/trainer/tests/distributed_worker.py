"""Run a few training steps (one process, or one rank under torchrun) and dump the results.

Usage: python distributed_worker.py OUT.json PER_PROCESS_BATCH
"""

import json
import sys
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from echomotion_trainer.config import TrainConfig, apply_overrides
from echomotion_trainer.distributed import init_distributed, shard_model
from echomotion_trainer.loop import TrainBatch, Trainer
from echomotion_trainer.sources import IndexedBatchSource

warnings.filterwarnings("ignore")


@dataclass
class Out:
    video: Tensor | None
    motion: Tensor | None


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.video_proj = nn.Sequential(nn.Linear(4, 16), nn.SiLU(), nn.Linear(16, 4))
        self.motion_proj = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 6))
        self.text_proj = nn.Linear(2, 4)

    def forward(
        self, *, video, motion, video_timestep, motion_timestep, encoder_hidden_states, task
    ) -> Out:  # type: ignore[no-untyped-def]
        t = self.text_proj(encoder_hidden_states.mean(1))  # (B, 4)
        v = None
        if video is not None:
            v = self.video_proj(video.movedim(1, -1) + t[:, None, None, None, :]).movedim(-1, 1)
        m = None if motion is None else self.motion_proj(motion) + t[:, None, :1]
        return Out(v, m)


def main() -> None:
    out_path, per_process = sys.argv[1], int(sys.argv[2])
    info = init_distributed("cpu")
    g = torch.Generator().manual_seed(0)
    data = [
        {
            "video": torch.randn(4, 2, 3, 3, generator=g),
            "motion": torch.randn(5, 6, generator=g),
            "text": torch.randn(3, 2, generator=g),
        }
        for _ in range(32)
    ]

    def collate(items: list[dict[str, Tensor]]) -> TrainBatch:
        return TrainBatch(
            *(torch.stack([i[k] for i in items]) for k in ("video", "motion", "text"))
        )

    cfg = apply_overrides(
        TrainConfig(),
        [
            "optim.lr=0.01",
            "phase1.steps=2",
            "phase2.steps=4",
            "phase2.p_cond_drop=0.3",
            "optim.ema_decay=0.9",
        ],
    )
    torch.manual_seed(0)
    model = Tiny()
    if info.distributed:
        shard_model(model, [model.video_proj, model.motion_proj])
    sources = {
        p: IndexedBatchSource(
            data,
            collate,
            batch_size=per_process,
            seed=p,
            rank=info.rank,
            world_size=info.world_size,
        )
        for p in (1, 2)
    }
    trainer = Trainer(cfg, model, sources, torch.zeros(1, 3, 2), info, out_dir=out_path + ".run")
    records = trainer.train()
    state = get_model_state_dict(
        model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    if info.is_main:
        with open(out_path, "w") as fh:
            json.dump(
                {
                    "losses": [r.loss for r in records],
                    "paradigms": [r.paradigm for r in records],
                    "params": {k: v.tolist() for k, v in state.items()},
                },
                fh,
            )
    if info.distributed:
        # leave together: a rank that tears gloo down while another still writes its results
        # can abort at exit ("terminate called without an active exception")
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
