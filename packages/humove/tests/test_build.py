from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from build_backends import BoxKeypoints, ContrastAesthetic, FixedCaptioner, NoisyHMR

from echomotion_humove.backends.backdrop import BackdropPersonDetector
from echomotion_humove.pipeline import (
    AestheticStage,
    BuildConfig,
    ClipContext,
    MeshRecoveryStage,
    build_dataset,
    decide_single_person,
    default_stages,
    smooth_rotations,
)
from echomotion_humove.storage import read_manifest
from echomotion_humove.synth import synthesize_clip
from echomotion_humove.validate import validate_dataset
from echomotion_humove.virtual_camera import CameraRange
from echomotion_motion_codec.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from echomotion_motion_codec.video import write_video

FRONT = CameraRange(yaw_degrees=(-20.0, 20.0))


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw videos: one with a cut (two scenes), two people, nobody, a corrupt file."""
    d = tmp_path_factory.mktemp("raw")
    a = synthesize_clip(1, num_frames=17, camera_range=FRONT).frames
    b = synthesize_clip(2, num_frames=17, camera_range=FRONT).frames
    write_video(d / "good.mp4", np.concatenate([a, b]), 16.0)
    write_video(
        d / "two.mp4", synthesize_clip(0, num_frames=17, people=2, camera_range=FRONT).frames, 16.0
    )
    write_video(d / "empty.mp4", synthesize_clip(3, num_frames=17, people=0).frames, 16.0)
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    return d


def _stages(delay: float = 0.0) -> tuple:
    return default_stages(
        aesthetic=ContrastAesthetic(),
        persons=BackdropPersonDetector(),
        keypoints=BoxKeypoints(),
        hmr=NoisyHMR(delay=delay),
        captioner=FixedCaptioner(),
        aesthetic_threshold=0.05,
    )


def _summary(root: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for r in read_manifest(root):
        rej = r.rejection
        out[Path(r.source).stem + r.id[-4:]] = (
            r.status,
            f"{rej.stage}: {rej.reason}" if rej else "",
        )
    return out


def test_build_keeps_and_rejects_with_reasons(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "built"
    sources = sorted(raw.glob("*.mp4"))
    first = build_dataset(
        sources, out, BuildConfig(stages=_stages(), sources_per_shard=2), workers=2
    )
    records = read_manifest(out)
    by_source: dict[str, list] = {}
    for r in records:
        by_source.setdefault(Path(r.source).stem, []).append(r)
    assert set(by_source) == {"good", "two", "empty", "corrupt"}  # nothing lost
    good = by_source["good"]
    assert [r.num_frames for r in good] == [17, 17] and all(r.status == "accepted" for r in good)
    assert all(
        r.motion_file and r.caption and r.caption.full == "A person moves in front of a plain wall."
        for r in good
    )
    assert good[0].quality["keypoint_visibility"] == 1.0 and "aesthetic" in good[0].quality
    (two,) = by_source["two"]
    assert (
        two.rejection is not None
        and two.rejection.stage == "single_person"
        and "several people" in two.rejection.reason
    )
    (empty,) = by_source["empty"]
    assert (
        empty.rejection is not None
        and empty.rejection.stage == "single_person"
        and "no person" in empty.rejection.reason
    )
    (bad,) = by_source["corrupt"]
    assert (
        bad.rejection is not None
        and bad.rejection.stage == "scene_split"
        and "unreadable" in bad.rejection.reason
    )
    report = validate_dataset(out)
    assert report.ok, report.problems
    # re-running does no work and gives the same manifest
    again = build_dataset(
        sources, out, BuildConfig(stages=_stages(), sources_per_shard=2), workers=1
    )
    assert first["computed"] > 0 and again["computed"] == 0
    assert read_manifest(out) == records


def test_missing_backends_skip_never_fake(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "bare"
    build_dataset([raw / "good.mp4"], out, BuildConfig(stages=default_stages()))
    recs = read_manifest(out)
    assert len(recs) == 2 and all(
        r.status == "partial" and r.motion_file is None and r.caption is None for r in recs
    )
    reasons = {s.stage: s.reason for s in recs[0].stages if s.status == "skipped"}
    assert "no aesthetic scorer backend given" in reasons["aesthetic"]
    assert set(reasons) == {
        "aesthetic",
        "single_person",
        "keypoint_visibility",
        "hmr",
        "smoothing",
        "fk",
        "caption",
    }
    assert validate_dataset(out).ok
    # adding the backends later runs just the stages that were skipped
    result = build_dataset([raw / "good.mp4"], out, BuildConfig(stages=_stages()))
    assert result["computed"] == 2 * 7 and all(r.status == "accepted" for r in read_manifest(out))


def test_stage_rejections(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "one"
    build_dataset([raw / "good.mp4"], out, BuildConfig(stages=default_stages()))
    rec = read_manifest(out)[0]
    ctx = ClipContext(out, rec.id, rec.video_file, "m.npz", tmp_path / "w", 64, 64, 16.0)  # type: ignore[arg-type]
    ctx.work.mkdir()
    res = MeshRecoveryStage(NoisyHMR(nan_frame=3)).run(ctx)
    assert (
        res.status == "rejected"
        and "non-finite values in 1 of 17 frames (first: [3])" in res.reason
    )
    res = AestheticStage(ContrastAesthetic(), threshold=10.0).run(ctx)
    assert (
        res.status == "rejected" and "aesthetic score" in res.reason and "aesthetic" in res.quality
    )


def test_person_geometry() -> None:
    one = [np.array([[10, 10, 30, 60, 0.9], [50, 50, 52, 53, 0.9]])] * 4  # a tiny bystander
    assert decide_single_person(one, 64, 64).ok
    two = [np.array([[0, 0, 20, 60, 0.9], [30, 0, 50, 60, 0.8]])] * 4
    d = decide_single_person(two, 64, 64)
    assert not d.ok and "several people" in d.reason
    gaps = [np.zeros((0, 5))] + [np.array([[10, 10, 30, 60, 0.9]])] * 9
    d = decide_single_person(gaps, 64, 64)
    assert d.ok and d.track.shape == (10, 4) and np.allclose(d.track[0], [10, 10, 30, 60])
    assert not decide_single_person([np.zeros((0, 5))] * 3, 64, 64).ok


def test_rotation_smoothing_is_on_the_manifold() -> None:
    import torch

    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 1, 40, dtype=torch.float64)
    axis = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    clean = axis_angle_to_matrix(t[:, None] * 3.0 * axis)  # sweeps through ±π (the wrap)
    noisy = axis_angle_to_matrix(
        matrix_to_axis_angle(clean) + 0.05 * torch.randn(40, 3, generator=g, dtype=torch.float64)
    )
    smooth = torch.from_numpy(smooth_rotations(noisy.numpy(), sigma=2.0))
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(smooth @ smooth.transpose(-1, -2), eye.expand(40, 3, 3), atol=1e-9)

    def err(x: torch.Tensor) -> float:
        return float(matrix_to_axis_angle(x.transpose(-1, -2) @ clean).norm(dim=-1)[3:-3].mean())

    assert err(smooth) < 0.6 * err(noisy)


def test_kill_and_resume(raw: Path, tmp_path: Path) -> None:
    out, ref = tmp_path / "killed", tmp_path / "reference"
    sources = [raw / "good.mp4", raw / "two.mp4"]
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from build_backends import *; from test_build import _stages;"
        "from echomotion_humove.pipeline import BuildConfig, build_dataset;"
        "build_dataset([Path(p) for p in sys.argv[3:]], sys.argv[2], BuildConfig(stages=_stages(delay=3.0)))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(out), *map(str, sources)]
    )
    try:
        deadline = time.time() + 120
        while not list(out.glob("work/*/keypoint_visibility.json")) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not list(out.glob("manifest/*.parquet"))  # killed mid-shard: no manifest yet
    assert list(out.glob("work/*/keypoint_visibility.json"))
    resumed = build_dataset(sources, out, BuildConfig(stages=_stages()))
    full = build_dataset(sources, ref, BuildConfig(stages=_stages()))
    assert resumed["computed"] < full["computed"]  # the killed run's work was kept
    assert _summary(out) == _summary(ref)
    assert validate_dataset(out).ok
