"""Video codecs: lossless space-to-depth, and Wan's VAE (tiny random, saved and reloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKLWan

from echomotion_dualdit.codecs import SpaceToDepthCodec, VideoCodec, WanVAECodec


@pytest.mark.parametrize(("patch", "frames"), [(1, 1), (2, 5), (2, 9), (4, 13)])
def test_space_to_depth_round_trip_is_exact(patch: int, frames: int) -> None:
    codec = SpaceToDepthCodec(patch=patch)
    pixels = torch.rand(2, 3, frames, 8, 12) * 2 - 1
    latents = codec.encode(pixels)
    assert latents.shape == (2, *codec.latent_shape(frames, 8, 12))
    assert latents.shape == (2, 12 * patch**2, (frames - 1) // 4 + 1, 8 // patch, 12 // patch)
    assert torch.equal(codec.decode(latents), pixels)
    assert isinstance(codec, VideoCodec)


def test_space_to_depth_layout_follows_wan_time() -> None:
    """Latent frame j ≥ 1 holds pixel frames 4j−3…4j; latent frame 0 holds frame 0 only."""
    codec = SpaceToDepthCodec(patch=1)
    frame_ids = torch.arange(9.0).view(1, 1, 9, 1, 1).expand(1, 3, 9, 2, 2)
    latents = codec.encode(frame_ids)  # (1, 12, 3, 2, 2); channels (colour, frame-in-group)
    groups = latents[0, :4, :, 0, 0]  # colour 0: (4 frames in group, 3 latent frames)
    assert groups[:, 0].tolist() == [0, 0, 0, 0]
    assert groups[:, 1].tolist() == [1, 2, 3, 4]
    assert groups[:, 2].tolist() == [5, 6, 7, 8]


def test_space_to_depth_rejects_bad_sizes() -> None:
    codec = SpaceToDepthCodec(patch=2)
    with pytest.raises(ValueError, match="frames must be 4"):
        codec.encode(torch.zeros(1, 3, 4, 8, 8))
    with pytest.raises(ValueError, match="multiples of 2"):
        codec.encode(torch.zeros(1, 3, 5, 7, 8))
    with pytest.raises(ValueError, match="pixels must be"):
        codec.encode(torch.zeros(1, 4, 5, 8, 8))


def _tiny_vae(z_dim: int = 4) -> AutoencoderKLWan:
    torch.manual_seed(0)
    return AutoencoderKLWan(
        base_dim=16,
        z_dim=z_dim,
        dim_mult=[1, 2, 2, 2],
        num_res_blocks=1,
        attn_scales=[],
        temperal_downsample=[False, True, True],
        latents_mean=[0.1 * i for i in range(z_dim)],
        latents_std=[1.0 + 0.5 * i for i in range(z_dim)],
    ).eval()


def test_wan_vae_codec_shapes_and_normalization(tmp_path: Path) -> None:
    vae = _tiny_vae()
    vae.save_pretrained(tmp_path / "pipe" / "vae")
    codec = WanVAECodec.from_pretrained(tmp_path / "pipe")
    assert isinstance(codec, VideoCodec)
    assert (codec.latent_channels, codec.temporal_factor, codec.spatial_factor) == (4, 4, 8)
    pixels = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        latents = codec.encode(pixels)
        raw = vae.encode(pixels).latent_dist.mode()
        decoded = codec.decode(latents)
    assert latents.shape == (1, *codec.latent_shape(9, 32, 32)) == (1, 4, 3, 4, 4)
    mean = torch.tensor([0.0, 0.1, 0.2, 0.3]).view(1, 4, 1, 1, 1)
    std = torch.tensor([1.0, 1.5, 2.0, 2.5]).view(1, 4, 1, 1, 1)
    torch.testing.assert_close(latents, (raw - mean) / std)
    assert decoded.shape == pixels.shape and decoded.abs().max() <= 1.0
    with pytest.raises(ValueError, match="frames must be 4"):
        codec.encode(torch.zeros(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match="AutoencoderKLWan folder"):
        WanVAECodec.from_pretrained(tmp_path / "nothing")


def test_space_to_depth_normalization_fits_and_inverts() -> None:
    from echomotion_dualdit.codecs import fit_pixel_stats

    g = torch.Generator().manual_seed(0)
    colour = torch.tensor([0.5, -0.2, 0.1]).view(1, 3, 1, 1, 1)
    pixels = (colour + 0.2 * torch.randn(2, 3, 9, 8, 8, generator=g)).clamp(-1, 1)
    mean, std = fit_pixel_stats([pixels[:1], pixels[1]])
    torch.testing.assert_close(
        torch.tensor(mean), pixels.double().mean(dim=(0, 2, 3, 4)).float(), atol=1e-5, rtol=0
    )
    codec = SpaceToDepthCodec(patch=2, mean=mean, std=std)  # type: ignore[arg-type]
    latents = codec.encode(pixels)
    assert abs(float(latents.mean())) < 0.05
    assert abs(float(latents.std()) - 1.0) < 0.05
    torch.testing.assert_close(codec.decode(latents), pixels, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="std > 0"):
        SpaceToDepthCodec(std=(1.0, 0.0, 1.0))
