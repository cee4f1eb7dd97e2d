#!/usr/bin/env python3
"""Write a tiny Wan 2.1 pipeline folder (diffusers layout) with random weights, offline.

    python tools/make_tiny_wan.py OUT_DIR [--seed N]

    OUT_DIR/
      model_index.json   what diffusers' WanPipeline reads
      transformer/       WanTransformer3DModel: 2 heads × 12 dims, 2 layers, FFN 32 (bf16 on disk)
      vae/               AutoencoderKLWan: base 16, z_dim 4, 4×8×8 down (fp32)
      text_encoder/      UMT5EncoderModel: d_model 16, 1 layer (bf16 on disk)
      tokenizer/         a T5-style Unigram tokenizer (tokenizer.json), `</s>` appended
      scheduler/         UniPC with flow sigmas, as Wan ships it

It stands in for `Wan2.1-T2V-1.3B-Diffusers` wherever the Wan recipes need local weights, so
`--recipe wan2.1-1.3b` can be rehearsed on a CPU (packages/trainer/README.md, "Multi-GPU
training, rehearsed on CPU"): the sizes fit one another as the real ones do (the transformer's
in/out channels are the VAE's z_dim, its text_dim the encoder's d_model); the transformer (but
for the modules diffusers keeps in fp32) and the encoder are stored in bf16, so the upcast to
fp32 master weights is exercised; the VAE's `latents_mean`/`latents_std` are measured on smooth
random clips, so its normalized latents are about unit scale. Nothing is downloaded; the files
are a function of `--seed`. Prints the three paths as the recipe's overrides.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

__all__ = ["TINY_TEXT", "TINY_TRANSFORMER", "TINY_VAE", "make_tiny_wan"]

TINY_VAE: dict[str, Any] = {
    "base_dim": 16,
    "z_dim": 4,
    "dim_mult": [1, 2, 2, 2],
    "num_res_blocks": 1,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
}
TINY_TEXT: dict[str, Any] = {"d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2}
TINY_TRANSFORMER: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "in_channels": TINY_VAE["z_dim"],
    "out_channels": TINY_VAE["z_dim"],
    "text_dim": TINY_TEXT["d_model"],
    "freq_dim": 32,
    "ffn_dim": 32,
    "num_layers": 2,
}

# The tokenizer's whole-word pieces: the words of captions like the synthetic world's.
_CORPUS = (
    "a person in a red shirt and blue trousers walks forward twice in front of a grey wall",
    "a man with a green top and black jeans jumps, then turns to the left on a wooden floor",
    "a woman in a white jacket waves with her right hand; the background is a yellow room",
    "someone runs backward three times, kicks, squats and sits down in a brown studio",
    "the figure raises both arms, bends over, stretches and dances slowly in place",
)
_ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()")


def make_tiny_wan(out: Path, seed: int = 0) -> dict[str, Path]:
    """Write the folder at `out` (replacing one there) and return the paths the recipes take:
    ``transformer`` (model.wan_path), ``vae`` (data.vae_path), ``text_encoder``
    (data.text_encoder_path; its tokenizer is the sibling ``tokenizer/``)."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    vocab = _write_tokenizer(tmp / "tokenizer")
    _write_text_encoder(tmp / "text_encoder", vocab, seed)
    _write_vae(tmp / "vae", seed)
    _write_transformer(tmp / "transformer", seed)
    _write_scheduler(tmp / "scheduler")
    _write_model_index(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {name: out / name for name in ("transformer", "vae", "text_encoder")}


def _write_tokenizer(folder: Path) -> int:
    """A T5-like tokenizer (Unigram pieces over Metaspace, `</s>` after every prompt, `<pad>` id 0):
    the corpus's words as whole pieces, any other word spelled with `▁` and single characters.
    Built, not trained: tokenizers' UnigramTrainer orders equal-score pieces differently from run
    to run, and the folder should be a function of the seed. Returns the vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w.strip(",;") for line in _CORPUS for w in line.split()})
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(f"▁{w}", -5.0 - 0.01 * i) for i, w in enumerate(words)]
    vocab += [("▁", -8.0)] + [(c, -10.0 - 0.01 * i) for i, c in enumerate(_ALPHABET)]
    raw = Tokenizer(models.Unigram(vocab, unk_id=2))
    raw.normalizer = normalizers.NFKC()
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    raw.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(str(folder))
    return len(vocab)


def _write_text_encoder(folder: Path, vocab: int, seed: int) -> None:
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    config = UMT5Config(vocab_size=vocab, pad_token_id=0, eos_token_id=1, **TINY_TEXT)
    model = UMT5EncoderModel(config).eval()
    model.to(torch.bfloat16).save_pretrained(str(folder))


@torch.no_grad()
def _write_vae(folder: Path, seed: int) -> None:
    from diffusers.models.autoencoders.autoencoder_kl_wan import AutoencoderKLWan

    torch.manual_seed(seed + 1)
    z = TINY_VAE["z_dim"]
    vae = AutoencoderKLWan(**TINY_VAE, latents_mean=[0.0] * z, latents_std=[1.0] * z).eval()
    # Smooth random clips (4×4 colour fields upsampled) stand in for video: per-channel
    # statistics of their posterior modes, so the normalized latents are about unit scale.
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(4, 3, 9, 4, 4, generator=gen) * 2 - 1  # (B, 3, T, 4, 4)
    pixels = torch.nn.functional.interpolate(coarse, size=(9, 32, 32), mode="trilinear")
    latents = vae.encode(pixels).latent_dist.mode()  # (B, z, 3, 4, 4)
    mean = latents.mean(dim=(0, 2, 3, 4))
    std = latents.std(dim=(0, 2, 3, 4)).clamp_min(1e-3)
    vae.register_to_config(
        latents_mean=[round(float(m), 4) for m in mean],
        latents_std=[round(float(s), 4) for s in std],
    )
    vae.save_pretrained(str(folder))


def _write_transformer(folder: Path, seed: int) -> None:
    from diffusers.models.transformers.transformer_wan import WanTransformer3DModel

    torch.manual_seed(seed + 2)
    model = WanTransformer3DModel(**TINY_TRANSFORMER).eval()
    # bf16 on disk, except the modules diffusers keeps in fp32 when it loads a bf16 Wan.
    keep = set(WanTransformer3DModel._keep_in_fp32_modules or ())
    for name, param in model.named_parameters():
        if keep.isdisjoint(name.split(".")):
            param.data = param.data.to(torch.bfloat16)
    model.save_pretrained(str(folder))


def _write_scheduler(folder: Path) -> None:
    from diffusers import UniPCMultistepScheduler

    UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    ).save_pretrained(str(folder))  # type: ignore[attr-defined]


def _write_model_index(root: Path) -> None:
    import diffusers

    index = {
        "_class_name": "WanPipeline",
        "_diffusers_version": diffusers.__version__,
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "UMT5EncoderModel"],
        "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLWan"],
    }
    (root / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    paths = make_tiny_wan(args.out, seed=args.seed)
    keys = {
        "transformer": "model.wan_path",
        "vae": "data.vae_path",
        "text_encoder": "data.text_encoder_path",
    }
    for name, path in paths.items():
        print(f"{keys[name]}={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
