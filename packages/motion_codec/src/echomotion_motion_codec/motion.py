"""`SMPLMotion`: a frozen, validated container for one SMPL sequence or a batch of them.

Dimension legend: `...` optional batch dims (none for one sequence, (B,) for a batch),
`T` frames, 24 SMPL joints, rotations in 6D (first two matrix columns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Literal, get_args

import torch
from torch import Tensor

from .rotations import axis_angle_to_matrix, matrix_to_rotation_6d, rotation_6d_to_matrix
from .skeleton import NUM_BETAS, NUM_JOINTS, BodyModel

__all__ = ["CoordinateFrame", "MotionValidationError", "SMPLMotion"]

CoordinateFrame = Literal["camera", "world"]
_FRAMES: tuple[str, ...] = get_args(CoordinateFrame)
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class MotionValidationError(ValueError):
    """A field of an `SMPLMotion` has the wrong shape, dtype or values."""


def _shape_str(shape: tuple[int | str, ...]) -> str:
    return str(tuple(shape)).replace("'", "")


@dataclass(frozen=True, eq=False)
class SMPLMotion:
    """SMPL motion in one coordinate frame (DESIGN §3).

    Fields (paper symbol, shape):
      transl         v  (..., T, 3)      root translation, meters
      global_orient  γ  (..., T, 6)      root orientation in the motion's frame, 6D
      pose           θ  (..., T, 24, 6)  local joint rotations, 6D; θ₀ is the pelvis (≈ γ)
      betas          β  (..., 10)        body shape, one per sequence
      joints         η  (..., T, 24, 3)  joint positions from forward kinematics
      fps            frames per second
      frame          "camera" (OpenCV axes: x right, y down, z forward) or "world" (y up, floor y=0)
    """

    transl: Tensor
    global_orient: Tensor
    pose: Tensor
    betas: Tensor
    joints: Tensor
    fps: float
    frame: CoordinateFrame = "camera"

    def __post_init__(self) -> None:
        for f in ("transl", "global_orient", "pose", "betas", "joints"):
            value = getattr(self, f)
            if not isinstance(value, Tensor):
                raise MotionValidationError(
                    f"SMPLMotion.{f}: expected a torch.Tensor, got {type(value).__name__}"
                )
            if value.dtype not in _FLOAT_DTYPES:
                raise MotionValidationError(
                    f"SMPLMotion.{f}: expected a floating dtype, got {value.dtype}"
                )
        if self.transl.dim() < 2 or self.transl.shape[-1] != 3:
            raise MotionValidationError(
                f"SMPLMotion.transl: expected shape (..., T, 3), got {_shape_str(tuple(self.transl.shape))}"
            )
        lead = tuple(self.transl.shape[:-2])
        t = self.transl.shape[-2]
        expected: dict[str, tuple[int, ...]] = {
            "global_orient": (*lead, t, 6),
            "pose": (*lead, t, NUM_JOINTS, 6),
            "betas": (*lead, NUM_BETAS),
            "joints": (*lead, t, NUM_JOINTS, 3),
        }
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                symbolic = ("...", "T") if name != "betas" else ("...",)
                tail = shape[len(lead) + len(symbolic) - 1 :]
                raise MotionValidationError(
                    f"SMPLMotion.{name}: expected shape {_shape_str((*symbolic, *tail))} = "
                    f"{_shape_str(shape)} (from transl {_shape_str(tuple(self.transl.shape))}), got {_shape_str(got)}"
                )
        dtypes = {getattr(self, f).dtype for f in expected} | {self.transl.dtype}
        if len(dtypes) != 1:
            raise MotionValidationError(
                f"SMPLMotion: all tensors must share one dtype, got {sorted(map(str, dtypes))}"
            )
        devices = {getattr(self, f).device for f in expected} | {self.transl.device}
        if len(devices) != 1:
            raise MotionValidationError(
                f"SMPLMotion: all tensors must be on one device, got {devices}"
            )
        for f in ("transl", "global_orient", "pose", "betas", "joints"):
            value = getattr(self, f)
            if not bool(torch.isfinite(value).all()):
                bad = int((~torch.isfinite(value)).sum())
                raise MotionValidationError(f"SMPLMotion.{f}: {bad} non-finite values (NaN or inf)")
        for f in ("global_orient", "pose"):
            _check_rot6d(getattr(self, f), f"SMPLMotion.{f}")
        if not isinstance(self.fps, int | float) or not math.isfinite(self.fps) or self.fps <= 0:
            raise MotionValidationError(
                f"SMPLMotion.fps: expected a positive finite number, got {self.fps!r}"
            )
        object.__setattr__(self, "fps", float(self.fps))
        if self.frame not in _FRAMES:
            raise MotionValidationError(
                f"SMPLMotion.frame: expected one of {_FRAMES}, got {self.frame!r}"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_rotations(
        cls,
        transl: Tensor,
        global_orient: Tensor,
        pose: Tensor,
        betas: Tensor,
        *,
        fps: float,
        body_model: BodyModel,
        frame: CoordinateFrame = "camera",
    ) -> SMPLMotion:
        """Build from rotation matrices (γ: (..., T, 3, 3), θ: (..., T, 24, 3, 3)); η by FK."""
        joints = body_model.forward_kinematics(
            _root_replaced(pose, global_orient), betas[..., None, :], transl
        )
        return cls(
            transl=transl,
            global_orient=matrix_to_rotation_6d(global_orient),
            pose=matrix_to_rotation_6d(pose),
            betas=betas,
            joints=joints,
            fps=fps,
            frame=frame,
        )

    @classmethod
    def from_axis_angle(
        cls,
        transl: Tensor,
        global_orient: Tensor,
        pose: Tensor,
        betas: Tensor,
        *,
        fps: float,
        body_model: BodyModel,
        frame: CoordinateFrame = "camera",
    ) -> SMPLMotion:
        """Build from axis-angle (γ: (..., T, 3); θ: (..., T, 24, 3) or (..., T, 23, 3) without
        the pelvis, in which case θ₀ = γ); η by FK."""
        if pose.shape[-2] == NUM_JOINTS - 1:
            pose = torch.cat([global_orient[..., None, :], pose], dim=-2)
        return cls.from_rotations(
            transl,
            axis_angle_to_matrix(global_orient),
            axis_angle_to_matrix(pose),
            betas,
            fps=fps,
            body_model=body_model,
            frame=frame,
        )

    # ------------------------------------------------------------------ views
    @property
    def num_frames(self) -> int:
        return int(self.transl.shape[-2])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.transl.shape[:-2])

    @property
    def dtype(self) -> torch.dtype:
        return self.transl.dtype

    @property
    def device(self) -> torch.device:
        return self.transl.device

    def global_orient_matrix(self) -> Tensor:
        """(..., T, 3, 3) γ as orthonormal matrices."""
        return rotation_6d_to_matrix(self.global_orient)

    def pose_matrix(self) -> Tensor:
        """(..., T, 24, 3, 3) θ as orthonormal matrices."""
        return rotation_6d_to_matrix(self.pose)

    def fk_rotations(self) -> Tensor:
        """(..., T, 24, 3, 3) the rotations FK uses: θ with θ₀ replaced by γ."""
        return _root_replaced(self.pose_matrix(), self.global_orient_matrix())

    def recompute_joints(self, body_model: BodyModel) -> SMPLMotion:
        """A copy whose η is FK of (γ, θ₁…θ₂₃, β, v) under `body_model`."""
        joints = body_model.forward_kinematics(
            self.fk_rotations(), self.betas[..., None, :], self.transl
        )
        return replace(self, joints=joints.to(self.dtype))

    def root_consistency(self) -> Tensor:
        """(..., T) geodesic angle (radians) between θ₀ and γ: 0 for data, a quality figure for samples."""
        rel = self.pose_matrix()[..., 0, :, :].transpose(-1, -2) @ self.global_orient_matrix()
        cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
        return torch.acos(cos)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> SMPLMotion:
        kw = {f: getattr(self, f).to(device=device, dtype=dtype) for f in _TENSOR_FIELDS}
        return replace(self, **kw)

    def slice_frames(self, start: int, stop: int) -> SMPLMotion:
        """Frames [start, stop) of every sequence."""
        if not 0 <= start < stop <= self.num_frames:
            raise ValueError(
                f"slice_frames: need 0 <= start < stop <= {self.num_frames}, got {start}, {stop}"
            )
        kw = {f: getattr(self, f)[..., start:stop, :] for f in ("transl", "global_orient")}
        kw |= {f: getattr(self, f)[..., start:stop, :, :] for f in ("pose", "joints")}
        return replace(self, **kw)

    def __getitem__(self, index: int) -> SMPLMotion:
        """Sequence `index` of a batch."""
        if not self.batch_shape:
            raise IndexError(
                "SMPLMotion holds a single sequence; indexing selects a sequence of a batch"
            )
        return replace(self, **{f: getattr(self, f)[index] for f in _TENSOR_FIELDS})

    @staticmethod
    def stack(motions: list[SMPLMotion]) -> SMPLMotion:
        """Stack single sequences of equal length, fps and frame into a batch (B, ...)."""
        if not motions:
            raise ValueError("stack: expected at least one motion")
        first = motions[0]
        for m in motions[1:]:
            if (m.num_frames, m.fps, m.frame, m.batch_shape) != (
                first.num_frames,
                first.fps,
                first.frame,
                first.batch_shape,
            ):
                raise ValueError("stack: motions must share num_frames, fps, frame and batch shape")
        kw = {f: torch.stack([getattr(m, f) for m in motions]) for f in _TENSOR_FIELDS}
        return SMPLMotion(**kw, fps=first.fps, frame=first.frame)


_TENSOR_FIELDS = tuple(f.name for f in fields(SMPLMotion) if f.name not in ("fps", "frame"))


def _root_replaced(pose: Tensor, global_orient: Tensor) -> Tensor:
    """θ (..., 24, 3, 3) with θ₀ replaced by γ (..., 3, 3)."""
    return torch.cat([global_orient[..., None, :, :], pose[..., 1:, :, :]], dim=-3)


def _check_rot6d(rot6d: Tensor, name: str, eps: float = 1e-6) -> None:
    """Both columns must be non-zero and not parallel, so Gram–Schmidt gives a rotation."""
    a1, a2 = rot6d[..., :3].double(), rot6d[..., 3:].double()
    n1 = torch.linalg.vector_norm(a1, dim=-1)
    n2 = torch.linalg.vector_norm(a2, dim=-1)
    cross = torch.linalg.vector_norm(torch.linalg.cross(a1, a2, dim=-1), dim=-1)
    bad = (n1 < eps) | (n2 < eps) | (cross < eps * n1 * n2)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0].tolist())
        raise MotionValidationError(
            f"{name}: {int(bad.sum())} 6D rotations cannot be normalised (a zero column or two parallel "
            f"columns), first at index {where}; expected the first two columns of a rotation matrix"
        )
