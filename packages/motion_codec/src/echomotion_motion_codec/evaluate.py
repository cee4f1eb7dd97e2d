"""`evaluate_motion`: every motion metric that applies to a (predicted, target) pair, as floats.

Used by the evaluation of all three modes: v2m (recovered vs true motion), joint and m2v
(smoothness and foot skating of generated motion, against the data's own figures).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .metrics import (
    acceleration,
    acceleration_error,
    foot_skating_ratio,
    geodesic_angle,
    jitter,
    joint_angle_error,
    mpjpe,
    pa_mpjpe,
)
from .motion import SMPLMotion

__all__ = ["evaluate_motion"]


def _world_joints(motion: SMPLMotion, world_from_camera: Tensor | None) -> Tensor:
    """(..., T, 24, 3) joints in the y-up world frame (floor y = 0) of a world-frame motion, or of
    a camera-frame one mapped by world_from_camera (x_world = R x_cam + t)."""
    if motion.frame == "world" or world_from_camera is None:
        return motion.joints
    m = world_from_camera.to(motion.joints)
    rotation, translation = m[..., :3, :3], m[..., :3, 3]  # (..., 3, 3), (..., 3)
    r = rotation[..., None, None, :, :]  # (..., 1, 1, 3, 3): one per sequence
    return (r @ motion.joints[..., None])[..., 0] + translation[..., None, None, :]


def _check_world_from_camera(motion: SMPLMotion, world_from_camera: Tensor | None) -> None:
    if world_from_camera is None:
        return
    if motion.frame != "camera":
        raise ValueError(
            f"world_from_camera: only meaningful for camera-frame motion, got frame {motion.frame!r}"
        )
    allowed = ((4, 4), (*motion.batch_shape, 4, 4))
    if tuple(world_from_camera.shape) not in allowed:
        raise ValueError(
            f"world_from_camera: expected shape (4, 4) or {allowed[1]} (one per sequence), "
            f"got {tuple(world_from_camera.shape)}"
        )


def _skating(motion: SMPLMotion, world_from_camera: Tensor | None) -> Tensor:
    if motion.frame == "world" or world_from_camera is not None:
        return foot_skating_ratio(_world_joints(motion, world_from_camera), motion.fps)
    # Camera frame, camera unknown: y points down; floor = the lowest foot of each sequence.
    return foot_skating_ratio(motion.joints, motion.fps, up=(0.0, -1.0, 0.0), floor=None)


def evaluate_motion(
    pred: SMPLMotion,
    target: SMPLMotion | None = None,
    *,
    world_from_camera: Tensor | None = None,
    target_world_from_camera: Tensor | None = None,
) -> dict[str, float]:
    """Motion metrics averaged over every frame of every sequence (single or batched motions).

    Always (of `pred`, and of `target` with the prefix `target_` when given, as the data's own
    reference figures):
      accel_m_s2            mean joint acceleration (second difference × fps²), m/s²
      jitter_m_s3           mean joint jerk (third difference × fps³), m/s³ (needs T ≥ 4)
      foot_skating_ratio    fraction of frame pairs with a skating foot (DATA_FORMATS.md)
      root_consistency_deg  mean θ₀–γ angle, degrees (0 for data)
    With `target` (same frames, fps, coordinate frame and batch shape):
      mpjpe_mm              pelvis-centred MPJPE over the 24 SMPL joints, mm
      pa_mpjpe_mm           Procrustes-aligned (with scale) MPJPE per frame, mm
      joint_angle_error_deg mean geodesic angle of the local rotations θ₁…θ₂₃, degrees
      global_orient_error_deg  geodesic angle of γ (the frame's root orientation), degrees
      accel_error_m_s2      WHAM's acceleration error, m/s²

    Foot skating needs the floor: world-frame motion uses y up, floor y = 0; camera-frame motion
    uses `world_from_camera` ((4, 4) or one per sequence; `target_world_from_camera` for the
    target, defaulting to the same) when given, else camera y down with the floor at each
    sequence's lowest foot height (an estimate; see `metrics.foot_skating`).
    """
    _check_world_from_camera(pred, world_from_camera)
    out: dict[str, float] = {}
    if target is not None:
        problems = [
            f"{name} {a!r} vs {b!r}"
            for name, a, b in (
                ("num_frames", pred.num_frames, target.num_frames),
                ("fps", pred.fps, target.fps),
                ("frame", pred.frame, target.frame),
                ("batch_shape", pred.batch_shape, target.batch_shape),
            )
            if a != b
        ]
        if problems:
            raise ValueError(f"target: must match pred in {', '.join(problems)}")
        target_wfc = (
            world_from_camera if target_world_from_camera is None else target_world_from_camera
        )
        _check_world_from_camera(target, target_wfc)
        out["mpjpe_mm"] = float(mpjpe(pred.joints, target.joints).mean())
        out["pa_mpjpe_mm"] = float(pa_mpjpe(pred.joints, target.joints).mean())
        out["joint_angle_error_deg"] = float(
            joint_angle_error(pred.pose[..., 1:, :], target.pose[..., 1:, :]).mean()
        )
        out["global_orient_error_deg"] = float(
            torch.rad2deg(geodesic_angle(pred.global_orient, target.global_orient)).mean()
        )
        if pred.num_frames >= 3:
            out["accel_error_m_s2"] = float(
                acceleration_error(pred.joints, target.joints, pred.fps).mean()
            )
    for prefix, motion, wfc in (
        ("", pred, world_from_camera),
        (
            "target_",
            target,
            target_world_from_camera if target_world_from_camera is not None else world_from_camera,
        ),
    ):
        if motion is None:
            continue
        if motion.num_frames >= 3:
            out[f"{prefix}accel_m_s2"] = float(acceleration(motion.joints, motion.fps).mean())
        if motion.num_frames >= 4:
            out[f"{prefix}jitter_m_s3"] = float(jitter(motion.joints, motion.fps).mean())
        out[f"{prefix}foot_skating_ratio"] = float(_skating(motion, wfc).mean())
        out[f"{prefix}root_consistency_deg"] = float(
            torch.rad2deg(motion.root_consistency()).mean()
        )
    return out
