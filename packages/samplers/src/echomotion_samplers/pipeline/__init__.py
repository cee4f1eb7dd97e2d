"""The generation pipeline: the dual DiT, its codecs and the sampler, loaded from a checkpoint
directory (layout in config.py). The only part of echomotion_samplers, with the CLI, that
imports echomotion_dualdit (DESIGN §2)."""

from ..pipeline_config import (
    BodyModelSpec,
    CheckpointError,
    PipelineConfig,
    SamplingDefaults,
    TextEncoderSpec,
    VideoCodecSpec,
)
from ..result import GenerationResult
from .adapter import DualDiTDenoiser
from .components import PipelineTextEncoder, PipelineVideoCodec
from .generation import EchoMotionPipeline

__all__ = [
    "BodyModelSpec",
    "CheckpointError",
    "DualDiTDenoiser",
    "EchoMotionPipeline",
    "GenerationResult",
    "PipelineConfig",
    "PipelineTextEncoder",
    "PipelineVideoCodec",
    "SamplingDefaults",
    "TextEncoderSpec",
    "VideoCodecSpec",
]
