"""EchoMotion's two-phase trainer on torch.distributed (README.md lists the public API).

Names resolve lazily (PEP 562): `import echomotion_trainer` — which the `echomotion` command's
plug-in registration does — costs no torch import; `echomotion_trainer.Trainer` loads its module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # config and recipes
    "ConfigError": "config",
    "TrainConfig": "config",
    "apply_overrides": "config",
    "load_config": "config",
    "RECIPES": "recipes",
    "recipe": "recipes",
    # a whole run
    "RunSummary": "run",
    "run_training": "run",
    # the loop
    "StepRecord": "loop",
    "TrainBatch": "loop",
    "Trainer": "loop",
    "IndexedBatchSource": "sources",
    # multi-GPU
    "DistInfo": "distributed",
    "init_distributed": "distributed",
    "parallelize": "distributed",
    "build_model": "build",
    "prepare_data": "build",
    # export and evaluation
    "export_checkpoint": "export",
    "export_pipeline": "export",
    "EvalReport": "evaluation",
    "evaluate_checkpoint": "evaluation",
    # memory planning
    "MemoryPlan": "plan",
    "plan_memory": "plan",
}

__all__ = [
    "RECIPES",
    "ConfigError",
    "DistInfo",
    "EvalReport",
    "IndexedBatchSource",
    "MemoryPlan",
    "RunSummary",
    "StepRecord",
    "TrainBatch",
    "TrainConfig",
    "Trainer",
    "apply_overrides",
    "build_model",
    "evaluate_checkpoint",
    "export_checkpoint",
    "export_pipeline",
    "init_distributed",
    "load_config",
    "parallelize",
    "plan_memory",
    "prepare_data",
    "recipe",
    "run_training",
]

if TYPE_CHECKING:
    from .build import build_model, prepare_data
    from .config import ConfigError, TrainConfig, apply_overrides, load_config
    from .distributed import DistInfo, init_distributed, parallelize
    from .evaluation import EvalReport, evaluate_checkpoint
    from .export import export_checkpoint, export_pipeline
    from .loop import StepRecord, TrainBatch, Trainer
    from .plan import MemoryPlan, plan_memory
    from .recipes import RECIPES, recipe
    from .run import RunSummary, run_training
    from .sources import IndexedBatchSource


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'echomotion_trainer' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return [*globals(), *__all__]
