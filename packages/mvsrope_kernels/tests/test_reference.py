"""The PyTorch reference against itself (its equality with diffusers' Wan is tested in dualdit)."""

from __future__ import annotations

import math

import pytest
import torch

from echomotion_mvsrope import (
    attention_reference,
    motion_positions,
    qk_norm_rope_reference,
    rope_axis_dims,
    rope_reference,
    video_positions,
)


def test_axis_split_is_wans() -> None:
    assert rope_axis_dims(128) == (44, 42, 42)
    assert rope_axis_dims(96) == (32, 32, 32)
    assert rope_axis_dims(64) == (24, 20, 20)
    with pytest.raises(ValueError, match="head_dim"):
        rope_axis_dims(7)


def test_rope_is_a_rotation_with_relative_positions() -> None:
    x = torch.randn(1, 2, 1, 24, dtype=torch.float64)
    y = torch.randn(1, 2, 1, 24, dtype=torch.float64)
    base = torch.tensor([[1.0, 2.0, 3.0], [4.5, 6.0, 1.25]])
    shift = torch.tensor([7.25, -3.0, 11.0])
    # norms preserved
    xr = rope_reference(x, base)
    torch.testing.assert_close(xr.norm(dim=-1), x.norm(dim=-1))

    # <R(p)x, R(p')y> depends only on p - p' (per axis)
    def dot(a: torch.Tensor, pa: torch.Tensor, b: torch.Tensor, pb: torch.Tensor) -> torch.Tensor:
        return (rope_reference(a, pa) * rope_reference(b, pb)).sum(-1)

    torch.testing.assert_close(
        dot(x, base, y, base.flip(0)), dot(x, base + shift, y, base.flip(0) + shift)
    )
    # inverse undoes the rotation
    torch.testing.assert_close(rope_reference(xr, base, inverse=True), x)


def test_rope_pairs_follow_axes() -> None:
    head_dim = 12  # t: 4 channels (2 pairs), h: 4, w: 4
    x = torch.zeros(1, 1, 1, head_dim)
    x[..., 0::2] = 1.0  # each pair = (1, 0)
    out = rope_reference(x, torch.tensor([[0.5, 0.0, 0.0]]))
    # only the t pairs move; the first t pair (frequency 1) turns by 0.5 rad
    assert out[0, 0, 0, 0].item() == pytest.approx(math.cos(0.5), abs=1e-6)
    assert out[0, 0, 0, 1].item() == pytest.approx(math.sin(0.5), abs=1e-6)
    assert torch.equal(out[..., 4:], x[..., 4:])
    # the second t pair has frequency 10000^(-2/4) = 0.01
    assert out[0, 0, 0, 3].item() == pytest.approx(math.sin(0.005), abs=1e-6)


def test_per_batch_positions_equal_shared_positions() -> None:
    x = torch.randn(2, 51, 2, 12)
    shared = motion_positions(1, 3, 4, time_stride=4.0)
    torch.testing.assert_close(
        rope_reference(x, shared), rope_reference(x, shared.expand(2, -1, -1))
    )
    other = motion_positions(1, 3, 4, mode="collision")
    mixed = rope_reference(x, torch.stack([shared, other]))
    torch.testing.assert_close(mixed[1:], rope_reference(x[1:], other))


def test_attention_reference_rotates_when_given_positions() -> None:
    q, k, v = (torch.randn(1, 7, 2, 12) for _ in range(3))
    pq, pk = video_positions(1, 1, 7), video_positions(1, 1, 7, time_stride=2.0)
    torch.testing.assert_close(
        attention_reference(q, k, v, q_positions=pq, k_positions=pk),
        attention_reference(rope_reference(q, pq), rope_reference(k, pk), v),
    )
    scores = torch.einsum("bqnd,bknd->bnqk", q, k) / math.sqrt(12)
    expected = torch.einsum("bnqk,bknd->bqnd", scores.softmax(-1), v)
    torch.testing.assert_close(attention_reference(q, k, v), expected, atol=1e-5, rtol=1e-5)


def test_reference_gradcheck_float64() -> None:
    q, k = (torch.randn(1, 3, 2, 12, dtype=torch.float64, requires_grad=True) for _ in range(2))
    qw, kw = (torch.rand(24, dtype=torch.float64, requires_grad=True) for _ in range(2))
    pos = motion_positions(1, 2, 2, slots=3, time_stride=0.5)

    def fn(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return qk_norm_rope_reference(*args, pos)  # type: ignore[call-arg]

    assert torch.autograd.gradcheck(fn, (q, k, qw, kw))
    v = torch.randn(1, 3, 2, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c: attention_reference(a, b, c, q_positions=pos, k_positions=pos), (q, k, v)
    )


@pytest.mark.parametrize(
    ("shape", "pos_shape", "match"),
    [
        ((2, 5, 2), (5, 3), r"\[B, S, N, D\]"),
        ((2, 5, 2, 7), (5, 3), "even"),
        ((2, 5, 2, 12), (4, 3), r"\[S, 3\] = \[5, 3\]"),
        ((2, 5, 2, 12), (3, 5, 3), r"\[B, S, 3\] = \[2, 5, 3\]"),
    ],
)
def test_reference_rejects_bad_shapes(
    shape: tuple[int, ...], pos_shape: tuple[int, ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        rope_reference(torch.randn(shape), torch.zeros(pos_shape))


def test_norm_weight_shape_is_checked() -> None:
    q = torch.randn(1, 4, 2, 12)
    with pytest.raises(ValueError, match=r"q_weight must have shape \[N\*D\] = \[24\]"):
        qk_norm_rope_reference(q, q, torch.ones(12), torch.ones(24), torch.zeros(4, 3))
