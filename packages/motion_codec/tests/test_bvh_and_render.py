from pathlib import Path

import av
import bvh
import bvhio
import numpy as np
import pytest
import torch
from conftest import random_motion

from echomotion_motion_codec import SMPL_JOINT_NAMES, SkeletonBodyModel, walk_cycle
from echomotion_motion_codec.bvh import save_bvh
from echomotion_motion_codec.render import render_skeleton_frames, render_skeleton_video
from echomotion_motion_codec.video import write_video


def test_bvh_reads_back_with_independent_parsers(tmp_path: Path) -> None:
    motion = walk_cycle(num_frames=12, fps=20.0)
    path = save_bvh(tmp_path / "walk.bvh", motion)
    parsed = bvh.Bvh(path.read_text())
    assert parsed.nframes == 12
    assert parsed.frame_time == pytest.approx(0.05)
    assert len(parsed.get_joints_names()) == 24
    assert set(parsed.get_joints_names()) == set(SMPL_JOINT_NAMES)
    # bvhio composes the channels itself: its world positions must equal our FK joints (in cm)
    root = bvhio.readAsHierarchy(str(path))
    for t in (0, 7):
        root.loadPose(t)
        world = {j.Name: np.array(list(j.PositionWorld)) for j, _, _ in root.layout()}
        ours = motion.joints[t].numpy() * 100.0
        for i, name in enumerate(SMPL_JOINT_NAMES):
            np.testing.assert_allclose(world[name], ours[i], atol=1e-2)


def test_bvh_of_camera_frame_motion_is_turned_y_up(tmp_path: Path) -> None:
    bm = SkeletonBodyModel()
    m = random_motion(frames=3, body_model=bm)  # camera frame
    path = save_bvh(tmp_path / "cam.bvh", m, body_model=bm, scale=1.0)
    root = bvhio.readAsHierarchy(str(path))
    root.loadPose(1)
    world = {j.Name: np.array(list(j.PositionWorld)) for j, _, _ in root.layout()}
    expected = m.joints[1].numpy() * np.array([1.0, -1.0, -1.0])
    np.testing.assert_allclose(world["head"], expected[15], atol=1e-4)


def test_render_draws_the_skeleton(tmp_path: Path) -> None:
    motion = walk_cycle(num_frames=6, fps=16.0)
    frames = render_skeleton_frames(motion, width=64, height=48)
    assert frames.shape == (6, 48, 64, 3)
    assert frames.dtype == np.uint8
    # blue (left) and orange (right) pixels are both present in every frame
    blue = (frames[..., 2] > 200) & (frames[..., 0] < 120)
    orange = (frames[..., 0] > 200) & (frames[..., 2] < 100)
    assert blue.any(axis=(1, 2)).all()
    assert orange.any(axis=(1, 2)).all()
    path = render_skeleton_video(motion, tmp_path / "s.mp4", width=64, height=48)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        assert float(stream.average_rate) == pytest.approx(16.0)
    assert len(decoded) == 6
    assert decoded[0].shape == (48, 64, 3)
    assert np.abs(decoded[3].astype(int) - frames[3].astype(int)).mean() < 8


def test_write_video_errors_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even sizes"):
        write_video(tmp_path / "x.mp4", [np.zeros((63, 64, 3), np.uint8)], 10)
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "x.mp4", [], 10)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="one sequence"):
        render_skeleton_frames(random_motion((2,)))
    _ = torch  # keep the import for type checkers
