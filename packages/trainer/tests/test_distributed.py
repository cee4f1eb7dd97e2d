"""`torchrun --nproc-per-node 2` on CPU (gloo, FSDP2) trains the real tiny DualDiT exactly as one
process with the same global batch does, in every paradigm, and resumes exactly after kill -9.

Tolerance: losses and weights within 1e-5 (absolute, plus 1e-4 relative). The runs use AdamW
with eps = 1e-4: with the default 1e-8, parameters whose gradient is near zero (cross-attention
keys over random text states) get updates g/|g| of size lr whatever g's magnitude, and the last
bits in which a two-rank reduce-scatter and a one-process sum differ flip them: the weights then
differ by ~lr, which would hide a real error of that size. eps = 1e-4 keeps those updates
linear in g while the rest is still Adam.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("distributed_worker.py")
TOL = {"rtol": 1e-4, "atol": 1e-5}
COMMON = ["optim.eps=1e-4"]


def _run(args: list[str], tmp: Path, *, procs: int = 1, port: int = 29517, ok: bool = True) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parent)}
    launcher = [sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc-per-node", str(procs)]
        launcher += ["--master-port", str(port)]
    result = subprocess.run(
        [*launcher, str(WORKER), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=600,
        check=False,
    )
    if ok:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    else:
        assert result.returncode != 0, "the run was meant to be killed"


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def _assert_same(a: dict, b: dict, **tol: float) -> None:
    tol = tol or TOL
    assert a["paradigms"] == b["paradigms"]
    torch.testing.assert_close(torch.tensor(b["losses"]), torch.tensor(a["losses"]), **tol)
    assert a["params"].keys() == b["params"].keys()
    for k in a["params"]:
        torch.testing.assert_close(
            torch.tensor(b["params"][k]), torch.tensor(a["params"][k]), **tol, msg=k
        )


@pytest.mark.slow
def test_every_paradigm_matches_one_process_and_resumes_exactly(tmp_path: Path) -> None:
    """All-dual tiny model: phase 1 (motion only), then joint, m2v and v2m with conditions
    clean or dropped; then the same two-process run killed (-9) after its step-3 checkpoint
    and resumed gives the uninterrupted run's losses and weights bit for bit."""
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run([str(one), "4", *COMMON], tmp_path)
    _run([str(two), "2", *COMMON], tmp_path, procs=2)
    a, b = _read(one), _read(two)
    assert a["paradigms"][:2] == ["motion_only"] * 2
    assert {"joint", "m2v", "v2m"} <= set(a["paradigms"])
    _assert_same(a, b)

    resumed = tmp_path / "resumed.json"
    args = [str(resumed), "2", *COMMON, "checkpoint.every=3"]
    _run([*args, "--crash-after", "4"], tmp_path, procs=2, port=29518, ok=False)
    _run([*args, "--resume"], tmp_path, procs=2, port=29519)
    c = _read(resumed)
    assert c["steps"] == list(range(4, 9))  # continued from the step-3 checkpoint
    assert c["losses"] == b["losses"][3:]
    assert c["params"] == b["params"]


@pytest.mark.slow
def test_hybrid_layers_with_checkpointing_and_accumulation_match_one_process(
    tmp_path: Path,
) -> None:
    """Dual layers 1 and 3 of 4 (motion skips layers 0 and 2), gradient checkpointing on; the
    two processes accumulate two micro-batches of 1 (gradients reduced after the second only)
    with FSDP2's CPU offload policy, the one process takes batches of 4."""
    extra = [*COMMON, "model.dual_blocks=[1,3]", "model.gradient_checkpointing=true"]
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _run([str(one), "4", *extra], tmp_path)
    offload = ["optim.grad_accum=2", "parallel.cpu_offload=true"]
    _run([str(two), "1", *extra, *offload], tmp_path, procs=2, port=29520)
    a, b = _read(one), _read(two)
    assert not any(k.startswith(("blocks.0.motion.", "blocks.2.motion.")) for k in a["params"])
    assert any(k.startswith("blocks.3.motion.") for k in a["params"])
    _assert_same(a, b)


@pytest.mark.slow
def test_bf16_keeps_fp32_master_weights_on_one_process_as_on_two(tmp_path: Path) -> None:
    """mixed_precision=bf16: FSDP2 (a group of one on one process) computes with bf16 copies
    of fp32 master weights; two processes (ZeRO-2: reshard_after_forward=false) agree with one
    to bf16 accuracy, and with the fp32 run to about 1e-3."""
    one, two, fp32 = tmp_path / "one.json", tmp_path / "two.json", tmp_path / "fp32.json"
    _run([str(one), "4", *COMMON, "mixed_precision=bf16"], tmp_path)
    extra = ["mixed_precision=bf16", "parallel.reshard_after_forward=false"]
    _run([str(two), "2", *COMMON, *extra], tmp_path, procs=2, port=29521)
    _run([str(fp32), "4", *COMMON], tmp_path)
    a, b, c = _read(one), _read(two), _read(fp32)
    for run in (a, b):
        assert run["sharded"] and run["master_dtypes"] == ["torch.float32"]
        assert run["compute_dtypes"] == ["torch.bfloat16"]
    assert not c["sharded"] and c["compute_dtypes"] == ["torch.float32"]
    _assert_same(a, b, rtol=1e-2, atol=2e-3)
    torch.testing.assert_close(
        torch.tensor(a["losses"]), torch.tensor(c["losses"]), rtol=1e-2, atol=1e-3
    )
