"""`benchmarks/gpu_check.py --dry-run`: the GPU check's own code path, on the CPU at the tiny
size, so that the script is known to run before a GPU is ever lent to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
ROWS = (
    "date",
    "device",
    "versions",
    "model",
    "shape",
    "train step",
    "peak memory",
    "planned terms",
    "FLOPs per step",
    "MFU",
    "sample joint",
    "sample m2v",
    "sample v2m",
    "activation law",
)


@pytest.mark.slow
def test_dry_run_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("EchoMotion GPU check"))
    assert "DRY RUN" in lines[start]
    names = [line.split("  ")[0] for line in lines[start + 1 :]]
    assert tuple(names) == ROWS
    assert "compute bfloat16" in result.stdout and "tiny:" in result.stdout
    record = json.loads(out.read_text())
    assert record["dry_run"] is True and record["peak_bytes"] is None
    assert set(record["sample_s"]) == {"joint", "m2v", "v2m"}
    assert record["forward_flops"] > 0 and record["train_step_s"] > 0
    assert record["planned"]["peak"] > record["planned"]["activations"] > 0
