"""Typed, serializable training configuration (pydantic; unknown keys are errors).

A config is a `TrainConfig`; recipes (recipes.py) are functions returning one. Files may be
YAML or TOML; `apply_overrides` takes `key.sub=value` strings (values parsed as YAML scalars).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from echomotion_samplers.settings import SamplingDefaults

__all__ = [
    "CheckpointConfig",
    "ConfigError",
    "DataConfig",
    "FlowConfig",
    "LoggingConfig",
    "ModelConfig",
    "OptimConfig",
    "ParallelConfig",
    "PhaseConfig",
    "SamplingConfig",
    "TrainConfig",
    "apply_overrides",
    "load_config",
]


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ModelConfig(_Strict):
    preset: str = "tiny"
    wan_path: str | None = Field(
        None, description="local Wan diffusers transformer folder (Wan recipes)"
    )
    dual_blocks: list[int] | None = Field(
        None, description="dual block indices; None = the preset's"
    )
    init_from: str | None = Field(
        None,
        description="warm start: a DualDiT folder written by save_pretrained (or a shipped "
        "checkpoint holding one in transformer/) whose weights replace the preset's random ones; "
        "its sizes and architecture must equal this config's (unless init_partial)",
    )
    init_partial: bool = Field(
        False,
        description="warm start across an architecture change (e.g. another patch_size): copy "
        "the init_from tensors whose name and shape equal this model's, keep the fresh "
        "initialization for the rest (both lists are printed)",
    )
    rope_time_stride: float = Field(1.0, gt=0, description="MVS-RoPE s: 1 keeps Wan's video RoPE")
    rope_mode: Literal["mvs", "collision"] = "mvs"
    single_stream: bool = Field(
        False, description="ablation (paper A.8.3): motion tokens share the video blocks' weights"
    )
    num_layers: int | None = Field(None, ge=1, description="None = the preset's")
    num_attention_heads: int | None = Field(None, ge=1, description="None = the preset's")
    attention_head_dim: int | None = Field(
        None, ge=6, description="None = the preset's; split over (t, h, w) by MVS-RoPE"
    )
    ffn_dim: int | None = Field(None, ge=1, description="None = the preset's")
    patch_size: tuple[int, int, int] | None = Field(
        None,
        description="video patch (t, h, w) in latent cells; None = the preset's. Smaller patches "
        "give more, smaller video tokens (each carries t·h·w·C latent numbers)",
    )
    gradient_checkpointing: bool = False
    random_init: bool = Field(
        False,
        description="train a Wan preset from random weights (no model.wan_path / init_from); "
        "without it such a run is refused, since a forgotten path would silently waste the run",
    )

    def size_overrides(self) -> dict[str, Any]:
        """The size fields that are set, as `DualDiT.from_preset` keyword arguments."""
        names = ("num_layers", "num_attention_heads", "attention_head_dim", "ffn_dim")
        out: dict[str, Any] = {
            n: int(getattr(self, n)) for n in names if getattr(self, n) is not None
        }
        if self.patch_size is not None:
            out["patch_size"] = tuple(int(v) for v in self.patch_size)
        return out

    @field_validator("dual_blocks")
    @classmethod
    def _block_indices(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(set(v)) != len(v) or any(i < 0 for i in v)):
            raise ValueError(f"expected distinct layer indices >= 0, got {v}")
        return v

    @field_validator("patch_size")
    @classmethod
    def _positive_patch(cls, v: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if v is not None and min(v) < 1:
            raise ValueError(f"expected three positive ints (t, h, w), got {v}")
        return v


class DataConfig(_Strict):
    dataset: str | None = Field(None, description="paired HuMoVe dataset directory")
    synthesize: int = Field(
        0, ge=0, description="make (or finish) a synthetic dataset of this many clips at `dataset`"
    )
    synth_camera_distance: tuple[float, float] = Field(
        (1.2, 2.0),
        description="synthetic clips' camera distance range (near, far) in meters, plus half "
        "the path's extent (humove CameraRange.distance; the camera backs off until the body fits)",
    )
    motion_datasets: list[str] = Field(
        default_factory=list, description="motion-only datasets (phase 1)"
    )
    frames: int = Field(33, description="video frames per window, 4k+1")
    fps: float = Field(16.0, gt=0)
    height: int = Field(64, gt=0)
    width: int = Field(64, gt=0)
    batch_size: int = Field(4, ge=1, description="per-process batch size")
    num_workers: int = Field(
        0,
        ge=0,
        description="DataLoader worker processes reading and collating batches; 0 = in the loop",
    )
    cache_dtype: Literal["bfloat16", "float32"] = Field(
        "bfloat16",
        description="dtype of the cached video latents and text states (float32 keeps the "
        "lossless space-to-depth codec lossless)",
    )
    video_codec: Literal["space_to_depth", "wan_vae"] = "space_to_depth"
    vae_path: str | None = None
    text_encoder: Literal["minilm", "umt5"] = "minilm"
    text_encoder_path: str | None = None

    @field_validator("synth_camera_distance")
    @classmethod
    def _near_far(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"expected (near, far) meters with 0 < near <= far, got {v}")
        return v

    @field_validator("frames")
    @classmethod
    def _four_k_plus_one(cls, v: int) -> int:
        if v < 1 or (v - 1) % 4:
            raise ValueError(f"frames must be 4k+1 (1, 5, 9, …, 81), got {v}")
        return v


class OptimConfig(_Strict):
    lr: float = Field(8e-6, gt=0)
    weight_decay: float = Field(1e-3, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    warmup_steps: int = Field(0, ge=0)
    decay: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="learning rate after warm-up, over each phase's steps"
    )
    final_lr_ratio: float = Field(
        0.1, ge=0, le=1, description="linear/cosine decay: the last step's lr as a fraction of lr"
    )
    grad_accum: int = Field(
        1,
        ge=1,
        description="micro-batches per optimizer step: N micro-batches of data.batch_size give "
        "the update of one batch N times larger",
    )
    grad_clip: float | None = Field(1.0, gt=0, description="max grad norm; None = no clipping")
    ema_decay: float | None = Field(
        0.999, gt=0, lt=1, description="EMA of weights, in (0, 1); None = no EMA"
    )

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError(f"expected two numbers in [0, 1), got {list(v)}")
        return v


class FlowConfig(_Strict):
    shift: float = Field(8.0, gt=0, description="timestep shift σ' = sσ/(1+(s−1)σ)")
    num_train_timesteps: int = Field(1000, ge=1)
    video_loss_weight: float = Field(1.0, ge=0)
    motion_loss_weight: float = Field(1.0, ge=0)
    person_loss_weight: float = Field(
        1.0,
        ge=1,
        description="weight of the video latent cells the person covers (the projected "
        "skeleton, regions.latent_person_mask) relative to the backdrop's 1; the video loss "
        "is then the weighted mean. 1 = a plain mean",
    )
    person_radius: float = Field(
        0.13, gt=0, description="metres: radius of the bone capsules that make the person mask"
    )


class SamplingConfig(SamplingDefaults):
    """The sampling defaults an export writes into its pipeline.json: samplers' one sampling
    schema (`echomotion_samplers.settings.SamplingDefaults`, what `echomotion generate` and
    `echomotion eval` use unless told otherwise), except that ``shift`` None means flow.shift,
    the one the model trained with. Checked here too, so a bad value stops the run before
    training, not at its export."""

    shift: float | None = Field(None, gt=0, description="None = flow.shift")  # type: ignore[assignment]


class PhaseConfig(_Strict):
    """One training phase. Phase 1 is motion-only; phase 2 samples a paradigm per step."""

    steps: int = Field(0, ge=0)
    joint: float = Field(1.0, ge=0, description="paradigm probability (phase 2)")
    m2v: float = Field(1.0, ge=0)
    v2m: float = Field(1.0, ge=0)
    p_text_drop: float = Field(0.1, ge=0, le=1)
    p_cond_drop: float = Field(0.1, ge=0, le=1)
    lr: float | None = Field(None, gt=0, description="overrides optim.lr in this phase")

    @model_validator(mode="after")
    def _some_paradigm(self) -> PhaseConfig:
        if self.joint + self.m2v + self.v2m <= 0:
            raise ValueError("at least one of joint, m2v, v2m must have a positive probability")
        return self


class CheckpointConfig(_Strict):
    every: int = Field(0, ge=0, description="save every N steps; 0 = only at the end")
    keep_last: int = Field(2, ge=1)


class LoggingConfig(_Strict):
    every: int = Field(10, ge=1)
    tensorboard: bool = True
    wandb: bool = False
    validate_every: int = Field(0, ge=0, description="validation samples every N steps; 0 = off")
    validation_prompts: list[str] = Field(default_factory=list)
    validation_steps: int = Field(20, ge=1)


class ParallelConfig(_Strict):
    """FSDP2 (`fully_shard` per transformer layer, then the root) and the process group.

    Sharding applies whenever the run has several processes, or trains in bf16 (the fp32 master
    weights are cast to bf16 for compute by FSDP2's MixedPrecisionPolicy, on one rank as on many).
    """

    reshard_after_forward: bool = Field(
        True,
        description="free each layer's gathered parameters after its forward and gather them "
        "again for backward (ZeRO-3); false keeps them to the backward (ZeRO-2: faster, more memory)",
    )
    cpu_offload: bool = Field(
        False,
        description="keep the sharded parameters, gradients and optimizer state in CPU memory "
        "(FSDP2 CPUOffloadPolicy; the optimizer step then runs on the CPU)",
    )
    timeout_minutes: float = Field(
        60.0,
        gt=0,
        description="process-group timeout: how long a collective waits for the slowest rank",
    )


class TrainConfig(_Strict):
    recipe: str = "custom"
    seed: int = Field(0, ge=0)
    out_dir: str = "outputs/train"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mixed_precision: Literal["no", "bf16"] = "no"
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    flow: FlowConfig = FlowConfig()
    phase1: PhaseConfig = PhaseConfig()
    phase2: PhaseConfig = PhaseConfig()
    parallel: ParallelConfig = ParallelConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    logging: LoggingConfig = LoggingConfig()
    sampling: SamplingConfig = SamplingConfig()

    @property
    def total_steps(self) -> int:
        return self.phase1.steps + self.phase2.steps

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _raise_config_error(err: ValidationError, source: str) -> None:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    raise ConfigError(f"{source}: invalid training config\n" + "\n".join(lines)) from None


def build_config(data: dict[str, Any], source: str = "config") -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        _raise_config_error(err, source)
        raise  # unreachable


def load_config(path: str | os.PathLike[str], base: TrainConfig | None = None) -> TrainConfig:
    """Read YAML (.yaml/.yml) or TOML (.toml); keys given override `base` (or the defaults)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
    elif path.suffix == ".toml":
        data = tomllib.loads(text)
    else:
        raise ConfigError(f"{path}: expected a .yaml, .yml or .toml file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    merged = _deep_merge(base.model_dump(mode="json") if base else {}, _retire(data, str(path)))
    return build_config(merged, str(path))


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """`["optim.lr=1e-4", "phase2.steps=200"]` → a new validated config."""
    data = config.model_dump(mode="json")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. optim.lr=1e-4")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"override {item!r}: {key} is not a config key")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f"override {item!r}: unknown key {key}")
        node[parts[-1]] = _scalar(raw)
    return build_config(data, "overrides")


# Keys of removed features that run folders written before still hold: dropped when they carry
# the value that is now the only behaviour (None: any value), refused otherwise.
_RETIRED: dict[tuple[str, str], Any] = {
    ("model", "video_prediction"): "velocity",
    ("flow", "sample_loss_min_sigma"): None,
}


def _retire(data: dict[str, Any], source: str) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for (section, key), only in _RETIRED.items():
        node = out.get(section)
        if isinstance(node, dict) and key in node:
            value = node.pop(key)
            if only is not None and value != only:
                raise ConfigError(
                    f"{source}: {section}.{key}={value!r} is no longer supported (only {only!r})"
                )
    return out


_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _scalar(raw: str) -> Any:
    """An override's value as YAML reads it, except YAML 1.1's yes/no/on/off, which stay strings
    (``mixed_precision=no`` is the string "no"; a bool field still takes them, pydantic reads
    them as booleans)."""
    if raw.strip().lower() in _YAML11_BOOLS:
        return raw.strip()
    return yaml.safe_load(raw)


def _deep_merge(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in new.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out
