"""experiments/sample_trajectory.py on the shipped checkpoint: x̂ columns, the sample, the truth."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "checkpoints" / "synth-tiny"
sys.path.insert(0, str(ROOT / "experiments"))

import sample_trajectory  # noqa: E402


@pytest.mark.parametrize("solver", ["stochastic", "euler"])
def test_columns_end_on_the_sample_and_the_truth(solver: str) -> None:
    heads, columns, scores = sample_trajectory.trajectory(
        CHECKPOINT, clips=2, steps=3, seed=5, show=3, solver=solver
    )
    assert heads[-2:] == ["sample", "ground truth"] and len(heads) == 5
    assert [h.split()[-1] for h in heads[:3]] == ["1.00", "0.67", "0.33"]  # σ of steps 0, 1, 2
    assert all(c.shape == columns[-1].shape and c.dtype == np.uint8 for c in columns)
    # the last step lands on its clean estimate: the last x̂ column is the sample
    np.testing.assert_array_equal(columns[2], columns[3])
    assert scores[-1] == float("inf") and all(np.isfinite(scores[:-1]))


def test_cli_writes_the_sheet(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "sample_trajectory.py"), str(CHECKPOINT), str(out),
         "--clips", "1", "--steps", "2", "--show", "2", "--scale", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (4 + 4 * (32 + 4), 26 + 32 + 4)  # 2 x̂ + sample + truth, 1 clip
    assert "sample:" in result.stdout
