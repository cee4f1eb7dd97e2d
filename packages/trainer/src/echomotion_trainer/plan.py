"""Per-GPU memory of a training recipe, planned before any weight is read (`echomotion plan`).

Dimension legend: ``N`` ranks (GPUs), ``P`` parameters, ``Pt`` trainable parameters (phase 1:
the motion branch and the task embedding; phase 2: all), ``B`` batch per GPU, ``Tv``/``Tm``/``L``
video/motion/text tokens of a sample. GB = 10⁹ bytes, everywhere (``--gpu-memory`` too).

What the plan assumes (DESIGN §6, issue 20):

- FSDP2 full sharding over the ``N`` ranks, one unit per transformer layer (a dual layer's video
  and motion blocks together) plus the root. fp32 master weights (4 B), fp32 gradients (4 B of
  the trainable ones), AdamW ``exp_avg`` + ``exp_avg_sq`` (8 B of the trainable ones) and the
  trainer's EMA (4 B of every weight) are divided by ``N``.
- bf16 compute through ``MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)``: the root's
  parameters stay gathered in bf16 from forward to backward, and two layers' are gathered at a
  time (the one running and the prefetched next); in backward a layer's bf16 gradients and
  their fp32 copy for the reduce-scatter come on top.
- CPU offload (``CPUOffloadPolicy``) moves the sharded parameters, gradients, optimizer state and
  EMA to host memory (the optimizer steps there); a layer's fp32 shard is staged on the GPU
  before its all-gather.
- ``compute="autocast"`` is the one-process alternative without FSDP (what the GPU check runs):
  nothing is sharded, and autocast's cache keeps a bf16 copy of every trainable weight through the
  forward (under checkpointing, backward recasts one layer's at a time).
- Text states and video latents are precomputed: no text encoder or VAE is resident.
- Activations come from :mod:`.activation_law` (measured on tiny real forwards, then scaled).
  Without checkpointing every layer's saved tensors stay to the backward; with it only each
  layer's inputs do, and backward rebuilds one layer's activations at a time.
- The trainer keeps the previous step's gradients through the forward (it zeroes them after),
  so gradients count at the forward's peak. AdamW's foreach step allocates one fp32 temporary
  the size of the trainable shard.

Not counted: the CUDA context, the allocator's cache and fragmentation, NCCL buffers, and the
transient buffers inside one op (attention backward, GEMM workspaces); hence "fits" asks for
10 % headroom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from rich.table import Table

from .activation_law import ActivationLaw, LayerKind, ModelDims, Pass, TokenCounts
from .config import TrainConfig

if TYPE_CHECKING:
    from echomotion_dualdit import DualDiT

__all__ = [
    "GB",
    "HEADROOM",
    "MemoryEstimate",
    "MemoryPlan",
    "ModelSize",
    "TrainShape",
    "estimate_memory",
    "meta_forward_flops",
    "meta_model",
    "model_size",
    "plan_markdown",
    "plan_memory",
    "plan_table",
    "train_shape",
]

GB = 1e9
HEADROOM = 0.10  # "fits" leaves 10 % of the GPU for what the plan does not count
Compute = Literal["fsdp", "autocast"]
MOTION_SLOTS = 51  # tokens per motion frame (DESIGN §3)
# Wan's VAEs by latent channels: 2.1's 16 channels at 8× spatial, 2.2's 48 channels at 16×.
WAN_VAE_SPATIAL = {16: 8, 48: 16}
TEXT_TOKENS = {"umt5": 512, "minilm": 64}  # the encoders' padded lengths (dualdit.text)
_LAYER = re.compile(r"^(?:blocks|motion_blocks)\.(\d+)\.")


@dataclass(frozen=True)
class TrainShape:
    """One training sample's shape and the batch per GPU."""

    batch: int
    frames: int
    height: int
    width: int
    latent: tuple[int, int, int, int]  # (C, F, h, w)
    tokens: TokenCounts

    def describe(self) -> str:
        c, f, h, w = self.latent
        t = self.tokens
        return (
            f"{self.frames}×{self.height}×{self.width} → latents {c}×{f}×{h}×{w}; per sample "
            f"{t.video:,} video + {t.motion:,} motion + {t.text} text tokens; batch {self.batch}/GPU"
        )


@dataclass(frozen=True)
class ModelSize:
    """Parameter counts of the recipe's model, built on the meta device."""

    params: int  # P
    motion_params: int  # phase 1's trainable set
    root_params: int  # outside the layers (embeddings, heads, tokenizers)
    layer_params: tuple[int, ...]  # per layer (its video block and motion block together)
    layer_motion_params: tuple[int, ...]  # per layer, phase 1's trainable part
    layers: tuple[LayerKind, ...]
    dims: ModelDims

    def trainable(self, phase: int) -> int:
        return self.params if phase == 2 else self.motion_params

    def largest_layer(self, phase: int) -> tuple[int, int]:
        """(parameters, trainable parameters) of the largest layer."""
        trainable = self.layer_params if phase == 2 else self.layer_motion_params
        i = max(range(len(self.layer_params)), key=lambda k: self.layer_params[k])
        return self.layer_params[i], max(trainable)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per GPU in one setting; the peak is the largest of three moments."""

    phase: int
    checkpointing: bool
    offload: bool
    params: float
    grads: float
    optimizer: float
    ema: float
    weights_forward: float  # bf16 weights held at the forward's end (FSDP2 gathers / autocast)
    weights_backward: float  # ... and while a layer's backward runs (+ its gradients)
    activations: float  # saved for backward at the forward's end
    recompute: float  # one layer rebuilt in backward (checkpointing), else 0
    step_temporaries: float
    host: float  # host memory per rank (CPU offload)

    @property
    def static(self) -> float:
        return self.params + self.grads + self.optimizer + self.ema

    @property
    def forward_peak(self) -> float:
        return self.static + self.weights_forward + self.activations

    @property
    def backward_peak(self) -> float:
        return self.static + self.weights_backward + self.activations + self.recompute

    @property
    def step_peak(self) -> float:
        return self.static + self.step_temporaries

    @property
    def peak(self) -> float:
        return max(self.forward_peak, self.backward_peak, self.step_peak)


@dataclass(frozen=True)
class MemoryPlan:
    """A recipe's plan: every (phase, checkpointing, offload) on ``gpus`` GPUs of ``gpu_memory`` GB."""

    recipe: str
    gpus: int
    gpu_memory: float
    shape: TrainShape
    size: ModelSize
    law: ActivationLaw
    estimates: tuple[MemoryEstimate, ...]

    def estimate(self, phase: int, checkpointing: bool, offload: bool) -> MemoryEstimate:
        for e in self.estimates:
            if (e.phase, e.checkpointing, e.offload) == (phase, checkpointing, offload):
                return e
        raise KeyError(
            f"no estimate for phase {phase}, checkpointing {checkpointing}, offload {offload}"
        )

    def verdict(self, e: MemoryEstimate) -> str:
        """``yes`` (≤ 90 % of the GPU), ``tight`` (90–100 %) or ``no``."""
        use = e.peak / (self.gpu_memory * GB)
        return "yes" if use <= 1 - HEADROOM else "tight" if use <= 1 else "no"


# ---------------------------------------------------------------------------------- inputs
def train_shape(
    config: TrainConfig,
    *,
    batch: int | None = None,
    frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
) -> TrainShape:
    """The recipe's sample shape (overrides where given) and its token counts.

    Wan VAE: ``4k + 1`` frames → ``k + 1`` latent frames, spatial ÷8 (2.1, 16 channels) or ÷16
    (2.2, 48 channels); space-to-depth: ÷p with ``C = 12·p²``. Video patch from the model,
    motion tokens = frames × 51, text tokens the encoder's padded length.
    """
    from echomotion_dualdit.presets import preset

    data, m = config.data, config.model
    b = data.batch_size if batch is None else batch
    f = data.frames if frames is None else frames
    h = data.height if height is None else height
    w = data.width if width is None else width
    if b < 1:
        raise ValueError(f"batch size must be ≥ 1, got {b}")
    channels = preset(m.preset).in_channels
    if data.video_codec == "wan_vae":
        if channels not in WAN_VAE_SPATIAL:
            raise ValueError(
                f"model.preset {m.preset!r}: {channels} latent channels match no Wan VAE "
                f"(expected {sorted(WAN_VAE_SPATIAL)})"
            )
        spatial = WAN_VAE_SPATIAL[channels]
    else:
        spatial = round((channels / 12) ** 0.5)
    if f < 1 or (f - 1) % 4:
        raise ValueError(f"frames must be 4k + 1 (1, 5, 9, …, 81, …), got {f}")
    patch = m.patch_size or preset(m.preset).patch_size
    if h % (spatial * patch[1]) or w % (spatial * patch[2]) or min(h, w) < 1:
        raise ValueError(
            f"height and width must be positive multiples of {spatial * patch[1]} "
            f"(latent ÷{spatial}, patch {patch[1]}×{patch[2]}), got {h}×{w}"
        )
    latent = (channels, (f - 1) // 4 + 1, h // spatial, w // spatial)
    if latent[1] % patch[0]:
        raise ValueError(
            f"{latent[1]} latent frames do not divide by the temporal patch {patch[0]}"
        )
    video = (latent[1] // patch[0]) * (latent[2] // patch[1]) * (latent[3] // patch[2])
    tokens = TokenCounts(video=video, motion=f * MOTION_SLOTS, text=TEXT_TOKENS[data.text_encoder])
    return TrainShape(batch=b, frames=f, height=h, width=w, latent=latent, tokens=tokens)


def meta_model(config: TrainConfig) -> DualDiT:
    """The recipe's DualDiT on the meta device: no memory, no initialization, no weights read.

    Sizes come from the preset with the config's overrides and its ``dual_blocks`` (else the
    preset's: 15 of 30 for ``wan2.2-5b``); a ``model.wan_path`` is not read.
    """
    from echomotion_dualdit import DualDiT
    from echomotion_dualdit.presets import preset

    m = config.model
    overrides = dict(m.size_overrides())
    if m.dual_blocks is not None:
        overrides["dual_blocks"] = tuple(m.dual_blocks)
    if m.single_stream:
        overrides["single_stream"] = True
    cfg = preset(m.preset).with_(**overrides)
    with torch.device("meta"):
        return DualDiT.from_config_dataclass(cfg)


def model_size(config: TrainConfig) -> ModelSize:
    """Count the parameters of the recipe's model (:func:`meta_model`) by layer and phase."""
    from .loop import is_motion_parameter

    model = meta_model(config)
    cfg = model.dual_config
    layers = [0] * cfg.num_layers
    layers_motion = [0] * cfg.num_layers
    total = motion = 0
    for name, p in model.named_parameters():
        n = p.numel()
        total += n
        is_motion = is_motion_parameter(name)
        motion += n if is_motion else 0
        match = _LAYER.match(name)
        if match:
            layers[int(match.group(1))] += n
            layers_motion[int(match.group(1))] += n if is_motion else 0
    dual = set(model.dual_block_indices)
    kinds: tuple[LayerKind, ...] = tuple(
        "dual" if i in dual else "video" for i in range(cfg.num_layers)
    )
    dims = ModelDims(
        hidden=cfg.num_attention_heads * cfg.attention_head_dim,
        ffn=cfg.ffn_dim,
        heads=cfg.num_attention_heads,
        head_dim=cfg.attention_head_dim,
        text_dim=cfg.text_dim,
        patch_numbers=cfg.in_channels * cfg.patch_size[0] * cfg.patch_size[1] * cfg.patch_size[2],
    )
    return ModelSize(
        params=total,
        motion_params=motion,
        root_params=total - sum(layers),
        layer_params=tuple(layers),
        layer_motion_params=tuple(layers_motion),
        layers=kinds,
        dims=dims,
    )


# ---------------------------------------------------------------------------------- the model
def estimate_memory(
    size: ModelSize,
    shape: TrainShape,
    law: ActivationLaw,
    *,
    gpus: int,
    phase: int,
    checkpointing: bool,
    offload: bool,
    ema: bool = True,
    compute: Compute = "fsdp",
) -> MemoryEstimate:
    """Bytes per GPU for one setting (the assumptions are the module docstring's)."""
    if gpus < 1:
        raise ValueError(f"gpus must be ≥ 1, got {gpus}")
    if phase not in (1, 2):
        raise ValueError(f"phase must be 1 or 2, got {phase}")
    if compute == "autocast" and (gpus > 1 or offload):
        raise ValueError("compute='autocast' is one process without FSDP: gpus=1, no offload")
    p, pt = float(size.params), float(size.trainable(phase))
    unit, unit_trainable = size.largest_layer(phase)
    shard = 1.0 / gpus
    params, grads, optimizer = 4 * p * shard, 4 * pt * shard, 8 * pt * shard
    ema_bytes = 4 * p * shard if ema else 0.0
    if compute == "fsdp":
        staging = 2 * 4 * unit * shard if offload else 0.0  # two layers' fp32 shards on the GPU
        weights_forward = 2 * size.root_params + 2 * 2 * unit + staging
        weights_backward = weights_forward + (2 + 4) * unit_trainable  # bf16 grads + fp32 copy
    else:
        weights_forward = 2 * pt  # autocast's cache of every trainable weight's bf16 copy
        # Without checkpointing the copies stay saved to each layer's backward; with it,
        # backward recasts the layer it rebuilds.
        weights_backward = 2 * unit if checkpointing else weights_forward
    pass_: Pass = "joint" if phase == 2 else "motion"
    activations = law.saved_bytes(
        pass_, size.dims, shape.tokens, size.layers, batch=shape.batch, checkpointing=checkpointing
    )
    recompute = (
        law.recompute_bytes(pass_, size.dims, shape.tokens, size.layers, batch=shape.batch)
        if checkpointing
        else 0.0
    )
    step = 4 * pt * shard
    host = 0.0
    if offload:
        host = params + grads + optimizer + ema_bytes + step
        params = grads = optimizer = ema_bytes = step = 0.0
    return MemoryEstimate(
        phase=phase,
        checkpointing=checkpointing,
        offload=offload,
        params=params,
        grads=grads,
        optimizer=optimizer,
        ema=ema_bytes,
        weights_forward=weights_forward,
        weights_backward=weights_backward,
        activations=activations,
        recompute=recompute,
        step_temporaries=step,
        host=host,
    )


def plan_memory(
    config: TrainConfig,
    *,
    gpus: int,
    gpu_memory: float,
    batch: int | None = None,
    frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    kernels: str | None = None,
    law: ActivationLaw | None = None,
) -> MemoryPlan:
    """Every (phase, checkpointing, CPU offload) of ``config`` on ``gpus`` GPUs of
    ``gpu_memory`` GB each, under FSDP2. ``law`` (fitted at the plan's batch) defaults to one
    measured here on the CPU with mvsrope's ``kernels`` (None: the reference, which saves more
    than CUDA's Triton kernels; ``"triton"`` through Triton's interpreter, see
    :mod:`.activation_law`)."""
    from .activation_law import fit_activation_law

    if gpus < 1:
        raise ValueError(f"gpus must be ≥ 1, got {gpus}")
    if not gpu_memory > 0:
        raise ValueError(f"gpu memory must be > 0 GB, got {gpu_memory}")
    shape = train_shape(config, batch=batch, frames=frames, height=height, width=width)
    size = model_size(config)
    law = law or fit_activation_law("cpu", "fsdp", shape.batch, kernels)
    estimates = tuple(
        estimate_memory(
            size,
            shape,
            law,
            gpus=gpus,
            phase=phase,
            checkpointing=ckpt,
            offload=offload,
            ema=config.optim.ema_decay is not None,
        )
        for phase in (2, 1)
        for offload in (False, True)
        for ckpt in (False, True)
    )
    return MemoryPlan(
        recipe=config.recipe,
        gpus=gpus,
        gpu_memory=gpu_memory,
        shape=shape,
        size=size,
        law=law,
        estimates=estimates,
    )


# ---------------------------------------------------------------------------------- printing
_COLUMNS = ((False, False), (True, False), (False, True), (True, True))  # (ckpt, offload)
_COLUMN_NAMES = ("no checkpointing", "checkpointing", "no ckpt + offload", "ckpt + offload")


def _gb(x: float) -> str:
    """GB with one decimal; small non-zero amounts (tiny recipes) with two significant digits."""
    v = x / GB
    return f"{v:.1f}" if v >= 0.1 or v == 0 else f"{v:.2g}"


def _rows(plan: MemoryPlan, phase: int) -> list[tuple[str, list[str]]]:
    e = [plan.estimate(phase, ckpt, off) for ckpt, off in _COLUMNS]
    other = [plan.estimate(3 - phase, ckpt, off) for ckpt, off in _COLUMNS]
    n = plan.gpus
    shard = f"/{n}" if n > 1 else ""
    rows: list[tuple[str, list[str]]] = [
        (f"parameters, fp32{shard}", [_gb(x.params) for x in e]),
        (f"gradients, fp32{shard}", [_gb(x.grads) for x in e]),
        (f"AdamW exp_avg + exp_avg_sq, fp32{shard}", [_gb(x.optimizer) for x in e]),
        (f"EMA, fp32{shard}", [_gb(x.ema) for x in e]),
        ("bf16 weights gathered (root + 2 layers)", [_gb(x.weights_forward) for x in e]),
        ("activations saved for backward", [_gb(x.activations) for x in e]),
        ("one layer rebuilt in backward", [_gb(x.recompute) for x in e]),
        ("peak: end of forward", [_gb(x.forward_peak) for x in e]),
        ("peak: backward", [_gb(x.backward_peak) for x in e]),
        ("peak: optimizer step", [_gb(x.step_peak) for x in e]),
        ("PEAK", [_gb(x.peak) for x in e]),
        (
            f"fits in {plan.gpu_memory:g} GB (≤ {100 - 100 * HEADROOM:.0f} %)?",
            [f"{plan.verdict(x)} ({100 * x.peak / (plan.gpu_memory * GB):.0f} %)" for x in e],
        ),
        (f"phase {3 - phase} peak", [f"{_gb(x.peak)} ({plan.verdict(x)})" for x in other]),
        ("host memory per rank", [_gb(x.host) for x in e]),
    ]
    return rows


def _title(plan: MemoryPlan, phase: int) -> str:
    s = plan.size
    dual = sum(k == "dual" for k in s.layers)
    what = "motion only, video branch frozen" if phase == 1 else "joint, all trainable"
    params = f"{s.params / 1e9:.2f} B" if s.params >= 1e8 else f"{s.params / 1e6:.2f} M"
    return (
        f"{plan.recipe}: {params} parameters ({dual} of {len(s.layers)} layers "
        f"dual), phase {phase} ({what}), {plan.gpus} × {plan.gpu_memory:g} GB, FSDP2 bf16; "
        f"GB per GPU (10⁹ B)"
    )


def _law_note(plan: MemoryPlan) -> str:
    law, d = plan.law, plan.size.dims
    video = law.per_token("joint", "video", d)
    motion = law.per_token("joint", "motion", d)
    return (
        f"{plan.shape.describe()}. Activations: {video / 1e3:.1f} kB per video token and "
        f"{motion / 1e3:.1f} kB per motion token per dual layer, measured with the "
        f"{law.kernels} kernels on {law.device} ({law.probes} tiny configurations, "
        f"{law.precision} precision, batch {law.batch}; worst misfit {100 * law.max_residual:.2g} %)."
    )


def plan_table(plan: MemoryPlan, phase: int = 2) -> Table:
    """A rich table: one row per memory term, one column per (checkpointing, offload)."""
    table = Table(title=_title(plan, phase), caption=_law_note(plan), caption_justify="left")
    table.add_column("per GPU")
    for name in _COLUMN_NAMES:
        table.add_column(name, justify="right")
    for label, values in _rows(plan, phase):
        table.add_row(label, *values, style="bold" if label == "PEAK" else None)
    return table


def plan_markdown(plan: MemoryPlan, phase: int = 2) -> str:
    """The same table in markdown (for READMEs)."""
    lines = [
        f"**{_title(plan, phase)}**",
        "",
        "| per GPU | " + " | ".join(_COLUMN_NAMES) + " |",
        "|---|" + "---:|" * len(_COLUMN_NAMES),
    ]
    for label, values in _rows(plan, phase):
        bold = label == "PEAK"
        cells = [f"**{v}**" if bold else v for v in values]
        lines.append(f"| {'**PEAK**' if bold else label} | " + " | ".join(cells) + " |")
    lines += ["", _law_note(plan)]
    return "\n".join(lines)


def meta_forward_flops(config: TrainConfig, shape: TrainShape) -> int:
    """FLOPs of one joint forward of the recipe's model at ``shape`` (batch included), counted by
    dualdit's accounting (``FlopCounterMode`` on the meta device, where attention is the math
    path's two matmuls). A training step is 3× that (forward + backward), 4× with checkpointing."""
    from echomotion_dualdit.accounting import count_flops
    from echomotion_dualdit.embeddings import Task
    from echomotion_motion_codec import MOTION_DIM

    model = meta_model(config)
    meta = torch.device("meta")
    b, (c, f, h, w) = shape.batch, shape.latent
    text_dim = model.dual_config.text_dim
    video = torch.empty(b, c, f, h, w, device=meta)  # (B, C, F, h, w)
    motion = torch.empty(b, shape.frames, MOTION_DIM, device=meta)  # (B, Tm, 235)
    text = torch.empty(b, shape.tokens.text, text_dim, device=meta)  # (B, L, Dt)
    timestep = torch.empty(b, device=meta)  # (B,)
    task = torch.full((b,), int(Task.JOINT), dtype=torch.long, device=meta)  # (B,)
    return count_flops(lambda: model(video, motion, timestep, timestep, text, task)).total
