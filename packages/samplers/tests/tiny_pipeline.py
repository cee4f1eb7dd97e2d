"""A tiny EchoMotion pipeline for CPU tests: the random `tiny` DualDiT (2 layers), dualdit's
space-to-depth codec, and a tiny random BERT text encoder with a word-level vocabulary built
here (no hub access), behind dualdit's `MiniLMTextEncoder`."""

from __future__ import annotations

from pathlib import Path

import torch
from motions import camera_walk
from transformers import BertConfig, BertModel, BertTokenizer

from echomotion_dualdit import DualDiT
from echomotion_dualdit.codecs import SpaceToDepthCodec
from echomotion_dualdit.text import MiniLMTextEncoder
from echomotion_motion_codec import MotionLayout, MotionNormalizer, SkeletonBodyModel, SMPLMotion
from echomotion_samplers.pipeline import EchoMotionPipeline
from echomotion_samplers.pipeline_config import (
    PipelineConfig,
    SamplingDefaults,
    TextEncoderSpec,
    VideoCodecSpec,
)

TEXT_DIM = 32
FPS, HEIGHT, WIDTH, FRAMES = 16.0, 32, 32, 5
WORDS = [
    "a",
    "person",
    "walks",
    "runs",
    "jumps",
    "waves",
    "slowly",
    "quickly",
    "in",
    "red",
    "blue",
    "shirt",
    "the",
    "park",
]


def tiny_text_encoder(folder: Path) -> MiniLMTextEncoder:
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizer(str(vocab))
    config = BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=TEXT_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    return MiniLMTextEncoder(BertModel(config), tokenizer, max_length=12)


def tiny_normalizer(frames: int = FRAMES) -> MotionNormalizer:
    packed = MotionLayout().pack(SMPLMotion.stack([camera_walk(frames, seed=s) for s in range(4)]))
    return MotionNormalizer.fit([packed])


def tiny_pipeline(workdir: Path, **config: object) -> EchoMotionPipeline:
    torch.manual_seed(0)
    transformer = DualDiT.from_preset("tiny", text_dim=TEXT_DIM, num_layers=2, ffn_dim=64)
    pipeline_config = PipelineConfig(
        fps=FPS,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        text_encoder=TextEncoderSpec(kind="minilm", path="text_encoder", max_length=12),
        video_codec=VideoCodecSpec(kind="space_to_depth", patch=2, temporal=4),
        sampling=SamplingDefaults(steps=3, shift=3.0, guidance=3.0, guidance_cond=2.0),
        **config,  # type: ignore[arg-type]
    )
    return EchoMotionPipeline(
        transformer=transformer,
        video_codec=SpaceToDepthCodec(patch=2, temporal=4),
        text_encoder=tiny_text_encoder(workdir / "tokenizer_src"),
        normalizer=tiny_normalizer(),
        body_model=SkeletonBodyModel(),
        config=pipeline_config,
    )
