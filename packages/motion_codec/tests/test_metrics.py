"""Motion metrics on cases with a known answer, and parity with the reference formulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import uniform_filter1d

from echomotion_motion_codec.metrics import (
    acceleration,
    acceleration_error,
    foot_skating,
    foot_skating_ratio,
    geodesic_angle,
    jitter,
    joint_angle_error,
    mpjpe,
    pa_mpjpe,
    procrustes_align,
    similarity_transform,
)
from echomotion_motion_codec.rotations import axis_angle_to_matrix, matrix_to_rotation_6d


def _joints(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, 24, 3, generator=g, dtype=torch.float64) * 0.4


def _spin_pa_error(s1: np.ndarray, s2: np.ndarray) -> float:
    """SPIN's compute_similarity_transform (points as columns) + mean joint error, transcribed."""
    s1, s2 = s1.T, s2.T
    mu1, mu2 = s1.mean(1, keepdims=True), s2.mean(1, keepdims=True)
    x1, x2 = s1 - mu1, s2 - mu2
    var1 = np.sum(x1**2)
    k = x1 @ x2.T
    u, _, vh = np.linalg.svd(k)
    v = vh.T
    z = np.eye(3)
    z[-1, -1] *= np.sign(np.linalg.det(u @ v.T))
    r = v @ z @ u.T
    scale = np.trace(r @ k) / var1
    t = mu2 - scale * (r @ mu1)
    s1_hat = (scale * r @ s1 + t).T
    return float(np.sqrt(((s1_hat - s2.T) ** 2).sum(-1)).mean())


# ------------------------------------------------------------------------------ MPJPE / PA-MPJPE
def test_identical_poses_have_zero_error() -> None:
    j = _joints(5)
    assert torch.equal(mpjpe(j, j), torch.zeros(5, dtype=j.dtype))
    assert float(pa_mpjpe(j, j).abs().max()) < 1e-9


def test_hand_computed_mpjpe() -> None:
    pred = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    # joint 0 agrees, joint 1 is √2 m off → mean √2/2 m
    assert float(mpjpe(pred, target)) == pytest.approx(1000 * math.sqrt(2) / 2, rel=1e-6)
    # a 90° turn about z maps one onto the other
    assert float(pa_mpjpe(pred, target)) == pytest.approx(0.0, abs=1e-3)
    # a pure translation: 0 after root-centring, |t| without it
    shifted = target + torch.tensor([0.3, 0.0, 0.4])
    assert float(mpjpe(shifted, target)) == pytest.approx(0.0, abs=1e-4)
    assert float(mpjpe(shifted, target, root=None)) == pytest.approx(500.0, rel=1e-6)


def test_known_similarity_gives_zero_pa_mpjpe_but_positive_mpjpe() -> None:
    target = _joints(4)
    rot = axis_angle_to_matrix(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))
    pred = 1.3 * target @ rot.T + torch.tensor([0.5, -0.2, 2.0], dtype=torch.float64)
    assert float(pa_mpjpe(pred, target).max()) < 1e-8
    assert float(mpjpe(pred, target).min()) > 50.0
    tf = similarity_transform(pred, target)  # the inverse map
    assert torch.allclose(tf.scale, torch.full((4,), 1 / 1.3, dtype=torch.float64))
    assert torch.allclose(tf.rotation, rot.T.expand(4, 3, 3), atol=1e-10)
    assert torch.allclose(procrustes_align(pred, target), target, atol=1e-10)


def test_pa_mpjpe_matches_spin_and_fixes_reflections() -> None:
    target = _joints(6, seed=1)
    pred = target + 0.05 * _joints(6, seed=2)
    pred[3] = pred[3] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # a mirrored pose
    ours = pa_mpjpe(pred, target)
    for i in range(6):
        assert float(ours[i]) == pytest.approx(
            1000 * _spin_pa_error(pred[i].numpy(), target[i].numpy()), rel=1e-9
        )
    rotation = similarity_transform(pred, target).rotation
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(6, dtype=torch.float64))
    assert float(ours[3]) > 10.0  # a reflection is not a rotation: the mirror stays an error


def test_float32_and_batch_dims() -> None:
    target = _joints(2, 3).float()
    pred = target + 0.01
    assert mpjpe(pred, target).shape == (2, 3)
    assert pa_mpjpe(pred, target).dtype == torch.float32
    assert float(pa_mpjpe(pred, target).max()) < 1e-2


def test_position_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"pred: expected a tensor of shape \(\.\.\., J, 3\)"):
        mpjpe(torch.zeros(24, 2), torch.zeros(24, 2))
    with pytest.raises(ValueError, match="pred, target: expected equal shapes"):
        mpjpe(torch.zeros(24, 3), torch.zeros(22, 3))
    with pytest.raises(ValueError, match="root"):
        mpjpe(torch.zeros(24, 3), torch.zeros(24, 3), root=30)
    with pytest.raises(ValueError, match="source: all points coincide"):
        pa_mpjpe(torch.zeros(24, 3), torch.ones(24, 3))


# ------------------------------------------------------------------------------ rotations
def test_joint_angle_error_known_angles() -> None:
    g = torch.Generator().manual_seed(3)
    base = axis_angle_to_matrix(torch.randn(5, 24, 3, generator=g, dtype=torch.float64))
    assert torch.equal(joint_angle_error(base, base), torch.zeros(5, dtype=torch.float64))
    for degrees in (0.01, 30.0, 179.0):
        turn = axis_angle_to_matrix(
            torch.tensor([0.0, 0.0, math.radians(degrees)], dtype=torch.float64)
        )
        err = joint_angle_error(base @ turn, base)  # a local turn of `degrees` at every joint
        assert torch.allclose(err, torch.full((5,), degrees, dtype=torch.float64), atol=1e-7)
    # 6D input gives the same answer as matrices
    turned = base @ axis_angle_to_matrix(torch.tensor([0.2, 0.0, 0.0], dtype=torch.float64))
    six = joint_angle_error(matrix_to_rotation_6d(turned), matrix_to_rotation_6d(base))
    assert torch.allclose(six, torch.full((5,), math.degrees(0.2), dtype=torch.float64))
    assert float(geodesic_angle(turned[0, 0], base[0, 0])) == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"pred: expected rotations"):
        joint_angle_error(torch.zeros(5, 24, 4), torch.zeros(5, 24, 4))


# ------------------------------------------------------------------------------ smoothness
def _trajectory(values: torch.Tensor) -> torch.Tensor:
    """(T,) x positions → (T, 24, 3) every joint at (x, 0, 0)."""
    j = torch.zeros(values.shape[0], 24, 3, dtype=torch.float64)
    j[..., 0] = values[:, None]
    return j


def test_acceleration_and_jitter_of_polynomials() -> None:
    fps = 20.0
    t = torch.arange(12, dtype=torch.float64) / fps
    still = _trajectory(torch.zeros(12))
    line = _trajectory(2.0 * t + 1.0)
    parabola = _trajectory(0.5 * 3.0 * t**2)  # constant acceleration 3 m/s²
    cubic = _trajectory(t**3)  # constant jerk 6 m/s³
    assert torch.equal(acceleration(still, fps), torch.zeros(10, dtype=torch.float64))
    assert float(acceleration(line, fps).abs().max()) < 1e-9
    assert torch.allclose(acceleration(parabola, fps), torch.full((10,), 3.0, dtype=torch.float64))
    assert float(jitter(parabola, fps).abs().max()) < 1e-6
    assert torch.allclose(jitter(cubic, fps), torch.full((9,), 6.0, dtype=torch.float64))
    assert torch.equal(acceleration_error(line, line, fps), torch.zeros(10, dtype=torch.float64))
    assert torch.allclose(
        acceleration_error(parabola + line, line, fps), torch.full((10,), 3.0, dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="joints: expected at least 4 frames"):
        jitter(still[:3], fps)
    with pytest.raises(ValueError, match="fps"):
        acceleration(still, 0.0)


# ------------------------------------------------------------------------------ foot skating
def _feet(height: float, speed: float, frames: int = 20, fps: float = 20.0) -> torch.Tensor:
    """(T, 24, 3) world-frame joints: the body high up, both feet at `height`, sliding along x."""
    j = torch.zeros(frames, 24, 3, dtype=torch.float64)
    j[..., 1] = 1.0
    x = speed * torch.arange(frames, dtype=torch.float64) / fps
    j[:, [10, 11], 0] = x[:, None]
    j[:, [10, 11], 1] = height
    j[:, 11, 2] = 0.2
    return j


def _gmd_skating_ratio(joints: np.ndarray, fps: float) -> float:
    """guided-motion-diffusion's calculate_skating_ratio for one (T, J, 3) y-up sequence."""
    feet = joints[:, [10, 11], :].transpose(1, 2, 0)  # (2, 3, T)
    vel = np.linalg.norm(feet[:, [0, 2], 1:] - feet[:, [0, 2], :-1], axis=1) * fps  # (2, T-1)
    vel_avg = uniform_filter1d(vel, axis=-1, size=5, mode="constant", origin=0)
    height = feet[:, 1, :]
    contact = np.logical_and(height[:, :-1] < 0.05, height[:, 1:] < 0.05)
    skating = np.logical_and(np.logical_and(contact, vel > 0.5), vel_avg > 0.5)
    skating = np.logical_or(skating[0], skating[1])
    return float(np.sum(skating) / skating.shape[0])


def test_planted_foot_does_not_skate_and_sliding_foot_does() -> None:
    fps = 20.0
    assert float(foot_skating_ratio(_feet(0.02, 0.0), fps)) == 0.0
    assert float(foot_skating_ratio(_feet(0.02, 2.0), fps)) == 1.0
    assert float(foot_skating_ratio(_feet(0.20, 2.0), fps)) == 0.0  # sliding in the air
    assert float(foot_skating_ratio(_feet(0.02, 0.4), fps)) == 0.0  # slower than 0.5 m/s
    # 0.6 m/s: the zero-padded 5-frame mean is 0.36 and 0.48 on the two pairs at each end
    assert float(foot_skating_ratio(_feet(0.02, 0.6), fps)) == pytest.approx(15 / 19)
    mask = foot_skating(_feet(0.02, 0.6), fps)
    assert mask.shape == (19,) and not mask[:2].any() and mask[2:-2].all() and not mask[-2:].any()


def test_foot_skating_matches_the_reference_on_random_motion() -> None:
    g = torch.Generator().manual_seed(4)
    for i in range(5):
        j = torch.cumsum(0.04 * torch.randn(30, 24, 3, generator=g, dtype=torch.float64), 0)
        j[..., 1] = 0.06 * torch.rand(30, 24, generator=g, dtype=torch.float64)
        ref = _gmd_skating_ratio(j.numpy(), 20.0)
        assert float(foot_skating_ratio(j, 20.0)) == pytest.approx(ref), i


def test_foot_skating_in_camera_axes() -> None:
    world = torch.stack([_feet(0.0, 2.0), _feet(0.0, 0.0)])  # (2, T, 24, 3)
    flip = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]], dtype=torch.float64)
    camera = world @ flip.T + torch.tensor([0.1, 1.4, 3.0], dtype=torch.float64)  # y down
    expected = foot_skating_ratio(world, 20.0)
    assert torch.equal(expected, torch.tensor([1.0, 0.0], dtype=torch.float64))
    got = foot_skating_ratio(camera, 20.0, up=(0.0, -1.0, 0.0), floor=None)
    assert torch.equal(got, expected)
    with pytest.raises(ValueError, match="up: expected a non-zero 3-vector"):
        foot_skating_ratio(camera, 20.0, up=(0.0, 0.0))
    with pytest.raises(ValueError, match="feet"):
        foot_skating_ratio(camera, 20.0, feet=(10, 40))
