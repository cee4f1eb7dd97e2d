"""The project's motion `.npz` format (version 1), saved atomically.

Keys: `format` = "echomotion.motion", `version` = 1, `transl` (T,3), `global_orient` (T,6),
`pose` (T,24,6), `betas` (10,), `joints` (T,24,3) — all float32 — `fps` (0-d float64) and
`frame` (0-d unicode: "camera" or "world"). A batch is saved with a leading B on every tensor.
Loading never unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .motion import SMPLMotion

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_motion", "save_motion"]

FORMAT_NAME = "echomotion.motion"
FORMAT_VERSION = 1
_TENSORS = ("transl", "global_orient", "pose", "betas", "joints")


def save_motion(path: str | os.PathLike[str], motion: SMPLMotion) -> Path:
    """Write `motion` to `path` (.npz); a crash leaves no half-written file."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path: expected a file name ending in .npz, got {path.name!r}")
    arrays = {k: getattr(motion, k).detach().to("cpu", torch.float32).numpy() for k in _TENSORS}
    with atomic_path(path, ".tmp.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            format=np.array(FORMAT_NAME),
            version=np.array(FORMAT_VERSION),
            fps=np.array(motion.fps, dtype=np.float64),
            frame=np.array(motion.frame),
            **arrays,
        )
    return path


def load_motion(path: str | os.PathLike[str], *, dtype: torch.dtype = torch.float32) -> SMPLMotion:
    """Read a motion `.npz` written by `save_motion`; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motion file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npz file ({err})") from err
    with data:
        if "format" not in data or str(data["format"]) != FORMAT_NAME:
            raise ValueError(
                f"{path}: not an EchoMotion motion file (key 'format' != {FORMAT_NAME!r})"
            )
        version = int(data["version"])
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{path}: motion format version {version}; this reader knows {FORMAT_VERSION}"
            )
        missing = [k for k in (*_TENSORS, "fps", "frame") if k not in data]
        if missing:
            raise ValueError(f"{path}: missing keys {missing}")
        tensors = {k: torch.from_numpy(np.asarray(data[k])).to(dtype) for k in _TENSORS}
        frame = str(data["frame"])
        fps = float(data["fps"])
    return SMPLMotion(**tensors, fps=fps, frame=frame)  # type: ignore[arg-type]
