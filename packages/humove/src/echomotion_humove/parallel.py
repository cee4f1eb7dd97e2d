"""Running shard jobs: a local process pool by default, Ray (the `ray` extra) for a cluster.

A job is a picklable callable of one shard index returning a small summary dict. The same job
runs under either executor; the executors only differ in where the processes live.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal

__all__ = ["Executor", "run_shards"]

Executor = Literal["local", "ray"]
ShardJob = Callable[[int], dict[str, Any]]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core; no oversubscription


def _local(job: ShardJob, shards: list[int], workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(shards) <= 1:
        for s in shards:
            yield job(s)
        return
    ctx = multiprocessing.get_context("spawn")  # fork after torch threads start can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
        futures = [pool.submit(job, s) for s in shards]
        for fut in as_completed(futures):
            yield fut.result()


def _ray(job: ShardJob, shards: list[int], workers: int) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            "the Ray executor needs Ray: pip install 'echomotion-humove[ray]'"
        ) from err
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address) if address else ray.init(num_cpus=max(workers, 1))
    remote = ray.remote(num_cpus=1)(_ray_call)
    pending = [remote.remote(job, s) for s in shards]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def _ray_call(job: ShardJob, shard: int) -> dict[str, Any]:
    _init_worker()
    return job(shard)


def run_shards(
    job: ShardJob,
    shards: Iterable[int],
    *,
    workers: int = 1,
    executor: Executor = "local",
    progress: bool = False,
    description: str = "shards",
) -> list[dict[str, Any]]:
    """Run `job` on every shard; returns the summaries (in completion order)."""
    shard_list = list(shards)
    runner = {"local": _local, "ray": _ray}.get(executor)
    if runner is None:
        raise ValueError(f"executor: expected 'local' or 'ray', got {executor!r}")
    results: list[dict[str, Any]] = []
    if not progress:
        return list(runner(job, shard_list, workers))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(description, total=len(shard_list))
        for summary in runner(job, shard_list, workers):
            results.append(summary)
            bar.advance(task)
    return results
