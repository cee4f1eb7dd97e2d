"""experiments/ablations: the variant table's config differences and the report's arithmetic on
step logs with a known answer (no training)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ablations"))

import analysis
import report
import results
import variants

from echomotion_trainer.recipes import recipe


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _config(name: str, seed: int = 0) -> dict[str, Any]:
    cfg = variants.variant_config(
        name, seed=seed, steps=500, phase1_steps=100, out_root="o", data_dir="o/data"
    )
    return _flat(cfg.model_dump(mode="json"))


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    skip = {"recipe", "out_dir"}
    return {k: b[k] for k in a if a[k] != b[k] and k not in skip}


def test_base_is_the_recipe_with_two_layers_and_a_fixed_budget() -> None:
    base, tiny = _config("base"), _flat(recipe("synth-tiny").model_dump(mode="json"))
    assert _diff(tiny, base) == {
        "model.num_layers": 2,
        "data.dataset": "o/data",
        "data.synthesize": 0,
        "phase1.steps": 100,
        "phase2.steps": 400,
        "optim.ema_decay": None,
        "checkpoint.every": 100,
        "checkpoint.keep_last": 1,
        "logging.tensorboard": False,
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("collision", {"model.rope_mode": "collision"}),
        ("stride4", {"model.rope_time_stride": 4.0}),
        ("one-phase", {"phase1.steps": 0, "phase2.steps": 500}),
        (
            "single-stream-one-phase",
            {"phase1.steps": 0, "phase2.steps": 500, "model.single_stream": True},
        ),
        (
            "video-only",
            {
                "phase1.steps": 0,
                "phase2.steps": 500,
                "phase2.joint": 0.0,
                "phase2.v2m": 0.0,
                "phase2.p_cond_drop": 1.0,
            },
        ),
    ],
)
def test_each_variant_differs_from_base_only_where_it_should(
    name: str, expected: dict[str, Any]
) -> None:
    assert _diff(_config("base"), _config(name)) == expected


def test_video_only_matched_trains_as_many_steps_as_base_trains_video() -> None:
    # base: 400 paired steps drawing joint / m2v / v2m equally → 400 × 2/3 ≈ 267 video steps
    assert variants.base_video_steps(500, 100) == 267
    assert _diff(_config("video-only"), _config("video-only-matched")) == {"phase2.steps": 267}
    cfg = variants.variant_config(
        "video-only-matched", seed=0, steps=30, phase1_steps=6, out_root="o", data_dir="d"
    )
    assert (cfg.phase1.steps, cfg.phase2.steps) == (0, 16)


def test_seed_and_out_dir() -> None:
    cfg = variants.variant_config(
        "collision", seed=1, steps=10, phase1_steps=2, out_root="runs", data_dir="d"
    )
    assert cfg.seed == 1 and cfg.out_dir == "runs/collision/seed1"
    assert (cfg.phase1.steps, cfg.phase2.steps) == (2, 8)
    with pytest.raises(ValueError, match="unknown"):
        variants.variant_config(
            "nope", seed=0, steps=10, phase1_steps=2, out_root="r", data_dir="d"
        )


def test_every_ablation_names_known_variants_and_metrics() -> None:
    known_prefix = ("heldout.", "eval.", "train.", "threshold.")
    for ab in variants.ABLATIONS:
        assert {ab.reference, ab.variant, *ab.extra} <= set(variants.VARIANTS)
        assert all(k.startswith(known_prefix) for k in (*ab.primary, *ab.secondary))
        assert all(results.label(k) for k in (*ab.primary, *ab.secondary))


# ------------------------------------------------------------------------------ arithmetic
def test_trailing_mean_and_fraction_below() -> None:
    assert analysis.trailing_mean([2.0, 1.0, 0.8, 0.6], 2) == pytest.approx([2.0, 1.5, 0.9, 0.7])
    assert analysis.trailing_mean([3.0, 1.0], 5) == pytest.approx([3.0, 2.0])
    a = analysis.Series((1, 2, 3, 5), (1.0, 1.0, 3.0, 0.0))
    b = analysis.Series((1, 2, 3, 4), (2.0, 0.5, 4.0, 9.0))
    assert analysis.fraction_below(a, b) == pytest.approx(2 / 3)  # steps 1, 2, 3 shared


def test_compare_needs_two_seeds_apart() -> None:
    apart = analysis.compare([1.0, 1.1], [1.5, 1.6], lower_is_better=True)
    assert apart.relative == pytest.approx(0.5 / 1.05)
    assert apart.verdict(True) == "agrees" and apart.outcome() == "reference better"
    flipped = analysis.compare([1.0, 1.1], [1.5, 1.6], lower_is_better=False)
    assert flipped.verdict(True) == "disagrees"
    overlap = analysis.compare([1.0, 1.6], [1.5, 1.7], lower_is_better=True)
    assert overlap.verdict(True) == "inconclusive" and overlap.outcome() == "within seed spread"
    single = analysis.compare([1.0], [2.0], lower_is_better=True)
    assert single.verdict(True) == "inconclusive" and single.outcome() == "one seed"
    assert apart.verdict(False) == "—"


def test_markdown_table() -> None:
    table = analysis.markdown_table(["a", "b"], [["1", "x|y"], ["2"]])
    assert table == "| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2 |  |\n"
    assert analysis.format_spread([1.0, 2.0]) == "1.5 ± 0.5"
    assert analysis.format_spread([]) == "—"


def _rec(step: int, phase: int, paradigm: str, seconds: float, **losses: float) -> dict[str, Any]:
    video, motion = losses.get("video"), losses.get("motion")
    return {"step": step, "phase": phase, "paradigm": paradigm, "loss": (video or 0) + (motion or 0),
            "loss_video": video, "loss_motion": motion, "lr": 1e-3, "seconds": seconds}  # fmt: skip


# Two-phase: generated-motion losses 2.0, 1.0 (phase 1), 0.8, 0.6 (joint) → smoothed (window 2)
# 2.0, 1.5, 0.9, 0.7; the v2m step's 0.1 must not count. One-phase: 2.0, 1.6, 1.2, 0.8 →
# smoothed 2.0, 1.8, 1.4, 1.0, so the threshold is 1.0: two-phase reaches it at step 3 after
# 0.1 + 0.1 + 0.3 = 0.5 s, one-phase at step 6 after 6 × 0.3 = 1.8 s.
TWO_PHASE = [
    _rec(1, 1, "motion_only", 0.1, motion=2.0),
    _rec(2, 1, "motion_only", 0.1, motion=1.0),
    _rec(3, 2, "joint", 0.3, motion=0.8, video=1.0),
    _rec(4, 2, "v2m", 0.3, motion=0.1),
    _rec(5, 2, "m2v", 0.3, video=0.9),
    _rec(6, 2, "joint", 0.3, motion=0.6, video=0.8),
]
ONE_PHASE = [
    _rec(1, 2, "joint", 0.3, motion=2.0, video=1.2),
    _rec(2, 2, "v2m", 0.3, motion=0.05),
    _rec(3, 2, "joint", 0.3, motion=1.6, video=1.1),
    _rec(4, 2, "m2v", 0.3, video=1.0),
    _rec(5, 2, "joint", 0.3, motion=1.2, video=1.0),
    _rec(6, 2, "joint", 0.3, motion=0.8, video=0.9),
]


def _write_run(out: Path, variant: str, seed: int, records: list[dict[str, Any]]) -> None:
    run = out / variant / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "summary.json").write_text(json.dumps({"steps": 6, "seconds": 1.0}))
    cfg = variants.variant_config(
        variant, seed=seed, steps=6, phase1_steps=2, out_root=out, data_dir=out / "data"
    )
    (run / "config.yaml").write_text(cfg.to_yaml())


def test_steps_to_threshold_and_the_report(tmp_path: Path) -> None:
    out, docs = tmp_path / "runs", tmp_path / "docs"
    for seed in (0, 1):
        _write_run(out, "base", seed, TWO_PHASE)
        _write_run(out, "one-phase", seed, ONE_PHASE)
    runs = results.load_runs(out, window=2)
    phases = next(a for a in variants.ABLATIONS if a.key == "phases")
    assert report.phases_threshold(runs, phases) == pytest.approx(1.0)
    assert runs["base"][0].threshold_cost == (3, pytest.approx(0.5))
    assert runs["one-phase"][0].threshold_cost == (6, pytest.approx(1.8))
    assert runs["base"][0].value("train.motion") == pytest.approx(0.7)

    text = report.write_report(out, docs, window=2).read_text()
    assert "| steps to threshold (primary) | 3 ± 0 | 6 ± 0 | +100.0% | agrees |" in text
    assert "2.00× in steps, 3.60× in step-seconds" in text
    assert "of 2 primary metrics, 2 agree, 0 disagree, 0 inconclusive" in text
    assert "_Not run yet: no finished runs of collision._" in text
    assert (docs / "ablations" / "phases_curves.png").stat().st_size > 0
    assert (docs / "ablations" / "phases_metrics.png").stat().st_size > 0
