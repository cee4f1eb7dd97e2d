from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from echomotion_humove.schema import Caption, ClipRecord, StageOutcome, join_caption
from echomotion_humove.storage import (
    init_dataset,
    list_shards,
    read_manifest,
    write_shard_manifest,
)
from echomotion_humove.taxonomy import MAJOR_CATEGORIES, SUBCATEGORIES, TAXONOMY, major_of


def _record(**kw: object) -> ClipRecord:
    base: dict[str, object] = dict(
        id="clip-1",
        source="raw/a.mp4",
        shard=0,
        start_time=1.0,
        end_time=3.0,
        fps=16.0,
        num_frames=32,
        width=64,
        height=64,
    )
    base.update(kw)
    return ClipRecord.model_validate(base)


def test_taxonomy_is_table_2() -> None:
    assert len(MAJOR_CATEGORIES) == 9 and len(SUBCATEGORIES) == 38
    assert major_of("Boxing") == "Combat Sports" and "Surfing" in TAXONOMY["Water Sports"]


def test_category_validated_against_taxonomy() -> None:
    _record(category="Combat Sports", subcategory="Boxing")
    with pytest.raises(ValidationError, match="belongs to 'Combat Sports'"):
        _record(category="Water Sports", subcategory="Boxing")
    with pytest.raises(ValidationError, match="not one of the 9 major"):
        _record(category="Sports")
    with pytest.raises(ValidationError, match="without its category"):
        _record(subcategory="Golf")


def test_record_checks_id_times_and_provenance() -> None:
    with pytest.raises(ValidationError, match="id"):
        _record(id="bad id/with slash")
    with pytest.raises(ValidationError, match="end_time"):
        _record(end_time=0.5)
    with pytest.raises(ValidationError, match="needs a stage outcome"):
        _record(status="rejected")
    with pytest.raises(ValidationError, match="contradicts"):
        _record(stages=[StageOutcome(stage="aesthetic", status="rejected", reason="low")])
    with pytest.raises(ValidationError, match="motion_frame"):
        _record(motion_file="m.npz")
    rec = _record(
        status="rejected",
        stages=[StageOutcome(stage="aesthetic", status="rejected", reason="score 0.1 < 0.5")],
    )
    assert rec.rejection is not None and rec.rejection.stage == "aesthetic"


def test_caption_join() -> None:
    assert (
        join_caption("a person in a red t-shirt", "in front of a green wall", "jumps twice")
        == "A person in a red t-shirt jumps twice in front of a green wall."
    )
    assert join_caption("A man in red.", "A gym.", "He jumps") == "A man in red. He jumps. A gym."
    assert Caption.from_parts("a", "c", "b").full == "A b c."


def test_manifest_round_trip(tmp_path: Path) -> None:
    root = init_dataset(tmp_path / "ds", name="t")
    cap = Caption.from_parts("a person in a red t-shirt", "in front of a wall", "waves")
    recs = [
        _record(
            id="a",
            caption=cap,
            category="Ball Sports",
            subcategory="Golf",
            quality={"aesthetic": 5.5},
            world_from_camera=[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
            focal=60.0,
        ),
        _record(
            id="b",
            status="rejected",
            stages=[StageOutcome(stage="single_person", status="rejected", reason="2 people")],
        ),
    ]
    write_shard_manifest(root, 0, recs)
    assert list_shards(root) == [0]
    back = read_manifest(root)
    assert back == recs
    assert [r.id for r in read_manifest(root, status="rejected")] == ["b"]
    with pytest.raises(ValueError, match="shard"):
        write_shard_manifest(root, 1, recs)
    assert not list(root.glob("manifest/.*"))  # no temp files left
