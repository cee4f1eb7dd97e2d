"""Kernel 2 (flash attention with MVS-RoPE inside) against the reference, forward and backward."""

from __future__ import annotations

import pytest
import torch
from _tolerances import assert_rel_close

from echomotion_mvsrope import attention_reference, joint_positions, mvs_attention, rope_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: the Triton interpreter (conftest)

DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]


def _run(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    qp: torch.Tensor | None,
    kp: torch.Tensor | None,
    backend: str,
    grad: torch.Tensor,
) -> list[torch.Tensor]:
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    if backend == "triton":
        out = mvs_attention(*leaves, q_positions=qp, k_positions=kp, backend="triton")
    else:
        out = attention_reference(*leaves, q_positions=qp, k_positions=kp)
    grads = torch.autograd.grad(out, leaves, grad)
    return [out, *grads]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("heads", "head_dim"), [(2, 64), (3, 96), (1, 128)])
@pytest.mark.parametrize("rotate", ["both", "none", "q_only"])
def test_joint_self_attention_matches_reference(
    dtype: torch.dtype, heads: int, head_dim: int, rotate: str
) -> None:
    # 2 latent frames of a 3x3 grid + 5 motion frames of 5 slots = 18 + 25 = 43 tokens
    pos = joint_positions(2, 3, 3, 5, time_stride=0.5, slots=5, mode="mvs").to(DEVICE)
    seq = pos.shape[0]
    q, k, v = (torch.randn(2, seq, heads, head_dim, device=DEVICE, dtype=dtype) for _ in range(3))
    qp = pos if rotate in ("both", "q_only") else None
    kp = pos if rotate == "both" else None
    grad = torch.randn_like(q)
    got = _run(q, k, v, qp, kp, "triton", grad)
    want = _run(q, k, v, qp, kp, "reference", grad)
    for g, w, name in zip(got, want, ("out", "dq", "dk", "dv"), strict=True):
        assert_rel_close(g, w, dtype, name)


@pytest.mark.parametrize(("seq_q", "seq_k"), [(1, 33), (37, 5), (64, 64), (17, 70)])
def test_cross_lengths_and_per_batch_positions(seq_q: int, seq_k: int) -> None:
    dtype = torch.float32
    qp = torch.rand(2, seq_q, 3, device=DEVICE) * 50
    kp = (torch.rand(seq_k, 3, device=DEVICE) * 50).round()
    q = torch.randn(2, seq_q, 2, 64, device=DEVICE, dtype=dtype)
    k, v = (torch.randn(2, seq_k, 2, 64, device=DEVICE, dtype=dtype) for _ in range(2))
    grad = torch.randn_like(q)
    got = _run(q, k, v, qp, kp, "triton", grad)
    want = _run(q, k, v, qp, kp, "reference", grad)
    for g, w, name in zip(got, want, ("out", "dq", "dk", "dv"), strict=True):
        assert_rel_close(g, w, dtype, name)


def test_pre_rotated_inputs_equal_rotation_inside() -> None:
    pos = joint_positions(1, 4, 4, 2, slots=9, mode="collision").to(DEVICE)
    q, k, v = (torch.randn(1, pos.shape[0], 2, 64, device=DEVICE) for _ in range(3))
    inside = mvs_attention(q, k, v, q_positions=pos, k_positions=pos, backend="triton")
    outside = mvs_attention(rope_reference(q, pos), rope_reference(k, pos), v, backend="triton")
    torch.testing.assert_close(inside, outside, atol=1e-5, rtol=1e-5)
    unrotated = mvs_attention(q, k, v, backend="triton")
    assert (inside - unrotated).abs().max() > 1e-2  # positions matter


def test_large_scores_do_not_overflow() -> None:
    q = torch.randn(1, 40, 1, 64, device=DEVICE) * 30
    k = torch.randn(1, 40, 1, 64, device=DEVICE) * 30
    v = torch.randn(1, 40, 1, 64, device=DEVICE)
    got = mvs_attention(q, k, v, backend="triton")
    assert torch.isfinite(got).all()
    assert_rel_close(got, attention_reference(q, k, v), torch.float32, "out")


def test_large_positions_through_the_prologue() -> None:
    pos = torch.randint(0, 8192, (40, 3)).double()
    q, k, v = (torch.randn(1, 40, 2, 128, dtype=torch.float64) for _ in range(3))
    want = attention_reference(q, k, v, q_positions=pos, k_positions=pos)
    got = mvs_attention(
        *(t.float().to(DEVICE) for t in (q, k, v)),
        q_positions=pos.float().to(DEVICE),
        k_positions=pos.float().to(DEVICE),
        backend="triton",
    )
    assert (got.cpu().double() - want).abs().max() < 2e-5


def test_triton_attention_gradcheck_float64() -> None:
    pos = joint_positions(1, 2, 2, 1, slots=3, time_stride=0.5).to(DEVICE)  # 7 tokens
    args = tuple(
        torch.randn(1, 7, 2, 12, dtype=torch.float64, device=DEVICE, requires_grad=True)
        for _ in range(3)
    )

    def fn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return mvs_attention(q, k, v, q_positions=pos, k_positions=pos, backend="triton")

    assert torch.autograd.gradcheck(fn, args, fast_mode=True)


def test_head_dim_above_128_is_rejected() -> None:
    x = torch.randn(1, 4, 1, 160, device=DEVICE)
    with pytest.raises(ValueError, match="D <= 128"):
        mvs_attention(x, x, x, backend="triton")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_gpu_joint_shape_parity(dtype: torch.dtype) -> None:
    pos = joint_positions(3, 16, 20, 9, time_stride=1.0).to("cuda")  # 960 + 459 tokens
    q, k, v = (torch.randn(2, pos.shape[0], 4, 128, device="cuda", dtype=dtype) for _ in range(3))
    grad = torch.randn_like(q)
    got = _run(q, k, v, pos, pos, "triton", grad)
    want = _run(q, k, v, pos, pos, "reference", grad)
    for g, w, name in zip(got, want, ("out", "dq", "dk", "dv"), strict=True):
        assert_rel_close(g, w, dtype, name)
