"""The dual layer's joint forward against Wan's own block code around a from-scratch attention.

The expected output runs diffusers' ``WanTransformerBlock.forward`` for each stream with its
``attn1`` replaced by a stub: a first pass records the adaLN-modulated tokens Wan hands to
``attn1``; the joint attention over ``[video; motion]`` is then computed by hand with mvsrope's
reference functions; a second pass returns it from the stub, so the gate, cross-attention and
FFN are Wan's own code.
"""

from __future__ import annotations

import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanAttention, WanTransformerBlock
from torch import Tensor

from echomotion_dualdit import DualStreamBlock, MVSRoPEAttnProcessor
from echomotion_mvsrope import (
    attention_reference,
    joint_positions,
    motion_positions,
    rms_norm_heads_reference,
    video_positions,
)

HEADS, HEAD_DIM, DIM = 2, 12, 24
FRAMES, HEIGHT, WIDTH, MOTION_FRAMES = 2, 3, 2, 3


class _Stub:
    """An ``attn1`` processor that records its input and returns ``out`` (or its input)."""

    def __init__(self, out: Tensor | None = None) -> None:
        self.out = out
        self.seen: Tensor | None = None

    def __call__(self, attn: WanAttention, hidden_states: Tensor, *args: object) -> Tensor:
        self.seen = hidden_states
        return hidden_states if self.out is None else self.out


def _wan_forward(
    block: WanTransformerBlock, tokens: Tensor, text: Tensor, proj: Tensor, attn_out: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Wan's block forward with ``attn1`` stubbed: ``(output, the tokens attn1 was given)``."""
    stub = _Stub(attn_out)
    block.attn1.set_processor(stub)  # type: ignore[arg-type]
    out = WanTransformerBlock.forward(block, tokens, text, proj, torch.zeros(0, 3))  # stubbed
    assert stub.seen is not None
    return out, stub.seen


def _qkv_by_hand(attn: WanAttention, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Projection and QK-RMSNorm (no rotation), each ``(B, S, N, Hd)``."""
    q, k, v = (lin(x).unflatten(2, (HEADS, HEAD_DIM)) for lin in (attn.to_q, attn.to_k, attn.to_v))
    return (
        rms_norm_heads_reference(q, attn.norm_q.weight),
        rms_norm_heads_reference(k, attn.norm_k.weight),
        v,
    )


def _layer(shared_weights: bool) -> DualStreamBlock:
    torch.manual_seed(0)
    layer = DualStreamBlock(
        DIM,
        32,
        HEADS,
        "rms_norm_across_heads",
        True,
        1e-6,
        dual=True,
        shared_weights=shared_weights,
    ).eval()
    with torch.no_grad():
        for p in layer.parameters():  # random everywhere, norms included, so every weight counts
            p.add_(0.1 * torch.randn_like(p))
    return layer


def _inputs(time_stride: float) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {
        "video": torch.randn(2, FRAMES * HEIGHT * WIDTH, DIM, generator=gen),
        "motion": torch.randn(2, MOTION_FRAMES * 51, DIM, generator=gen),
        "text": torch.randn(2, 5, DIM, generator=gen),
        "video_proj": torch.randn(2, 6, DIM, generator=gen),
        "motion_proj": torch.randn(2, 6, DIM, generator=gen),
        "video_pos": video_positions(FRAMES, HEIGHT, WIDTH, time_stride=time_stride),
        "motion_pos": motion_positions(MOTION_FRAMES, HEIGHT, WIDTH, time_stride=time_stride),
    }


@pytest.mark.parametrize("shared_weights", [False, True])
@pytest.mark.parametrize("time_stride", [1.0, 4.0])
def test_joint_layer_is_wan_around_one_attention_over_both_streams(
    time_stride: float, shared_weights: bool
) -> None:
    layer, x = _layer(shared_weights), _inputs(time_stride)
    motion_block = layer.motion_branch
    assert motion_block is not None
    with torch.no_grad():
        got_v, got_m = layer(**x)

        _, xv = _wan_forward(layer, x["video"], x["text"], x["video_proj"], None)
        _, xm = _wan_forward(motion_block, x["motion"], x["text"], x["motion_proj"], None)
        qv, kv, vv = _qkv_by_hand(layer.attn1, xv)
        qm, km, vm = _qkv_by_hand(motion_block.attn1, xm)
        pos = joint_positions(FRAMES, HEIGHT, WIDTH, MOTION_FRAMES, time_stride=time_stride)
        heads = attention_reference(
            torch.cat([qv, qm], 1),
            torch.cat([kv, km], 1),
            torch.cat([vv, vm], 1),
            q_positions=pos,
            k_positions=pos,
        ).flatten(2)  # (B, Sv+Sm, D)
        num_video = x["video"].shape[1]
        attn_v = layer.attn1.to_out[0](heads[:, :num_video])
        attn_m = motion_block.attn1.to_out[0](heads[:, num_video:])
        want_v, _ = _wan_forward(layer, x["video"], x["text"], x["video_proj"], attn_v)
        want_m, _ = _wan_forward(motion_block, x["motion"], x["text"], x["motion_proj"], attn_m)
    assert got_v is not None and got_m is not None
    torch.testing.assert_close(got_v, want_v, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_m, want_m, rtol=1e-5, atol=1e-5)


def test_fused_projections_give_the_same_joint_layer() -> None:
    layer, x = _layer(shared_weights=False), _inputs(1.0)
    assert layer.motion is not None
    with torch.no_grad():
        expected = layer(**x)
        for attn in (layer.attn1, layer.motion.attn1):
            attn.fuse_projections()
            for linear in (attn.to_q, attn.to_k, attn.to_v):
                linear.weight.zero_()  # so only the fused to_qkv can give the expected result
        got = layer(**x)
    for g, e in zip(got, expected, strict=True):
        assert g is not None and e is not None
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_a_stream_alone_is_its_blocks_wan_forward() -> None:
    layer, x = _layer(shared_weights=False), _inputs(1.0)
    assert layer.motion is not None
    for block in (layer, layer.motion):  # as DualDiT.set_kernel_backend does
        block.attn1.set_processor(MVSRoPEAttnProcessor())  # type: ignore[arg-type]
    with torch.no_grad():
        video, none = layer(
            x["video"], None, x["text"], x["video_proj"], None, x["video_pos"], None
        )
        none2, motion = layer(
            None, x["motion"], x["text"], None, x["motion_proj"], None, x["motion_pos"]
        )
        assert none is None and none2 is None
        want_v = WanTransformerBlock.forward(
            layer, x["video"], x["text"], x["video_proj"], x["video_pos"]
        )
        want_m = layer.motion(x["motion"], x["text"], x["motion_proj"], x["motion_pos"])
    torch.testing.assert_close(video, want_v, rtol=0, atol=0)
    torch.testing.assert_close(motion, want_m, rtol=0, atol=0)
