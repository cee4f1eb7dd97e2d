"""EchoMotion motion codec: SMPL motion ⇄ 51 tokens per frame (DESIGN §3)."""

from .amass import read_amass
from .atomic import atomic_path
from .builtin import walk_cycle
from .evaluate import evaluate_motion
from .frames import CAMERA_FROM_YUP, Z_UP_TO_Y_UP, transform_motion
from .layout import MOTION_DIM, NUM_SLOTS, MotionLayout, Slot
from .motion import CoordinateFrame, MotionValidationError, SMPLMotion
from .normalizer import MotionNormalizer
from .npz_io import load_motion, save_motion
from .resample import resample_motion
from .skeleton import (
    NUM_BETAS,
    NUM_JOINTS,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    BodyModel,
    SkeletonBodyModel,
    forward_kinematics,
)
from .smpl_model import SMPLBodyModel
from .tokenizer import MotionDetokenizer, MotionTokenizer

__version__ = "0.1.0"

__all__ = [
    "CAMERA_FROM_YUP",
    "MOTION_DIM",
    "NUM_BETAS",
    "NUM_JOINTS",
    "NUM_SLOTS",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "Z_UP_TO_Y_UP",
    "BodyModel",
    "CoordinateFrame",
    "MotionDetokenizer",
    "MotionLayout",
    "MotionNormalizer",
    "MotionTokenizer",
    "MotionValidationError",
    "SMPLBodyModel",
    "SMPLMotion",
    "SkeletonBodyModel",
    "Slot",
    "atomic_path",
    "evaluate_motion",
    "forward_kinematics",
    "load_motion",
    "read_amass",
    "resample_motion",
    "save_motion",
    "transform_motion",
    "walk_cycle",
]
