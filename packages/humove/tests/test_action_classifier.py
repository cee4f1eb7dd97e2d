"""The synthetic world's action classifier: camera invariance, held-out accuracy, a label-shuffled
control, save/load."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from echomotion_humove.action_classifier import (
    ActionClassifier,
    ActionClassifierConfig,
    action_features,
    synthetic_action_data,
    train_action_classifier,
)
from echomotion_humove.synth import synthesize_motion
from echomotion_humove.virtual_camera import place_in_camera, sample_camera
from echomotion_motion_codec import SkeletonBodyModel, SMPLMotion

ACTIONS = ActionClassifierConfig().actions
TRAIN_SEEDS = range(240)  # 20 per action
HELD_OUT_SEEDS = range(1_000_000, 1_000_120)  # 10 per action, never seen in training


def _in_camera(motion: SMPLMotion, seed: int) -> SMPLMotion:
    body = SkeletonBodyModel()
    camera = sample_camera(motion.joints, random.Random(seed), facing_yaw=0.0)
    return place_in_camera(motion, camera, body_model=body)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny convolutions run fastest on one thread of a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def train_data(one_thread: None) -> tuple[list[SMPLMotion], torch.Tensor]:
    return synthetic_action_data(TRAIN_SEEDS, ACTIONS)


@pytest.fixture(scope="module")
def held_out(one_thread: None) -> tuple[SMPLMotion, list[str]]:
    """Held-out motions seen by random cameras (the frame generated motions come in)."""
    motions, labels = synthetic_action_data(HELD_OUT_SEEDS, ACTIONS)
    camera = [_in_camera(m, seed) for m, seed in zip(motions, HELD_OUT_SEEDS, strict=True)]
    return SMPLMotion.stack(camera), [ACTIONS[i] for i in labels.tolist()]


@pytest.fixture(scope="module")
def trained(
    train_data: tuple[list[SMPLMotion], torch.Tensor],
) -> tuple[ActionClassifier, float]:
    start = time.perf_counter()
    model = train_action_classifier(data=train_data, steps=150, seed=0)
    return model, time.perf_counter() - start


def test_features_do_not_depend_on_the_camera() -> None:
    world = synthesize_motion(7).motion
    camera = _in_camera(world, 3)
    assert camera.frame == "camera"
    a, b = action_features(world), action_features(camera)
    assert a.shape == (1, 33, 144)
    assert torch.allclose(a, b, atol=2e-4)


def test_trained_classifier_is_accurate_on_held_out_seeds(
    trained: tuple[ActionClassifier, float], held_out: tuple[SMPLMotion, list[str]]
) -> None:
    model, seconds = trained
    motions, labels = held_out
    prediction = model.predict(motions)
    assert prediction.probabilities.shape == (120, 12)
    assert torch.allclose(prediction.probabilities.sum(-1), torch.ones(120))
    accuracy = prediction.accuracy(labels)
    print(f"held-out accuracy {accuracy:.3f}, trained in {seconds:.1f} s")
    assert accuracy >= 0.9
    # shorter clips (17 frames) and another fps (resampled to the classifier's 16)
    assert model.predict(motions.slice_frames(0, 17)).accuracy(labels) >= 0.8
    other_fps = [
        synthesize_motion(s, num_frames=49, fps=24.0, action=ACTIONS[i % 12]).motion
        for i, s in enumerate(HELD_OUT_SEEDS[:24])
    ]
    assert model.predict(SMPLMotion.stack(other_fps)).accuracy(labels[:24]) >= 0.8
    single = model.predict(motions[0])
    assert single.labels[0] == prediction.labels[0]


def test_a_label_shuffled_model_does_not_generalize(
    train_data: tuple[list[SMPLMotion], torch.Tensor], held_out: tuple[SMPLMotion, list[str]]
) -> None:
    model = train_action_classifier(data=train_data, steps=150, seed=0, shuffle_labels=True)
    motions, labels = held_out
    assert model.predict(motions).accuracy(labels) < 0.4  # chance is 1/12


def test_save_and_load_round_trip(
    trained: tuple[ActionClassifier, float],
    held_out: tuple[SMPLMotion, list[str]],
    tmp_path: Path,
) -> None:
    model, _ = trained
    model.save(tmp_path / "clf")
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert config["format"] == "echomotion.action_classifier" and config["actions"] == list(ACTIONS)
    loaded = ActionClassifier.load(tmp_path / "clf")
    motions, _ = held_out
    assert torch.equal(loaded.predict(motions).probabilities, model.predict(motions).probabilities)
    with pytest.raises(FileNotFoundError, match=r"config\.json is missing"):
        ActionClassifier.load(tmp_path / "nothing")


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"config\.actions"):
        ActionClassifier(ActionClassifierConfig(actions=("walk", "fly")))
    with pytest.raises(ValueError, match=r"features: expected shape \(B, T, 144\)"):
        ActionClassifier()(torch.zeros(2, 10, 72))
    with pytest.raises(ValueError, match="targets: expected 1 labels"):
        ActionClassifier().predict(synthesize_motion(0).motion).accuracy(["walk", "run"])
    with pytest.raises(ValueError, match="min_frames"):
        train_action_classifier(min_frames=40)
