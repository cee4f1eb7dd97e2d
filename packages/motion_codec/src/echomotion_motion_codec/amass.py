"""Reading AMASS `.npz` files (SMPL-H `poses` (T,156) or SMPL-X (T,165)) into `SMPLMotion`.

Per DATA_FORMATS.md: `poses[:, 0:3]` root orientation, `[3:66]` the 21 body joints (SMPL 1–21);
SMPL's hand joints 22/23 do not exist in SMPL-H/X and are set to identity. `trans` (T,3) meters,
`betas` (first 10 used), frame rate under the key containing `mocap_frame` (`mocap_framerate`
or `mocap_frame_rate`). AMASS is z up; the result is turned y up with HumanML3D's rotation
(x, y, z) ↦ (−x, z, y) about the rest pelvis, so the floor stays at y = 0 (world frame).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .frames import Z_UP_TO_Y_UP, transform_motion
from .motion import SMPLMotion
from .resample import resample_motion
from .skeleton import NUM_BETAS, BodyModel, SkeletonBodyModel

__all__ = ["read_amass"]


def read_amass(
    path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    body_model: BodyModel | None = None,
    y_up: bool = True,
) -> SMPLMotion:
    """Read one AMASS sequence; resample to `fps` if given. η comes from `body_model`'s FK
    (pass an `SMPLBodyModel` for joints that match AMASS's own body)."""
    path = Path(path)
    body_model = body_model or SkeletonBodyModel()
    if not path.is_file():
        raise FileNotFoundError(f"AMASS file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        keys = list(data.keys())
        for key in ("poses", "trans", "betas"):
            if key not in data:
                raise ValueError(f"{path}: not an AMASS sequence, missing key {key!r} (has {keys})")
        rate_keys = [k for k in keys if "mocap_frame" in k]
        if not rate_keys:
            raise ValueError(f"{path}: no frame-rate key containing 'mocap_frame' (has {keys})")
        poses = np.asarray(data["poses"], dtype=np.float64)
        trans = np.asarray(data["trans"], dtype=np.float64)
        betas = np.asarray(data["betas"], dtype=np.float64).reshape(-1)
        rate = float(data[rate_keys[0]])
    if poses.ndim != 2 or poses.shape[1] not in (156, 165):
        raise ValueError(
            f"{path}: poses: expected shape (T, 156) SMPL-H or (T, 165) SMPL-X, got {poses.shape}"
        )
    if trans.shape != (poses.shape[0], 3):
        raise ValueError(f"{path}: trans: expected shape ({poses.shape[0]}, 3), got {trans.shape}")
    if betas.shape[0] < NUM_BETAS:
        betas = np.concatenate([betas, np.zeros(NUM_BETAS - betas.shape[0])])
    frames = poses.shape[0]
    axis_angle = np.zeros((frames, 24, 3))
    axis_angle[:, :22] = poses[:, :66].reshape(frames, 22, 3)
    pose = torch.from_numpy(axis_angle)
    motion = SMPLMotion.from_axis_angle(
        torch.from_numpy(trans),
        pose[:, 0],
        pose,
        torch.from_numpy(betas[:NUM_BETAS]),
        fps=rate,
        body_model=body_model,
        frame="world",
    )
    if y_up:
        motion = transform_motion(motion, Z_UP_TO_Y_UP.double(), body_model=body_model)
    if fps is not None:
        motion = resample_motion(motion, fps, body_model=body_model)
    return motion.to(dtype=torch.float32)
