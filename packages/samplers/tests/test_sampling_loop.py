"""The sampling loop: seeded noise, callbacks, the clean given modality, input checks."""

from __future__ import annotations

import pytest
import torch
from recording_denoiser import RecordingDenoiser

from echomotion_samplers import (
    GuidanceScales,
    Modality,
    SolverConfig,
    StepInfo,
    Task,
    TextCondition,
    initial_noise,
    sample,
    shifted_sigmas,
)

B = 2
VIDEO_SHAPE, MOTION_SHAPE = (B, 4, 3, 2, 2), (B, 5, 7)
TEXT = TextCondition(torch.randn(B, 6, 8, generator=torch.Generator().manual_seed(3)))
SOLVER = SolverConfig(kind="unipc", num_steps=6, shift=3.0)


def joint(seed: int, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    out = sample(
        RecordingDenoiser(),
        Task.JOINT,
        text=TEXT,
        video_shape=VIDEO_SHAPE,
        motion_shape=MOTION_SHAPE,
        scales=GuidanceScales(text=2.0),
        solver=SOLVER,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,  # type: ignore[arg-type]
    )
    assert out.video is not None and out.motion is not None
    return out.video, out.motion


def test_same_seed_same_sample_and_different_seed_different_sample() -> None:
    v1, m1 = joint(7)
    v2, m2 = joint(7)
    v3, _ = joint(8)
    assert torch.equal(v1, v2) and torch.equal(m1, m2)
    assert not torch.allclose(v1, v3)
    assert v1.shape == VIDEO_SHAPE and m1.shape == MOTION_SHAPE


def test_noise_is_drawn_video_first_then_motion() -> None:
    noise = initial_noise(
        {Modality.MOTION: MOTION_SHAPE, Modality.VIDEO: VIDEO_SHAPE},
        generator=torch.Generator().manual_seed(5),
    )
    g = torch.Generator().manual_seed(5)
    assert noise.video is not None and noise.motion is not None
    assert torch.equal(noise.video, torch.randn(VIDEO_SHAPE, generator=g))
    assert torch.equal(noise.motion, torch.randn(MOTION_SHAPE, generator=g))


def test_callback_sees_every_step_and_the_progress_bar_runs() -> None:
    seen: list[StepInfo] = []
    video, _ = joint(7, callback=seen.append, progress=True)
    assert [s.index for s in seen] == list(range(SOLVER.num_steps))
    assert all(s.num_steps == SOLVER.num_steps for s in seen)
    sigmas = shifted_sigmas(SOLVER.num_steps, SOLVER.shift)
    torch.testing.assert_close(
        torch.tensor([s.sigma for s in seen], dtype=torch.float64), sigmas[:-1], atol=2e-6, rtol=0
    )
    assert seen[-1].next_sigma == 0.0
    assert seen[-1].latents.video is not None and torch.equal(seen[-1].latents.video, video)
    assert seen[0].velocity.video is not None and seen[0].velocity.video.shape == VIDEO_SHAPE


@pytest.mark.parametrize("task", [Task.M2V, Task.V2M])
def test_the_given_modality_stays_clean_and_is_returned_unchanged(task: Task) -> None:
    given = torch.randn(VIDEO_SHAPE if task is Task.V2M else MOTION_SHAPE)
    den = RecordingDenoiser()
    kwargs = (
        {"motion": given, "video_shape": VIDEO_SHAPE}
        if task is Task.M2V
        else {"video": given, "motion_shape": MOTION_SHAPE}
    )
    out = sample(
        den,
        task,
        text=TEXT,
        null_text=TextCondition(torch.zeros(1, 6, 8)),
        scales=GuidanceScales(text=3.0, cross=2.0),
        solver=SOLVER,
        generator=torch.Generator().manual_seed(0),
        **kwargs,  # type: ignore[arg-type]
    )
    name = "motion" if task is Task.M2V else "video"
    assert torch.equal(getattr(out, name), given)
    assert len(den.calls) == 2 * SOLVER.num_steps  # m2v: (u(x,m,y), u(x,m,∅)) + u(x,∅,∅); v2m: 2
    for call in den.calls:
        assert call.task is task
        if getattr(call, name) is not None:
            assert torch.equal(getattr(call, name)[:B], given)
            assert torch.count_nonzero(getattr(call, f"{name}_sigma")) == 0


def test_bad_requests_raise_before_any_forward() -> None:
    den = RecordingDenoiser()
    with pytest.raises(ValueError, match="motion_shape: task JOINT generates motion"):
        sample(den, Task.JOINT, text=TEXT, video_shape=VIDEO_SHAPE)
    with pytest.raises(ValueError, match="motion: task M2V is conditioned on a clean motion"):
        sample(den, Task.M2V, text=TEXT, video_shape=VIDEO_SHAPE)
    with pytest.raises(ValueError, match="video_shape: task V2M does not generate video"):
        sample(
            den,
            Task.V2M,
            text=None,
            video=torch.zeros(VIDEO_SHAPE),
            video_shape=VIDEO_SHAPE,
            motion_shape=MOTION_SHAPE,
        )
    with pytest.raises(ValueError, match="task MOTION_ONLY does not use video"):
        sample(den, Task.MOTION_ONLY, text=TEXT, motion_shape=MOTION_SHAPE, video_shape=VIDEO_SHAPE)
    assert not den.calls


def test_guidance_interval_guides_only_the_steps_inside_it() -> None:
    """Inside the interval a m2v step runs the guided passes (2 forwards: the motion-present
    pair batched, then u(x,∅,∅)); outside it, the single fully conditioned pass. The sample
    equals a hand-run loop that calls guided_velocity with those scales step by step."""
    from echomotion_samplers import FlowSolver, Latents, guided_velocity

    scales = GuidanceScales(text=3.0, cross=2.0, interval=(0.4, 1.0))
    motion = torch.randn(MOTION_SHAPE, generator=torch.Generator().manual_seed(1))
    null = TextCondition(torch.zeros(1, 6, 8))
    den = RecordingDenoiser()
    out = sample(
        den,
        Task.M2V,
        text=TEXT,
        null_text=null,
        motion=motion,
        video_shape=VIDEO_SHAPE,
        scales=scales,
        solver=SOLVER,
        generator=torch.Generator().manual_seed(0),
    )
    sigmas = shifted_sigmas(SOLVER.num_steps, SOLVER.shift)[:-1].tolist()
    inside = [0.4 <= s <= 1.0 for s in sigmas]
    assert any(inside) and not all(inside)  # the test covers both kinds of step
    assert len(den.calls) == sum(2 if i else 1 for i in inside)

    # The same loop by hand, with the per-step scales spelled out.
    flow = FlowSolver(SOLVER, Task.M2V.generated)
    noise = initial_noise({Modality.VIDEO: VIDEO_SHAPE}, generator=torch.Generator().manual_seed(0))
    latents = Latents(video=noise.video, motion=motion)
    for i, is_inside in enumerate(inside):
        step_scales = scales if is_inside else GuidanceScales(text=1.0, cross=1.0)
        velocity = guided_velocity(
            RecordingDenoiser(),
            Task.M2V,
            latents,
            flow.sigma(i),
            text=TEXT,
            null_text=null,
            scales=step_scales,
        )
        latents = flow.step(i, latents, velocity)
    assert out.video is not None and latents.video is not None
    torch.testing.assert_close(out.video, latents.video, rtol=0, atol=0)
    # and it differs from guiding every step
    full = sample(
        RecordingDenoiser(),
        Task.M2V,
        text=TEXT,
        null_text=null,
        motion=motion,
        video_shape=VIDEO_SHAPE,
        scales=GuidanceScales(text=3.0, cross=2.0),
        solver=SOLVER,
        generator=torch.Generator().manual_seed(0),
    )
    assert full.video is not None and not torch.allclose(full.video, out.video)


def test_guidance_scales_at_and_interval_errors() -> None:
    scales = GuidanceScales(text=4.0, cross=2.0, interval=(0.25, 0.75))
    assert scales.at(0.25) is scales and scales.at(0.75) is scales and scales.at(0.5) is scales
    for sigma in (0.0, 0.2, 0.8, 1.0):
        off = scales.at(sigma)
        assert (off.text, off.cross) == (1.0, 1.0)
    assert GuidanceScales().at(0.0) == GuidanceScales()  # the default interval guides every step
    for bad in ((0.5, 0.5), (0.6, 0.4), (-0.1, 1.0), (0.0, 1.5)):
        with pytest.raises(ValueError, match=r"interval: expected \(lo, hi\)"):
            GuidanceScales(interval=bad)
