"""The per-clip stages of the build (paper A.4), each a plug-in behind the `Stage` protocol.

A stage reads the clip through `ClipContext` and returns a `StageResult`: done (possibly with
record updates and quality scores), rejected with a reason, or skipped with a reason (its
backend was not given — never faked). Stages that need a model take a backend; the smoothing
and forward-kinematics stages are ours. Stage artifacts go to the clip's work folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from echomotion_motion_codec import (
    BodyModel,
    MotionValidationError,
    SkeletonBodyModel,
    SMPLMotion,
    save_motion,
)

from ..schema import Caption
from ..video_io import read_video
from .backends import (
    AestheticScorer,
    Captioner,
    KeypointDetector,
    MeshEstimate,
    MeshRecovery,
    PersonDetector,
)
from .geometry import PersonRule, decide_single_person
from .smoothing import smooth_estimate

__all__ = [
    "AestheticStage",
    "CaptionStage",
    "ClipContext",
    "ForwardKinematicsStage",
    "KeypointStage",
    "MeshRecoveryStage",
    "SinglePersonStage",
    "SmoothingStage",
    "Stage",
    "StageResult",
]


@dataclass
class ClipContext:
    """One clip being built: its dataset root, media paths, work folder and size."""

    root: Path
    clip_id: str
    video_file: str
    motion_file: str
    work: Path
    width: int
    height: int
    fps: float
    _frames: np.ndarray | None = field(default=None, repr=False)

    @property
    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8, decoded once."""
        if self._frames is None:
            self._frames, _ = read_video(self.root / self.video_file)
        return self._frames


@dataclass(frozen=True)
class StageResult:
    status: str  # "done" | "rejected" | "skipped"
    reason: str = ""
    quality: dict[str, float] = field(default_factory=dict)
    updates: dict[str, Any] = field(default_factory=dict)  # ClipRecord fields to set

    @staticmethod
    def skipped(reason: str) -> StageResult:
        return StageResult("skipped", reason)

    @staticmethod
    def rejected(reason: str, **quality: float) -> StageResult:
        return StageResult("rejected", reason, quality)


class Stage(Protocol):
    name: str

    def run(self, ctx: ClipContext) -> StageResult: ...


def _no_backend(what: str, option: str) -> StageResult:
    return StageResult.skipped(f"no {what} backend given ({option}); stage not run")


@dataclass
class AestheticStage:
    backend: AestheticScorer | None
    threshold: float = 0.5
    name: str = "aesthetic"

    def run(self, ctx: ClipContext) -> StageResult:
        if self.backend is None:
            return _no_backend("aesthetic scorer", "--aesthetic")
        score = float(self.backend.score(ctx.frames))
        if not score >= self.threshold:
            return StageResult.rejected(
                f"aesthetic score {score:.3g} < {self.threshold:g}", aesthetic=score
            )
        return StageResult("done", quality={"aesthetic": score})


@dataclass
class SinglePersonStage:
    backend: PersonDetector | None
    rule: PersonRule = field(default_factory=PersonRule)
    name: str = "single_person"

    def run(self, ctx: ClipContext) -> StageResult:
        if self.backend is None:
            return _no_backend("person detector", "--persons")
        boxes = self.backend.detect(ctx.frames)
        d = decide_single_person(boxes, ctx.width, ctx.height, self.rule)
        q = {"person_area": d.area, "person_missing": d.missing, "person_multi": d.multi}
        if not d.ok:
            return StageResult("rejected", d.reason, q)
        np.save(ctx.work / "track.npy", d.track)
        return StageResult("done", quality=q)


@dataclass
class KeypointStage:
    backend: KeypointDetector | None
    min_visible: float = 0.6  # mean fraction of keypoints visible per frame
    visibility: float = 0.5
    name: str = "keypoint_visibility"

    def run(self, ctx: ClipContext) -> StageResult:
        if self.backend is None:
            return _no_backend("keypoint detector", "--keypoints")
        kp = np.asarray(self.backend.keypoints(ctx.frames), dtype=np.float64)  # (T, K, 3)
        inside = (
            (kp[..., 0] >= 0)
            & (kp[..., 0] < ctx.width)
            & (kp[..., 1] >= 0)
            & (kp[..., 1] < ctx.height)
        )
        visible = float(((kp[..., 2] >= self.visibility) & inside).mean()) if kp.size else 0.0
        if visible < self.min_visible:
            return StageResult.rejected(
                f"only {visible:.0%} of keypoints visible (needs {self.min_visible:.0%})",
                keypoint_visibility=visible,
            )
        return StageResult("done", quality={"keypoint_visibility": visible})


@dataclass
class MeshRecoveryStage:
    backend: MeshRecovery | None
    name: str = "hmr"

    def run(self, ctx: ClipContext) -> StageResult:
        if self.backend is None:
            return _no_backend("mesh recovery (HMR)", "--hmr")
        track_path = ctx.work / "track.npy"
        t = ctx.frames.shape[0]
        track = (
            np.load(track_path)
            if track_path.is_file()
            else np.tile([0.0, 0.0, ctx.width, ctx.height], (t, 1))
        )
        est = self.backend.recover(ctx.frames, track)
        shapes = {
            "transl": (t, 3),
            "global_orient": (t, 3, 3),
            "pose": (t, 24, 3, 3),
            "betas": (t, 10),
        }
        for name, shape in shapes.items():
            got = np.shape(getattr(est, name))
            if got != shape:
                return StageResult.rejected(
                    f"mesh recovery gave {name} of shape {got}, expected {shape}"
                )
        bad = sorted(
            {
                int(i)
                for name in shapes
                for i in np.nonzero(
                    ~np.isfinite(np.asarray(getattr(est, name))).reshape(t, -1).all(-1)
                )[0]
            }
        )
        if bad:
            return StageResult.rejected(
                f"mesh recovery gave non-finite values in {len(bad)} of {t} frames (first: {bad[:5]})"
            )
        arrays: dict[str, Any] = {k: np.asarray(getattr(est, k)) for k in shapes}
        np.savez(ctx.work / "hmr.npz", **arrays)
        return StageResult("done")


def _load_estimate(path: Path) -> MeshEstimate:
    with np.load(path, allow_pickle=False) as d:
        return MeshEstimate(d["transl"], d["global_orient"], d["pose"], d["betas"])


@dataclass
class SmoothingStage:
    sigma: float = 1.5  # frames
    name: str = "smoothing"

    def run(self, ctx: ClipContext) -> StageResult:
        src = ctx.work / "hmr.npz"
        if not src.is_file():
            return StageResult.skipped("no mesh-recovery output to smooth")
        est = _load_estimate(src)
        smooth = smooth_estimate(est, self.sigma)
        jitter = (
            float(np.abs(np.diff(est.transl, 2, axis=0)).mean()) if len(est.transl) > 2 else 0.0
        )
        np.savez(
            ctx.work / "smoothed.npz",
            **{k: getattr(smooth, k) for k in ("transl", "global_orient", "pose", "betas")},
        )
        return StageResult("done", quality={"transl_jitter_raw": jitter})


@dataclass
class ForwardKinematicsStage:
    body_model: BodyModel = field(default_factory=SkeletonBodyModel)
    name: str = "fk"

    def run(self, ctx: ClipContext) -> StageResult:
        src = ctx.work / "smoothed.npz"
        if not src.is_file():
            return StageResult.skipped("no smoothed SMPL parameters")
        est = _load_estimate(src)
        try:
            motion = SMPLMotion.from_rotations(
                torch.from_numpy(est.transl).float(),
                torch.from_numpy(est.global_orient).float(),
                torch.from_numpy(est.pose).float(),
                torch.from_numpy(est.betas[0]).float(),
                fps=ctx.fps,
                body_model=self.body_model,
                frame="camera",
            )
        except MotionValidationError as err:
            return StageResult.rejected(f"invalid motion: {err}")
        save_motion(ctx.root / ctx.motion_file, motion)
        return StageResult(
            "done", updates={"motion_file": ctx.motion_file, "motion_frame": "camera"}
        )


@dataclass
class CaptionStage:
    backend: Captioner | None
    name: str = "caption"

    def run(self, ctx: ClipContext) -> StageResult:
        if self.backend is None:
            return _no_backend("captioner", "--captioner")
        cap = self.backend.caption(ctx.frames)
        if not isinstance(cap, Caption) or not cap.full.strip():
            return StageResult.rejected("captioner returned no caption")
        return StageResult("done", updates={"caption": cap.model_dump()})
