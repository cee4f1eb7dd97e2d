#!/usr/bin/env python3
"""Read the ablation runs and write `docs/ablations.md` and its plots under `docs/ablations/`.

    python experiments/ablations/report.py [--out outputs/ablations] [--docs docs] [--window 30]

Every sentence that judges a result is made from the numbers here (analysis.py); the only
fixed text is what the paper claims (variants.ABLATIONS) and how each figure is defined.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from analysis import (
    compare,
    cost_to_threshold,
    format_spread,
    fraction_below,
    markdown_table,
    paired_verdict,
)
from plots import plot_curves, plot_heldout_sigma, plot_metrics
from results import OVERVIEW, Run, label, load_runs, lower_is_better, read_json, values
from variants import ABLATIONS, VARIANTS, Ablation

from echomotion_motion_codec import atomic_path
from echomotion_trainer.config import load_config


def phases_threshold(runs: dict[str, list[Run]], ablation: Ablation) -> float | None:
    """Ablation 3's threshold: the one-phase runs' final smoothed generated-motion loss (mean
    over seeds); sets each compared run's `threshold_cost`."""
    one = runs.get(ablation.variant, [])
    finals = [v for r in one if (v := r.smoothed["motion"].final) is not None]
    if not finals:
        return None
    threshold = sum(finals) / len(finals)
    for r in runs.get(ablation.reference, []) + one:
        r.threshold_cost = cost_to_threshold(r.smoothed["motion"], r.records, threshold)
    return threshold


def _cell(runs: Sequence[Run], key: str) -> str:
    if key.startswith("threshold."):
        missed = sum(r.threshold_cost is None for r in runs)
        note = (
            f" ({missed} of {len(runs)} never reached it: whole budget counted)" if missed else ""
        )
        return format_spread(values(runs, key), 4) + note
    digits = 4 if key.startswith(("heldout.", "train.")) else 3
    return format_spread(values(runs, key), digits)


def _below(ref: Sequence[Run], var: Sequence[Run]) -> list[float]:
    by_seed = {r.seed: r for r in var}
    out = []
    for r in ref:
        if r.seed in by_seed:
            f = fraction_below(r.smoothed["total"], by_seed[r.seed].smoothed["total"])
            if f is not None:
                out.append(f)
    return out


def percent(x: float) -> str:
    """A signed relative change with two significant figures below 1%."""
    return f"{x:+.2%}" if abs(x) < 0.01 else f"{x:+.1%}"


def _judge(
    ablation: Ablation, runs: dict[str, list[Run]]
) -> tuple[list[list[str]], list[str], list[str]]:
    """Table rows, the verdict of each primary metric, and a sentence for each primary metric.

    Verdict of a primary metric: agrees / disagrees / inconclusive against the paper (or the
    neutral outcome when the paper expects nothing); secondary rows show the neutral outcome in
    parentheses — shown, not judged."""
    ref, var = runs[ablation.reference], runs[ablation.variant]
    rows: list[list[str]] = []
    verdicts: list[str] = []
    judged: list[str] = []

    def named(outcome: str) -> str:
        outcome = outcome.replace("reference", ablation.reference)
        return "(" + outcome.replace("variant", ablation.variant) + ")"

    for key in dict.fromkeys((*ablation.primary, *ablation.secondary)):
        primary = key in ablation.primary
        name = label(key) + (" (primary)" if primary else "")
        if key == "train.below":
            fr = _below(ref, var)
            if not fr:
                continue
            verdict = paired_verdict(fr) if ablation.expect_reference_better else "—"
            shares = ", ".join(f"{f:.0%}" for f in fr)
            rows.append([name, f"{shares} (per seed)", "", "", verdict])
            judged.append(
                f"{ablation.reference}'s smoothed training loss is below {ablation.variant}'s "
                f"on {shares} of the steps (one figure per seed)"
            )
        else:
            rv, vv = values(ref, key), values(var, key)
            if not rv or not vv:
                continue
            cmp = compare(rv, vv, lower_is_better=lower_is_better(key))
            if primary and ablation.expect_reference_better:
                verdict = cmp.verdict(True)
            else:
                verdict = named(cmp.outcome())
            extra = [_cell(runs[v], key) for v in ablation.extra if v in runs]
            rows.append(
                [name, _cell(ref, key), _cell(var, key), percent(cmp.relative), verdict, *extra]
            )
            if primary:
                judged.append(
                    f"{label(key)}: {cmp.sentence(ablation.variant, lower_is_better(key))}"
                )
        if primary:
            verdicts.append(verdict)
    return rows, verdicts, judged


def _step_counts(groups: dict[str, list[Run]]) -> str:
    """How many steps trained each loss (runs of one budget differ in what their steps train)."""

    def mean_count(runs: Sequence[Run], key: str) -> float:
        return sum(len(r.series(key).steps) for r in runs) / len(runs)

    parts = [
        f"`{v}` {mean_count(rs, 'video'):.0f} / {mean_count(rs, 'motion'):.0f}"
        for v, rs in groups.items()
    ]
    return (
        "Steps that trained a video loss / a generated-motion loss (mean over seeds): "
        + ", ".join(parts)
        + ".\n\n"
    )


def _summary(ablation: Ablation, verdicts: Sequence[str]) -> str:
    n = len(verdicts)
    if ablation.expect_reference_better:
        agree, disagree = verdicts.count("agrees"), verdicts.count("disagrees")
        overall = (
            "agrees with the paper" if agree and not disagree
            else "disagrees with the paper" if disagree and not agree
            else "is mixed" if agree and disagree
            else "cannot tell (no difference beyond seed spread; a verdict needs ≥ 2 seeds)"
        )  # fmt: skip
        return (
            f"**Miniature vs paper: it {overall}** — of {n} primary metrics, {agree} agree, "
            f"{disagree} disagree, {n - agree - disagree} inconclusive.\n\n"
        )
    ref_better = verdicts.count(f"({ablation.reference} better)")
    var_better = verdicts.count(f"({ablation.variant} better)")
    return (
        f"**Miniature (no paper claim):** of {n} primary metrics, `{ablation.reference}` is "
        f"better beyond seed spread on {ref_better}, `{ablation.variant}` on {var_better}, "
        f"{n - ref_better - var_better} undecided.\n\n"
    )


def ablation_section(
    ablation: Ablation, runs: dict[str, list[Run]], docs: Path, window: int
) -> str:
    ref, var = runs.get(ablation.reference, []), runs.get(ablation.variant, [])
    head = f"## {ablation.title}\n\n**Paper:** {ablation.claim}\n\n"
    if not ref or not var:
        missing = [v for v in (ablation.reference, ablation.variant) if not runs.get(v)]
        return head + f"_Not run yet: no finished runs of {', '.join(missing)}._\n"
    threshold = phases_threshold(runs, ablation) if ablation.key == "phases" else None
    groups = {
        v: runs[v] for v in (ablation.reference, ablation.variant, *ablation.extra) if v in runs
    }
    text = head
    if threshold is not None:
        text += (
            f"Threshold: {threshold:.4f}, the final smoothed generated-motion loss of "
            f"`{ablation.variant}` (mean over its seeds; trailing mean of {window} values). Cost "
            "to reach it: the step, and the summed compute seconds of the steps up to it "
            "(phase-1 steps carry no video tokens, so they are cheaper).\n\n"
        )
    rows, verdicts, judged = _judge(ablation, runs)
    header = ["metric", ablation.reference, ablation.variant, "Δ", "verdict"]
    header += [f"{v} (context)" for v in ablation.extra if v in runs]
    text += markdown_table(header, rows) + "\n"
    text += _summary(ablation, verdicts) + "".join(f"- {line}\n" for line in judged) + "\n"
    text += _step_counts(groups)
    if ablation.key == "phases" and threshold is not None:
        text += _phase_ratio(ref, var)
    curves = docs / "ablations" / f"{ablation.key}_curves.png"
    plot_curves(curves, groups, threshold, by_seconds=ablation.key == "phases")
    text += f"![training curves](ablations/{curves.name})\n"
    bars = docs / "ablations" / f"{ablation.key}_metrics.png"
    if plot_metrics(bars, groups, (*ablation.primary, *ablation.secondary)):
        text += f"![metrics](ablations/{bars.name})\n"
    return text


def _phase_ratio(ref: Sequence[Run], var: Sequence[Run]) -> str:
    def mean(runs: Sequence[Run], key: str) -> float:
        vs = values(runs, key)
        return sum(vs) / len(vs)

    steps = mean(var, "threshold.steps") / max(mean(ref, "threshold.steps"), 1e-9)
    secs = mean(var, "threshold.seconds") / max(mean(ref, "threshold.seconds"), 1e-9)
    censored = any(r.threshold_cost is None for r in ref)
    note = " (a two-phase run never reached it: its full budget is counted)" if censored else ""
    return (
        f"Speed-up of two-phase training to the threshold: {steps:.2f}× in steps, {secs:.2f}× in "
        f"step-seconds{note}; the paper reports more than 20× in GPU hours.\n\n"
    )


def overview(runs: dict[str, list[Run]]) -> str:
    rows = []
    for name, rs in runs.items():
        minutes = [r.info.get("seconds", {}).get("train", 0.0) / 60 for r in rs]
        params = next((r.heldout.get("parameters") for r in rs if r.heldout), None)
        rows.append(
            [
                f"`{name}`",
                ", ".join(str(r.seed) for r in rs),
                format_spread(minutes, 2),
                "—" if params is None else f"{params / 1e6:.2f}",
                *(_cell(rs, k) for k in OVERVIEW),
            ]
        )
    header = ["variant", "seeds", "train min", "params (M)", *(label(k) for k in OVERVIEW)]
    return markdown_table(header, rows)


def variants_table(runs: dict[str, list[Run]]) -> str:
    rows = [
        [
            f"`{v.name}`",
            v.description,
            " ".join(f"`{o}`" for o in v.overrides) or "—",
            str(len(runs.get(v.name, []))),
        ]
        for v in VARIANTS.values()
    ]
    return markdown_table(["variant", "what", "overrides on the base", "runs"], rows)


def write_report(out: Path, docs: Path, window: int = 30) -> Path:
    settings = read_json(out / "ablation.json") or {}
    runs = load_runs(out, window)
    if not runs:
        raise SystemExit(f"{out}: no finished runs (python experiments/ablations/run.py first)")
    any_run = next(iter(runs.values()))[0]
    config = (any_run.path / "config.yaml").read_text().strip()
    model = load_config(any_run.path / "config.yaml").model
    width = (model.num_attention_heads or 0) * (model.attention_head_dim or 0)
    held = next((r.heldout for rs in runs.values() for r in rs if r.heldout), None)
    sigmas = ", ".join(f"{s:g}" for s in held["sigmas"]) if held else "?"
    made = settings.get("command", "python experiments/ablations/run.py")
    parts = [
        "# EchoMotion's ablations in miniature (paper A.8 and Table 1)\n",
        "Generated by `experiments/ablations/report.py`; do not edit by hand. Made with:\n",
        f"```bash\n{made}\npython experiments/ablations/report.py --out {out_arg(out)} --docs {out_arg(docs)}\n```\n",
        f"Budget: {settings.get('steps', '?')} steps per run ({settings.get('phase1_steps', '?')} "
        "motion-only + the rest joint/m2v/v2m for two-phase variants, all in phase 2 for "
        f"one-phase ones); seeds {settings.get('seeds', '?')}. Base: the `synth-tiny` recipe "
        "with 2 layers, raw (non-EMA) weights; see experiments/ablations/variants.py for why.\n",
        variants_table(runs),
        "\n## How to read the numbers\n",
        f"- Cells are mean ± half the seed range (with two seeds: the two values are mean ± "
        f"spread). Training losses are smoothed by a trailing mean of {window} logged values; "
        "*final* is the last smoothed value.\n"
        f"- Held-out losses: {settings.get('heldout_clips', '?')} synthetic clips no run trained "
        f"on, flow loss averaged over σ ∈ {{{sigmas}}} with the same noise for every run "
        "(experiments/ablations/heldout.py has the per-mode inputs). Lower is better.\n"
        f"- Sampled metrics: `evaluate_checkpoint` on {settings.get('eval_clips', '?')} clips, "
        f"{settings.get('eval_steps', '?')} solver steps (packages/trainer/README.md, "
        "Evaluation). Video-only runs are not sampled: they never saw motion.\n"
        "- *Generated-motion loss*: motion flow loss of phase-1 motion-only and phase-2 joint "
        "steps (v2m steps read the motion off a clean video and are left out).\n"
        "- *verdict* of a primary metric: agrees / disagrees with the paper when each side has "
        "≥ 2 seeds and their ranges do not overlap, else inconclusive; secondary metrics show "
        "the neutral outcome in parentheses and are not judged. *Δ*: the variant's change "
        "relative to the reference's mean.\n",
        "\n## All runs\n",
        overview(runs),
    ]
    if plot_heldout_sigma(docs / "ablations" / "heldout_sigma.png", runs):
        parts.append("\n![held-out loss per σ](ablations/heldout_sigma.png)\n")
    for ablation in ABLATIONS:
        parts.append("\n" + ablation_section(ablation, runs, docs, window))
    parts.append(
        "\n## Caveats\n\n"
        f"- A miniature: {model.num_layers} layers of width {width}, trained from scratch for "
        f"{settings.get('steps', '?')} steps on small synthetic clips. The paper fine-tunes pretrained Wan models for thousands of GPU "
        "hours; effects that rest on a pretrained video prior (A.8.1's 'disrupting the "
        "pre-trained generative priors', s = 1 keeping Wan's RoPE) cannot show here.\n"
        "- Two seeds give a range, not a confidence interval.\n"
        f"\n<details><summary>resolved config of one run ({any_run.variant}, seed "
        f"{any_run.seed})</summary>\n\n```yaml\n{config}\n```\n</details>\n"
    )
    path = docs / "ablations.md"
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path


def out_arg(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="outputs/ablations", help="where run.py wrote the runs")
    p.add_argument("--docs", default="docs", help="writes DOCS/ablations.md and DOCS/ablations/")
    p.add_argument("--window", type=int, default=30, help="trailing-mean window (logged values)")
    args = p.parse_args(argv)
    path = write_report(Path(args.out), Path(args.docs), args.window)
    print(f"wrote {path} and {Path(args.docs) / 'ablations'}/*.png")


if __name__ == "__main__":
    main()
