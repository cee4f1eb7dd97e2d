"""From a `TrainConfig` to the things a run needs: model, codec, text encoder, data, normalizer.

The synthetic world is made on demand (`data.synthesize` clips when the dataset folder has no
manifest), video latents and text states are cached once per window with humove's `encode`
step (the model packages' adapters do the encoding), and the motion normalizer is fitted on the
training motions and stored next to the run. Everything here is plumbing; the loop is loop.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch import Tensor
from torch.utils.data import default_collate

from echomotion_dualdit import DualDiT, preset
from echomotion_dualdit.checkpoint import upgrade_legacy_keys
from echomotion_dualdit.codecs import SpaceToDepthCodec, WanVAECodec, fit_pixel_stats
from echomotion_dualdit.text import MiniLMTextEncoder, UMT5TextEncoder
from echomotion_humove.datasets import LatentDataset, MotionDataset, motion_from_batch
from echomotion_humove.encode import encode_dataset, load_null_text, missing_windows
from echomotion_humove.storage import read_manifest
from echomotion_humove.synth.writer import SynthConfig, write_synthetic_dataset
from echomotion_humove.video_io import read_video
from echomotion_motion_codec import MotionLayout, MotionNormalizer

from .config import DataConfig, ModelConfig, TrainConfig
from .distributed import DistInfo
from .loop import TrainBatch
from .regions import latent_person_mask
from .sources import IndexedDataset

__all__ = [
    "InitReport",
    "RunData",
    "build_model",
    "build_text_encoder",
    "build_video_codec",
    "check_model_source",
    "fit_normalizer",
    "load_init_weights",
    "prepare_data",
    "wan_dual_blocks",
]

_LAYOUT = MotionLayout()


def check_model_source(cfg: ModelConfig) -> None:
    """What can be checked before any data is touched: the preset exists, ``model.dual_blocks``
    are layers of it (a Wan folder's own count is checked when it is read), and a Wan preset
    starts from a local Wan checkpoint (``model.wan_path``) or a DualDiT folder
    (``model.init_from``); random weights only when ``model.random_init`` asks for them."""
    try:
        layers = cfg.num_layers or preset(cfg.preset).num_layers
    except ValueError as err:
        raise ValueError(f"model.preset: {err}") from None
    if cfg.wan_path is None and cfg.dual_blocks and max(cfg.dual_blocks) >= layers:
        raise ValueError(
            f"model.dual_blocks: {list(cfg.dual_blocks)} must be layer indices in [0, {layers})"
        )
    if cfg.preset == "tiny" or cfg.wan_path or cfg.init_from or cfg.random_init:
        return
    raise ValueError(
        f"model.wan_path: preset {cfg.preset!r} starts from a local Wan diffusers transformer "
        "folder (model.wan_path=/path/to/Wan/transformer), or a DualDiT folder "
        "(model.init_from=...); set model.random_init=true to train it from random weights"
    )


def wan_dual_blocks(cfg: ModelConfig, wan_config: dict[str, Any]) -> list[int] | None:
    """The dual layers of a model converted from ``model.wan_path``: ``model.dual_blocks`` if
    set, else the preset's (every other layer for ``wan2.2-5b``), which must fit the folder."""
    if cfg.dual_blocks is not None:
        layers = int(wan_config.get("num_layers", 0))
        if max(cfg.dual_blocks, default=-1) >= layers:
            raise ValueError(
                f"model.dual_blocks: {list(cfg.dual_blocks)} must be layer indices in "
                f"[0, {layers}) (the Wan checkpoint at model.wan_path has {layers} layers)"
            )
        return list(cfg.dual_blocks)
    ours = preset(cfg.preset)
    theirs = {k: wan_config.get(k) for k in _WAN_SIZES}
    if any(getattr(ours, k) != v for k, v in theirs.items()):
        sizes = ", ".join(f"{k} {v}" for k, v in theirs.items())
        print(
            f"model.wan_path: the Wan checkpoint's sizes ({sizes}) differ from preset "
            f"{cfg.preset!r}'s; the checkpoint's are used",
            file=sys.stderr,
        )
        if ours.dual_blocks is not None and wan_config.get("num_layers") != ours.num_layers:
            raise ValueError(
                f"model.dual_blocks: preset {cfg.preset!r} makes layers "
                f"{list(ours.dual_blocks)} of {ours.num_layers} dual, but the Wan checkpoint at "
                f"model.wan_path has {wan_config.get('num_layers')} layers; set model.dual_blocks"
            )
    return None if ours.dual_blocks is None else list(ours.dual_blocks)


_WAN_SIZES = ("num_layers", "num_attention_heads", "attention_head_dim", "ffn_dim")


def build_model(cfg: ModelConfig) -> DualDiT:
    """A DualDiT from a local Wan checkpoint (`wan_path`) or a named preset (random weights), in
    float32 (the master weights, whatever dtype the checkpoint was stored in)."""
    check_model_source(cfg)
    options: dict[str, Any] = {"rope_time_stride": cfg.rope_time_stride, "rope_mode": cfg.rope_mode}
    if cfg.dual_blocks is not None:
        options["dual_blocks"] = list(cfg.dual_blocks)
    if cfg.single_stream:
        options["single_stream"] = True
    if cfg.wan_path is not None:
        if not Path(cfg.wan_path).is_dir():
            raise FileNotFoundError(f"model.wan_path: no Wan transformer folder at {cfg.wan_path}")
        if cfg.size_overrides():
            raise ValueError(
                "model: num_layers/num_attention_heads/attention_head_dim/ffn_dim come from the "
                f"Wan checkpoint at model.wan_path; unset {sorted(cfg.size_overrides())}"
            )
        from echomotion_dualdit.conversion import wan_folder

        wan_config = json.loads((wan_folder(cfg.wan_path) / "config.json").read_text())
        options["dual_blocks"] = wan_dual_blocks(cfg, wan_config)
        model = DualDiT.from_wan(cfg.wan_path, **options)
    else:
        model = DualDiT.from_preset(cfg.preset, **options, **cfg.size_overrides())
    if cfg.init_from is not None:
        if cfg.wan_path is not None:
            raise ValueError("model: set wan_path or init_from, not both")
        load_init_weights(model, cfg.init_from, partial=cfg.init_partial)
    elif cfg.init_partial:
        raise ValueError("model.init_partial: set model.init_from (the weights to copy from)")
    # Master weights in float32: a checkpoint stored in bf16 is upcast.
    torch.nn.Module.to(model, torch.float32)
    if cfg.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    return model


def load_init_weights(
    model: torch.nn.Module, folder: str | Path, *, partial: bool = False
) -> InitReport:
    """Warm start (`model.init_from`): copy the weights of a DualDiT folder into `model`, upcast
    to float32.

    By default the folder's architecture (config.json) must be the model's (then so is every
    tensor shape, which `DualDiT.from_pretrained` checks); otherwise a ValueError names what
    differs and `model` is left untouched. With `partial=True` (`model.init_partial`) the
    architectures may differ: every tensor whose name and shape are the model's is copied, the
    others keep their fresh initialization, and the returned report lists both (printed to
    stderr); a folder sharing no tensor with the model is a ValueError.
    """
    root = Path(folder)
    if (root / "transformer" / "config.json").is_file():
        root = root / "transformer"
    if not (root / "config.json").is_file():
        raise FileNotFoundError(
            f"model.init_from: expected a DualDiT folder with config.json (or a checkpoint with "
            f"transformer/config.json), got {str(folder)!r}"
        )
    theirs = json.loads((root / "config.json").read_text(encoding="utf-8"))
    ours = dict(getattr(model, "config", {}))
    differ = sorted(
        k for k, v in theirs.items() if not k.startswith("_") and k in ours and _plain(ours[k]) != v
    )
    if not partial:
        if differ:
            detail = ", ".join(
                f"{k}: {theirs[k]!r} there, {_plain(ours[k])!r} here" for k in differ
            )
            raise ValueError(f"model.init_from: {root} is another architecture ({detail})")
        source = DualDiT.from_pretrained(root, torch_dtype=torch.float32)
        model.load_state_dict(source.state_dict(), strict=True)
        return InitReport(copied=tuple(model.state_dict()), fresh=(), config_differs=())
    files = sorted(root.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"model.init_from: no .safetensors weights in {root}")
    state = model.state_dict()
    copied: list[str] = []
    for file in files:
        for name, tensor in upgrade_legacy_keys(load_file(file)).items():
            if name in state and tuple(state[name].shape) == tuple(tensor.shape):
                state[name] = tensor.to(torch.float32)
                copied.append(name)
    if not copied:
        raise ValueError(
            f"model.init_from: {root} shares no tensor (name and shape) with this model"
        )
    model.load_state_dict(state, strict=True)
    fresh = tuple(sorted(set(state) - set(copied)))
    report = InitReport(copied=tuple(sorted(copied)), fresh=fresh, config_differs=tuple(differ))
    print(report.describe(root), file=sys.stderr)
    return report


@dataclass(frozen=True)
class InitReport:
    """What a warm start copied (tensor names) and what kept its fresh initialization."""

    copied: tuple[str, ...]
    fresh: tuple[str, ...]
    config_differs: tuple[str, ...]

    def describe(self, source: Path) -> str:
        lines = [
            f"model.init_from {source}: copied {len(self.copied)} tensors"
            + (
                f" (config differs in {', '.join(self.config_differs)})"
                if self.config_differs
                else ""
            )
        ]
        if self.fresh:
            lines.append(f"  freshly initialized ({len(self.fresh)}): {', '.join(self.fresh)}")
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    """A config value as JSON reads it back (tuples → lists)."""
    return json.loads(json.dumps(value))


def build_video_codec(cfg: DataConfig, device: torch.device | str = "cpu") -> Any:
    if cfg.video_codec == "space_to_depth":
        return SpaceToDepthCodec(patch=2)
    if cfg.vae_path is None:
        raise ValueError("data.vae_path: the wan_vae codec needs the local folder of a Wan VAE")
    return WanVAECodec.from_pretrained(cfg.vae_path, device=device)


def build_text_encoder(cfg: DataConfig, device: torch.device | str = "cpu") -> Any:
    if cfg.text_encoder == "minilm":
        if cfg.text_encoder_path is not None:
            return MiniLMTextEncoder.from_pretrained(cfg.text_encoder_path, device=device)
        return MiniLMTextEncoder.from_package(device=device)
    if cfg.text_encoder_path is None:
        raise ValueError("data.text_encoder_path: the umt5 encoder needs a local UMT5 folder")
    return UMT5TextEncoder.from_pretrained(cfg.text_encoder_path, device=device)


class _PixelEncoder:
    """humove's `VideoEncoder` over a dualdit codec, run without gradients."""

    def __init__(self, codec: Any) -> None:
        self.codec = codec

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        return self.codec.encode(frames)


class _PromptEncoder:
    """humove's `TextEncoder` over a dualdit text encoder, run without gradients."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    @torch.no_grad()
    def encode(self, texts: list[str]) -> Tensor:
        return self.encoder.encode(texts).float().cpu()


def fit_normalizer(dataset: MotionDataset, *, max_items: int = 4096) -> MotionNormalizer:
    """Per-channel statistics of the packed 235-vectors of (up to `max_items`) windows."""
    step = max(1, len(dataset) // max_items)

    def vectors() -> Any:
        for i in range(0, len(dataset), step):
            yield _LAYOUT.pack(motion_from_batch(dataset[i]))

    return MotionNormalizer.fit(vectors())


@dataclass
class RunData:
    """What the loop consumes, and what the exported pipeline needs to sample."""

    paired: LatentDataset
    motion: IndexedDataset[dict[str, Any]]
    normalizer: MotionNormalizer
    null_text: Tensor  # (1, L, Dt)
    codec: Any  # the space-to-depth codec the latents were made with; None for a Wan VAE
    collate_paired: Any
    collate_motion: Any


def _collate(
    normalizer: MotionNormalizer, *, with_video: bool, person_radius: float | None = None
) -> Any:
    """items → `TrainBatch`; with `person_radius`, paired batches carry the person mask."""

    def collate(items: list[dict[str, Any]]) -> TrainBatch:
        batch = default_collate(items)
        motion = normalizer.normalize(_LAYOUT.pack(motion_from_batch(batch)))  # (B, T, 235)
        video = batch["video_latents"].float() if with_video else None  # (B, C, F, h, w)
        person = None
        if video is not None and person_radius is not None:
            sizes = {(int(h), int(w)) for h, w in zip(batch["height"], batch["width"], strict=True)}
            if len(sizes) != 1:
                raise ValueError(f"batch: videos of several sizes {sorted(sizes)}")
            person = latent_person_mask(
                batch["joints"],
                batch["focal"],
                sizes.pop(),
                tuple(video.shape[2:]),  # type: ignore[arg-type]
                radius=person_radius,
            )
        return TrainBatch(
            video=video, motion=motion.float(), text=batch["text_states"].float(), person=person
        )

    return collate


def fit_codec_stats(
    root: Path, records: list[Any], run_dir: Path, max_clips: int = 64
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-colour pixel statistics of (up to `max_clips`) training videos, kept in the run folder."""
    path = run_dir / "video_stats.json"
    if path.is_file():
        stats = json.loads(path.read_text())
        return tuple(stats["mean"]), tuple(stats["std"])
    clips = [r for r in records if r.video_file is not None]
    step = max(1, len(clips) // max_clips)

    def videos() -> Any:
        for r in clips[::step]:
            frames, _ = read_video(root / r.video_file)  # (T, H, W, 3) uint8
            yield torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0

    mean, std = fit_pixel_stats(videos())
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mean": list(mean), "std": list(std)}))
    return mean, std


def _barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def prepare_data(
    config: TrainConfig,
    run_dir: Path,
    *,
    info: DistInfo | None = None,
    text_encoder: Any = None,
    codec: Any = None,
) -> RunData:
    """Synthesize (if asked) and encode the dataset, fit the normalizer, build the datasets.

    Collective under torchrun: rank 0 synthesizes and fits the statistics while the others
    wait; every rank encodes its share of the windows (`encode_dataset`'s rank split). The text
    encoder and the video codec are built (from ``config.data``, unless given) only when some
    window has no cache file, and dropped afterwards: a run whose cache exists never loads them.
    A space-to-depth codec is replaced by one normalized with the training videos' statistics
    (`RunData.codec`; the latent cache is keyed on those statistics); a Wan VAE is not kept
    (`RunData.codec` None; validation builds its own)."""
    info = info or DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    d = config.data
    if d.dataset is None:
        raise ValueError("data.dataset: a paired HuMoVe dataset folder is needed")
    root = Path(d.dataset)
    if d.synthesize > 0 and info.is_main:  # resumable: finished shards are skipped
        write_synthetic_dataset(
            root,
            SynthConfig(
                clips=d.synthesize,
                width=d.width,
                height=d.height,
                num_frames=d.frames,
                fps=d.fps,
                seed=config.seed,
                camera_distance=d.synth_camera_distance,
            ),
            workers=max(1, min(2, os.cpu_count() or 1)),
            progress=True,
        )
    _barrier(info)
    if not root.exists():
        raise FileNotFoundError(
            f"data.dataset: no dataset at {root} (set data.synthesize to make one)"
        )
    records = read_manifest(root, status="accepted")
    if not records:
        raise ValueError(f"data.dataset: {root} has no accepted clips")
    tag = ""
    kept_codec = codec
    if d.video_codec == "space_to_depth":
        if info.is_main:
            fit_codec_stats(root, records, run_dir)
        _barrier(info)
        mean, std = fit_codec_stats(root, records, run_dir)  # read back on every rank
        patch = codec.patch if isinstance(codec, SpaceToDepthCodec) else 2
        kept_codec = SpaceToDepthCodec(patch=patch, mean=mean, std=std)  # type: ignore[arg-type]
        tag = "-" + hashlib.sha256(json.dumps([mean, std]).encode()).hexdigest()[:8]
    dtype_tag = "-bf16" if d.cache_dtype == "bfloat16" else ""
    latents = f"latents-{d.video_codec}{tag}-{d.text_encoder}-{d.frames}{dtype_tag}"
    if missing_windows(root, window=d.frames, latents=latents):
        encoder = text_encoder or build_text_encoder(d, info.device)
        pixels = kept_codec or build_video_codec(d, info.device)
        encode_dataset(
            root,
            _PixelEncoder(pixels),
            _PromptEncoder(encoder),
            window=d.frames,
            latents=latents,
            batch_size=8,
            progress=info.is_main,
            rank=info.rank,
            world_size=info.world_size,
            store_dtype=getattr(torch, d.cache_dtype),
        )
        del encoder, pixels  # not resident while training
        if info.device.type == "cuda":
            torch.cuda.empty_cache()
    _barrier(info)
    paired = LatentDataset(root, latents=latents, window=d.frames)
    normalizer_path = run_dir / "motion_normalizer.safetensors"
    if info.is_main and not normalizer_path.is_file():
        fit_normalizer(MotionDataset(root, window=d.frames)).save(normalizer_path)
    _barrier(info)
    normalizer = MotionNormalizer.load(normalizer_path)
    return RunData(
        paired=paired,
        motion=paired,  # phase 1 trains on the motions of the paired data (video dropped)
        normalizer=normalizer,
        null_text=load_null_text(root, latents),  # (1, L, Dt)
        codec=kept_codec,
        collate_paired=_collate(
            normalizer,
            with_video=True,
            person_radius=(
                config.flow.person_radius if config.flow.person_loss_weight > 1.0 else None
            ),
        ),
        collate_motion=_collate(normalizer, with_video=False),
    )
