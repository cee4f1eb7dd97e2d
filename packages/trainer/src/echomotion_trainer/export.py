"""Export of a finished run: a checkpoint folder `echomotion generate --checkpoint` loads.

Layout (samplers' pipeline.json, version 1): `transformer/` (DualDiT.save_pretrained), `motion_normalizer.safetensors`, `pipeline.json` naming the text encoder and
video codec the run trained with, and `train_config.yaml`. Written beside the target and renamed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from echomotion_motion_codec import MotionNormalizer
from echomotion_samplers.pipeline_config import (
    NORMALIZER_NAME,
    TRANSFORMER_DIR,
    PipelineConfig,
    SamplingDefaults,
    TextEncoderSpec,
    VideoCodecSpec,
)

from .config import TrainConfig

__all__ = ["export_pipeline", "pipeline_config"]


def pipeline_config(config: TrainConfig, codec: Any = None) -> PipelineConfig:
    """What the run's data and flow settings (and the codec's pixel statistics) mean for sampling."""
    d = config.data
    text_path = None if d.text_encoder_path is None else str(Path(d.text_encoder_path).resolve())
    vae_path = None if d.vae_path is None else str(Path(d.vae_path).resolve())
    return PipelineConfig(
        fps=d.fps,
        height=d.height,
        width=d.width,
        num_frames=d.frames,
        text_encoder=TextEncoderSpec(kind=d.text_encoder, path=text_path),
        video_codec=VideoCodecSpec(
            kind=d.video_codec,
            path=vae_path,
            mean=tuple(getattr(codec, "mean", (0.0, 0.0, 0.0))),
            std=tuple(getattr(codec, "std", (1.0, 1.0, 1.0))),
        ),
        sampling=SamplingDefaults(shift=config.flow.shift),
    )


def export_pipeline(
    config: TrainConfig, model: Any, normalizer: MotionNormalizer, out: Path, *, codec: Any = None
) -> Path:
    """Write `model` (already carrying the weights to ship, e.g. the EMA) as a checkpoint."""
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp / TRANSFORMER_DIR))
    normalizer.save(tmp / NORMALIZER_NAME)
    pipeline_config(config, codec).save(tmp)
    (tmp / "train_config.yaml").write_text(config.to_yaml())
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
