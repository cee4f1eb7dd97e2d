"""The processor hook against diffusers' own Wan attention and transformer."""

from __future__ import annotations

import pytest
import torch

from echomotion_mvsrope import (
    MVSAttnProcessor,
    attention_reference,
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
@pytest.mark.parametrize("cross", [False, True])
def test_processor_uses_fused_projections_like_wan(backend: str, cross: bool) -> None:
    attn = _attention(cross=cross)
    attn.fuse_projections()
    with torch.no_grad():  # the fused linears must be the ones read: spoil the separate ones
        for linear in (attn.to_k, attn.to_v) if cross else (attn.to_q, attn.to_k, attn.to_v):
            linear.weight.zero_()
    frames, height, width = 1, 2, 3
    hidden = torch.randn(2, frames * height * width, 24)
    context = torch.randn(2, 5, 24) if cross else None
    rope = wan.WanRotaryPosEmbed(12, (1, 2, 2), max_seq_len=1024)
    table = None if cross else rope(torch.zeros(1, 4, frames, 2 * height, 2 * width))
    proc = MVSAttnProcessor(backend=backend)
    with torch.no_grad():
        expected = attn(hidden, context, None, table)
        got = proc(attn, hidden, context, None, table)
        if not cross:
            got_positions = proc(attn, hidden, rotary_emb=video_positions(frames, height, width))
            torch.testing.assert_close(got_positions, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_project_qkv_then_project_out_is_the_processor(backend: str) -> None:
    attn = _attention()
    hidden = torch.randn(2, 7 * 51, 24)
    positions = motion_positions(7, 3, 4, time_stride=4.0)
    proc = MVSAttnProcessor(backend=backend)
    with torch.no_grad():
        qkv = proc.project_qkv(attn, hidden, positions)
        q = attn.to_q(hidden).unflatten(2, (2, 12))
        k = attn.to_k(hidden).unflatten(2, (2, 12))
        want_q, want_k = qk_norm_rope_reference(
            q, k, attn.norm_q.weight, attn.norm_k.weight, positions
        )
        out = proc.project_out(attn, attention_reference(qkv.q, qkv.k, qkv.v))
        expected = proc(attn, hidden, rotary_emb=positions)
    torch.testing.assert_close(qkv.q, want_q, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(qkv.k, want_k, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(qkv.v, attn.to_v(hidden).unflatten(2, (2, 12)))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
