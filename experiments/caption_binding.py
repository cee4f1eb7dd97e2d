#!/usr/bin/env python3
"""How much the caption steers the clothes in motion→video: the model's clean-video estimate x̂
of a garment under captions naming each cloth colour, at a few noise levels.

    python experiments/caption_binding.py checkpoints/synth-tiny --garment shirt --out binding.json

For each held-out clip (the eval's, seeds from 10000) and each σ: the clip's latents are noised,
x_σ = (1 − σ)·x + σ·ε (ε seeded), and the model is run once per cloth colour, with the clip's
motion clean (m2v) and its caption rewritten with the garment in that colour; x̂ = x_σ − σ·u is
decoded, and its mean colour over the pixels where the motion puts the garment
(`evaluation.garment_looks`) is named by the nearest rendering (`evaluation.nearest_color`).
Per σ it prints and writes:

- `accuracy`: the fraction of (clip, colour) pairs whose x̂ shows the captioned colour (chance
  1 / 11; the sampled video's garment is decided where this is reached),
- `spread`: the RMS distance (RGB, 0–255) of x̂'s garment colour from its mean over the
  captions: how far the caption moves it (0 = the caption is ignored),
- `distance`: the mean RGB distance of x̂'s garment colour from the captioned colour's
  rendering.

A sampler can only put in the clothes what x̂ holds at the high noise levels, where the image
says little and the caption everything; this separates that from the sampler.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from echomotion_motion_codec import SMPLMotion, atomic_path

DEFAULT_SIGMAS = (0.95, 0.8, 0.6, 0.4)


def recaptioned(clip: Any, garment: str, color: str) -> str:
    """The clip's caption with the garment in `color` (the synthetic world's own wording)."""
    from echomotion_humove.schema import Caption

    def caption(appearance: Any) -> str:
        parts = clip.caption
        return Caption.from_parts(appearance.caption(), parts.background, parts.action).full

    if caption(clip.appearance) != clip.caption.full:
        raise ValueError(f"clip {clip.seed}: its caption is not the synthetic world's wording")
    return caption(replace(clip.appearance, **{garment: color}))


def binding(
    checkpoint: Path,
    *,
    garment: str = "shirt",
    clips: int = 8,
    seed: int = 10_000,
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS,
) -> dict[str, Any]:
    """{"garment", "clips", "colors", "sigmas": {σ: {"accuracy", "spread", "distance"}}}."""
    from echomotion_samplers import Task
    from echomotion_samplers.pipeline import EchoMotionPipeline
    from echomotion_samplers.pipeline.adapter import DualDiTDenoiser
    from echomotion_trainer.evaluation import checkpoint_clips, garment_looks, nearest_color

    if not all(0.0 < s <= 1.0 for s in sigmas):
        raise ValueError(f"sigmas: expected noise levels in (0, 1], got {sigmas}")
    pipe = EchoMotionPipeline.from_pretrained(checkpoint)
    data, _ = checkpoint_clips(pipe, checkpoint, clips, seed=seed)
    denoiser = DualDiTDenoiser(pipe.transformer, pipe.encode_prompts([""]).embeddings)
    generator = torch.Generator().manual_seed(seed)
    rows: dict[float, list[tuple[bool, float]]] = {s: [] for s in sigmas}
    spreads: dict[float, list[float]] = {s: [] for s in sigmas}
    names: list[str] = []
    for clip in data:
        motion = clip.motion.to("cpu", torch.float32)
        names, looks, region = garment_looks(motion, clip, garment)
        if not region.any():
            continue  # the garment is out of view
        k = len(names)
        text = pipe.encode_prompts([recaptioned(clip, garment, n) for n in names])
        x = pipe.encode_video(clip.frames[None]).expand(k, -1, -1, -1, -1)
        m = pipe.encode_motion(pipe.place_in_camera(SMPLMotion.stack([motion])))
        m = m.expand(k, -1, -1)
        noise = torch.randn(x.shape[1:], generator=generator).to(x)[None].expand_as(x)
        for sigma in sigmas:
            s = torch.full((k,), sigma, device=x.device)
            xs = (1 - sigma) * x + sigma * noise
            with torch.no_grad():
                u = denoiser(
                    video=xs,
                    motion=m,
                    video_sigma=s,
                    motion_sigma=torch.zeros_like(s),
                    text=text,
                    task=Task.M2V,
                ).video
            assert u is not None
            frames = pipe.decode_video(xs - sigma * u).astype(np.float32)  # (K, T, H, W, 3)
            seen = frames[:, region].mean(1)  # (K, 3)
            spreads[sigma].append(float(np.sqrt(((seen - seen.mean(0)) ** 2).sum(-1).mean())))
            for i, name in enumerate(names):
                target = looks[i][region].mean(0)
                guess = nearest_color(frames[i], names, looks, region)
                rows[sigma].append((guess == name, float(np.linalg.norm(seen[i] - target))))
    if not names or not rows[sigmas[0]]:
        raise ValueError(f"garment: the {garment} is out of view in every clip")
    return {
        "checkpoint": str(checkpoint),
        "garment": garment,
        "clips": len(spreads[sigmas[0]]),
        "colors": names,
        "sigmas": {
            f"{s:g}": {
                "accuracy": float(np.mean([r[0] for r in rows[s]])),
                "spread": float(np.mean(spreads[s])),
                "distance": float(np.mean([r[1] for r in rows[s]])),
            }
            for s in sigmas
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint folder (pipeline.json)")
    parser.add_argument("--garment", choices=("shirt", "trousers"), default="shirt")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seed", type=int, default=10_000, help="first clip seed (held out)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(DEFAULT_SIGMAS))
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args()
    if not (args.checkpoint / "pipeline.json").is_file():
        raise SystemExit(f"checkpoint: expected a folder holding pipeline.json: {args.checkpoint}")
    if args.clips < 1:
        raise SystemExit(f"--clips: expected >= 1, got {args.clips}")
    try:
        report = binding(
            args.checkpoint,
            garment=args.garment,
            clips=args.clips,
            seed=args.seed,
            sigmas=tuple(args.sigmas),
        )
    except ValueError as err:
        raise SystemExit(str(err)) from None
    chance = 1 / len(report["colors"])
    print(f"{report['garment']}: {report['clips']} clips, chance {chance:.2f}")
    print(f"{'sigma':>6} {'accuracy':>9} {'spread':>7} {'distance':>9}")
    for sigma, row in report["sigmas"].items():
        print(f"{sigma:>6} {row['accuracy']:9.3f} {row['spread']:7.1f} {row['distance']:9.1f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out, suffix=".json") as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
