"""Wan → dual conversion keeps every Wan tensor bit-identical; save/load is exact and strict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import load_file, save_file
from tiny_models import TINY_WAN, make_dual, make_wan

from echomotion_dualdit import CheckpointMismatchError, DualDiT

WEIGHTS = "diffusion_pytorch_model.safetensors"


def _assert_wan_inside(
    dual: DualDiT, wan_state: dict[str, torch.Tensor], dual_blocks: tuple[int, ...]
) -> None:
    state = dual.state_dict()
    for name, tensor in wan_state.items():
        assert state[name].dtype == tensor.dtype, name
        assert torch.equal(state[name], tensor), name
    for index in dual_blocks:
        prefix = f"blocks.{index}."
        for name, tensor in wan_state.items():
            if name.startswith(prefix):
                assert torch.equal(state[f"{prefix}motion.{name[len(prefix) :]}"], tensor), name
    assert torch.equal(state["motion_scale_shift_table"], wan_state["scale_shift_table"])
    assert not any(t.is_meta for t in state.values())


def test_from_instance_is_bit_identical_and_leaves_wan_alone() -> None:
    wan = make_wan()
    before = {k: v.clone() for k, v in wan.state_dict().items()}
    dual = DualDiT.from_wan(wan, dual_blocks=[1])
    _assert_wan_inside(dual, before, (1,))
    assert list(dual.motion_blocks) == [1]
    with torch.no_grad():
        next(dual.parameters()).add_(1.0)  # the dual owns its tensors
    assert all(torch.equal(v, before[k]) for k, v in wan.state_dict().items())


def test_from_directory_and_pipeline_folder(tmp_path: Path) -> None:
    wan = make_wan()
    wan.save_pretrained(tmp_path / "pipe" / "transformer")
    for path in (tmp_path / "pipe" / "transformer", tmp_path / "pipe", str(tmp_path / "pipe")):
        dual = DualDiT.from_wan(path)
        _assert_wan_inside(dual, wan.state_dict(), (0, 1))
    assert dual.dual_config.dual_blocks is None and dual.dual_block_indices == (0, 1)


def test_from_directory_in_bf16_keeps_fp32_modules(tmp_path: Path) -> None:
    make_wan().save_pretrained(tmp_path)
    dual = DualDiT.from_wan(tmp_path, torch_dtype=torch.bfloat16)
    assert dual.blocks[0].attn1.to_q.weight.dtype == torch.bfloat16
    assert dual.blocks[0].scale_shift_table.dtype == torch.float32
    assert dual.condition_embedder.time_embedder.linear_1.weight.dtype == torch.float32


def test_unsupported_or_broken_wan_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="local directory"):
        DualDiT.from_wan(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"no config\.json"):
        DualDiT.from_wan(tmp_path)
    i2v = WanTransformer3DModel(**{**TINY_WAN, "image_dim": 8, "added_kv_proj_dim": 24})
    with pytest.raises(ValueError, match="image_dim"):
        DualDiT.from_wan(i2v)
    make_wan().save_pretrained(tmp_path / "wan")
    state = load_file(str(tmp_path / "wan" / WEIGHTS))
    del state["blocks.1.attn1.to_q.weight"]
    save_file(state, str(tmp_path / "wan" / WEIGHTS))
    with pytest.raises(CheckpointMismatchError, match=r"missing: blocks\.1\.attn1\.to_q\.weight"):
        DualDiT.from_wan(tmp_path / "wan")


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    dual = make_dual(dual_blocks=[0], rope_time_stride=4.0, rope_mode="collision")
    dual.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["dual_blocks"] == [0] and config["rope_mode"] == "collision"
    back = DualDiT.from_pretrained(tmp_path)
    assert back.dual_config == dual.dual_config
    a, b = dual.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a
    )
    assert not back.training


def test_bad_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    make_dual(dual_blocks=[1]).save_pretrained(tmp_path)
    state = load_file(str(tmp_path / WEIGHTS))
    broken = dict(state)
    del broken["blocks.1.motion.ffn.net.2.bias"]
    broken["proj_out.weight"] = torch.zeros(3, 3)
    broken["blocks.0.motion.attn1.to_q.weight"] = torch.zeros(24, 24)
    save_file(broken, str(tmp_path / WEIGHTS))
    with pytest.raises(CheckpointMismatchError) as info:
        DualDiT.from_pretrained(tmp_path)
    message = str(info.value)
    assert "missing: blocks.1.motion.ffn.net.2.bias" in message
    assert "unexpected: blocks.0.motion.attn1.to_q.weight" in message
    assert "proj_out.weight: checkpoint (3, 3) vs model (16, 24)" in message
    (tmp_path / WEIGHTS).unlink()
    with pytest.raises(CheckpointMismatchError, match="safetensors"):
        DualDiT.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"config\.json"):
        DualDiT.from_pretrained(tmp_path / "nothing")


def test_checkpoints_of_the_earlier_layout_load(tmp_path: Path) -> None:
    """Checkpoints written when the motion blocks sat in ``motion_blocks.{i}`` (before each moved
    into its layer as ``blocks.{i}.motion``) load unchanged, tensor for tensor."""
    dual = make_dual(dual_blocks=[0, 1])
    dual.save_pretrained(tmp_path)
    state = load_file(str(tmp_path / WEIGHTS))
    legacy = {
        re.sub(r"^blocks\.(\d+)\.motion\.", r"motion_blocks.\1.", k): v for k, v in state.items()
    }
    assert any(k.startswith("motion_blocks.1.") for k in legacy)
    save_file(legacy, str(tmp_path / WEIGHTS))
    back = DualDiT.from_pretrained(tmp_path)
    for k, v in dual.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
