"""Shared fixtures: a tiny pipeline and a checkpoint directory saved from it (no hub access)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

from echomotion_samplers.pipeline import EchoMotionPipeline


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> EchoMotionPipeline:
    from tiny_pipeline import tiny_pipeline

    return tiny_pipeline(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def checkpoint(tiny: EchoMotionPipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_pretrained(tmp_path_factory.mktemp("ckpt") / "tiny-echomotion")
