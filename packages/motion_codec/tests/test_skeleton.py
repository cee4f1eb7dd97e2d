import torch

from echomotion_motion_codec import (
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    SkeletonBodyModel,
    forward_kinematics,
)
from echomotion_motion_codec.rotations import axis_angle_to_matrix


def test_tree_matches_smpl() -> None:
    assert len(SMPL_JOINT_NAMES) == 24
    assert SMPL_PARENTS == (
        -1,
        0,
        0,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        9,
        9,
        12,
        13,
        14,
        16,
        17,
        18,
        19,
        20,
        21,
    )


def test_rest_skeleton_is_anthropometric(body_model: SkeletonBodyModel) -> None:
    rest = body_model.rest_joints(torch.zeros(10))
    names = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
    # left is +x, head above pelvis above knees above ankles, feet near the floor
    assert rest[names["left_hip"], 0] > 0 > rest[names["right_hip"], 0]
    assert (
        rest[names["head"], 1]
        > rest[names["pelvis"], 1]
        > rest[names["left_knee"], 1]
        > rest[names["left_ankle"], 1]
    )
    assert 0.0 <= rest[names["left_foot"], 1] < 0.05
    # arm span wrist to wrist ≈ 0.87 body height (T-pose)
    span = rest[names["left_wrist"], 0] - rest[names["right_wrist"], 0]
    assert 0.8 * 1.7 < span < 0.95 * 1.7
    # symmetric
    for n in SMPL_JOINT_NAMES:
        if n.startswith("left_"):
            left, right = rest[names[n]], rest[names["right_" + n[5:]]]
            torch.testing.assert_close(left * torch.tensor([-1.0, 1, 1]), right)


def test_betas_change_bone_lengths_linearly(body_model: SkeletonBodyModel) -> None:
    def femur(b: torch.Tensor) -> torch.Tensor:
        r = body_model.rest_joints(b)
        return (r[4] - r[1]).norm()

    b = torch.zeros(10)
    l0 = femur(b)
    b1, b2 = b.clone(), b.clone()
    b1[0], b2[0] = 1.0, 2.0
    assert femur(b1) > l0
    torch.testing.assert_close(femur(b2) - femur(b1), femur(b1) - l0)
    wide = torch.zeros(10)
    wide[1] = 2.0
    r0, r1 = body_model.rest_joints(torch.zeros(10)), body_model.rest_joints(wide)
    assert (r1[16, 0] - r1[17, 0]) > (r0[16, 0] - r0[17, 0])


def test_fk_identity_is_rest_plus_translation(body_model: SkeletonBodyModel) -> None:
    betas = torch.randn(10)
    rot = torch.eye(3).expand(5, 24, 3, 3)
    transl = torch.randn(5, 3)
    joints = body_model.forward_kinematics(rot, betas[None], transl)
    torch.testing.assert_close(joints, body_model.rest_joints(betas)[None] + transl[:, None])


def test_fk_preserves_bone_lengths_and_rotates_children() -> None:
    rest = torch.randn(24, 3, dtype=torch.float64)
    rot = axis_angle_to_matrix(torch.randn(24, 3, dtype=torch.float64))
    joints = forward_kinematics(rot, rest, torch.zeros(3, dtype=torch.float64))
    for j in range(1, 24):
        p = SMPL_PARENTS[j]
        torch.testing.assert_close((joints[j] - joints[p]).norm(), (rest[j] - rest[p]).norm())
    # a single rotation at the root rotates everything about joint 0
    root_only = torch.eye(3, dtype=torch.float64).repeat(24, 1, 1)
    root_only[0] = rot[0]
    posed = forward_kinematics(root_only, rest, torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(posed, (rest - rest[0]) @ rot[0].T + rest[0])
    # elbow bend moves the wrist but not the shoulder
    bend = torch.eye(3, dtype=torch.float64).repeat(24, 1, 1)
    bend[18] = rot[5]
    posed = forward_kinematics(bend, rest, torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(posed[:19], rest[:19])
    assert not torch.allclose(posed[20], rest[20])
