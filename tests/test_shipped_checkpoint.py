"""The checkpoint the repository ships (checkpoints/synth-tiny): small, complete, and the
README's main job runs on it as a user would run it (few solver steps, to stay fast)."""

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "synth-tiny"


def test_checkpoint_is_small_and_complete() -> None:
    files = {p.relative_to(CHECKPOINT).as_posix(): p for p in CHECKPOINT.rglob("*") if p.is_file()}
    assert {
        "pipeline.json",
        "transformer/config.json",
        "transformer/diffusion_pytorch_model.safetensors",
        "motion_normalizer.safetensors",
        "text_tokenizer/tokenizer.json",
        "train_config.yaml",
    } <= set(files)
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    assert sum(p.stat().st_size for p in files.values()) < 16 * 2**20
    config = json.loads(files["pipeline.json"].read_text())
    assert config["text_encoder"]["tokenizer_path"] == "text_tokenizer"


def echomotion(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "echomotion"), "generate"]
    command += ["--checkpoint", str(CHECKPOINT), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def joint_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The main job as a user runs it (fewer solver steps, to stay fast)."""
    out = tmp_path_factory.mktemp("joint")
    prompt = (
        "A person in a red t-shirt and blue trousers waves the left hand in front of a plain "
        "beige wall, on a wooden floor."
    )
    result = echomotion("--mode", "joint", "--prompt", prompt, "--steps", "4", "--seed", "0",
                        "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_main_job_writes_video_motion_bvh_and_skeleton_video(joint_sample: Path) -> None:
    names = {p.name for p in joint_sample.iterdir()}
    assert {"sample.mp4", "sample.npz", "sample.bvh", "sample_skeleton.mp4"} <= names
    config = json.loads((CHECKPOINT / "pipeline.json").read_text())
    with av.open(str(joint_sample / "sample.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == config["num_frames"]
    assert frames[0].shape == (config["height"], config["width"], 3)
    with av.open(str(joint_sample / "sample_skeleton.mp4")) as c:
        side_by_side = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert side_by_side[0].shape == (config["height"], 2 * config["width"], 3)
    motion = np.load(joint_sample / "sample.npz")
    assert np.isfinite(motion["transl"]).all()
    assert motion["transl"].shape[0] == config["num_frames"]
    generation = json.loads((joint_sample / "generation.json").read_text())
    for key in ("guidance", "solver", "eta", "motion_eta"):  # the shipped defaults
        assert generation[key] == config["sampling"][key], key


@pytest.mark.parametrize("mode", ["m2v", "v2m"])
def test_conditional_modes_run_on_the_shipped_checkpoint(
    joint_sample: Path, tmp_path: Path, mode: str
) -> None:
    extra = (
        ["--motion", str(joint_sample / "sample.npz"), "--prompt", "A person walks."]
        if mode == "m2v"
        else ["--video", str(joint_sample / "sample.mp4")]
    )
    result = echomotion("--mode", mode, *extra, "--steps", "2", "--seed", "2",
                        "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ("sample.mp4" if mode == "m2v" else "sample.npz")).is_file()
