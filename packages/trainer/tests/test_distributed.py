"""`torchrun --nproc-per-node 2` on CPU (gloo, FSDP2) matches one process with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("distributed_worker.py")


def _run(cmd: list[str], tmp: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parent)}
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
def test_two_process_fsdp_matches_single_process(tmp_path: Path) -> None:
    single, double = tmp_path / "single.json", tmp_path / "double.json"
    _run([sys.executable, str(WORKER), str(single), "8"], tmp_path)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        "29517",
    ]
    _run([*torchrun, str(WORKER), str(double), "4"], tmp_path)
    a, b = json.loads(single.read_text()), json.loads(double.read_text())
    assert a["paradigms"] == b["paradigms"]
    assert len(a["losses"]) == 6
    torch.testing.assert_close(
        torch.tensor(b["losses"]), torch.tensor(a["losses"]), rtol=1e-4, atol=1e-5
    )
    assert a["params"].keys() == b["params"].keys()
    for k in a["params"]:
        torch.testing.assert_close(
            torch.tensor(b["params"][k]), torch.tensor(a["params"][k]), rtol=1e-4, atol=1e-5
        )
