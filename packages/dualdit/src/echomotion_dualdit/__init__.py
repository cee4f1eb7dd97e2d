"""EchoMotion's dual-modality diffusion transformer on Wan (DESIGN.md §5)."""

from echomotion_dualdit.attention import BranchInput, joint_self_attention
from echomotion_dualdit.blocks import DualStreamBlock
from echomotion_dualdit.checkpoint import CheckpointMismatchError
from echomotion_dualdit.conversion import dual_from_wan, read_wan
from echomotion_dualdit.embeddings import Task, TaskEmbedding
from echomotion_dualdit.model import (
    VIDEO_PREDICTIONS,
    DualDiT,
    DualDiTOutput,
    velocity_from_preconditioned,
    velocity_from_sample,
)
from echomotion_dualdit.presets import PRESETS, DualDiTConfig, preset
from echomotion_dualdit.processor import MVSRoPEAttnProcessor

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "VIDEO_PREDICTIONS",
    "BranchInput",
    "CheckpointMismatchError",
    "DualDiT",
    "DualDiTConfig",
    "DualDiTOutput",
    "DualStreamBlock",
    "MVSRoPEAttnProcessor",
    "Task",
    "TaskEmbedding",
    "dual_from_wan",
    "joint_self_attention",
    "preset",
    "read_wan",
    "velocity_from_preconditioned",
    "velocity_from_sample",
]
