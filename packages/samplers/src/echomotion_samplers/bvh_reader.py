"""Read back a BVH file in the layout the motion codec's `save_bvh` writes (for `--motion x.bvh`).

That layout: the 24 SMPL joints under their SMPL names, depth first; the root with 6 channels
`Xposition Yposition Zposition Zrotation Xrotation Yrotation`, every other joint 3 rotation
channels in ZXY order, degrees; positions and offsets in centimetres (scale 100); y up. The
root position column is the pelvis joint η₀ = J₀(β) + v. BVH carries no β, so β is fitted to
the file's rest offsets by least squares under the body model (exact for a file written with
the same body model, whose rest joints are linear in β). The motion comes back in the `world`
frame (BVH is y up); the pipeline places world-frame motion in front of a camera.
This is not a general BVH reader: other skeletons or channel layouts are a clear error.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from echomotion_motion_codec import (
    NUM_BETAS,
    NUM_JOINTS,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    BodyModel,
    SkeletonBodyModel,
    SMPLMotion,
)
from echomotion_motion_codec.rotations import euler_to_matrix

__all__ = ["BVHFormatError", "read_bvh"]

_ROOT_CHANNELS = ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
_JOINT_CHANNELS = ["Zrotation", "Xrotation", "Yrotation"]


class BVHFormatError(ValueError):
    """The file is not a BVH of the SMPL skeleton in the layout `save_bvh` writes."""


def _parse(
    path: Path,
) -> tuple[dict[str, tuple[str | None, list[float]]], list[str], float, list[list[float]]]:
    """name → (parent name, offset); joint order; frame time; per-frame channel values."""
    tokens = path.read_text(encoding="ascii", errors="replace").split()
    joints: dict[str, tuple[str | None, list[float]]] = {}
    order: list[str] = []
    stack: list[str | None] = []
    pending: str | None = None
    i = 0
    try:
        if tokens[0] != "HIERARCHY":
            raise BVHFormatError(f"{path}: not a BVH file (no HIERARCHY header)")
        i = 1
        while tokens[i] != "MOTION":
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                pending = tokens[i + 1]
                if pending in joints:
                    raise BVHFormatError(f"{path}: joint {pending!r} appears twice")
                parent = stack[-1] if stack else None
                joints[pending] = (parent, [])
                order.append(pending)
                i += 2
            elif tok == "End":  # End Site { OFFSET x y z }
                pending = None
                i += 2
            elif tok == "{":
                stack.append(pending)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                values = [float(v) for v in tokens[i + 1 : i + 4]]
                if stack and stack[-1] is not None:
                    joints[stack[-1]][1][:] = values
                i += 4
            elif tok == "CHANNELS":
                count = int(tokens[i + 1])
                channels = tokens[i + 2 : i + 2 + count]
                name = stack[-1]
                expected = _ROOT_CHANNELS if name == order[0] else _JOINT_CHANNELS
                if channels != expected:
                    raise BVHFormatError(
                        f"{path}: joint {name!r} has channels {channels}, expected {expected} "
                        "(the layout save_bvh writes)"
                    )
                i += 2 + count
            else:
                raise BVHFormatError(f"{path}: unexpected token {tok!r} in the hierarchy")
        if tokens[i + 1] != "Frames:" or tokens[i + 3 : i + 5] != ["Frame", "Time:"]:
            raise BVHFormatError(f"{path}: expected 'Frames: N' and 'Frame Time: dt' after MOTION")
        num_frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        values = [float(v) for v in tokens[i + 6 :]]
    except (IndexError, ValueError) as err:
        if isinstance(err, BVHFormatError):
            raise
        raise BVHFormatError(f"{path}: malformed BVH ({err})") from err
    width = 6 + 3 * (len(order) - 1)
    if num_frames < 1 or len(values) != num_frames * width:
        raise BVHFormatError(
            f"{path}: header says {num_frames} frames of {width} channels, found {len(values)} values"
        )
    rows = [values[t * width : (t + 1) * width] for t in range(num_frames)]
    return joints, order, frame_time, rows


def _offsets(joints: torch.Tensor) -> torch.Tensor:
    """(..., 24, 3) joint positions → (..., 23·3) parent-relative offsets of joints 1…23."""
    return (joints[..., 1:, :] - joints[..., list(SMPL_PARENTS[1:]), :]).flatten(-2)


def _fit_betas(offsets: torch.Tensor, body_model: BodyModel) -> torch.Tensor:
    """β whose rest skeleton best matches the (23·3,) parent offsets, least squares (rest joints
    are linear in β for both the skeleton and SMPL, so the basis is exact)."""
    base = _offsets(body_model.rest_joints(torch.zeros(NUM_BETAS, dtype=torch.float64))).double()
    basis = _offsets(body_model.rest_joints(torch.eye(NUM_BETAS, dtype=torch.float64))).double()
    basis = basis - base  # (10, 69)
    target = offsets.double() - base
    solution = torch.linalg.lstsq(basis.T, target[:, None]).solution[:, 0]
    return solution.float()


def read_bvh(
    path: str | os.PathLike[str], *, body_model: BodyModel | None = None, scale: float = 100.0
) -> SMPLMotion:
    """A BVH written by `save_bvh` → a world-frame `SMPLMotion` (η by FK under `body_model`).

    scale: file units per meter (save_bvh's default, 100 = centimetres).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motion file not found: {path}")
    body_model = body_model or SkeletonBodyModel()
    joints, order, frame_time, rows = _parse(path)
    names = list(SMPL_JOINT_NAMES)
    if sorted(order) != sorted(names) or order[0] != names[0]:
        raise BVHFormatError(
            f"{path}: expected the 24 SMPL joints rooted at 'pelvis', got {len(order)} joints "
            f"({', '.join(order[:4])}, …)"
        )
    for j, name in enumerate(names[1:], start=1):
        parent = joints[name][0]
        if parent != names[SMPL_PARENTS[j]]:
            raise BVHFormatError(
                f"{path}: joint {name!r} has parent {parent!r}, SMPL's is {names[SMPL_PARENTS[j]]!r}"
            )
    if not frame_time > 0 or not math.isfinite(frame_time):
        raise BVHFormatError(f"{path}: Frame Time must be positive, got {frame_time}")
    fps = 1.0 / frame_time
    fps = round(fps, 3) if abs(fps - round(fps, 3)) < 1e-4 * fps else fps  # undo 8-digit rounding

    data = torch.tensor(rows, dtype=torch.float64)  # (T, 6 + 3·23)
    if not bool(torch.isfinite(data).all()):
        raise BVHFormatError(f"{path}: non-finite channel values")
    num_frames = data.shape[0]
    root_pos = data[:, :3] / scale  # (T, 3) = η₀
    euler = torch.zeros(num_frames, NUM_JOINTS, 3, dtype=torch.float64)  # (T, 24, 3) Z, X, Y
    euler[:, 0] = data[:, 3:6]
    for k, name in enumerate(order[1:]):
        euler[:, names.index(name)] = data[:, 6 + 3 * k : 9 + 3 * k]
    rotations = euler_to_matrix(torch.deg2rad(euler), "ZXY").float()  # (T, 24, 3, 3)

    offsets = torch.tensor([joints[name][1] for name in names[1:]], dtype=torch.float64) / scale
    betas = _fit_betas(offsets.flatten(), body_model)  # (10,)
    j0 = body_model.rest_joints(betas)[0]  # (3,)
    transl = root_pos.float() - j0  # (T, 3)
    return SMPLMotion.from_rotations(
        transl, rotations[:, 0], rotations, betas, fps=fps, body_model=body_model, frame="world"
    )
