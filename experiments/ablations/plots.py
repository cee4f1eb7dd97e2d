"""The report's figures (matplotlib, headless): smoothed training curves, metric panels and
held-out loss per σ. Every figure is written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from results import SERIES, Run, label, lower_is_better, values
from variants import VARIANTS

from echomotion_motion_codec import atomic_path

__all__ = ["plot_curves", "plot_heldout_sigma", "plot_metrics"]


def _pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _pyplot().close(fig)


STYLES = ("-", "--", ":", "-.")


def color(variant: str) -> str:
    """One colour per variant in every figure."""
    return f"C{list(VARIANTS).index(variant) % 10}"


def plot_curves(
    path: Path, groups: dict[str, list[Run]], threshold: float | None, by_seconds: bool
) -> None:
    plt = _pyplot()
    panels = list(SERIES) + (["motion-seconds"] if by_seconds else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        name = "motion" if panel == "motion-seconds" else panel
        for variant, runs in groups.items():
            for k, run in enumerate(runs):
                s = run.smoothed[name]
                x: Sequence[float] = s.steps
                if panel == "motion-seconds":
                    cum, total = {}, 0.0
                    for r in run.records:
                        total += float(r["seconds"])
                        cum[int(r["step"])] = total
                    x = [cum[step] for step in s.steps]
                ax.plot(
                    x,
                    s.values,
                    STYLES[k % len(STYLES)],
                    color=color(variant),
                    lw=1.2,
                    label=f"{variant} seed {run.seed}",
                )
        if threshold is not None and name == "motion":
            ax.axhline(threshold, color="k", lw=0.8, ls=":", label="threshold")
        title = {"total": "training loss", "video": "video loss", "motion": "generated-motion loss"}
        ax.set_title(title[name] + (" vs step-seconds" if panel == "motion-seconds" else ""))
        ax.set_xlabel("summed step seconds" if panel == "motion-seconds" else "step")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("smoothed (trailing mean) training losses", fontsize=10, y=1.03)
    _save(fig, path)


def plot_metrics(path: Path, groups: dict[str, list[Run]], keys: Sequence[str]) -> list[str]:
    """One panel per metric any run has: per variant the mean over seeds (diamond, error bar =
    half the range) and each seed (dot); the y axis is fitted to the values, not to zero.
    Returns the keys drawn."""
    plt = _pyplot()
    keys = [
        k
        for k in dict.fromkeys(keys)
        if k != "train.below" and any(values(r, k) for r in groups.values())
    ]
    if not keys:
        return []
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.9 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for c, (variant, runs) in enumerate(groups.items()):
            vs = values(runs, key)
            if not vs:
                continue
            mean = sum(vs) / len(vs)
            half = (max(vs) - min(vs)) / 2
            ax.errorbar(c, mean, yerr=half, fmt="D", color=color(variant), ms=6, capsize=4)
            ax.plot([c + 0.12] * len(vs), vs, "k.", ms=4)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_xticks(range(len(groups)), list(groups), rotation=20, fontsize=7, ha="right")
        arrow = "↓" if lower_is_better(key) else "↑"
        ax.set_title(f"{label(key)} {arrow}", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)
    return keys


def plot_heldout_sigma(path: Path, runs: dict[str, list[Run]]) -> bool:
    plt = _pyplot()
    panels = [
        ("joint", "video"),
        ("joint", "motion"),
        ("m2v", "video"),
        ("t2v", "video"),
        ("v2m", "motion"),
        ("motion_only", "motion"),
    ]
    if not any(r.heldout for rs in runs.values() for r in rs):
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, (mode, modality) in zip(axes[0], panels, strict=True):
        for variant, rs in runs.items():
            curves = [r.heldout["modes"][mode][modality] for r in rs if r.heldout]
            if not curves:
                continue
            sigmas = next(r.heldout["sigmas"] for r in rs if r.heldout)
            mean = [sum(col) / len(col) for col in zip(*curves, strict=True)]
            ax.plot(sigmas, mean, "o-", color=color(variant), ms=3, lw=1, label=variant)
        ax.set_title(f"{mode.replace('_', '-')}: {modality}", fontsize=9)
        ax.set_xlabel("σ")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out flow loss")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)
    return True
