from __future__ import annotations

from pathlib import Path

import pytest
from humove_helpers import make_synthetic

from echomotion_humove.parallel import run_shards
from echomotion_humove.storage import read_manifest
from echomotion_humove.synth.writer import SynthConfig, write_synthetic_dataset


def _square(x: int) -> dict[str, int]:
    return {"shard": x, "value": x * x}


def test_process_pool_runs_every_shard() -> None:
    out = run_shards(_square, range(5), workers=2)
    assert sorted(r["value"] for r in out) == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="executor"):
        run_shards(_square, [1], executor="slurm")  # type: ignore[arg-type]


def test_synth_resumes_and_parallel_equals_serial(tmp_path: Path, synthetic_dataset: Path) -> None:
    cfg = SynthConfig(
        clips=6, width=32, height=32, num_frames=9, fps=8.0, seed=0, shard_size=3, supersample=1
    )
    root = tmp_path / "par"
    assert write_synthetic_dataset(root, cfg, workers=2) == {"written": 2, "skipped": 0}
    assert write_synthetic_dataset(root, cfg, workers=2) == {"written": 0, "skipped": 2}
    assert read_manifest(root) == read_manifest(synthetic_dataset)


def test_ray_executor(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    root = make_synthetic(tmp_path / "ray")
    cfg = SynthConfig(
        clips=6, width=32, height=32, num_frames=9, fps=8.0, seed=0, shard_size=3, supersample=1
    )
    other = tmp_path / "ray2"
    write_synthetic_dataset(other, cfg, workers=2, executor="ray")
    assert read_manifest(other) == read_manifest(root)
