"""`MotionLayout`: the 51 token slots per frame and the 235-number parameter vector (DESIGN §3).

Slot order (= vector order):
  0        transl v          position  width 3
  1..24    joints η_0..η_23  position  width 3
  25       global_orient γ   rotation  width 6
  26..49   pose θ_0..θ_23    rotation  width 6
  50       betas β           shape     width 10   (per sequence, repeated every frame)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .motion import CoordinateFrame, SMPLMotion
from .skeleton import NUM_BETAS, NUM_JOINTS, SMPL_JOINT_NAMES

__all__ = ["GROUPS", "MOTION_DIM", "NUM_SLOTS", "MotionLayout", "Slot", "SlotGroup"]

SlotGroup = Literal["position", "rotation", "shape"]
GROUPS: tuple[SlotGroup, ...] = ("position", "rotation", "shape")
GROUP_WIDTH: dict[SlotGroup, int] = {"position": 3, "rotation": 6, "shape": NUM_BETAS}


@dataclass(frozen=True)
class Slot:
    """One motion token: its name, group, width and its span in the 235-vector."""

    index: int
    name: str
    group: SlotGroup
    width: int
    start: int

    @property
    def stop(self) -> int:
        return self.start + self.width


def _build_slots() -> tuple[Slot, ...]:
    spec: list[tuple[str, SlotGroup]] = [("transl", "position")]
    spec += [(f"joint.{n}", "position") for n in SMPL_JOINT_NAMES]
    spec += [("global_orient", "rotation")]
    spec += [(f"pose.{n}", "rotation") for n in SMPL_JOINT_NAMES]
    spec += [("betas", "shape")]
    slots, start = [], 0
    for i, (name, group) in enumerate(spec):
        slots.append(Slot(i, name, group, GROUP_WIDTH[group], start))
        start += GROUP_WIDTH[group]
    return tuple(slots)


SLOTS = _build_slots()
NUM_SLOTS = len(SLOTS)  # 51
MOTION_DIM = SLOTS[-1].stop  # 235


class MotionLayout:
    """Pack an `SMPLMotion` into (..., T, 235) and back; the round trip is exact."""

    slots: tuple[Slot, ...] = SLOTS
    num_slots: int = NUM_SLOTS
    dim: int = MOTION_DIM

    def group_slots(self, group: SlotGroup) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.group == group)

    def group_index(self, group: SlotGroup) -> Tensor:
        """(n_slots_in_group, width) long indices into the 235-vector, slot by slot."""
        return torch.tensor([list(range(s.start, s.stop)) for s in self.group_slots(group)])

    def pack(self, motion: SMPLMotion) -> Tensor:
        """SMPLMotion → (..., T, 235)."""
        t = motion.num_frames
        betas = motion.betas[..., None, :].expand(*motion.batch_shape, t, NUM_BETAS)
        return torch.cat(
            [
                motion.transl,  # (..., T, 3)
                motion.joints.flatten(-2),  # (..., T, 72)
                motion.global_orient,  # (..., T, 6)
                motion.pose.flatten(-2),  # (..., T, 144)
                betas,  # (..., T, 10)
            ],
            dim=-1,
        )

    def split(self, vector: Tensor) -> dict[str, Tensor]:
        """(..., T, 235) → the fields, per frame (betas still per frame: (..., T, 10))."""
        if vector.shape[-1] != MOTION_DIM or vector.dim() < 2:
            raise ValueError(
                f"vector: expected shape (..., T, {MOTION_DIM}), got {tuple(vector.shape)}"
            )
        j = NUM_JOINTS
        o = 0

        def take(n: int) -> Tensor:
            nonlocal o
            out = vector[..., o : o + n]
            o += n
            return out

        transl = take(3)
        joints = take(3 * j).unflatten(-1, (j, 3))
        global_orient = take(6)
        pose = take(6 * j).unflatten(-1, (j, 6))
        betas = take(NUM_BETAS)
        return {
            "transl": transl,
            "joints": joints,
            "global_orient": global_orient,
            "pose": pose,
            "betas": betas,
        }

    def unpack(
        self, vector: Tensor, *, fps: float, frame: CoordinateFrame = "camera"
    ) -> SMPLMotion:
        """(..., T, 235) → SMPLMotion; β is the mean over frames (exact for packed data)."""
        parts = self.split(vector)
        betas = parts.pop("betas").mean(dim=-2)
        return SMPLMotion(**parts, betas=betas, fps=fps, frame=frame)
