"""Torch datasets over a HuMoVe dataset directory: motion-only, paired (video + motion) and
latent-cached (see `encode`). Map-style, so they work with several DataLoader workers and with
`torch.utils.data.DistributedSampler`.

An item is a dict, which the default collate batches:
  "id" str, "start" int (first frame of the window in the clip), "caption" str,
  "action" str ("" when unknown), "fps" float, "width", "height" int (the video's pixels, 0 when
  none), "focal" float (pixels, principal point at the centre; 0 unless the clip's focal is known
  and its motion is in the camera frame, i.e. unless the joints can be projected),
  "transl" (T, 3), "global_orient" (T, 6), "pose" (T, 24, 6), "betas" (10,), "joints" (T, 24, 3)
paired adds "video" (3, T, H, W) float in [−1, 1]; latent-cached adds "video_latents"
(C, T', H', W') and "text_states" (L, D) instead. Motion and video share frame indices: motion
frame f is video frame f (DESIGN §3: motion at the video's fps, never downsampled).
`motion_from_batch` turns the motion fields of a batch back into an `SMPLMotion`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from echomotion_motion_codec import SMPLMotion, load_motion

from .schema import ClipRecord
from .storage import read_manifest
from .video_io import read_video
from .windows import Window, dataset_windows

__all__ = [
    "MOTION_FIELDS",
    "LatentDataset",
    "MotionDataset",
    "PairedDataset",
    "motion_from_batch",
]

MOTION_FIELDS = ("transl", "global_orient", "pose", "betas", "joints")
Item = dict[str, Any]


def motion_from_batch(batch: Item, *, frame: str = "camera") -> SMPLMotion:
    """The motion fields of an item or a collated batch → `SMPLMotion` (batched if collated)."""
    fps = batch["fps"]
    fps_value = float(fps[0]) if isinstance(fps, Tensor) and fps.dim() else float(fps)
    return SMPLMotion(
        **{k: batch[k] for k in MOTION_FIELDS},
        fps=fps_value,
        frame=frame,  # type: ignore[arg-type]
    )


def _motion_item(window: Window, motion: SMPLMotion) -> Item:
    part = motion.slice_frames(window.start, window.start + window.length)
    rec = window.record
    return {
        "id": rec.id,
        "start": window.start,
        "caption": rec.caption.full if rec.caption else "",
        "action": rec.action_label or "",
        "fps": rec.fps,
        "width": rec.width,
        "height": rec.height,
        "focal": float(rec.focal) if rec.focal and rec.motion_frame == "camera" else 0.0,
        **{k: getattr(part, k) for k in MOTION_FIELDS},
    }


class MotionDataset(Dataset[Item]):
    """Windows of the motions of a dataset (records with a motion file and the given status).

    Motions are read lazily and kept per worker process (`cache=True`): motion files are small.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        window: int = 33,
        stride: int | None = None,
        status: str | tuple[str, ...] | None = "accepted",
        cache: bool = True,
        records: list[ClipRecord] | None = None,
    ) -> None:
        self.root = Path(root)
        recs = records if records is not None else read_manifest(self.root, status=status)
        recs = [r for r in recs if r.motion_file is not None]
        self.windows = dataset_windows(recs, window, stride)
        self.cache = cache
        self._motions: dict[str, SMPLMotion] = {}

    def __len__(self) -> int:
        return len(self.windows)

    def motion(self, record: ClipRecord) -> SMPLMotion:
        if record.id in self._motions:
            return self._motions[record.id]
        assert record.motion_file is not None
        motion = load_motion(self.root / record.motion_file)
        if motion.num_frames != record.num_frames:
            raise ValueError(
                f"{record.id}: motion has {motion.num_frames} frames, the record says "
                f"{record.num_frames} (run `humove validate`)"
            )
        if self.cache:
            self._motions[record.id] = motion
        return motion

    def __getitem__(self, index: int) -> Item:
        w = self.windows[index]
        return _motion_item(w, self.motion(w.record))


class PairedDataset(MotionDataset):
    """Windows of video + motion: records with both files. Video (3, T, H, W) in [−1, 1]."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        window: int = 33,
        stride: int | None = None,
        status: str | tuple[str, ...] | None = "accepted",
        records: list[ClipRecord] | None = None,
    ) -> None:
        recs = records if records is not None else read_manifest(root, status=status)
        recs = [r for r in recs if r.video_file is not None and r.motion_file is not None]
        super().__init__(
            root, window=window, stride=stride, status=status, cache=False, records=recs
        )

    def __getitem__(self, index: int) -> Item:
        w = self.windows[index]
        item = _motion_item(w, self.motion(w.record))
        assert w.record.video_file is not None
        frames, _ = read_video(self.root / w.record.video_file, w.start, w.start + w.length)
        if frames.shape[0] != w.length:
            raise ValueError(
                f"{w.record.id}: video has {w.start + frames.shape[0]} frames, needed "
                f"{w.start + w.length} (run `humove validate`)"
            )
        video = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0  # (3, T, H, W)
        item["video"] = video
        return item


class LatentDataset(MotionDataset):
    """Windows whose video latents and text states were cached by `humove encode` (safetensors
    under `<root>/<latents>/`), with the motion of the same frames."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        latents: str = "latents",
        window: int = 33,
        stride: int | None = None,
        status: str | tuple[str, ...] | None = "accepted",
    ) -> None:
        from .encode import latent_path

        recs = [
            r
            for r in read_manifest(root, status=status)
            if r.video_file is not None and r.motion_file is not None
        ]
        super().__init__(root, window=window, stride=stride, status=status, records=recs)
        self.latent_dir = self.root / latents
        self.paths = [latent_path(self.latent_dir, w) for w in self.windows]
        missing = [p for p in self.paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(self.paths)} windows have no cached latents, e.g. "
                f"{missing[0]}; run `humove encode {self.root} --window {window}` first"
            )

    def __getitem__(self, index: int) -> Item:
        from safetensors.torch import load_file

        w = self.windows[index]
        item = _motion_item(w, self.motion(w.record))
        tensors = load_file(str(self.paths[index]))
        item["video_latents"] = tensors["video_latents"]
        item["text_states"] = tensors["text_states"]
        return item
