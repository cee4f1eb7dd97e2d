"""A lossless video "codec" for the synthetic world: space-to-depth with Wan's time layout.

Dimension legend: ``B`` batch, ``T = 4k + 1`` pixel frames, ``Hp, Wp`` pixels, ``p`` spatial
patch, ``F = k + 1`` latent frames, ``h, w = Hp/p, Wp/p``.

Latent frame 0 holds pixel frame 0 and latent frame j ≥ 1 holds pixel frames ``4j−3 … 4j``,
exactly the frames Wan's causal VAE folds into its latent j, so motion frame f sits at latent
time f/4 for this codec as for Wan's. Each latent frame stacks its 4 frames and a ``p × p``
pixel block into ``C = 3·4·p²`` channels ordered (colour, frame-in-group, row, column). Frame 0
is stored 4 times (a still group), so every latent frame has the same statistics; decoding
averages the 4 copies, which is exact on encoded latents and a denoiser of generated ones.

Like Wan's VAE latents, the latents are normalized: each colour's pixel values (in ``[-1, 1]``)
become ``(x − mean_c) / std_c`` with per-colour statistics fitted on the training videos
(``fit_pixel_stats``); flat synthetic frames have a pixel std near 0.2, far below the unit
noise the flow starts from. The defaults (mean 0, std 1) keep raw pixels.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from echomotion_dualdit.codecs.protocol import check_pixels, latent_shape_of


class SpaceToDepthCodec:
    """Pixels ``(B, 3, 4k+1, Hp, Wp)`` ⇄ latents ``(B, 12·p², k+1, Hp/p, Wp/p)``, lossless."""

    def __init__(
        self,
        patch: int = 2,
        temporal: int = 4,
        *,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        std: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ) -> None:
        if patch < 1 or temporal < 1:
            raise ValueError(
                f"patch and temporal must be >= 1, got patch={patch}, temporal={temporal}"
            )
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean, std: expected 3 colour values with std > 0, got {mean}, {std}")
        self.patch = patch
        self._temporal = temporal
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(v) for v in std)

    def _stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """(1, 3, 1, 1, 1) mean and std as tensors like `like`."""
        mean = torch.tensor(self.mean, dtype=like.dtype, device=like.device).view(1, 3, 1, 1, 1)
        std = torch.tensor(self.std, dtype=like.dtype, device=like.device).view(1, 3, 1, 1, 1)
        return mean, std

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
        mean, std = self._stats(pixels)
        pixels = (pixels - mean) / std  # per-colour normalization
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
        video = torch.cat([first, frames[:, :, t:]], dim=2)  # (B, 3, 4k+1, Hp, Wp)
        mean, std = self._stats(video)
        return video * std + mean


def fit_pixel_stats(videos: Iterable[Tensor]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-colour mean and std of pixel values in [-1, 1] over videos (B, 3, T, H, W) or (3, T, H, W)."""
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    count = 0
    for video in videos:
        v = video.double()
        if v.dim() == 4:
            v = v[None]
        if v.dim() != 5 or v.shape[1] != 3:
            raise ValueError(f"videos: expected (B, 3, T, H, W) tensors, got {tuple(video.shape)}")
        total += v.sum(dim=(0, 2, 3, 4))
        total_sq += (v * v).sum(dim=(0, 2, 3, 4))
        count += v[:, 0].numel()
    if count == 0:
        raise ValueError("videos: nothing to fit the pixel statistics on")
    mean = total / count
    std = (total_sq / count - mean**2).clamp_min(1e-8).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())
