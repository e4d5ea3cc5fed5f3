"""The README's commands exist and accept the flags it shows (parsed, never run).

Every command line in the README's code blocks (``$ evalkit ...``, ``$ generator ...``, and the
set-up's ``.venv/bin/evalkit ...``) is split like a shell would and handed to the real argument
parser; a renamed command, a dropped flag or a bad value fails here rather than in a new user's
first hour. The listings the README pastes are compared with what ``evalkit ls`` prints now.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PROGRAMS = ("evalkit", "generator")


def _code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of each fenced block."""
    return re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)


def readme_commands() -> list[list[str]]:
    """Command lines of the code blocks, as argv lists (comments and ``&&`` chains split)."""
    out = []
    for lang, block in _code_blocks(README):
        if lang not in ("text", "bash", "console", ""):
            continue  # yaml, python, toml
        for line in block.splitlines():
            if lang != "bash" and not line.startswith("$ "):
                continue  # pasted output (a table's "generator" header is no command)
            line = line.strip().removeprefix("$ ").strip()
            for part in line.split("&&"):
                first = part.split()[0] if part.split() else ""
                if Path(first).name not in PROGRAMS:
                    continue  # output lines, other programs
                words = shlex.split(part, comments=True)
                out.append([Path(words[0]).name, *words[1:]])
    return out


COMMANDS = readme_commands()


def test_the_readme_shows_commands() -> None:
    shown = {tuple(c[:2]) for c in COMMANDS}
    assert {("evalkit", "run"), ("evalkit", "validate"), ("evalkit", "ls"), ("evalkit", "fvd"),
            ("evalkit", "detect"), ("evalkit", "leaderboard"), ("generator", "sample")} <= shown


class _Refused(Exception):
    pass


def _no_exit(parser: argparse.ArgumentParser) -> None:
    """Make a parser (and its sub-parsers) raise instead of printing usage and exiting."""
    def error(message: str) -> None:
        raise _Refused(message)

    parser.error = error  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _no_exit(sub)


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_readme_command_parses(argv: list[str]) -> None:
    program, args = argv[0], argv[1:]
    if program == "evalkit":
        from evalkit.cli import build_parser

        parser = build_parser()
    else:
        from generator.cli import _parser

        parser = _parser()
    _no_exit(parser)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            parsed = parser.parse_args(args)
    except _Refused as exc:
        pytest.fail(f"README shows `{' '.join(argv)}` but the parser refuses it: {exc}")
    assert getattr(parsed, "command", None), argv


def _listing(what: str) -> list[str]:
    from evalkit.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["ls", what]) == 0
    return [line.rstrip() for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("what", ["generators", "metrics", "suites"])
def test_readme_listings_are_what_ls_prints(what: str) -> None:
    """The pasted ``evalkit ls`` outputs are the current ones, every line of them."""
    match = re.search(rf"\$ evalkit ls {what}\n(.*?)\n(?:\n|```)", README, flags=re.S)
    assert match, f"the README shows no `evalkit ls {what}`"
    shown = [line.rstrip() for line in match.group(1).splitlines() if line.strip()]
    assert shown == _listing(what)
