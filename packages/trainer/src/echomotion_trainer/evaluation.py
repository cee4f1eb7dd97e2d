"""`echomotion eval`: the three modes of a checkpoint scored on fresh synthetic clips (issue 8).

Clips come from the synthetic world (`echomotion_humove.synth.synthesize_clip`) at the
checkpoint's size, frame count and fps, from held-out seeds (`seed + i`, default 10 000 + i;
training data uses `seed·1000003 + i` with small seeds, the action classifier seeds 0…239).

- v2m: the clip's frames → motion, against the clip's camera-frame motion: MPJPE, PA-MPJPE (mm),
  joint-angle error (deg).
- m2v: the clip's motion (+ caption) → video, against the ground-truth rendering of that motion
  with the clip's appearance and camera (= the clip's frames): PSNR (dB), SSIM; and the MPJPE of a
  v2m recovery from the generated video against the conditioning motion; clothing colour
  accuracy: whether the video shows the caption's shirt and trousers colours where the motion
  puts them (`score_colors`).
- joint: caption → video + motion. Video–motion consistency: the generated motion rendered with
  the caption's appearance and the clip's camera/backdrop, PSNR/SSIM against the generated video;
  clothing colour accuracy where the generated motion puts the clothes.
  Smoothness (accel, jitter) and foot-skating ratio of the generated motion next to the same
  figures of the clips' own motions (`data_…`). Text following: an action classifier's accuracy
  on the generated motions against the action the caption asked for.

Foot skating of camera-frame motion is measured without the camera (camera y down, floor at each
sequence's lowest foot: `evaluate_motion` without `world_from_camera`) for generated and data
motion alike: a generated motion's camera is not the clip's, so the clip's floor would not fit it.

The scoring functions (`score_v2m`, `score_video`, `score_m2v`, `score_joint`, `render_motion`)
take plain arrays and motions, so they are tested on known answers without a model.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from echomotion_humove.action_classifier import (
    ActionClassifier,
    ActionClassifierConfig,
    train_action_classifier,
)
from echomotion_humove.synth import Person, Stage, SyntheticClip, render_frames, synthesize_clip
from echomotion_humove.synth.appearance import CLOTH_COLORS, Appearance
from echomotion_humove.virtual_camera import CameraRange
from echomotion_motion_codec import SkeletonBodyModel, SMPLMotion, atomic_path, evaluate_motion
from echomotion_motion_codec.image_metrics import psnr, ssim

__all__ = [
    "MODES",
    "PSNR_CAP_DB",
    "SAMPLING_OVERRIDES",
    "EvalReport",
    "checkpoint_clips",
    "evaluate_checkpoint",
    "garment_looks",
    "make_clips",
    "nearest_color",
    "render_motion",
    "score_colors",
    "score_joint",
    "score_m2v",
    "score_v2m",
    "score_video",
    "trained_camera_distance",
]

MODES = ("joint", "m2v", "v2m")
PSNR_CAP_DB = 100.0  # identical frames (MSE 0, PSNR +inf) count as 100 dB: JSON-safe means
DEFAULT_SEED = 10_000
# the sampling settings an evaluation may override (the pipeline's generate keywords)
SAMPLING_OVERRIDES = (
    "guidance",
    "guidance_cond",
    "guidance_interval",
    "solver",
    "eta",
    "motion_eta",
    "shift",
)


# ------------------------------------------------------------------------------ the report
@dataclass(frozen=True)
class EvalReport:
    """What `evaluate_checkpoint` measured. metrics: mode → metric name → value (all floats);
    units are in the names (mm, deg, db, m_s2, m_s3; ratios and SSIM unitless)."""

    checkpoint: str
    clips: int
    seed: int
    steps: int
    modes: tuple[str, ...]
    fps: float
    width: int
    height: int
    num_frames: int
    classifier: str | None  # where the joint mode's action classifier came from
    metrics: dict[str, dict[str, float]]
    seconds: float
    seeds: tuple[int, ...] = field(default=())
    camera_distance: tuple[float, float] | None = None  # the clips' camera range (near, far), m
    # how the modes were sampled: the checkpoint's pipeline.json sampling defaults (guidance
    # ω₁ / ω₂ and its interval, shift, solver) with `steps` as run
    sampling: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite metrics (a diverged model) become null."""
        out = asdict(self)
        out["modes"], out["seeds"] = list(self.modes), list(self.seeds)
        if self.camera_distance is not None:
            out["camera_distance"] = list(self.camera_distance)
        out["metrics"] = {
            mode: {k: (v if math.isfinite(v) else None) for k, v in values.items()}
            for mode, values in self.metrics.items()
        }
        return {"format": "echomotion.eval", "version": 1, **out}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the JSON report atomically (temp file + rename)."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out, suffix=".json") as tmp:
            tmp.write_text(self.to_json(), encoding="utf-8")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalReport:
        raw = {k: v for k, v in data.items() if k not in ("format", "version")}
        raw["modes"], raw["seeds"] = tuple(raw["modes"]), tuple(raw.get("seeds", ()))
        if raw.get("camera_distance") is not None:
            raw["camera_distance"] = tuple(float(v) for v in raw["camera_distance"])
        raw["metrics"] = {
            mode: {k: (math.nan if v is None else float(v)) for k, v in values.items()}
            for mode, values in raw["metrics"].items()
        }
        return cls(**raw)


# ------------------------------------------------------------------------------ clips
def make_clips(
    count: int,
    *,
    seed: int = DEFAULT_SEED,
    width: int,
    height: int,
    num_frames: int,
    fps: float,
    camera_distance: tuple[float, float] | None = None,
) -> list[SyntheticClip]:
    """`count` synthetic clips from seeds `seed`, `seed + 1`, … (`camera_distance`: the camera's
    (near, far) range in meters; None = humove's `CameraRange` default)."""
    if count < 1:
        raise ValueError(f"clips: expected >= 1, got {count}")
    camera = None if camera_distance is None else CameraRange(distance=camera_distance)
    body_model = SkeletonBodyModel()
    return [
        synthesize_clip(
            seed + i,
            width=width,
            height=height,
            num_frames=num_frames,
            fps=fps,
            body_model=body_model,
            camera_range=camera,
        )
        for i in range(count)
    ]


def _stage(clip: SyntheticClip) -> Stage:
    """The clip's camera intrinsics, wall, floor and floor plane (as `synthesize_clip` builds)."""
    height, width = clip.frames.shape[1:3]
    camera = clip.camera
    pin = camera.pinhole(width, height)
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    normal = (camera.rotation.double() @ up).numpy()
    return Stage(
        width=width,
        height=height,
        focal=pin.focal,
        wall_rgb=clip.backdrop.wall_rgb,
        floor_rgb=clip.backdrop.floor_rgb,
        floor_normal=normal,
        floor_offset=float(normal @ camera.translation.double().numpy()),
    )


def render_motion(
    motion: SMPLMotion, clip: SyntheticClip, appearance: Appearance | None = None
) -> np.ndarray:
    """(T, H, W, 3) uint8: a camera-frame motion (one sequence) rendered as the clip's mannequin
    (its caption's appearance, or `appearance`, and its body size) in front of the clip's camera
    and backdrop. The clip's own motion gives back the clip's frames."""
    if motion.batch_shape or motion.frame != "camera":
        raise ValueError(
            f"motion: expected one camera-frame sequence, got batch {motion.batch_shape}, "
            f"frame {motion.frame!r}"
        )
    joints = motion.joints.detach().cpu().float().numpy()  # (T, 24, 3)
    scale = 1.0 + 0.06 * float(clip.motion_world.betas[0])
    person = Person(joints, appearance or clip.appearance, scale)
    return render_frames([person], _stage(clip))


CLOTHES = ("shirt", "trousers")


def _dressed(appearance: Appearance, garment: str, color: str) -> Appearance:
    """The appearance with one garment ("shirt" or "trousers") in another cloth colour."""
    if garment == "shirt":
        return replace(appearance, shirt=color)
    return replace(appearance, trousers=color)


def garment_looks(
    motion: SMPLMotion, clip: SyntheticClip, garment: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The garment ("shirt" or "trousers") where `motion` puts it: (names, looks, region) with
    `names` the cloth colours (sorted), `looks` (K, T, H, W, 3) float32 the motion rendered as
    the clip's mannequin with the garment in each, and `region` (T, H, W) bool the pixels where
    those renderings differ by at least half their largest spread (all False when the garment is
    out of view)."""
    if garment not in CLOTHES:
        raise ValueError(f"garment: expected one of {', '.join(CLOTHES)}, got {garment!r}")
    names = sorted(CLOTH_COLORS)
    looks = np.stack(
        [render_motion(motion, clip, _dressed(clip.appearance, garment, name)) for name in names]
    ).astype(np.float32)  # (K, T, H, W, 3)
    spread = (looks.max(0) - looks.min(0)).mean(-1)  # (T, H, W)
    region = spread >= 0.5 * spread.max() if spread.max() > 0 else np.zeros_like(spread, bool)
    return names, looks, region


def nearest_color(
    frames: np.ndarray, names: list[str], looks: np.ndarray, region: np.ndarray
) -> str | None:
    """The cloth colour whose rendering's mean over `region` is nearest the mean colour of
    `frames` (T, H, W, 3) there; None when the region is empty."""
    if not region.any():
        return None
    seen = np.asarray(frames, dtype=np.float32)[region].mean(0)  # (3,)
    options = looks[:, region].mean(1)  # (K, 3)
    return names[int(np.argmin(((options - seen) ** 2).sum(-1)))]


def score_colors(video: np.ndarray, motion: SMPLMotion, clip: SyntheticClip) -> dict[str, float]:
    """Whether a generated video (T, H, W, 3) uint8 shows the caption's clothing colours where
    `motion` (one camera-frame sequence: the conditioning motion in m2v, the generated one in
    joint mode) puts the clothes: `shirt_color_accuracy`, `trousers_color_accuracy`, each 1.0 or
    0.0.

    The motion is rendered with the garment in each of the synthetic world's cloth colours; the
    pixels where those renderings differ by at least half their largest spread are the
    garment's (`garment_looks`). The video's mean colour there is matched to the nearest of the
    renderings' means (shading and blending with the backdrop alike; `nearest_color`), and
    scores 1 when that is the caption's colour. A garment that covers no pixel scores 0. Chance
    is 1 in len(CLOTH_COLORS).
    """
    frames = np.asarray(video, dtype=np.float32)
    if frames.shape != clip.frames.shape:
        raise ValueError(
            f"video: expected frames of shape {clip.frames.shape} (the clip's), got {frames.shape}"
        )
    out: dict[str, float] = {}
    for garment in CLOTHES:
        guess = nearest_color(frames, *garment_looks(motion, clip, garment))
        out[f"{garment}_color_accuracy"] = float(guess == getattr(clip.appearance, garment))
    return out


# ------------------------------------------------------------------------------ scoring
def _mean(values: torch.Tensor) -> float:
    return float(values.double().mean())


def score_video(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR (dB, per frame capped at `PSNR_CAP_DB`) and SSIM of uint8 videos (..., T, H, W, 3),
    averaged over all frames."""
    a, b = torch.as_tensor(np.asarray(pred)), torch.as_tensor(np.asarray(target))
    if a.dtype != torch.uint8 or b.dtype != torch.uint8:
        raise ValueError(f"pred, target: expected uint8 frames, got {a.dtype} and {b.dtype}")
    return {
        "psnr_db": _mean(psnr(a, b).clamp(max=PSNR_CAP_DB)),
        "ssim": _mean(ssim(a, b)),
    }


def score_v2m(recovered: SMPLMotion, truth: SMPLMotion) -> dict[str, float]:
    """MPJPE, PA-MPJPE (mm) and joint-angle error (deg) of recovered vs true motion (same frame,
    frames, fps, batch)."""
    m = evaluate_motion(recovered, truth)
    return {k: m[k] for k in ("mpjpe_mm", "pa_mpjpe_mm", "joint_angle_error_deg")}


def score_m2v(
    video: np.ndarray,
    truth_video: np.ndarray,
    recovered: SMPLMotion,
    condition: SMPLMotion,
    clips: Sequence[SyntheticClip] | None = None,
) -> dict[str, float]:
    """Generated vs ground-truth video (PSNR/SSIM) and the v2m recovery from the generated video
    vs the conditioning motion (`recovery_mpjpe_mm`, `recovery_pa_mpjpe_mm`). With the batch's
    `clips` (video (B, T, H, W, 3), condition batch (B,)), also the clothing colour accuracies
    (`score_colors` where the conditioning motion puts the clothes), averaged over the batch."""
    out = score_video(video, truth_video)
    rec = score_v2m(recovered, condition)
    out["recovery_mpjpe_mm"] = rec["mpjpe_mm"]
    out["recovery_pa_mpjpe_mm"] = rec["pa_mpjpe_mm"]
    if clips is not None:
        out |= _batch_colors(video, condition, clips)
    return out


def _check_batch(video: np.ndarray, motion: SMPLMotion, clips: Sequence[SyntheticClip]) -> None:
    """One generated video and motion per clip."""
    if motion.batch_shape != (len(clips),) or len(video) != len(clips):
        raise ValueError(
            f"video, motion: expected a batch of {len(clips)} (one per clip), got "
            f"{len(video)} videos and motion batch {motion.batch_shape}"
        )


def _batch_colors(
    video: np.ndarray, motion: SMPLMotion, clips: Sequence[SyntheticClip]
) -> dict[str, float]:
    _check_batch(video, motion, clips)
    per_clip = [score_colors(video[i], motion[i], clip) for i, clip in enumerate(clips)]
    return {k: sum(d[k] for d in per_clip) / len(per_clip) for k in per_clip[0]}


def _smoothness(motion: SMPLMotion, prefix: str) -> dict[str, float]:
    m = evaluate_motion(motion)
    return {
        f"{prefix}{k}": m[k] for k in ("accel_m_s2", "jitter_m_s3", "foot_skating_ratio") if k in m
    }


def score_joint(
    video: np.ndarray,
    motion: SMPLMotion,
    clips: Sequence[SyntheticClip],
    classifier: ActionClassifier | None = None,
) -> dict[str, float]:
    """Joint-mode figures of B generated samples (video (B, T, H, W, 3) uint8, camera-frame
    motion (B, T, …)), sample i made from `clips[i].caption`:

    consistency_psnr_db / consistency_ssim: the generated motion rendered with the clip's
    appearance and camera vs the generated video; accel_m_s2, jitter_m_s3, foot_skating_ratio of
    the generated motion and data_… of the clips' motions; shirt_color_accuracy /
    trousers_color_accuracy (`score_colors` where the generated motion puts the clothes);
    text_accuracy: the classifier's accuracy against the clips' actions (omitted without a
    classifier)."""
    _check_batch(video, motion, clips)
    rendered = np.stack([render_motion(motion[i], clip) for i, clip in enumerate(clips)])
    consistency = score_video(rendered, np.asarray(video))
    out = {f"consistency_{k}": v for k, v in consistency.items()}
    out |= _batch_colors(np.asarray(video), motion, clips)
    out |= _smoothness(motion, "")
    data = SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in clips])
    out |= _smoothness(data, "data_")
    if classifier is not None:
        out["text_accuracy"] = classifier.predict(motion).accuracy([c.action for c in clips])
    return out


def _mean_dicts(parts: Sequence[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """Weighted (by batch size) means of per-batch figures."""
    total = sum(n for n, _ in parts)
    keys = parts[0][1].keys()
    return {k: sum(n * d[k] for n, d in parts) / total for k in keys}


# ------------------------------------------------------------------------------ the run
def _classifier(
    classifier: ActionClassifier | str | Path | None,
    *,
    fps: float,
    num_frames: int,
    motions: int,
    steps: int,
) -> tuple[ActionClassifier, str]:
    if isinstance(classifier, ActionClassifier):
        return classifier.eval(), "given"
    if classifier is not None:
        return ActionClassifier.load(classifier), str(classifier)
    model = train_action_classifier(
        num_motions=motions,
        steps=steps,
        num_frames=num_frames,
        min_frames=max(2, (num_frames + 1) // 2),
        config=ActionClassifierConfig(fps=fps),
    )
    return model, f"trained here: {motions} motions, {steps} steps"


def trained_camera_distance(checkpoint_dir: str | Path) -> tuple[float, float] | None:
    """`data.synth_camera_distance` of the checkpoint's train_config.yaml; None when the file or
    the key is missing (checkpoints from before the key existed)."""
    import yaml

    path = Path(checkpoint_dir) / "train_config.yaml"
    if not path.is_file():
        return None
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    value = (raw.get("data") or {}).get("synth_camera_distance")
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(
            f"{path}: data.synth_camera_distance: expected [near, far] meters, got {value!r}"
        )
    return float(value[0]), float(value[1])


def checkpoint_clips(
    pipe: Any,
    checkpoint_dir: str | Path,
    count: int,
    *,
    seed: int = DEFAULT_SEED,
    camera_distance: tuple[float, float] | None = None,
) -> tuple[list[SyntheticClip], tuple[float, float]]:
    """`make_clips` at the pipeline's size, frame count and fps, with the camera range the
    checkpoint trained with (`trained_camera_distance`, else humove's default) unless
    `camera_distance` is given; returns the clips and the range used."""
    if camera_distance is None:
        camera_distance = trained_camera_distance(checkpoint_dir) or CameraRange().distance
    cfg = pipe.config
    clips = make_clips(
        count,
        seed=seed,
        width=cfg.width,
        height=cfg.height,
        num_frames=cfg.num_frames,
        fps=cfg.fps,
        camera_distance=camera_distance,
    )
    return clips, camera_distance


def evaluate_checkpoint(
    checkpoint_dir: str | Path,
    *,
    clips: int = 8,
    seed: int = DEFAULT_SEED,
    steps: int = 20,
    classifier: ActionClassifier | str | Path | None = None,
    modes: Sequence[str] = MODES,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    classifier_motions: int = 240,
    classifier_steps: int = 150,
    camera_distance: tuple[float, float] | None = None,
    sampling: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> EvalReport:
    """Score the checkpoint's modes on `clips` fresh synthetic clips (seeds `seed + i`) made at
    its pipeline.json size / frames / fps, sampling with `steps` solver steps (noise seeded with
    `seed`). `classifier`: an `ActionClassifier`, a folder `ActionClassifier.save` wrote, or None
    to train one here (`classifier_motions`, `classifier_steps`; only when "joint" is in modes).
    `camera_distance`: the clips' camera range (near, far) in meters; None = the one the
    checkpoint trained with (`data.synth_camera_distance` of its train_config.yaml), else
    humove's `CameraRange` default. `sampling`: overrides of the checkpoint's sampling defaults
    (pipeline.json) among `SAMPLING_OVERRIDES` (guidance, guidance_cond, guidance_interval,
    solver, eta, motion_eta, shift) — e.g. ``{"guidance": 4.0,
    "guidance_interval": (0.7, 1.0)}``; the report records the settings used."""
    from echomotion_samplers.pipeline import EchoMotionPipeline

    modes = tuple(dict.fromkeys(modes))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"modes: expected some of {', '.join(MODES)}, got {list(modes)}")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps, batch_size: expected >= 1, got {steps}, {batch_size}")
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    pipe = EchoMotionPipeline.from_pretrained(checkpoint_dir, device=device)
    cfg = pipe.config
    say(
        f"making {clips} clips {cfg.width}x{cfg.height}, {cfg.num_frames} frames at {cfg.fps:g} fps"
    )
    data, camera_distance = checkpoint_clips(
        pipe, checkpoint_dir, clips, seed=seed, camera_distance=camera_distance
    )
    cls_model: ActionClassifier | None = None
    cls_source: str | None = None
    if "joint" in modes:
        say("action classifier: " + ("training" if classifier is None else "loading"))
        cls_model, cls_source = _classifier(
            classifier,
            fps=cfg.fps,
            num_frames=cfg.num_frames,
            motions=classifier_motions,
            steps=classifier_steps,
        )
    settings = cfg.sampling
    if sampling:
        unknown = sorted(set(sampling) - set(SAMPLING_OVERRIDES))
        if unknown:
            raise ValueError(
                f"sampling: unknown settings {unknown}; expected some of "
                f"{', '.join(SAMPLING_OVERRIDES)}"
            )
        settings = type(settings).model_validate({**settings.model_dump(), **sampling})
    calls: dict[str, Any] = {
        "steps": steps,
        "progress": False,
        **{k: getattr(settings, k) for k in SAMPLING_OVERRIDES},
    }
    parts: dict[str, list[tuple[int, dict[str, float]]]] = {m: [] for m in modes}
    for start in range(0, clips, batch_size):
        batch = data[start : start + batch_size]
        n = len(batch)
        noise_seed = seed + start
        frames = np.stack([c.frames for c in batch])  # (B, T, H, W, 3)
        truth = SMPLMotion.stack([c.motion.to("cpu", torch.float32) for c in batch])
        truth = pipe.place_in_camera(truth)  # η under the pipeline's body model
        prompts = [c.caption.full for c in batch]
        if "v2m" in modes:
            say(f"v2m: clips {start}…{start + n - 1}")
            rec = pipe.video_to_motion(frames, seed=noise_seed, **calls)
            parts["v2m"].append((n, score_v2m(rec.motion, truth)))
        if "m2v" in modes:
            say(f"m2v: clips {start}…{start + n - 1}")
            gen = pipe.motion_to_video(prompts, truth, seed=noise_seed, **calls)
            back = pipe.video_to_motion(gen.video, seed=noise_seed, **calls)
            scores = score_m2v(gen.video, frames, back.motion, gen.motion, batch)
            parts["m2v"].append((n, scores))
        if "joint" in modes:
            say(f"joint: clips {start}…{start + n - 1}")
            gen = pipe.joint(prompts, seed=noise_seed, **calls)
            parts["joint"].append((n, score_joint(gen.video, gen.motion, batch, cls_model)))
    metrics = {m: _mean_dicts(parts[m]) for m in modes}
    bad = {f"{m}.{k}": v for m in metrics for k, v in metrics[m].items() if not math.isfinite(v)}
    if bad:
        say(f"warning: non-finite metrics {bad}")
    return EvalReport(
        checkpoint=str(checkpoint_dir),
        clips=clips,
        seed=seed,
        steps=steps,
        modes=modes,
        fps=cfg.fps,
        width=cfg.width,
        height=cfg.height,
        num_frames=cfg.num_frames,
        classifier=cls_source,
        metrics=metrics,
        seconds=time.perf_counter() - started,
        seeds=tuple(c.seed for c in data),
        camera_distance=(float(camera_distance[0]), float(camera_distance[1])),
        sampling={**settings.model_dump(mode="json"), "steps": steps},
    )
