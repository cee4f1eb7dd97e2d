from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from echomotion_humove.datasets import MotionDataset
from echomotion_humove.motion_only import (
    HumanML3DDataset,
    import_amass,
    parse_humanml3d_line,
    read_amass_in_camera,
    read_humanml3d,
)
from echomotion_humove.synth import synthesize_motion
from echomotion_humove.validate import validate_dataset
from echomotion_motion_codec import SkeletonBodyModel, transform_motion


def _write_amass(path: Path, frames: int = 60, seed: int = 0) -> None:
    g = np.random.default_rng(seed)
    poses = 0.2 * g.standard_normal((frames, 156))
    poses[:, :3] = [math.pi / 2, 0, 0]  # z-up AMASS: a standing body has a +90° turn about x
    trans = np.stack([np.linspace(0, 1, frames), np.zeros(frames), np.full(frames, 0.9)], -1)
    np.savez(
        path,
        poses=poses,
        trans=trans,
        betas=np.zeros(16),
        dmpls=np.zeros((frames, 8)),
        gender=np.array("neutral"),
        mocap_framerate=np.array(60.0),
    )


def test_amass_placed_in_camera_round_trips_to_world(tmp_path: Path) -> None:
    _write_amass(tmp_path / "a.npz")
    motion, camera = read_amass_in_camera(tmp_path / "a.npz", random.Random(0), fps=20.0)
    assert motion.frame == "camera" and motion.num_frames == 20  # 1 s at 60 → 20 fps
    assert float(motion.joints[..., 2].min()) > 0.5  # in front of the camera
    wfc = camera.world_from_camera().float()
    back = transform_motion(
        motion, wfc[:3, :3], wfc[:3, 3], body_model=SkeletonBodyModel(), frame="world"
    )
    assert float(back.joints[..., 1].mean()) > 0.3  # y up again: the body stands above the floor


def test_import_amass_makes_a_valid_motion_only_dataset(tmp_path: Path) -> None:
    for i in range(3):
        _write_amass(tmp_path / f"s{i}.npz", seed=i)
    out = tmp_path / "ds"
    recs = import_amass(
        out,
        sorted(tmp_path.glob("s*.npz")),
        fps=20.0,
        captions={"s1": "a person walks"},
        shard_size=2,
    )
    assert [r.status for r in recs] == ["partial", "accepted", "partial"]
    report = validate_dataset(out)
    assert report.ok, report.problems
    ds = MotionDataset(out, window=9, status=None)
    assert len(ds) == 3 * 2 and ds[0]["joints"].shape == (9, 24, 3)


def test_humanml3d_text_lines() -> None:
    t = parse_humanml3d_line("a man kicks.#a/DET man/NOUN kick/VERB#1.5#3.0")
    assert (t.caption, t.tokens[:2], t.start, t.stop) == (
        "a man kicks.",
        ("a/DET", "man/NOUN"),
        30,
        60,
    )
    whole = parse_humanml3d_line("walks#walk/VERB#0.0#0.0")
    assert whole.start == 0 and whole.stop is None
    assert parse_humanml3d_line("walks#walk/VERB#nan#nan").stop is None
    with pytest.raises(ValueError, match="4 fields"):
        parse_humanml3d_line("no hashes here")


def _write_humanml3d(root: Path) -> None:
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    for k, action in enumerate(("walk", "jump")):
        m = synthesize_motion(k, num_frames=60, fps=20.0, action=action).motion
        joints = m.joints[:, :22].numpy().astype(np.float32)
        joints[:, :, [0, 2]] -= joints[:1, :1, [0, 2]]  # frame 0 root at x = z = 0
        np.save(root / "new_joints" / f"{k:06d}.npy", joints)
        (root / "texts" / f"{k:06d}.txt").write_text(
            f"a person does a {action}.#a/DET person/NOUN#0.0#0.0\n"
            f"the second half.#the/DET half/NOUN#1.5#3.0\n"
            f"too short.#short/ADJ#0.0#0.5\n"
        )
    (root / "train.txt").write_text("000000\n000001\n")


def test_humanml3d_reader_and_dataset(tmp_path: Path) -> None:
    _write_humanml3d(tmp_path)
    seq = read_humanml3d(tmp_path, "000001")
    assert seq.joints.shape == (60, 24, 3) and not seq.rotations_valid
    assert seq.joint_mask.tolist() == [True] * 22 + [False] * 2
    assert [t.stop for t in seq.texts] == [None, 60, 10]
    ds = HumanML3DDataset(tmp_path, split="train", window=29, seed=3)
    assert len(ds) == 4  # 2 sequences × (whole clip, 1.5–3.0 s); the 0.5 s caption is too short
    item = ds[1]
    assert item["joints"].shape == (29, 24, 3) and item["caption"] == "the second half."
    assert float(item["joints"][..., 2].min()) > 0.5  # camera frame: in front of the camera
    assert torch.equal(ds[1]["joints"], item["joints"])  # deterministic camera per item
    # the camera is rigid: bone lengths are those of the world-frame joints
    world = read_humanml3d(tmp_path, "000000").joints[30:59]
    assert torch.allclose(
        (item["joints"][:, 4] - item["joints"][:, 1]).norm(dim=-1),
        (world[:, 4] - world[:, 1]).norm(dim=-1),
        atol=1e-4,
    )
