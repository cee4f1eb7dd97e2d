from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_motion

from echomotion_motion_codec import (
    CAMERA_FROM_YUP,
    SkeletonBodyModel,
    load_motion,
    save_motion,
    transform_motion,
)
from echomotion_motion_codec.rotations import axis_angle_to_matrix


def test_npz_round_trip(tmp_path: Path) -> None:
    m = random_motion((2,), frames=4)
    path = save_motion(tmp_path / "m.npz", m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    back = load_motion(path)
    for f in ("transl", "global_orient", "pose", "betas", "joints"):
        assert torch.equal(getattr(back, f), getattr(m, f))
    assert back.fps == m.fps
    assert back.frame == m.frame
    with np.load(path, allow_pickle=False) as z:
        assert str(z["format"]) == "echomotion.motion"
        assert int(z["version"]) == 1


def test_npz_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_motion(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", poses=np.zeros(3))
    with pytest.raises(ValueError, match="not an EchoMotion motion file"):
        load_motion(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"\.npz"):
        save_motion(tmp_path / "m.txt", random_motion())


def test_transform_matches_fk_of_transformed_parameters() -> None:
    bm = SkeletonBodyModel()
    m = random_motion((2,), frames=5, body_model=bm)
    r = axis_angle_to_matrix(torch.tensor([0.3, -1.2, 0.5]))
    c = torch.tensor([1.0, 2.0, -0.5])
    out = transform_motion(m, r, c, body_model=bm)
    # η mapped rigidly equals FK of the new (γ, v): the J₀-aware rule
    torch.testing.assert_close(out.recompute_joints(bm).joints, out.joints, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.joints, m.joints @ r.T + c, atol=1e-5, rtol=1e-5)
    assert out.root_consistency().max() < 1e-3
    # the naive rule (rotate v about the origin) would be wrong
    naive = m.transl @ r.T + c
    assert not torch.allclose(naive, out.transl, atol=1e-3)


def test_camera_flip_is_an_involution() -> None:
    bm = SkeletonBodyModel()
    m = random_motion(frames=3, body_model=bm)
    twice = transform_motion(
        transform_motion(m, CAMERA_FROM_YUP, body_model=bm, frame="world"),
        CAMERA_FROM_YUP,
        body_model=bm,
        frame="camera",
    )
    torch.testing.assert_close(twice.joints, m.joints, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="rotation: expected shape"):
        transform_motion(m, torch.eye(4), body_model=bm)


def test_saved_files_get_normal_permissions(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        path = save_motion(tmp_path / "p.npz", random_motion())
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)
