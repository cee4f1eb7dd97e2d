"""Periodic validation samples: the three modes through the real generation pipeline, written
as mp4 + motion + skeleton video + contact sheet under `<out_dir>/validation/step_XXXXXXXX/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from echomotion_humove.datasets import motion_from_batch
from echomotion_motion_codec import SkeletonBodyModel
from echomotion_samplers.export import export_result
from echomotion_samplers.pipeline import EchoMotionPipeline

from .config import TrainConfig
from .export import pipeline_config
from .gather import full_model
from .loop import Trainer

__all__ = ["Validator"]


class Validator:
    """Called by the loop every `logging.validate_every` steps (on every rank: the model gather is
    collective); samples on rank 0 with the EMA weights."""

    def __init__(
        self,
        config: TrainConfig,
        trainer: Trainer,
        *,
        paired: Any,
        normalizer: Any,
        codec: Any,
        text_encoder: Any,
    ) -> None:
        self.config = config
        self.trainer = trainer
        self.paired = paired
        self.normalizer = normalizer
        self.codec = codec
        self.text_encoder = text_encoder

    def __call__(self, step: int) -> list[Path]:
        model = full_model(self.trainer)
        if model is None:
            return []
        cfg = self.config
        device = self.trainer.dist.device
        pipe = EchoMotionPipeline(
            transformer=model,
            video_codec=self.codec,
            text_encoder=self.text_encoder,
            normalizer=self.normalizer,
            body_model=SkeletonBodyModel(),
            config=pipeline_config(cfg, self.codec),
            device=device,
            offload=False,
        )
        item = self.paired[0]
        prompt = (
            cfg.logging.validation_prompts[0] if cfg.logging.validation_prompts else item["caption"]
        )
        motion = motion_from_batch(item)
        with torch.no_grad():
            latents = item["video_latents"][None].to(device)  # (1, C, F, h, w)
            pixels = self.codec.decode(latents)[0]  # (3, T, H, W) in [-1, 1]
        frames = (
            ((pixels.clamp(-1, 1) + 1) * 127.5)
            .round()
            .to(torch.uint8)
            .permute(1, 2, 3, 0)
            .cpu()
            .numpy()
        )
        sampling: dict[str, Any] = {
            "steps": cfg.logging.validation_steps,
            "seed": cfg.seed,
            "progress": False,
        }
        out = Path(cfg.out_dir) / "validation" / f"step_{step:08d}"
        written: list[Path] = []
        results = {
            "joint": pipe.joint(prompt, **sampling),
            "m2v": pipe.motion_to_video(prompt, motion, **sampling),
            "v2m": pipe.video_to_motion(np.ascontiguousarray(frames), **sampling),
        }
        for stem, result in results.items():
            for sample in export_result(result, out, stem=stem):
                written += sample.paths()
        return written
