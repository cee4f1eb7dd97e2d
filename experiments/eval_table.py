#!/usr/bin/env python3
"""The README's evaluation table from `echomotion eval` reports: one column per report, one row
per figure, and a last column of model-free references on the same held-out clips.

    python experiments/eval_table.py "shipped=docs/eval/synth-tiny.json" \
        "previous=docs/eval/synth-tiny-stage3.json" --references

Columns are `LABEL=REPORT.json`; a figure a report lacks is "—". `--references` adds what
ignoring the input scores (v2m: another clip's motion; m2v: the backdrop with nobody in it,
`experiments/eval_references.py`'s `reference_scores`), chance for the classifiers and the data's own motion statistics,
computed on the first report's clips (seeds, size, frames, fps, camera range).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# (mode, row label, [(metric, format)], reference key)
ROWS: tuple[tuple[str, str, tuple[tuple[str, str], ...], str], ...] = (
    ("v2m", "MPJPE / PA-MPJPE (mm) against the clip's motion",
     (("mpjpe_mm", ".1f"), ("pa_mpjpe_mm", ".1f")), "v2m_pose"),
    ("v2m", "joint-angle error (°)", (("joint_angle_error_deg", ".1f"),), "v2m_angle"),
    ("m2v", "PSNR (dB) / SSIM of the video against the ground-truth rendering",
     (("psnr_db", ".2f"), ("ssim", ".3f")), "m2v_video"),
    ("m2v", "MPJPE / PA-MPJPE (mm) of a v2m recovery from the generated video",
     (("recovery_mpjpe_mm", ".1f"), ("recovery_pa_mpjpe_mm", ".1f")), ""),
    ("m2v", "clothing colour accuracy, shirt / trousers",
     (("shirt_color_accuracy", ".2f"), ("trousers_color_accuracy", ".2f")), "colors"),
    ("joint", "consistency PSNR (dB) / SSIM: generated motion rendered vs generated video",
     (("consistency_psnr_db", ".2f"), ("consistency_ssim", ".3f")), ""),
    ("joint", "clothing colour accuracy, shirt / trousers",
     (("shirt_color_accuracy", ".2f"), ("trousers_color_accuracy", ".2f")), "colors"),
    ("joint", "acceleration (m/s²) / jitter (m/s³)",
     (("accel_m_s2", ".1f"), ("jitter_m_s3", ".1f")), "data_accel"),
    ("joint", "foot-skating ratio", (("foot_skating_ratio", ".2f"),), "data_skating"),
    ("joint", "text following: action-classifier accuracy", (("text_accuracy", ".2f"),),
     "actions"),
)  # fmt: skip


def cell(metrics: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> str:
    values = [metrics.get(name) for name, _ in fields]
    if any(v is None for v in values):
        return "—"
    return " / ".join(format(v, fmt) for v, (_, fmt) in zip(values, fields, strict=True))


def references(report: dict[str, Any]) -> dict[str, str]:
    """Model-free figures on the report's clips."""
    from eval_references import reference_scores

    from echomotion_humove.action_classifier import ACTIONS
    from echomotion_humove.synth.appearance import CLOTH_COLORS
    from echomotion_trainer.evaluation import make_clips

    clips = make_clips(
        report["clips"],
        seed=report["seed"],
        width=report["width"],
        height=report["height"],
        num_frames=report["num_frames"],
        fps=report["fps"],
        camera_distance=tuple(report["camera_distance"]),
    )
    scores = reference_scores(clips)
    v2m, m2v = scores["v2m_another_clip"], scores["m2v_backdrop_only"]
    chance = 1 / len(CLOTH_COLORS)
    out = {
        "v2m_pose": f"another clip's motion: {v2m['mpjpe_mm']:.1f} / {v2m['pa_mpjpe_mm']:.1f}",
        "v2m_angle": f"another clip's motion: {v2m['joint_angle_error_deg']:.1f}",
        "m2v_video": f"backdrop, no person: {m2v['psnr_db']:.2f} / {m2v['ssim']:.3f}",
        "colors": f"chance: {chance:.2f} / {chance:.2f}",
        "actions": f"chance: {1 / len(ACTIONS):.2f}",
    }
    joint = report["metrics"].get("joint", {})
    if "data_accel_m_s2" in joint:
        out["data_accel"] = (
            f"data: {joint['data_accel_m_s2']:.1f} / {joint['data_jitter_m_s3']:.1f}"
        )
        out["data_skating"] = f"data: {joint['data_foot_skating_ratio']:.2f}"
    return out


def table(columns: list[tuple[str, dict[str, Any]]], refs: dict[str, str] | None) -> str:
    head = ["mode", "metric", *(label for label, _ in columns)]
    if refs is not None:
        head.append("reference (no model)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode, label, fields, ref in ROWS:
        row = [mode, label]
        row += [cell(report["metrics"].get(mode, {}), fields) for _, report in columns]
        if refs is not None:
            row.append(refs.get(ref, ""))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("columns", nargs="+", help="LABEL=REPORT.json, one per column")
    parser.add_argument("--references", action="store_true", help="add the no-model column")
    args = parser.parse_args()
    columns = []
    for spec in args.columns:
        label, sep, path = spec.rpartition("=")
        if not sep or not label:
            raise SystemExit(f"columns: expected LABEL=REPORT.json, got {spec!r}")
        if not Path(path).is_file():
            raise SystemExit(f"columns: no report at {path}")
        report = json.loads(Path(path).read_text())
        if report.get("format") != "echomotion.eval":
            raise SystemExit(f"columns: {path} is not an `echomotion eval` report")
        columns.append((label, report))
    refs = references(columns[0][1]) if args.references else None
    print(table(columns, refs))


if __name__ == "__main__":
    main()
