"""What the pipeline and the trainer need from a video codec (pixels ⇄ normalized latents).

Dimension legend: ``B`` batch, ``T`` pixel frames (``4k + 1``), ``Hp, Wp`` pixel height/width,
``C`` latent channels, ``F`` latent frames (``k + 1``), ``h, w`` latent height/width.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class VideoCodec(Protocol):
    """Pixels ``(B, 3, T, Hp, Wp)`` in ``[-1, 1]`` ⇄ normalized latents ``(B, C, F, h, w)``.

    Time follows Wan's causal VAE: ``T = temporal_factor·k + 1`` pixel frames map to ``k + 1``
    latent frames (latent frame 0 is pixel frame 0 alone; frame j ≥ 1 covers pixel frames
    ``4j−3 … 4j``).
    """

    @property
    def latent_channels(self) -> int: ...

    @property
    def temporal_factor(self) -> int: ...

    @property
    def spatial_factor(self) -> int: ...

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """``(C, F, h, w)`` of the latents of a ``frames × height × width`` video."""
        ...

    def encode(self, pixels: Tensor) -> Tensor:
        """``(B, 3, T, Hp, Wp)`` in ``[-1, 1]`` → normalized latents ``(B, C, F, h, w)``."""
        ...

    def decode(self, latents: Tensor) -> Tensor:
        """Normalized latents ``(B, C, F, h, w)`` → pixels ``(B, 3, T, Hp, Wp)``."""
        ...


def check_video_size(frames: int, height: int, width: int, temporal: int, spatial: int) -> None:
    """Raise ValueError unless ``frames = temporal·k + 1`` and ``height, width`` divide by ``spatial``."""
    if frames < 1 or (frames - 1) % temporal:
        raise ValueError(
            f"frames must be {temporal}·k + 1 (1, {temporal + 1}, {2 * temporal + 1}, …), got {frames}"
        )
    if height % spatial or width % spatial or height < spatial or width < spatial:
        raise ValueError(
            f"height and width must be positive multiples of {spatial}, got {height}×{width}"
        )


def latent_shape_of(
    frames: int, height: int, width: int, channels: int, temporal: int, spatial: int
) -> tuple[int, int, int, int]:
    """``(C, F, h, w)`` = ``(channels, (frames − 1)/temporal + 1, height/spatial, width/spatial)``."""
    check_video_size(frames, height, width, temporal, spatial)
    return channels, (frames - 1) // temporal + 1, height // spatial, width // spatial


def check_pixels(pixels: Tensor) -> None:
    """Raise ValueError unless ``pixels`` is a floating ``(B, 3, T, Hp, Wp)`` tensor."""
    if (
        not isinstance(pixels, Tensor)
        or pixels.dim() != 5
        or pixels.shape[1] != 3
        or not pixels.is_floating_point()
    ):
        shape = tuple(pixels.shape) if isinstance(pixels, Tensor) else type(pixels)
        raise ValueError(f"pixels must be a float tensor (B, 3, T, H, W) in [-1, 1], got {shape}")
