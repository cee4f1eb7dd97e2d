"""Kernel 1 (fused QK-RMSNorm + MVS-RoPE) against the reference, forward and backward."""

from __future__ import annotations

import pytest
import torch
from _tolerances import assert_rel_close

from echomotion_mvsrope import (
    joint_positions,
    motion_positions,
    mvs_rope,
    qk_norm_rope,
    qk_norm_rope_reference,
    rope_reference,
)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: the Triton interpreter (conftest)

DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]


def _positions(mode: str, stride: float, batch: int, per_batch: bool) -> torch.Tensor:
    # 2 latent frames of a 3x2 grid + 3 motion frames of 5 slots: 12 + 15 = 27 tokens (odd)
    pos = joint_positions(2, 3, 2, 3, time_stride=stride, slots=5, mode=mode)  # type: ignore[arg-type]
    if per_batch:
        pos = torch.stack([pos + 0.5 * i for i in range(batch)])
    return pos.to(DEVICE)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("heads", "head_dim"), [(3, 64), (2, 96), (1, 128), (5, 12)])
@pytest.mark.parametrize(
    ("mode", "stride", "per_batch"),
    [("mvs", 1.0, False), ("collision", 0.5, True), ("mvs", 4.0, True)],
)
def test_qk_norm_rope_forward_backward_match_reference(
    dtype: torch.dtype, heads: int, head_dim: int, mode: str, stride: float, per_batch: bool
) -> None:
    batch = 2
    pos = _positions(mode, stride, batch, per_batch)
    seq = pos.shape[-2]
    q, k = (
        torch.randn(batch, seq, heads, head_dim, device=DEVICE, dtype=dtype) * 3 for _ in range(2)
    )
    qw, kw = (torch.rand(heads * head_dim, device=DEVICE, dtype=dtype) + 0.5 for _ in range(2))
    inputs = [t.clone().requires_grad_() for t in (q, k, qw, kw)]
    ref_inputs = [t.clone().requires_grad_() for t in (q, k, qw, kw)]
    got = qk_norm_rope(*inputs, pos, eps=1e-6, backend="triton")
    want = qk_norm_rope_reference(*ref_inputs, pos, eps=1e-6)
    for g, w, name in zip(got, want, ("q", "k"), strict=True):
        assert g.dtype == dtype
        assert_rel_close(g, w, dtype, name)
    grads = [torch.randn_like(t) for t in want]
    torch.autograd.backward(got, grads)
    torch.autograd.backward(want, grads)
    for a, b, name in zip(inputs, ref_inputs, ("dq", "dk", "dq_weight", "dk_weight"), strict=True):
        assert a.grad is not None and b.grad is not None
        assert_rel_close(a.grad, b.grad, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head_dim", [64, 96, 128])
def test_rope_kernel_and_its_inverse(dtype: torch.dtype, head_dim: int) -> None:
    pos = motion_positions(3, 4, 5, time_stride=0.5, slots=7).to(DEVICE)  # 21 tokens
    x = torch.randn(2, 21, 2, head_dim, device=DEVICE, dtype=dtype, requires_grad=True)
    got = mvs_rope(x, pos, backend="triton")
    assert_rel_close(got, rope_reference(x, pos), dtype, "rope")
    back = mvs_rope(got, pos, inverse=True, backend="triton")
    assert_rel_close(back, x, dtype, "inverse")
    grad = torch.randn_like(got)
    (gx,) = torch.autograd.grad(got, x, grad)
    assert_rel_close(gx, rope_reference(grad, pos, inverse=True), dtype, "grad")


def test_kernel_changes_with_positions() -> None:
    # guards against a kernel that ignores positions or the axis split
    x = torch.randn(1, 51, 1, 64, device=DEVICE)
    mvs = mvs_rope(x, motion_positions(1, 6, 7).to(DEVICE), backend="triton")
    collide = mvs_rope(x, motion_positions(1, 6, 7, mode="collision").to(DEVICE), backend="triton")
    assert (mvs - collide).abs().max() > 0.1
    # only the h and w channels differ (t is the same): t pairs are the first 24 channels
    torch.testing.assert_close(mvs[..., :24], collide[..., :24])


def test_triton_gradcheck_float64() -> None:
    pos = motion_positions(1, 2, 2, slots=3, time_stride=0.5).to(DEVICE)
    args = [
        torch.randn(1, 3, 2, 12, dtype=torch.float64, device=DEVICE, requires_grad=True),
        torch.randn(1, 3, 2, 12, dtype=torch.float64, device=DEVICE, requires_grad=True),
        torch.rand(24, dtype=torch.float64, device=DEVICE, requires_grad=True),
        torch.rand(24, dtype=torch.float64, device=DEVICE, requires_grad=True),
    ]

    def fn(*a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return qk_norm_rope(*a, pos, backend="triton")  # type: ignore[call-arg]

    assert torch.autograd.gradcheck(fn, tuple(args), fast_mode=True)


@pytest.mark.parametrize("max_pos", [1024.0, 8191.0])
def test_large_angles_stay_accurate(max_pos: float) -> None:
    # integer positions and quarter-steps up to a few thousand (H+i, W+i, f/4 at real sizes)
    tokens = 64
    ints = torch.randint(0, int(max_pos) + 1, (tokens, 3)).double()
    ints[:16] = max_pos - torch.arange(16, dtype=torch.float64)[:, None]  # the largest angles
    quarters = torch.randint(0, 4 * 1024, (tokens, 3)).double() / 4
    for pos in (ints, quarters):
        x = torch.randn(1, tokens, 2, 128, dtype=torch.float64)
        want = rope_reference(x, pos)  # angles, sin/cos and rotation all in float64
        got = (
            mvs_rope(x.float().to(DEVICE), pos.float().to(DEVICE), backend="triton").cpu().double()
        )
        err = ((got - want).abs() / x.abs().amax(-1, keepdim=True)).max().item()
        assert err < 3e-6, err
