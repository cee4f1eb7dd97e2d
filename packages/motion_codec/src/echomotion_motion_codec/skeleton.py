"""The SMPL kinematic tree, forward kinematics, and the built-in anthropometric skeleton.

Canonical body frame (SMPL's): +Y up, +Z forward (the body faces +Z), +X the subject's left.
Rest pose is SMPL's T-pose (arms horizontal along ±X).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = [
    "NUM_BETAS",
    "NUM_JOINTS",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "BodyModel",
    "SkeletonBodyModel",
    "forward_kinematics",
]

NUM_JOINTS = 24
NUM_BETAS = 10

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip


@runtime_checkable
class BodyModel(Protocol):
    """What the codec needs from a body model: rest joints and forward kinematics."""

    @property
    def parents(self) -> tuple[int, ...]: ...

    def rest_joints(self, betas: Tensor) -> Tensor:
        """(..., 10) shape coefficients β → (..., 24, 3) rest-pose joint positions."""
        ...

    def forward_kinematics(self, rotations: Tensor, betas: Tensor, transl: Tensor) -> Tensor:
        """Posed joints.

        rotations: (..., 24, 3, 3) local rotations, index 0 the global orientation.
        betas: (..., 10) whose leading dims broadcast against the rotations' (a per-sequence β
        of a (T, 24, 3, 3) sequence is passed as (1, 10)).
        transl: (..., 3) root translation v. Returns (..., 24, 3); joint 0 = J₀(β) + v.
        """
        ...


def forward_kinematics(
    rotations: Tensor, rest_joints: Tensor, transl: Tensor, parents: tuple[int, ...] = SMPL_PARENTS
) -> Tensor:
    """Posed joint positions from local rotations along a kinematic tree.

    rotations: (..., J, 3, 3); rest_joints: (..., J, 3) broadcastable to the same leading dims;
    transl: (..., 3). Returns (..., J, 3). Parents must precede children (one pass).
    """
    lead = torch.broadcast_shapes(rotations.shape[:-3], rest_joints.shape[:-2], transl.shape[:-1])
    num = len(parents)
    rotations = rotations.expand(*lead, num, 3, 3)
    rest_joints = rest_joints.expand(*lead, num, 3)
    transl = transl.expand(*lead, 3)
    world_rot: list[Tensor] = [rotations[..., 0, :, :]]  # (..., 3, 3)
    world_pos: list[Tensor] = [rest_joints[..., 0, :] + transl]  # (..., 3)
    for j in range(1, num):
        p = parents[j]
        if not 0 <= p < j:
            raise ValueError(f"parents: joint {j} has parent {p}; parents must precede children")
        offset = rest_joints[..., j, :] - rest_joints[..., p, :]  # (..., 3)
        world_pos.append(world_pos[p] + (world_rot[p] @ offset[..., None])[..., 0])
        world_rot.append(world_rot[p] @ rotations[..., j, :, :])
    return torch.stack(world_pos, dim=-2)


# Rest joints at β = 0 as fractions of body height (y up, x = subject's left, z forward),
# from the Drillis & Contini segment proportions (Winter, Biomechanics and Motor Control of
# Human Movement, Fig. 4.1): hip joint 0.530 H (greater trochanter), knee 0.285 H,
# ankle 0.039 H, shoulder 0.818 H, chin/neck 0.870 H, upper arm 0.186 H, forearm 0.146 H,
# hand 0.108 H, foot length 0.152 H; joint centres sit inside the outer widths
# (shoulder breadth 0.259 H, hip breadth 0.191 H).
_REST_FRACTIONS: tuple[tuple[float, float, float], ...] = (
    (0.000, 0.575, 0.000),   # pelvis
    (0.035, 0.530, 0.000),   # left_hip
    (-0.035, 0.530, 0.000),  # right_hip
    (0.000, 0.640, -0.005),  # spine1
    (0.038, 0.285, 0.005),   # left_knee
    (-0.038, 0.285, 0.005),  # right_knee
    (0.000, 0.720, 0.000),   # spine2
    (0.040, 0.039, -0.020),  # left_ankle
    (-0.040, 0.039, -0.020), # right_ankle
    (0.000, 0.755, 0.005),   # spine3
    (0.042, 0.010, 0.075),   # left_foot (ball of the foot)
    (-0.042, 0.010, 0.075),  # right_foot
    (0.000, 0.870, -0.010),  # neck
    (0.040, 0.825, -0.005),  # left_collar
    (-0.040, 0.825, -0.005), # right_collar
    (0.000, 0.930, 0.010),   # head
    (0.105, 0.818, -0.010),  # left_shoulder
    (-0.105, 0.818, -0.010), # right_shoulder
    (0.291, 0.818, -0.010),  # left_elbow   (+ upper arm 0.186)
    (-0.291, 0.818, -0.010), # right_elbow
    (0.437, 0.818, -0.010),  # left_wrist   (+ forearm 0.146)
    (-0.437, 0.818, -0.010), # right_wrist
    (0.491, 0.818, -0.010),  # left_hand    (+ half the hand)
    (-0.491, 0.818, -0.010), # right_hand
)  # fmt: skip

_LEGS = (4, 5, 7, 8)
_SPINE = (3, 6, 9, 12)
_ARMS = (18, 19, 20, 21, 22, 23)


def _shape_directions() -> Tensor:
    """(10, 24, 3) relative change of each parent→child offset per unit of β_k.

    β₀ scales the whole body, β₁ its width, β₂ leg length, β₃ arm length, β₄ torso length,
    β₅–β₉ smaller local changes (neck/head, feet, hands, hip width, shoulder width).
    """
    d = torch.zeros(NUM_BETAS, NUM_JOINTS, 3, dtype=torch.float64)
    d[0] = 0.06
    d[1, :, 0] = 0.05
    d[2, list(_LEGS)] = 0.04
    d[3, list(_ARMS)] = 0.04
    d[4, list(_SPINE)] = 0.03
    d[5, [12, 15]] = 0.02
    d[6, [10, 11]] = 0.02
    d[7, [22, 23]] = 0.02
    d[8, [1, 2], 0] = 0.03
    d[9, [13, 14, 16, 17], 0] = 0.03
    return d


class SkeletonBodyModel(torch.nn.Module):
    """A model-free SMPL-topology skeleton: anthropometric rest offsets, β changes bone lengths.

    The offset of every joint from its parent is ``o_j(β) = o_j ⊙ (1 + Σ_k β_k d_kj)``: linear in
    β. The root's rest position scales with body size and leg length so the feet stay near y = 0.
    """

    base_offsets: Tensor
    shape_dirs: Tensor

    def __init__(self, height: float = 1.70) -> None:
        super().__init__()
        if not height > 0:
            raise ValueError(f"height: expected a positive number of meters, got {height}")
        self.height = float(height)
        rest = torch.tensor(_REST_FRACTIONS, dtype=torch.float64) * self.height  # (24, 3)
        parents = torch.tensor([max(p, 0) for p in SMPL_PARENTS])
        offsets = rest - rest[parents]
        offsets[0] = rest[0]
        self.register_buffer("base_offsets", offsets.float(), persistent=False)
        self.register_buffer("shape_dirs", _shape_directions().float(), persistent=False)

    @property
    def parents(self) -> tuple[int, ...]:
        return SMPL_PARENTS

    def offsets(self, betas: Tensor) -> Tensor:
        """(..., 10) → (..., 24, 3) parent-relative rest offsets (row 0: the root's rest position)."""
        if betas.shape[-1] != NUM_BETAS:
            raise ValueError(f"betas: expected shape (..., {NUM_BETAS}), got {tuple(betas.shape)}")
        dirs = self.shape_dirs.to(betas)  # (10, 24, 3)
        scale = 1.0 + torch.einsum("...k,kjc->...jc", betas, dirs)  # (..., 24, 3)
        offsets = self.base_offsets.to(betas) * scale
        # The root's height follows the legs it stands on: body size and leg length.
        root_scale = 1.0 + betas[..., 0] * 0.06 + betas[..., 2] * 0.04  # (...)
        root = self.base_offsets[0].to(betas) * root_scale[..., None]
        return torch.cat([root[..., None, :], offsets[..., 1:, :]], dim=-2)

    def rest_joints(self, betas: Tensor) -> Tensor:
        offsets = self.offsets(betas)  # (..., 24, 3)
        joints: list[Tensor] = [offsets[..., 0, :]]
        for j in range(1, NUM_JOINTS):
            joints.append(joints[SMPL_PARENTS[j]] + offsets[..., j, :])
        return torch.stack(joints, dim=-2)

    def forward_kinematics(self, rotations: Tensor, betas: Tensor, transl: Tensor) -> Tensor:
        return forward_kinematics(rotations, self.rest_joints(betas), transl, SMPL_PARENTS)
