"""The clip record: one row of a HuMoVe manifest (pydantic, because it is serialized).

A record is kept for every clip the pipeline ever saw — accepted, rejected or partly processed —
so nothing is lost silently: a rejected clip names the stage that rejected it and why.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .taxonomy import validate_category

__all__ = [
    "CLIP_ID_PATTERN",
    "Caption",
    "ClipRecord",
    "ClipStatus",
    "StageOutcome",
    "StageStatus",
    "join_caption",
]

CLIP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
_CLIP_ID = re.compile(CLIP_ID_PATTERN)

ClipStatus = Literal["accepted", "rejected", "partial"]
StageStatus = Literal["done", "rejected", "skipped"]


def join_caption(appearance: str, background: str, action: str) -> str:
    """The full caption from its three parts, in the order appearance, action, background.

    Fragments ("a person in a red t-shirt", "jumps twice", "in front of a green wall") join into
    one sentence; parts that are already sentences (ending in a period) are joined as they are.
    """
    parts = [p.strip() for p in (appearance, action, background) if p.strip()]
    if not parts:
        return ""
    if any(p.endswith((".", "!", "?")) for p in parts):
        return " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)
    text = " ".join(parts)
    return text[0].upper() + text[1:] + "."


class Caption(BaseModel):
    """The three-part caption of the paper (appearance, background, action) and their join."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    appearance: str
    background: str
    action: str
    full: str

    @classmethod
    def from_parts(cls, appearance: str, background: str, action: str) -> Caption:
        return cls(
            appearance=appearance,
            background=background,
            action=action,
            full=join_caption(appearance, background, action),
        )


class StageOutcome(BaseModel):
    """What one pipeline stage decided about a clip."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str
    status: StageStatus
    reason: str = ""


class ClipRecord(BaseModel):
    """One clip of a HuMoVe dataset.

    Paths (`video_file`, `motion_file`) are relative to the dataset root. Times are seconds in
    the source video; `num_frames` frames at `fps` cover [start_time, end_time).
    `world_from_camera` (4×4, row-major) is known for synthetic clips and placed mocap, so a
    camera-frame motion can be exported in the world frame; `focal` (pixels; principal point at
    the image centre) is the camera's intrinsics where known, so motion can be projected.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    source: str
    shard: int = Field(ge=0)
    start_time: float = Field(ge=0.0)
    end_time: float = Field(ge=0.0)
    fps: float = Field(gt=0.0)
    num_frames: int = Field(ge=0)
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    category: str | None = None
    subcategory: str | None = None
    action_label: str | None = None
    caption: Caption | None = None
    video_file: str | None = None
    motion_file: str | None = None
    motion_frame: Literal["camera", "world"] | None = None
    world_from_camera: tuple[tuple[float, float, float, float], ...] | None = None
    focal: float | None = Field(default=None, gt=0.0)  # pixels, principal point at the centre
    quality: dict[str, float] = Field(default_factory=dict)
    stages: tuple[StageOutcome, ...] = ()
    status: ClipStatus = "accepted"

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _CLIP_ID.match(value):
            raise ValueError(
                f"id: expected letters, digits, '_', '.', '-' (1–128, not starting with a "
                f"punctuation mark), got {value!r}"
            )
        return value

    @field_validator("world_from_camera")
    @classmethod
    def _check_matrix(
        cls, value: tuple[tuple[float, ...], ...] | None
    ) -> tuple[tuple[float, ...], ...] | None:
        if value is not None and (len(value) != 4 or any(len(r) != 4 for r in value)):
            raise ValueError("world_from_camera: expected a 4×4 matrix (4 rows of 4 numbers)")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> ClipRecord:
        validate_category(self.category, self.subcategory)
        if self.end_time < self.start_time:
            raise ValueError(
                f"end_time: expected >= start_time ({self.start_time}), got {self.end_time}"
            )
        if self.motion_file is not None and self.motion_frame is None:
            raise ValueError("motion_frame: required when motion_file is set")
        rejected = [s for s in self.stages if s.status == "rejected"]
        if self.status == "rejected" and not rejected:
            raise ValueError("status 'rejected' needs a stage outcome that rejected the clip")
        if self.status != "rejected" and rejected:
            raise ValueError(
                f"status {self.status!r} contradicts stage {rejected[0].stage!r} which rejected the clip"
            )
        return self

    @property
    def rejection(self) -> StageOutcome | None:
        """The stage outcome that rejected this clip, if any."""
        return next((s for s in self.stages if s.status == "rejected"), None)
