"""BVH export of an `SMPLMotion` on the SMPL skeleton (y up; rotations ZXY, degrees).

Camera-frame motions are turned y up by a 180° rotation about x (DESIGN §3); world-frame motions
are written as they are. The root carries 6 channels (position + rotation), every other joint 3.
Offsets are the rest skeleton of the motion's β under the given body model.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from .atomic import atomic_path
from .frames import CAMERA_FROM_YUP, transform_motion
from .motion import SMPLMotion
from .rotations import matrix_to_euler
from .skeleton import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS, BodyModel, SkeletonBodyModel

__all__ = ["save_bvh"]

_CHILDREN: dict[int, list[int]] = {
    j: [c for c in range(NUM_JOINTS) if SMPL_PARENTS[c] == j] for j in range(NUM_JOINTS)
}


def _depth_first(j: int = 0) -> list[int]:
    order = [j]
    for c in _CHILDREN[j]:
        order += _depth_first(c)
    return order


def save_bvh(
    path: str | os.PathLike[str],
    motion: SMPLMotion,
    *,
    body_model: BodyModel | None = None,
    scale: float = 100.0,
) -> Path:
    """Write one sequence as BVH; `scale` converts meters to the file's unit (default cm)."""
    if motion.batch_shape:
        raise ValueError(
            f"motion: expected one sequence, got a batch of shape {motion.batch_shape}"
        )
    body_model = body_model or SkeletonBodyModel()
    if motion.frame == "camera":
        motion = transform_motion(motion, CAMERA_FROM_YUP, body_model=body_model, frame="world")
    m = motion.to(dtype=torch.float64)
    rest = body_model.rest_joints(m.betas.float()).double()  # (24, 3)
    euler = torch.rad2deg(matrix_to_euler(m.fk_rotations(), "ZXY"))  # (T, 24, 3) = Z, X, Y
    root_pos = m.joints[:, 0, :] * scale  # (T, 3)
    order = _depth_first()

    lines = ["HIERARCHY"]

    def write_joint(j: int, depth: int) -> None:
        pad = "  " * depth
        if j == 0:
            lines.append(f"ROOT {SMPL_JOINT_NAMES[j]}")
            offset = torch.zeros(3, dtype=torch.float64)
        else:
            lines.append(f"{pad}JOINT {SMPL_JOINT_NAMES[j]}")
            offset = (rest[j] - rest[SMPL_PARENTS[j]]) * scale
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if j == 0:
            lines.append(
                f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
            )
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        if _CHILDREN[j]:
            for c in _CHILDREN[j]:
                write_joint(c, depth + 1)
        else:
            end = 0.5 * (rest[j] - rest[SMPL_PARENTS[j]]) * scale
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    write_joint(0, 0)
    lines += ["MOTION", f"Frames: {m.num_frames}", f"Frame Time: {1.0 / m.fps:.8f}"]
    for t in range(m.num_frames):
        values = [*root_pos[t].tolist()]
        for j in order:
            values += euler[t, j].tolist()
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"motion: non-finite BVH channel values at frame {t}")
        lines.append(" ".join(f"{v:.6f}" for v in values))

    with atomic_path(path, ".tmp.bvh") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="ascii")
    return Path(path)
