"""`torchrun --nproc-per-node 2 -m echomotion_trainer train --recipe wan2.1-1.3b` on the CPU with
a tiny local Wan folder (tools/make_tiny_wan.py): synthesis, both ranks encoding their share
of the latent and UMT5 cache, phase 1, phase 2, a validation export, the final export, then
`echomotion generate` on the export — the Wan recipe's whole path, shrunk, on gloo.

The recipe's own settings stay (bf16 through FSDP2's mixed precision, gradient checkpointing,
Wan VAE, UMT5, shift 8, DataLoader workers); only sizes, steps and paths are overridden.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from make_tiny_wan import make_tiny_wan  # noqa: E402

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False
    )
    log = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, log
    return result.stdout + result.stderr


@pytest.mark.slow
def test_wan_recipe_under_torchrun_encodes_trains_exports_and_generates(tmp_path: Path) -> None:
    wan = make_tiny_wan(tmp_path / "wan", seed=0)
    run, data = tmp_path / "run", tmp_path / "data"
    overrides = [
        "device=cpu",
        f"model.wan_path={wan['transformer']}",
        f"data.vae_path={wan['vae']}",
        f"data.text_encoder_path={wan['text_encoder']}",
        f"data.dataset={data}",
        "data.synthesize=8",
        "data.frames=9",  # 3 latent frames
        "data.height=32",  # 4×4 latent cells, 2×2 patches of 1×2×2
        "data.width=32",
        "data.fps=8",
        "data.batch_size=1",
        "data.num_workers=1",
        "phase1.steps=2",
        "phase2.steps=3",
        "checkpoint.every=0",
        "logging.validate_every=4",  # several processes: an export, no sampling in the job
        f"out_dir={run}",
    ]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    torchrun += ["--master-port", str(_free_port())]
    train = ["-m", "echomotion_trainer", "train", "--recipe", "wan2.1-1.3b", *overrides]
    _run([*torchrun, *train], tmp_path)

    config = (run / "config.yaml").read_text()
    assert "mixed_precision: bf16" in config and "gradient_checkpointing: true" in config
    cache = list(data.glob("latents-wan_vae-umt5-9-bf16/*/*.safetensors"))
    assert len(cache) == 8  # both ranks' shares of the windows
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows] == [1, 1, 2, 2, 2]
    assert all(r["loss_video"] is None for r in rows[:2])
    assert all(r["loss"] == r["loss"] for r in rows)  # finite, not NaN
    assert (run / "validation" / "step_00000004" / "checkpoint" / "pipeline.json").is_file()
    final = run / "final"
    pipeline = json.loads((final / "pipeline.json").read_text())
    assert pipeline["text_encoder"]["kind"] == "umt5"
    assert pipeline["video_codec"]["kind"] == "wan_vae"
    assert (final / "transformer" / "config.json").is_file()

    out = tmp_path / "samples"
    generate = [str(BIN / "echomotion"), "generate", "--checkpoint", str(final)]
    generate += ["--mode", "joint", "--prompt", "a person walks forward", "--steps", "2"]
    generate += ["--seed", "0", "--device", "cpu", "--out", str(out)]
    _run(generate, tmp_path)
    for name in ("sample.mp4", "sample.npz", "sample.bvh", "generation.json"):
        assert (out / name).is_file(), name
