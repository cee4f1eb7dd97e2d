"""Checkpoint plumbing: read diffusers safetensors folders, check every name and shape, cast.

diffusers' ``from_pretrained`` re-initializes a missing tensor with a warning (and, for models
with ``_keep_in_fp32_modules`` such as Wan's, refuses to load at all without ``accelerate``). A
dual DiT with a silently random motion block is worse than no model, so loading here is strict:
the checkpoint must hold exactly the tensors that a meta-device instance of its config holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
WEIGHTS_INDEX_NAME = "diffusion_pytorch_model.safetensors.index.json"


_LEGACY_MOTION_BLOCK = re.compile(r"^motion_blocks\.(\d+)\.")


def upgrade_legacy_key(name: str) -> str:
    """A tensor name of the layout before each motion block moved into its layer
    (``motion_blocks.{i}.X``) in today's layout (``blocks.{i}.motion.X``); other names unchanged."""
    return _LEGACY_MOTION_BLOCK.sub(r"blocks.\1.motion.", name)


def upgrade_legacy_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """:func:`upgrade_legacy_key` over a state dict."""
    return {upgrade_legacy_key(k): v for k, v in state.items()}


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not match its model config (names or shapes), or are missing."""


def weight_files(directory: Path) -> list[Path]:
    """The safetensors file(s) of a diffusers model folder (single file or sharded index)."""
    index = directory / WEIGHTS_INDEX_NAME
    if index.is_file():
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        return sorted({directory / f for f in weight_map.values()})
    if (directory / WEIGHTS_NAME).is_file():
        return [directory / WEIGHTS_NAME]
    raise CheckpointMismatchError(
        f"{directory} holds neither {WEIGHTS_NAME} nor {WEIGHTS_INDEX_NAME} (save with safe_serialization=True)"
    )


def checkpoint_shapes(directory: Path) -> dict[str, tuple[int, ...]]:
    """Name → shape of every tensor in a diffusers safetensors folder, without loading them."""
    shapes: dict[str, tuple[int, ...]] = {}
    for file in weight_files(directory):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                shapes[upgrade_legacy_key(key)] = tuple(handle.get_slice(key).get_shape())
    return shapes


def check_shapes(
    expected: Mapping[str, tuple[int, ...]],
    found: Mapping[str, tuple[int, ...]],
    where: str,
    *,
    ignore_unexpected: Iterable[str] = (),
) -> None:
    """Raise :class:`CheckpointMismatchError` naming every missing, unexpected or misshapen tensor."""
    ignored = tuple(ignore_unexpected)
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(k for k in set(found) - set(expected) if not any(p in k for p in ignored))
    mismatched = sorted(
        f"{k}: checkpoint {found[k]} vs model {expected[k]}"
        for k in set(expected) & set(found)
        if found[k] != expected[k]
    )
    if missing or unexpected or mismatched:
        lines = [f"{where} does not match its config:"]
        for title, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if items:
                shown = ", ".join(items[:8]) + (
                    f", … ({len(items)} in all)" if len(items) > 8 else ""
                )
                lines.append(f"  {title}: {shown}")
        raise CheckpointMismatchError("\n".join(lines))


def load_state(
    directory: Path,
    *,
    torch_dtype: torch.dtype | None = None,
    keep_fp32: Iterable[str] = (),
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors folder; floating tensors cast to ``torch_dtype`` except names
    containing one of ``keep_fp32`` (diffusers' ``_keep_in_fp32_modules`` rule), which go fp32."""
    keep = tuple(keep_fp32)
    state: dict[str, torch.Tensor] = {}
    for file in weight_files(directory):
        state.update(upgrade_legacy_keys(load_file(str(file), device=str(device))))
    if torch_dtype is None:
        return state
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            out[name] = tensor
        elif any(p in name for p in keep) and torch_dtype in (torch.float16, torch.bfloat16):
            out[name] = tensor.to(torch.float32)
        else:
            out[name] = tensor.to(torch_dtype)
    return out
