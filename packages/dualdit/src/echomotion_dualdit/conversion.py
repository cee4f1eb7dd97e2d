"""Wan diffusers transformer → dual DiT (paper A.9: motion blocks start as copies of video blocks).

The converted model holds every Wan tensor bit-identical under the same name; each motion block
is a copy of the video block it sits beside, the motion output table a copy of Wan's output
table, and the new input/output MLPs and the task embedding are freshly initialized (the task
MLP's last layer at zero, so the video function is unchanged until training).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers.models.transformers.transformer_wan import WanTransformer3DModel
from torch import nn

from echomotion_dualdit.checkpoint import check_shapes, checkpoint_shapes, load_state
from echomotion_dualdit.embeddings import TaskEmbedding
from echomotion_dualdit.model import DualDiT
from echomotion_motion_codec import MotionDetokenizer

# Wan config fields that change the architecture in ways the dual DiT does not carry.
_UNSUPPORTED = {
    "image_dim": "image conditioning (I2V) is not part of the dual DiT",
    "added_kv_proj_dim": "image cross-attention (I2V) is not part of the dual DiT",
    "pos_embed_seq_len": "image position embedding (FLF2V) is not part of the dual DiT",
}
_OPTIONS = ("num_tasks", "rope_time_stride", "rope_mode", "rope_theta", "motion_mlp_dim")


def wan_folder(path: str | Path) -> Path:
    """The folder holding a Wan transformer's ``config.json``: ``path`` itself, or the
    ``transformer/`` subfolder of a diffusers pipeline folder. Local only: never the hub."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(
            f"path must be a local directory with a Wan diffusers transformer, got {str(path)!r}"
        )
    if (root / "transformer" / "config.json").is_file():
        return root / "transformer"
    if not (root / "config.json").is_file():
        raise ValueError(
            f"{root} holds no config.json (nor transformer/config.json): not a diffusers Wan transformer"
        )
    return root


def read_wan(
    path: str | Path, *, torch_dtype: torch.dtype | None = None
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Config and state dict of a local Wan diffusers transformer, every tensor checked by name and
    shape against ``WanTransformer3DModel`` of that config (no model is instantiated)."""
    folder = wan_folder(path)
    config = dict(WanTransformer3DModel.load_config(str(folder)))
    with torch.device("meta"):
        skeleton = WanTransformer3DModel.from_config(config)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    check_shapes(
        expected,
        checkpoint_shapes(folder),
        f"Wan checkpoint {folder}",
        ignore_unexpected=WanTransformer3DModel._keys_to_ignore_on_load_unexpected,
    )
    state = load_state(
        folder, torch_dtype=torch_dtype, keep_fp32=WanTransformer3DModel._keep_in_fp32_modules
    )
    return config, {k: v for k, v in state.items() if k in expected}


def dual_config_from_wan(
    wan_config: Any, dual_blocks: list[int] | tuple[int, ...] | None, **options: Any
) -> dict[str, Any]:
    """``DualDiT`` constructor arguments for a Wan config (plus the dual-only options)."""
    for key, why in _UNSUPPORTED.items():
        if wan_config.get(key) is not None:
            raise ValueError(
                f"Wan config has {key}={wan_config[key]!r}: {why}; convert a text-to-video Wan"
            )
    if wan_config.get("qk_norm") != "rms_norm_across_heads":
        raise ValueError(
            f"Wan config qk_norm must be 'rms_norm_across_heads', got {wan_config.get('qk_norm')!r}"
        )
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"unknown from_wan options {unknown}; expected some of {list(_OPTIONS)}")
    return {
        "patch_size": list(wan_config["patch_size"]),
        "num_attention_heads": wan_config["num_attention_heads"],
        "attention_head_dim": wan_config["attention_head_dim"],
        "in_channels": wan_config["in_channels"],
        "out_channels": wan_config["out_channels"] or wan_config["in_channels"],
        "text_dim": wan_config["text_dim"],
        "freq_dim": wan_config["freq_dim"],
        "ffn_dim": wan_config["ffn_dim"],
        "num_layers": wan_config["num_layers"],
        "cross_attn_norm": wan_config["cross_attn_norm"],
        "eps": wan_config["eps"],
        "dual_blocks": None if dual_blocks is None else list(dual_blocks),
        **options,
    }


def dual_from_wan(
    wan: WanTransformer3DModel | str | Path,
    *,
    dual_blocks: list[int] | tuple[int, ...] | None = None,
    torch_dtype: torch.dtype | None = None,
    **options: Any,
) -> DualDiT:
    """Convert a Wan transformer (an instance, or a local diffusers directory) into a dual DiT.

    Args:
        wan: a ``WanTransformer3DModel`` (its tensors are copied; it is left untouched) or a
            local directory (the transformer folder or a pipeline folder with ``transformer/``).
        dual_blocks: which block indices get a motion branch; None = all.
        torch_dtype: dtype when reading a directory (default: as saved); Wan's
            ``_keep_in_fp32_modules`` stay fp32 in fp16/bf16, as diffusers loads them.
        options: ``num_tasks``, ``rope_time_stride``, ``rope_mode``, ``rope_theta``,
            ``motion_mlp_dim``.

    Returns:
        The dual model on the Wan tensors' device, in train mode.
    """
    if isinstance(wan, str | Path):
        config: Any
        config, wan_state = read_wan(wan, torch_dtype=torch_dtype)
    elif isinstance(wan, WanTransformer3DModel):
        config = wan.config
        wan_state = {k: v.detach().clone() for k, v in wan.state_dict().items()}
    else:
        raise ValueError(
            f"wan must be a WanTransformer3DModel or a local directory path, got {type(wan).__name__}"
        )
    kwargs = dual_config_from_wan(config, dual_blocks, **options)
    dual = DualDiT.meta_skeleton(**kwargs)
    reference = wan_state["proj_out.weight"]
    dtype, device = reference.dtype, reference.device

    state = dict(wan_state)
    for index in dual.dual_block_indices:  # each motion block starts as the video block beside it
        prefix = f"blocks.{index}."
        for name, tensor in wan_state.items():
            if name.startswith(prefix):
                state[f"{prefix}motion.{name[len(prefix) :]}"] = tensor.clone()
    state["motion_scale_shift_table"] = wan_state["scale_shift_table"].clone()

    dim = dual.hidden_dim
    fresh: dict[str, nn.Module] = {
        "motion_tokenizer": dual.motion_tokenizer,  # already real (see DualDiT.meta_skeleton)
        "motion_detokenizer": MotionDetokenizer(dim, dual.dual_config.motion_mlp_dim),
        "task_embedder": TaskEmbedding(dual.dual_config.num_tasks, dim),
    }
    for prefix, module in fresh.items():
        module.to(device=device, dtype=dtype)
        for name, tensor in module.state_dict().items():
            state[f"{prefix}.{name}"] = tensor
    dual.load_state_dict(state, strict=True, assign=True)
    dual.motion_tokenizer.to(device)  # its index buffers
    return dual.train()
