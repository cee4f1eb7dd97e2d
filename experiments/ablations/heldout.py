"""Held-out flow-matching loss of a finished run, per task, on a fixed σ grid with fixed noise.

The held-out clips are a synthetic dataset of their own (dataset seed `HELDOUT_SEED`: clip seeds
7·1 000 003 + i, apart from the training clips 0…511 and `echomotion eval`'s 10 000 + i). They go
through the training path itself — `prepare_data` with the run's own folder, so the run's
fitted pixel statistics and motion normalizer are read, never refitted on held-out clips — and
the run's exported weights (`final/`) predict the velocity of every clip at every σ of the grid,
the noise drawn once from a fixed generator so every run sees the same noisy inputs.

| mode        | task        | video        | motion       | text   | loss on        |
|-------------|-------------|--------------|--------------|--------|----------------|
| joint       | JOINT       | noised at σ  | noised at σ  | prompt | video + motion |
| m2v         | M2V         | noised at σ  | clean        | prompt | video          |
| t2v         | M2V         | noised at σ  | absent       | prompt | video          |
| v2m         | V2M         | clean        | noised at σ  | empty  | motion         |
| motion_only | MOTION_ONLY | absent       | noised at σ  | prompt | motion         |

(v2m has the empty prompt because training always drops its text; t2v is the m2v task with
the motion absent, the pass ICCFG makes and the one video-only tuning trains.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from echomotion_dualdit import DualDiT
from echomotion_humove.synth.writer import SynthConfig, write_synthetic_dataset
from echomotion_motion_codec import atomic_path
from echomotion_samplers import Task
from echomotion_trainer.build import build_text_encoder, build_video_codec, prepare_data
from echomotion_trainer.config import TrainConfig, apply_overrides, load_config
from echomotion_trainer.flow import add_noise, flow_loss, velocity_target

__all__ = ["HELDOUT_SEED", "MODES", "SIGMAS", "heldout_losses", "make_heldout", "write_heldout"]

HELDOUT_SEED = 7
SIGMAS = (0.1, 0.3, 0.5, 0.7, 0.9)
MODES = ("joint", "m2v", "t2v", "v2m", "motion_only")
NOISE_SEED = 20_261_125

# mode → (task, video role, motion role, use the empty prompt); roles: "noised" | "clean" | None
_PLANS: dict[str, tuple[Task, str | None, str | None, bool]] = {
    "joint": (Task.JOINT, "noised", "noised", False),
    "m2v": (Task.M2V, "noised", "clean", False),
    "t2v": (Task.M2V, "noised", None, False),
    "v2m": (Task.V2M, "clean", "noised", True),
    "motion_only": (Task.MOTION_ONLY, None, "noised", False),
}


def make_heldout(root: str | Path, config: TrainConfig, clips: int) -> Path:
    """Synthesize (or finish) the held-out clips at the training config's size, frames and fps."""
    d = config.data
    synth = SynthConfig(
        clips=clips,
        width=d.width,
        height=d.height,
        num_frames=d.frames,
        fps=d.fps,
        seed=HELDOUT_SEED,
        camera_distance=d.synth_camera_distance,
    )
    write_synthetic_dataset(root, synth, workers=1, progress=False)
    return Path(root)


def _noisy(x: Tensor, noise: Tensor, sigma: float, steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """(input at σ, Wan timestep, velocity target) for a batch x."""
    s = torch.full((x.shape[0],), sigma, dtype=torch.float32)
    return add_noise(x, noise, s), s * steps, velocity_target(x, noise)


@torch.no_grad()
def heldout_losses(
    run_dir: str | Path,
    heldout_root: str | Path,
    *,
    sigmas: Sequence[float] = SIGMAS,
    modes: Sequence[str] = MODES,
    batch_size: int = 16,
    noise_seed: int = NOISE_SEED,
) -> dict[str, Any]:
    """{"sigmas", "clips", "parameters", "modes": {mode: {"video"|"motion": [loss per σ]}}} of the run in
    `run_dir` (its `config.yaml`, fitted statistics and `final/` export), on CPU."""
    run = Path(run_dir)
    config = load_config(run / "config.yaml")
    held = apply_overrides(config, [f"data.dataset={heldout_root}", "data.synthesize=0"])
    text_encoder = build_text_encoder(held.data)
    data = prepare_data(held, run, text_encoder=text_encoder, codec=build_video_codec(held.data))
    model = DualDiT.from_pretrained(str(run / "final" / "transformer"), torch_dtype=torch.float32)
    model.eval()
    steps = config.flow.num_train_timesteps
    items = [data.paired[i] for i in range(len(data.paired))]
    batches = [
        data.collate_paired(items[i : i + batch_size]) for i in range(0, len(items), batch_size)
    ]
    gen = torch.Generator().manual_seed(noise_seed)
    noise = [
        [
            (
                torch.randn(b.video.shape, generator=gen),  # type: ignore[union-attr]
                torch.randn(b.motion.shape, generator=gen),
            )
            for b in batches
        ]
        for _ in sigmas
    ]
    totals: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    for mode in modes:
        task, video_role, motion_role, empty_prompt = _PLANS[mode]
        for k, sigma in enumerate(sigmas):
            sums: dict[str, float] = {}
            for b, batch in enumerate(batches):
                assert batch.video is not None
                n = batch.batch_size
                nv, nm = noise[k][b]
                v_in = v_t = v_target = m_in = m_t = m_target = None
                if video_role == "noised":
                    v_in, v_t, v_target = _noisy(batch.video, nv, sigma, steps)
                elif video_role == "clean":
                    v_in, v_t = batch.video, torch.zeros(n)
                if motion_role == "noised":
                    m_in, m_t, m_target = _noisy(batch.motion, nm, sigma, steps)
                elif motion_role == "clean":
                    m_in, m_t = batch.motion, torch.zeros(n)
                text = data.null_text.expand(n, -1, -1) if empty_prompt else batch.text
                out = model(
                    video=v_in,
                    motion=m_in,
                    video_timestep=v_t,
                    motion_timestep=m_t,
                    encoder_hidden_states=text,
                    task=torch.full((n,), int(task), dtype=torch.long),
                )
                if v_target is not None:
                    sums["video"] = sums.get("video", 0.0) + n * float(
                        flow_loss(out.video, v_target)
                    )
                if m_target is not None:
                    loss = float(flow_loss(out.motion, m_target))
                    sums["motion"] = sums.get("motion", 0.0) + n * loss
            for key, total in sums.items():
                totals[mode].setdefault(key, []).append(total / len(items))
    return {
        "format": "echomotion.ablation.heldout",
        "version": 1,
        "sigmas": list(sigmas),
        "clips": len(items),
        "noise_seed": noise_seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "modes": totals,
    }


def write_heldout(path: str | Path, result: dict[str, Any]) -> Path:
    out = Path(path)
    with atomic_path(out, suffix=".json") as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return out
