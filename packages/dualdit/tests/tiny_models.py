"""Tiny random Wan and dual models, built in the test (no hub, no files).

A module of its own, not conftest.py: test files import these, and ``conftest`` is one module
name shared by every package's tests when several packages are tested in one pytest run.
"""

from __future__ import annotations

import torch
from diffusers import WanTransformer3DModel

from echomotion_dualdit import DualDiT

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
            motion = name.startswith("motion_") or ".motion." in name
            if motion or (random_task and name.startswith("task_embedder")):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return dual.eval()
