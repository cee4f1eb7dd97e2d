"""experiments/caption_binding.py: captions rewritten in the world's wording; the report's shape."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "checkpoints" / "synth-tiny"
sys.path.insert(0, str(ROOT / "experiments"))

import caption_binding  # noqa: E402


def test_recaptioned_changes_only_the_garment_colour() -> None:
    from echomotion_trainer.evaluation import make_clips

    (clip,) = make_clips(1, seed=10_000, width=32, height=32, num_frames=5, fps=8.0)
    same = caption_binding.recaptioned(clip, "shirt", clip.appearance.shirt)
    assert same == clip.caption.full
    other = "brown" if clip.appearance.trousers != "brown" else "white"
    text = caption_binding.recaptioned(clip, "trousers", other)
    assert f"{other} trousers" in text and f"{clip.appearance.trousers} trousers" not in text
    assert text.replace(f"{other} trousers", f"{clip.appearance.trousers} trousers") == same


def test_report_on_the_shipped_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "caption_binding.py"), str(CHECKPOINT),
         "--clips", "1", "--sigmas", "0.9", "--garment", "trousers", "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(out.read_text())
    assert report["garment"] == "trousers" and report["clips"] == 1
    assert len(report["colors"]) == 11 and list(report["sigmas"]) == ["0.9"]
    row = report["sigmas"]["0.9"]
    assert row["accuracy"] in {i / 11 for i in range(12)}  # one clip × 11 captions
    assert row["spread"] >= 0 and row["distance"] > 0
    with pytest.raises(ValueError, match="sigmas"):
        caption_binding.binding(CHECKPOINT, clips=1, sigmas=(1.5,))
