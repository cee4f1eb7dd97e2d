"""The synthetic world: procedural SMPL motions rendered as a capsule mannequin, with captions."""

from .actions import ACTIONS, ActionParams, ActionSpec
from .appearance import Appearance, Backdrop
from .mannequin import Person, Stage, render_frames
from .world import SyntheticClip, SyntheticMotion, synthesize_clip, synthesize_motion

__all__ = [
    "ACTIONS",
    "ActionParams",
    "ActionSpec",
    "Appearance",
    "Backdrop",
    "Person",
    "Stage",
    "SyntheticClip",
    "SyntheticMotion",
    "render_frames",
    "synthesize_clip",
    "synthesize_motion",
]
