"""Video codecs: pixels ⇄ the dual DiT's normalized video latents."""

from echomotion_dualdit.codecs.protocol import VideoCodec
from echomotion_dualdit.codecs.space_to_depth import SpaceToDepthCodec, fit_pixel_stats
from echomotion_dualdit.codecs.wan_vae import WanVAECodec

__all__ = ["SpaceToDepthCodec", "VideoCodec", "WanVAECodec", "fit_pixel_stats"]
