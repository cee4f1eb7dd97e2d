"""Batch sources: deterministic, endless, resumable streams of `TrainBatch`es.

`IndexedBatchSource` draws a seeded permutation per epoch over an indexable dataset, gives
each rank its slice of every global batch, and saves its position as (epoch, batch index), so a
resumed run sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import torch

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
    ) -> None:
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

    @property
    def batches_per_epoch(self) -> int:
        return len(self.dataset) // (self.batch_size * self.world_size)

    def _order(self) -> list[int]:
        if self._order_cache is None or self._order_cache[0] != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            self._order_cache = (
                self.epoch,
                torch.randperm(len(self.dataset), generator=g).tolist(),
            )
        return self._order_cache[1]

    def next_batch(self) -> TrainBatch:
        if self.index >= self.batches_per_epoch:
            self.epoch += 1
            self.index = 0
        order = self._order()
        start = (self.index * self.world_size + self.rank) * self.batch_size
        items = [self.dataset[i] for i in order[start : start + self.batch_size]]
        self.index += 1
        return self.collate(items)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])
