"""The joint self-attention against a from-scratch computation with mvsrope's reference functions."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanAttention

from echomotion_dualdit import BranchInput, MVSRoPEAttnProcessor, joint_self_attention
from echomotion_mvsrope import (
    attention_reference,
    joint_positions,
    motion_positions,
    rms_norm_heads_reference,
    video_positions,
)


def _attn(seed: int) -> WanAttention:
    torch.manual_seed(seed)
    attn = WanAttention(dim=24, heads=2, dim_head=12, eps=1e-6)
    with torch.no_grad():
        attn.norm_q.weight.uniform_(0.5, 1.5)
        attn.norm_k.weight.uniform_(0.5, 1.5)
    return attn


def _by_hand(
    attn: WanAttention, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    q = attn.to_q(x).unflatten(2, (2, 12))
    k = attn.to_k(x).unflatten(2, (2, 12))
    v = attn.to_v(x).unflatten(2, (2, 12))
    return (
        rms_norm_heads_reference(q, attn.norm_q.weight),
        rms_norm_heads_reference(k, attn.norm_k.weight),
        v,
    )


@pytest.mark.parametrize("time_stride", [1.0, 4.0])
def test_joint_attention_equals_one_attention_over_concatenated_branches(
    time_stride: float,
) -> None:
    video_attn, motion_attn = _attn(0), _attn(1)
    frames, height, width, motion_frames = 2, 3, 2, 5
    xv = torch.randn(2, frames * height * width, 24)
    xm = torch.randn(2, motion_frames * 51, 24)
    pv = video_positions(frames, height, width, time_stride=time_stride)
    pm = motion_positions(motion_frames, height, width, time_stride=time_stride)
    with torch.no_grad():
        out_v, out_m = joint_self_attention(
            BranchInput(video_attn, xv, pv), BranchInput(motion_attn, xm, pm)
        )
        qv, kv, vv = _by_hand(video_attn, xv)
        qm, km, vm = _by_hand(motion_attn, xm)
        pos = joint_positions(frames, height, width, motion_frames, time_stride=time_stride)
        heads = attention_reference(
            torch.cat([qv, qm], 1),
            torch.cat([kv, km], 1),
            torch.cat([vv, vm], 1),
            q_positions=pos,
            k_positions=pos,
        ).flatten(2)
        expected_v = video_attn.to_out[0](heads[:, : xv.shape[1]])
        expected_m = motion_attn.to_out[0](heads[:, xv.shape[1] :])
    assert out_v is not None and out_m is not None
    torch.testing.assert_close(out_v, expected_v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out_m, expected_m, rtol=1e-5, atol=1e-6)


def test_one_branch_equals_the_processor() -> None:
    attn = _attn(0)
    x = torch.randn(1, 12, 24)
    pos = video_positions(2, 3, 2)
    attn.set_processor(MVSRoPEAttnProcessor())  # type: ignore[arg-type]
    with torch.no_grad():
        out_v, out_m = joint_self_attention(BranchInput(attn, x, pos), None)
        assert out_m is None
        torch.testing.assert_close(out_v, attn(x, None, None, pos), rtol=0, atol=0)


def test_processor_rejects_wan_tables_and_masks() -> None:
    attn = _attn(0)
    attn.set_processor(MVSRoPEAttnProcessor())  # type: ignore[arg-type]
    x = torch.randn(1, 4, 24)
    table = torch.ones(1, 4, 1, 12)
    with pytest.raises(ValueError, match="positions"):
        attn(x, None, None, (table, table))
    with pytest.raises(ValueError, match="attention_mask"):
        attn(x, None, torch.ones(4, 4), torch.zeros(4, 3))


def test_fused_projections_give_the_same_joint_attention() -> None:
    video_attn, motion_attn = _attn(0), _attn(1)
    xv, xm = torch.randn(1, 12, 24), torch.randn(1, 2 * 51, 24)
    pv, pm = video_positions(2, 3, 2), motion_positions(2, 3, 2)
    with torch.no_grad():
        expected = joint_self_attention(
            BranchInput(video_attn, xv, pv), BranchInput(motion_attn, xm, pm)
        )
        for attn in (video_attn, motion_attn):
            attn.fuse_projections()
            for linear in (attn.to_q, attn.to_k, attn.to_v):
                linear.weight.zero_()  # so only the fused to_qkv can give the expected result
        got = joint_self_attention(
            BranchInput(video_attn, xv, pv), BranchInput(motion_attn, xm, pm)
        )
    for g, e in zip(got, expected, strict=True):
        assert g is not None and e is not None
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)
