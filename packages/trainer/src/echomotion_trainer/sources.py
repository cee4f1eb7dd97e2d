"""Batch sources: deterministic, endless, resumable streams of `TrainBatch`es.

`IndexedBatchSource` draws a seeded permutation per epoch over an indexable dataset, gives
each rank its slice of every global batch, and saves its position as (epoch, batch index), so a
resumed run sees exactly the batches an uninterrupted one would have. With ``num_workers`` the
items are read and collated by a torch `DataLoader`'s worker processes (prefetching ahead of the
loop); the position counts the batches the loop has taken, not those prefetched, so resuming
stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

import torch
from torch.utils.data import DataLoader

from .loop import TrainBatch

__all__ = ["IndexedBatchSource"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class IndexedDataset(Protocol[T_co]):
    """A map-style dataset: a length and items by index (torch Datasets, lists, …)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> T_co: ...


class IndexedBatchSource(Generic[T]):
    def __init__(
        self,
        dataset: IndexedDataset[T],
        collate: Callable[[list[T]], TrainBatch],
        *,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if num_workers < 0:
            raise ValueError(f"num_workers: expected >= 0, got {num_workers}")
        if len(dataset) < batch_size * world_size:
            raise ValueError(
                f"dataset: {len(dataset)} items is fewer than one global batch "
                f"({batch_size} per process × {world_size} processes)"
            )
        self.dataset = dataset
        self.collate = collate
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.index = 0  # global batches consumed in this epoch
        self._order_cache: tuple[int, list[int]] | None = None
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self._loader: Iterator[TrainBatch] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return len(self.dataset) // (self.batch_size * self.world_size)

    def _rows(self, epoch: int, index: int) -> list[int]:
        """Dataset indices of this rank's share of global batch ``index`` of ``epoch``."""
        if self._order_cache is None or self._order_cache[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            self._order_cache = (epoch, torch.randperm(len(self.dataset), generator=g).tolist())
        start = (index * self.world_size + self.rank) * self.batch_size
        return self._order_cache[1][start : start + self.batch_size]

    def _positions(self, epoch: int, index: int) -> Iterator[list[int]]:
        """Every batch's indices from position (epoch, index) on, endlessly (a batch sampler)."""
        while True:
            if index >= self.batches_per_epoch:
                epoch, index = epoch + 1, 0
            yield self._rows(epoch, index)
            index += 1

    def next_batch(self) -> TrainBatch:
        if self.index >= self.batches_per_epoch:
            self.epoch += 1
            self.index = 0
        if self.num_workers == 0:
            items = [self.dataset[i] for i in self._rows(self.epoch, self.index)]
            batch = self.collate(items)
        else:
            if self._loader is None:
                self._loader = iter(self._make_loader())
            batch = next(self._loader)
        self.index += 1
        return batch

    def _make_loader(self) -> DataLoader[Any]:
        return DataLoader(
            self.dataset,  # type: ignore[arg-type]
            batch_sampler=_Sampler(self._positions(self.epoch, self.index)),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )

    def close(self) -> None:
        """Stop the worker processes (a later `next_batch` starts them again)."""
        self._loader = None

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])
        self._loader = None  # prefetched batches belong to the old position


class _Sampler:
    """A batch sampler over a precomputed (endless) stream of index lists."""

    def __init__(self, positions: Iterator[list[int]]) -> None:
        self.positions = positions

    def __iter__(self) -> Iterator[list[int]]:
        return self.positions
