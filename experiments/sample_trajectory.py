#!/usr/bin/env python3
"""Picture what motion→video sampling does step by step: the clean-video estimate
x̂ = x_σ − σ·u (the samplers' `StepInfo.denoised`) at a few noise levels, beside the final
sample and the ground-truth rendering of the same motion, on fresh synthetic clips.

    python experiments/sample_trajectory.py checkpoints/synth-tiny docs/synth-tiny/trajectory.png \
        --solver euler

Each row is one clip (the middle frame of its 9); columns are x̂ at the chosen σ, the final
sample, and the ground truth. The per-column PSNR against the ground truth (mean over the
clips and all frames) is printed and written in the column heads. Sampling options not given
are the checkpoint's (pipeline.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import torch

from echomotion_motion_codec import SMPLMotion, atomic_path
from echomotion_motion_codec.image_metrics import psnr
from echomotion_samplers.settings import SolverKind

if TYPE_CHECKING:
    from PIL import Image


def _psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean PSNR (dB) of uint8 frames (B, T, H, W, 3)."""
    a = torch.from_numpy(pred).float().div(255)
    b = torch.from_numpy(target).float().div(255)
    return float(psnr(a, b, data_range=1.0).mean())


def trajectory(
    checkpoint: Path, *, clips: int, steps: int, seed: int, show: int, **sampling: Any
) -> tuple[list[str], list[np.ndarray], list[float]]:
    """Column heads, column frames (B, T, H, W, 3) and their PSNR against the ground truth."""
    from echomotion_samplers.pipeline import EchoMotionPipeline
    from echomotion_trainer.evaluation import checkpoint_clips

    pipe = EchoMotionPipeline.from_pretrained(checkpoint)
    data, _ = checkpoint_clips(pipe, checkpoint, clips, seed=seed)
    truth = pipe.place_in_camera(
        SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in data])
    )
    wanted = set(np.linspace(0, steps - 1, show).round().astype(int).tolist())
    estimates: list[tuple[float, torch.Tensor]] = []

    def record(info: Any) -> None:  # samplers' StepInfo
        if info.index in wanted and info.denoised.video is not None:
            estimates.append((info.sigma, info.denoised.video))

    gen = pipe.motion_to_video(
        [c.caption.full for c in data],
        truth,
        seed=seed,
        steps=steps,
        callback=record,
        **sampling,
        progress=False,
    )
    gt = np.stack([c.frames for c in data])  # (B, T, H, W, 3)
    heads, columns = [], []
    for sigma, latents in estimates:
        heads.append(f"x0-hat, sigma {sigma:.2f}")
        columns.append(pipe.decode_video(latents))
    heads += ["sample", "ground truth"]
    columns += [gen.video, gt]
    return heads, columns, [_psnr(c, gt) for c in columns]


def sheet(
    heads: list[str], columns: list[np.ndarray], scores: list[float], scale: int
) -> Image.Image:
    from PIL import Image, ImageDraw

    b, t, h, w, _ = columns[0].shape
    mid = t // 2
    cell_h, cell_w, top, pad = h * scale, w * scale, 26, 4
    canvas = Image.new(
        "RGB", (len(columns) * (cell_w + pad) + pad, top + b * (cell_h + pad)), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for j, (head, frames, score) in enumerate(zip(heads, columns, scores, strict=True)):
        x = pad + j * (cell_w + pad)
        draw.text((x, 2), head, fill="black")
        draw.text((x, 13), f"{score:.1f} dB", fill="black")
        for i in range(b):
            tile = Image.fromarray(frames[i, mid]).resize((cell_w, cell_h), Image.NEAREST)
            canvas.paste(tile, (x, top + i * (cell_h + pad)))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint folder (pipeline.json)")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30, help="solver steps")
    parser.add_argument("--solver", choices=get_args(SolverKind), default=None)
    parser.add_argument("--eta", type=float, default=None, help="stochastic solver's video η")
    parser.add_argument("--show", type=int, default=6, help="how many x̂ columns")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--scale", type=int, default=3, help="pixel upscaling of the tiles")
    args = parser.parse_args()
    if not (args.checkpoint / "pipeline.json").is_file():
        raise SystemExit(f"checkpoint: expected a folder holding pipeline.json: {args.checkpoint}")
    if args.clips < 1 or args.steps < 1 or not 1 <= args.show <= args.steps or args.scale < 1:
        raise SystemExit("--clips, --steps, --scale: expected >= 1; --show: 1 … --steps")
    sampling = {k: v for k, v in (("solver", args.solver), ("eta", args.eta)) if v is not None}
    heads, columns, scores = trajectory(
        args.checkpoint,
        clips=args.clips,
        steps=args.steps,
        seed=args.seed,
        show=args.show,
        **sampling,
    )
    for head, score in zip(heads, scores, strict=True):
        print(f"{head:>16}: {score:6.2f} dB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out, suffix=".png") as tmp:
        sheet(heads, columns, scores, args.scale).save(tmp, format="png")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
