"""Named training recipes: functions returning a `TrainConfig` (torchtitan style).

- `synth-tiny`: the embedded default — tiny DualDiT, the synthetic world, the lossless
  space-to-depth video codec, the MiniLM text encoder, CPU. Trains and samples in minutes.
  The shipped toy checkpoint continues it in four more stages: YAML deltas in
  `experiments/recipes/` (`--recipe synth-tiny --config experiments/recipes/<stage>.yaml`).
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
