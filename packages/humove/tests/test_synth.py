from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from humove_helpers import make_synthetic

from echomotion_humove.storage import read_manifest
from echomotion_humove.synth import ACTIONS, synthesize_clip, synthesize_motion
from echomotion_humove.validate import validate_dataset
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
