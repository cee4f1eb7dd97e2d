"""Parameter and FLOP accounting of video-only Wan vs the dual DiT (paper A.10), on the meta device.

    python -m echomotion_dualdit.accounting            # both recipes, a markdown table
    python -m echomotion_dualdit.accounting --recipe wan2.2-5b

Both models are the real modules (diffusers' ``WanTransformer3DModel`` for video-only, and
:class:`~echomotion_dualdit.model.DualDiT` in a joint forward), built on the meta device so no
memory is allocated, and run once under ``torch.utils.flop_counter.FlopCounterMode``. On meta
tensors ``scaled_dot_product_attention`` takes PyTorch's math path, i.e. two ``bmm`` per
attention (QKᵀ and PV), which the counter counts like any matmul — so no formula had to be
registered. FLOPs are split by aten op:

- **linear**: ``mm``, ``addmm``, ``convolution`` (every ``nn.Linear``, the patch embedding, the
  motion MLPs) — what the paper's A.10 ratio measures;
- **attention**: ``bmm`` (self-attention over the joint sequence and text cross-attention).

One forward, batch 1, 512 text tokens (Wan's padded length), one multiply-add = 2 FLOPs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from diffusers.models.transformers.transformer_wan import WanTransformer3DModel
from torch.utils.flop_counter import FlopCounterMode

from echomotion_dualdit.embeddings import Task
from echomotion_dualdit.model import DualDiT
from echomotion_dualdit.presets import preset
from echomotion_motion_codec import MOTION_DIM, NUM_SLOTS

LINEAR_OPS = ("aten.mm", "aten.addmm", "aten.convolution")
ATTENTION_OPS = ("aten.bmm", "aten.baddbmm")
TEXT_TOKENS = 512


@dataclass(frozen=True)
class Recipe:
    """A training/sampling shape: which preset, how many pixel frames, which resolution."""

    name: str
    preset: str
    frames: int
    height: int
    width: int
    vae_spatial: int  # Wan2.1 VAE: 8, Wan2.2 VAE: 16
    vae_temporal: int = 4


RECIPES: dict[str, Recipe] = {
    "wan2.1-1.3b": Recipe(
        "wan2.1-1.3b", "wan2.1-1.3b", frames=81, height=480, width=832, vae_spatial=8
    ),
    "wan2.2-5b": Recipe(
        "wan2.2-5b", "wan2.2-5b", frames=121, height=704, width=1280, vae_spatial=16
    ),
}


@dataclass(frozen=True)
class FlopCount:
    linear: int
    attention: int

    @property
    def total(self) -> int:
        return self.linear + self.attention


@dataclass(frozen=True)
class Accounting:
    """One recipe's numbers; ``*_video`` = Wan alone, ``*_dual`` = the dual DiT in a joint forward."""

    recipe: Recipe
    video_tokens: int
    motion_tokens: int
    params_video: int
    params_dual: int
    flops_video: FlopCount
    flops_dual: FlopCount

    @property
    def params_ratio(self) -> float:
        return self.params_dual / self.params_video

    @property
    def linear_overhead(self) -> float:
        return self.flops_dual.linear / self.flops_video.linear - 1

    @property
    def total_overhead(self) -> float:
        return self.flops_dual.total / self.flops_video.total - 1


def count_flops(run: Callable[[], object]) -> FlopCount:
    """FLOPs of ``run()`` by PyTorch's counter, split into linear and attention ops."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        run()
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    unknown = sorted(set(by_op) - set(LINEAR_OPS) - set(ATTENTION_OPS))
    if unknown:
        raise RuntimeError(f"FLOPs counted in ops this accounting does not classify: {unknown}")
    return FlopCount(
        linear=sum(by_op.get(op, 0) for op in LINEAR_OPS),
        attention=sum(by_op.get(op, 0) for op in ATTENTION_OPS),
    )


def account(recipe: Recipe) -> Accounting:
    """Build both models of ``recipe`` on the meta device and count parameters and FLOPs."""
    cfg = preset(recipe.preset)
    latent_frames = (recipe.frames - 1) // recipe.vae_temporal + 1
    latent_h, latent_w = recipe.height // recipe.vae_spatial, recipe.width // recipe.vae_spatial
    p_t, p_h, p_w = cfg.patch_size
    video_tokens = (latent_frames // p_t) * (latent_h // p_h) * (latent_w // p_w)
    motion_tokens = recipe.frames * NUM_SLOTS

    meta = torch.device("meta")
    with meta:
        wan = WanTransformer3DModel(
            patch_size=cfg.patch_size,
            num_attention_heads=cfg.num_attention_heads,
            attention_head_dim=cfg.attention_head_dim,
            in_channels=cfg.in_channels,
            out_channels=cfg.out_channels,
            text_dim=cfg.text_dim,
            freq_dim=cfg.freq_dim,
            ffn_dim=cfg.ffn_dim,
            num_layers=cfg.num_layers,
        )
        dual = DualDiT(**cfg.to_kwargs())
    video = torch.empty(1, cfg.in_channels, latent_frames, latent_h, latent_w, device=meta)
    motion = torch.empty(1, recipe.frames, MOTION_DIM, device=meta)
    text = torch.empty(1, TEXT_TOKENS, cfg.text_dim, device=meta)
    timestep = torch.empty(1, device=meta)
    task = torch.full((1,), int(Task.JOINT), dtype=torch.long, device=meta)

    flops_video = count_flops(lambda: wan(video, timestep, text))
    flops_dual = count_flops(lambda: dual(video, motion, timestep, timestep, text, task))
    return Accounting(
        recipe=recipe,
        video_tokens=video_tokens,
        motion_tokens=motion_tokens,
        params_video=sum(p.numel() for p in wan.parameters()),
        params_dual=sum(p.numel() for p in dual.parameters()),
        flops_video=flops_video,
        flops_dual=flops_dual,
    )


def format_table(rows: Sequence[Accounting]) -> str:
    """A markdown table of the accounting (parameters in billions, FLOPs in TFLOPs per forward)."""

    def b(n: int) -> str:
        return f"{n / 1e9:.2f} B"

    def tf(n: int) -> str:
        return f"{n / 1e12:.1f}"

    lines = [
        "| recipe | video tokens | motion tokens | params video-only | params dual | params × | "
        "linear TFLOPs video → dual | linear overhead | all TFLOPs video → dual | overhead with attention |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rec = r.recipe
        lines.append(
            f"| {rec.name} ({rec.frames} f, {rec.height}×{rec.width}) | {r.video_tokens:,} | {r.motion_tokens:,} | "
            f"{b(r.params_video)} | {b(r.params_dual)} | {r.params_ratio:.2f} | "
            f"{tf(r.flops_video.linear)} → {tf(r.flops_dual.linear)} | +{100 * r.linear_overhead:.1f}% | "
            f"{tf(r.flops_video.total)} → {tf(r.flops_dual.total)} | +{100 * r.total_overhead:.1f}% |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--recipe", choices=sorted(RECIPES), action="append", help="default: all recipes"
    )
    args = parser.parse_args(argv)
    names = args.recipe or list(RECIPES)
    print(format_table([account(RECIPES[n]) for n in names]))


if __name__ == "__main__":
    main()
