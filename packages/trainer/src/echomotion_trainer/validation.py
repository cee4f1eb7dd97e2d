"""Periodic validation, which never holds the other ranks of a job inside a collective.

One process: samples of the three modes through the real generation pipeline, written as mp4 +
motion + skeleton video + contact sheet under `<out_dir>/validation/step_XXXXXXXX/` (the text
encoder and video codec are built at the first validation, not before).

Several processes: sampling happens outside the collective loop. Every rank takes part in
gathering the EMA weights (one collective, seconds); rank 0 exports them as a checkpoint to
`<out_dir>/validation/step_XXXXXXXX/checkpoint/` and the job trains on. Sample or score that
checkpoint from another process (`echomotion generate --checkpoint …`, `echomotion eval …`):
fifty sampling steps on rank 0 while the others wait in the next step's all-gather would run
into the process-group timeout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from echomotion_humove.datasets import motion_from_batch
from echomotion_motion_codec import SkeletonBodyModel
from echomotion_samplers.export import export_result
from echomotion_samplers.pipeline import EchoMotionPipeline

from .build import build_text_encoder, build_video_codec
from .config import TrainConfig
from .export import export_pipeline, pipeline_config
from .gather import full_model
from .loop import Trainer

__all__ = ["Validator"]


class Validator:
    """Called by the loop every `logging.validate_every` steps on every rank (the weight gather is
    collective); samples with the EMA weights on one process, exports them on several."""

    def __init__(
        self,
        config: TrainConfig,
        trainer: Trainer,
        *,
        paired: Any,
        normalizer: Any,
        codec: Any = None,
        text_encoder: Any = None,
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
        out = Path(cfg.out_dir) / "validation" / f"step_{step:08d}"
        if self.trainer.dist.distributed:
            folder = export_pipeline(
                cfg, model, self.normalizer, out / "checkpoint", codec=self.codec
            )
            print(
                f"validation: step {step}'s EMA weights are in {folder}; sample them outside the "
                f"job: echomotion generate --checkpoint {folder} …",
                file=sys.stderr,
            )
            return [folder]
        device = self.trainer.dist.device
        if self.codec is None:
            self.codec = build_video_codec(cfg.data, device)
        if self.text_encoder is None:
            self.text_encoder = build_text_encoder(cfg.data, device)
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
