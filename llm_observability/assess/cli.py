"""``llm-observability``: the maturity scorecard (text, JSON, HTML, Markdown), the observability cost estimate
and the dashboard previews of a CDK assembly.

Exit status: 0 done; 1 the level is below ``--min-level``; 2 usage, input or output error (one sentence on
stderr, never a traceback). Report files (``-o``) are written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from llm_observability.assess.loader import AssessError, Source, load
from llm_observability.assess.model import MAX_LEVEL
from llm_observability.assess.output import write_atomically
from llm_observability.assess.report import gate

PROG = "llm-observability"
REPORT_FORMATS = ("text", "json", "html", "markdown")
EPILOG = (
    "PATH is a cloud assembly folder (cdk.out, with manifest.json), a CloudFormation template file "
    "(.json, .yaml, .yml) or a folder of templates. Exit status: 0 done, 1 below --min-level, "
    "2 usage, input or output error."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative: allowed are 0 or more requests")
    return value


def _level(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level: allowed are 0-{MAX_LEVEL}") from None
    if not 0 <= value <= MAX_LEVEL:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level: allowed are 0-{MAX_LEVEL}")
    return value


def _add_input_arguments(command: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json")) -> None:
    """PATH, --format and --output, the arguments both commands share."""
    command.add_argument("path", metavar="PATH", help="cdk.out folder, template file, or folder of templates")
    command.add_argument(
        "--format", choices=formats, default="text", help=f"output format: {', '.join(formats)} (default: text)"
    )
    command.add_argument(
        "-o", "--output", metavar="FILE", default=None,
        help="write the report to FILE (atomically: a temporary file beside it, then renamed) instead of stdout",
    )  # fmt: skip


def _add_cost_arguments(command: argparse.ArgumentParser, *, for_report: bool = False) -> None:
    """--requests-per-month and --free-tier: the cost command's, and the cost section of the assess reports."""
    where = " (for the cost section of --format html and markdown)" if for_report else ""
    command.add_argument(
        "--requests-per-month", type=_non_negative_int, default=10_000, metavar="N",
        help=f"request volume for the usage-based lines (log ingestion and storage, traces){where}; default 10000",
    )  # fmt: skip
    command.add_argument(
        "--free-tier", action="store_true",
        help="subtract the account's free allowances (3 dashboards, 10 alarm metrics, 10 custom metrics, 5 GB of "
        f"logs, 100,000 traces, 2 budgets){where}; by default they are assumed used by other workloads",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Score a CDK app or CloudFormation templates against the LLM observability maturity model "
        "(Level 1 Foundation, 2 Proactive, 3 AIOps), estimate the monthly cost of its observability, and draw its "
        "CloudWatch dashboards before deploy.",
        epilog=EPILOG,
    )
    commands = parser.add_subparsers(dest="command", metavar="{assess,cost,preview,golden}", parser_class=_Parser)
    commands.required = True
    assess = commands.add_parser(
        "assess", help="maturity scorecard: capabilities present, partial or missing, level reached, next steps",
        description="Maturity scorecard: for each capability of the model, present / partial / missing with evidence "
        "(stack and logical ids) and a reason; the highest level fully reached; what to add next.",
        epilog=EPILOG,
    )  # fmt: skip
    _add_input_arguments(assess, REPORT_FORMATS)
    assess.add_argument(
        "--min-level", type=_level, default=None, metavar="N",
        help=f"exit with status 1 when the level fully reached is below N (0-{MAX_LEVEL}); the html and markdown "
        "reports show this gate's result first",
    )  # fmt: skip
    _add_cost_arguments(assess, for_report=True)
    cost = commands.add_parser(
        "cost", help="monthly cost of the observability resources (fixed, and usage per request volume)",
        description="Monthly cost of the observability resources: fixed (dashboards, alarms, custom metrics, keys, "
        "compliance, AIOps services) and usage at --requests-per-month, each line with its assumption. Prices: "
        "llm_observability/assess/prices.json (dated, with sources).",
        epilog=EPILOG,
    )  # fmt: skip
    _add_input_arguments(cost)
    _add_cost_arguments(cost)
    preview = commands.add_parser(
        "preview", help="a picture (SVG, and PNG) of every CloudWatch dashboard, before deploy, with an index page",
        description="Draw every CloudWatch dashboard of the assembly from its body on CloudWatch's 24-column grid: "
        "each widget at its place with its title, kind and the metrics, alarms or query it shows. Writes one SVG "
        "(and PNG) per dashboard and index.html into DIR, each file atomically.",
        epilog=EPILOG,
    )  # fmt: skip
    preview.add_argument("path", metavar="PATH", help="cdk.out folder, template file, or folder of templates")
    preview.add_argument("--out", metavar="DIR", required=True, help="folder to write the pictures into (created)")
    preview.add_argument(
        "--png", action=argparse.BooleanOptionalAction, default=None,
        help="also write PNGs (--no-png: SVG only); default: when resvg-py is installed",
    )  # fmt: skip
    from llm_observability.golden import add_parser as add_golden_parser

    add_golden_parser(commands)
    return parser


def _emit(text: str, output: str | None) -> None:
    """Print ``text``, or write it to ``output`` atomically."""
    if output is None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        write_atomically(output, text if text.endswith("\n") else text + "\n")


def _assess(args: argparse.Namespace, source: Source) -> int:
    from llm_observability.assess.scorecard import assess

    card = assess(source)
    if args.format in ("html", "markdown"):
        from llm_observability.assess.cost import estimate

        cost = estimate(source, requests_per_month=args.requests_per_month, free_tier=args.free_tier).to_json()
        if args.format == "html":
            from llm_observability.assess.render_html import render_html as render
        else:
            from llm_observability.assess.render_markdown import render_markdown as render
        text = render(card.to_json(), cost, min_level=args.min_level)
    else:
        text = json.dumps(card.to_json(), indent=2) if args.format == "json" else card.render_text()
    _emit(text, args.output)
    if args.min_level is not None:
        passed, why = gate(card.level, args.min_level)
        if not passed:
            print(f"{PROG}: {why}", file=sys.stderr)
            return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "golden":
        from llm_observability.golden import run as golden

        return golden(args)
    if args.command == "preview":
        from pathlib import Path

        from llm_observability.preview.command import run

        return run(Path(args.path), Path(args.out), png=args.png)
    source = load(args.path)
    if args.command == "assess":
        return _assess(args, source)
    from llm_observability.assess.cost import estimate

    report = estimate(source, requests_per_month=args.requests_per_month, free_tier=args.free_tier)
    _emit(json.dumps(report.to_json(), indent=2) if args.format == "json" else report.render_text(), args.output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    try:
        return _run(args)
    except AssessError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except RecursionError:  # values nested deeper than the readers recurse (parsing has its own limit)
        print(f"{PROG}: {args.path} has values nested too deeply to assess.", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the contract is one sentence, never a traceback
        print(
            f"{PROG}: could not assess {args.path}: unexpected {type(error).__name__}: {error}. "
            "This is a bug of the tool, please report it with the input.",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
