from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler
from typer.testing import CliRunner

from echomotion_humove.cli import app
from echomotion_humove.datasets import (
    LatentDataset,
    MotionDataset,
    PairedDataset,
    motion_from_batch,
)
from echomotion_humove.storage import read_manifest
from echomotion_humove.windows import clip_windows
from echomotion_motion_codec import load_motion


class PoolEncoder:
    """A toy video codec: 4× temporal (causal: first frame alone) and 4× spatial average pooling."""

    def encode(self, frames: Tensor) -> Tensor:
        first = frames[:, :, :1]
        rest = frames[:, :, 1:]
        b, c, t, h, w = rest.shape
        rest = rest.reshape(b, c, t // 4, 4, h, w).mean(3)
        x = torch.cat([first, rest], dim=2)
        return torch.nn.functional.avg_pool3d(x, (1, 4, 4))


class HashText:
    def encode(self, texts: list[str]) -> Tensor:
        return torch.stack([torch.full((6, 8), float(len(t))) for t in texts])


def make_video_encoder() -> PoolEncoder:
    return PoolEncoder()


def make_text_encoder() -> HashText:
    return HashText()


def test_windows_are_4k_plus_1() -> None:
    assert clip_windows(33, 9) == [0, 9, 18]
    assert clip_windows(33, 9, stride=4) == [0, 4, 8, 12, 16, 20, 24]
    assert clip_windows(5, 9) == []
    with pytest.raises(ValueError, match="4k\\+1"):
        clip_windows(33, 8)


def test_motion_and_paired_align(synthetic_dataset: Path) -> None:
    motion = MotionDataset(synthetic_dataset, window=5, stride=4)
    assert len(motion) == 6 * 2
    paired = PairedDataset(synthetic_dataset, window=5, stride=4)
    item = paired[3]
    assert item["video"].shape == (3, 5, 32, 32) and item["joints"].shape == (5, 24, 3)
    assert float(item["video"].min()) >= -1.0 and float(item["video"].max()) <= 1.0
    rec = next(r for r in read_manifest(synthetic_dataset) if r.id == item["id"])
    full = load_motion(synthetic_dataset / rec.motion_file)  # type: ignore[operator]
    assert torch.equal(item["joints"], full.joints[item["start"] : item["start"] + 5])
    assert item["caption"] == rec.caption.full and item["action"] == rec.action_label  # type: ignore[union-attr]
    # the camera of a camera-frame synthetic clip: joints project with this focal
    assert (item["width"], item["height"], item["focal"]) == (32, 32, rec.focal)
    assert rec.focal is not None and rec.focal > 0


def test_dataloader_workers_and_distributed_sampler(synthetic_dataset: Path) -> None:
    ds = MotionDataset(synthetic_dataset, window=5, stride=2)
    seen: list[tuple[str, int]] = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=1)
        loader = DataLoader(ds, batch_size=3, sampler=sampler, num_workers=2)
        for batch in loader:
            m = motion_from_batch(batch)
            assert m.batch_shape == (len(batch["id"]),) and m.num_frames == 5
            seen += list(zip(batch["id"], batch["start"].tolist(), strict=True))
    assert len(seen) == len(ds) == len(set(seen))  # the two ranks split the windows exactly


def test_encode_and_latent_dataset(synthetic_dataset: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(synthetic_dataset, root)
    with pytest.raises(FileNotFoundError, match="humove encode"):
        LatentDataset(root, window=9)
    runner = CliRunner()
    args = [
        "encode",
        str(root),
        "--video-encoder",
        "test_datasets:make_video_encoder",
        "--text-encoder",
        "test_datasets:make_text_encoder",
        "--window",
        "9",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "encoded 6 windows" in first.output
    again = runner.invoke(app, args)
    assert "encoded 0 windows, 6 already cached" in again.output
    ds = LatentDataset(root, window=9)
    item = ds[0]
    assert item["video_latents"].shape == (3, 3, 8, 8) and item["text_states"].shape == (6, 8)
    assert item["joints"].shape == (9, 24, 3)
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=1)))
    assert batch["video_latents"].shape == (2, 3, 3, 8, 8)


def test_ranks_encode_disjoint_shares_and_the_null_prompt(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    """Two ranks split the windows (each its own, whatever the other has written), rank 0 adds
    the empty prompt's states; afterwards nothing is missing and the cache is what one
    process writes, stored in the dtype asked for."""
    import shutil

    from safetensors.torch import load_file

    from echomotion_humove.encode import encode_dataset, load_null_text, missing_windows

    root = tmp_path / "ds"
    shutil.copytree(synthetic_dataset, root)
    assert missing_windows(root, window=9) == 6 + 1
    counts = [
        encode_dataset(
            root,
            PoolEncoder(),
            HashText(),
            window=9,
            rank=rank,
            world_size=2,
            store_dtype=torch.bfloat16,
        )
        for rank in (1, 0)
    ]
    assert [c["encoded"] for c in counts] == [3, 3]
    assert missing_windows(root, window=9) == 0
    assert load_null_text(root).shape == (1, 6, 8)
    assert float(load_null_text(root).abs().sum()) == 0.0  # len("") == 0 in HashText
    item = LatentDataset(root, window=9)[0]
    assert item["video_latents"].dtype == torch.bfloat16
    single = tmp_path / "single"
    shutil.copytree(synthetic_dataset, single)
    encode_dataset(single, PoolEncoder(), HashText(), window=9, store_dtype=torch.bfloat16)
    for a, b in zip(
        sorted((root / "latents").rglob("*.safetensors")),
        sorted((single / "latents").rglob("*.safetensors")),
        strict=True,
    ):
        assert a.name == b.name
        ta, tb = load_file(str(a)), load_file(str(b))  # (the header's metadata order varies)
        assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    with pytest.raises(ValueError, match="rank"):
        encode_dataset(root, PoolEncoder(), HashText(), window=9, rank=2, world_size=2)
