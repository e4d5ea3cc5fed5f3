"""Download the weight files of evalkit's VBench dimensions into one folder, on a connected machine.

    python scripts/fetch_vbench_weights.py --to DIR [--only dino_vitb16 raft_things ...]

Then copy DIR to the offline machine and point the metrics at it (``weights_dir: DIR`` in the
suite, or ``EVALKIT_VBENCH_WEIGHTS=DIR``). The files and their public sources are the ones
VBench's ``init_submodules`` downloads (:data:`evalkit.metrics.vbench.weights.BACKBONES`);
RAFT's comes inside ``models.zip``, from which only ``raft-things.pth`` is kept. A file whose
sha256 is published (OpenAI's CLIP files) is checked; every file's sha256 is printed and written
to ``DIR/SHA256SUMS`` so the offline copy can be checked with ``sha256sum -c``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.hashing import file_sha256  # noqa: E402
from evalkit.metrics.vbench.weights import BACKBONES  # noqa: E402

log = logging.getLogger("fetch_vbench_weights")

RAFT_ZIP = "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip"


def _download(url: str, dest: Path) -> None:
    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def fetch(key: str, folder: Path) -> Path:
    """Download one backbone's file into ``folder`` (skipped when present with the right sha256)."""
    backbone = BACKBONES[key]
    target = folder / backbone.file
    if target.is_file() and (backbone.sha256 is None or file_sha256(target) == backbone.sha256):
        log.info("%s: already there", target)
        return target
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        part = Path(tmp) / "download"
        if key == "raft_things":
            _download(RAFT_ZIP, part)
            with zipfile.ZipFile(part) as archive:
                member = next(n for n in archive.namelist() if n.endswith("/" + backbone.file) or n == backbone.file)
                with archive.open(member) as src, open(Path(tmp) / backbone.file, "wb") as out:
                    shutil.copyfileobj(src, out)
            part = Path(tmp) / backbone.file
        else:
            _download(backbone.url, part)
        digest = file_sha256(part)
        if backbone.sha256 and digest != backbone.sha256:
            raise SystemExit(f"{backbone.file}: sha256 {digest} is not the published {backbone.sha256}")
        part.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--to", required=True, type=Path, help="folder to download into")
    parser.add_argument("--only", nargs="*", choices=sorted(BACKBONES), help="these backbones only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.to.mkdir(parents=True, exist_ok=True)
    lines = []
    for key in args.only or sorted(BACKBONES):
        path = fetch(key, args.to)
        lines.append(f"{file_sha256(path)}  {path.name}")
        log.info("%s", lines[-1])
    (args.to / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    log.info("done: use weights_dir: %s (or EVALKIT_VBENCH_WEIGHTS=%s)", args.to, args.to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
