"""Backend dispatch: argument > environment variable > device."""

from __future__ import annotations

import pytest
import torch

from echomotion_mvsrope import (
    BACKEND_ENV,
    mvs_attention,
    qk_norm_rope,
    resolve_backend,
    video_positions,
)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)


@pytest.mark.usefixtures("no_env")
def test_cpu_tensors_default_to_reference() -> None:
    assert resolve_backend(None, torch.zeros(1)) == "reference"
    assert resolve_backend("auto", torch.zeros(1)) == "reference"


@pytest.mark.usefixtures("no_env")
def test_argument_overrides_device() -> None:
    assert (
        resolve_backend("triton", torch.zeros(1)) == "triton"
    )  # allowed: TRITON_INTERPRET=1 in tests
    assert resolve_backend("reference", torch.zeros(1)) == "reference"


def test_environment_variable_applies_without_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "triton")
    assert resolve_backend(None, torch.zeros(1)) == "triton"
    assert resolve_backend("reference", torch.zeros(1)) == "reference"  # the argument wins
    monkeypatch.setenv(BACKEND_ENV, "cuda")
    with pytest.raises(ValueError, match=BACKEND_ENV):
        resolve_backend(None, torch.zeros(1))


@pytest.mark.usefixtures("no_env")
def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("flash", torch.zeros(1))


@pytest.mark.usefixtures("no_env")
def test_triton_on_cpu_without_interpreter_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        resolve_backend("triton", torch.zeros(1))


@pytest.mark.usefixtures("no_env")
def test_env_selects_the_kernel_path(monkeypatch: pytest.MonkeyPatch) -> None:
    pos = video_positions(1, 3, 5)
    q, k = torch.randn(2, 1, 15, 2, 12).unbind(0)
    w = torch.ones(24)
    ref = qk_norm_rope(q, k, w, w, pos)
    calls: list[str] = []
    import echomotion_mvsrope.autograd as autograd_mod

    original = autograd_mod.norm_rope_forward

    def spy(*args: object, **kwargs: object) -> object:
        calls.append("triton")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(autograd_mod, "norm_rope_forward", spy)
    monkeypatch.setenv(BACKEND_ENV, "triton")
    got = qk_norm_rope(q, k, w, w, pos)
    assert calls == ["triton"]
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_shape_errors_name_the_argument(backend: str) -> None:
    q = torch.randn(1, 4, 2, 12)
    with pytest.raises(ValueError, match="q_positions"):
        mvs_attention(q, q, q, q_positions=torch.zeros(5, 3), backend=backend)
    with pytest.raises(ValueError, match=r"k and v"):
        mvs_attention(q, q, q[:, :3], backend=backend)
    with pytest.raises(ValueError, match=r"k_weight"):
        qk_norm_rope(q, q, torch.ones(24), torch.ones(25), torch.zeros(4, 3), backend=backend)
    with pytest.raises(ValueError, match=r"same \[B, S, N, D\]"):
        qk_norm_rope(
            q, q[:, :3], torch.ones(24), torch.ones(24), torch.zeros(4, 3), backend=backend
        )


def test_without_triton_auto_is_the_reference_and_triton_is_a_clear_error(monkeypatch) -> None:
    """Triton has Linux wheels only (the dependency's marker): elsewhere `auto` runs the
    reference and asking for `triton` says why it cannot."""
    from echomotion_mvsrope import api

    monkeypatch.setattr(api, "_triton_installed", lambda: False)
    x = torch.zeros(1, 2, 1, 6)
    assert api.resolve_backend(None, x) == "reference"
    with pytest.raises(ValueError, match="needs the triton package"):
        api.resolve_backend("triton", x)
