"""The report's arithmetic, free of files and plots: loss series from `metrics.jsonl` records,
trailing means, steps to a threshold, seed spreads, comparisons and markdown tables.

Definitions the report states:
- the *generated-motion loss* of a step is its motion flow loss when the motion was generated
  without a clean video beside it: phase-1 `motion_only` steps and phase-2 `joint` steps (v2m
  steps, whose motion is read off a clean video, are far easier and are left out);
- a *smoothed* series is the trailing mean of its last `window` logged values;
- a run *reaches* a threshold at the first step whose smoothed value is at or below it; its cost
  then is that step and the summed `seconds` (step compute time) of every step up to it;
- a spread over seeds is half their range: with two seeds, mean ± spread are the two values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "GENERATED_MOTION",
    "Comparison",
    "Series",
    "compare",
    "cost_to_threshold",
    "format_spread",
    "fraction_below",
    "markdown_table",
    "mean_spread",
    "paired_verdict",
    "read_metrics",
    "series",
    "trailing_mean",
]

GENERATED_MOTION = ("motion_only", "joint")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The step records of a run's `metrics.jsonl`, in step order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return sorted((json.loads(line) for line in lines if line.strip()), key=lambda r: r["step"])


@dataclass(frozen=True)
class Series:
    steps: tuple[int, ...]
    values: tuple[float, ...]

    def smoothed(self, window: int) -> Series:
        return Series(self.steps, tuple(trailing_mean(self.values, window)))

    @property
    def final(self) -> float | None:
        return self.values[-1] if self.values else None


def series(
    records: Iterable[dict[str, Any]], key: str, paradigms: Sequence[str] | None = None
) -> Series:
    """(step, value) of `key` ("loss", "loss_video", "loss_motion") on the steps that logged it,
    optionally only those of the given paradigms."""
    pairs = [
        (int(r["step"]), float(r[key]))
        for r in records
        if r.get(key) is not None and (paradigms is None or r["paradigm"] in paradigms)
    ]
    return Series(tuple(s for s, _ in pairs), tuple(v for _, v in pairs))


def trailing_mean(values: Sequence[float], window: int) -> list[float]:
    """out[i] = mean(values[max(0, i − window + 1) : i + 1])."""
    if window < 1:
        raise ValueError(f"window: expected >= 1, got {window}")
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def cost_to_threshold(
    smoothed: Series, records: Sequence[dict[str, Any]], threshold: float
) -> tuple[int, float] | None:
    """(step, summed step seconds up to it) of the first smoothed value ≤ threshold; None if
    never reached."""
    for step, value in zip(smoothed.steps, smoothed.values, strict=True):
        if value <= threshold:
            return step, sum(float(r["seconds"]) for r in records if r["step"] <= step)
    return None


def fraction_below(a: Series, b: Series) -> float | None:
    """Fraction of the steps both series logged where a < b (paired curves of two runs with the
    same seed, hence the same batches, paradigms, σ and noise)."""
    bv = dict(zip(b.steps, b.values, strict=True))
    shared = [(v, bv[s]) for s, v in zip(a.steps, a.values, strict=True) if s in bv]
    return sum(x < y for x, y in shared) / len(shared) if shared else None


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half the range)."""
    if not values:
        raise ValueError("values: expected at least one")
    return sum(values) / len(values), (max(values) - min(values)) / 2


def format_spread(values: Sequence[float] | None, digits: int = 3) -> str:
    if not values:
        return "—"
    mean, spread = mean_spread(values)
    return f"{mean:.{digits}g} ± {spread:.2g}" if len(values) > 1 else f"{mean:.{digits}g}"


@dataclass(frozen=True)
class Comparison:
    """`variant` against `reference` on one metric (values over seeds). A difference counts only
    with at least two seeds on each side whose ranges do not overlap."""

    relative: float  # (mean variant − mean reference) / |mean reference|
    reference_better: bool
    separated: bool  # the seed ranges do not overlap
    seeds: int  # the fewer seeds of the two sides

    @property
    def decided(self) -> bool:
        return self.seeds >= 2 and self.separated

    def outcome(self) -> str:
        """Neutral: "reference better", "variant better", "within seed spread" or "one seed"."""
        if self.seeds < 2:
            return "one seed"
        if not self.separated:
            return "within seed spread"
        return "reference better" if self.reference_better else "variant better"

    def sentence(self, variant: str, lower_is_better: bool) -> str:
        direction = "worse" if self.reference_better else "better"
        noise = {"one seed": "one seed: no spread to judge it by",
                 "within seed spread": "within seed spread"}.get(self.outcome(), "seed ranges apart")  # fmt: skip
        arrow = "lower is better" if lower_is_better else "higher is better"
        size = (
            f"{abs(self.relative):.2%}"
            if abs(self.relative) < 0.01
            else f"{abs(self.relative):.1%}"
        )
        return f"{variant} {direction} by {size} ({arrow}; {noise})"

    def verdict(self, expect_reference_better: bool) -> str:
        """Against the paper's expectation: "agrees", "disagrees", "inconclusive" ("—" when the
        paper expects nothing)."""
        if not expect_reference_better:
            return "—"
        if not self.decided:
            return "inconclusive"
        return "agrees" if self.reference_better else "disagrees"


def compare(
    reference: Sequence[float], variant: Sequence[float], *, lower_is_better: bool
) -> Comparison:
    mr, mv = mean_spread(reference)[0], mean_spread(variant)[0]
    relative = (mv - mr) / abs(mr) if mr else (0.0 if mv == mr else float("inf"))
    reference_better = mr < mv if lower_is_better else mr > mv
    separated = max(reference) < min(variant) or max(variant) < min(reference)
    return Comparison(relative, reference_better, separated, min(len(reference), len(variant)))


def paired_verdict(fractions: Sequence[float]) -> str:
    """Per-seed fractions of steps where the reference's curve is lower: "agrees" if every seed
    (≥ 2) has it lower on most steps, "disagrees" if every seed has it higher on most."""
    if len(fractions) < 2:
        return "inconclusive"
    if min(fractions) > 0.5:
        return "agrees"
    return "disagrees" if max(fractions) < 0.5 else "inconclusive"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub markdown table; `|` inside cells is escaped, short rows are padded."""

    def line(cells: Sequence[str]) -> str:
        cells = [*cells, *[""] * (len(header) - len(cells))]
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    body = [line(header), "|" + "|".join("---" for _ in header) + "|"]
    body += [line(r) for r in rows]
    return "\n".join(body) + "\n"
