"""Shared fixtures: tiny random Wan and dual models, built in the test (no hub, no files)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import pytest
import torch
from diffusers import WanTransformer3DModel

from echomotion_dualdit import DualDiT

torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_WAN = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "in_channels": 4,
    "out_channels": 4,
    "text_dim": 16,
    "freq_dim": 32,
    "ffn_dim": 32,
    "num_layers": 2,
    "rope_max_seq_len": 64,
}


def make_wan(seed: int = 0) -> WanTransformer3DModel:
    torch.manual_seed(seed)
    return WanTransformer3DModel(**TINY_WAN).eval()


def make_dual(seed: int = 0, *, random_task: bool = True, **options: object) -> DualDiT:
    """A dual model converted from a random tiny Wan; the motion branch (and, with
    ``random_task``, the task embedding) then re-randomized, so nothing new sits at its init."""
    dual = DualDiT.from_wan(make_wan(seed), **options)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in dual.named_parameters():
            if name.startswith("motion_") or (random_task and name.startswith("task_embedder")):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return dual.eval()


@pytest.fixture
def wan() -> WanTransformer3DModel:
    return make_wan()


@pytest.fixture
def inputs() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(123)
    return {
        "video": torch.randn(2, 4, 3, 8, 6, generator=gen),  # F=3, H=4, W=3 patches
        "motion": torch.randn(2, 9, 235, generator=gen),  # Tm = 4·2 + 1
        "video_timestep": torch.tensor([10.0, 731.0]),
        "motion_timestep": torch.tensor([250.0, 999.0]),
        "text": torch.randn(2, 7, 16, generator=gen),
    }
