from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from humove_helpers import make_synthetic

from echomotion_humove.storage import read_manifest
from echomotion_humove.synth import ACTIONS, synthesize_clip, synthesize_motion
from echomotion_humove.synth.writer import SynthConfig, write_synthetic_dataset
from echomotion_humove.validate import validate_dataset
from echomotion_humove.virtual_camera import CameraRange
from echomotion_motion_codec import SkeletonBodyModel, load_motion, transform_motion


def test_same_seed_same_clip() -> None:
    a = synthesize_clip(11, width=32, height=32, num_frames=9, fps=8.0)
    b = synthesize_clip(11, width=32, height=32, num_frames=9, fps=8.0)
    c = synthesize_clip(12, width=32, height=32, num_frames=9, fps=8.0)
    assert np.array_equal(a.frames, b.frames)
    assert torch.equal(a.motion.joints, b.motion.joints) and a.caption == b.caption
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_is_a_valid_grounded_motion(action: str) -> None:
    s = synthesize_motion(3, num_frames=17, fps=16.0, action=action)
    m = s.motion
    assert m.frame == "world" and m.num_frames == 17 and s.action == action
    feet = m.joints[:, [7, 8, 10, 11], 1]
    assert float(feet.min()) > -0.02  # never under the floor
    if action not in ("jump", "run", "jumping_jacks"):
        assert float(feet.min(-1).values.max()) < 0.12  # a foot on the floor in every frame


def test_camera_frame_motion_matches_world_and_renderer() -> None:
    clip = synthesize_clip(5, width=48, height=48, num_frames=9, fps=8.0)
    assert clip.motion.frame == "camera" and clip.frames.shape == (9, 48, 48, 3)
    wfc = clip.world_from_camera.float()
    back = transform_motion(
        clip.motion, wfc[:3, :3], wfc[:3, 3], body_model=SkeletonBodyModel(), frame="world"
    )
    assert torch.allclose(back.joints, clip.motion_world.joints, atol=1e-4)
    assert torch.allclose(back.transl, clip.motion_world.transl, atol=1e-4)
    # the subject is where the camera says: pelvis projects onto a non-background pixel
    j = clip.motion.joints[4, 0]
    u = int(clip.focal * j[0] / j[2] + 24)
    v = int(clip.focal * j[1] / j[2] + 24)
    wall = np.array(clip.backdrop.wall_rgb)
    floor = np.array(clip.backdrop.floor_rgb)
    px = clip.frames[4, v, u].astype(int)
    assert np.abs(px - wall).sum() > 30 and np.abs(px - floor).sum() > 30


def test_caption_names_what_is_rendered() -> None:
    clip = synthesize_clip(8, action="jump")
    cap = clip.caption
    assert clip.appearance.shirt in cap.appearance and clip.appearance.trousers in cap.appearance
    assert clip.backdrop.wall in cap.background
    assert cap.action.startswith("jumps up and down")
    assert cap.full.startswith("A ") and cap.action in cap.full and cap.background in cap.full
    # clothing colour is really there: the shirt colour is among the frame's pixels
    shirt = np.array(clip.appearance.shirt_rgb)
    dist = np.abs(clip.frames[0].reshape(-1, 3).astype(int) - shirt).sum(-1)
    assert int((dist < 120).sum()) > 5


def test_people_count() -> None:
    empty = synthesize_clip(2, width=32, height=32, num_frames=5, people=0)
    assert empty.frames.std(axis=0).max() < 1.0  # nothing moves on an empty stage
    two = synthesize_clip(2, width=64, height=64, num_frames=5, people=2)
    one = synthesize_clip(2, width=64, height=64, num_frames=5, people=1)
    assert not np.array_equal(one.frames, two.frames)


def test_synth_dataset_is_valid_and_deterministic(synthetic_dataset: Path, tmp_path: Path) -> None:
    report = validate_dataset(synthetic_dataset)
    assert report.ok, report.problems
    recs = read_manifest(synthetic_dataset)
    assert len(recs) == 6 and all(
        r.status == "accepted" and r.action_label in ACTIONS for r in recs
    )
    m = load_motion(synthetic_dataset / recs[0].motion_file)  # type: ignore[operator]
    assert m.frame == "camera" and m.num_frames == 9
    other = make_synthetic(tmp_path / "again")
    assert read_manifest(other) == recs
    for r in recs:
        assert (other / r.motion_file).read_bytes() == (
            synthetic_dataset / r.motion_file
        ).read_bytes()  # type: ignore[operator]


def _joint_box_height(clip) -> float:  # type: ignore[no-untyped-def]
    """Mean over frames of the projected joints' vertical extent, in pixels."""
    j = clip.motion.joints.double()
    v = clip.focal * j[..., 1] / j[..., 2]
    return float((v.max(-1).values - v.min(-1).values).mean())


def test_camera_distance_frames_the_subject_and_keeps_it_inside() -> None:
    near, far = CameraRange(distance=(1.2, 2.0)), CameraRange(distance=(2.3, 3.3))
    for seed in range(4):
        a = synthesize_clip(seed, width=32, height=32, num_frames=9, fps=8.0, camera_range=near)
        b = synthesize_clip(seed, width=32, height=32, num_frames=9, fps=8.0, camera_range=far)
        assert a.caption == b.caption  # same world, only the camera moved
        assert _joint_box_height(a) > 1.15 * _joint_box_height(b)
        j = a.motion.joints.double()  # every joint still projects inside the frame
        u = a.focal * j[..., 0] / j[..., 2] + 16
        v = a.focal * j[..., 1] / j[..., 2] + 16
        assert bool(((u > 0) & (u < 32) & (v > 0) & (v < 32)).all())


def test_synth_config_camera_distance_is_checked_and_recorded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="camera_distance"):
        SynthConfig(clips=2, camera_distance=(2.0, 1.0))
    with pytest.raises(ValueError, match="camera_distance"):
        SynthConfig(clips=2, camera_distance=(0.0, 1.0))
    cfg = SynthConfig(
        clips=2, width=16, height=16, num_frames=5, fps=8.0, supersample=1,
        camera_distance=(1.5, 1.5),
    )  # fmt: skip
    write_synthetic_dataset(tmp_path / "d", cfg)
    info = json.loads((tmp_path / "d" / "humove.json").read_text())
    assert info["synth"]["camera_distance"] == [1.5, 1.5]
    # finishing/growing the folder with another camera (or size) would mix two worlds: refused
    with pytest.raises(ValueError, match="camera_distance"):
        write_synthetic_dataset(tmp_path / "d", replace(cfg, clips=3, camera_distance=(1.2, 2.0)))
    with pytest.raises(ValueError, match="width"):
        write_synthetic_dataset(tmp_path / "d", replace(cfg, width=32))
    assert len(read_manifest(tmp_path / "d")) == 2
    # growing re-renders the partial last shard: the first two clips unchanged, one added
    before = read_manifest(tmp_path / "d")
    assert write_synthetic_dataset(tmp_path / "d", replace(cfg, clips=3)) == {
        "written": 1,
        "skipped": 0,
    }
    after = read_manifest(tmp_path / "d")
    assert len(after) == 3 and after[:2] == before
    assert write_synthetic_dataset(tmp_path / "d", replace(cfg, clips=3))["written"] == 0


def test_cli_synth_camera_distance(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from echomotion_humove.cli import app

    base = ["synth", "--out", str(tmp_path / "d"), "--clips", "1", "--size", "16"]
    base += ["--frames", "5", "--workers", "1"]
    ok = CliRunner().invoke(app, [*base, "--camera-distance", "1.4", "1.6"])
    assert ok.exit_code == 0, ok.output
    info = json.loads((tmp_path / "d" / "humove.json").read_text())
    assert info["synth"]["camera_distance"] == [1.4, 1.6]
    bad = CliRunner().invoke(app, [*base, "--camera-distance", "2", "1"])
    assert bad.exit_code == 2 and "camera_distance" in bad.output
    other = CliRunner().invoke(app, base)  # the default camera into the same folder: refused
    assert other.exit_code == 2 and "use a new folder" in other.output
