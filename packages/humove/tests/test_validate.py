from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from echomotion_humove.cli import app
from echomotion_humove.storage import shard_manifest_path
from echomotion_humove.validate import validate_dataset


def _edit_rows(root: Path, edit: Callable[[list[dict]], list[dict]]) -> None:
    path = shard_manifest_path(root, 0)
    table = pq.read_table(path)
    pq.write_table(pa.Table.from_pylist(edit(table.to_pylist()), schema=table.schema), path)


def _first(root: Path, key: str) -> Path:
    return root / pq.read_table(shard_manifest_path(root, 0)).to_pylist()[0][key]


def _set(i: int, **kw: object) -> Callable[[list[dict]], list[dict]]:
    def edit(rows: list[dict]) -> list[dict]:
        rows[i].update(kw)
        return rows

    return edit


def _nan_motion(root: Path) -> None:
    path = _first(root, "motion_file")
    data = dict(np.load(path))
    data["transl"][3, 1] = np.nan
    np.savez(path, **data)


def _short_motion(root: Path) -> None:
    path = _first(root, "motion_file")
    data = dict(np.load(path))
    for k in ("transl", "global_orient", "pose", "joints"):
        data[k] = data[k][:-2]
    np.savez(path, **data)


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing video": (lambda r: _first(r, "video_file").unlink(), "missing-file"),
    "missing motion": (lambda r: _first(r, "motion_file").unlink(), "missing-file"),
    "corrupt video": (
        lambda r: _first(r, "video_file").write_bytes(b"\x00not a video" * 50),
        "video",
    ),
    "motion with NaN": (_nan_motion, "motion"),
    "motion frame count": (_short_motion, "mismatch"),
    "record fps": (lambda r: _edit_rows(r, _set(0, fps=25.0, end_time=9 / 25.0)), "mismatch"),
    "record frame count": (lambda r: _edit_rows(r, _set(1, num_frames=10)), "mismatch"),
    "record size": (lambda r: _edit_rows(r, _set(0, width=48)), "mismatch"),
    "motion frame name": (lambda r: _edit_rows(r, _set(0, motion_frame="world")), "mismatch"),
    "bad category": (lambda r: _edit_rows(r, _set(0, category="Sports")), "schema"),
    "accepted without caption": (
        lambda r: _edit_rows(
            r,
            _set(
                0,
                caption_appearance=None,
                caption_background=None,
                caption_action=None,
                caption_full=None,
            ),
        ),
        "schema",
    ),
    "duplicate id": (lambda r: _edit_rows(r, lambda rows: [*rows, rows[0]]), "duplicate"),
    "no humove.json": (lambda r: (r / "humove.json").unlink(), "dataset"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_validate_catches(name: str, synthetic_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(synthetic_dataset, root)
    corrupt, kind = CORRUPTIONS[name]
    corrupt(root)
    report = validate_dataset(root)
    assert not report.ok
    assert kind in report.kinds(), report.problems


def test_orphan_file_is_a_warning(synthetic_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(synthetic_dataset, root)
    (root / "media" / "00000" / "stray.mp4").write_bytes(b"x")
    report = validate_dataset(root)
    assert report.ok and [p.kind for p in report.problems] == ["orphan"]


def test_cli_exit_codes(synthetic_dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(synthetic_dataset)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    root = tmp_path / "ds"
    shutil.copytree(synthetic_dataset, root)
    _first(root, "video_file").unlink()
    bad = runner.invoke(app, ["validate", str(root)])
    assert bad.exit_code == 1 and "missing-file" in bad.output
