"""Batch sources: with DataLoader workers the stream is the in-loop stream, and its position
(not what the workers prefetched) is what a checkpoint saves and a resume restores."""

import torch

from echomotion_trainer.loop import TrainBatch
from echomotion_trainer.sources import IndexedBatchSource


def _items() -> list[dict[str, torch.Tensor]]:
    return [
        {"motion": torch.full((2, 235), float(i)), "text": torch.zeros(3, 4)} for i in range(10)
    ]


def _collate(items: list[dict[str, torch.Tensor]]) -> TrainBatch:
    return TrainBatch(
        None, torch.stack([i["motion"] for i in items]), torch.stack([i["text"] for i in items])
    )


def _ids(batch: TrainBatch) -> list[int]:
    return [int(v) for v in batch.motion[:, 0, 0]]


def _source(workers: int, rank: int = 0) -> IndexedBatchSource:
    return IndexedBatchSource(
        _items(), _collate, batch_size=2, seed=3, rank=rank, world_size=2, num_workers=workers
    )


def test_workers_give_the_same_stream_and_resume_exactly() -> None:
    plain, loaded = _source(0, rank=1), _source(2, rank=1)
    want = [_ids(plain.next_batch()) for _ in range(7)]  # crosses epochs (2 batches each)
    got = [_ids(loaded.next_batch()) for _ in range(3)]
    state = loaded.state_dict()
    assert state == {"epoch": 1, "index": 1}  # what was taken, not what was prefetched
    resumed = _source(2, rank=1)
    resumed.load_state_dict(state)
    got += [_ids(resumed.next_batch()) for _ in range(4)]
    assert got == want
    other = _source(0, rank=0)
    assert not set(want[0]) & set(_ids(other.next_batch()))  # ranks take disjoint rows
    loaded.close()
    resumed.close()
