"""``generator``: sample clips from the reference generator, or train it.

    generator sample "a red ball falls" -o out.mp4 --seed 0 --steps 20 [--guidance 3] [--eta 1]
                     [--guidance-interval LO,HI] [--checkpoint P] [--allow-any-prompt]
    generator train --config generator/configs/v3.yaml [--no-export]

Mistakes (unknown flags, bad values, missing files) print one line and exit with code 2. So
does a prompt outside the physics world the model was trained on ("a cat playing piano"): the
model would draw coloured noise and nothing would say so. ``--allow-any-prompt`` samples it
anyway, with a warning on stderr and in the clip's metadata (``prompt_warning``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from generator.defaults import (DEFAULT_ETA, DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_INTERVAL_TEXT,
                                DEFAULT_STEPS, parse_guidance_interval)

__all__ = ["main"]

log = logging.getLogger("generator")

PROG = "generator"


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise _Usage(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="The bundled reference text-to-video generator.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    s = sub.add_parser("sample", help="make one clip from a prompt")
    s.add_argument("prompt")
    s.add_argument("-o", "--out", required=True, help="output video file (.mp4)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    s.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    s.add_argument("--eta", type=float, default=DEFAULT_ETA,
                   help="sampler noise: 0 deterministic Euler, 1 ancestral (default %(default)s)")
    s.add_argument("--guidance-interval", default=DEFAULT_GUIDANCE_INTERVAL_TEXT,
                   metavar="LO,HI", help="guidance only on the steps at times t in [LO, HI] "
                                         "(1 = noise, 0 = data; default %(default)s)")
    s.add_argument("--checkpoint", default=None, help="checkpoint (default: the shipped one)")
    s.add_argument("--allow-any-prompt", action="store_true",
                   help="sample a prompt outside the physics world too (balls and boxes only "
                        "otherwise); the clip's metadata carries a warning")
    t = sub.add_parser("train", help="train (or resume) from a config file")
    t.add_argument("--config", required=True)
    t.add_argument("--no-export", action="store_true", help="do not write the shipped checkpoint")
    return p


def _sample(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from evalkit.generators.base import GenerationRequest
    from evalkit.video import write_video
    from generator.plugin import ReferenceGenerator

    from evalkit.world import world_prompt_problem

    if not args.prompt.strip():
        raise _Usage("prompt is empty")
    warning = world_prompt_problem(args.prompt)
    if warning and not args.allow_any_prompt:
        raise _Usage(f"{warning} (--allow-any-prompt samples it anyway)")
    out = Path(args.out)
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise _Usage(f"{out}: output must be a video file (.mp4)")
    try:
        interval = parse_guidance_interval(args.guidance_interval)
    except ValueError as exc:
        raise _Usage(f"--guidance-interval: {exc}") from None
    try:
        gen = ReferenceGenerator(checkpoint=args.checkpoint, steps=args.steps,
                                 guidance=args.guidance, eta=args.eta,
                                 guidance_interval=interval)
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = str(err["loc"][0]).replace("_", "-")
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise _Usage(f"--{flag}: {msg}") from None
    problems = gen.check([])
    if problems:
        raise _Usage(problems[0])
    if warning:
        log.warning("%s; sampling it anyway: expect no meaningful picture", warning)
    clip = gen.generate(GenerationRequest(args.prompt, "cli", 0, args.seed))
    write_video(out, clip)
    print(f"{out}: {clip.num_frames if hasattr(clip, 'num_frames') else len(clip.frames)} frames "
          f"{clip.frames.shape[2]}x{clip.frames.shape[1]} at {clip.fps:g} fps (seed {args.seed}, "
          f"{args.steps} steps, eta {args.eta:g}, guidance {args.guidance:g} on t in "
          f"[{gen.options.guidance_interval[0]:g}, {gen.options.guidance_interval[1]:g}])")
    return 0


def _train(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from generator.config import load_config
    from generator.train import train

    try:
        cfg = load_config(args.config)
    except FileNotFoundError as exc:
        raise _Usage(str(exc)) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise _Usage(f"{args.config}: {where}: {err['msg']}") from None
    except Exception as exc:  # YAML syntax
        raise _Usage(f"{args.config}: {exc}".splitlines()[0]) from None
    path = train(cfg, do_export=not args.no_export)
    if path is not None:
        print(f"exported {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise _Usage("choose a command: sample or train")
        if args.command == "sample":
            return _sample(args)
        return _train(args)
    except _Usage as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (re-run to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
