"""``evalkit leaderboard [RUNS_DIR] [--port N]``: serve the Streamlit app on 127.0.0.1.

Only argparse is imported here; the handler checks for Streamlit and starts it in a child
process, so ``evalkit --help`` never imports Streamlit.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

APP_FILE = Path(__file__).resolve().parent / "streamlit_app.py"
ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8501

__all__ = ["APP_FILE", "add_leaderboard_command", "cmd_leaderboard", "serve_until_stopped",
           "streamlit_command"]

log = logging.getLogger("evalkit")


def add_leaderboard_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``leaderboard`` to the ``evalkit`` sub-command parsers (from ``build_parser``)."""
    p = subparsers.add_parser(
        "leaderboard", help="open the Streamlit leaderboard and report of run folders",
        description="Serve the leaderboard of the run folders in RUNS_DIR (or of one run "
                    f"folder) at http://{ADDRESS}:PORT. Ctrl-C stops it.")
    p.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR",
                   help="a folder of run folders, or one run folder (default: ./runs)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port on {ADDRESS} (default {DEFAULT_PORT})")
    p.set_defaults(func=cmd_leaderboard)
    return p


def streamlit_command(runs_dir: str | Path, port: int,
                      extra: Sequence[str] = ()) -> list[str]:
    """The ``streamlit run`` command line that serves the app for ``runs_dir``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.address", ADDRESS, "--server.port", str(int(port)),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        *extra, "--", str(runs_dir),
    ]


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import importlib.util

    from evalkit.errors import EvalkitError

    if importlib.util.find_spec("streamlit") is None:
        raise EvalkitError("the leaderboard needs Streamlit: pip install streamlit "
                           "(or install evalkit with its 'app' extra)")
    runs_dir = Path(args.runs_dir).expanduser().resolve()
    if not runs_dir.is_dir():
        raise EvalkitError(f"runs folder '{runs_dir}' does not exist (make one with "
                           "`evalkit run SUITE`)")
    if not 0 < args.port < 65536:
        raise EvalkitError(f"--port {args.port}: expected 1-65535")
    env = {**os.environ, "EVALKIT_RUNS_DIR": str(runs_dir)}
    log.info("leaderboard of %s at http://%s:%d (Ctrl-C stops it)", runs_dir, ADDRESS, args.port)
    child = subprocess.Popen(streamlit_command(runs_dir, args.port), env=env)
    return serve_until_stopped(child)


def serve_until_stopped(child: subprocess.Popen, grace_s: float = 5.0) -> int:
    """Wait for the Streamlit child; whatever stops this process stops the child too.

    Ctrl-C reaches the whole process group, but ``kill PID``, a closed terminal (SIGHUP) or a
    supervisor's SIGTERM reach only this process: with a plain ``subprocess.call`` the child
    went on serving the port. Those signals are turned into an exception here, and the child
    is terminated (then killed after ``grace_s``) on every way out.
    """
    def stop(signum: int, frame: Any) -> None:
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)
                if hasattr(signal, sig.name)}
    code = 0
    try:
        return child.wait()
    except KeyboardInterrupt:
        code = 130
    except _Stopped as exc:
        code = 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return code


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
