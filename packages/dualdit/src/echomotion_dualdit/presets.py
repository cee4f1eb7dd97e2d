"""Named size presets of the dual DiT (nanoGPT/DiT style: sizes in code, not config files).

The Wan numbers are Wan's own configs (Wan-Video/Wan2.1 ``wan/configs/wan_t2v_1_3B.py``,
Wan-Video/Wan2.2 ``wan/configs/wan_ti2v_5B.py``; mirrored in ml-explore/mlx-examples
``video/Wan2.{1,2}/wan/configs``) and the matching diffusers ``transformer/config.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from echomotion_mvsrope import DEFAULT_THETA, PositionMode


@dataclass(frozen=True)
class DualDiTConfig:
    """Every constructor argument of :class:`~echomotion_dualdit.model.DualDiT`, typed.

    ``dual_blocks=None`` means every block is dual. ``single_stream=True`` is the paper's A.8.3
    ablation baseline: no motion blocks; motion tokens run through the video blocks' own Q/K/V,
    output and FFN weights (joint attention over the concatenation, per-modality adaLN timestep).
    """

    patch_size: tuple[int, int, int] = (1, 2, 2)
    num_attention_heads: int = 12
    attention_head_dim: int = 128
    in_channels: int = 16
    out_channels: int = 16
    text_dim: int = 4096
    freq_dim: int = 256
    ffn_dim: int = 8960
    num_layers: int = 30
    cross_attn_norm: bool = True
    eps: float = 1e-6
    dual_blocks: tuple[int, ...] | None = None
    num_tasks: int = 4
    rope_time_stride: float = 1.0
    rope_mode: PositionMode = "mvs"
    rope_theta: float = DEFAULT_THETA
    motion_mlp_dim: int | None = None
    single_stream: bool = False

    def to_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``DualDiT(**kwargs)`` (lists where JSON wants lists)."""
        kwargs = asdict(self)
        kwargs["patch_size"] = list(self.patch_size)
        kwargs["dual_blocks"] = None if self.dual_blocks is None else list(self.dual_blocks)
        return kwargs

    def with_(self, **overrides: Any) -> DualDiTConfig:
        """A copy with some fields replaced."""
        return replace(self, **overrides)


def tiny() -> DualDiTConfig:
    """CPU-sized: 4 heads × 16 (D = 64), 4 layers, all dual.

    ``in_channels = 48`` is :class:`~echomotion_dualdit.codecs.SpaceToDepthCodec` with ``p = 2``
    (3 colours × 4 frames × 2 × 2); ``text_dim = 384`` is all-MiniLM-L6-v2's token width.
    """
    return DualDiTConfig(
        num_attention_heads=4,
        attention_head_dim=16,
        in_channels=48,
        out_channels=48,
        text_dim=384,
        freq_dim=64,
        ffn_dim=256,
        num_layers=4,
    )


def wan21_1_3b() -> DualDiTConfig:
    """Wan2.1-T2V-1.3B: dim 1536 = 12 × 128, 30 layers, FFN 8960, 16 latent channels; all dual."""
    return DualDiTConfig(
        num_attention_heads=12,
        attention_head_dim=128,
        in_channels=16,
        out_channels=16,
        text_dim=4096,
        ffn_dim=8960,
        num_layers=30,
    )


def wan22_5b() -> DualDiTConfig:
    """Wan2.2-TI2V-5B: dim 3072 = 24 × 128, 30 layers, FFN 14336, 48 latent channels.

    Hybrid as in the paper's A.9: every other block dual (0, 2, …, 28: 15 of 30).
    """
    return DualDiTConfig(
        num_attention_heads=24,
        attention_head_dim=128,
        in_channels=48,
        out_channels=48,
        text_dim=4096,
        ffn_dim=14336,
        num_layers=30,
        dual_blocks=tuple(range(0, 30, 2)),
    )


PRESETS: dict[str, Callable[[], DualDiTConfig]] = {
    "tiny": tiny,
    "wan2.1-1.3b": wan21_1_3b,
    "wan2.2-5b": wan22_5b,
}


def preset(name: str) -> DualDiTConfig:
    """The config of a named preset (``tiny``, ``wan2.1-1.3b``, ``wan2.2-5b``)."""
    if name not in PRESETS:
        raise ValueError(f"preset name must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]()
