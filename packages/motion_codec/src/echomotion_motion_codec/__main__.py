"""`python -m echomotion_motion_codec demo --out DIR`: the codec end to end on the built-in motion.

Builds the walk cycle, packs it into the 51-token layout and back (checking the round trip),
saves the motion `.npz` and a BVH, and renders a skeleton video.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from .builtin import walk_cycle
from .layout import MotionLayout
from .npz_io import load_motion, save_motion


def demo(out: Path, frames: int, fps: float, size: int) -> None:
    from .bvh import save_bvh
    from .render import render_skeleton_video

    start = time.time()
    motion = walk_cycle(num_frames=frames, fps=fps)
    layout = MotionLayout()
    vector = layout.pack(motion)  # (T, 235)
    back = layout.unpack(vector, fps=motion.fps, frame=motion.frame)
    if not torch.equal(back.joints, motion.joints):
        raise RuntimeError("pack/unpack round trip is not exact")
    npz = save_motion(out / "walk.npz", motion)
    if not torch.equal(load_motion(npz).pose, motion.pose):
        raise RuntimeError("npz round trip is not exact")
    bvh = save_bvh(out / "walk.bvh", motion)
    mp4 = render_skeleton_video(motion, out / "walk_skeleton.mp4", width=size, height=size)
    print(
        f"motion: {motion.num_frames} frames at {motion.fps:g} fps → {vector.shape[-1]} numbers, "
        f"{layout.num_slots} tokens per frame ({motion.num_frames * layout.num_slots} tokens)"
    )
    for p in (npz, bvh, mp4):
        print(f"wrote {p} ({p.stat().st_size / 1024:.1f} KiB)")
    print(f"done in {time.time() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m echomotion_motion_codec")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo", help="run the codec on the built-in walk and render a skeleton video"
    )
    d.add_argument("--out", type=Path, default=Path("outputs/demo"))
    d.add_argument("--frames", type=int, default=81)
    d.add_argument("--fps", type=float, default=16.0)
    d.add_argument("--size", type=int, default=256, help="video width and height (even)")
    args = parser.parse_args()
    demo(args.out, args.frames, args.fps, args.size)


if __name__ == "__main__":
    main()
