"""ICCFG (eqs. 4–6): the passes each mode makes, how they are batched, and the combination."""

from __future__ import annotations

import pytest
import torch
from recording_denoiser import Call, RecordingDenoiser
from torch import Tensor

from echomotion_samplers import (
    GuidanceScales,
    Latents,
    Prediction,
    Task,
    TextCondition,
    guidance_passes,
    guided_velocity,
)

B, SIGMA = 2, 0.6
g = torch.Generator().manual_seed(0)
X = torch.randn(B, 4, 3, 2, 2, generator=g)  # video latents (B, C, F, H, W)
M = torch.randn(B, 5, 7, generator=g)  # motion (B, Tm, P)
Y = TextCondition(torch.randn(B, 6, 8, generator=g))  # the prompt
NULL = TextCondition(torch.randn(1, 6, 8, generator=g))  # e.g. an encoded negative prompt


def u(
    video: Tensor | None,
    motion: Tensor | None,
    text: TextCondition | None,
    task: Task,
    *,
    given: str,
) -> Prediction:
    """One un-batched evaluation of the mock, the given modality at σ = 0."""
    full = torch.full((B,), SIGMA)
    zero = torch.zeros(B)
    return RecordingDenoiser()(
        video=video,
        motion=motion,
        video_sigma=None if video is None else (zero if given == "video" else full),
        motion_sigma=None if motion is None else (zero if given == "motion" else full),
        text=text,
        task=task,
    )


def rows(call: Call, text: TextCondition | None) -> list[str]:
    """Which text each chunk of B rows of a call carried: 'y', '∅' (null embeddings) or None."""
    if call.text is None:
        return ["None"] * (call.batch // B)
    labels = []
    for k in range(call.batch // B):
        chunk = call.text.embeddings[k * B : (k + 1) * B]
        if text is not None and torch.equal(chunk, text.embeddings):
            labels.append("y")
        elif torch.equal(chunk, NULL.embeddings.expand(B, -1, -1)):
            labels.append("∅")
        else:
            labels.append("?")
    return labels


def check_tensor(actual: Tensor | None, expected: Tensor, copies: int) -> None:
    assert actual is not None
    torch.testing.assert_close(actual, torch.cat([expected] * copies), rtol=0, atol=0)


def check_sigma(actual: Tensor | None, value: float, batch: int) -> None:
    assert actual is not None
    torch.testing.assert_close(actual, torch.full((batch,), value), rtol=0, atol=0)


# --- joint, eq. 4 ---------------------------------------------------------------------------


def test_joint_batches_cond_and_null_text_in_one_forward() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den,
        Task.JOINT,
        Latents(X, M),
        SIGMA,
        text=Y,
        null_text=NULL,
        scales=GuidanceScales(text=5.0),
    )
    assert len(den.calls) == 1
    (call,) = den.calls
    assert call.batch == 2 * B and call.task is Task.JOINT
    check_tensor(call.video, X, 2)
    check_tensor(call.motion, M, 2)
    check_sigma(call.video_sigma, SIGMA, 2 * B)
    check_sigma(call.motion_sigma, SIGMA, 2 * B)
    assert rows(call, Y) == ["y", "∅"]
    cond = u(X, M, Y, Task.JOINT, given="")
    null = u(X, M, NULL.expand(B), Task.JOINT, given="")
    for name in ("video", "motion"):
        expected = getattr(null, name) + 5.0 * (getattr(cond, name) - getattr(null, name))
        torch.testing.assert_close(getattr(out, name), expected)


def test_joint_without_null_embeddings_runs_the_null_pass_with_text_none() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den, Task.JOINT, Latents(X, M), SIGMA, text=Y, scales=GuidanceScales(text=3.0)
    )
    assert [c.batch for c in den.calls] == [B, B]
    assert rows(den.calls[0], Y) == ["y"] and den.calls[1].text is None
    assert all(c.video is not None and c.motion is not None for c in den.calls)
    cond, null = u(X, M, Y, Task.JOINT, given=""), u(X, M, None, Task.JOINT, given="")
    assert out.video is not None and cond.video is not None and null.video is not None
    torch.testing.assert_close(out.video, null.video + 3.0 * (cond.video - null.video))


def test_joint_scale_one_is_the_conditional_prediction_in_one_pass() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den,
        Task.JOINT,
        Latents(X, M),
        SIGMA,
        text=Y,
        null_text=NULL,
        scales=GuidanceScales(text=1.0),
    )
    assert len(den.calls) == 1 and den.calls[0].batch == B and rows(den.calls[0], Y) == ["y"]
    cond = u(X, M, Y, Task.JOINT, given="")
    torch.testing.assert_close(out.video, cond.video)
    torch.testing.assert_close(out.motion, cond.motion)


# --- m2v, eq. 5 -----------------------------------------------------------------------------


def m2v_reference(w1: float, w2: float, null: TextCondition | None) -> Tensor:
    """Eq. 5 written out: o_v = u(x,∅,∅) + ω₁(u(x,m,y) − u(x,m,∅)) + ω₂(u(x,m,∅) − u(x,∅,∅))."""
    a = u(X, M, Y, Task.M2V, given="motion").video
    b = u(X, M, null, Task.M2V, given="motion").video
    c = u(X, None, null, Task.M2V, given="motion").video
    assert a is not None and b is not None and c is not None
    return c + w1 * (a - b) + w2 * (b - c)


def test_m2v_makes_the_three_passes_in_two_forwards_with_clean_motion() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den,
        Task.M2V,
        Latents(X, M),
        SIGMA,
        text=Y,
        null_text=NULL,
        scales=GuidanceScales(text=5.0, cross=2.0),
    )
    assert len(den.calls) == 2
    both, video_only = den.calls
    # u(x,m,y) and u(x,m,∅) share the layout: one forward, motion clean in both halves
    assert both.batch == 2 * B and rows(both, Y) == ["y", "∅"]
    check_tensor(both.video, X, 2)
    check_tensor(both.motion, M, 2)
    check_sigma(both.video_sigma, SIGMA, 2 * B)
    check_sigma(both.motion_sigma, 0.0, 2 * B)
    # u(x,∅,∅): motion absent, text ∅
    assert video_only.batch == B and video_only.motion is None and video_only.motion_sigma is None
    check_tensor(video_only.video, X, 1)
    check_sigma(video_only.video_sigma, SIGMA, B)
    assert rows(video_only, Y) == ["∅"]
    assert all(c.task is Task.M2V for c in den.calls)
    assert out.motion is None  # only the generated modality comes back
    torch.testing.assert_close(out.video, m2v_reference(5.0, 2.0, NULL.expand(B)))


@pytest.mark.parametrize(
    ("w1", "w2", "forwards"),
    [
        (5.0, 1.0, [("xm", ["y", "∅"])]),  # ω₂ = 1: no cross-modal pass u(x,∅,∅)
        (1.0, 1.0, [("xm", ["y"])]),  # just u(x,m,y)
        (1.0, 3.0, [("xm", ["y", "∅"]), ("x", ["∅"])]),  # ω₁ = 1 alone removes nothing from eq. 5
        (4.0, 4.0, [("xm", ["y"]), ("x", ["∅"])]),  # ω₁ = ω₂: u(x,m,∅)'s weight ω₂ − ω₁ is 0
        (0.0, 2.0, [("xm", ["∅"]), ("x", ["∅"])]),  # no prompt pass
    ],
)
def test_m2v_skips_exactly_the_zero_weight_passes(
    w1: float, w2: float, forwards: list[tuple[str, list[str]]]
) -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den, Task.M2V, Latents(X, M), SIGMA, text=Y, null_text=NULL, scales=GuidanceScales(w1, w2)
    )
    made = [("x" + ("m" if c.motion is not None else ""), rows(c, Y)) for c in den.calls]
    assert made == forwards
    for c in den.calls:
        if c.motion_sigma is not None:
            check_sigma(c.motion_sigma, 0.0, c.batch)
    torch.testing.assert_close(out.video, m2v_reference(w1, w2, NULL.expand(B)))


def test_m2v_with_the_models_own_null_uses_text_none() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den, Task.M2V, Latents(X, M), SIGMA, text=Y, scales=GuidanceScales(text=5.0, cross=2.0)
    )
    assert [(c.motion is not None, c.text is None) for c in den.calls] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    torch.testing.assert_close(out.video, m2v_reference(5.0, 2.0, None))


# --- v2m, eq. 6 -----------------------------------------------------------------------------


def v2m_reference(w2: float, null: TextCondition | None) -> Tensor:
    """Eq. 6 written out: o_m = u(∅,m,∅) + ω₂(u(x,m,∅) − u(∅,m,∅))."""
    d = u(X, M, null, Task.V2M, given="video").motion
    e = u(None, M, null, Task.V2M, given="video").motion
    assert d is not None and e is not None
    return e + w2 * (d - e)


@pytest.mark.parametrize("null", [None, NULL])
def test_v2m_makes_two_forwards_with_clean_video_and_never_uses_the_prompt(
    null: TextCondition | None,
) -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den,
        Task.V2M,
        Latents(X, M),
        SIGMA,
        text=Y,
        null_text=null,
        scales=GuidanceScales(text=7.0, cross=2.5),
    )
    assert len(den.calls) == 2
    with_video, motion_only = den.calls
    check_tensor(with_video.video, X, 1)
    check_sigma(with_video.video_sigma, 0.0, B)  # the given video is clean
    check_tensor(with_video.motion, M, 1)
    check_sigma(with_video.motion_sigma, SIGMA, B)
    assert motion_only.video is None and motion_only.video_sigma is None
    check_sigma(motion_only.motion_sigma, SIGMA, B)
    expected_text = ["None"] if null is None else ["∅"]
    assert rows(with_video, Y) == expected_text and rows(motion_only, Y) == expected_text
    assert all(c.task is Task.V2M for c in den.calls)
    assert out.video is None
    torch.testing.assert_close(
        out.motion, v2m_reference(2.5, None if null is None else null.expand(B))
    )


def test_v2m_scale_one_is_the_video_conditioned_prediction_in_one_pass() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den, Task.V2M, Latents(X, M), SIGMA, text=None, scales=GuidanceScales(cross=1.0)
    )
    assert len(den.calls) == 1 and den.calls[0].video is not None
    torch.testing.assert_close(out.motion, u(X, M, None, Task.V2M, given="video").motion)


# --- motion-only (phase-1 models) and the common rules --------------------------------------


def test_motion_only_is_plain_text_cfg_on_the_motion_stream() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den,
        Task.MOTION_ONLY,
        Latents(motion=M),
        SIGMA,
        text=Y,
        null_text=NULL,
        scales=GuidanceScales(text=4.0),
    )
    assert (
        len(den.calls) == 1 and den.calls[0].video is None and rows(den.calls[0], Y) == ["y", "∅"]
    )
    cond = u(None, M, Y, Task.MOTION_ONLY, given="").motion
    null = u(None, M, NULL.expand(B), Task.MOTION_ONLY, given="").motion
    assert cond is not None and null is not None
    torch.testing.assert_close(out.motion, null + 4.0 * (cond - null))


def test_pass_weights_are_the_expanded_equations() -> None:
    weights = {
        p.label: p.weight for p in guidance_passes(Task.M2V, GuidanceScales(text=5.0, cross=2.0))
    }
    assert weights == {"u(x,m,y)": 5.0, "u(x,m,∅)": -3.0, "u(x,∅,∅)": -1.0}
    weights = {p.label: p.weight for p in guidance_passes(Task.JOINT, GuidanceScales(text=6.0))}
    assert weights == {"u(x,m,y)": 6.0, "u(x,m,∅)": -5.0}
    weights = {
        p.label: p.weight for p in guidance_passes(Task.V2M, GuidanceScales(text=6.0, cross=3.0))
    }
    assert weights == {"u(x,m,∅)": 3.0, "u(∅,m,∅)": -2.0}


def test_a_per_row_sigma_is_passed_through() -> None:
    den = RecordingDenoiser()
    sigma = torch.tensor([0.9, 0.2])
    guided_velocity(
        den, Task.M2V, Latents(X, M), sigma, text=Y, null_text=NULL, scales=GuidanceScales(5.0, 2.0)
    )
    assert den.calls[0].video_sigma is not None
    torch.testing.assert_close(den.calls[0].video_sigma, torch.cat([sigma, sigma]))
    torch.testing.assert_close(den.calls[1].video_sigma, sigma)


def test_bf16_latents_give_a_bf16_velocity() -> None:
    den = RecordingDenoiser()
    out = guided_velocity(
        den,
        Task.JOINT,
        Latents(X.bfloat16(), M.bfloat16()),
        SIGMA,
        text=Y,
        scales=GuidanceScales(1.0),
    )
    assert out.video is not None and out.video.dtype == torch.bfloat16


def test_bad_inputs_raise_clear_errors() -> None:
    den = RecordingDenoiser()
    with pytest.raises(ValueError, match="text: task JOINT"):
        guided_velocity(den, Task.JOINT, Latents(X, M), SIGMA, text=None)
    with pytest.raises(
        ValueError, match=r"latents\.motion: task M2V needs the given \(clean\) motion"
    ):
        guided_velocity(den, Task.M2V, Latents(video=X), SIGMA, text=Y)
    with pytest.raises(ValueError, match="batch sizes differ"):
        guided_velocity(den, Task.JOINT, Latents(X, M[:1]), SIGMA, text=Y)
    with pytest.raises(ValueError, match="text: expected batch size 2"):
        guided_velocity(den, Task.JOINT, Latents(X, M), SIGMA, text=TextCondition(Y.embeddings[:1]))
    with pytest.raises(ValueError, match="sigma"):
        guided_velocity(den, Task.JOINT, Latents(X, M), torch.ones(3), text=Y)
    assert not den.calls  # every check runs before any forward


def test_text_concat_pads_and_masks_shorter_prompts() -> None:
    short = TextCondition(torch.ones(1, 2, 3))
    long = TextCondition(torch.ones(1, 4, 3), torch.tensor([[True, True, True, False]]))
    both = TextCondition.concat([short, long])
    assert both.embeddings.shape == (2, 4, 3) and both.mask is not None
    assert both.mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    assert both.embeddings[0, 2:].abs().sum() == 0
    with pytest.raises(ValueError, match="widths"):
        TextCondition.concat([short, TextCondition(torch.ones(1, 2, 5))])


@pytest.mark.parametrize("task", [Task.JOINT, Task.M2V, Task.V2M])
def test_unbatched_passes_give_the_same_velocity_one_forward_each(task: Task) -> None:
    scales = GuidanceScales(text=5.0, cross=2.0)
    batched, unbatched = RecordingDenoiser(), RecordingDenoiser()
    a = guided_velocity(batched, task, Latents(X, M), SIGMA, text=Y, null_text=NULL, scales=scales)
    b = guided_velocity(
        unbatched,
        task,
        Latents(X, M),
        SIGMA,
        text=Y,
        null_text=NULL,
        scales=scales,
        batch_passes=False,
    )
    assert len(unbatched.calls) == len(guidance_passes(task, scales))
    assert all(c.batch == B for c in unbatched.calls)
    assert len(batched.calls) == {Task.JOINT: 1, Task.M2V: 2, Task.V2M: 2}[task]
    for name in ("video", "motion"):
        if getattr(a, name) is None:
            assert getattr(b, name) is None
        else:
            torch.testing.assert_close(getattr(a, name), getattr(b, name))
