"""The single-person decision from person boxes (paper A.4: count and area of the boxes).

Per frame, a box counts as a *main* person when its area is at least `min_area` of the frame
(small background people do not count). A frame is single-person when it has exactly one main
person, or when the second largest main box is below `second_ratio` of the largest (the subject
clearly dominates). A clip passes when at most `max_missing` of its frames have no main person
and at most `max_multi` have several comparable ones. The track is the largest box per frame,
with frames lacking one filled from the nearest frame that has one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PersonDecision", "PersonRule", "decide_single_person"]


@dataclass(frozen=True)
class PersonRule:
    min_area: float = 0.01  # of the frame area
    min_score: float = 0.3
    second_ratio: float = 0.35  # a second box this large (vs the largest) is a second subject
    max_missing: float = 0.2  # fraction of frames allowed without a main person
    max_multi: float = 0.1  # fraction of frames allowed with several main persons


@dataclass(frozen=True)
class PersonDecision:
    ok: bool
    reason: str
    track: np.ndarray  # (T, 4) largest box per frame (filled), empty if no person at all
    area: float  # mean area of the track's boxes as a fraction of the frame
    missing: float
    multi: float


def decide_single_person(
    boxes: list[np.ndarray], width: int, height: int, rule: PersonRule | None = None
) -> PersonDecision:
    rule = rule or PersonRule()
    frame_area = float(width * height)
    t = len(boxes)
    track = np.full((t, 4), np.nan)
    missing = multi = 0
    areas = []
    for i, b in enumerate(boxes):
        b = np.asarray(b, dtype=np.float64).reshape(-1, 5)
        b = b[b[:, 4] >= rule.min_score]
        area = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0) / frame_area
        main = np.sort(area[area >= rule.min_area])[::-1]
        if main.size == 0:
            missing += 1
            continue
        if main.size > 1 and main[1] >= rule.second_ratio * main[0]:
            multi += 1
        k = int(np.argmax(area))
        track[i] = b[k, :4]
        areas.append(float(area[k]))
    frac_missing, frac_multi = missing / max(t, 1), multi / max(t, 1)
    if not areas:
        return PersonDecision(
            False, "no person detected in any frame", np.zeros((0, 4)), 0.0, 1.0, frac_multi
        )
    have = np.nonzero(~np.isnan(track[:, 0]))[0]
    for i in range(t):  # fill gaps from the nearest frame with a box
        if np.isnan(track[i, 0]):
            track[i] = track[have[np.argmin(np.abs(have - i))]]
    area = float(np.mean(areas))
    if frac_missing > rule.max_missing:
        reason = f"no person in {frac_missing:.0%} of frames (allowed {rule.max_missing:.0%})"
        return PersonDecision(False, reason, track, area, frac_missing, frac_multi)
    if frac_multi > rule.max_multi:
        reason = (
            f"several people: a second person at least {rule.second_ratio:.0%} of the main one's "
            f"area in {frac_multi:.0%} of frames (allowed {rule.max_multi:.0%})"
        )
        return PersonDecision(False, reason, track, area, frac_missing, frac_multi)
    return PersonDecision(True, "", track, area, frac_missing, frac_multi)
