"""The four tasks run, shapes are right, gradients flow, and the modalities meet only in dual blocks."""

from __future__ import annotations

import pytest
import torch
from tiny_models import make_dual

from echomotion_dualdit import DualDiT, Task


def _task(task: Task) -> torch.Tensor:
    return torch.full((2,), int(task), dtype=torch.long)


def _run(
    model: DualDiT,
    inputs: dict[str, torch.Tensor],
    task: Task,
    video: bool = True,
    motion: bool = True,
):
    return model(
        inputs["video"] if video else None,
        inputs["motion"] if motion else None,
        inputs["video_timestep"] if video else None,
        inputs["motion_timestep"] if motion else None,
        inputs["text"],
        _task(task),
    )


def test_joint_m2v_v2m_motion_only_shapes(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual(dual_blocks=[1])
    zero = torch.zeros(2)
    with torch.no_grad():
        joint = _run(model, inputs, Task.JOINT)
        m2v = model(
            inputs["video"],
            inputs["motion"],
            inputs["video_timestep"],
            zero,
            inputs["text"],
            _task(Task.M2V),
        )
        v2m = model(
            inputs["video"],
            inputs["motion"],
            zero,
            inputs["motion_timestep"],
            inputs["text"],
            _task(Task.V2M),
        )
        motion_only = _run(model, inputs, Task.MOTION_ONLY, video=False)
    for out in (joint, m2v, v2m):
        assert out.video is not None and out.video.shape == inputs["video"].shape
        assert out.motion is not None and out.motion.shape == inputs["motion"].shape
        assert torch.isfinite(out.video).all() and torch.isfinite(out.motion).all()
    assert motion_only.video is None
    assert motion_only.motion is not None and motion_only.motion.shape == (2, 9, 235)
    assert torch.isfinite(motion_only.motion).all()


def test_gradients_reach_both_branches(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual().train()
    out = _run(model, inputs, Task.JOINT)
    assert out.video is not None and out.motion is not None
    (out.video.square().mean() + out.motion.square().mean()).backward()
    for name in (
        "patch_embedding.weight",
        "blocks.0.attn1.to_q.weight",
        "blocks.1.ffn.net.2.weight",
        "proj_out.weight",
        "motion_tokenizer.encoders.rotation.0.weight",
        "blocks.0.motion.attn1.to_q.weight",
        "blocks.1.motion.attn2.to_k.weight",
        "motion_detokenizer.decoders.shape.2.weight",
        "motion_scale_shift_table",
        "task_embedder.mlp.2.weight",
        "condition_embedder.time_embedder.linear_1.weight",
    ):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def _video_out(
    model: DualDiT, inputs: dict[str, torch.Tensor], motion: torch.Tensor
) -> torch.Tensor:
    with torch.no_grad():
        out = model(
            inputs["video"],
            motion,
            inputs["video_timestep"],
            inputs["motion_timestep"],
            inputs["text"],
            _task(Task.JOINT),
        )
    assert out.video is not None
    return out.video


@pytest.mark.parametrize("dual_blocks", [[0], [1], None])
def test_motion_reaches_video_through_dual_blocks(
    dual_blocks: list[int] | None, inputs: dict[str, torch.Tensor]
) -> None:
    model = make_dual(dual_blocks=dual_blocks)
    changed = inputs["motion"].clone()
    changed[:, 4, 100] += 1.0  # one number of one frame
    assert (
        _video_out(model, inputs, inputs["motion"]) - _video_out(model, inputs, changed)
    ).abs().max() > 1e-6


def test_motion_cannot_reach_video_without_dual_blocks(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual(dual_blocks=[])
    changed = inputs["motion"] + torch.randn_like(inputs["motion"])
    torch.testing.assert_close(
        _video_out(model, inputs, inputs["motion"]),
        _video_out(model, inputs, changed),
        rtol=0,
        atol=0,
    )


def test_video_reaches_motion_in_joint_forward(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual(dual_blocks=[1])
    with torch.no_grad():
        a = _run(model, inputs, Task.JOINT).motion
        b = model(
            inputs["video"] * 2,
            inputs["motion"],
            inputs["video_timestep"],
            inputs["motion_timestep"],
            inputs["text"],
            _task(Task.JOINT),
        ).motion
    assert a is not None and b is not None and (a - b).abs().max() > 1e-6


def test_motion_skips_video_only_blocks(inputs: dict[str, torch.Tensor]) -> None:
    """Motion-only output must not depend on the weights of a video-only block."""
    model = make_dual(dual_blocks=[0])
    with torch.no_grad():
        before = _run(model, inputs, Task.MOTION_ONLY, video=False).motion
        for p in model.blocks[1].parameters():
            p.add_(1.0)
        after = _run(model, inputs, Task.MOTION_ONLY, video=False).motion
    torch.testing.assert_close(before, after, rtol=0, atol=0)


def test_task_embedding_changes_both_streams(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual()
    with torch.no_grad():
        a, b = _run(model, inputs, Task.JOINT), _run(model, inputs, Task.M2V)
    assert (
        a.video is not None
        and b.video is not None
        and a.motion is not None
        and b.motion is not None
    )
    assert (a.video - b.video).abs().max() > 1e-6 and (a.motion - b.motion).abs().max() > 1e-6


def test_gradient_checkpointing_same_gradients(inputs: dict[str, torch.Tensor]) -> None:
    grads = []
    for checkpointing in (False, True):
        model = make_dual(dual_blocks=[1]).train()
        if checkpointing:
            model.enable_gradient_checkpointing()
        out = _run(model, inputs, Task.JOINT)
        assert out.video is not None and out.motion is not None
        (out.video.square().mean() + out.motion.abs().mean()).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 50
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_bf16_forward(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual().to(torch.bfloat16)
    with torch.no_grad():
        out = model(
            inputs["video"].bfloat16(),
            inputs["motion"].bfloat16(),
            inputs["video_timestep"],
            inputs["motion_timestep"],
            inputs["text"].bfloat16(),
            _task(Task.JOINT),
        )
    assert out.video is not None and out.motion is not None
    assert out.video.dtype == torch.bfloat16 and out.motion.dtype == torch.bfloat16
    assert torch.isfinite(out.video.float()).all() and torch.isfinite(out.motion.float()).all()


def test_bad_inputs_name_the_argument(inputs: dict[str, torch.Tensor]) -> None:
    model = make_dual()
    with pytest.raises(ValueError, match="needs video or motion"):
        model(None, None, None, None, inputs["text"], _task(Task.JOINT))
    with pytest.raises(ValueError, match="motion must be"):
        model(
            None,
            inputs["motion"][..., :100],
            None,
            inputs["motion_timestep"],
            inputs["text"],
            _task(Task.JOINT),
        )
    with pytest.raises(ValueError, match="motion_timestep"):
        model(None, inputs["motion"], None, None, inputs["text"], _task(Task.JOINT))
    with pytest.raises(ValueError, match="task ids"):
        model(
            None,
            inputs["motion"],
            None,
            inputs["motion_timestep"],
            inputs["text"],
            torch.tensor([0, 7]),
        )
    with pytest.raises(ValueError, match="video must be"):
        model(
            inputs["video"][:, :3],
            None,
            inputs["video_timestep"],
            None,
            inputs["text"],
            _task(Task.JOINT),
        )
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        model(
            inputs["video"],
            None,
            inputs["video_timestep"],
            None,
            inputs["text"][..., :8],
            _task(Task.JOINT),
        )
    with pytest.raises(ValueError, match="dual_blocks"):
        DualDiT.from_preset("tiny", dual_blocks=(0, 9))


def test_collision_mode_changes_joint_but_not_video_only(inputs: dict[str, torch.Tensor]) -> None:
    mvs = make_dual(random_task=False)
    collision = make_dual(random_task=False, rope_mode="collision")
    with torch.no_grad():
        a, b = _run(mvs, inputs, Task.JOINT), _run(collision, inputs, Task.JOINT)
        va, vb = (
            _run(mvs, inputs, Task.JOINT, motion=False),
            _run(collision, inputs, Task.JOINT, motion=False),
        )
    assert a.video is not None and b.video is not None
    assert (a.video - b.video).abs().max() > 1e-6
    assert va.video is not None and vb.video is not None
    torch.testing.assert_close(va.video, vb.video, rtol=0, atol=0)


def test_wan22_5b_preset_is_hybrid() -> None:
    from echomotion_dualdit import preset

    model = DualDiT.meta_skeleton(**preset("wan2.2-5b").to_kwargs())
    assert model.dual_block_indices == tuple(range(0, 30, 2))
    assert sorted(model.motion_blocks) == list(range(0, 30, 2))
    assert [layer.is_dual for layer in model.layers()] == [i % 2 == 0 for i in range(30)]
    assert model.hidden_dim == 3072 and model.dual_config.in_channels == 48


def test_single_stream_shares_the_video_blocks(inputs: dict[str, torch.Tensor]) -> None:
    """The A.8.3 baseline: no motion-block weights, and its forward equals a dual model whose
    motion blocks hold copies of the video blocks' weights."""
    dual = make_dual()
    single = DualDiT.from_config_dataclass(dual.dual_config.with_(single_stream=True)).eval()
    assert len(single.motion_blocks) == 0
    shared = {k: v for k, v in dual.state_dict().items() if ".motion." not in k}
    single.load_state_dict(shared, strict=True)
    assert sum(p.numel() for p in single.parameters()) < sum(p.numel() for p in dual.parameters())
    with torch.no_grad():
        for i, block in enumerate(dual.blocks):
            dual.motion_blocks[i].load_state_dict(
                {k: v for k, v in block.state_dict().items() if not k.startswith("motion.")}
            )
    for task, video, motion in [(Task.JOINT, True, True), (Task.V2M, False, True)]:
        want = _run(dual, inputs, task, video=video, motion=motion)
        got = _run(single, inputs, task, video=video, motion=motion)
        torch.testing.assert_close(got.motion, want.motion)
        if video:
            torch.testing.assert_close(got.video, want.video)


def test_checkpoints_of_removed_video_heads_are_refused(tmp_path) -> None:
    """A folder saved with the removed clean-sample or preconditioned video head is refused by
    name rather than loaded as a velocity model."""
    import json

    make_dual().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "video_prediction": "sample"}))
    with pytest.raises(ValueError, match="video_prediction='sample'"):
        DualDiT.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "video_prediction": "velocity"}))
    DualDiT.from_pretrained(tmp_path)  # what the shipped checkpoint's config says
