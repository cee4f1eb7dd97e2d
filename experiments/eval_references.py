#!/usr/bin/env python3
"""Model-free reference figures for `echomotion eval` on the same held-out synthetic clips, so
its numbers can be read: what ignoring the input scores, and what a video with the right
backdrop but no person scores.

    python experiments/eval_references.py --clips 8 --seed 10000 --size 32 --frames 9 --fps 8 \
        --camera-distance 1.2 2.0

- v2m, "another clip's motion": clip i scored against clip i+1's camera-frame motion (a
  recovery that ignores the video, but is a real motion of the world).
- m2v, "backdrop only": the clip's camera, wall and floor with the person moved 1 km away
  (below a pixel), against the clip's frames (a generator that draws the scene and misses the
  figure).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from echomotion_trainer.evaluation import make_clips, render_motion, score_v2m, score_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seed", type=int, default=10000)
    parser.add_argument("--size", type=int, default=32, help="width = height in pixels")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument(
        "--camera-distance", type=float, nargs=2, default=None, metavar=("NEAR", "FAR"),
        help="the clips' camera range in meters (default: humove's; match the checkpoint's)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.clips < 2:
        raise SystemExit(
            f"--clips: expected >= 2 (clips are compared with each other), got {args.clips}"
        )
    clips = make_clips(
        args.clips, seed=args.seed, width=args.size, height=args.size, num_frames=args.frames,
        fps=args.fps, camera_distance=args.camera_distance,
    )  # fmt: skip
    print(json.dumps(reference_scores(clips), indent=1))


def reference_scores(clips: list[Any]) -> dict[str, dict[str, float]]:
    """{"v2m_another_clip": v2m scores, "m2v_backdrop_only": video scores}, means over clips."""
    v2m, m2v = [], []
    for i, clip in enumerate(clips):
        other = clips[(i + 1) % len(clips)]
        truth = clip.motion.to("cpu", torch.float32)
        v2m.append(score_v2m(other.motion.to("cpu", torch.float32), truth))
        far = torch.tensor([0.0, 0.0, 1e3])
        away = replace(truth, transl=truth.transl + far, joints=truth.joints + far)
        empty = render_motion(away, clip)
        m2v.append(score_video(empty, np.asarray(clip.frames)))
    return {
        "v2m_another_clip": {k: float(np.mean([r[k] for r in v2m])) for k in v2m[0]},
        "m2v_backdrop_only": {k: float(np.mean([r[k] for r in m2v])) for k in m2v[0]},
    }


if __name__ == "__main__":
    main()
