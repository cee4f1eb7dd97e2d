from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_motion
from scipy.spatial.transform import Rotation

from echomotion_motion_codec import SMPL_PARENTS, SkeletonBodyModel
from echomotion_motion_codec.amass import read_amass
from echomotion_motion_codec.resample import resample_motion
from echomotion_motion_codec.rotations import axis_angle_to_matrix
from echomotion_motion_codec.smpl_model import SMPLBodyModel


def write_synthetic_smpl(path: Path, num_vertices: int = 60, seed: int = 0) -> Path:
    """A small random model in SMPL's file format (arrays as in the official model)."""
    rng = np.random.default_rng(seed)
    regressor = rng.uniform(0, 1, size=(24, num_vertices))
    regressor /= regressor.sum(1, keepdims=True)
    weights = rng.uniform(0, 1, size=(num_vertices, 24)) ** 4
    weights /= weights.sum(1, keepdims=True)
    kintree = np.array([[2**32 - 1, *SMPL_PARENTS[1:]], list(range(24))], dtype=np.int64)
    np.savez(
        path,
        v_template=rng.normal(size=(num_vertices, 3)) * 0.5,
        shapedirs=rng.normal(size=(num_vertices, 3, 10)) * 0.02,
        posedirs=rng.normal(size=(num_vertices, 3, 207)) * 0.01,
        J_regressor=regressor,
        weights=weights,
        kintree_table=kintree,
        f=rng.integers(0, num_vertices, size=(80, 3)),
    )
    return path


def test_smpl_fk_equals_smplx_output(tmp_path: Path) -> None:
    model = SMPLBodyModel(write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.npz"))
    g = torch.Generator().manual_seed(1)
    rot = axis_angle_to_matrix(0.7 * torch.randn(5, 24, 3, generator=g))
    betas = torch.randn(5, 10, generator=g)
    transl = torch.randn(5, 3, generator=g)
    ours = model.forward_kinematics(rot, betas, transl)
    theirs = model.smplx_joints(rot, betas, transl)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    verts = model.vertices(rot, betas, transl)
    assert verts.shape == (5, 60, 3) and torch.isfinite(verts).all()
    # loading by folder + gender
    assert isinstance(SMPLBodyModel(tmp_path, gender="neutral"), SMPLBodyModel)


def test_smpl_model_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"SMPL_MALE\.npz"):
        SMPLBodyModel(tmp_path, gender="male")
    (tmp_path / "m.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="no pickles"):
        SMPLBodyModel(tmp_path / "m.pkl")
    np.savez(tmp_path / "bad.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="missing arrays"):
        SMPLBodyModel(tmp_path / "bad.npz")


def write_amass(
    path: Path, frames: int = 30, rate: float = 60.0, smplx_layout: bool = False, seed: int = 0
) -> dict:
    rng = np.random.default_rng(seed)
    width = 165 if smplx_layout else 156
    poses = rng.normal(size=(frames, width)) * 0.3
    trans = np.cumsum(rng.normal(size=(frames, 3)) * 0.01, axis=0) + np.array([0, 0, 0.9])
    rate_key = "mocap_frame_rate" if smplx_layout else "mocap_framerate"
    arrays = {
        "poses": poses,
        "trans": trans,
        "betas": rng.normal(size=16),
        "dmpls": np.zeros((frames, 8)),
        "gender": np.array("neutral"),
        rate_key: np.array(rate),
    }
    np.savez(path, **arrays)
    return arrays


@pytest.mark.parametrize("smplx_layout", [False, True])
def test_amass_reader_maps_joints_and_frame(tmp_path: Path, smplx_layout: bool) -> None:
    arrays = write_amass(tmp_path / "a.npz", smplx_layout=smplx_layout)
    bm = SkeletonBodyModel()
    z_up = read_amass(tmp_path / "a.npz", body_model=bm, y_up=False)
    assert z_up.num_frames == 30 and z_up.fps == 60.0 and z_up.frame == "world"
    expected = Rotation.from_rotvec(arrays["poses"][:, 3:6]).as_matrix()  # SMPL joint 1 = left hip
    np.testing.assert_allclose(z_up.pose_matrix()[:, 1].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(
        z_up.pose_matrix()[:, 22].numpy(), np.broadcast_to(np.eye(3), (30, 3, 3)), atol=1e-6
    )
    np.testing.assert_allclose(z_up.transl.numpy(), arrays["trans"], atol=1e-6)
    torch.testing.assert_close(z_up.betas, torch.from_numpy(arrays["betas"][:10]).float())
    y_up = read_amass(tmp_path / "a.npz", body_model=bm)
    # (x, y, z) ↦ (−x, z, y): heights move from z to y
    m = torch.tensor([[-1.0, 0, 0], [0, 0, 1], [0, 1, 0]])
    torch.testing.assert_close(y_up.joints, z_up.joints @ m.T, atol=1e-5, rtol=1e-5)


def test_amass_resampling(tmp_path: Path) -> None:
    write_amass(tmp_path / "a.npz", frames=61, rate=60.0)
    m = read_amass(tmp_path / "a.npz", fps=20.0)
    full = read_amass(tmp_path / "a.npz")
    assert m.fps == 20.0 and m.num_frames == 21
    # integer ratio: every third frame exactly
    torch.testing.assert_close(m.transl, full.transl[::3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(m.joints, full.joints[::3], atol=1e-4, rtol=1e-4)


def test_resample_slerps_between_frames() -> None:
    bm = SkeletonBodyModel()
    m = random_motion(frames=2, body_model=bm)
    half = resample_motion(m, 2 * m.fps, body_model=bm)
    assert half.num_frames == 3
    torch.testing.assert_close(half.transl[1], (m.transl[0] + m.transl[1]) / 2)
    r0, r1 = m.pose_matrix()[0, 5].double().numpy(), m.pose_matrix()[1, 5].double().numpy()
    from scipy.spatial.transform import Slerp

    ref = Slerp([0, 1], Rotation.from_matrix(np.stack([r0, r1])))([0.5]).as_matrix()[0]
    np.testing.assert_allclose(half.pose_matrix()[1, 5].numpy(), ref, atol=1e-5)
    torch.testing.assert_close(half.recompute_joints(bm).joints, half.joints)


def test_amass_errors(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "x.npz",
        poses=np.zeros((3, 72)),
        trans=np.zeros((3, 3)),
        betas=np.zeros(10),
        mocap_framerate=np.array(30.0),
    )
    with pytest.raises(ValueError, match=r"poses: expected shape \(T, 156\)"):
        read_amass(tmp_path / "x.npz")
    np.savez(
        tmp_path / "y.npz", poses=np.zeros((3, 156)), trans=np.zeros((3, 3)), betas=np.zeros(10)
    )
    with pytest.raises(ValueError, match="mocap_frame"):
        read_amass(tmp_path / "y.npz")
