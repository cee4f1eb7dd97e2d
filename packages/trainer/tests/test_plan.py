"""The memory planner: the activation law against direct counts at sizes it was not fitted on,
the Wan recipes' parameter counts and token geometry, the memory arithmetic, the CLI."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from echomotion_trainer.activation_law import (
    FIT_PROBES,
    ActivationLaw,
    Precision,
    Probe,
    build_probe_model,
    fit_activation_law,
    measure_saved,
)
from echomotion_trainer.cli import register
from echomotion_trainer.plan import (
    GB,
    estimate_memory,
    model_size,
    plan_markdown,
    plan_memory,
    train_shape,
)
from echomotion_trainer.recipes import recipe

# Measured 2026-12-05 on this project's CPU: the held-out counts below match the law to 0.0 %
# (every saved tensor is a token count times one width, so the fit is exact); the tolerance
# leaves room for a kernel whose buffers round up a little, not for a missing term.
TOLERANCE = 0.01

# Not among FIT_PROBES: other widths and token counts, and 3 layers (one video-only in HYBRID).
HELD_OUT = Probe(6, 16, 200, 8, 20, (3, 6, 8), 5, 17)
HYBRID = (0, 2)
# (precision, batch): the trainer's one-process autocast at batch 1, FSDP2's bf16 weights at 2.
LAWS = [("autocast", 1), ("fsdp", 2)]


@pytest.fixture(scope="module", params=LAWS, ids=[f"{p}-batch{b}" for p, b in LAWS])
def law(request: pytest.FixtureRequest) -> ActivationLaw:
    precision: Precision = request.param[0]
    return fit_activation_law("cpu", precision, request.param[1])  # cached: the CLI test reuses it


def test_law_fits_its_probes_exactly(law: ActivationLaw) -> None:
    assert law.probes == len(FIT_PROBES)
    assert law.max_residual < 1e-6


@pytest.mark.parametrize("dual_blocks", [None, HYBRID], ids=["all-dual", "hybrid"])
@pytest.mark.parametrize("checkpointing", [False, True], ids=["saved", "checkpointed"])
def test_law_predicts_a_forward_it_was_not_fitted_on(
    law: ActivationLaw, dual_blocks: tuple[int, ...] | None, checkpointing: bool
) -> None:
    probe, batch = HELD_OUT, law.batch
    model = build_probe_model(probe, 3, dual_blocks=dual_blocks, precision=law.precision)
    kinds = ["dual" if dual_blocks is None or i in dual_blocks else "video" for i in range(3)]
    for pass_ in ("joint", "motion", "video"):
        measured = measure_saved(
            model,
            pass_,
            latent=(probe.in_channels, *probe.latent),
            motion_frames=probe.motion_frames,
            text_tokens=probe.text_tokens,
            batch=batch,
            checkpointing=checkpointing,
        ).total
        predicted = law.saved_bytes(
            pass_,
            probe.dims(),
            probe.tokens(),
            kinds,  # type: ignore[arg-type]
            batch=batch,
            checkpointing=checkpointing,
        )
        assert predicted == pytest.approx(measured, rel=TOLERANCE), (pass_, predicted, measured)


def test_wan_recipes_build_what_they_say() -> None:
    small = model_size(recipe("wan2.1-1.3b"))
    assert small.layers.count("dual") == 30 and len(small.layers) == 30
    assert round(small.params / 1e9, 2) == 2.83
    large = model_size(recipe("wan2.2-5b"))
    assert large.layers.count("dual") == 15 and len(large.layers) == 30
    assert round(large.params / 1e9, 2) == 7.53
    assert 0 < large.motion_params < large.params
    assert sum(large.layer_params) + large.root_params == large.params


def test_token_geometry_matches_dualdit_accounting() -> None:
    from echomotion_dualdit.accounting import RECIPES

    for name in ("wan2.1-1.3b", "wan2.2-5b"):
        shape = train_shape(recipe(name))
        ref = RECIPES[name]
        patch = 4  # 1×2×2
        latent_frames = (ref.frames - 1) // 4 + 1
        video = latent_frames * (ref.height // ref.vae_spatial) * (ref.width // ref.vae_spatial)
        assert shape.tokens.video == video // patch
        assert shape.tokens.motion == ref.frames * 51 and shape.tokens.text == 512
    small = train_shape(recipe("wan2.1-1.3b"))
    assert small.latent == (16, 21, 60, 104) and small.batch == 2
    assert train_shape(recipe("wan2.1-1.3b"), batch=1, frames=33).latent == (16, 9, 60, 104)
    with pytest.raises(ValueError, match="4k"):
        train_shape(recipe("wan2.1-1.3b"), frames=80)
    with pytest.raises(ValueError, match="multiples of 16"):
        train_shape(recipe("wan2.1-1.3b"), height=488)


def test_memory_arithmetic(law: ActivationLaw) -> None:
    config = recipe("wan2.1-1.3b")
    size, shape = model_size(config), train_shape(config, batch=law.batch)
    common = {"phase": 2, "checkpointing": True, "ema": True}
    one = estimate_memory(size, shape, law, gpus=1, offload=False, **common)  # type: ignore[arg-type]
    eight = estimate_memory(size, shape, law, gpus=8, offload=False, **common)  # type: ignore[arg-type]
    p = size.params
    assert one.params == 4 * p and one.optimizer == 8 * p and one.ema == 4 * p
    assert eight.params == pytest.approx(one.params / 8) and eight.grads == pytest.approx(p / 2)
    assert eight.activations == one.activations  # activations are per GPU, not sharded
    off = estimate_memory(size, shape, law, gpus=8, offload=True, **common)  # type: ignore[arg-type]
    assert off.params == off.grads == off.optimizer == off.ema == 0
    assert off.host == pytest.approx(eight.static + eight.step_temporaries)
    phase1 = estimate_memory(size, shape, law, gpus=1, phase=1, checkpointing=True, offload=False)
    assert phase1.grads == 4 * size.motion_params and phase1.params == one.params
    plain = estimate_memory(size, shape, law, gpus=1, phase=2, checkpointing=False, offload=False)
    assert plain.activations > 10 * one.activations and one.recompute > 0 == plain.recompute
    assert one.peak == max(one.forward_peak, one.backward_peak, one.step_peak)
    with pytest.raises(ValueError, match="gpus"):
        estimate_memory(size, shape, law, gpus=0, offload=False, **common)  # type: ignore[arg-type]


def test_plan_markdown_says_what_fits(law: ActivationLaw) -> None:
    plan = plan_memory(recipe("wan2.2-5b"), gpus=8, gpu_memory=80, batch=law.batch, law=law)
    text = plan_markdown(plan)
    assert "7.53 B parameters (15 of 30 layers dual)" in text
    assert "**PEAK**" in text and "fits in 80 GB" in text and "phase 1 peak" in text
    ckpt = plan.estimate(2, checkpointing=True, offload=False)
    assert plan.verdict(ckpt) == ("yes" if ckpt.peak <= 0.9 * 80 * GB else "no")


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_cli_rejects_bad_input_with_exit_2() -> None:
    runner = CliRunner()
    bad = runner.invoke(_app(), ["plan", "--recipe", "nope"])
    assert bad.exit_code == 2 and "unknown name 'nope'" in bad.output
    bad = runner.invoke(_app(), ["plan", "--gpus", "0"])
    assert bad.exit_code == 2 and "--gpus must be ≥ 1" in bad.output
    bad = runner.invoke(_app(), ["plan", "--frames", "80"])
    assert bad.exit_code == 2 and "4k + 1" in bad.output


def test_cli_prints_the_plan() -> None:
    result = CliRunner().invoke(
        _app(),
        ["plan", "--recipe", "wan2.1-1.3b", "--gpus", "8", "--gpu-memory", "80", "--markdown"],
    )
    assert result.exit_code == 0, result.output
    assert "2.83 B parameters (30 of 30 layers dual)" in result.output
    assert "8 × 80 GB" in result.output and "**PEAK**" in result.output
