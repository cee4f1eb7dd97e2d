"""The benchmark script must keep running (CI runs its dry-run mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


def test_benchmark_dry_run_prints_every_row() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ECHOMOTION_MVSROPE_BACKEND"}
    result = subprocess.run(
        [sys.executable, str(BENCH), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "measured copy bandwidth" in out
    assert out.count("k1 norm+rope") == 2  # fwd and bwd
    for path in ("attn k1+k2", "attn norm+k2(rope)", "attn eager+sdpa", "attn k1+sdpa"):
        assert path in out, path
