"""The shipped toy checkpoint's later stages: YAML deltas on top of the `synth-tiny` recipe,
each continuing the stage before it from that stage's export."""

from pathlib import Path

from echomotion_trainer.config import load_config
from echomotion_trainer.recipes import recipe

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _stage(name: str) -> dict:
    config = load_config(RECIPES / f"{name}.yaml", base=recipe("synth-tiny"))
    return _flat(config.model_dump(mode="json"))


def test_the_later_stages_are_synth_tiny_continued() -> None:
    base = _flat(recipe("synth-tiny").model_dump(mode="json"))
    anneal = _stage("synth-tiny-anneal")
    assert {k: anneal[k] for k in base if base[k] != anneal[k]} == {
        "recipe": "synth-tiny-anneal",
        "out_dir": "outputs/synth-tiny-anneal",
        "model.init_from": "outputs/synth-tiny/final",  # what `--recipe synth-tiny` exports
        "optim.lr": 1.5e-4,
        "phase1.steps": 0,
        "phase2.steps": 3000,
    }
    assert anneal["data.dataset"] == "outputs/synth-tiny/data"  # the same clips
    fine = _stage("synth-tiny-fine")
    assert {k: fine[k] for k in base if base[k] != fine[k]} == {
        "recipe": "synth-tiny-fine",
        "out_dir": "outputs/synth-tiny-fine",
        "model.patch_size": [1, 1, 1],
        "model.init_from": "outputs/synth-tiny-anneal/final",  # the second stage's export
        "model.init_partial": True,
        "optim.lr": 3e-4,
        "optim.decay": "cosine",
        "phase1.steps": 0,
        "phase2.steps": 3600,
    }
    person = _stage("synth-tiny-person")
    assert {k: person[k] for k in fine if fine[k] != person[k]} == {
        "recipe": "synth-tiny-person",
        "out_dir": "outputs/synth-tiny-person",
        "model.init_from": "outputs/synth-tiny-fine/final",  # the third stage's export
        "model.init_partial": False,
        "optim.lr": 2e-4,
        "flow.person_loss_weight": 4.0,
        "phase2.steps": 3000,
        "checkpoint.every": 500,
        "sampling.guidance": 2.0,
        "sampling.guidance_interval": [0.7, 1.0],
    }
    person2 = _stage("synth-tiny-person2")
    assert {k: person2[k] for k in person if person[k] != person2[k]} == {
        "recipe": "synth-tiny-person2",
        "out_dir": "outputs/synth-tiny-person2",
        "model.init_from": "outputs/synth-tiny-person/final",  # the fourth stage's export
        "flow.person_loss_weight": 8.0,
        "phase2.v2m": 1.25,
    }
