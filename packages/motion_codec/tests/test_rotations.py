import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from echomotion_motion_codec import rotations as rot


def _random_rotations(n: int, seed: int) -> Rotation:
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0, math.pi, size=(n, 1))
    # include angles within 1e-4 of π and near 0
    angles[: n // 4] = math.pi - rng.uniform(0, 1e-4, size=(n // 4, 1))
    angles[n // 4 : n // 3] = rng.uniform(0, 1e-5, size=(n // 3 - n // 4, 1))
    return Rotation.from_rotvec(axes * angles)


def _assert_same_rotvec(ours: np.ndarray, ref: np.ndarray) -> None:
    """Rotation vectors at angle π are equal up to sign; compare through matrices."""
    np.testing.assert_allclose(
        Rotation.from_rotvec(ours).as_matrix(), Rotation.from_rotvec(ref).as_matrix(), atol=1e-9
    )


def test_axis_angle_to_matrix_matches_scipy() -> None:
    r = _random_rotations(400, 0)
    ours = rot.axis_angle_to_matrix(torch.from_numpy(r.as_rotvec()))
    np.testing.assert_allclose(ours.numpy(), r.as_matrix(), atol=1e-12)


def test_matrix_to_axis_angle_matches_scipy_near_pi() -> None:
    r = _random_rotations(400, 1)
    ours = rot.matrix_to_axis_angle(torch.from_numpy(r.as_matrix())).numpy()
    _assert_same_rotvec(ours, r.as_rotvec())
    # angles agree away from the sign ambiguity
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), r.magnitude(), atol=1e-7)


def test_quaternion_conversions_match_scipy() -> None:
    r = _random_rotations(300, 2)
    xyzw = r.as_quat()
    wxyz = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    mats = torch.from_numpy(r.as_matrix())
    q = rot.matrix_to_quaternion(mats).numpy()
    # same up to sign; ours has w >= 0
    sign = np.sign((q * wxyz).sum(1, keepdims=True))
    np.testing.assert_allclose(q, wxyz * sign, atol=1e-9)
    np.testing.assert_allclose(
        rot.quaternion_to_matrix(torch.from_numpy(wxyz)).numpy(), r.as_matrix(), atol=1e-12
    )
    aa = rot.quaternion_to_axis_angle(torch.from_numpy(wxyz)).numpy()
    _assert_same_rotvec(aa, r.as_rotvec())
    q2 = rot.axis_angle_to_quaternion(torch.from_numpy(r.as_rotvec())).numpy()
    np.testing.assert_allclose(np.abs((q2 * wxyz).sum(1)), 1.0, atol=1e-12)


def test_6d_uses_columns_and_round_trips() -> None:
    r = _random_rotations(200, 3)
    m = torch.from_numpy(r.as_matrix())
    six = rot.matrix_to_rotation_6d(m)
    np.testing.assert_allclose(six[:, :3].numpy(), r.as_matrix()[:, :, 0])
    np.testing.assert_allclose(six[:, 3:].numpy(), r.as_matrix()[:, :, 1])
    np.testing.assert_allclose(rot.rotation_6d_to_matrix(six).numpy(), r.as_matrix(), atol=1e-12)


def test_6d_gram_schmidt_projects_noisy_input() -> None:
    g = torch.Generator().manual_seed(0)
    six = torch.randn(100, 6, generator=g, dtype=torch.float64)
    m = rot.rotation_6d_to_matrix(six)
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    torch.testing.assert_close(m.transpose(-1, -2) @ m, eye)
    torch.testing.assert_close(torch.linalg.det(m), torch.ones(100, dtype=torch.float64))
    # the first column keeps the direction of a1
    a1 = six[:, :3] / six[:, :3].norm(dim=1, keepdim=True)
    torch.testing.assert_close(m[:, :, 0], a1)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YXZ", "ZYX"])
def test_euler_matches_scipy_intrinsic(order: str) -> None:
    r = _random_rotations(200, 4)
    angles = torch.from_numpy(r.as_euler(order.upper()))  # upper-case = intrinsic in scipy
    np.testing.assert_allclose(
        rot.euler_to_matrix(angles, order).numpy(), r.as_matrix(), atol=1e-12
    )
    back = rot.matrix_to_euler(torch.from_numpy(r.as_matrix()), order)
    np.testing.assert_allclose(rot.euler_to_matrix(back, order).numpy(), r.as_matrix(), atol=1e-9)


def test_batched_shapes_and_gradients() -> None:
    aa = torch.randn(2, 5, 24, 3, dtype=torch.float64, requires_grad=True)
    m = rot.axis_angle_to_matrix(aa)
    assert m.shape == (2, 5, 24, 3, 3)
    six = rot.matrix_to_rotation_6d(m)
    assert six.shape == (2, 5, 24, 6)
    back = rot.matrix_to_axis_angle(rot.rotation_6d_to_matrix(six))
    back.sum().backward()
    assert aa.grad is not None
    assert torch.isfinite(aa.grad).all()
    f = lambda x: rot.rotation_6d_to_matrix(rot.matrix_to_rotation_6d(rot.axis_angle_to_matrix(x)))  # noqa: E731
    assert torch.autograd.gradcheck(
        f, (torch.randn(4, 3, dtype=torch.float64, requires_grad=True),)
    )


def test_zero_rotation_gradient_is_finite() -> None:
    aa = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    rot.axis_angle_to_matrix(aa).sum().backward()
    assert torch.isfinite(aa.grad).all()  # type: ignore[arg-type]


def test_slerp_matches_scipy() -> None:
    from scipy.spatial.transform import Slerp

    r = _random_rotations(2, 5)
    times = np.linspace(0, 1, 7)
    ref = Slerp([0, 1], r)(times).as_matrix()
    q = rot.matrix_to_quaternion(torch.from_numpy(r.as_matrix()))
    ours = rot.quaternion_to_matrix(
        rot.quaternion_slerp(q[0].expand(7, 4), q[1].expand(7, 4), torch.from_numpy(times))
    )
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-9)


def test_bad_shapes_name_the_argument() -> None:
    with pytest.raises(ValueError, match="axis_angle"):
        rot.axis_angle_to_matrix(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="rot6d"):
        rot.rotation_6d_to_matrix(torch.zeros(4, 5))
