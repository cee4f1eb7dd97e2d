"""Without motion, the dual DiT is Wan: same weights, same inputs, same output (s = 1)."""

from __future__ import annotations

import pytest
import torch
from tiny_models import make_dual, make_wan

from echomotion_dualdit import DualDiT, Task


@pytest.mark.parametrize("dual_blocks", [None, [1], []])
def test_video_only_forward_equals_wan(
    dual_blocks: list[int] | None, inputs: dict[str, torch.Tensor]
) -> None:
    wan = make_wan()
    # Motion branch randomized (must not matter here); the task MLP keeps its zero last layer.
    dual = make_dual(dual_blocks=dual_blocks, random_task=False)
    with torch.no_grad():
        expected = wan(inputs["video"], inputs["video_timestep"], inputs["text"]).sample
        for task in Task:
            out = dual(
                inputs["video"],
                None,
                inputs["video_timestep"],
                None,
                inputs["text"],
                torch.full((2,), int(task), dtype=torch.long),
            )
            assert out.motion is None
            torch.testing.assert_close(out.video, expected, rtol=0, atol=1e-6)


def test_parity_with_time_stride_other_than_one_differs(inputs: dict[str, torch.Tensor]) -> None:
    """s = 4 (eq. 2 read literally) changes the video RoPE, so it must change the output."""
    wan = make_wan()
    dual = DualDiT.from_wan(wan, rope_time_stride=4.0).eval()
    with torch.no_grad():
        expected = wan(inputs["video"], inputs["video_timestep"], inputs["text"]).sample
        out = dual(
            inputs["video"],
            None,
            inputs["video_timestep"],
            None,
            inputs["text"],
            torch.zeros(2, dtype=torch.long),
        )
    assert (out.video - expected).abs().max() > 1e-4


def test_fresh_preset_builds_and_runs_video_only() -> None:
    model = DualDiT.from_preset("tiny", num_layers=2).eval()
    video = torch.randn(1, 48, 2, 4, 4)
    text = torch.randn(1, 5, 384)
    with torch.no_grad():
        out = model(video, None, torch.tensor([500.0]), None, text, torch.tensor([0]))
    assert out.video is not None and out.video.shape == video.shape
