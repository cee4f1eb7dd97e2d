"""Wan's VAE (2.1: 16 channels, 4×8×8; 2.2: 48 channels, 4×16×16) behind :class:`VideoCodec`.

Dimension legend: as :mod:`echomotion_dualdit.codecs.protocol`.

Latents are normalized per channel by the VAE config's ``latents_mean`` / ``latents_std``, as
diffusers' Wan pipelines do: ``z_norm = (z − mean) / std``. Encoding takes the posterior mode
(deterministic) unless ``sample=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan
from torch import Tensor

from echomotion_dualdit.codecs.protocol import check_pixels, latent_shape_of


class WanVAECodec:
    """``AutoencoderKLWan`` with Wan's latent normalization."""

    def __init__(
        self,
        vae: AutoencoderKLWan,
        *,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.vae = vae
        self._config: Any = vae.config
        self.sample = sample
        self.generator = generator
        cfg: Any = vae.config
        channels = int(cfg.z_dim)
        if len(cfg.latents_mean) != channels or len(cfg.latents_std) != channels:
            raise ValueError(
                f"VAE config latents_mean/latents_std must have z_dim = {channels} entries, "
                f"got {len(cfg.latents_mean)} and {len(cfg.latents_std)}"
            )
        self._mean = torch.tensor(cfg.latents_mean, dtype=torch.float32).view(1, channels, 1, 1, 1)
        self._std = torch.tensor(cfg.latents_std, dtype=torch.float32).view(1, channels, 1, 1, 1)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        torch_dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        sample: bool = False,
    ) -> WanVAECodec:
        """Load from a local folder: the VAE folder itself or a pipeline folder with ``vae/``."""
        root = Path(path)
        if (root / "vae" / "config.json").is_file():
            root = root / "vae"
        if not (root / "config.json").is_file():
            raise ValueError(
                f"path must be a local AutoencoderKLWan folder (config.json), got {str(path)!r}"
            )
        vae = AutoencoderKLWan.from_pretrained(
            str(root), torch_dtype=torch_dtype, local_files_only=True
        )
        return cls(vae.to(device).eval(), sample=sample)

    @property
    def latent_channels(self) -> int:
        return int(self._config.z_dim)

    @property
    def temporal_factor(self) -> int:
        return int(self._config.scale_factor_temporal or 4)

    @property
    def spatial_factor(self) -> int:
        return int(self._config.scale_factor_spatial or 8)

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        return latent_shape_of(
            frames, height, width, self.latent_channels, self.temporal_factor, self.spatial_factor
        )

    def _stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        return self._mean.to(like.device, like.dtype), self._std.to(like.device, like.dtype)

    def encode(self, pixels: Tensor) -> Tensor:
        check_pixels(pixels)
        self.latent_shape(*pixels.shape[2:])  # validates T = 4k+1 and the spatial size
        param = next(self.vae.parameters())
        posterior = self.vae.encode(pixels.to(param.device, param.dtype)).latent_dist
        z = posterior.sample(self.generator) if self.sample else posterior.mode()  # (B, C, F, h, w)
        mean, std = self._stats(z)
        return (z - mean) / std  # (B, C, F, h, w)

    def decode(self, latents: Tensor) -> Tensor:
        if latents.dim() != 5 or latents.shape[1] != self.latent_channels:
            raise ValueError(
                f"latents must be (B, {self.latent_channels}, F, h, w), got {tuple(latents.shape)}"
            )
        param = next(self.vae.parameters())
        z = latents.to(param.device, param.dtype)
        mean, std = self._stats(z)
        pixels = self.vae.decode(z * std + mean).sample  # (B, 3, T, Hp, Wp)
        return pixels.clamp(-1.0, 1.0)
