"""Shared helpers: per-dtype tolerances and a relative max-error metric."""

from __future__ import annotations

import torch

# Max |got - want| / max |want|. bf16 leaves room for the interpreter's truncating stores (1 ulp).
REL_TOL = {
    torch.float64: 1e-12,
    torch.float32: 1e-5,
    torch.float16: 4e-3,
    torch.bfloat16: 3e-2,
}


def rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    """``max |got - want| / max |want|`` in float64."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    want64 = want.detach().double()
    return float((got.detach().double() - want64).abs().max() / want64.abs().max().clamp_min(1e-30))


def assert_rel_close(
    got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype, name: str = ""
) -> None:
    err = rel_err(got, want)
    assert err <= REL_TOL[dtype], (
        f"{name}: relative error {err:.3e} > {REL_TOL[dtype]:.1e} ({dtype})"
    )
