"""The build pipeline of the paper's A.4: stages behind protocols, resumable, sharded."""

from .backends import (
    AestheticScorer,
    Captioner,
    KeypointDetector,
    MeshEstimate,
    MeshRecovery,
    PersonDetector,
)
from .geometry import PersonDecision, PersonRule, decide_single_person
from .runner import BuildConfig, build_dataset, detect_scenes, source_id
from .smoothing import smooth_estimate, smooth_rotations
from .stages import (
    AestheticStage,
    CaptionStage,
    ClipContext,
    ForwardKinematicsStage,
    KeypointStage,
    MeshRecoveryStage,
    SinglePersonStage,
    SmoothingStage,
    Stage,
    StageResult,
)

__all__ = [
    "AestheticScorer",
    "AestheticStage",
    "BuildConfig",
    "CaptionStage",
    "Captioner",
    "ClipContext",
    "ForwardKinematicsStage",
    "KeypointDetector",
    "KeypointStage",
    "MeshEstimate",
    "MeshRecovery",
    "MeshRecoveryStage",
    "PersonDecision",
    "PersonDetector",
    "PersonRule",
    "SinglePersonStage",
    "SmoothingStage",
    "Stage",
    "StageResult",
    "build_dataset",
    "decide_single_person",
    "default_stages",
    "detect_scenes",
    "smooth_estimate",
    "smooth_rotations",
    "source_id",
]


def default_stages(
    *,
    aesthetic: AestheticScorer | None = None,
    persons: PersonDetector | None = None,
    keypoints: KeypointDetector | None = None,
    hmr: MeshRecovery | None = None,
    captioner: Captioner | None = None,
    aesthetic_threshold: float = 0.5,
) -> tuple[Stage, ...]:
    """The A.4 stage order with the given backends (None: that stage is skipped)."""
    return (
        AestheticStage(aesthetic, aesthetic_threshold),
        SinglePersonStage(persons),
        KeypointStage(keypoints),
        MeshRecoveryStage(hmr),
        SmoothingStage(),
        ForwardKinematicsStage(),
        CaptionStage(captioner),
    )
