import torch

from echomotion_samplers import Task
from echomotion_trainer.config import PhaseConfig
from echomotion_trainer.flow import add_noise, sample_sigmas, shift_sigma, velocity_target
from echomotion_trainer.paradigms import Role, plan_step


def test_noise_and_target_define_the_flow() -> None:
    x, eps = torch.randn(3, 5), torch.randn(3, 5)
    s = torch.tensor([0.0, 0.5, 1.0])
    xs = add_noise(x, eps, s)
    torch.testing.assert_close(xs[0], x[0])
    torch.testing.assert_close(xs[2], eps[2])
    # the target is the derivative of x_σ in σ
    h = 1e-3
    d = (add_noise(x, eps, s + h) - add_noise(x, eps, s - h)) / (2 * h)
    torch.testing.assert_close(d, velocity_target(x, eps), atol=1e-3, rtol=1e-3)


def test_shifted_sigmas() -> None:
    g = torch.Generator().manual_seed(0)
    s = sample_sigmas(20000, shift=8.0, generator=g)
    assert s.min() > 0 and s.max() <= 1
    # median of the shifted uniform is shift(0.5) = 8/9
    assert abs(float(s.median()) - float(shift_sigma(torch.tensor(0.5), 8.0))) < 0.01
    assert torch.equal(shift_sigma(torch.tensor([0.0, 1.0]), 3.0), torch.tensor([0.0, 1.0]))


def test_phase1_is_motion_only() -> None:
    g = torch.Generator().manual_seed(0)
    p = plan_step(1, PhaseConfig(p_text_drop=0.5), 1000, g)
    assert p.task is Task.MOTION_ONLY and p.video is Role.ABSENT and p.motion is Role.NOISED
    assert 0.45 < p.drop_text.float().mean() < 0.55


def test_phase2_paradigms_and_drops_follow_the_table() -> None:
    g = torch.Generator().manual_seed(1)
    cfg = PhaseConfig(joint=1, m2v=1, v2m=2, p_text_drop=0.2, p_cond_drop=0.3)
    plans = [plan_step(2, cfg, 4, g) for _ in range(4000)]
    counts = {t: sum(p.task is t for p in plans) for t in (Task.JOINT, Task.M2V, Task.V2M)}
    assert abs(counts[Task.V2M] / 4000 - 0.5) < 0.03
    assert abs(counts[Task.JOINT] / 4000 - 0.25) < 0.03
    for p in plans:
        if p.task is Task.JOINT:
            assert (p.video, p.motion) == (Role.NOISED, Role.NOISED)
        elif p.task is Task.M2V:
            assert p.video is Role.NOISED and p.motion in (Role.CLEAN, Role.ABSENT)
        else:
            assert p.motion is Role.NOISED and p.video in (Role.CLEAN, Role.ABSENT)
            assert p.drop_text.all()  # v2m always drops text
    m2v = [p for p in plans if p.task is Task.M2V]
    assert abs(sum(p.motion is Role.ABSENT for p in m2v) / len(m2v) - 0.3) < 0.05
    joint_text = torch.cat([p.drop_text for p in plans if p.task is Task.JOINT]).float().mean()
    assert abs(float(joint_text) - 0.2) < 0.03


def test_plans_are_reproducible() -> None:
    a = [plan_step(2, PhaseConfig(), 2, torch.Generator().manual_seed(5)) for _ in range(3)]
    b = [plan_step(2, PhaseConfig(), 2, torch.Generator().manual_seed(5)) for _ in range(3)]
    assert [(p.task, p.video, p.motion, p.drop_text.tolist()) for p in a] == [
        (p.task, p.video, p.motion, p.drop_text.tolist()) for p in b
    ]


def test_lr_multiplier_warms_up_then_decays_to_the_final_ratio() -> None:
    import math

    from echomotion_trainer.loop import lr_multiplier

    kw = {"warmup": 10, "steps": 111}  # decay over steps 10…110
    for decay in ("constant", "linear", "cosine"):
        # warm-up: 1/10, 2/10, …, 1 at step 9, whatever the decay
        assert [lr_multiplier(s, decay=decay, final=0.1, **kw) for s in (0, 4, 9)] == [
            0.1,
            0.5,
            1.0,
        ]
    assert lr_multiplier(110, decay="constant", final=0.1, **kw) == 1.0
    assert math.isclose(lr_multiplier(110, decay="linear", final=0.1, **kw), 0.1)
    assert math.isclose(lr_multiplier(110, decay="cosine", final=0.1, **kw), 0.1)
    # halfway through the decay: linear and cosine agree on the midpoint 0.55
    assert math.isclose(lr_multiplier(60, decay="linear", final=0.1, **kw), 0.55)
    assert math.isclose(lr_multiplier(60, decay="cosine", final=0.1, **kw), 0.55)
    # cosine stays above linear early and below it late
    assert lr_multiplier(30, decay="cosine", final=0.1, **kw) > lr_multiplier(
        30, decay="linear", final=0.1, **kw
    )
    assert lr_multiplier(90, decay="cosine", final=0.1, **kw) < lr_multiplier(
        90, decay="linear", final=0.1, **kw
    )
    assert math.isclose(lr_multiplier(500, decay="linear", final=0.1, **kw), 0.1)  # held after
