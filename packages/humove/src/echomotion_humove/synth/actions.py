"""Procedural actions on the SMPL skeleton: joint angles over time for each action of the
synthetic world, plus the words that describe what was generated.

Angles are intrinsic XYZ Euler angles of each joint's local rotation in SMPL's body frame
(+x the subject's left, +y up, +z forward; rest = T-pose). Useful signs: a negative x angle at
a hip swings the leg forward, a positive x angle at a knee bends it; z = ∓1.3 at the left/right
shoulder brings the arm down from the T-pose; a positive x angle at a spine joint bends forward.

Every action fills a `ActionFrames` for `T` frames over `duration` seconds; `reps` is how many
repetitions fit in the clip, so the caption's count ("twice") is what the motion shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from echomotion_motion_codec import SMPL_JOINT_NAMES

__all__ = ["ACTIONS", "ActionFrames", "ActionParams", "ActionSpec", "count_word"]

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


@dataclass(frozen=True)
class ActionParams:
    """Random knobs of one action instance (sampled by the world from its seed)."""

    reps: int  # repetitions in the clip (jumps, squats, punches, waves, turns …)
    amplitude: float  # ~0.7–1.2, scales joint angles
    speed: float  # m/s for locomotion
    side: str  # "left" or "right": the limb used by one-sided actions
    turn: float  # spin direction, +1 or −1


@dataclass(frozen=True)
class ActionFrames:
    """One action's frames: local angles, root motion in the body's heading frame, extra height.

    euler: (T, 24, 3) intrinsic XYZ angles (index 0 = the pelvis/root, relative to the heading)
    forward: (T,) meters travelled along the heading; lateral: (T,) meters to the subject's left
    lift: (T,) meters above ground contact (flight phase of jumps and runs)
    yaw: (T,) extra turn of the root about the vertical (radians)
    """

    euler: Tensor
    forward: Tensor
    lateral: Tensor
    lift: Tensor
    yaw: Tensor


@dataclass(frozen=True)
class ActionSpec:
    name: str
    category: str
    subcategory: str
    make: Callable[[Tensor, float, ActionParams], ActionFrames]  # (t (T,), duration, params)
    describe: Callable[[ActionParams, str], str]  # (params, direction words) → action phrase
    reps_range: tuple[int, int]
    locomotion: bool = False


_COUNT = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times"}
_NUMBER = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def count_word(n: int) -> str:
    return _COUNT.get(n, f"{n} times")


def _arms_down(e: Tensor, lift: float = 0.0) -> None:
    e[:, J["left_shoulder"], 2] = -1.30 + lift
    e[:, J["right_shoulder"], 2] = 1.30 - lift
    e[:, J["left_elbow"], 1] = 0.2
    e[:, J["right_elbow"], 1] = -0.2


def _zeros(t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    n = t.shape[0]
    z = [torch.zeros(n, dtype=t.dtype) for _ in range(4)]
    return torch.zeros(n, 24, 3, dtype=t.dtype), z[0], z[1], z[2], z[3]


def _cycle(t: Tensor, duration: float, reps: int) -> Tensor:
    """Progress within the current repetition, in [0, 1)."""
    return torch.remainder(t / duration * reps, 1.0)


def _bump(u: Tensor) -> Tensor:
    """0 → 1 → 0 over one repetition, smooth at both ends."""
    return 0.5 - 0.5 * torch.cos(2 * math.pi * u)


# ------------------------------------------------------------------------------- locomotion
def _gait(t: Tensor, duration: float, p: ActionParams, *, run: bool) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    stride = (1.0 if run else 0.75) * p.amplitude + 0.35  # meters per step … per stride ×2
    cadence = p.speed / (2 * stride)  # strides per second
    phase = 2 * math.pi * cadence * t
    a = p.amplitude
    hip = (0.65 if run else 0.42) * a
    knee = 1.5 if run else 0.65
    e[:, J["left_hip"], 0] = -hip * torch.sin(phase)
    e[:, J["right_hip"], 0] = hip * torch.sin(phase)
    e[:, J["left_knee"], 0] = knee * a * torch.clamp(torch.sin(phase - 1.2), min=0.0) + 0.08
    e[:, J["right_knee"], 0] = (
        knee * a * torch.clamp(torch.sin(phase + math.pi - 1.2), min=0.0) + 0.08
    )
    e[:, J["left_ankle"], 0] = -0.2 * torch.sin(phase - 0.5)
    e[:, J["right_ankle"], 0] = 0.2 * torch.sin(phase - 0.5)
    _arms_down(e, 0.15 if run else 0.0)
    arm = (0.6 if run else 0.35) * a
    e[:, J["left_shoulder"], 0] = arm * torch.sin(phase)
    e[:, J["right_shoulder"], 0] = -arm * torch.sin(phase)
    if run:
        e[:, J["left_elbow"], 1] = 1.4
        e[:, J["right_elbow"], 1] = -1.4
        e[:, J["spine1"], 0] = 0.18
        lift = 0.06 * a * torch.clamp(torch.sin(2 * phase), min=0.0)
    e[:, J["spine1"], 1] = 0.1 * torch.sin(phase)
    e[:, J["pelvis"], 1] = -0.08 * torch.sin(phase)
    forward = p.speed * t
    return ActionFrames(e, forward, lateral, lift, yaw)


def _walk(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    return _gait(t, duration, p, run=False)


def _run(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    return _gait(t, duration, p, run=True)


# ------------------------------------------------------------------------------- in place
def _jump(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    u = _cycle(t, duration, p.reps)
    crouch = torch.where(
        u < 0.3,
        torch.sin(math.pi * u / 0.3),
        torch.where(u > 0.7, torch.sin(math.pi * (u - 0.7) / 0.3), 0.0),
    )
    flight = torch.where((u >= 0.3) & (u <= 0.7), torch.sin(math.pi * (u - 0.3) / 0.4), 0.0)
    c = 0.9 * p.amplitude * crouch
    for side in ("left", "right"):
        e[:, J[f"{side}_hip"], 0] = -c
        e[:, J[f"{side}_knee"], 0] = 1.6 * c
        e[:, J[f"{side}_ankle"], 0] = -0.6 * c
    e[:, J["spine1"], 0] = 0.35 * c
    _arms_down(e)
    e[:, J["left_shoulder"], 0] = 0.6 * c - 1.4 * flight
    e[:, J["right_shoulder"], 0] = 0.6 * c - 1.4 * flight
    lift = (0.25 + 0.2 * p.amplitude) * flight
    return ActionFrames(e, forward, lateral, lift, yaw)


def _jumping_jacks(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    u = _cycle(t, duration, p.reps)
    s = _bump(u)
    _arms_down(e)
    e[:, J["left_shoulder"], 2] = -1.3 + 2.6 * s * min(p.amplitude, 1.0)
    e[:, J["right_shoulder"], 2] = 1.3 - 2.6 * s * min(p.amplitude, 1.0)
    e[:, J["left_hip"], 2] = 0.32 * p.amplitude * s
    e[:, J["right_hip"], 2] = -0.32 * p.amplitude * s
    e[:, J["left_ankle"], 2] = -0.3 * p.amplitude * s
    e[:, J["right_ankle"], 2] = 0.3 * p.amplitude * s
    lift = 0.07 * torch.abs(torch.sin(2 * math.pi * u))
    return ActionFrames(e, forward, lateral, lift, yaw)


def _squat(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    s = _bump(_cycle(t, duration, p.reps)) * min(p.amplitude, 1.1)
    for side in ("left", "right"):
        e[:, J[f"{side}_hip"], 0] = -1.45 * s
        e[:, J[f"{side}_knee"], 0] = 2.0 * s
        e[:, J[f"{side}_ankle"], 0] = -0.55 * s
    e[:, J["spine1"], 0] = 0.35 * s
    _arms_down(e)
    e[:, J["left_shoulder"], 2] = -1.3 * (1 - s)
    e[:, J["right_shoulder"], 2] = 1.3 * (1 - s)
    e[:, J["left_shoulder"], 1] = -1.45 * s
    e[:, J["right_shoulder"], 1] = 1.45 * s
    return ActionFrames(e, forward, lateral, lift, yaw)


def _lunge(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    s = _bump(_cycle(t, duration, p.reps)) * min(p.amplitude, 1.1)
    front, back = (p.side, "right" if p.side == "left" else "left")
    e[:, J[f"{front}_hip"], 0] = -1.2 * s
    e[:, J[f"{front}_knee"], 0] = 1.4 * s
    e[:, J[f"{front}_ankle"], 0] = -0.2 * s
    e[:, J[f"{back}_hip"], 0] = 0.45 * s
    e[:, J[f"{back}_knee"], 0] = 1.3 * s
    e[:, J[f"{back}_ankle"], 0] = 0.5 * s
    _arms_down(e)
    return ActionFrames(e, forward, lateral, lift, yaw)


def _wave(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    _arms_down(e)
    sign = 1.0 if p.side == "left" else -1.0  # mirror: z angles flip sign for the right side
    raise_in = torch.clamp(t / (0.2 * duration), max=1.0)
    wave = torch.sin(2 * math.pi * p.reps * t / duration)
    e[:, J[f"{p.side}_shoulder"], 2] = sign * (-1.3 + raise_in * (1.3 + 0.5))
    e[:, J[f"{p.side}_elbow"], 2] = sign * raise_in * (0.9 + 0.45 * p.amplitude * wave)
    e[:, J[f"{p.side}_elbow"], 1] = 0.0
    return ActionFrames(e, forward, lateral, lift, yaw)


def _guard(e: Tensor) -> None:
    for side, sign in (("left", 1.0), ("right", -1.0)):
        e[:, J[f"{side}_shoulder"], 2] = sign * -1.15
        e[:, J[f"{side}_shoulder"], 1] = sign * -0.5
        e[:, J[f"{side}_elbow"], 1] = sign * -2.1


def _punch(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    _guard(e)
    u = _cycle(t, duration, p.reps)
    k = torch.floor(t / duration * p.reps)  # punch index: alternate hands
    s = torch.clamp(_bump(u) * 1.6 * min(p.amplitude, 1.0), max=1.0)
    first = 1.0 if p.side == "left" else -1.0
    for side, sign in (("left", 1.0), ("right", -1.0)):
        active = (torch.remainder(k, 2) == 0) == (sign == first)
        a = torch.where(active, s, torch.zeros_like(s))
        e[:, J[f"{side}_shoulder"], 2] = sign * -1.15 * (1 - a)
        e[:, J[f"{side}_shoulder"], 1] = sign * (-0.5 - 1.05 * a)
        e[:, J[f"{side}_elbow"], 1] = sign * -2.1 * (1 - a)
        e[:, J["spine2"], 1] += -sign * 0.25 * a
    e[:, J["left_hip"], 0] = -0.15
    e[:, J["left_knee"], 0] = 0.25
    e[:, J["right_knee"], 0] = 0.25
    return ActionFrames(e, forward, lateral, lift, yaw)


def _kick(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    _guard(e)
    u = _cycle(t, duration, p.reps)
    s = torch.sin(math.pi * u) ** 2 * min(p.amplitude, 1.1)
    extend = torch.sin(math.pi * u) ** 6
    e[:, J[f"{p.side}_hip"], 0] = -1.45 * s
    e[:, J[f"{p.side}_knee"], 0] = 1.6 * s * (1 - 0.85 * extend)
    e[:, J["spine1"], 0] = -0.2 * s
    return ActionFrames(e, forward, lateral, lift, yaw)


def _spin(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    _arms_down(e, lift=1.1 * min(p.amplitude, 1.0))
    progress = 0.5 - 0.5 * torch.cos(math.pi * t / duration)  # ease in and out
    yaw = p.turn * 2 * math.pi * p.reps * progress
    step = torch.sin(4 * math.pi * p.reps * progress)
    e[:, J["left_hip"], 0] = -0.2 * torch.clamp(step, min=0.0)
    e[:, J["left_knee"], 0] = 0.4 * torch.clamp(step, min=0.0)
    e[:, J["right_hip"], 0] = -0.2 * torch.clamp(-step, min=0.0)
    e[:, J["right_knee"], 0] = 0.4 * torch.clamp(-step, min=0.0)
    return ActionFrames(e, forward, lateral, lift, yaw)


def _bow(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    _arms_down(e)
    s = _bump(_cycle(t, duration, p.reps)) * min(p.amplitude, 1.1)
    e[:, J["spine1"], 0] = 0.55 * s
    e[:, J["spine2"], 0] = 0.3 * s
    e[:, J["spine3"], 0] = 0.15 * s
    e[:, J["neck"], 0] = 0.2 * s
    e[:, J["left_hip"], 0] = -0.25 * s
    e[:, J["right_hip"], 0] = -0.25 * s
    return ActionFrames(e, forward, lateral, lift, yaw)


def _dance(t: Tensor, duration: float, p: ActionParams) -> ActionFrames:
    e, forward, lateral, lift, yaw = _zeros(t)
    phase = 2 * math.pi * p.reps * t / duration
    _arms_down(e, lift=2.0)
    e[:, J["left_elbow"], 2] = 0.5 + 0.4 * torch.sin(2 * phase)
    e[:, J["right_elbow"], 2] = -0.5 + 0.4 * torch.sin(2 * phase)
    e[:, J["pelvis"], 2] = 0.12 * p.amplitude * torch.sin(phase)
    e[:, J["spine1"], 2] = -0.2 * p.amplitude * torch.sin(phase)
    e[:, J["left_knee"], 0] = 0.3 * torch.clamp(torch.sin(phase), min=0.0)
    e[:, J["right_knee"], 0] = 0.3 * torch.clamp(-torch.sin(phase), min=0.0)
    lateral = 0.15 * p.amplitude * torch.sin(phase)
    return ActionFrames(e, forward, lateral, lift, yaw)


def _plural(n: int, word: str) -> str:
    return f"{_NUMBER.get(n, str(n))} {word}{'' if n == 1 else 's'}"


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("walk", "General & Others", "Daily Activity", _walk,
                   lambda p, d: f"walks {d}", (1, 1), locomotion=True),
        ActionSpec("run", "Athletics & Fitness", "Athletics", _run,
                   lambda p, d: f"runs {d}", (1, 1), locomotion=True),
        ActionSpec("jump", "Athletics & Fitness", "Athletics", _jump,
                   lambda p, d: f"jumps up and down {count_word(p.reps)}", (1, 3)),
        ActionSpec("jumping_jacks", "Urban & Outdoor", "Street Workout", _jumping_jacks,
                   lambda p, d: f"does {_plural(p.reps, 'jumping jack')}", (1, 3)),
        ActionSpec("squat", "Urban & Outdoor", "Street Workout", _squat,
                   lambda p, d: f"squats down {count_word(p.reps)}", (1, 2)),
        ActionSpec("lunge", "Urban & Outdoor", "Street Workout", _lunge,
                   lambda p, d: f"lunges {count_word(p.reps)} with the {p.side} leg forward", (1, 2)),
        ActionSpec("wave", "General & Others", "Daily Activity", _wave,
                   lambda p, d: f"waves the {p.side} hand", (2, 4)),
        ActionSpec("bow", "General & Others", "Daily Activity", _bow,
                   lambda p, d: "bows forward" + ("" if p.reps == 1 else f" {count_word(p.reps)}"), (1, 2)),
        ActionSpec("punch", "Combat Sports", "Boxing", _punch,
                   lambda p, d: f"throws {_plural(p.reps, 'punch')}".replace("punchs", "punches"), (2, 4)),
        ActionSpec("kick", "Combat Sports", "Taekwondo", _kick,
                   lambda p, d: f"kicks with the {p.side} leg {count_word(p.reps)}", (1, 2)),
        ActionSpec("spin", "Dance & Artistic", "Dancing", _spin,
                   lambda p, d: f"spins around {count_word(p.reps)} with arms out", (1, 2)),
        ActionSpec("dance", "Dance & Artistic", "Dancing", _dance,
                   lambda p, d: "dances, swaying from side to side with raised arms", (1, 2)),
    )
}  # fmt: skip
