"""Export (mp4, npz, BVH, skeleton video, contact sheet), the BVH reader and the video reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from motions import camera_walk
from PIL import Image

from echomotion_motion_codec import SkeletonBodyModel, SMPLMotion, load_motion, walk_cycle
from echomotion_motion_codec.bvh import save_bvh
from echomotion_samplers import Latents, Task
from echomotion_samplers.bvh_reader import BVHFormatError, read_bvh
from echomotion_samplers.export import (
    contact_sheet,
    export_result,
    skeleton_frames,
    video_with_skeleton,
    write_mp4,
)
from echomotion_samplers.result import GenerationResult, camera_for_frames
from echomotion_samplers.video_io import (
    VideoReadError,
    is_wan_frame_count,
    probe_video,
    read_video,
    round_to_wan_frames,
)

T, H, W = 9, 48, 64


def gradient_video(frames: int = T, height: int = H, width: int = W) -> np.ndarray:
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    rgb = np.stack([x * 255 // width, y * 255 // height, t * 255 // max(frames - 1, 1)], -1)
    return rgb.astype(np.uint8)  # (T, H, W, 3)


def result_for(task: Task, batch: int = 1) -> GenerationResult:
    motion = SMPLMotion.stack([camera_walk(T, seed=i) for i in range(batch)])
    video = np.stack([gradient_video()] * batch)
    return GenerationResult(task, video, motion, 16.0, ("a person walks",) * batch, Latents())


def test_mp4_round_trip_keeps_count_rate_and_size(tmp_path: Path) -> None:
    frames = gradient_video()
    path = write_mp4(tmp_path / "v.mp4", frames, 16.0)
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.height, info.width) == (T, 16.0, H, W)
    back, fps = read_video(path)
    assert back.shape == frames.shape and fps == 16.0
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4  # H.264 at crf 18


def test_video_reader_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(VideoReadError, match=r"bad\.mp4"):
        probe_video(bad)


def test_wan_frame_rule() -> None:
    assert [is_wan_frame_count(n) for n in (1, 5, 81, 0, 4, 80)] == [True] * 3 + [False] * 3
    with pytest.warns(UserWarning, match="4k"):
        assert round_to_wan_frames(80) == 81
    with pytest.warns(UserWarning, match="using 85"):
        assert round_to_wan_frames(84) == 85
    assert round_to_wan_frames(33) == 33
    with pytest.raises(ValueError):
        round_to_wan_frames(0)


def test_skeleton_is_drawn_where_the_identity_camera_projects_the_joints() -> None:
    motion = camera_walk(T)
    drawn = skeleton_frames(motion, W, H, fov_degrees=50.0)
    assert drawn.shape == (T, H, W, 3) and drawn.dtype == np.uint8
    pix, depth = camera_for_frames(W, H, 50.0).project(motion.joints)
    assert bool((depth > 0).all())
    for t in (0, T - 1):
        u, v = pix[t, 0].round().long().tolist()  # the pelvis
        assert 0 <= u < W and 0 <= v < H
        assert (drawn[t, v, u] != (24, 24, 28)).any()  # a joint dot, not background
    assert camera_for_frames(W, H, 90.0).focal == pytest.approx(W / 2)


def test_side_by_side_and_overlay() -> None:
    video, motion = gradient_video(), camera_walk(T)
    both = video_with_skeleton(video, motion)
    assert both.shape == (T, H, 2 * W, 3)
    assert np.array_equal(both[:, :, :W], video)
    over = video_with_skeleton(video, motion, layout="overlay")
    assert over.shape == video.shape
    changed = (over != video).any(-1)
    assert 0 < changed.mean() < 0.5  # bones over the video, most pixels untouched
    with pytest.raises(ValueError, match="frames"):
        video_with_skeleton(video[:5], motion)


def test_contact_sheet_grid(tmp_path: Path) -> None:
    frames = gradient_video()
    path = contact_sheet(
        tmp_path / "s.png", frames, num_frames=6, columns=3, gap=2, min_tile_height=0
    )
    image = Image.open(path)
    assert image.size == (3 * W + 4 * 2, 2 * H + 3 * 2)
    tile = np.asarray(image)[2 + H + 2 : 2 + 2 * H + 2, 2 + 2 * (W + 2) : 2 + 3 * (W + 2) - 2]
    assert np.array_equal(tile[20:], frames[T - 1][20:])  # the last tile is the last frame


def test_contact_sheet_enlarges_small_frames_by_an_integer_factor(tmp_path: Path) -> None:
    frames = gradient_video()[:, :32, :32]
    path = contact_sheet(tmp_path / "s.png", frames, num_frames=2, columns=2, gap=0, labels=False)
    image = np.asarray(Image.open(path))
    assert image.shape == (96, 192, 3)  # 32 px → 3× → 96 px tiles
    assert np.array_equal(image[::3, 96::3], frames[T - 1])  # nearest neighbour, last frame
    assert np.array_equal(image[1::3, 97::3], frames[T - 1])


@pytest.mark.parametrize(
    ("task", "files"),
    [
        (Task.JOINT, {"s.mp4", "s.npz", "s.bvh", "s_skeleton.mp4", "s_sheet.png"}),
        (Task.M2V, {"s.mp4", "s_skeleton.mp4", "s_sheet.png"}),
        (Task.V2M, {"s.npz", "s.bvh", "s_skeleton.mp4", "s_sheet.png"}),
    ],
)
def test_export_writes_the_generated_modalities(
    tmp_path: Path, task: Task, files: set[str]
) -> None:
    result = result_for(task)
    [sample] = export_result(result, tmp_path, stem="s")
    assert {p.name for p in sample.paths()} == files == {p.name for p in tmp_path.iterdir()}
    assert probe_video(sample.skeleton_video).width == 2 * W
    if sample.motion is not None:
        back = load_motion(sample.motion)
        assert torch.allclose(back.joints, result.motion.joints[0], atol=1e-6)


def test_export_of_a_batch_indexes_the_stems(tmp_path: Path) -> None:
    samples = export_result(result_for(Task.JOINT, batch=2), tmp_path)
    assert [s.video.name for s in samples if s.video] == ["sample_0.mp4", "sample_1.mp4"]


def test_bvh_reads_back_what_the_codec_writes(tmp_path: Path) -> None:
    body_model = SkeletonBodyModel()
    world = walk_cycle(T, 30.0, betas=torch.linspace(-0.8, 0.8, 10), body_model=body_model)
    back = read_bvh(save_bvh(tmp_path / "w.bvh", world), body_model=body_model)
    assert back.frame == "world" and back.fps == 30.0 and back.num_frames == T
    assert torch.allclose(back.joints, world.joints, atol=1e-5)
    assert torch.allclose(back.betas, world.betas, atol=1e-3)
    assert torch.allclose(back.fk_rotations(), world.fk_rotations(), atol=1e-5)
    # A camera-frame motion is written y up (180° about x): it reads back as that world motion.
    cam = camera_walk(T)
    turned = read_bvh(save_bvh(tmp_path / "c.bvh", cam))
    flip = torch.tensor([1.0, -1.0, -1.0])
    assert torch.allclose(turned.joints, cam.joints * flip, atol=1e-5)


def test_bvh_reader_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bvh(tmp_path / "none.bvh")
    other = tmp_path / "other.bvh"
    other.write_text(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition "
        "Zrotation Xrotation Yrotation\n End Site\n {\n  OFFSET 0 1 0\n }\n}\n"
        "MOTION\nFrames: 1\nFrame Time: 0.0333\n0 0 0 0 0 0\n"
    )
    with pytest.raises(BVHFormatError, match="24 SMPL joints"):
        read_bvh(other)
    truncated = tmp_path / "cut.bvh"
    text = save_bvh(tmp_path / "ok.bvh", walk_cycle(5)).read_text()
    truncated.write_text(text[: len(text) - 40])
    with pytest.raises(BVHFormatError, match="values"):
        read_bvh(truncated)
