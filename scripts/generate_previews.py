"""Redraw the dashboard pictures of the docs from the code, or (``--check``) say which committed picture is stale.

Usage: ``python scripts/generate_previews.py [--check]``.

The pictures are ``docs/img/dashboards/level-1.svg`` and ``level-2.svg``: the CloudWatch dashboard of the Level 1
and Level 2 stacks of the bundled app, drawn by :mod:`llm_observability.preview` (``llm-observability preview``)
from the app synthesized at ``-c level=1`` and ``-c level=2`` with cdk.json's context. The assemblies are
synthesized in-process into a temporary folder; tests/preview/test_docs_pictures.py passes the session's
assemblies instead, so the check synthesizes nothing of its own.
Exit status: 0 done (or up to date), 1 a committed picture differs from what this draws, 2 the app has no (or
more than one) dashboard in a level's stack.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from llm_observability.assess import load  # noqa: E402
from llm_observability.assess.output import write_atomically  # noqa: E402
from llm_observability.preview import dashboards, render_svg  # noqa: E402
from scripts import generate_docs as _docs  # noqa: E402

LEVELS = (1, 2)
FOLDER = "docs/img/dashboards"


class PicturesError(Exception):
    """A level whose stack has no dashboard, or more than one: one sentence."""


def picture_path(level: int) -> str:
    """The committed picture of a level's dashboard, relative to the repository."""
    return f"{FOLDER}/level-{level}.svg"


def pictures(assemblies: Mapping[int, Path]) -> dict[str, str]:
    """Each level's picture (path relative to the repository -> SVG text), from that level's assembly."""
    drawn = {}
    for level in LEVELS:
        boards = [d for d in dashboards(load(assemblies[level])) if f"-l{level}-" in d.stack]
        if len(boards) != 1:
            raise PicturesError(
                f"the level {level} stack of the bundled app has {len(boards)} dashboards: the docs show exactly one."
            )
        drawn[picture_path(level)] = render_svg(boards[0])
    return drawn


def stale_files(drawn: Mapping[str, str], root: Path = ROOT) -> list[str]:
    """The pictures whose committed file is missing or differs from ``drawn``."""
    stale = []
    for name, svg in drawn.items():
        path = root / name
        if not path.is_file() or path.read_text(encoding="utf-8") != svg:
            stale.append(name)
    return stale


def stale_message(stale: Sequence[str]) -> str:
    """One sentence naming the stale picture(s)."""
    return _docs.stale_message(stale, "`python scripts/generate_previews.py`")


def synthesize(outdir: Path) -> dict[int, Path]:
    """The bundled app at levels 1 and 2 with cdk.json's context, each synthesized into ``outdir/levelN``."""
    return _docs.synthesize(outdir, LEVELS)


def run(check: bool, synth: Callable[[Path], Mapping[int, Path]] = synthesize, root: Path = ROOT) -> int:
    """Draw (or, with ``check``, only compare) the pictures under ``root``; returns the exit status."""
    try:
        with tempfile.TemporaryDirectory(prefix="generate-previews-") as tmp:
            drawn = pictures(synth(Path(tmp)))
    except PicturesError as error:
        print(f"generate_previews: {error}", file=sys.stderr)
        return 2
    stale = stale_files(drawn, root)
    if check:
        if stale:
            print(stale_message(stale), file=sys.stderr)
            return 1
        print(f"Pictures up to date: {', '.join(drawn)}.")
        return 0
    for name in stale:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(root / name, drawn[name])
    print(f"Rewrote {', '.join(stale)}." if stale else f"Pictures already up to date: {', '.join(drawn)}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="generate_previews.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a committed picture is stale")
    return run(parser.parse_args(argv).check)


if __name__ == "__main__":
    sys.exit(main())
