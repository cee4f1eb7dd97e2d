"""The two-phase training loop: one `Trainer`, stateful, resumable to the bit.

Dimension legend: B batch per process, C latent channels, F latent frames, h, w latent grid,
Tm motion frames, P = 235 motion parameters, L text tokens, Dt text width.

Per step: sample the paradigm and drops (`plan_step`, from a generator every rank shares), build
each modality's input (noised at a sampled σ, clean at σ = 0, or absent), one forward of the dual
model, the flow loss on the noised modalities, AdamW with warm-up and clipping, then EMA.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointManager, capture_rng, restore_rng
from .config import PhaseConfig, TrainConfig
from .distributed import DistInfo, all_reduce_mean
from .ema import EMA
from .flow import add_noise, flow_loss, sample_sigmas, velocity_target
from .paradigms import Role, StepPlan, plan_step
from .regions import region_weight

__all__ = [
    "MOTION_PREFIXES",
    "BatchSource",
    "StepRecord",
    "TrainBatch",
    "Trainer",
    "is_motion_parameter",
    "lr_multiplier",
]

# Parameters trained in phase 1 (the motion branch and the task embedding); the rest is the
# pretrained video branch, frozen then (DESIGN §6). A dual layer's motion block is
# `blocks.{i}.motion.*`.
MOTION_PREFIXES = ("motion_", "task_embedder")
MOTION_INFIX = ".motion."


def is_motion_parameter(name: str) -> bool:
    """Whether a DualDiT parameter belongs to the motion branch (or the shared task embedding)."""
    return name.startswith(MOTION_PREFIXES) or MOTION_INFIX in name


def lr_multiplier(step: int, *, warmup: int, steps: int, decay: str, final: float) -> float:
    """The learning-rate factor at scheduler step ``step`` (0-based) of a phase of ``steps``:
    linear warm-up over ``warmup`` steps to 1, then constant, or a linear / cosine decay that
    reaches ``final`` at the phase's last step. A function of the step alone, so a resumed run
    follows the same schedule."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if decay == "constant":
        return 1.0
    span = steps - 1 - warmup
    progress = min(1.0, max(0.0, (step - warmup) / span)) if span > 0 else 1.0
    if decay == "linear":
        return 1.0 - (1.0 - final) * progress
    if decay == "cosine":
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"optim.decay must be constant, linear or cosine, got {decay!r}")


def _zero_adam_state(opt: torch.optim.Optimizer) -> None:
    """Give every parameter the state AdamW would create at its first gradient (step 0, zero
    moments), which AdamW then uses unchanged. Lazily, a parameter that has had no gradient yet
    (e.g. the video head during v2m steps) has no state, so a checkpoint taken then lacks keys
    that a resumed optimizer expects; with the state made up front every checkpoint holds all."""
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    for group in opt.param_groups:
        for p in group["params"]:
            opt.state[p] = {
                "step": torch.tensor(0.0, dtype=step_dtype),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }


@dataclass(frozen=True)
class TrainBatch:
    """One process's batch. video: (B, C, F, h, w) normalized latents or None (motion-only data);
    motion: (B, Tm, P) normalized motion; text: (B, L, Dt) prompt states; person: (B, 1, F, h, w)
    the latent cells the person covers (`regions.latent_person_mask`), or None."""

    video: Tensor | None
    motion: Tensor
    text: Tensor
    person: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.motion.shape[0])

    def pin_memory(self) -> TrainBatch:
        """The same batch in page-locked memory (what a `DataLoader` with pin_memory calls)."""
        return TrainBatch(
            video=None if self.video is None else self.video.pin_memory(),
            motion=self.motion.pin_memory(),
            text=self.text.pin_memory(),
            person=None if self.person is None else self.person.pin_memory(),
        )


class BatchSource(Protocol):
    """An endless, deterministic stream of batches whose position can be saved and restored."""

    def next_batch(self) -> TrainBatch: ...

    def state_dict(self) -> dict[str, int]: ...

    def load_state_dict(self, state: dict[str, int]) -> None: ...


@dataclass(frozen=True)
class StepRecord:
    step: int
    phase: int
    paradigm: str
    loss: float
    loss_video: float | None
    loss_motion: float | None
    lr: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Trainer:
    """Trains `model` (a DualDiT-like module) through phase 1 then phase 2 of `config`.

    sources: {1: motion-only batches (video None), 2: paired batches}.
    null_text: (1, L, Dt) states of the empty prompt, the condition a dropped prompt gets.
    """

    def __init__(
        self,
        config: TrainConfig,
        model: nn.Module,
        sources: Mapping[int, BatchSource],
        null_text: Tensor,
        dist: DistInfo,
        *,
        out_dir: str | Path | None = None,
        on_step: Callable[[StepRecord], None] | None = None,
        validate: Callable[[int], object] | None = None,
    ) -> None:
        self.config = config
        self.model = model
        self.sources = sources
        self.null_text = null_text.to(dist.device)
        self.dist = dist
        self.out_dir = Path(out_dir or config.out_dir)
        self.on_step = on_step
        self.validate = validate  # called on every rank every `logging.validate_every` steps
        self.step = 0
        # Both generators are shared by all ranks: every rank draws the plan, σ and noise of the
        # whole global batch and keeps its own rows, so N processes × B rows see exactly what one
        # process with N·B rows would (and the paradigm agrees across ranks, as FSDP needs).
        self.plan_gen = torch.Generator().manual_seed(config.seed)
        self.noise_gen = torch.Generator().manual_seed(config.seed * 1000 + 1)
        self.checkpoints = CheckpointManager(
            self.out_dir / "checkpoints", config.checkpoint.keep_last
        )
        self.phase = 1 if config.phase1.steps > 0 else 2
        self.optimizer, self.scheduler = self._make_optimizer(self.phase)
        self.ema = EMA(model, config.optim.ema_decay) if config.optim.ema_decay else None
        self.history: list[StepRecord] = []

    # ------------------------------------------------------------------ setup
    def _phase_config(self, phase: int) -> PhaseConfig:
        return self.config.phase1 if phase == 1 else self.config.phase2

    def _set_trainable(self, phase: int) -> list[nn.Parameter]:
        trainable = []
        for name, p in self.model.named_parameters():
            p.requires_grad_(phase == 2 or is_motion_parameter(name))
            if p.requires_grad:
                trainable.append(p)
        if not trainable:
            raise ValueError("model: no trainable parameters for this phase (motion branch names?)")
        return trainable

    def _make_optimizer(
        self, phase: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        o = self.config.optim
        lr = self._phase_config(phase).lr or o.lr
        opt = torch.optim.AdamW(
            self._set_trainable(phase), lr=lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
        _zero_adam_state(opt)
        steps = self._phase_config(phase).steps
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda s: lr_multiplier(
                s, warmup=o.warmup_steps, steps=steps, decay=o.decay, final=o.final_lr_ratio
            ),
        )
        return opt, sched

    def _enter_phase(self, phase: int) -> None:
        close = getattr(self.sources.get(self.phase), "close", None)
        if callable(close) and phase != self.phase:
            close()  # the finished phase's loader workers
        self.phase = phase
        self.optimizer, self.scheduler = self._make_optimizer(phase)

    # ------------------------------------------------------------------ one step
    def _draw(self, role: Role, example: Tensor | None, rows: int) -> tuple[Tensor, Tensor] | None:
        """σ (rows,) and noise (rows, ...) of one noised modality for the whole global batch
        (every rank draws all of it from the shared generator and keeps its own rows)."""
        if role is not Role.NOISED or example is None:
            return None
        sigma = sample_sigmas(rows, shift=self.config.flow.shift, generator=self.noise_gen)
        noise = torch.randn(
            (rows, *example.shape[1:]), generator=self.noise_gen, dtype=torch.float32
        )
        return sigma, noise

    def _inputs(
        self,
        data: Tensor | None,
        role: Role,
        name: str,
        draw: tuple[Tensor, Tensor] | None,
        rows: slice,
    ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """(input, Wan timestep, velocity target) for one modality under its role."""
        if role is Role.ABSENT or data is None:
            if role is not Role.ABSENT:
                raise ValueError(f"batch: the plan needs {name} but the batch has none")
            return None, None, None
        device = self.dist.device
        if role is Role.CLEAN:
            return data, torch.zeros(data.shape[0], device=device), None
        assert draw is not None
        sigma = draw[0][rows].to(device)  # (B,)
        noise = draw[1][rows].to(device, data.dtype)  # (B, ...)
        timestep = sigma * self.config.flow.num_train_timesteps
        return add_noise(data, noise, sigma), timestep, velocity_target(data, noise)

    def _rows(self, batch: int, micro: int = 0) -> slice:
        """This rank's rows of micro-batch ``micro`` in the step's global batch (ordered micro
        by micro, rank by rank: what one process reading the same items in one batch sees)."""
        start = (micro * self.dist.world_size + self.dist.rank) * batch
        return slice(start, start + batch)

    def _set_gradient_sync(self, sync: bool) -> None:
        """FSDP2 reduces gradients after the last micro-batch only (a no-op without FSDP)."""
        setter = getattr(self.model, "set_requires_gradient_sync", None)
        if callable(setter):
            setter(sync)

    def train_step(self, batch: TrainBatch | Sequence[TrainBatch]) -> StepRecord:
        """One optimizer step over one batch, or over micro-batches whose gradients add up
        (``optim.grad_accum``): N micro-batches of B rows give the update of one batch of N·B."""
        start = time.perf_counter()
        cfg = self.config
        device = self.dist.device
        micros = [batch] if isinstance(batch, TrainBatch) else list(batch)
        size = micros[0].batch_size
        if any(m.batch_size != size for m in micros):
            raise ValueError(
                f"batch: micro-batches of unequal sizes {[m.batch_size for m in micros]}"
            )
        global_batch = size * self.dist.world_size * len(micros)
        plan: StepPlan = plan_step(
            self.phase, self._phase_config(self.phase), global_batch, self.plan_gen
        )
        draws = {
            "video": self._draw(plan.video, micros[0].video, global_batch),
            "motion": self._draw(plan.motion, micros[0].motion, global_batch),
        }
        autocast = torch.autocast(
            device.type, dtype=torch.bfloat16, enabled=cfg.mixed_precision == "bf16"
        )
        weights = {"video": cfg.flow.video_loss_weight, "motion": cfg.flow.motion_loss_weight}
        sums: dict[str, Tensor] = {}
        self.optimizer.zero_grad(set_to_none=True)
        for index, micro in enumerate(micros):
            rows = self._rows(size, index)
            self._set_gradient_sync(index == len(micros) - 1)
            drop_text = plan.drop_text[rows].to(device)  # (B,)
            text = micro.text.to(device)
            null = self.null_text.expand(text.shape[0], -1, -1)
            text = torch.where(drop_text[:, None, None], null, text)  # (B, L, Dt)
            video = None if micro.video is None else micro.video.to(device)
            v_in, v_t, v_target = self._inputs(video, plan.video, "video", draws["video"], rows)
            m_in, m_t, m_target = self._inputs(
                micro.motion.to(device), plan.motion, "motion", draws["motion"], rows
            )
            task = torch.full((size,), int(plan.task), dtype=torch.long, device=device)
            with autocast:
                out = self.model(
                    video=v_in,
                    motion=m_in,
                    video_timestep=v_t,
                    motion_timestep=m_t,
                    encoder_hidden_states=text,
                    task=task,
                )
            losses = self._losses(out, micro, v_target, m_target)
            loss = sum(
                (weights[k] * v for k, v in losses.items()), start=torch.zeros((), device=device)
            )
            (loss / len(micros)).backward()
            for k, v in {"total": loss, **losses}.items():
                sums[k] = sums.get(k, torch.zeros((), device=device)) + v.detach() / len(micros)
        if cfg.optim.grad_clip:
            params = [p for p in self.model.parameters() if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        record = StepRecord(
            step=self.step,
            phase=self.phase,
            paradigm=plan.paradigm,
            loss=float(all_reduce_mean(sums["total"])),
            loss_video=float(all_reduce_mean(sums["video"])) if "video" in sums else None,
            loss_motion=float(all_reduce_mean(sums["motion"])) if "motion" in sums else None,
            lr=float(self.scheduler.get_last_lr()[0]),
            seconds=time.perf_counter() - start,
        )
        if not math.isfinite(record.loss):
            raise FloatingPointError(
                f"step {self.step}: loss is {record.loss} ({plan.paradigm}, phase {self.phase})"
            )
        return record

    def _losses(
        self,
        out: Any,
        batch: TrainBatch,
        v_target: Tensor | None,
        m_target: Tensor | None,
    ) -> dict[str, Tensor]:
        """The flow loss of each noised modality."""
        cfg = self.config
        losses: dict[str, Tensor] = {}
        if v_target is not None:
            region = None
            if cfg.flow.person_loss_weight > 1.0:
                if batch.person is None:
                    raise ValueError(
                        "flow.person_loss_weight > 1 needs the batch's person mask "
                        "(TrainBatch.person); this batch source gives none"
                    )
                region = region_weight(
                    batch.person.to(self.dist.device), cfg.flow.person_loss_weight
                )
            losses["video"] = flow_loss(out.video, v_target, None, region)
        if m_target is not None:
            losses["motion"] = flow_loss(out.motion, m_target)
        return losses

    # ------------------------------------------------------------------ the loop
    def train(self, until: int | None = None) -> list[StepRecord]:
        """Run to step `until` (default: the end of phase 2), checkpointing as configured."""
        cfg = self.config
        until = cfg.total_steps if until is None else min(until, cfg.total_steps)
        every = cfg.checkpoint.every
        while self.step < until:
            if self.phase == 1 and self.step >= cfg.phase1.steps:
                self._enter_phase(2)
            source = self.sources[self.phase]
            record = self.train_step([source.next_batch() for _ in range(cfg.optim.grad_accum)])
            self.history.append(record)
            self._log(record)
            if every and self.step % every == 0 and self.step < cfg.total_steps:
                self.save_checkpoint()
            v_every = cfg.logging.validate_every
            if self.validate is not None and v_every and self.step % v_every == 0:
                self.validate(self.step)
        if self.step == cfg.total_steps and (
            not self.checkpoints.latest() or self._latest_step() != self.step
        ):
            self.save_checkpoint()
        return self.history

    def _latest_step(self) -> int:
        latest = self.checkpoints.latest()
        return -1 if latest is None else int(json.loads((latest / "meta.json").read_text())["step"])

    def _log(self, record: StepRecord) -> None:
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record.as_dict()) + "\n")
        if self.on_step is not None:
            self.on_step(record)

    # ------------------------------------------------------------------ checkpoints
    def _rng_generators(self) -> dict[str, torch.Generator]:
        return {"plan": self.plan_gen, "noise": self.noise_gen}

    def save_checkpoint(self) -> Path:
        rng_tensors, rng_plain = capture_rng(self._rng_generators())
        # Ranks draw different noise: each rank's generator states go under its own keys.
        tensors: dict[str, dict[str, Tensor]] = {
            "rng": {f"rank{self.dist.rank}.{k}": v for k, v in rng_tensors.items()}
        }
        if self.ema is not None:
            tensors["ema"] = self.ema.state_dict()
        meta = {
            "phase": self.phase,
            "data": {str(k): s.state_dict() for k, s in self.sources.items()},
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_plain,
            "config": self.config.model_dump(mode="json"),
        }
        return self.checkpoints.save(self.step, self.model, self.optimizer, tensors, meta)

    def resume(self, path: str | Path | None = None) -> bool:
        """Restore the latest (or given) checkpoint; False if there is none."""
        path = Path(path) if path is not None else self.checkpoints.latest()
        if path is None:
            return False
        meta = json.loads((path / "meta.json").read_text())
        if meta["phase"] != self.phase:
            self._enter_phase(int(meta["phase"]))
        rng_tensors, _ = capture_rng(self._rng_generators())
        tensors: dict[str, dict[str, Tensor]] = {
            "rng": {f"rank{self.dist.rank}.{k}": v.clone() for k, v in rng_tensors.items()}
        }
        if self.ema is not None:
            tensors["ema"] = self.ema.state_dict()
        meta = self.checkpoints.load(path, self.model, self.optimizer, tensors)
        if self.ema is not None:
            self.ema.load_state_dict(tensors["ema"])
        prefix = f"rank{self.dist.rank}."
        restore_rng(
            {k[len(prefix) :]: v for k, v in tensors["rng"].items()},
            meta["rng"],
            self._rng_generators(),
        )
        self.scheduler.load_state_dict(meta["scheduler"])
        for k, s in self.sources.items():
            s.load_state_dict(meta["data"][str(k)])
        self.step = int(meta["step"])
        self.history = []
        self._truncate_log(self.step)
        return True

    def _truncate_log(self, step: int) -> None:
        """Drop log lines a killed run wrote after the checkpoint it is resumed from."""
        log = self.out_dir / "metrics.jsonl"
        if self.dist.is_main and log.is_file():
            keep = [
                line for line in log.read_text().splitlines() if json.loads(line)["step"] <= step
            ]
            log.write_text("".join(line + "\n" for line in keep))
