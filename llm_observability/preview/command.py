"""``llm-observability preview ASSEMBLY --out DIR``: an SVG (and PNG) of every CloudWatch dashboard, and an index.

Everything is drawn in memory first; only when every dashboard has been read are the files written, each one
atomically (a temporary file beside it, then a rename), so bad input leaves the output folder as it was.
Exit status: 0 done, 2 an input or output error (one sentence on stderr, never a traceback).
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from llm_observability.assess.loader import AssessError, Source, load
from llm_observability.assess.output import write_atomically
from llm_observability.preview.body import Dashboard, PreviewError, dashboards
from llm_observability.preview.png import png_available, to_png
from llm_observability.preview.svg import clean, render_svg, size

PROG = "llm-observability preview"
INDEX = "index.html"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Preview:
    """One dashboard drawn: the file stem it is written under, its SVG text and its PNG (None without resvg)."""

    dashboard: Dashboard
    stem: str
    svg: str
    png: bytes | None


def _stem(dashboard: Dashboard, taken: set[str]) -> str:
    stem = _UNSAFE.sub("-", f"{dashboard.stack}-{dashboard.logical_id}").strip("-.") or "dashboard"
    unique, number = stem, 2
    while unique.lower() in taken:
        unique, number = f"{stem}-{number}", number + 1
    taken.add(unique.lower())
    return unique


def previews(source: Source, *, png: bool | None = None) -> list[Preview]:
    """Every dashboard of ``source`` drawn; ``png``: True always (ImportError without resvg-py), False never.

    Default (None): a PNG when ``resvg-py`` is installed.
    """
    with_png = png_available() if png is None else png
    taken: set[str] = set()
    drawn = []
    for dashboard in dashboards(source):
        svg = render_svg(dashboard)
        drawn.append(Preview(dashboard, _stem(dashboard, taken), svg, to_png(svg) if with_png else None))
    return drawn


def escape(text: str) -> str:
    """``text`` safe in HTML text and quoted attributes, without characters HTML cannot hold."""
    return html.escape(clean(text))


def index_page(drawn: list[Preview], source: str) -> str:
    """A self-contained HTML page (no scripts, no network) listing and showing every preview."""
    sections = []
    for preview in drawn:
        board = preview.dashboard
        width, height = size(board)
        kinds: dict[str, int] = {}
        for widget in board.widgets:
            kinds[widget.kind] = kinds.get(widget.kind, 0) + 1
        counts = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        links = f'<a href="{escape(preview.stem)}.svg">SVG</a>'
        if preview.png is not None:
            links += f' · <a href="{escape(preview.stem)}.png">PNG</a>'
        sections.append(
            f'<section aria-labelledby="{escape(preview.stem)}">\n'
            f'<h2 id="{escape(preview.stem)}">{escape(board.name)}</h2>\n'
            f"<p>Stack <code>{escape(board.stack)}</code>, resource <code>{escape(board.logical_id)}</code>: "
            f"{len(board.widgets)} widgets ({escape(counts)}), {board.rows} rows. {links}</p>\n"
            f'<img src="{escape(preview.stem)}.svg" width="{width}" height="{height}" '
            f'alt="Layout of dashboard {escape(board.name)}: {len(board.widgets)} widgets on the 24-column grid">\n'
            "</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>CloudWatch dashboard previews</title>\n"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;color:#16191f;background:#fff}"
        "img{max-width:100%;height:auto;border:1px solid #c6ccd2}section{margin-bottom:2rem}"
        "a{color:#0654a5}</style>\n</head>\n<body>\n<main>\n<h1>CloudWatch dashboard previews</h1>\n"
        f"<p>Drawn from <code>{escape(source)}</code> before deploy: each widget at its place on the "
        "24-column grid, with its kind and the metrics, alarms or query it shows (no data).</p>\n"
        + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )


def write(drawn: list[Preview], out_dir: Path, source: str) -> list[Path]:
    """Write the SVGs, PNGs and the index into ``out_dir`` (created if needed), each file atomically."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PreviewError(f"cannot write the previews into {out_dir}: it is a file, give a folder.")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PreviewError(f"cannot create the folder {out_dir}: {error.strerror or error}.") from None
    written = []
    for preview in drawn:
        written.append(out_dir / f"{preview.stem}.svg")
        write_atomically(written[-1], preview.svg)
        if preview.png is not None:
            written.append(out_dir / f"{preview.stem}.png")
            write_atomically(written[-1], preview.png)
    written.append(out_dir / INDEX)
    write_atomically(written[-1], index_page(drawn, source))
    return written


def run(assembly_dir: Path, out_dir: Path, *, png: bool | None = None) -> int:
    """Draw every dashboard of the assembly (or template, or folder of templates) into ``out_dir``.

    :param png: also write PNGs: True always, False never. Default: when ``resvg-py`` is installed.
    :returns: the exit status: 0 done, 2 an input or output error (printed as one sentence on stderr).
    """
    try:
        source = load(assembly_dir)
        drawn = previews(source, png=png)
        write(drawn, Path(out_dir), str(assembly_dir))
    except (AssessError, PreviewError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except ImportError:
        print(f"{PROG}: PNG output needs resvg-py: pip install 'cdk-llm-observability[preview]'.", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"{PROG}: {assembly_dir} has values nested too deeply to read.", file=sys.stderr)
        return 2
    pictures = "SVG and PNG" if drawn and drawn[0].png is not None else "SVG"
    print(f"Wrote {len(drawn)} dashboard preview(s) ({pictures}) to {out_dir}: open {Path(out_dir) / INDEX}.")
    if drawn[0].png is None and png is None:
        print("PNG skipped: resvg-py is not installed (pip install 'cdk-llm-observability[preview]').")
    return 0
