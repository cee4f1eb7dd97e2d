from __future__ import annotations

import pytest
import torch

from echomotion_mvsrope import joint_positions, motion_positions, video_positions


def test_video_positions_follow_wan_token_order() -> None:
    pos = video_positions(2, 3, 4)
    assert pos.shape == (24, 3)
    assert pos.dtype == torch.float32
    # token index = (t*H + h)*W + w, as Wan flattens (F, H, W)
    for t in range(2):
        for h in range(3):
            for w in range(4):
                assert pos[(t * 3 + h) * 4 + w].tolist() == [t, h, w]


def test_video_time_stride_scales_time_only() -> None:
    pos = video_positions(3, 2, 2, time_stride=4.0)
    assert pos[:, 0].unique().tolist() == [0.0, 4.0, 8.0]
    assert torch.equal(pos[:, 1:], video_positions(3, 2, 2)[:, 1:])


def test_motion_positions_diagonal_extension() -> None:
    pos = motion_positions(5, 6, 7)
    assert pos.shape == (5 * 51, 3)
    f, i = 3, 17
    assert pos[f * 51 + i].tolist() == [f / 4, 6 + i, 7 + i]
    # no motion position coincides with a video position of the same grid (spatially)
    video = video_positions(2, 6, 7)
    assert not (pos[:, 1:, None] == video[:, 1:].T[None]).all(dim=1).any()


@pytest.mark.parametrize("stride", [1.0, 4.0, 0.5, 2.5])
def test_motion_time_is_fractional_and_synchronized(stride: float) -> None:
    pos = motion_positions(9, 2, 2, time_stride=stride, slots=3)
    video = video_positions(3, 2, 2, time_stride=stride)
    times = pos[::3, 0]
    assert torch.allclose(times, torch.arange(9) * stride / 4)
    # motion frame 4t sits at video latent frame t's time
    for t in range(3):
        assert pos[4 * t * 3, 0] == video[t * 4, 0]


def test_collision_mode_starts_at_origin() -> None:
    pos = motion_positions(2, 6, 7, mode="collision")
    assert pos[51 + 10].tolist() == [0.25, 10, 10]


def test_multiple_persons_continue_the_diagonal() -> None:
    pos = motion_positions(2, 4, 5, persons=2, slots=51)
    assert pos.shape == (2 * 2 * 51, 3)
    # frame 1, person 1, slot 3
    assert pos[(1 * 2 + 1) * 51 + 3].tolist() == [0.25, 4 + 51 + 3, 5 + 51 + 3]
    assert pos[:, 1].reshape(2, -1)[0].unique().numel() == 102


def test_joint_positions_concatenates_video_then_motion() -> None:
    pos = joint_positions(2, 3, 4, 5, time_stride=4.0)
    assert torch.equal(pos[:24], video_positions(2, 3, 4, time_stride=4.0))
    assert torch.equal(pos[24:], motion_positions(5, 3, 4, time_stride=4.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time_stride": 0.0}, "time_stride"),
        ({"time_stride": float("nan")}, "time_stride"),
        ({"mode": "diagonal"}, "mode"),
        ({"persons": 0}, "persons"),
        ({"slots": 0}, "slots"),
    ],
)
def test_motion_positions_reject_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        motion_positions(2, 3, 4, **kwargs)  # type: ignore[arg-type]


def test_video_positions_reject_bad_sizes() -> None:
    with pytest.raises(ValueError, match="frames"):
        video_positions(0, 3, 4)
    with pytest.raises(ValueError, match="width"):
        video_positions(1, 3, 2.0)  # type: ignore[arg-type]
