"""``executor: {kind: ray}``: work items as Ray actor calls, on one machine or a cluster.

Each of ``workers`` actors is one Ray worker process with the resources the suite asks for
(``num_cpus``, ``num_gpus`` per worker). Items are the runner's own picklable work items
(make a batch of clips, score one clip); an actor keeps the generators and metrics it built
(the runner's per-process cache), so a model loads once per worker, not once per item. Results
stream back to the driver as each call finishes (:func:`ray.wait`), and the driver stays the
only writer of the run folder: resuming, the run folder's lock and "no item done twice" hold
exactly as with the local pool, and the rows are the same.

Where it connects (``address``):

- none (default): ``ray.init()`` starts a private Ray instance in this process, sized for the
  workers, and shuts it down at the end of the run;
- ``auto``: the cluster this machine belongs to (``ray start --head`` here or ``ray start
  --address=HEAD:6379`` on a worker node);
- ``HOST:PORT`` (a head node's GCS port, 6379 by default) or ``ray://HOST:10001`` (Ray Client).

Every node needs evalkit and the suite's files at the same paths (a shared file system, the
usual layout of a GPU cluster); the run folder is written by the driver only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from evalkit.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = "pip install 'evalkit[ray]'"
# Calls queued per actor: one running, one waiting, so a worker never idles between items
# while the driver writes, and a slow item does not hold many others behind it.
IN_FLIGHT_PER_WORKER = 2


def check_ray() -> None:
    """Raise a one-line ConfigError when ray is not installed (before any work)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"executor kind 'ray' needs the ray package: {INSTALL_HINT}")


class _Worker:
    """The actor: runs work functions in its own process, which keeps the models they load."""

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayExecutor:
    """Runs the runner's work items on ``workers`` Ray actors (see the module docstring).

    Args:
        workers: actors to start (each holds its own copy of the models).
        address: None (private local instance), ``"auto"``, ``"HOST:PORT"`` or
            ``"ray://HOST:PORT"``.
        num_cpus: CPUs each worker reserves (Ray sets its thread count from this).
        num_gpus: GPUs each worker reserves (fractions share a GPU); 0 for CPU work.
    """

    def __init__(self, workers: int = 1, address: str | None = None, num_cpus: float = 1,
                 num_gpus: float = 0) -> None:
        check_ray()
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers, self.address = workers, address
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self._actors: list[Any] = []
        self._started_ray = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> list[Any]:
        """Connect (or start Ray) and start the workers; a cluster too small is a ConfigError."""
        if self._actors:
            return self._actors
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True,
                                      "logging_level": logging.WARNING}
            if self.address is None:
                # A private instance with room for exactly the workers asked for; its GPUs are
                # the ones Ray finds (declaring more would hand workers GPUs that are not there).
                kwargs["num_cpus"] = max(1, int(round(self.workers * self.num_cpus)))
            else:
                kwargs["address"] = self.address
            try:
                ray.init(**kwargs)
            except ConnectionError as exc:
                raise ConfigError(f"executor: cannot connect to the Ray cluster at "
                                  f"'{self.address}': {exc}") from None
            self._started_ray = True
        resources = ray.cluster_resources()
        need = {"CPU": self.workers * self.num_cpus, "GPU": self.workers * self.num_gpus}
        for name, amount in need.items():
            if amount and resources.get(name, 0) < amount:
                self.close()
                raise ConfigError(
                    f"executor: {self.workers} Ray workers need {amount:g} {name} in all, the "
                    f"cluster has {resources.get(name, 0):g}; lower workers, num_cpus or num_gpus")
        actor_cls = ray.remote(_Worker).options(num_cpus=self.num_cpus, num_gpus=self.num_gpus,
                                                max_concurrency=1)
        self._actors = [actor_cls.remote() for _ in range(self.workers)]
        log.info("ray: %d workers (%g CPU, %g GPU each) on %s", self.workers, self.num_cpus,
                 self.num_gpus, self.address or "a private local instance")
        return self._actors

    def close(self) -> None:
        """Stop the workers (freeing their GPUs), and Ray itself if this executor started it."""
        import ray

        for actor in self._actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    # -- work ---------------------------------------------------------------------------------
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
        """Run ``fn`` on every item on the workers; yield ``(item, result)`` as each finishes."""
        if not items:
            return
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        actors = self.start()
        fn_ref = ray.put(fn)
        todo = list(enumerate(items))
        todo.reverse()  # pop() from the end, in the items' order
        pending: dict[Any, tuple[int, Any]] = {}  # object ref -> (item index, actor)
        load = {id(a): 0 for a in actors}

        def submit() -> None:
            for actor in actors:
                while todo and load[id(actor)] < IN_FLIGHT_PER_WORKER:
                    index, item = todo.pop()
                    pending[actor.run.remote(fn_ref, item)] = (index, actor)
                    load[id(actor)] += 1

        try:
            submit()
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                index, actor = pending.pop(ref)
                load[id(actor)] -= 1
                try:
                    result = ray.get(ref)
                except RayTaskError as exc:
                    # The work function raised (a full disk, Ctrl-C in a worker): the same
                    # exception as in a local pool, not Ray's wrapper.
                    cause = getattr(exc, "cause", None)
                    raise (cause if isinstance(cause, BaseException) else exc) from None
                except RayActorError as exc:
                    raise BrokenProcessPool(f"a Ray worker died (out of memory?): {exc}"
                                            ) from None
                submit()
                yield items[index], result
        except BaseException:
            for ref in pending:
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # noqa: BLE001
                    pass
            raise
