"""`humove preview`: a picture of synthetic clips — frames, the motion's skeleton drawn over
them (projected with the renderer's own camera), and each clip's caption."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from echomotion_motion_codec import SMPL_JOINT_NAMES, SMPL_PARENTS

from .storage import atomic_write_bytes
from .synth.world import SyntheticClip, synthesize_clip

__all__ = ["overlay_skeleton", "preview_image", "write_preview"]

_LEFT, _RIGHT, _CENTER = (60, 120, 255), (255, 140, 30), (240, 240, 240)


def overlay_skeleton(frame: np.ndarray, joints_cam: np.ndarray, focal: float) -> np.ndarray:
    """Draw camera-frame joints (24, 3) over an (H, W, 3) frame; returns a new array."""
    from PIL import Image, ImageDraw

    h, w = frame.shape[:2]
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    z = np.maximum(joints_cam[:, 2], 1e-3)
    uv = np.stack([focal * joints_cam[:, 0] / z + w / 2, focal * joints_cam[:, 1] / z + h / 2], -1)
    width = max(1, w // 90)
    for j in range(1, 24):
        name = SMPL_JOINT_NAMES[j]
        color = (
            _LEFT if name.startswith("left") else _RIGHT if name.startswith("right") else _CENTER
        )
        p = SMPL_PARENTS[j]
        draw.line([tuple(uv[p]), tuple(uv[j])], fill=color, width=width)
    for j in range(24):
        x, y = uv[j]
        draw.ellipse([x - width, y - width, x + width, y + width], fill=(255, 255, 255))
    return np.asarray(img)


def preview_image(
    seeds: list[int], *, size: int = 128, num_frames: int = 33, fps: float = 16.0, columns: int = 4
) -> np.ndarray:
    """One row per seed: `columns` frames, first plain then with the skeleton, and the caption."""
    from PIL import Image, ImageDraw

    rows = []
    for seed in seeds:
        clip: SyntheticClip = synthesize_clip(
            seed, width=size, height=size, num_frames=num_frames, fps=fps
        )
        picks = np.linspace(0, num_frames - 1, columns).round().astype(int)
        joints = clip.motion.joints.numpy()
        tiles = [clip.frames[picks[0]]]
        tiles += [overlay_skeleton(clip.frames[k], joints[k], clip.focal) for k in picks[1:]]
        strip = np.concatenate(tiles, axis=1)
        text_h = 44
        canvas = Image.new("RGB", (strip.shape[1], size + text_h), (255, 255, 255))
        canvas.paste(Image.fromarray(strip), (0, 0))
        draw = ImageDraw.Draw(canvas)
        label = f"[{clip.action}] {clip.caption.full}"
        wrap = max(20, strip.shape[1] // 6)
        draw.multiline_text(
            (4, size + 3), "\n".join(textwrap.wrap(label, wrap)[:3]), fill=(0, 0, 0)
        )
        rows.append(np.asarray(canvas))
    return np.concatenate(rows, axis=0)


def write_preview(path: str | os.PathLike[str], seeds: list[int], **kwargs: int | float) -> Path:
    """Write `preview_image` as a PNG, atomically."""
    import io

    from PIL import Image

    image = preview_image(seeds, **kwargs)  # type: ignore[arg-type]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=True)
    return atomic_write_bytes(Path(path), buf.getvalue())
