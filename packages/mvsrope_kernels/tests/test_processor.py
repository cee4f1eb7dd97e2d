"""The processor hook against diffusers' own Wan attention and transformer."""

from __future__ import annotations

import pytest
import torch

from echomotion_mvsrope import (
    MVSAttnProcessor,
    attention_reference,
    joint_attention,
    motion_positions,
    qk_norm_rope_reference,
    video_positions,
)

wan = pytest.importorskip("diffusers.models.transformers.transformer_wan")
BACKENDS = ["reference", "triton"]


def _attention(heads: int = 2, head_dim: int = 12, cross: bool = False) -> torch.nn.Module:
    attn = wan.WanAttention(
        dim=heads * head_dim,
        heads=heads,
        dim_head=head_dim,
        eps=1e-6,
        cross_attention_dim_head=head_dim if cross else None,
        processor=wan.WanAttnProcessor(),
    )
    with torch.no_grad():
        attn.norm_q.weight.uniform_(0.5, 1.5)
        attn.norm_k.weight.uniform_(0.5, 1.5)
    return attn


@pytest.mark.parametrize("backend", BACKENDS)
def test_processor_equals_wan_processor_with_positions_and_with_table(backend: str) -> None:
    frames, height, width = 2, 3, 4
    attn = _attention()
    rope = wan.WanRotaryPosEmbed(12, (1, 2, 2), max_seq_len=1024)
    table = rope(torch.zeros(1, 4, frames, 2 * height, 2 * width))
    hidden = torch.randn(2, frames * height * width, 24)
    with torch.no_grad():
        expected = attn(hidden, None, None, table)
        proc = MVSAttnProcessor(backend=backend)
        from_positions = proc(attn, hidden, rotary_emb=video_positions(frames, height, width))
        from_table = proc(attn, hidden, rotary_emb=table)
    torch.testing.assert_close(from_positions, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(from_table, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_processor_cross_attention_equals_wan(backend: str) -> None:
    attn = _attention(cross=True)
    hidden, context = torch.randn(1, 9, 24), torch.randn(1, 5, 24)
    with torch.no_grad():
        expected = attn(hidden, context)
        got = MVSAttnProcessor(backend=backend)(attn, hidden, context)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_processor_rejects_masks() -> None:
    attn = _attention()
    with pytest.raises(ValueError, match="attention_mask"):
        MVSAttnProcessor()(attn, torch.randn(1, 4, 24), attention_mask=torch.ones(4, 4))


def test_processor_in_a_wan_transformer_keeps_its_output() -> None:
    model = wan.WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=4,
        out_channels=4,
        text_dim=16,
        freq_dim=16,
        ffn_dim=32,
        num_layers=2,
        rope_max_seq_len=64,
    ).eval()
    latents = torch.randn(1, 4, 3, 8, 8)
    text = torch.randn(1, 7, 16)
    step = torch.tensor([500])
    with torch.no_grad():
        expected = model(latents, step, text).sample
        model.set_attn_processor(MVSAttnProcessor(backend="triton"))
        got = model(latents, step, text).sample
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_joint_attention_is_one_attention_over_both_streams(backend: str) -> None:
    video_attn, motion_attn = _attention(), _attention()
    frames, height, width, motion_frames = 2, 2, 3, 2
    video = torch.randn(2, frames * height * width, 24)
    motion = torch.randn(2, motion_frames * 51, 24)
    vpos = video_positions(frames, height, width, time_stride=4.0)
    mpos = motion_positions(motion_frames, height, width, time_stride=4.0)
    with torch.no_grad():
        out_v, out_m = joint_attention(
            [video_attn, motion_attn], [video, motion], [vpos, mpos], backend=backend
        )
        # by hand: each stream its own projections and norms, one attention over the concatenation
        qkv = []
        for attn, x, pos in ((video_attn, video, vpos), (motion_attn, motion, mpos)):
            q = attn.to_q(x).unflatten(2, (2, 12))
            k = attn.to_k(x).unflatten(2, (2, 12))
            v = attn.to_v(x).unflatten(2, (2, 12))
            q, k = qk_norm_rope_reference(q, k, attn.norm_q.weight, attn.norm_k.weight, pos)
            qkv.append((q, k, v))
        q, k, v = (torch.cat(t, dim=1) for t in zip(*qkv, strict=True))
        out = attention_reference(q, k, v)
        want_v = video_attn.to_out[0](out[:, : video.shape[1]].flatten(2))
        want_m = motion_attn.to_out[0](out[:, video.shape[1] :].flatten(2))
    assert out_v.shape == video.shape and out_m.shape == motion.shape
    torch.testing.assert_close(out_v, want_v, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out_m, want_m, atol=1e-5, rtol=1e-5)


def test_joint_attention_rejects_mismatched_streams() -> None:
    with pytest.raises(ValueError, match="equal length"):
        joint_attention([_attention()], [torch.randn(1, 3, 24)], [])
