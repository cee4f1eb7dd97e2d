"""Named training recipes: functions returning a `TrainConfig` (torchtitan style).

- `synth-tiny`: the embedded default — tiny DualDiT, the synthetic world, the lossless
  space-to-depth video codec, the MiniLM text encoder, CPU. Trains and samples in minutes.
- `synth-tiny-anneal`: its second stage — 3,000 more paired steps at a lower learning rate from
  the weights `synth-tiny` exported (`outputs/synth-tiny/final`), with a fresh optimizer and EMA.
- `synth-tiny-fine`: its third stage — the video patch refined from 2×2 to 1×1 latent cells
  (4× the video tokens, each a quarter the size), warm-started from `synth-tiny-anneal`'s
  export with every tensor that still fits (`model.init_partial`), 3,600 paired steps with a
  cosine-decaying rate. The shipped checkpoint is `synth-tiny` → `synth-tiny-anneal` → this.
- `synth-tiny-person`: its fourth stage — the same model from `synth-tiny-fine`'s export, the
  video loss weighting the latent cells the person covers 4× (`flow.person_loss_weight`),
  3,000 paired steps at lr 2e-4 decaying (cosine) to 2e-5; it samples with text guidance
  ω₁ = 2 on the noisy steps (σ ≥ 0.7) only.
- `synth-tiny-person2`: its fifth stage — 3,000 more steps of the fourth from its export, the
  person's cells weighing 8×, v2m drawn 1.25× as often as joint or m2v.
- `wan2.1-1.3b`, `wan2.2-5b`: the paper's Tables 5–6 (dims from the preset; AdamW lr 8e-6,
  wd 1e-3, shift 8, 1000 train timesteps; 81 frames 480×832 at 16 fps, batch 2 / 121 frames
  704×1280 at 24 fps, batch 1). Wan weights, VAE and UMT5 come from local paths you set
  (`model.wan_path`, `data.vae_path`, `data.text_encoder_path`). The paper gives GPU hours,
  not step counts: the step counts here are starting points, stated as such.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import (
    CheckpointConfig,
    DataConfig,
    FlowConfig,
    LoggingConfig,
    ModelConfig,
    OptimConfig,
    PhaseConfig,
    SamplingConfig,
    TrainConfig,
    apply_overrides,
)

__all__ = ["RECIPES", "recipe"]


def synth_tiny() -> TrainConfig:
    # The `tiny` preset widened to D = 4 × 48 = 192: each 1×2×2 token of the space-to-depth
    # latent carries 3 colours × 4 frames × 2 × 2 × 2 × 2 = 192 numbers, and a hidden size below
    # that cannot carry the noise it must predict (the output projection would be low-rank).
    return TrainConfig(
        recipe="synth-tiny",
        seed=0,
        out_dir="outputs/synth-tiny",
        device="auto",
        model=ModelConfig(preset="tiny", num_attention_heads=4, attention_head_dim=48, ffn_dim=512),
        data=DataConfig(
            dataset="outputs/synth-tiny/data",
            synthesize=512,
            frames=9,
            fps=8.0,
            height=32,
            width=32,
            batch_size=8,
            cache_dtype="float32",  # the codec is lossless; keep it so
            video_codec="space_to_depth",
            text_encoder="minilm",
        ),
        optim=OptimConfig(
            lr=5e-4, weight_decay=1e-3, warmup_steps=100, grad_clip=1.0, ema_decay=0.998
        ),
        flow=FlowConfig(shift=1.0),
        phase1=PhaseConfig(steps=300, p_text_drop=0.1),
        phase2=PhaseConfig(
            steps=6700, joint=1.0, m2v=1.0, v2m=1.0, p_text_drop=0.1, p_cond_drop=0.1
        ),
        checkpoint=CheckpointConfig(every=250, keep_last=2),
        logging=LoggingConfig(every=10),
        # What samples best from this model (README, "Why the stochastic solver" / "Why no
        # guidance"): fresh noise each step for the video, Euler for the motion, unguided.
        sampling=SamplingConfig(
            steps=30, guidance=1.0, guidance_cond=1.0, solver="stochastic", eta=1.0, motion_eta=0.0
        ),
    )


def synth_tiny_anneal() -> TrainConfig:
    # At lr 5e-4 the video stopped improving between 5,800 and 7,000 steps (m2v 15.9 → 15.8 dB);
    # 1,000 steps at 1.5e-4 from there gave 17.0 dB and v2m 267 → 258 mm.
    return apply_overrides(
        synth_tiny(),
        [
            "recipe=synth-tiny-anneal",
            "out_dir=outputs/synth-tiny-anneal",
            "model.init_from=outputs/synth-tiny/final",  # what `--recipe synth-tiny` exports
            "optim.lr=1.5e-4",
            "phase1.steps=0",
            "phase2.steps=3000",
        ],
    )


def synth_tiny_fine() -> TrainConfig:
    # A 1×2×2 token carries 192 numbers, as many as the hidden size: the residual stream has no
    # room for both the noise a velocity head must pass through and the features that denoise
    # it, and the samples kept a colour speckle. 1×1×1 tokens carry 48 numbers each.
    return apply_overrides(
        synth_tiny(),
        [
            "recipe=synth-tiny-fine",
            "out_dir=outputs/synth-tiny-fine",
            "model.patch_size=[1,1,1]",
            "model.init_from=outputs/synth-tiny-anneal/final",  # the second stage's export
            "model.init_partial=true",  # fresh patch embedding and output projection
            "optim.lr=3e-4",
            "optim.decay=cosine",
            "phase1.steps=0",
            "phase2.steps=3600",
        ],
    )


def synth_tiny_person() -> TrainConfig:
    # The person is ≈ 14 % of the pixels: a plain mean spends the video loss on the backdrop
    # and the clothes never take the caption's colours. The person's latent cells (the
    # projected skeleton) count 4×, so they carry about half the loss.
    return apply_overrides(
        synth_tiny_fine(),
        [
            "recipe=synth-tiny-person",
            "out_dir=outputs/synth-tiny-person",
            "model.init_from=outputs/synth-tiny-fine/final",  # the third stage's export
            "model.init_partial=false",  # the same architecture: every tensor
            "optim.lr=2e-4",
            "flow.person_loss_weight=4",
            "phase2.steps=3000",
            "checkpoint.every=500",
            # Mild text guidance on the noisy steps only binds the caption's colours at almost
            # no cost in fidelity (README, "Why guidance on the noisy steps only").
            "sampling.guidance=2",
            "sampling.guidance_interval=[0.7,1.0]",
        ],
    )


def synth_tiny_person2() -> TrainConfig:
    # The caption's pull on the garment colours grew about linearly over the fourth stage and its
    # loss was still falling: the same again with the person carrying ~70 % of the video loss
    # (8×), and v2m drawn a little more often because v2m had drifted over the later stages.
    return apply_overrides(
        synth_tiny_person(),
        [
            "recipe=synth-tiny-person2",
            "out_dir=outputs/synth-tiny-person2",
            "model.init_from=outputs/synth-tiny-person/final",  # the fourth stage's export
            "flow.person_loss_weight=8",
            "phase2.v2m=1.25",
        ],
    )


def _wan(
    name: str, preset: str, frames: int, height: int, width: int, fps: float, batch: int
) -> TrainConfig:
    return TrainConfig(
        recipe=name,
        out_dir=f"outputs/{name}",
        device="cuda",
        mixed_precision="bf16",
        model=ModelConfig(preset=preset, gradient_checkpointing=True),
        data=DataConfig(
            frames=frames,
            fps=fps,
            height=height,
            width=width,
            batch_size=batch,
            num_workers=4,
            video_codec="wan_vae",
            text_encoder="umt5",
        ),
        optim=OptimConfig(
            lr=8e-6, weight_decay=1e-3, warmup_steps=100, grad_clip=1.0, ema_decay=0.9999
        ),
        flow=FlowConfig(shift=8.0, num_train_timesteps=1000),
        phase1=PhaseConfig(steps=10_000, p_text_drop=0.1),
        phase2=PhaseConfig(steps=20_000, p_text_drop=0.1, p_cond_drop=0.1),
        checkpoint=CheckpointConfig(every=1000, keep_last=3),
        logging=LoggingConfig(every=10, validate_every=2000, validation_steps=50),
    )


def wan21_1p3b() -> TrainConfig:
    return _wan("wan2.1-1.3b", "wan2.1-1.3b", frames=81, height=480, width=832, fps=16.0, batch=2)


def wan22_5b() -> TrainConfig:
    return _wan("wan2.2-5b", "wan2.2-5b", frames=121, height=704, width=1280, fps=24.0, batch=1)


RECIPES: dict[str, Callable[[], TrainConfig]] = {
    "synth-tiny": synth_tiny,
    "synth-tiny-anneal": synth_tiny_anneal,
    "synth-tiny-fine": synth_tiny_fine,
    "synth-tiny-person": synth_tiny_person,
    "synth-tiny-person2": synth_tiny_person2,
    "wan2.1-1.3b": wan21_1p3b,
    "wan2.2-5b": wan22_5b,
}


def recipe(name: str) -> TrainConfig:
    try:
        return RECIPES[name]()
    except KeyError:
        raise ValueError(
            f"recipe: unknown name {name!r}; expected one of {sorted(RECIPES)}"
        ) from None
