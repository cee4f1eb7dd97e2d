"""`echomotion generate` through typer's CliRunner on a checkpoint saved by the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from motions import camera_walk
from tiny_pipeline import FRAMES, HEIGHT, WIDTH
from typer.testing import CliRunner

from echomotion_motion_codec import save_motion
from echomotion_motion_codec.bvh import save_bvh
from echomotion_samplers import cli
from echomotion_samplers.export import write_mp4
from echomotion_samplers.pipeline import EchoMotionPipeline

runner = CliRunner()
FAST = ["--steps", "2", "--seed", "0", "--device", "cpu"]


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(cli.app, ["generate", *map(str, args)])
    return result.exit_code, result.output


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Fails the test if a model is loaded; records the attempts."""
    loads: list[Path] = []

    def refuse(cls: type, checkpoint_dir: Path, **kwargs: object) -> None:
        loads.append(checkpoint_dir)
        raise AssertionError("a model was loaded before the inputs were rejected")

    monkeypatch.setattr(EchoMotionPipeline, "from_pretrained", classmethod(refuse))
    return loads


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    walk = camera_walk(FRAMES)
    frames = np.random.default_rng(0).integers(0, 256, (FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    good_npz = save_motion(d / "walk.npz", walk)
    with np.load(good_npz) as data:
        arrays = dict(data)
    arrays["transl"] = arrays["transl"].copy()
    arrays["transl"][2, 1] = np.nan
    np.savez(d / "nan.npz", **arrays)
    (d / "motion.txt").write_text("not a motion")
    return {
        "npz": good_npz,
        "bvh": save_bvh(d / "walk.bvh", walk),
        "nan": d / "nan.npz",
        "fps30": save_motion(d / "fast.npz", camera_walk(FRAMES, fps=30.0)),
        "frames7": save_motion(d / "seven.npz", camera_walk(7)),
        "frames9": save_motion(d / "nine.npz", camera_walk(9)),
        "txt": (d / "motion.txt"),
        "mp4": write_mp4(d / "clip.mp4", frames, 16.0),
        "mp4_fps": write_mp4(d / "clip24.mp4", frames, 24.0),
        "mp4_size": write_mp4(d / "big.mp4", np.zeros((FRAMES, 48, 64, 3), np.uint8), 16.0),
        "mp4_len": write_mp4(d / "six.mp4", np.zeros((6, HEIGHT, WIDTH, 3), np.uint8), 16.0),
    }


def test_help_documents_every_option() -> None:
    result = runner.invoke(cli.app, ["generate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--mode", "--prompt", "--negative-prompt", "--motion", "--video", "--checkpoint",
        "--steps", "--shift", "--guidance", "--guidance-cond", "--guidance-interval", "--seed",
        "--frames", "--height", "--width", "--solver", "--eta", "--motion-eta", "--out",
        "--device", "--dtype",
    ):  # fmt: skip
        assert option in result.output, option
    for choice in ("joint", "m2v", "v2m", "euler", "unipc", "stochastic", "bfloat16"):
        assert choice in result.output


def test_joint_writes_its_files(checkpoint: Path, tmp_path: Path) -> None:
    code, output = invoke(
        "-c", checkpoint, "--mode", "joint", "-p", "a person walks", "-p", "a person runs",
        "--frames", "6", "--solver", "euler", "--out", tmp_path, *FAST,
    )  # fmt: skip
    assert code == 0, output
    assert "4k + 1" in output  # 6 frames → 5, with a warning
    names = {p.name for p in tmp_path.iterdir()}
    for i in (0, 1):
        assert {
            f"sample_{i}{s}" for s in (".mp4", ".npz", ".bvh", "_skeleton.mp4", "_sheet.png")
        } <= names
    record = json.loads((tmp_path / "generation.json").read_text())
    assert record["seed"] == 0 and record["frames"] == 5 and record["solver"] == "euler"
    assert record["prompts"] == ["a person walks", "a person runs"]
    assert record["guidance_interval"] == [0.0, 1.0]  # the checkpoint's default


def test_guidance_interval_is_used_and_recorded(checkpoint: Path, tmp_path: Path) -> None:
    runs = {}
    for name, extra in (("all", []), ("high", ["--guidance-interval", "0.95", "1"])):
        code, output = invoke(
            "-c", checkpoint, "-p", "a person", "-o", tmp_path / name, "--guidance", "4", *extra,
            *FAST,
        )  # fmt: skip
        assert code == 0, output
        runs[name] = json.loads((tmp_path / name / "generation.json").read_text())
    assert runs["high"]["guidance_interval"] == [0.95, 1.0]
    with (
        np.load(tmp_path / "all" / "sample.npz") as a,
        np.load(tmp_path / "high" / "sample.npz") as b,
    ):
        assert not np.allclose(a["joints"], b["joints"])  # the low-noise steps were unguided


def test_stochastic_solver_options_are_used_and_recorded(checkpoint: Path, tmp_path: Path) -> None:
    runs = {}
    for name, extra in (
        ("default", ["--solver", "stochastic"]),
        ("still", ["--solver", "stochastic", "--eta", "0", "--motion-eta", "0"]),
        ("euler", ["--solver", "euler"]),
    ):
        code, output = invoke(
            "-c", checkpoint, "-p", "a person", "-o", tmp_path / name, *extra, *FAST
        )
        assert code == 0, output
        runs[name] = json.loads((tmp_path / name / "generation.json").read_text())
    assert runs["default"]["solver"] == "stochastic"
    assert (runs["default"]["eta"], runs["default"]["motion_eta"]) == (1.0, 0.0)  # the defaults
    assert (runs["still"]["eta"], runs["still"]["motion_eta"]) == (0.0, 0.0)
    with (
        np.load(tmp_path / "still" / "sample.npz") as still,
        np.load(tmp_path / "euler" / "sample.npz") as euler,
    ):
        np.testing.assert_allclose(still["joints"], euler["joints"], atol=1e-4)  # η = 0: Euler
    code, output = invoke("-c", checkpoint, "-p", "a person", "-o", tmp_path / "bad", "--eta", "2")
    assert code != 0 and "--eta" in output


@pytest.mark.parametrize("kind", ["npz", "bvh"])
def test_m2v_writes_its_files(
    checkpoint: Path, tmp_path: Path, inputs: dict[str, Path], kind: str
) -> None:
    code, output = invoke(
        "-c", checkpoint, "--mode", "m2v", "-p", "a person walks", "--motion", inputs[kind],
        "--out", tmp_path, *FAST, "--dtype", "bfloat16" if kind == "bvh" else "float32",
    )  # fmt: skip
    assert code == 0, output
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"sample.mp4", "sample_skeleton.mp4", "sample_sheet.png", "generation.json"}


def test_v2m_writes_its_files(checkpoint: Path, tmp_path: Path, inputs: dict[str, Path]) -> None:
    code, output = invoke(
        "-c", checkpoint, "--mode", "v2m", "--video", inputs["mp4"], "--out", tmp_path, *FAST,
        "--guidance-cond", "2.0",
    )  # fmt: skip
    assert code == 0, output
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "sample.npz", "sample.bvh", "sample_skeleton.mp4", "sample_sheet.png", "generation.json",
    }  # fmt: skip


def test_same_seed_same_files(checkpoint: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        code, output = invoke("-c", checkpoint, "-p", "a person", "-o", tmp_path / name, *FAST)
        assert code == 0, output
    with np.load(tmp_path / "a" / "sample.npz") as a, np.load(tmp_path / "b" / "sample.npz") as b:
        assert np.array_equal(a["joints"], b["joints"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "joint"], "--prompt: --mode joint needs a prompt"),
        (["--mode", "v2m", "-p", "x", "--video", "{mp4}"], "does not use a prompt"),
        (["--mode", "joint", "-p", "x", "--motion", "{npz}"], "only --mode m2v takes a motion"),
        (["--mode", "m2v", "-p", "x"], "--mode m2v needs a motion file"),
        (["--mode", "m2v", "-p", "x", "--motion", "{missing}"], "file not found"),
        (["--mode", "m2v", "-p", "x", "--motion", "{txt}"], "expected a .npz or .bvh"),
        (["--mode", "m2v", "-p", "x", "--motion", "{nan}"], "NaN"),
        (["--mode", "m2v", "-p", "x", "--motion", "{fps30}"], "30 fps, but the checkpoint"),
        (["--mode", "m2v", "-p", "x", "--motion", "{frames7}"], "7 frames; the model needs 4k + 1"),
        (["--mode", "m2v", "-p", "x", "--motion", "{frames9}", "--frames", "5"], "--frames is 5"),
        (["--mode", "v2m"], "--mode v2m needs a video"),
        (["--mode", "v2m", "--video", "{missing}"], "not found"),
        (["--mode", "v2m", "--video", "{mp4_fps}"], "24 fps"),
        (["--mode", "v2m", "--video", "{mp4_size}"], "64x48 pixels"),
        (["--mode", "v2m", "--video", "{mp4_len}"], "6 frames"),
        (["--mode", "v2m", "--video", "{mp4}", "--height", "16"], "--height/--width is 32x16"),
        (["-p", "x", "--height", "30"], "multiples of 4"),
        (["-p", "x", "--width", "33"], "--width: expected an even number"),
        (["-p", "x", "--device", "cuda:0"], "--device"),
        (["-p", "x", "--checkpoint", "{missing}"], "checkpoint directory not found"),
        (["-p", "x", "--guidance-interval", "0.6", "0.2"], "--guidance-interval: expected LO HI"),
    ],
)
def test_bad_inputs_fail_before_any_model_is_loaded(
    checkpoint: Path,
    tmp_path: Path,
    inputs: dict[str, Path],
    no_model: list[Path],
    args: list[str],
    message: str,
) -> None:
    if "--device" in args:
        pytest.importorskip("torch")
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
    paths = {**{k: str(v) for k, v in inputs.items()}, "missing": str(tmp_path / "missing.npz")}
    filled = [a.format(**paths) for a in args]
    code, output = invoke("-c", checkpoint, "--out", tmp_path / "out", *filled)
    assert code != 0
    assert message in output, output
    assert no_model == []
    assert not (tmp_path / "out").exists()


def test_bad_checkpoint_layout(tmp_path: Path, no_model: list[Path]) -> None:
    (tmp_path / "ckpt").mkdir()
    code, output = invoke("-c", tmp_path / "ckpt", "-p", "x")
    assert code != 0 and "pipeline.json" in output and no_model == []


def test_plugins_register_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    class EntryPoint:
        def __init__(self, name: str, register: object) -> None:
            self.name, self.value, self._register = name, f"tests:{name}", register

        def load(self) -> object:
            return self._register

    def register(app: typer.Typer) -> None:
        @app.command()
        def train(steps: int = 1) -> None:
            """Train (a test plug-in)."""
            typer.echo(f"trained {steps}")

    def broken(app: typer.Typer) -> None:
        raise RuntimeError("cannot import torch.distributed")

    monkeypatch.setattr(
        cli,
        "entry_points",
        lambda group: (
            [EntryPoint("train", register), EntryPoint("eval", broken)]
            if group == cli.ENTRY_POINT_GROUP
            else []
        ),
    )
    app = typer.Typer()
    app.command()(cli.generate)
    assert cli.load_plugins(app) == ["train"]
    assert cli.load_plugins(app) == ["train"]  # once per app
    result = runner.invoke(app, ["train", "--steps", "3"])
    assert result.exit_code == 0 and "trained 3" in result.output
    result = runner.invoke(app, ["--help"])
    assert "generate" in result.output and "train" in result.output


def test_console_script_is_declared() -> None:
    from importlib.metadata import entry_points

    [script] = [ep for ep in entry_points(group="console_scripts") if ep.name == "echomotion"]
    assert script.value == "echomotion_samplers.cli:main"
