"""Executors run independent work items (make one clip, score one clip) and hand back results.

The runner only ever calls :meth:`Executor.map`, so a distributed engine (Ray, Dask, a job
queue) can run the same items by implementing the same method. Work functions and items are
plain picklable objects; each worker builds generators and metrics once and caches them.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import sys
import threading
import time
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
        with cf.ProcessPoolExecutor(max_workers=self.workers, initializer=exit_with_parent,
                                    initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(fn, item): item for item in items}
            try:
                for future in cf.as_completed(futures):
                    yield futures[future], future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Make this worker process exit as soon as ``parent_pid`` is gone.

    A pool's workers wait on a queue whose write end every worker also holds (fork), so after
    ``kill -9`` of the main process they never see it close and lived on (60 s and more,
    holding models and the run folder's lock). Linux is asked to send SIGKILL on the parent's
    death; a daemon thread that polls the parent's pid covers other systems, and a parent
    that died before this ran.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass

    # The direct parent is the main process (fork, spawn) or a fork server that exits with
    # it; either way the worker is orphaned when it changes or the main process is gone.
    direct_parent = os.getppid()

    def gone() -> bool:
        if os.getppid() != direct_parent:
            return True
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False

    def watch() -> None:
        while not gone():
            time.sleep(interval_s)
        os._exit(1)  # nobody is left to read what this worker computes

    if gone():
        os._exit(1)
    threading.Thread(target=watch, name="evalkit-parent-watch", daemon=True).start()


def make_executor(kind: str, workers: int, **options: object) -> Executor:
    """The executor a suite's ``executor:`` asks for (``options``: the kind's own settings)."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        from evalkit.ray_executor import RayExecutor

        return RayExecutor(workers, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown executor kind '{kind}'")
