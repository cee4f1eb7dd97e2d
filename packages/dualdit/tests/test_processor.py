"""A Wan attention on mvsrope: its reference and the processors against diffusers' own Wan.

Moved here from mvsrope_kernels, which no longer depends on diffusers.
"""

from __future__ import annotations

import pytest
import torch
from diffusers.models.transformers import transformer_wan as wan

from echomotion_dualdit import MVSAttnProcessor, MVSRoPEAttnProcessor, project_out, project_qkv
from echomotion_mvsrope import (
    attention_reference,
    motion_positions,
    qk_norm_rope_reference,
    rope_angles,
    video_positions,
)

BACKENDS = ["reference", "triton"]  # triton runs in the CPU interpreter without CUDA (conftest)


def _attention(heads: int = 2, head_dim: int = 12, cross: bool = False) -> wan.WanAttention:
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


# ---------------------------------------------------------------- mvsrope's reference vs Wan
@pytest.mark.parametrize("head_dim", [12, 96, 128])
def test_angles_equal_diffusers_wan_rope_table(head_dim: int) -> None:
    frames, height, width = 3, 5, 4
    rope = wan.WanRotaryPosEmbed(head_dim, (1, 2, 2), max_seq_len=1024)
    freqs_cos, freqs_sin = rope(torch.zeros(1, 4, frames, 2 * height, 2 * width))  # (1, S, 1, D)
    angles = rope_angles(video_positions(frames, height, width), head_dim)  # (S, D/2)
    assert torch.equal(torch.cos(angles).float(), freqs_cos[0, :, 0, 0::2])
    assert torch.equal(torch.sin(angles).float(), freqs_sin[0, :, 0, 1::2])


@pytest.mark.parametrize("head_dim", [12, 96, 128])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_norm_rope_attention_equal_diffusers_wan_processor(
    head_dim: int, dtype: torch.dtype
) -> None:
    heads, frames, height, width, batch = 2, 2, 3, 4, 2
    attn = _attention(heads, head_dim).to(dtype)
    rope = wan.WanRotaryPosEmbed(head_dim, (1, 2, 2), max_seq_len=1024)
    rotary = rope(torch.zeros(1, 4, frames, 2 * height, 2 * width))
    seq = frames * height * width
    hidden = torch.randn(batch, seq, heads * head_dim, dtype=dtype)
    with torch.no_grad():
        expected = attn(hidden, None, None, rotary)
        q = attn.to_q(hidden).unflatten(2, (heads, head_dim))  # (B, S, N, D)
        k = attn.to_k(hidden).unflatten(2, (heads, head_dim))
        v = attn.to_v(hidden).unflatten(2, (heads, head_dim))
        pos = video_positions(frames, height, width)
        q, k = qk_norm_rope_reference(q, k, attn.norm_q.weight, attn.norm_k.weight, pos, eps=1e-6)
        out = attention_reference(q, k, v).flatten(2)
        got = attn.to_out[0](out)
    if dtype == torch.float32:
        torch.testing.assert_close(got, expected, atol=2e-6, rtol=2e-6)
    else:  # diffusers rounds after the norm and again after RoPE; the reference rounds once
        torch.testing.assert_close(got, expected, atol=0.05, rtol=0.05)


# ---------------------------------------------------------------- the processors
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


def test_dual_dit_processor_rejects_wan_tables_and_masks() -> None:
    attn = _attention()
    attn.set_processor(MVSRoPEAttnProcessor())  # type: ignore[arg-type]
    x = torch.randn(1, 4, 24)
    table = torch.ones(1, 4, 1, 12)
    with pytest.raises(ValueError, match="positions"):
        attn(x, None, None, (table, table))
    with pytest.raises(ValueError, match="attention_mask"):
        attn(x, None, torch.ones(4, 4), torch.zeros(4, 3))


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
    with torch.no_grad():
        qkv = project_qkv(attn, hidden, positions, backend=backend)
        q = attn.to_q(hidden).unflatten(2, (2, 12))
        k = attn.to_k(hidden).unflatten(2, (2, 12))
        want_q, want_k = qk_norm_rope_reference(
            q, k, attn.norm_q.weight, attn.norm_k.weight, positions
        )
        out = project_out(attn, attention_reference(qkv.q, qkv.k, qkv.v))
        expected = MVSRoPEAttnProcessor(backend=backend)(attn, hidden, rotary_emb=positions)
    torch.testing.assert_close(qkv.q, want_q, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(qkv.k, want_k, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(qkv.v, attn.to_v(hidden).unflatten(2, (2, 12)))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
