"""The finished ablation runs as the report sees them, and the metric keys it reads.

Metric keys: "heldout.<mode>.<video|motion>" (held-out flow loss, mean over the σ grid),
"eval.<mode>.<name>" (`evaluate_checkpoint`), "train.<total|video|motion>" (final smoothed
training loss; motion = generated motion, analysis.GENERATED_MOTION), "threshold.<steps|seconds>"
(ablation 3's cost to the threshold) and "train.below" (ablation 2's paired-curve fraction).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis import GENERATED_MOTION, Series, read_metrics, series
from variants import VARIANTS

__all__ = [
    "EVAL_LABELS",
    "OVERVIEW",
    "SERIES",
    "Run",
    "label",
    "load_runs",
    "lower_is_better",
    "read_json",
    "values",
]

SERIES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "total": ("loss", None),
    "video": ("loss_video", None),
    "motion": ("loss_motion", GENERATED_MOTION),
}
EVAL_LABELS: dict[str, tuple[str, bool]] = {  # name → (label, lower is better)
    "psnr_db": ("PSNR (dB)", False),
    "ssim": ("SSIM", False),
    "mpjpe_mm": ("MPJPE (mm)", True),
    "pa_mpjpe_mm": ("PA-MPJPE (mm)", True),
    "consistency_psnr_db": ("consistency PSNR (dB)", False),
    "text_accuracy": ("action accuracy", False),
}
OVERVIEW = (
    "heldout.joint.video",
    "heldout.joint.motion",
    "heldout.m2v.video",
    "heldout.t2v.video",
    "heldout.v2m.motion",
    "heldout.motion_only.motion",
    "eval.m2v.psnr_db",
    "eval.v2m.mpjpe_mm",
    "eval.joint.consistency_psnr_db",
    "eval.joint.text_accuracy",
)


def label(key: str) -> str:
    kind, _, rest = key.partition(".")
    if kind == "heldout":
        mode, _, modality = rest.partition(".")
        return f"held-out {mode.replace('_', '-')} {modality} loss"
    if kind == "eval":
        mode, _, name = rest.partition(".")
        return f"{mode} {EVAL_LABELS.get(name, (name, True))[0]}"
    if key == "train.motion":
        return "final generated-motion training loss"
    if key == "train.below":
        return "steps where the reference's smoothed loss is lower"
    if kind == "train":
        return f"final {rest} training loss"
    return {
        "threshold.steps": "steps to threshold",
        "threshold.seconds": "step-seconds to threshold",
    }[key]


def lower_is_better(key: str) -> bool:
    if key.startswith("eval."):
        return EVAL_LABELS.get(key.rsplit(".", 1)[1], ("", True))[1]
    return key != "train.below"


@dataclass
class Run:
    variant: str
    seed: int
    path: Path
    records: list[dict[str, Any]]
    heldout: dict[str, Any] | None
    eval: dict[str, Any] | None
    info: dict[str, Any]
    threshold_cost: tuple[int, float] | None = None  # set for ablation 3's runs
    smoothed: dict[str, Series] = field(default_factory=dict)

    def series(self, name: str) -> Series:
        """The raw (unsmoothed) training series `name` of SERIES."""
        key, paradigms = SERIES[name]
        return series(self.records, key, paradigms)

    def value(self, key: str) -> float | None:
        kind, _, rest = key.partition(".")
        if kind == "heldout" and self.heldout is not None:
            mode, _, modality = rest.partition(".")
            losses = self.heldout["modes"].get(mode, {}).get(modality)
            return sum(losses) / len(losses) if losses else None
        if kind == "eval" and self.eval is not None:
            mode, _, name = rest.partition(".")
            v = self.eval["metrics"].get(mode, {}).get(name)
            return None if v is None else float(v)
        if kind == "train" and rest in self.smoothed:
            return self.smoothed[rest].final
        if kind == "threshold":
            steps, seconds = self.threshold_cost or (self.total_steps, self.step_seconds)
            return float(steps if rest == "steps" else seconds)
        return None

    @property
    def total_steps(self) -> int:
        return int(self.records[-1]["step"]) if self.records else 0

    @property
    def step_seconds(self) -> float:
        return sum(float(r["seconds"]) for r in self.records)


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def load_runs(out: Path, window: int) -> dict[str, list[Run]]:
    """variant → its finished runs (those with a metrics.jsonl and summary.json), by seed."""
    runs: dict[str, list[Run]] = {}
    for name in VARIANTS:
        for folder in sorted((out / name).glob("seed*")):
            if not (folder / "summary.json").is_file():
                continue
            records = read_metrics(folder / "metrics.jsonl")
            run = Run(
                name,
                int(folder.name[4:]),
                folder,
                records,
                read_json(folder / "heldout.json"),
                read_json(folder / "eval.json"),
                read_json(folder / "run.json") or {},
            )
            run.smoothed = {name: run.series(name).smoothed(window) for name in SERIES}
            runs.setdefault(name, []).append(run)
    return runs


def values(runs: Sequence[Run], key: str) -> list[float]:
    return [v for r in runs if (v := r.value(key)) is not None]
