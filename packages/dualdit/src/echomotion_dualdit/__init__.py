"""EchoMotion's dual-modality diffusion transformer on Wan (DESIGN.md §5)."""

from echomotion_dualdit.blocks import DualStreamBlock
from echomotion_dualdit.checkpoint import CheckpointMismatchError
from echomotion_dualdit.conversion import dual_from_wan, read_wan
from echomotion_dualdit.embeddings import Task, TaskEmbedding
from echomotion_dualdit.model import (
    DualDiT,
    DualDiTOutput,
)
from echomotion_dualdit.presets import PRESETS, DualDiTConfig, preset
from echomotion_dualdit.processor import (
    HeadsQKV,
    MVSAttnProcessor,
    MVSRoPEAttnProcessor,
    project_out,
    project_qkv,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "CheckpointMismatchError",
    "DualDiT",
    "DualDiTConfig",
    "DualDiTOutput",
    "DualStreamBlock",
    "HeadsQKV",
    "MVSAttnProcessor",
    "MVSRoPEAttnProcessor",
    "Task",
    "TaskEmbedding",
    "dual_from_wan",
    "preset",
    "project_out",
    "project_qkv",
    "read_wan",
]
