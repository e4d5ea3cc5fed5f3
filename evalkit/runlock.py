"""One ``evalkit run`` per run folder at a time, and storage failures in one line.

**The lock.** ``RUN_DIR/.evalkit.lock`` is held with ``flock`` for the whole run and holds who
took it (pid, host, start time, command). A second run on the same folder finds it taken and
stops with :class:`RunLockedError` (one line, exit 2), before it has done any work; without the
lock both runs did every item twice. ``flock`` is released by the kernel when its holder dies
(``kill -9``, a power cut), so a lock left behind by a dead process is simply taken over, with
a line saying whose it was. On NFS, Linux maps ``flock`` to POSIX byte-range locks, which
cluster nodes see too.

**Storage.** A full disk, an exceeded quota or a read-only run folder is not a failure of one
item but of the run: :func:`storage_error` recognises those ``OSError`` s, and the CLI reports
them as :class:`RunStorageError` (one line, exit 74, sysexits' ``EX_IOERR``). What was written
before stays valid, so the same command resumes once there is room.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from evalkit.errors import ConfigError, EvalkitError

log = logging.getLogger(__name__)

LOCK_FILE = ".evalkit.lock"

# Errors of the file system as a whole, wherever they happen.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
# Errors that mean "this folder is not writable" when they concern a path in the run folder
# (elsewhere, e.g. an unreadable source clip of a folder generator, they fail one item).
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}


class RunLockedError(ConfigError):
    """Another live process holds the run folder's lock (exit 2, nothing written)."""


class RunStorageError(EvalkitError):
    """The run folder cannot be written (full disk, quota, read-only); the run can resume."""

    def __init__(self, root: Path, exc: OSError) -> None:
        what = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        super().__init__(
            f"cannot write to run folder '{root}': {what}{where}; the work finished so far is "
            "kept: free space (or make the folder writable) and run the same command again to "
            "resume")
        self.root = root
        self.errno = exc.errno


def storage_error(exc: BaseException, root: Path) -> bool:
    """Whether ``exc`` means the run folder ``root`` cannot be written at all.

    A full disk or quota (``ENOSPC``, ``EDQUOT``) or a read-only file system (``EROFS``)
    anywhere; permission denied (``EACCES``, ``EPERM``) only for a path inside ``root``.
    """
    if not isinstance(exc, OSError) or exc.errno is None:
        return False
    if exc.errno in _STORAGE_ERRNOS:
        return True
    if exc.errno in _PERMISSION_ERRNOS:
        names = [n for n in (exc.filename, getattr(exc, "filename2", None)) if n]
        try:
            base = Path(root).resolve()
            return not names or any(
                Path(os.fsdecode(n)).resolve().is_relative_to(base) for n in names)
        except (OSError, ValueError):
            return True
    return False


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class RunLock:
    """An exclusive lock on a run folder for the duration of a ``with`` block.

    Example::

        with RunLock(run_dir):
            ...  # the only writer of run_dir
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunLockedError(self._held_message(holder)) from None
            except BaseException:
                os.close(fd)
                raise
            # The holder we waited on may have removed the file after we opened it: then we
            # locked an unlinked inode, and a third process could lock a new file. Retry.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_holder(fd)
            if previous.get("pid") is not None:
                # The kernel released the lock: its holder died without cleaning up.
                log.warning("taking over the lock of %s left by pid %s on %s (started %s), "
                            "which is no longer running", self.root, previous.get("pid"),
                            previous.get("host", "?"), previous.get("started", "?"))
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "command": sys.argv}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            self._fd = fd
            return
        raise RunLockedError(f"run folder '{self.root}': could not take its lock {self.path}")

    def _held_message(self, holder: dict[str, Any]) -> str:
        pid, host = holder.get("pid", "?"), holder.get("host", "?")
        state = ""
        if host == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
            state = " (not running, but its lock is still held: by a child process?)"
        return (f"run folder '{self.root}' is in use by another evalkit run: pid {pid} on "
                f"{host}, started {holder.get('started', '?')}{state}; wait for it to finish, "
                "or use --out to choose another folder")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Removed while still locked, so no one can lock this inode and then lose the file.
            self.path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only folder: the stale file is taken over next time
        os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
