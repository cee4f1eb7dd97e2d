import pytest
import torch
from conftest import random_motion

from echomotion_motion_codec import MotionValidationError, SkeletonBodyModel, SMPLMotion, walk_cycle


def test_valid_single_and_batch() -> None:
    m = random_motion()
    assert m.num_frames == 7
    assert m.batch_shape == ()
    b = random_motion((3,))
    assert b.batch_shape == (3,)
    assert b.joints.shape == (3, 7, 24, 3)
    assert b[1].batch_shape == ()
    stacked = SMPLMotion.stack([m, m])
    assert stacked.batch_shape == (2,)
    with pytest.raises(dataclass_frozen_error()):
        m.fps = 3.0  # type: ignore[misc]


def dataclass_frozen_error() -> type[Exception]:
    import dataclasses

    return dataclasses.FrozenInstanceError


def _fields(m: SMPLMotion) -> dict[str, object]:
    return {
        k: getattr(m, k)
        for k in ("transl", "global_orient", "pose", "betas", "joints", "fps", "frame")
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "pose",
            torch.zeros(7, 23, 6),
            r"SMPLMotion\.pose: expected shape \(\.\.\., T, 24, 6\) = \(7, 24, 6\).*got \(7, 23, 6\)",
        ),
        ("betas", torch.zeros(16), r"SMPLMotion\.betas: expected shape .*\(10,\).*got \(16,\)"),
        ("joints", torch.zeros(6, 24, 3), r"SMPLMotion\.joints: .*got \(6, 24, 3\)"),
        ("global_orient", torch.zeros(7, 6), r"SMPLMotion\.global_orient: .*cannot be normalised"),
        ("transl", torch.full((7, 3), float("nan")), r"SMPLMotion\.transl: 21 non-finite"),
        (
            "transl",
            torch.zeros(7, 3, dtype=torch.int64),
            r"SMPLMotion\.transl: expected a floating dtype",
        ),
        ("fps", 0.0, r"SMPLMotion\.fps"),
        ("frame", "screen", r"SMPLMotion\.frame"),
    ],
)
def test_validation_names_field_and_shapes(field: str, value: object, message: str) -> None:
    kw = _fields(random_motion())
    kw[field] = value
    with pytest.raises(MotionValidationError, match=message):
        SMPLMotion(**kw)  # type: ignore[arg-type]


def test_parallel_6d_columns_rejected() -> None:
    kw = _fields(random_motion())
    pose = kw["pose"].clone()  # type: ignore[union-attr]
    pose[3, 5] = torch.tensor([1.0, 0, 0, 2.0, 0, 0])
    kw["pose"] = pose
    with pytest.raises(MotionValidationError, match=r"pose: 1 6D rotations .*index \(3, 5\)"):
        SMPLMotion(**kw)  # type: ignore[arg-type]


def test_joints_are_fk_and_root_consistency(body_model: SkeletonBodyModel) -> None:
    m = random_motion((2,), body_model=body_model)
    again = m.recompute_joints(body_model)
    torch.testing.assert_close(again.joints, m.joints)
    assert m.root_consistency().abs().max() < 1e-3
    torch.testing.assert_close(
        m.joints[..., 0, :], m.transl + body_model.rest_joints(m.betas)[:, None, 0]
    )


def test_from_axis_angle_without_pelvis(body_model: SkeletonBodyModel) -> None:
    go = torch.randn(4, 3)
    body = torch.randn(4, 23, 3)
    m = SMPLMotion.from_axis_angle(
        torch.zeros(4, 3), go, body, torch.zeros(10), fps=20, body_model=body_model
    )
    torch.testing.assert_close(m.pose[:, 0], m.global_orient)


def test_slice_and_to() -> None:
    m = random_motion((2,), frames=9)
    s = m.slice_frames(2, 5)
    assert s.num_frames == 3
    torch.testing.assert_close(s.joints, m.joints[:, 2:5])
    assert m.to(dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="slice_frames"):
        m.slice_frames(5, 2)


def test_walk_cycle_walks_forward_on_the_floor() -> None:
    m = walk_cycle(num_frames=33, fps=16.0)
    assert m.frame == "world"
    feet = m.joints[:, [10, 11], 1]
    assert feet.min() > -0.08
    assert feet.min() < 0.08
    assert m.joints[-1, 0, 2] - m.joints[0, 0, 2] > 2.0  # moved 2+ m along +z in 2 s
    assert m.joints[:, 15, 1].min() > 1.4  # head stays up
