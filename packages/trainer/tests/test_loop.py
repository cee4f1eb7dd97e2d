import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from echomotion_trainer.config import TrainConfig, apply_overrides
from echomotion_trainer.distributed import DistInfo
from echomotion_trainer.loop import TrainBatch, Trainer
from echomotion_trainer.sources import IndexedBatchSource

warnings.filterwarnings("ignore")
CPU = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


@dataclass
class Out:
    video: Tensor | None
    motion: Tensor | None


class RecordingModel(nn.Module):
    """A linear 'model' with a video part and a motion part that records what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.video_proj = nn.Linear(4, 4)
        self.motion_proj = nn.Linear(6, 6)
        self.calls: list[dict] = []

    def forward(
        self, *, video, motion, video_timestep, motion_timestep, encoder_hidden_states, task
    ) -> Out:  # type: ignore[no-untyped-def]
        self.calls.append(
            {
                "video": None if video is None else video.detach().clone(),
                "motion": None if motion is None else motion.detach().clone(),
                "video_t": None if video_timestep is None else video_timestep.clone(),
                "motion_t": None if motion_timestep is None else motion_timestep.clone(),
                "text": encoder_hidden_states.clone(),
                "task": task.clone(),
            }
        )
        v = None if video is None else self.video_proj(video.movedim(1, -1)).movedim(-1, 1)
        m = None if motion is None else self.motion_proj(motion)
        return Out(v, m)


def dataset(n: int = 16) -> list[dict[str, Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "video": torch.randn(4, 2, 3, 3, generator=g),
            "motion": torch.randn(5, 6, generator=g),
            "text": torch.full((3, 2), float(i + 1)),
        }
        for i in range(n)
    ]


def collate(items: list[dict[str, Tensor]]) -> TrainBatch:
    return TrainBatch(
        video=torch.stack([i["video"] for i in items]),
        motion=torch.stack([i["motion"] for i in items]),
        text=torch.stack([i["text"] for i in items]),
    )


def make_trainer(config: TrainConfig, out: Path, model: nn.Module | None = None) -> Trainer:
    data = dataset()
    torch.manual_seed(0)  # the same initial weights in every trainer of a test
    sources = {p: IndexedBatchSource(data, collate, batch_size=4, seed=7 + p) for p in (1, 2)}
    return Trainer(
        config, model or RecordingModel(), sources, torch.zeros(1, 3, 2), CPU, out_dir=out
    )


def config(**kw: object) -> TrainConfig:
    base = ["optim.lr=0.01", "optim.warmup_steps=2", "checkpoint.every=0"]
    return apply_overrides(TrainConfig(), base + [f"{k}={v}" for k, v in kw.items()])


def test_phase1_trains_motion_only_and_freezes_video(tmp_path: Path) -> None:
    t = make_trainer(config(**{"phase1.steps": 4, "phase2.steps": 0}), tmp_path)
    model: RecordingModel = t.model  # type: ignore[assignment]
    video_before = model.video_proj.weight.clone()
    motion_before = model.motion_proj.weight.clone()
    records = t.train()
    assert [r.phase for r in records] == [1, 1, 1, 1]
    assert torch.equal(model.video_proj.weight, video_before)
    assert not torch.equal(model.motion_proj.weight, motion_before)
    for call in model.calls:
        assert call["video"] is None and call["video_t"] is None  # video branch absent
        assert (call["motion_t"] > 0).all()
        assert (call["task"] == 3).all()


def test_every_paradigm_reaches_the_model_as_planned(tmp_path: Path) -> None:
    kw = {
        "phase1.steps": 0,
        "phase2.steps": 120,
        "phase2.p_text_drop": 0.5,
        "phase2.p_cond_drop": 0.5,
    }
    t = make_trainer(config(**kw), tmp_path)
    model: RecordingModel = t.model  # type: ignore[assignment]
    records = t.train()
    seen = set()
    for rec, call in zip(records, model.calls, strict=True):
        task = int(call["task"][0])
        v, m = call["video"] is not None, call["motion"] is not None
        v_clean = v and bool((call["video_t"] == 0).all())
        m_clean = m and bool((call["motion_t"] == 0).all())
        dropped = (call["text"] == 0).all(dim=(1, 2))
        if rec.paradigm == "joint":
            assert task == 0 and v and m and not v_clean and not m_clean
            assert rec.loss_video is not None and rec.loss_motion is not None
        elif rec.paradigm == "m2v":
            assert task == 1 and v and not v_clean and (not m or m_clean)
            assert rec.loss_motion is None
            seen.add(("m2v", m))
        else:
            assert task == 2 and m and not m_clean and (not v or v_clean)
            assert dropped.all()  # v2m never sees text
            assert rec.loss_video is None
            seen.add(("v2m", v))
        if rec.paradigm != "v2m":
            seen.add((rec.paradigm, "text", bool(dropped.any()), bool((~dropped).any())))
        # clean modalities are exactly the data, noised ones are not
        if m_clean:
            assert any(torch.equal(call["motion"][0], d["motion"]) for d in dataset())
    assert {("m2v", True), ("m2v", False), ("v2m", True), ("v2m", False)} <= seen
    assert ("joint", "text", True, True) in seen


def test_kill_and_resume_is_exact(tmp_path: Path) -> None:
    cfg = config(**{"phase1.steps": 3, "phase2.steps": 5, "checkpoint.every": 4})
    full = make_trainer(cfg, tmp_path / "full")
    full_records = full.train()
    # run to step 5 (a checkpoint at 4), "kill", resume in a fresh process-like trainer
    part = make_trainer(cfg, tmp_path / "part")
    part.train(until=5)
    resumed = make_trainer(cfg, tmp_path / "part")
    assert resumed.resume()
    assert resumed.step == 4 and resumed.phase == 2
    resumed.train()
    for a, b in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    fresh = make_trainer(cfg, tmp_path / "fresh")
    assert not torch.equal(fresh.model.motion_proj.weight, full.model.motion_proj.weight)
    log = [json.loads(x) for x in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 9))
    assert [r["loss"] for r in log] == [r.loss for r in full_records]
    assert torch.equal(
        full.ema.shadow["motion_proj.weight"], resumed.ema.shadow["motion_proj.weight"]
    )  # type: ignore[union-attr]


def test_missing_modality_is_a_clear_error(tmp_path: Path) -> None:
    t = make_trainer(
        config(**{"phase1.steps": 0, "phase2.steps": 1, "phase2.m2v": 0, "phase2.v2m": 0}), tmp_path
    )
    batch = TrainBatch(video=None, motion=torch.zeros(2, 5, 6), text=torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match="needs video"):
        t.train_step(batch)


def test_each_phase_decays_its_own_learning_rate(tmp_path: Path) -> None:
    kw = {
        "phase1.steps": 5,
        "phase2.steps": 7,
        "optim.decay": "linear",
        "optim.final_lr_ratio": 0.2,
    }
    records = make_trainer(config(**kw), tmp_path).train()
    lrs = [r.lr for r in records]  # each record holds the rate the next step will use
    # per phase: warm-up over 2 steps (0.005 at step 0, 0.01 at step 1), then linear from 0.01
    # at step 2 to 0.002 at the phase's last step
    phase1 = [0.01, 0.01, 0.006, 0.002, 0.002]  # steps 1…4, then held past the end
    phase2 = [0.01, 0.01, 0.008, 0.006, 0.004, 0.002, 0.002]
    torch.testing.assert_close(torch.tensor(lrs), torch.tensor(phase1 + phase2))


class PersonBatches:
    """Fixed-seed batches of `dataset()` carrying a given person mask (B, 1, F, h, w)."""

    def __init__(self, person: Tensor | None) -> None:
        self.inner = IndexedBatchSource(dataset(), collate, batch_size=4, seed=9)
        self.person = person

    def next_batch(self) -> TrainBatch:
        b = self.inner.next_batch()
        return TrainBatch(b.video, b.motion, b.text, person=self.person)

    def state_dict(self) -> dict[str, int]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.inner.load_state_dict(state)


def _video_losses(tmp_path: Path, weight: float, person: Tensor | None) -> list[float | None]:
    kw = {"phase1.steps": 0, "phase2.steps": 3, "phase2.v2m": 0, "flow.person_loss_weight": weight}
    torch.manual_seed(0)
    t = Trainer(
        config(**kw),
        RecordingModel(),
        {1: PersonBatches(person), 2: PersonBatches(person)},
        torch.zeros(1, 3, 2),
        CPU,
        out_dir=tmp_path
        / f"w{weight}-{person is None}-{0 if person is None else int(person.sum())}",
    )
    return [r.loss_video for r in t.train()]


def test_person_loss_weight_weights_the_video_loss_by_the_batch_mask(tmp_path: Path) -> None:
    plain = _video_losses(tmp_path, 1.0, None)
    assert all(v is not None for v in plain)
    everywhere = torch.ones(4, 1, 2, 3, 3)  # the whole frame is the person: the plain mean
    for got, want in zip(_video_losses(tmp_path, 4.0, everywhere), plain, strict=True):
        assert got == pytest.approx(want, rel=1e-5)
    corner = torch.zeros(4, 1, 2, 3, 3)
    corner[..., 0, 0] = 1.0
    weighted = _video_losses(tmp_path, 4.0, corner)
    assert all(abs(a - b) > 1e-6 for a, b in zip(weighted, plain, strict=True))  # type: ignore[operator]
    with pytest.raises(ValueError, match="person mask"):
        _video_losses(tmp_path, 4.0, None)
