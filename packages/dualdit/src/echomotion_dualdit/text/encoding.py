"""Wan's way of turning a tokenizer + encoder into fixed-length token states.

Dimension legend: ``B`` prompts, ``L`` padded length, ``Dt`` encoder width.

Wan tokenizes to ``max_length`` with padding, encodes with the attention mask, then keeps only
the real tokens and pads back to ``max_length`` with **zeros** (diffusers' ``WanPipeline``
``_get_t5_prompt_embeds``). The zeros are what the transformer was trained to attend to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def check_prompts(prompts: Sequence[str]) -> list[str]:
    """Raise ValueError unless ``prompts`` is a non-empty sequence of strings."""
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError(f"prompts must be a non-empty list of strings, got {prompts!r}")
    return list(prompts)


@torch.no_grad()
def encode_zero_padded(
    model: Any, tokenizer: Any, prompts: Sequence[str], max_length: int
) -> Tensor:
    """``(B, max_length, Dt)`` last hidden states, zero beyond each prompt's real tokens."""
    texts = check_prompts(prompts)
    param = next(model.parameters())
    batch = tokenizer(
        texts,
        padding="max_length",
        max_length=max_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    ids = batch["input_ids"].to(param.device)  # (B, L)
    mask = batch["attention_mask"].to(param.device)  # (B, L)
    states = model(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, Dt)
    return states * mask[..., None].to(states.dtype)  # (B, L, Dt), zero on padding
