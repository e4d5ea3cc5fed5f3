"""Progress display: evalkit's own bars say what they count; libraries' bars stay quiet.

A generator that makes clips in batches (the reference generator: 16 clips in one 20-step
sampling loop) can report progress inside a batch with :func:`report_progress`; the runner
listens with :func:`progress_hook` while it runs work in its own process, so its ``generate``
bar moves during a batch instead of once per batch. Outside a hook the reports are no-ops
(work in a pool's worker processes updates the bar as each batch comes back).

transformers (5.x) draws an untitled "Loading weights" bar each time a model is loaded. Beside
evalkit's ``generate``/``score`` bars it reads as a step of the run that restarts, and it says
nothing a user can act on, so model loading runs inside :func:`quiet_library_bars`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

__all__ = ["progress_hook", "quiet_library_bars", "report_progress"]

# Listener of the running work item (None: nobody listens). A plain global: work items run
# one at a time in a process, and a pool's workers are other processes.
_HOOK: Callable[[float], None] | None = None


@contextlib.contextmanager
def progress_hook(callback: Callable[[float], None]) -> Iterator[None]:
    """Call ``callback(n)`` whenever the work inside reports ``n`` more items done."""
    global _HOOK
    previous, _HOOK = _HOOK, callback
    try:
        yield
    finally:
        _HOOK = previous


def report_progress(n: float) -> None:
    """Tell the listener (if any) that ``n`` more items (clips, or a fraction) are done."""
    if _HOOK is not None and n:
        _HOOK(n)


@contextlib.contextmanager
def quiet_library_bars() -> Iterator[None]:
    """Turn transformers' progress bars off for the block (restored afterwards)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # no transformers: nothing draws bars
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
