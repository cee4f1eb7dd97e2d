"""HuMoVe: the paired video/motion/caption dataset of EchoMotion (README.md lists the API).

Names resolve lazily (PEP 562): `import echomotion_humove` imports neither torch nor PyAV.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Caption": "schema",
    "ClipRecord": "schema",
    "ClipStatus": "schema",
    "StageOutcome": "schema",
    "StageStatus": "schema",
    "init_dataset": "storage",
    "read_manifest": "storage",
    "read_dataset_info": "storage",
    "list_shards": "storage",
    "LatentDataset": "datasets",
    "MotionDataset": "datasets",
    "PairedDataset": "datasets",
    "motion_from_batch": "datasets",
    "TextEncoder": "encode",
    "VideoEncoder": "encode",
    "encode_dataset": "encode",
    "load_null_text": "encode",
    "missing_windows": "encode",
    "HumanML3DDataset": "motion_only",
    "import_amass": "motion_only",
    "read_amass_in_camera": "motion_only",
    "read_humanml3d": "motion_only",
    "Window": "windows",
    "clip_windows": "windows",
    "dataset_windows": "windows",
    "VideoInfo": "video_io",
    "VideoReadError": "video_io",
    "probe_video": "video_io",
    "read_video": "video_io",
    "CameraRange": "virtual_camera",
    "VirtualCamera": "virtual_camera",
    "place_in_camera": "virtual_camera",
    "sample_camera": "virtual_camera",
    "ValidationReport": "validate",
    "validate_dataset": "validate",
    "BuildConfig": "pipeline",
    "build_dataset": "pipeline",
    "default_stages": "pipeline",
    "AestheticScorer": "pipeline",
    "Captioner": "pipeline",
    "KeypointDetector": "pipeline",
    "MeshRecovery": "pipeline",
    "PersonDetector": "pipeline",
    "SynthConfig": "synth.writer",
    "write_synthetic_dataset": "synth.writer",
    "synthesize_clip": "synth",
    "synthesize_motion": "synth",
}

__all__ = [
    "AestheticScorer",
    "BuildConfig",
    "CameraRange",
    "Caption",
    "Captioner",
    "ClipRecord",
    "ClipStatus",
    "HumanML3DDataset",
    "KeypointDetector",
    "LatentDataset",
    "MeshRecovery",
    "MotionDataset",
    "PairedDataset",
    "PersonDetector",
    "StageOutcome",
    "StageStatus",
    "SynthConfig",
    "TextEncoder",
    "ValidationReport",
    "VideoEncoder",
    "VideoInfo",
    "VideoReadError",
    "VirtualCamera",
    "Window",
    "build_dataset",
    "clip_windows",
    "dataset_windows",
    "default_stages",
    "encode_dataset",
    "import_amass",
    "init_dataset",
    "list_shards",
    "load_null_text",
    "missing_windows",
    "motion_from_batch",
    "place_in_camera",
    "probe_video",
    "read_amass_in_camera",
    "read_dataset_info",
    "read_humanml3d",
    "read_manifest",
    "read_video",
    "sample_camera",
    "synthesize_clip",
    "synthesize_motion",
    "validate_dataset",
    "write_synthetic_dataset",
]

if TYPE_CHECKING:
    from .datasets import LatentDataset, MotionDataset, PairedDataset, motion_from_batch
    from .encode import TextEncoder, VideoEncoder, encode_dataset, load_null_text, missing_windows
    from .motion_only import HumanML3DDataset, import_amass, read_amass_in_camera, read_humanml3d
    from .pipeline import (
        AestheticScorer,
        BuildConfig,
        Captioner,
        KeypointDetector,
        MeshRecovery,
        PersonDetector,
        build_dataset,
        default_stages,
    )
    from .schema import Caption, ClipRecord, ClipStatus, StageOutcome, StageStatus
    from .storage import init_dataset, list_shards, read_dataset_info, read_manifest
    from .synth import synthesize_clip, synthesize_motion
    from .synth.writer import SynthConfig, write_synthetic_dataset
    from .validate import ValidationReport, validate_dataset
    from .video_io import VideoInfo, VideoReadError, probe_video, read_video
    from .virtual_camera import CameraRange, VirtualCamera, place_in_camera, sample_camera
    from .windows import Window, clip_windows, dataset_windows


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'echomotion_humove' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return [*globals(), *__all__]
