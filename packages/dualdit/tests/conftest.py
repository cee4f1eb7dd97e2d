"""Shared fixtures (offline hub, two threads, Triton's CPU interpreter); the tiny models are in tiny_models.py."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import torch

# Triton kernels (asked for by name in test_processor.py) run in the CPU interpreter without
# CUDA; TRITON_INTERPRET must be set before triton is imported, which diffusers' import does.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest
from diffusers import WanTransformer3DModel
from tiny_models import make_wan

torch.set_num_threads(min(2, torch.get_num_threads()))


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
