"""experiments/eval_table.py: one column per report, "—" for a figure a report lacks."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))

import eval_table  # noqa: E402


def test_columns_and_missing_figures() -> None:
    full = {"metrics": {"v2m": {"mpjpe_mm": 250.04, "pa_mpjpe_mm": 190.0}}}
    empty: dict = {"metrics": {}}
    text = eval_table.table([("a", full), ("b", empty)], {"v2m_pose": "ref"})
    lines = text.splitlines()
    assert lines[0] == "| mode | metric | a | b | reference (no model) |"
    assert len(lines) == 2 + len(eval_table.ROWS)
    assert lines[2].endswith("| 250.0 / 190.0 | — | ref |")
    assert lines[3].endswith("| — | — |  |")  # joint-angle error: neither report has it


def test_cli_reads_reports(tmp_path: Path) -> None:
    report = {"format": "echomotion.eval", "metrics": {"m2v": {"psnr_db": 19.0, "ssim": 0.5}}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    run = [sys.executable, str(ROOT / "experiments" / "eval_table.py")]
    ok = subprocess.run([*run, f"x={path}"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "| 19.00 / 0.500 |" in ok.stdout
    bad = subprocess.run([*run, str(path)], capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "LABEL=REPORT.json" in bad.stderr
