"""An action classifier for the synthetic world: which of the 12 `ACTIONS` a motion shows.

It measures text following (issue 8): generated motions are classified and compared with the
action their caption asked for. Trained on procedural motions made on the fly from seeds
(`synthesize_motion`), so it needs no dataset on disk.

Dimension legend: `B` motions, `T` frames, `F` = 144 features per frame (24 joints × 3 canonical
positions + 24 × 3 velocities), `H` hidden channels, `A` actions.

Camera invariance: features are joint positions relative to the pelvis of frame 0, expressed in
the root orientation γ of frame 0, so the same motion seen from any camera (or in the world
frame) gives the same features — exactly, since a rigid map x ↦ Rx + c turns γ₀ into Rγ₀.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from echomotion_motion_codec import SkeletonBodyModel, SMPLMotion, atomic_path

from .synth.actions import ACTIONS
from .synth.world import synthesize_motion

__all__ = [
    "ActionClassifier",
    "ActionClassifierConfig",
    "ActionPrediction",
    "action_features",
    "synthetic_action_data",
    "train_action_classifier",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
NUM_FEATURES = 24 * 3 * 2


@dataclass(frozen=True)
class ActionClassifierConfig:
    """Sizes and the data the classifier expects (serialized as JSON beside the weights)."""

    actions: tuple[str, ...] = tuple(sorted(ACTIONS))
    fps: float = 16.0  # motions at another fps are resampled to this one
    hidden: int = 48
    layers: int = 2
    kernel: int = 5
    dropout: float = 0.1


@dataclass(frozen=True)
class ActionPrediction:
    """labels: the most likely action per motion; probabilities: (B, A) over `actions`."""

    labels: list[str]
    probabilities: Tensor
    actions: tuple[str, ...]

    def accuracy(self, targets: Sequence[str]) -> float:
        """Fraction of `labels` equal to `targets` (e.g. the actions the captions asked for)."""
        if len(targets) != len(self.labels):
            raise ValueError(f"targets: expected {len(self.labels)} labels, got {len(targets)}")
        return sum(p == t for p, t in zip(self.labels, targets, strict=True)) / len(targets)


def _canonical(joints: Tensor, orient0: Tensor) -> Tensor:
    """(B, T, 24, 3) joints, (B, 3, 3) γ of frame 0 → (B, T, 24, 3) in the frame-0 body frame."""
    pelvis0 = joints[:, :1, :1, :]  # (B, 1, 1, 3)
    return (joints - pelvis0) @ orient0[:, None, :, :]  # row form of γ₀ᵀ (x − p₀)


def _features_from_canonical(canon: Tensor, fps: float) -> Tensor:
    """(B, T, 24, 3) canonical joints → (B, T, F): positions and velocities (m/s)."""
    vel = (canon[:, 1:] - canon[:, :-1]) * fps  # (B, T−1, 24, 3)
    vel = torch.cat([vel[:, :1], vel], dim=1)  # first frame repeats the first velocity
    return torch.cat([canon.flatten(2), vel.flatten(2)], dim=-1)


def _resample_joints(joints: Tensor, fps_in: float, fps_out: float) -> Tensor:
    """(B, T, 24, 3) → (B, T', 24, 3) by linear interpolation over the same duration."""
    if fps_in == fps_out:
        return joints
    t = joints.shape[1]
    count = math.floor((t - 1) / fps_in * fps_out + 1e-9) + 1
    pos = torch.arange(count, dtype=torch.float64) * fps_in / fps_out  # source frame index
    lo = pos.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    w = (pos - lo).to(joints.dtype)[None, :, None, None]
    return joints[:, lo] * (1 - w) + joints[:, hi] * w


def action_features(motion: SMPLMotion, fps: float | None = None) -> Tensor:
    """(B, T', F) camera-invariant features of a motion (single → B = 1), resampled to `fps`
    (default: the motion's own) from η and γ of frame 0."""
    if not isinstance(motion, SMPLMotion):
        raise ValueError(f"motion: expected an SMPLMotion, got {type(motion).__name__}")
    if len(motion.batch_shape) > 1:
        raise ValueError(
            f"motion: expected one sequence or a (B,) batch, got batch {motion.batch_shape}"
        )
    joints = motion.joints.float().reshape(-1, motion.num_frames, 24, 3)  # (B, T, 24, 3)
    orient0 = motion.global_orient_matrix().float().reshape(-1, motion.num_frames, 3, 3)[:, 0]
    target_fps = motion.fps if fps is None else fps
    joints = _resample_joints(joints, motion.fps, target_fps)
    if joints.shape[1] < 2:
        raise ValueError(
            f"motion: expected at least 2 frames at {target_fps} fps, got {joints.shape[1]}"
        )
    return _features_from_canonical(_canonical(joints, orient0), target_fps)


class ActionClassifier(nn.Module):
    """Per-frame projection, residual 1D temporal convolutions, mean+max pooling over time."""

    feature_mean: Tensor  # (F,) buffers: feature normalization fitted on the training data
    feature_std: Tensor

    def __init__(self, config: ActionClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config or ActionClassifierConfig()
        c = self.config
        if c.kernel % 2 == 0 or c.layers < 1 or c.hidden < 1:
            raise ValueError(f"config: expected an odd kernel, layers >= 1, hidden >= 1, got {c}")
        unknown = sorted(set(c.actions) - set(ACTIONS))
        if unknown or len(set(c.actions)) != len(c.actions) or len(c.actions) < 2:
            raise ValueError(
                f"config.actions: expected >= 2 distinct names from ACTIONS, got {c.actions}"
            )
        # Feature normalization, fitted on the training data (kept with the weights).
        self.register_buffer("feature_mean", torch.zeros(NUM_FEATURES))
        self.register_buffer("feature_std", torch.ones(NUM_FEATURES))
        self.proj = nn.Linear(NUM_FEATURES, c.hidden)
        self.convs = nn.ModuleList(
            nn.Conv1d(c.hidden, c.hidden, c.kernel, padding=c.kernel // 2) for _ in range(c.layers)
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(2 * c.hidden, len(c.actions))

    def forward(self, features: Tensor) -> Tensor:
        """(B, T, F) features → (B, A) logits."""
        if features.dim() != 3 or features.shape[-1] != NUM_FEATURES:
            raise ValueError(
                f"features: expected shape (B, T, {NUM_FEATURES}), got {tuple(features.shape)}"
            )
        x = (features - self.feature_mean) / self.feature_std  # (B, T, F)
        x = F.gelu(self.proj(x)).transpose(1, 2)  # (B, H, T)
        for conv in self.convs:
            x = x + F.gelu(conv(x))  # (B, H, T), residual temporal convolutions
        pooled = torch.cat([x.mean(-1), x.amax(-1)], dim=-1)  # (B, 2H)
        return self.head(self.dropout(pooled))  # (B, A)

    @torch.no_grad()
    def predict(self, motion: SMPLMotion) -> ActionPrediction:
        """Classify one motion or a (B,) batch, in any coordinate frame and at any fps."""
        was_training = self.training
        self.eval()
        try:
            features = action_features(motion, self.config.fps).to(self.feature_mean)
            probs = self(features).softmax(-1)  # (B, A)
        finally:
            self.train(was_training)
        labels = [self.config.actions[i] for i in probs.argmax(-1).tolist()]
        return ActionPrediction(labels, probs, self.config.actions)

    def save(self, directory: str | Path) -> None:
        """`directory/model.safetensors` (weights and feature statistics) and `config.json`,
        each written atomically."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(out / WEIGHTS_FILE, suffix=".safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": "echomotion.action_classifier"})
        config = {"format": "echomotion.action_classifier", "version": 1, **asdict(self.config)}
        with atomic_path(out / CONFIG_FILE, suffix=".json") as tmp:
            tmp.write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> ActionClassifier:
        """The classifier `save` wrote to `directory` (CPU, eval mode)."""
        src = Path(directory)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (src / name).is_file():
                raise FileNotFoundError(
                    f"directory: {src / name} is missing (written by ActionClassifier.save)"
                )
        raw = json.loads((src / CONFIG_FILE).read_text())
        if (
            raw.pop("format", None) != "echomotion.action_classifier"
            or raw.pop("version", None) != 1
        ):
            raise ValueError(
                f"directory: {src / CONFIG_FILE} is not an action classifier config, version 1"
            )
        raw["actions"] = tuple(raw["actions"])
        model = cls(ActionClassifierConfig(**raw))
        model.load_state_dict(load_file(str(src / WEIGHTS_FILE)))
        return model.eval()


# ------------------------------------------------------------------------------ training
def synthetic_action_data(
    seeds: Sequence[int],
    actions: Sequence[str],
    *,
    num_frames: int = 33,
    fps: float = 16.0,
) -> tuple[list[SMPLMotion], Tensor]:
    """World-frame synthetic motions (one per seed; seed i shows `actions[i % len(actions)]`, so
    classes are balanced) and their (N,) label indices into `actions`."""
    body_model = SkeletonBodyModel()
    motions, labels = [], []
    for i, seed in enumerate(seeds):
        k = i % len(actions)
        sm = synthesize_motion(
            seed, num_frames=num_frames, fps=fps, action=actions[k], body_model=body_model
        )
        motions.append(sm.motion)
        labels.append(k)
    return motions, torch.tensor(labels, dtype=torch.long)


def train_action_classifier(
    *,
    num_motions: int = 240,
    steps: int = 150,
    batch_size: int = 32,
    lr: float = 3e-3,
    num_frames: int = 33,
    min_frames: int = 17,
    noise: float = 0.01,
    seed: int = 0,
    config: ActionClassifierConfig | None = None,
    seeds: Sequence[int] | None = None,
    shuffle_labels: bool = False,
    data: tuple[Sequence[SMPLMotion], Tensor] | None = None,
    log: Callable[[int, float], None] | None = None,
) -> ActionClassifier:
    """Train a classifier on synthetic motions generated from `seeds` (default
    `range(num_motions)`; evaluate on other seeds) at `config.fps`, with AdamW and a cosine
    schedule for `steps` steps on CPU.

    Augmentation: random windows of `min_frames`…`num_frames` frames (so shorter generated clips
    classify too), each canonicalized on its own first frame (pelvis and γ), plus Gaussian joint
    noise of `noise` meters. `shuffle_labels` permutes the labels (a control: such a model must not
    generalize). `data` = (motions, (N,) label indices into `config.actions`) trains on given
    motions of `num_frames` frames at `config.fps` instead (any frame: features are invariant).
    `log(step, loss)` is called every 50 steps. Small convolutions run fastest with one torch
    thread on a busy CPU (`torch.set_num_threads(1)`); the caller decides.
    """
    config = config or ActionClassifierConfig()
    if not 2 <= min_frames <= num_frames:
        raise ValueError(
            f"min_frames: expected 2 <= min_frames <= num_frames ({num_frames}), got {min_frames}"
        )
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps, batch_size: expected >= 1, got {steps}, {batch_size}")
    seeds = list(range(num_motions)) if seeds is None else list(seeds)
    if len(seeds) < len(config.actions):
        raise ValueError(
            f"seeds: expected at least one motion per action ({len(config.actions)}), got {len(seeds)}"
        )
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    motions, labels = synthetic_action_data(
        seeds, config.actions, num_frames=num_frames, fps=config.fps
    )
    if shuffle_labels:
        labels = labels[torch.randperm(labels.shape[0], generator=gen)]
    batch = SMPLMotion.stack(motions)
    joints = batch.joints.float()  # (N, T, 24, 3)
    orients = batch.global_orient_matrix().float()  # (N, T, 3, 3)
    model = ActionClassifier(config)
    full = _features_from_canonical(_canonical(joints, orients[:, 0]), config.fps)  # (N, T, F)
    model.feature_mean.copy_(full.mean((0, 1)))
    model.feature_std.copy_(full.std((0, 1)).clamp_min(1e-3))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    n = joints.shape[0]
    for step in range(steps):
        index = torch.randint(0, n, (batch_size,), generator=gen)
        length = int(torch.randint(min_frames, num_frames + 1, (1,), generator=gen))
        start = torch.randint(0, num_frames - length + 1, (batch_size,), generator=gen)
        frames = start[:, None] + torch.arange(length)  # (B, L)
        window = joints[index[:, None], frames]  # (B, L, 24, 3)
        window = window + noise * torch.randn(window.shape, generator=gen)
        canon = _canonical(window, orients[index, start])
        logits = model(_features_from_canonical(canon, config.fps))
        loss = F.cross_entropy(logits, labels[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % 50 == 0 or step == steps - 1):
            log(step, loss.item())
    return model.eval()
