"""Rewrite the generated blocks of the docs from the code, or (``--check``) say which committed file is stale.

Usage: ``python scripts/generate_docs.py [--check]`` (also ``make docs``).

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``; everything outside
the markers is hand-written and left as it is. The blocks:

- ``configuration`` (docs/configuration.md): every context key, from
  :func:`llm_observability.config.config_reference_rows` (type, default, allowed values, doc, concern).
- ``costs`` (docs/costs.md): the fixed monthly cost of each level and its lines, from
  :func:`llm_observability.assess.estimate` (``llm-observability cost``) over the bundled app synthesized at
  ``-c level=1``, ``2`` and ``3`` with cdk.json's context.
- ``levels`` (README.md): the levels at a glance: stack, the capabilities the scorecard checks, fixed cost.

The assemblies are synthesized in-process into a temporary folder (as tests/conftest.py does);
tests/test_docs.py passes its session fixtures' assemblies instead, so the check costs no extra synthesis.
Exit status: 0 done (or up to date), 1 a committed file differs from what this generates, 2 a file lacks a block.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from llm_observability.assess import CAPABILITIES, estimate, load  # noqa: E402
from llm_observability.assess.cost_report import format_price, format_quantity  # noqa: E402
from llm_observability.assess.model import LEVEL_NAMES  # noqa: E402
from llm_observability.assess.prices import price_table  # noqa: E402
from llm_observability.config import config_reference_rows  # noqa: E402

if TYPE_CHECKING:
    from llm_observability.assess import CostReport

LEVELS = (1, 2, 3)
BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)
#: Each generated file and the blocks it must hold.
FILES: Mapping[str, tuple[str, ...]] = {
    "README.md": ("levels",),
    "docs/configuration.md": ("configuration",),
    "docs/costs.md": ("costs",),
}
CONCERN_TITLES: Mapping[str, str] = {
    "app": "The app (every level)",
    "level1": "Level 1: Foundation",
    "level2": "Level 2: Proactive",
    "level3": "Level 3: AIOps",
    "organization": "Organization: many accounts and regions, one monitoring account",
}
#: The stack class that builds each level of the bundled app (``llm_observability.stacks``).
STACK_CLASSES: Mapping[int, str] = {1: "FoundationStack", 2: "ProactiveStack", 3: "AiOpsStack"}


class DocsError(Exception):
    """A docs file the generator cannot update (missing, or without its generated block): one sentence."""


# ------------------------------------------------------------------------------------------------ rendering
def cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def usd(value: float | None) -> str:
    """``$1,234.50``; ``not priced`` for a line without a price."""
    return "not priced" if value is None else f"${value:,.2f}"


def configuration_block() -> str:
    """The configuration reference: one table per concern, every context key with type, default and rule."""
    rows = config_reference_rows()
    out: list[str] = []
    for concern, title in CONCERN_TITLES.items():
        out += [f"### {title}", "", "| Key | Type | Default | Allowed | Meaning |", "|---|---|---|---|---|"]
        out += [
            f"| `{r.key}` | {r.type} | `{cell(r.default)}` | {cell(r.allowed)} | {cell(r.doc)} |"
            for r in rows
            if r.concern == concern
        ]
        out.append("")
    return "\n".join(out)


def cost_reports(assemblies: Mapping[int, Path]) -> dict[int, CostReport]:
    """``llm-observability cost`` (default request volume, no free tier) over each level's assembly."""
    return {level: estimate(load(assemblies[level])) for level in LEVELS}


def _stacks(report: CostReport) -> str:
    return ", ".join(f"`{s.name}`" for s in report.source.stacks)


def costs_block(reports: Mapping[int, CostReport]) -> str:
    """The cost tables: a summary per level, then each level's lines (fixed, then usage) with their assumptions."""
    table = price_table()
    out = [
        f"{table['region']} list prices as of {table['as_of']} (`llm_observability/assess/prices.json`), the bundled "
        "app with cdk.json's defaults (one model); usage lines at "
        f"{reports[1].requests_per_month:,} requests a month, no free tier applied.",
        "",
        "| Level | Stacks (`-c level=N`) | Fixed per month | Added to the level below |",
        "|---|---|---|---|",
    ]
    previous = 0.0
    for level, report in reports.items():
        out.append(
            f"| {level} {LEVEL_NAMES[level]} | {_stacks(report)} | {usd(report.fixed_usd)} | "
            f"{usd(report.fixed_usd - previous)} |"
        )
        previous = report.fixed_usd
    for level, report in reports.items():
        out += [
            "",
            f"### Level {level} {LEVEL_NAMES[level]}",
            "",
            f"**Level {level} observability, fixed monthly cost** (`-c level={level}`: {_stacks(report)}):",
            "",
            "| Item | Quantity | Unit price | Per month | Assumption |",
            "|---|---|---|---|---|",
        ]
        for category, total_label in (("fixed", "**Total**"), ("usage", "**Usage total**")):
            if category == "usage":
                out.append(f"| *Usage at {report.requests_per_month:,} requests a month* | | | | |")
            for item in (i for i in report.items if i.category == category):
                unit_price = "" if item.unit_usd is None else f"${format_price(item.unit_usd)}"
                out.append(
                    f"| {cell(item.label)} | {format_quantity(item.quantity)} {cell(item.unit)} | {unit_price} | "
                    f"{usd(item.monthly_usd)} | {cell(item.assumption)} |"
                )
            total = report.fixed_usd if category == "fixed" else report.usage_usd
            out.append(f"| {total_label} | | | **{usd(total)}** | |")
    notes = sorted({note for report in reports.values() for note in report.notes})
    if notes:
        out += [""] + [f"- {note}" for note in notes]
    out.append("")
    return "\n".join(out)


def levels_block(reports: Mapping[int, CostReport]) -> str:
    """The README's levels at a glance: level, stack, the capabilities the scorecard checks, fixed monthly cost."""
    out = [
        "| Level | Stack | What it provisions (the scorecard's capabilities) | Fixed cost per month |",
        "|---|---|---|---|",
    ]
    previous = 0.0
    for level, report in reports.items():
        (stack,) = [s.name for s in report.source.stacks if f"-l{level}-" in s.name]
        titles = "; ".join(c.title for c in CAPABILITIES if c.level == level)
        added = "" if level == 1 else f" (+{usd(report.fixed_usd - previous)})"
        out.append(
            f"| [{level} {LEVEL_NAMES[level]}](docs/level-{level}.md) | `{STACK_CLASSES[level]}` (`{stack}`) | "
            f"{cell(titles)} | {usd(report.fixed_usd)}{added} |"
        )
        previous = report.fixed_usd
    out.append("")
    return "\n".join(out)


def blocks(assemblies: Mapping[int, Path]) -> dict[str, str]:
    """Every generated block by name, from the code and the assemblies of levels 1-3."""
    reports = cost_reports(assemblies)
    return {"configuration": configuration_block(), "costs": costs_block(reports), "levels": levels_block(reports)}


def rewrite(text: str, generated: Mapping[str, str], *, path: str, expected: Sequence[str]) -> str:
    """``text`` with each generated block replaced; :class:`DocsError` when an expected block is missing."""
    found = [m.group("name") for m in BLOCK.finditer(text)]
    missing = [name for name in expected if name not in found]
    unknown = [name for name in found if name not in generated]
    if missing or unknown:
        what = f"no '{missing[0]}' block" if missing else f"an unknown block '{unknown[0]}'"
        raise DocsError(
            f"{path} has {what}: allowed are the markers <!-- generated: NAME --> ... <!-- end generated --> "
            f"with NAME one of {', '.join(expected)}."
        )
    return BLOCK.sub(lambda m: m.group(1) + generated[m.group("name")] + m.group(4), text)


def updated_files(generated: Mapping[str, str], root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Per generated file (path relative to ``root``): its committed text and its text with ``generated`` blocks."""
    result = {}
    for name, expected in FILES.items():
        path = root / name
        if not path.is_file():
            raise DocsError(f"{name} is missing: it holds the generated block(s) {', '.join(expected)}.")
        text = path.read_text(encoding="utf-8")
        result[name] = (text, rewrite(text, generated, path=name, expected=expected))
    return result


def stale_files(generated: Mapping[str, str], root: Path = ROOT) -> list[str]:
    """The generated files whose committed text differs from ``generated`` (from :func:`blocks`)."""
    return [name for name, (old, new) in updated_files(generated, root).items() if old != new]


def stale_message(stale: Sequence[str], command: str = "`make docs` (scripts/generate_docs.py)") -> str:
    """One sentence naming the stale file(s) and the ``command`` that regenerates them."""
    names = f"{', '.join(stale[:-1])} and {stale[-1]} are" if len(stale) > 1 else f"{stale[0]} is"
    return f"{names} stale: run {command} and commit the result."


# --------------------------------------------------------------------------------------------- synthesis
def synthesize(outdir: Path, levels: Sequence[int] = LEVELS) -> dict[int, Path]:
    """The bundled app at ``levels`` (default 1-3) with cdk.json's context, each synthesized into
    ``outdir/levelN``."""
    from aws_cdk import App

    from llm_observability.stacks import build_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assemblies = {}
    for level in levels:
        assemblies[level] = outdir / f"level{level}"
        app = App(context={**context, "level": level}, outdir=str(assemblies[level]))
        build_app(app)
        app.synth()
    return assemblies


def run(check: bool, synth: Callable[[Path], Mapping[int, Path]] = synthesize, root: Path = ROOT) -> int:
    """Generate (or, with ``check``, only compare) the docs under ``root``; returns the exit status."""
    try:
        with tempfile.TemporaryDirectory(prefix="generate-docs-") as tmp:
            files = updated_files(blocks(synth(Path(tmp))), root)
    except DocsError as error:
        print(f"generate_docs: {error}", file=sys.stderr)
        return 2
    stale = [name for name, (old, new) in files.items() if old != new]
    if check:
        if stale:
            print(stale_message(stale), file=sys.stderr)
            return 1
        print(f"Docs up to date: {', '.join(files)}.")
        return 0
    for name in stale:
        (root / name).write_text(files[name][1], encoding="utf-8")
    print(f"Rewrote {', '.join(stale)}." if stale else f"Docs already up to date: {', '.join(files)}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="generate_docs.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a committed file is stale")
    return run(parser.parse_args(argv).check)


if __name__ == "__main__":
    sys.exit(main())
