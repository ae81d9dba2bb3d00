"""``llm-observability``: the maturity scorecard and the observability cost estimate of a CDK assembly.

Exit status: 0 done; 1 the level is below ``--min-level``; 2 usage or input error (one sentence on
stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from llm_observability.assess.loader import AssessError, load
from llm_observability.assess.model import LEVEL_NAMES, MAX_LEVEL

PROG = "llm-observability"
EPILOG = (
    "PATH is a cloud assembly folder (cdk.out, with manifest.json), a CloudFormation template file "
    "(.json, .yaml, .yml) or a folder of templates. Exit status: 0 done, 1 below --min-level, "
    "2 usage or input error."
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


def _add_input_arguments(command: argparse.ArgumentParser) -> None:
    """PATH and --format, the arguments both commands share."""
    command.add_argument("path", metavar="PATH", help="cdk.out folder, template file, or folder of templates")
    command.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Score a CDK app or CloudFormation templates against the LLM observability maturity model "
        "(Level 1 Foundation, 2 Proactive, 3 AIOps) and estimate the monthly cost of its observability.",
        epilog=EPILOG,
    )
    commands = parser.add_subparsers(dest="command", metavar="{assess,cost}", parser_class=_Parser)
    commands.required = True
    assess = commands.add_parser(
        "assess", help="maturity scorecard: capabilities present, partial or missing, level reached, next steps",
        description="Maturity scorecard: for each capability of the model, present / partial / missing with evidence "
        "(stack and logical ids) and a reason; the highest level fully reached; what to add next.",
        epilog=EPILOG,
    )  # fmt: skip
    _add_input_arguments(assess)
    assess.add_argument(
        "--min-level", type=_level, default=None, metavar="N",
        help=f"exit with status 1 when the level fully reached is below N (0-{MAX_LEVEL})",
    )  # fmt: skip
    cost = commands.add_parser(
        "cost", help="monthly cost of the observability resources (fixed, and usage per request volume)",
        description="Monthly cost of the observability resources: fixed (dashboards, alarms, custom metrics, keys, "
        "compliance, AIOps services) and usage at --requests-per-month, each line with its assumption. Prices: "
        "llm_observability/assess/prices.json (dated, with sources).",
        epilog=EPILOG,
    )  # fmt: skip
    _add_input_arguments(cost)
    cost.add_argument(
        "--requests-per-month", type=_non_negative_int, default=10_000, metavar="N",
        help="request volume for the usage-based lines (log ingestion and storage, traces); default 10000",
    )  # fmt: skip
    cost.add_argument(
        "--free-tier", action="store_true",
        help="subtract the account's free allowances (3 dashboards, 10 alarm metrics, 10 custom metrics, 5 GB of "
        "logs, 100,000 traces, 2 budgets); by default they are assumed used by other workloads",
    )  # fmt: skip
    return parser


def _run(args: argparse.Namespace) -> int:
    source = load(args.path)
    if args.command == "assess":
        from llm_observability.assess.scorecard import assess

        card = assess(source)
        print(json.dumps(card.to_json(), indent=2) if args.format == "json" else card.render_text())
        if args.min_level is not None and card.level < args.min_level:
            print(
                f"{PROG}: maturity level {card.level} ({LEVEL_NAMES[card.level]}) is below the required "
                f"minimum {args.min_level} ({LEVEL_NAMES[args.min_level]}).",
                file=sys.stderr,
            )
            return 1
        return 0
    from llm_observability.assess.cost import estimate

    report = estimate(source, requests_per_month=args.requests_per_month, free_tier=args.free_tier)
    print(json.dumps(report.to_json(), indent=2) if args.format == "json" else report.render_text())
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
