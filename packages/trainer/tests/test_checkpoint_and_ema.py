# ruff: noqa: NPY002  (the global numpy RNG is what checkpoints capture)
import random
import warnings
from pathlib import Path

import numpy as np
import torch

from echomotion_trainer.checkpoint import CheckpointManager, capture_rng, restore_rng
from echomotion_trainer.ema import EMA


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.SiLU(), torch.nn.Linear(8, 2))


def test_ema_tracks_parameters() -> None:
    m = _model()
    ema = EMA(m, decay=0.5)
    before = {k: v.clone() for k, v in ema.shadow.items()}
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    ema.update(m)
    for k, v in ema.shadow.items():
        torch.testing.assert_close(v, before[k] + 0.5)
    target = _model()
    ema.copy_to(target)
    for k, p in target.named_parameters():
        torch.testing.assert_close(p, ema.shadow[k])


def test_ema_follows_parameters_unfrozen_after_it_was_made() -> None:
    """Phase 1 freezes the video branch when the EMA is made; phase 2 trains it: the exported
    (EMA) weights of that branch must then be its average, not its initial values."""
    m = _model()
    first, second = m[0], m[2]
    for p in second.parameters():
        p.requires_grad_(False)  # "phase 1"
    ema = EMA(m, decay=0.5)
    start = {k: v.clone() for k, v in ema.shadow.items()}
    with torch.no_grad():
        for p in first.parameters():
            p.add_(1.0)
    ema.update(m)
    for p in second.parameters():
        p.requires_grad_(True)  # "phase 2"
    with torch.no_grad():
        for p in m.parameters():
            p.add_(2.0)
    ema.update(m)
    for k in ("0.weight", "0.bias"):  # +1 then +3: 0.5 → 0.5·0.5 + 0.5·3
        torch.testing.assert_close(ema.shadow[k], start[k] + 1.75)
    for k in ("2.weight", "2.bias"):  # frozen first (no move), then +2
        torch.testing.assert_close(ema.shadow[k], start[k] + 1.0)
    target = _model()
    ema.copy_to(target)
    torch.testing.assert_close(target[2].weight, start["2.weight"] + 1.0)


def test_checkpoint_round_trip_restores_everything(tmp_path: Path) -> None:
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    m = _model()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    ema = EMA(m, 0.9)
    gen = torch.Generator().manual_seed(3)
    random.seed(1)
    np.random.seed(2)
    rng_t, rng_p = capture_rng({"noise": gen})
    mgr = CheckpointManager(tmp_path / "ckpt", keep_last=2)
    for step in (1, 2, 3):
        mgr.save(
            step,
            m,
            opt,
            {"ema": ema.state_dict(), "rng": rng_t},
            {"phase": 2, "rng": rng_p, "data": [0, step]},
        )
    assert [p.name for p in mgr.checkpoints()] == ["step_00000002", "step_00000003"]
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "ckpt").iterdir())
    expected_next = (torch.randn(2, generator=gen), random.random(), np.random.rand())

    m2 = _model()
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-2)
    ema2 = EMA(m2, 0.9)
    gen2 = torch.Generator().manual_seed(99)
    extra = {"ema": ema2.state_dict(), "rng": {k: torch.zeros_like(v) for k, v in rng_t.items()}}
    meta = mgr.load(mgr.latest(), m2, opt2, extra)  # type: ignore[arg-type]
    assert meta["step"] == 3 and meta["data"] == [0, 3]
    for a, b in zip(m.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[i]["exp_avg_sq"], s2[i]["exp_avg_sq"]) for i in s1)
    ema2.load_state_dict(extra["ema"])
    assert all(torch.equal(ema.shadow[k], ema2.shadow[k]) for k in ema.shadow)
    random.seed(7)
    restore_rng(extra["rng"], meta["rng"], {"noise": gen2})
    got = (torch.randn(2, generator=gen2), random.random(), np.random.rand())
    assert torch.equal(got[0], expected_next[0]) and got[1:] == expected_next[1:]
