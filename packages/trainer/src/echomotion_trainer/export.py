"""Export of a finished run: a checkpoint folder `echomotion generate --checkpoint` loads.

Layout (samplers' pipeline.json, version 1): `transformer/` (DualDiT.save_pretrained), `motion_normalizer.safetensors`, `pipeline.json` naming the text encoder and
video codec the run trained with, and `train_config.yaml`. Written beside the target and renamed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from echomotion_motion_codec import MotionNormalizer
from echomotion_samplers.pipeline_config import (
    NORMALIZER_NAME,
    TRANSFORMER_DIR,
    PipelineConfig,
    SamplingDefaults,
    TextEncoderSpec,
    VideoCodecSpec,
)

from .config import TrainConfig

__all__ = ["export_checkpoint", "export_pipeline", "pipeline_config"]


def pipeline_config(config: TrainConfig, codec: Any = None) -> PipelineConfig:
    """What the run's data and flow settings (and the codec's pixel statistics) mean for sampling;
    the sampling defaults are the config's `sampling` (shift: flow.shift unless set)."""
    d = config.data
    text_path = None if d.text_encoder_path is None else str(Path(d.text_encoder_path).resolve())
    vae_path = None if d.vae_path is None else str(Path(d.vae_path).resolve())
    return PipelineConfig(
        fps=d.fps,
        height=d.height,
        width=d.width,
        num_frames=d.frames,
        text_encoder=TextEncoderSpec(kind=d.text_encoder, path=text_path),
        video_codec=VideoCodecSpec(
            kind=d.video_codec,
            path=vae_path,
            mean=tuple(getattr(codec, "mean", (0.0, 0.0, 0.0))),
            std=tuple(getattr(codec, "std", (1.0, 1.0, 1.0))),
        ),
        sampling=SamplingDefaults(
            **{
                **config.sampling.model_dump(),
                "shift": config.flow.shift
                if config.sampling.shift is None
                else config.sampling.shift,
            }
        ),
    )


def export_pipeline(
    config: TrainConfig, model: Any, normalizer: MotionNormalizer, out: Path, *, codec: Any = None
) -> Path:
    """Write `model` (already carrying the weights to ship, e.g. the EMA) as a checkpoint."""
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp / TRANSFORMER_DIR))
    normalizer.save(tmp / NORMALIZER_NAME)
    pipeline_config(config, codec).save(tmp)
    (tmp / "train_config.yaml").write_text(config.to_yaml())
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def export_checkpoint(
    run_dir: str | Path,
    *,
    step: int | None = None,
    out: str | Path | None = None,
    ema: bool = True,
) -> Path:
    """A pipeline checkpoint from one of a run's training checkpoints (the newest by default).

    Reads `<run_dir>/checkpoints/step_*` (DCP), the run's `config.yaml`, its fitted
    `motion_normalizer.safetensors` and `video_stats.json`; writes `out` (default
    `<run_dir>/export_step_<N>`) with the EMA weights (`ema=False`: the raw weights).
    """
    import json

    import torch
    import torch.distributed.checkpoint as dcp

    from .build import build_model, build_video_codec
    from .config import load_config

    run_dir = Path(run_dir)
    ckpt_root = run_dir / "checkpoints"
    found = sorted(ckpt_root.glob("step_*")) if ckpt_root.is_dir() else []
    found = [p for p in found if (p / "meta.json").is_file()]
    if not found:
        raise FileNotFoundError(f"run_dir: no complete checkpoint under {ckpt_root}")
    if step is None:
        path = found[-1]
    else:
        path = ckpt_root / f"step_{step:08d}"
        if path not in found:
            steps = [int(p.name[5:]) for p in found]
            raise FileNotFoundError(f"step: no checkpoint {step} in {ckpt_root}; found {steps}")
    config = load_config(run_dir / "config.yaml")
    model = build_model(config.model)
    names = [n for n, _ in model.named_parameters()]
    group = "ema" if ema and config.optim.ema_decay else "model"
    if group == "ema":
        template = {n: p.detach().float().clone() for n, p in model.named_parameters()}
    else:
        template = {n: t.clone() for n, t in model.state_dict().items()}
    state: dict[str, Any] = {group: template}
    dcp.load(state, checkpoint_id=str(path))
    with torch.no_grad():
        if group == "ema":
            params = dict(model.named_parameters())
            for n in names:
                params[n].copy_(state["ema"][n].to(params[n].dtype))
        else:
            model.load_state_dict(state["model"])
    normalizer = MotionNormalizer.load(run_dir / "motion_normalizer.safetensors")
    codec = build_video_codec(config.data)
    stats_path = run_dir / "video_stats.json"
    if config.data.video_codec == "space_to_depth" and stats_path.is_file():
        stats = json.loads(stats_path.read_text())
        codec = type(codec)(patch=codec.patch, mean=tuple(stats["mean"]), std=tuple(stats["std"]))
    step_number = int(path.name[5:])
    target = Path(out) if out is not None else run_dir / f"export_step_{step_number}"
    return export_pipeline(config, model.eval(), normalizer, target, codec=codec)
