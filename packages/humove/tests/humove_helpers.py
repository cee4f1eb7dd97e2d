"""Helpers shared by the humove tests (imported by name: the tests folder is on sys.path)."""

from __future__ import annotations

from pathlib import Path

from echomotion_humove.synth.writer import SynthConfig, write_synthetic_dataset


def make_synthetic(root: Path, clips: int = 6, shard_size: int = 3, seed: int = 0) -> Path:
    cfg = SynthConfig(
        clips=clips,
        width=32,
        height=32,
        num_frames=9,
        fps=8.0,
        seed=seed,
        shard_size=shard_size,
        supersample=1,
    )
    write_synthetic_dataset(root, cfg)
    return root
