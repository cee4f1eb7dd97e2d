"""Motion-only data for phase 1: AMASS and HumanML3D, placed into a camera frame.

DESIGN §3: one model trains in the camera frame, so mocap (world frame, y up) is seen through a
virtual camera sampled like the synthetic world's (yaw, distance, height, small pitch).

AMASS `.npz` → `SMPLMotion` via the codec's `read_amass` (z up turned y up), then placed in a
camera: a full SMPL motion. `import_amass` writes such motions as a motion-only HuMoVe dataset
(records without video; status "partial" when no caption is given, since AMASS has none).

HumanML3D (`new_joints/ID.npy` (T, 22, 3) y up at 20 fps; `texts/ID.txt` lines
`caption#tokens#start#end`) has joint positions only, no rotations. Decision: it stays a
joints-only record (`JointsSequence`) with a mask, rather than rotations guessed by inverse
kinematics: joints 22/23 (SMPL's hands, absent from the 22-joint skeleton) are filled with the
wrists and masked out, and `rotations_valid` is False, so a trainer takes the position tokens
(v, η) from it and masks the rotation and shape tokens. `HumanML3DDataset` serves windows of it;
a caption's time span `start#end` (seconds, `0#0` or NaN = the whole clip) becomes the frame
range `int(start·20) : int(end·20)`.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from echomotion_motion_codec import (
    BodyModel,
    SkeletonBodyModel,
    SMPLMotion,
    read_amass,
    save_motion,
)

from .schema import Caption, ClipRecord, StageOutcome
from .storage import init_dataset, media_paths, write_shard_manifest
from .virtual_camera import CameraRange, VirtualCamera, place_in_camera, sample_camera
from .windows import check_window_length

__all__ = [
    "HUMANML3D_FPS",
    "HumanML3DDataset",
    "HumanML3DText",
    "JointsSequence",
    "import_amass",
    "parse_humanml3d_line",
    "read_amass_in_camera",
    "read_humanml3d",
    "read_humanml3d_ids",
]

HUMANML3D_FPS = 20.0


# ---------------------------------------------------------------------------- AMASS
def read_amass_in_camera(
    path: str | os.PathLike[str],
    rng: random.Random,
    *,
    fps: float | None = None,
    body_model: BodyModel | None = None,
    camera_range: CameraRange | None = None,
) -> tuple[SMPLMotion, VirtualCamera]:
    """One AMASS sequence seen from a sampled virtual camera: (camera-frame motion, camera)."""
    body_model = body_model or SkeletonBodyModel()
    world = read_amass(path, fps=fps, body_model=body_model)
    heading = _initial_heading(world.joints)
    camera = sample_camera(world.joints, rng, camera_range, facing_yaw=heading)
    return place_in_camera(world, camera, body_model=body_model), camera


def _initial_heading(joints: Tensor) -> float:
    """Facing of frame 0 from the hips (left − right hip, turned to the front), radians about y."""
    across = joints[0, 1] - joints[0, 2]  # toward the subject's left
    forward = torch.stack([-across[2], torch.zeros(()), across[0]])  # left × up … in the xz plane
    return math.atan2(float(forward[0]), float(forward[2]))


def import_amass(
    out: str | os.PathLike[str],
    paths: list[Path],
    *,
    fps: float = 16.0,
    seed: int = 0,
    captions: dict[str, str] | None = None,
    shard_size: int = 256,
    body_model: BodyModel | None = None,
) -> list[ClipRecord]:
    """Write AMASS sequences (resampled to `fps`, placed in a camera) as a motion-only dataset.

    captions: optional text per file stem (e.g. from BABEL or HumanML3D's texts); clips without
    one are kept with status "partial". Clip i uses camera seed `seed * 1_000_003 + i`."""
    root = init_dataset(out, kind="motion-only", source="amass", fps=fps)
    body_model = body_model or SkeletonBodyModel()
    by_shard: dict[int, list[ClipRecord]] = {}
    for i, path in enumerate(sorted(paths)):
        shard = i // shard_size
        clip_id = f"amass-{i:06d}"
        motion, camera = read_amass_in_camera(
            path, random.Random(seed * 1_000_003 + i), fps=fps, body_model=body_model
        )
        _, motion_file = media_paths(shard, clip_id)
        save_motion(root / motion_file, motion)
        text = (captions or {}).get(path.stem)
        stages: list[StageOutcome] = [StageOutcome(stage="amass", status="done", reason=str(path))]
        if text is None:
            stages.append(
                StageOutcome(stage="caption", status="skipped", reason="AMASS has no captions")
            )
        rec = ClipRecord(
            id=clip_id,
            source=str(path),
            shard=shard,
            start_time=0.0,
            end_time=motion.num_frames / fps,
            fps=fps,
            num_frames=motion.num_frames,
            width=0,
            height=0,
            caption=Caption(appearance="", background="", action=text, full=text) if text else None,
            motion_file=motion_file,
            motion_frame="camera",
            world_from_camera=tuple(
                tuple(float(v) for v in r) for r in camera.world_from_camera().tolist()
            ),  # type: ignore[arg-type]
            stages=tuple(stages),
            status="accepted" if text else "partial",
        )
        by_shard.setdefault(shard, []).append(rec)
    for shard, recs in by_shard.items():
        write_shard_manifest(root, shard, recs)
    return [r for recs in by_shard.values() for r in recs]


# ---------------------------------------------------------------------------- HumanML3D
@dataclass(frozen=True)
class HumanML3DText:
    """One caption line: text, POS-tagged tokens, and the frames it covers [start, stop)."""

    caption: str
    tokens: tuple[str, ...]
    start: int
    stop: int | None  # None: to the end of the clip


def parse_humanml3d_line(line: str, fps: float = HUMANML3D_FPS) -> HumanML3DText:
    """`caption#word/POS word/POS …#start#end` (seconds; 0#0 or NaN = the whole clip)."""
    parts = line.rstrip("\n").split("#")
    if len(parts) != 4:
        raise ValueError(
            f"HumanML3D text line: expected 'caption#tokens#start#end' (4 fields), got {len(parts)}: {line!r}"
        )
    caption, tokens, start_s, end_s = parts
    try:
        start, end = float(start_s), float(end_s)
    except ValueError as err:
        raise ValueError(f"HumanML3D text line: start/end are not numbers in {line!r}") from err
    whole = math.isnan(start) or math.isnan(end) or (start == 0.0 and end == 0.0)
    return HumanML3DText(
        caption=caption.strip(),
        tokens=tuple(tokens.split()),
        start=0 if whole else int(start * fps),
        stop=None if whole else int(end * fps),
    )


@dataclass(frozen=True)
class JointsSequence:
    """A joints-only motion: joints (T, 24, 3) meters; joint_mask (24,) True where measured;
    no rotations or shape (`rotations_valid` False)."""

    joints: Tensor
    joint_mask: Tensor
    fps: float
    frame: str
    texts: tuple[HumanML3DText, ...]
    rotations_valid: bool = False


def read_humanml3d_ids(root: str | os.PathLike[str], split: str | None = None) -> list[str]:
    """Ids of a split file (`train.txt` …) or, without a split, every `new_joints/*.npy`."""
    root = Path(root)
    if split is None:
        return sorted(p.stem for p in (root / "new_joints").glob("*.npy"))
    path = root / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such HumanML3D split file")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_humanml3d(
    root: str | os.PathLike[str],
    motion_id: str,
    *,
    camera: VirtualCamera | None = None,
) -> JointsSequence:
    """One HumanML3D sequence (world frame, y up), or seen from `camera` if given."""
    root = Path(root)
    jpath = root / "new_joints" / f"{motion_id}.npy"
    if not jpath.is_file():
        raise FileNotFoundError(f"{jpath}: no such HumanML3D joints file")
    joints = np.load(jpath, allow_pickle=False)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise ValueError(f"{jpath}: expected shape (T, 22, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError(f"{jpath}: {int((~np.isfinite(joints)).sum())} non-finite values")
    tpath = root / "texts" / f"{motion_id}.txt"
    texts = (
        tuple(parse_humanml3d_line(line) for line in tpath.read_text().splitlines() if line.strip())
        if tpath.is_file()
        else ()
    )
    full = np.concatenate([joints, joints[:, 20:22]], axis=1)  # hands ← wrists (masked)
    j = torch.from_numpy(full.astype(np.float32))
    mask = torch.ones(24, dtype=torch.bool)
    mask[22:] = False
    frame = "world"
    if camera is not None:
        j = j @ camera.rotation.T + camera.translation
        frame = "camera"
    return JointsSequence(j, mask, HUMANML3D_FPS, frame, texts)


class HumanML3DDataset(Dataset[dict[str, Any]]):
    """Windows of HumanML3D captions placed in sampled cameras (phase-1, joints only).

    One item per (sequence, caption) whose frame range holds a window; the window is the
    first `window` frames of the caption's range. The camera of item i is drawn from
    `seed * 1_000_003 + i`, so items are deterministic. Item keys: "id", "caption", "joints"
    (T, 24, 3), "joint_mask" (24,), "rotations_valid" (False), "fps".
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = None,
        window: int = 33,
        seed: int = 0,
        camera_range: CameraRange | None = None,
    ) -> None:
        check_window_length(window)
        self.root = Path(root)
        self.window = window
        self.seed = seed
        self.camera_range = camera_range
        self.items: list[tuple[str, int, int, str]] = []  # (id, start, caption index, caption)
        for motion_id in read_humanml3d_ids(self.root, split):
            seq = read_humanml3d(self.root, motion_id)
            for k, text in enumerate(seq.texts):
                stop = (
                    seq.joints.shape[0]
                    if text.stop is None
                    else min(text.stop, seq.joints.shape[0])
                )
                if stop - text.start >= window:
                    self.items.append((motion_id, text.start, k, text.caption))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        motion_id, start, _, caption = self.items[index]
        world = read_humanml3d(self.root, motion_id)
        joints = world.joints[start : start + self.window]
        rng = random.Random(self.seed * 1_000_003 + index)
        heading = _initial_heading(joints)
        camera = sample_camera(joints, rng, self.camera_range, facing_yaw=heading)
        cam_joints = joints @ camera.rotation.T + camera.translation
        return {
            "id": motion_id,
            "caption": caption,
            "joints": cam_joints,
            "joint_mask": world.joint_mask,
            "rotations_valid": False,
            "fps": world.fps,
        }
