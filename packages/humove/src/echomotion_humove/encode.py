"""`humove encode`: cache video latents and text states per training window (safetensors).

The video codec and the text encoder are given through the Protocols below (humove is their
consumer, so it defines them); the model packages provide adapters (Wan VAE, UMT5, MiniLM, …).
On the command line they are named as `package.module:factory`, a callable returning the
encoder, so humove never imports a model package itself.

Each window is encoded on its own (Wan's causal VAE gives a 4k+1-frame window k+1 latent
frames; cutting latents of a longer clip would not equal encoding the window). Files:
`<root>/<latents>/<shard>/<clip id>.f<start>-<length>.safetensors` holding "video_latents"
(C, T', H', W') and "text_states" (L, D), with the window and caption in its metadata.
Existing files are skipped, so the step is resumable. The empty prompt's states (the null
condition of classifier-free guidance and of dropped captions) are cached beside them as
`null_text.safetensors`.

Several processes share the work with ``rank`` / ``world_size`` (e.g. every rank of a torchrun
job): window i of the dataset's window list belongs to rank ``i % world_size``, a split every
rank computes alike whatever is already on disk.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from .storage import read_manifest
from .video_io import read_video
from .windows import Window, dataset_windows

__all__ = [
    "NULL_TEXT_FILE",
    "TextEncoder",
    "VideoEncoder",
    "encode_dataset",
    "latent_path",
    "load_factory",
    "load_null_text",
    "missing_windows",
]

NULL_TEXT_FILE = "null_text.safetensors"


@runtime_checkable
class VideoEncoder(Protocol):
    def encode(self, frames: Tensor) -> Tensor:
        """(B, 3, T, H, W) float in [−1, 1] → (B, C, T', H', W') latents."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    def encode(self, texts: list[str]) -> Tensor:
        """B captions → (B, L, D) token states (padded to a fixed L by the encoder)."""
        ...


def load_factory(spec: str) -> object:
    """`package.module:callable` → the object the callable returns."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"encoder: expected 'package.module:factory', got {spec!r}")
    module = importlib.import_module(module_name)
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ValueError(f"encoder: {module_name} has no callable {attr!r}")
    return factory()


def latent_path(latent_dir: Path, window: Window) -> Path:
    return latent_dir / f"{window.record.shard:05d}" / f"{window.key}.safetensors"


def _encodable_windows(root: Path, window: int, stride: int | None) -> list[Window]:
    records = [
        r
        for r in read_manifest(root, status="accepted")
        if r.video_file is not None and r.caption is not None
    ]
    return dataset_windows(records, window, stride)


def missing_windows(
    root: str | os.PathLike[str],
    *,
    window: int = 33,
    stride: int | None = None,
    latents: str = "latents",
) -> int:
    """How many windows (plus 1 for the null prompt's states) have no cache file yet: 0 means
    training needs neither the video encoder nor the text encoder."""
    root = Path(root)
    latent_dir = root / latents
    windows = _encodable_windows(root, window, stride)
    missing = sum(1 for w in windows if not latent_path(latent_dir, w).is_file())
    return missing + int(not (latent_dir / NULL_TEXT_FILE).is_file())


def load_null_text(root: str | os.PathLike[str], latents: str = "latents") -> Tensor:
    """The cached states of the empty prompt, ``(1, L, D)`` float32."""
    from safetensors.torch import load_file

    path = Path(root) / latents / NULL_TEXT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no null-prompt states; run the encode step first")
    return load_file(str(path))["text_states"].float()


def _batches(items: list[Window], size: int) -> Iterator[list[Window]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def encode_dataset(
    root: str | os.PathLike[str],
    video_encoder: VideoEncoder,
    text_encoder: TextEncoder,
    *,
    window: int = 33,
    stride: int | None = None,
    latents: str = "latents",
    batch_size: int = 4,
    progress: bool = False,
    rank: int = 0,
    world_size: int = 1,
    store_dtype: torch.dtype = torch.float32,
) -> dict[str, int]:
    """Encode every window of the accepted paired clips that has no cache file yet (this rank's
    share of them), and the empty prompt's states (rank 0), stored as ``store_dtype`` (bf16
    halves a Wan run's cache; float32 keeps a lossless codec lossless).

    Returns:
        ``{"encoded": n, "skipped": m}`` over this rank's windows.
    """
    from safetensors.torch import save

    from .storage import atomic_write_bytes

    root = Path(root)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank: expected 0 <= rank < world_size={world_size}, got {rank}")
    latent_dir = root / latents
    windows = _encodable_windows(root, window, stride)
    mine = windows[rank::world_size]
    todo = [w for w in mine if not latent_path(latent_dir, w).is_file()]
    null_path = latent_dir / NULL_TEXT_FILE
    if rank == 0 and not null_path.is_file():
        with torch.no_grad():
            null = text_encoder.encode([""])[:1].detach().to("cpu", store_dtype).contiguous()
        latent_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(null_path, save({"text_states": null}))
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress()
        bar.start()
        task = bar.add_task("encoding", total=len(todo))
    try:
        for batch in _batches(todo, batch_size):
            clips = []
            for w in batch:
                assert w.record.video_file is not None
                frames, _ = read_video(root / w.record.video_file, w.start, w.start + w.length)
                clips.append(torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0)
            with torch.no_grad():
                video = video_encoder.encode(torch.stack(clips))  # (B, C, T', H', W')
                texts = text_encoder.encode([w.record.caption.full for w in batch])  # type: ignore[union-attr]
            for i, w in enumerate(batch):
                tensors = {
                    "video_latents": video[i].detach().to("cpu", store_dtype).contiguous(),
                    "text_states": texts[i].detach().to("cpu", store_dtype).contiguous(),
                }
                meta = {"id": w.record.id, "start": str(w.start), "length": str(w.length)}
                atomic_write_bytes(latent_path(latent_dir, w), save(tensors, metadata=meta))
            if bar is not None:
                bar.advance(task, len(batch))
    finally:
        if bar is not None:
            bar.stop()
    return {"encoded": len(todo), "skipped": len(mine) - len(todo)}
