"""`evaluate_motion`: every applicable metric, frames handled, mismatches refused."""

from __future__ import annotations

import pytest
import torch
from conftest import random_motion

from echomotion_motion_codec import (
    CAMERA_FROM_YUP,
    SkeletonBodyModel,
    SMPLMotion,
    evaluate_motion,
    transform_motion,
    walk_cycle,
)
from echomotion_motion_codec.metrics import foot_skating_ratio

MOTION_KEYS = {"accel_m_s2", "jitter_m_s3", "foot_skating_ratio", "root_consistency_deg"}
PAIR_KEYS = {
    "mpjpe_mm",
    "pa_mpjpe_mm",
    "joint_angle_error_deg",
    "global_orient_error_deg",
    "accel_error_m_s2",
}


def test_identical_motions_have_zero_error() -> None:
    motion = random_motion((2,), frames=9)
    out = evaluate_motion(motion, motion)
    assert set(out) == MOTION_KEYS | PAIR_KEYS | {f"target_{k}" for k in MOTION_KEYS}
    for key in PAIR_KEYS:
        assert out[key] == pytest.approx(0.0, abs=1e-3), key
    assert out["accel_m_s2"] == out["target_accel_m_s2"] > 0


def test_prediction_alone_and_a_perturbed_prediction() -> None:
    body = SkeletonBodyModel()
    target = random_motion(frames=9, seed=1)
    only = evaluate_motion(target)
    assert set(only) == MOTION_KEYS
    turn = torch.linalg.matrix_exp(
        torch.tensor([[0.0, -0.3, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    )
    pred = transform_motion(target, turn, torch.tensor([0.2, 0.0, 0.0]), body_model=body)
    out = evaluate_motion(pred, target)
    assert out["mpjpe_mm"] > 10.0  # a rigid turn moves root-centred joints
    assert out["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-2)  # … which Procrustes undoes
    assert out["joint_angle_error_deg"] == pytest.approx(0.0, abs=1e-3)  # local θ unchanged
    assert out["global_orient_error_deg"] > 5.0


def test_foot_skating_uses_the_world_when_the_camera_is_known() -> None:
    body = SkeletonBodyModel()
    world = walk_cycle(33, 16.0, speed=0.0, cadence=0.0)  # standing still, feet on the floor
    assert float(foot_skating_ratio(world.joints, world.fps)) == 0.0
    # slide the whole body sideways at 1.5 m/s: the planted feet now skate in every frame pair
    drift = torch.zeros(33, 3)
    drift[:, 0] = 1.5 * torch.arange(33) / 16.0
    sliding = SMPLMotion.from_rotations(
        world.transl + drift,
        world.global_orient_matrix(),
        world.pose_matrix(),
        world.betas,
        fps=world.fps,
        body_model=body,
        frame="world",
    )
    assert evaluate_motion(world)["foot_skating_ratio"] == 0.0
    assert evaluate_motion(sliding)["foot_skating_ratio"] == 1.0
    # the same motion seen by a camera 3 m away (y down): world_from_camera recovers the figure
    camera_from_world = torch.eye(4)
    camera_from_world[:3, :3] = CAMERA_FROM_YUP
    camera_from_world[:3, 3] = torch.tensor([0.0, 1.2, 3.0])
    seen = transform_motion(
        sliding,
        camera_from_world[:3, :3],
        camera_from_world[:3, 3],
        body_model=body,
        frame="camera",
    )
    wfc = torch.linalg.inv(camera_from_world)
    assert evaluate_motion(seen, world_from_camera=wfc)["foot_skating_ratio"] == 1.0
    # a level camera and a grounded motion: the estimated floor (lowest foot) agrees too
    assert evaluate_motion(seen)["foot_skating_ratio"] == 1.0


def test_mismatched_pairs_are_refused() -> None:
    a = random_motion(frames=9)
    with pytest.raises(ValueError, match="target: must match pred in num_frames 9 vs 8"):
        evaluate_motion(a, random_motion(frames=8))
    with pytest.raises(ValueError, match=r"world_from_camera: expected shape \(4, 4\)"):
        evaluate_motion(a, world_from_camera=torch.eye(3))
    world = walk_cycle(9)
    with pytest.raises(ValueError, match="world_from_camera: only meaningful for camera-frame"):
        evaluate_motion(world, world_from_camera=torch.eye(4))
