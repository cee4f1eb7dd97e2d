#!/usr/bin/env python3
"""Plot a training run's flow losses from its `metrics.jsonl`: motion and video loss per
paradigm (trailing mean), with the phase boundary marked.

    python experiments/plot_training.py outputs/synth-tiny docs/synth-tiny/losses.png [--window 50]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).with_name("ablations")))
from analysis import read_metrics, series

from echomotion_motion_codec import atomic_path

PARADIGMS = ("motion_only", "joint", "m2v", "v2m")


def plot(run_dir: Path, path: Path, window: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = run_dir / "metrics.jsonl"
    if not log.is_file():
        raise SystemExit(f"run_dir: expected a training run folder holding metrics.jsonl: {log}")
    records = read_metrics(log)
    phase2 = next((int(r["step"]) for r in records if r["phase"] == 2), None)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, modality in zip(axes, ("motion", "video"), strict=True):
        for k, paradigm in enumerate(PARADIGMS):
            loss = series(records, f"loss_{modality}", [paradigm])
            if loss.steps:
                smooth = loss.smoothed(window)
                ax.plot(smooth.steps, smooth.values, color=f"C{k}", label=paradigm, lw=1.2)
        if phase2 is not None:
            ax.axvline(phase2, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(f"{modality} flow loss (mean of last {window})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{run_dir}: {len(records)} steps" + (f", phase 2 from {phase2}" if phase2 else "")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training run's out_dir")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--window", type=int, default=50, help="trailing-mean window (steps)")
    args = parser.parse_args()
    if args.window < 1:
        raise SystemExit(f"--window: expected >= 1, got {args.window}")
    plot(args.run_dir, args.out, args.window)


if __name__ == "__main__":
    main()
