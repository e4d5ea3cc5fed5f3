"""Executors run independent work items (make one clip, score one clip) and hand back results.

The runner only ever calls :meth:`Executor.map`, so a distributed engine (Ray, Dask, a job
queue) can run the same items by implementing the same method. Work functions and items are
plain picklable objects; each worker builds generators and metrics once and caches them.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
        """Run ``fn`` on every item; yield ``(item, result)`` as each finishes (any order).

        ``fn`` must catch the errors it can report; an exception that escapes it stops the
        run (e.g. KeyboardInterrupt), after which already-yielded results are kept.
        """
        ...


class LocalExecutor:
    """Runs items in this process (``workers=1``) or in a pool of processes."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
        if self.workers == 1 or len(items) <= 1:
            for item in items:
                yield item, fn(item)
            return
        with cf.ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(fn, item): item for item in items}
            try:
                for future in cf.as_completed(futures):
                    yield futures[future], future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    raise ValueError(f"unknown executor kind '{kind}'")
