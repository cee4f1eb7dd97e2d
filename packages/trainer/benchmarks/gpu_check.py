"""One-GPU check of the real dual model: a training step's time and peak memory beside the
planner's prediction, model FLOPs utilization, and one sampling forward per mode.

    python packages/trainer/benchmarks/gpu_check.py                        # 1.3B at 81×480×832
    python packages/trainer/benchmarks/gpu_check.py --out gpu_check.json   # also a JSON record
    python packages/trainer/benchmarks/gpu_check.py --frames 33 --height 240 --width 416  # smaller GPU
    python packages/trainer/benchmarks/gpu_check.py --preset tiny          # the tiny model on the GPU
    python packages/trainer/benchmarks/gpu_check.py --dry-run              # CPU, tiny preset, CI

(``--preset wan2.2-5b`` needs ≈ 150 GB for its weights, gradients, AdamW state and EMA alone: more
than one GPU holds without sharding.)

What runs (``DualDiT.from_preset``: random weights, fp32 master weights, gradient checkpointing
on, sharded by the trainer's own ``parallelize`` as ``echomotion train`` does on one GPU in bf16:
FSDP2 over a process group of one, bf16 copies of each layer gathered for compute; text states
``(1, 512, 4096)`` and latents random):

1. the activation law (``echomotion_trainer.activation_law``) measured on this device, so the
   planner's prediction counts what the kernels that run here save (Triton on CUDA);
2. one warm-up training step, then one timed step: the trainer's own ``Trainer.train_step``
   (phase 2, every step joint: flow-matching noise at a sampled σ on both modalities, velocity
   target, MSE on both, backward, gradient clipping, AdamW, EMA) on that model,
   ``mixed_precision=bf16`` — the planner's ``compute="fsdp"`` setting on one GPU, printed
   beside the measured ``torch.cuda.max_memory_allocated``;
3. model FLOPs of the step: 3 × one joint forward as dualdit's accounting counts it
   (``FlopCounterMode`` on the meta device), against ``--peak-tflops`` (MFU), and 4 × (the
   recomputed forward included: HFU);
4. one sampling forward per mode under ``torch.no_grad`` (joint: both noised; m2v: motion clean
   at timestep 0; v2m: video clean at timestep 0), each after a warm-up call.

``--dry-run`` takes the same path on the CPU with the ``tiny`` preset at 9 frames of 32×32
(lossless space-to-depth latents, 64 MiniLM-width text tokens; the tiny preset's default shape on
a GPU too) in well under a minute; its numbers say nothing about a GPU (peak memory is not
measured on the CPU). Progress goes to stderr, the table to stdout. Imports: torch and this
project's packages only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from echomotion_dualdit import DualDiT, Task
from echomotion_motion_codec import MOTION_DIM
from echomotion_trainer.activation_law import ActivationLaw, fit_activation_law
from echomotion_trainer.config import TrainConfig, apply_overrides
from echomotion_trainer.distributed import DistInfo, parallelize
from echomotion_trainer.loop import TrainBatch, Trainer
from echomotion_trainer.plan import (
    GB,
    MemoryEstimate,
    TrainShape,
    estimate_memory,
    meta_forward_flops,
    model_size,
    train_shape,
)
from echomotion_trainer.recipes import recipe

BASE_RECIPES = {"wan2.1-1.3b": "wan2.1-1.3b", "wan2.2-5b": "wan2.2-5b", "tiny": "wan2.1-1.3b"}
# The tiny preset reads 48-channel space-to-depth latents and 384-wide MiniLM states.
TINY_DATA = ("data.video_codec=space_to_depth", "data.text_encoder=minilm")
DRY_RUN_SHAPE = (9, 32, 32)
SAMPLE_TIMESTEP = 500.0  # a mid-schedule Wan timestep for the noised modality
MODES = {
    # mode: (task, video timestep, motion timestep); 0 = the clean condition
    "joint": (Task.JOINT, SAMPLE_TIMESTEP, SAMPLE_TIMESTEP),
    "m2v": (Task.M2V, SAMPLE_TIMESTEP, 0.0),
    "v2m": (Task.V2M, 0.0, SAMPLE_TIMESTEP),
}


@dataclass(frozen=True)
class CheckResult:
    """Everything the check prints (and writes with ``--out``); seconds, bytes, FLOPs."""

    dry_run: bool
    date: str
    device: str
    versions: dict[str, str]
    preset: str
    params: int
    dual_layers: str
    shape: str
    train_step_s: float
    loss: float
    compute_dtype: str
    peak_bytes: int | None  # None on the CPU
    planned: dict[str, float]  # the planner's terms and its peak, bytes
    forward_flops: int
    peak_tflops: float
    mfu: float
    hfu: float
    sample_s: dict[str, float]
    sample_peak_bytes: dict[str, int | None]
    law: str


class FixedBatches:
    """A `BatchSource` that gives the same batch every step (the data do not change the cost)."""

    def __init__(self, batch: TrainBatch) -> None:
        self.batch = batch

    def next_batch(self) -> TrainBatch:
        return self.batch

    def state_dict(self) -> dict[str, int]:
        return {}

    def load_state_dict(self, state: dict[str, int]) -> None:
        del state


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(BASE_RECIPES), default=None)
    parser.add_argument("--frames", type=int, default=None, help="4k + 1; default the recipe's")
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=989.0,
        help="the device's dense bf16 peak for MFU (H100/H200 SXM: 989)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny preset (CI)")
    args = parser.parse_args(argv)
    if args.preset is None:
        args.preset = "tiny" if args.dry_run else "wan2.1-1.3b"
    if args.preset == "tiny":  # the Wan recipe's 81×480×832 would be 524k space-to-depth tokens
        frames, height, width = DRY_RUN_SHAPE
        args.frames = args.frames or frames
        args.height = args.height or height
        args.width = args.width or width
    return args


def make_config(args: argparse.Namespace, device: torch.device) -> TrainConfig:
    """The preset's Wan recipe (optimizer, flow, bf16, checkpointing), phase 2 with every step
    joint, at the asked shape; the tiny preset takes the tiny latents and text."""
    overrides = [
        f"device={device.type}",
        "mixed_precision=bf16",
        f"model.preset={args.preset}",
        "model.gradient_checkpointing=true",
        f"data.batch_size={args.batch_size}",
        "phase1.steps=0",
        "phase2.joint=1",
        "phase2.m2v=0",
        "phase2.v2m=0",
    ]
    if args.preset == "tiny":
        overrides += TINY_DATA
    for key in ("frames", "height", "width"):
        if getattr(args, key) is not None:
            overrides.append(f"data.{key}={getattr(args, key)}")
    return apply_overrides(recipe(BASE_RECIPES[args.preset]), overrides)


def versions(device: torch.device) -> dict[str, str]:
    """torch, triton, CUDA, python and the device's name."""
    try:
        import triton

        triton_version = str(triton.__version__)
    except ImportError:
        triton_version = "absent"
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    )
    return {
        "torch": torch.__version__,
        "triton": triton_version,
        "cuda": str(torch.version.cuda),
        "python": platform.python_version(),
        "device": name,
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, run: Callable[[], Any]) -> tuple[Any, float]:
    """``run()``'s result and its wall time, the device synchronized on both ends."""
    synchronize(device)
    start = time.perf_counter()
    out = run()
    synchronize(device)
    return out, time.perf_counter() - start


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_bytes(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def random_batch(shape: TrainShape, text_dim: int, device: torch.device) -> TrainBatch:
    """Random latents, motion and text states of ``shape`` on ``device`` (fp32)."""
    g = torch.Generator().manual_seed(0)
    b = shape.batch
    video = torch.randn((b, *shape.latent), generator=g)  # (B, C, F, h, w)
    motion = torch.randn((b, shape.frames, MOTION_DIM), generator=g)  # (B, Tm, 235)
    text = torch.randn((b, shape.tokens.text, text_dim), generator=g)  # (B, L, Dt)
    return TrainBatch(video=video.to(device), motion=motion.to(device), text=text.to(device))


def record_compute_dtype(model: DualDiT) -> tuple[list[torch.dtype], Callable[[], None]]:
    """Output dtypes of the first linear layer of the first block, and a remover for the hook.

    A guard: if the trainer's sharding stopped computing in bf16, this check would silently time
    fp32; it fails instead.
    """
    linear = next(m for m in model.blocks[0].modules() if isinstance(m, nn.Linear))
    seen: list[torch.dtype] = []

    def hook(module: nn.Module, inputs: Any, output: Tensor) -> None:
        seen.append(output.dtype)

    handle = linear.register_forward_hook(hook)
    return seen, handle.remove


def train_step(
    config: TrainConfig, model: DualDiT, shape: TrainShape, device: torch.device
) -> tuple[float, float, str, int | None]:
    """(seconds, loss, compute dtype, peak bytes) of the trainer's step, after a warm-up step."""
    batch = random_batch(shape, model.dual_config.text_dim, device)
    source = FixedBatches(batch)
    null_text = torch.zeros(1, shape.tokens.text, model.dual_config.text_dim)  # (1, L, Dt)
    dist = DistInfo(rank=0, world_size=1, local_rank=0, device=device)
    with tempfile.TemporaryDirectory() as out_dir:  # the trainer writes nothing in train_step
        trainer = Trainer(config, model, {1: source, 2: source}, null_text, dist, out_dir=out_dir)
        dtypes, remove = record_compute_dtype(model)
        trainer.train_step(source.next_batch())  # warm-up: kernels compile, AdamW state appears
        reset_peak(device)
        record, seconds = timed(device, lambda: trainer.train_step(source.next_batch()))
        peak = peak_bytes(device)
        remove()
    if not dtypes or any(d != torch.bfloat16 for d in dtypes):
        raise SystemExit(
            f"the training step computed in {sorted({str(d) for d in dtypes})}, not bf16: "
            "parallelize / Trainer.train_step no longer compute in bf16"
        )
    return seconds, float(record.loss), "bfloat16", peak


def sample_forwards(
    model: DualDiT, shape: TrainShape, device: torch.device
) -> tuple[dict[str, float], dict[str, int | None]]:
    """Seconds and peak bytes of one sampling forward per mode (after one warm-up call each)."""
    batch = random_batch(shape, model.dual_config.text_dim, device)
    b = shape.batch
    seconds: dict[str, float] = {}
    peaks: dict[str, int | None] = {}
    model.eval()
    for mode, (task, t_video, t_motion) in MODES.items():
        task_ids = torch.full((b,), int(task), dtype=torch.long, device=device)  # (B,)
        video_t = torch.full((b,), t_video, device=device)  # (B,)
        motion_t = torch.full((b,), t_motion, device=device)  # (B,)

        def forward(
            task_ids: Tensor = task_ids, video_t: Tensor = video_t, motion_t: Tensor = motion_t
        ) -> Any:
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
                return model(batch.video, batch.motion, video_t, motion_t, batch.text, task_ids)

        forward()  # warm-up
        reset_peak(device)
        _, seconds[mode] = timed(device, forward)
        peaks[mode] = peak_bytes(device)
    model.train()
    return seconds, peaks


def progress(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def device_law(device: torch.device, batch: int) -> ActivationLaw:
    """The activation law measured on ``device`` with its default kernels (Triton on CUDA); if
    those fail at the probes' tiny sizes, the PyTorch reference kernels, said so in the law."""
    try:
        return fit_activation_law(device.type, "fsdp", batch)
    except Exception as err:  # the check's other figures still matter: fall back, loudly
        if device.type != "cuda":
            raise
        progress(f"activation law with the Triton kernels failed ({err!r}); using the reference")
        return fit_activation_law(device.type, "fsdp", batch, "reference")


def run_check(args: argparse.Namespace) -> CheckResult:
    device = torch.device("cpu" if args.dry_run else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU, or pass --dry-run")
    config = make_config(args, device)
    shape = train_shape(config)
    size = model_size(config)

    # 1. What this device's kernels save, fitted before the big model takes the memory.
    progress(f"measuring the activation law on {device} (192 tiny forwards)")
    law = device_law(device, shape.batch)
    plan: MemoryEstimate = estimate_memory(
        size,
        shape,
        law,
        gpus=1,
        phase=2,
        checkpointing=True,
        offload=False,
        ema=config.optim.ema_decay is not None,
        compute="fsdp",
    )

    # 2. The real model: random weights, fp32, built on the device.
    progress(f"building {args.preset} on {device}; {shape.describe()}")
    torch.manual_seed(0)
    with device:
        model = DualDiT.from_preset(args.preset)
    model.enable_gradient_checkpointing()
    model.train()
    info = DistInfo(rank=0, world_size=1, local_rank=0, device=device)
    model = parallelize(model, config, info)  # FSDP2, a group of one: bf16 gathers of fp32 weights
    progress("training: one warm-up step, one timed step")
    seconds, loss, dtype, peak = train_step(config, model, shape, device)

    # 3. Model FLOPs (meta device) against the device's peak.
    forward = meta_forward_flops(config, shape)
    achieved = 3 * forward / seconds / 1e12
    # 4. Sampling.
    progress("sampling: one warm-up and one timed forward per mode")
    sample_s, sample_peaks = sample_forwards(model, shape, device)

    dual = sum(k == "dual" for k in size.layers)
    c, f, h, w = shape.latent
    video_token = law.per_token("joint", "video", size.dims)
    return CheckResult(
        dry_run=args.dry_run,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        device=str(device),
        versions=versions(device),
        preset=args.preset,
        params=size.params,
        dual_layers=f"{dual}/{len(size.layers)}",
        shape=shape.describe(),
        train_step_s=seconds,
        loss=loss,
        compute_dtype=dtype,
        peak_bytes=peak,
        planned={
            "parameters": plan.params,
            "gradients": plan.grads,
            "adamw": plan.optimizer,
            "ema": plan.ema,
            "bf16_weight_copies": plan.weights_forward,
            "activations": plan.activations,
            "layer_rebuilt": plan.recompute,
            "peak": plan.peak,
        },
        forward_flops=forward,
        peak_tflops=args.peak_tflops,
        mfu=achieved / args.peak_tflops,
        hfu=4 / 3 * achieved / args.peak_tflops,
        sample_s=sample_s,
        sample_peak_bytes=sample_peaks,
        law=(
            f"measured on {law.device} with the {law.kernels} kernels ({law.probes} probes, "
            f"worst misfit "
            f"{100 * law.max_residual:.2g} %): {video_token / 1e3:.1f} kB per video token per "
            f"dual layer at this size; latents {c}×{f}×{h}×{w}"
        ),
    )


def report(r: CheckResult) -> str:
    """The plain-text table (one ``name  value`` row each)."""

    def gb(x: float | None) -> str:
        if x is None:
            return "n/a (CPU)"
        return f"{x / GB:.2f} GB" if x >= 0.1 * GB else f"{x / 1e6:.2f} MB"

    def count(x: float, unit: str) -> str:
        for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
            if x >= scale:
                return f"{x / scale:.2f} {prefix}{unit}"
        return f"{x:.0f} {unit}"

    planned = r.planned
    params = f"{r.params / 1e9:.2f} B" if r.params >= 1e8 else f"{r.params / 1e6:.2f} M"
    measured = "not measured on the CPU" if r.peak_bytes is None else f"{gb(r.peak_bytes)} measured"
    peak_line = f"{measured} (max_memory_allocated) | {gb(planned['peak'])} planned"
    if r.peak_bytes:
        peak_line += f" (plan {100 * (planned['peak'] / r.peak_bytes - 1):+.1f} % off)"
    terms = ", ".join(f"{k.replace('_', ' ')} {gb(v)}" for k, v in planned.items() if k != "peak")
    v = r.versions
    rows = [
        ("date", r.date),
        ("device", f"{v['device']}, torch device {r.device}, CUDA {v['cuda']}"),
        ("versions", f"torch {v['torch']}, triton {v['triton']}, python {v['python']}"),
        (
            "model",
            f"{r.preset}: {params} parameters, {r.dual_layers} dual layers; fp32 "
            "master weights, bf16 compute (FSDP2, one rank), gradient checkpointing",
        ),
        ("shape", r.shape),
        (
            "train step",
            f"{r.train_step_s:.3f} s (trainer step, phase 2 joint; loss {r.loss:.3f}; "
            f"compute {r.compute_dtype})",
        ),
        ("peak memory", peak_line),
        ("planned terms", terms),
        (
            "FLOPs per step",
            f"{count(3 * r.forward_flops, 'FLOP')} (3 × forward {count(r.forward_flops, 'FLOP')}; "
            f"{count(4 * r.forward_flops, 'FLOP')} with the recompute)",
        ),
        (
            "MFU",
            f"{100 * r.mfu:.1f} % of {r.peak_tflops:g} TFLOP/s (HFU {100 * r.hfu:.1f} %; "
            f"{count(3 * r.forward_flops / r.train_step_s, 'FLOP/s')})",
        ),
    ]
    for mode, s in r.sample_s.items():
        rows.append((f"sample {mode}", f"{s:.3f} s (peak {gb(r.sample_peak_bytes[mode])})"))
    rows.append(("activation law", r.law))
    title = "EchoMotion GPU check"
    if r.dry_run:
        title += " — DRY RUN (CPU, tiny preset: the numbers say nothing about a GPU)"
    width = max(len(name) for name, _ in rows)
    return "\n".join([title, *(f"{name:<{width}}  {value}" for name, value in rows)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run_check(args)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    print(report(result), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(asdict(result), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
