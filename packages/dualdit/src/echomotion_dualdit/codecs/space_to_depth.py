"""A lossless video "codec" for the synthetic world: space-to-depth with Wan's time layout.

Dimension legend: ``B`` batch, ``T = 4k + 1`` pixel frames, ``Hp, Wp`` pixels, ``p`` spatial
patch, ``F = k + 1`` latent frames, ``h, w = Hp/p, Wp/p``.

Latent frame 0 holds pixel frame 0 and latent frame j ≥ 1 holds pixel frames ``4j−3 … 4j``,
exactly the frames Wan's causal VAE folds into its latent j, so motion frame f sits at latent
time f/4 for this codec as for Wan's. Each latent frame stacks its 4 frames and a ``p × p``
pixel block into ``C = 3·4·p²`` channels ordered (colour, frame-in-group, row, column). Frame 0
is stored 4 times (a still group), so every latent frame has the same statistics; decoding
averages the 4 copies, which is exact on encoded latents and a denoiser of generated ones.
Pixels in ``[-1, 1]`` are the latents' scale: no further normalization.
"""

from __future__ import annotations

import torch
from torch import Tensor

from echomotion_dualdit.codecs.protocol import check_pixels, latent_shape_of


class SpaceToDepthCodec:
    """Pixels ``(B, 3, 4k+1, Hp, Wp)`` ⇄ latents ``(B, 12·p², k+1, Hp/p, Wp/p)``, lossless."""

    def __init__(self, patch: int = 2, temporal: int = 4) -> None:
        if patch < 1 or temporal < 1:
            raise ValueError(
                f"patch and temporal must be >= 1, got patch={patch}, temporal={temporal}"
            )
        self.patch = patch
        self._temporal = temporal

    @property
    def latent_channels(self) -> int:
        return 3 * self._temporal * self.patch**2

    @property
    def temporal_factor(self) -> int:
        return self._temporal

    @property
    def spatial_factor(self) -> int:
        return self.patch

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        return latent_shape_of(
            frames, height, width, self.latent_channels, self._temporal, self.patch
        )

    def encode(self, pixels: Tensor) -> Tensor:
        check_pixels(pixels)
        batch, _, frames, height, width = pixels.shape
        _, latent_frames, h, w = self.latent_shape(frames, height, width)
        t, p = self._temporal, self.patch
        first = pixels[:, :, :1].expand(-1, -1, t, -1, -1)  # (B, 3, 4, Hp, Wp): frame 0, four times
        grouped = torch.cat([first, pixels[:, :, 1:]], dim=2)  # (B, 3, 4·F, Hp, Wp)
        grouped = grouped.reshape(
            batch, 3, latent_frames, t, h, p, w, p
        )  # (B, 3, F, 4, h, p, w, p)
        latents = grouped.permute(0, 1, 3, 5, 7, 2, 4, 6)  # (B, 3, 4, p, p, F, h, w)
        return latents.reshape(
            batch, self.latent_channels, latent_frames, h, w
        ).contiguous()  # (B, C, F, h, w)

    def decode(self, latents: Tensor) -> Tensor:
        if latents.dim() != 5 or latents.shape[1] != self.latent_channels:
            raise ValueError(
                f"latents must be (B, {self.latent_channels}, F, h, w), got {tuple(latents.shape)}"
            )
        batch, _, latent_frames, h, w = latents.shape
        t, p = self._temporal, self.patch
        grouped = latents.reshape(
            batch, 3, t, p, p, latent_frames, h, w
        )  # (B, 3, 4, p, p, F, h, w)
        grouped = grouped.permute(0, 1, 5, 2, 6, 3, 7, 4)  # (B, 3, F, 4, h, p, w, p)
        frames = grouped.reshape(batch, 3, latent_frames * t, h * p, w * p)  # (B, 3, 4·F, Hp, Wp)
        copies = frames[:, :, :t]  # (B, 3, 4, Hp, Wp): the four copies of frame 0
        # Pairwise sum then /4: exact when the copies agree (a+a = 2a, 2a+2a = 4a, 4a/4 = a).
        pairs = copies[:, :, 0::2] + copies[:, :, 1::2]  # (B, 3, 2, Hp, Wp) for t = 4
        first = pairs.sum(dim=2, keepdim=True) / t if t == 4 else copies.mean(dim=2, keepdim=True)
        return torch.cat([first, frames[:, :, t:]], dim=2)  # (B, 3, 4k+1, Hp, Wp)
