"""The motion codec's own demo command (pack, unpack, npz, BVH, skeleton video) in a subprocess."""

import subprocess
import sys
from pathlib import Path

import av


def test_main_job_writes_motion_bvh_and_video(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "echomotion_motion_codec",
            "demo",
            "--out",
            str(out),
            "--frames",
            "17",
            "--size",
            "64",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "51 tokens per frame" in result.stdout
    assert {p.name for p in out.iterdir()} == {"walk.npz", "walk.bvh", "walk_skeleton.mp4"}
    with av.open(str(out / "walk_skeleton.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 17
