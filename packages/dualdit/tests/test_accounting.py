"""The accounting counts real modules on the meta device (tiny recipe here; Wan-1.3B checked too)."""

from __future__ import annotations

import pytest

from echomotion_dualdit.accounting import RECIPES, Recipe, account, format_table, main


def test_tiny_recipe_counts() -> None:
    tiny = Recipe("tiny", "tiny", frames=17, height=32, width=32, vae_spatial=2)
    result = account(tiny)
    assert result.video_tokens == 5 * 8 * 8 and result.motion_tokens == 17 * 51
    assert result.params_dual > result.params_video > 0
    assert result.flops_dual.linear > result.flops_video.linear > 0
    assert result.flops_dual.attention > result.flops_video.attention > 0
    assert "| tiny (17 f, 32×32) | 320 | 867 |" in format_table([result])


def test_wan21_recipe_matches_the_paper_shape() -> None:
    result = account(RECIPES["wan2.1-1.3b"])
    assert (result.video_tokens, result.motion_tokens) == (32_760, 4_131)  # paper A.10
    assert 1.99 < result.params_ratio < 2.01  # every block dual: parameters double
    assert 0.12 < result.linear_overhead < 0.14  # paper: +12.9%
    assert result.total_overhead > result.linear_overhead  # the joint attention grows quadratically


def test_cli_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--recipe", "wan2.1-1.3b"])
    out = capsys.readouterr().out
    assert out.startswith("| recipe |") and "32,760" in out
