"""Scale of the organization app: synth time, template sizes and dashboard sizes for 1, 10 and 50 targets.

Each size is synthesized in a fresh Python process (jsii starts its Node.js kernel once per process, which is what
a user pays on every ``cdk synth``): the bundled app (``build_app``, cdk-nag on) with ``-c targets`` of N targets at
Level 2 (accounts ``1000000000NN``, regions alternating us-east-1 / us-west-2) and ``-c monitoring`` for account
999999999999 in us-east-1 (its sink ARN known, so the us-east-1 targets' OAM link stacks are built too). Reported:

- synth time per run (import of aws-cdk-lib apart), its growth per target (least-squares slope over the runs) and
  the time per target between consecutive sizes: synth time grows linearly when that marginal stays flat;
- per stack (the largest of each stack name over the stages): resources, template bytes, outputs and parameters
  against CloudFormation's limits (500, 1,000,000, 200, 200);
- per dashboard of the monitoring stage: widgets, metrics and the largest widget's metrics against CloudWatch's
  limits (``llm_observability.constructs.monitoring``: 500 widgets, 2,500 metrics, 500 per widget).

Prints a Markdown table; exits 1 when a limit is passed (``--json`` for machines).

    nice python benchmarks/bench_scale.py [--targets 1 10 50] [--no-nag] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's package, not an installed copy

from llm_observability.assess.intrinsics import render
from llm_observability.constructs.monitoring import (
    MAX_METRICS_PER_DASHBOARD,
    MAX_METRICS_PER_WIDGET,
    MAX_WIDGETS_PER_DASHBOARD,
)

#: CloudFormation quotas (User Guide, "CloudFormation quotas"): per template.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000  # "Template body size in an Amazon S3 object: 1 MB", read as 10^6 bytes
MAX_OUTPUTS = 200
MAX_PARAMETERS = 200
SIZES = (1, 10, 50)
REGIONS = ("us-east-1", "us-west-2")
MONITORING = {"account": "999999999999", "region": "us-east-1"}
SINK_ARN = "arn:aws:oam:us-east-1:999999999999:sink/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
#: A flat marginal: the time per target between the last two sizes at most this multiple of the first two's.
LINEAR_TOLERANCE = 1.5

SYNTH = """
import json, sys, time
start = time.perf_counter()
sys.path.insert(0, {benchmarks!r})
import bench_scale
from aws_cdk import App
imported = time.perf_counter()
bench_scale.build(int(sys.argv[1]), sys.argv[2], nag=sys.argv[3] == "1")
print(json.dumps({{"import_seconds": imported - start, "synth_seconds": time.perf_counter() - imported}}))
"""


def targets(count: int) -> list[dict[str, Any]]:
    """``count`` Level 2 targets: accounts 100000000000, 100000000001 ..., regions alternating."""
    return [{"account": f"1000000000{i:02d}", "region": REGIONS[i % 2], "level": 2} for i in range(count)]


def context(count: int) -> dict[str, Any]:
    """cdk.json's context with ``count`` targets and the monitoring account (its us-east-1 sink deployed)."""
    base = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**base, "targets": targets(count), "monitoring": {**MONITORING, "sink_arns": {"us-east-1": SINK_ARN}}}


def build(count: int, outdir: str | Path, *, nag: bool = True) -> Path:
    """Synthesize the organization app of ``count`` targets into ``outdir`` (in this process)."""
    from aws_cdk import App

    from llm_observability.stacks import build_app

    app = App(context=context(count), outdir=str(outdir))
    build_app(app, nag=nag)
    app.synth()
    return Path(outdir)


@dataclass(frozen=True)
class Run:
    """One synthesis in a fresh process: targets, seconds in ``build`` + ``synth`` and in the whole process."""

    targets: int
    synth_seconds: float
    process_seconds: float


def synthesize(count: int, outdir: Path, *, nag: bool = True) -> Run:
    """Synthesize ``count`` targets in a fresh interpreter into ``outdir`` and time it."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    script = SYNTH.format(benchmarks=str(Path(__file__).resolve().parent))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, str(count), str(outdir), "1" if nag else "0"], cwd=ROOT,
                          env=env, check=True, capture_output=True, text=True)  # fmt: skip
    elapsed = time.perf_counter() - start
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(count, timing["synth_seconds"], elapsed)


# ------------------------------------------------------------------ measuring a cloud assembly
@dataclass(frozen=True)
class TemplateSize:
    """One stack's template against CloudFormation's limits."""

    stage: str  # the stage's id (``t-...``, ``m-...``), "" for a stack of the app itself
    stack: str  # its CloudFormation stack name
    resources: int
    bytes: int
    outputs: int
    parameters: int


@dataclass(frozen=True)
class DashboardSize:
    """One dashboard against CloudWatch's limits: widgets, metric rows in all, in its largest widget."""

    stage: str
    stack: str
    logical_id: str
    widgets: int
    metrics: int
    max_widget_metrics: int


def stacks(outdir: Path, stage: str = "") -> Iterator[tuple[str, str, Path]]:
    """``(stage, stack name, template path)`` of every stack of a cloud assembly, nested stage assemblies included."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        props = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack":
            yield stage, str(props.get("stackName") or artifact_id), outdir / props["templateFile"]
        elif artifact.get("type") == "cdk:cloud-assembly":
            yield from stacks(outdir / props["directoryName"], str(props.get("displayName") or artifact_id))


def measure_templates(outdir: Path) -> list[TemplateSize]:
    """Every stack's resources, bytes (the file CDK uploads), outputs and parameters."""
    sizes = []
    for stage, name, path in stacks(outdir):
        template = json.loads(path.read_text())
        sizes.append(TemplateSize(stage, name, len(template.get("Resources") or {}), path.stat().st_size,
                                  len(template.get("Outputs") or {}), len(template.get("Parameters") or {})))  # fmt: skip
    return sizes


def dashboard_size(body: dict[str, Any]) -> tuple[int, list[int]]:
    """Widgets of a dashboard body and the metric rows of each (a metric or a math expression: each counts)."""
    widgets = body.get("widgets") if isinstance(body.get("widgets"), list) else []
    counts = []
    for widget in widgets:
        props = widget.get("properties") if isinstance(widget, dict) else None
        metrics = props.get("metrics") if isinstance(props, dict) else None
        counts.append(len(metrics) if isinstance(metrics, list) else 0)
    return len(widgets), counts


def measure_dashboards(outdir: Path, *, stage_prefix: str = "m-") -> list[DashboardSize]:
    """The dashboards of the stages whose id starts with ``stage_prefix`` (the monitoring stages by default)."""
    sizes = []
    for stage, name, path in stacks(outdir):
        if not stage.startswith(stage_prefix):
            continue
        for logical_id, resource in (json.loads(path.read_text()).get("Resources") or {}).items():
            if resource.get("Type") != "AWS::CloudWatch::Dashboard":
                continue
            body = json.loads(render((resource.get("Properties") or {}).get("DashboardBody")))
            widgets, counts = dashboard_size(body)
            sizes.append(DashboardSize(stage, name, logical_id, widgets, sum(counts), max(counts, default=0)))
    return sizes


def violations(templates: Sequence[TemplateSize], dashboards: Sequence[DashboardSize]) -> list[str]:
    """Every limit passed, one sentence each (empty: all within limits)."""
    found = []
    for t in templates:
        where = f"{t.stage}/{t.stack}" if t.stage else t.stack
        for value, limit, what in ((t.resources, MAX_RESOURCES, "resources"), (t.bytes, MAX_TEMPLATE_BYTES, "bytes"),
                                   (t.outputs, MAX_OUTPUTS, "outputs"), (t.parameters, MAX_PARAMETERS, "parameters")):  # fmt: skip
            if value > limit:
                found.append(f"{where}: {value:,} {what}, CloudFormation allows {limit:,}.")
    for d in dashboards:
        where = f"{d.stage}/{d.stack}/{d.logical_id}"
        for value, limit, what in ((d.widgets, MAX_WIDGETS_PER_DASHBOARD, "widgets"),
                                   (d.metrics, MAX_METRICS_PER_DASHBOARD, "metrics"),
                                   (d.max_widget_metrics, MAX_METRICS_PER_WIDGET, "metrics in one widget")):  # fmt: skip
            if value > limit:
                found.append(f"{where}: {value:,} {what}, CloudWatch allows {limit:,}.")
    return found


# ------------------------------------------------------------------ growth
def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0 with fewer than two distinct x)."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def marginals(runs: Sequence[Run]) -> list[float]:
    """Seconds per added target between consecutive sizes."""
    ordered = sorted(runs, key=lambda r: r.targets)
    return [(b.synth_seconds - a.synth_seconds) / (b.targets - a.targets) for a, b in pairwise(ordered)]


def is_linear(runs: Sequence[Run], tolerance: float = LINEAR_TOLERANCE) -> bool:
    """The time per added target between the last two sizes is at most ``tolerance`` x that of the first two."""
    steps = marginals(runs)
    return len(steps) < 2 or steps[-1] <= tolerance * max(steps[0], 1e-9)


# ------------------------------------------------------------------ report
@dataclass(frozen=True)
class Measured:
    """One size: its run, its templates and its monitoring dashboards."""

    run: Run
    templates: list[TemplateSize]
    dashboards: list[DashboardSize]


def largest_by_stack(templates: Sequence[TemplateSize]) -> dict[str, dict[str, int]]:
    """Per stack name: how many stages hold it and the largest of each measure over them."""
    rows: dict[str, dict[str, int]] = {}
    for t in templates:
        row = rows.setdefault(t.stack, {"stacks": 0, "resources": 0, "bytes": 0, "outputs": 0, "parameters": 0})
        row["stacks"] += 1
        for key in ("resources", "bytes", "outputs", "parameters"):
            row[key] = max(row[key], getattr(t, key))
    return rows


def render_markdown(measured: Sequence[Measured]) -> str:
    """The report: runs and growth, the largest template of each stack name, the monitoring dashboards."""
    runs = [m.run for m in measured]
    lines = ["| Targets | Stacks | Synth (s) | Process (s) | Synth per target (s) |", "|---|---|---|---|---|"]
    for m in measured:
        r = m.run
        lines.append(f"| {r.targets} | {len(m.templates)} | {r.synth_seconds:.1f} | {r.process_seconds:.1f} | "
                     f"{r.synth_seconds / r.targets:.2f} |")  # fmt: skip
    if len(runs) > 1:
        steps = ", ".join(f"{s:.2f}" for s in marginals(runs))
        growth = slope([r.targets for r in runs], [r.synth_seconds for r in runs])
        verdict = "linear" if is_linear(runs) else f"worse than linear (last step > {LINEAR_TOLERANCE}x the first)"
        lines += ["", (f"Growth: {growth:.2f} s per target (least squares); per added target between sizes: {steps} s: "
                       f"{verdict}.")]  # fmt: skip
    lines += ["", (f"| Targets | Stack | Count | Resources (≤ {MAX_RESOURCES}) | Bytes (≤ {MAX_TEMPLATE_BYTES:,}) | "
                   f"Outputs (≤ {MAX_OUTPUTS}) | Parameters (≤ {MAX_PARAMETERS}) |"), "|---|---|---|---|---|---|---|"]  # fmt: skip
    for m in measured:
        for name, row in sorted(largest_by_stack(m.templates).items()):
            lines.append(f"| {m.run.targets} | {name} | {row['stacks']} | {row['resources']} | {row['bytes']:,} | "
                         f"{row['outputs']} | {row['parameters']} |")  # fmt: skip
    lines += ["", (f"| Targets | Monitoring dashboard | Widgets (≤ {MAX_WIDGETS_PER_DASHBOARD}) | Metrics "
                   f"(≤ {MAX_METRICS_PER_DASHBOARD:,}) | Largest widget (≤ {MAX_METRICS_PER_WIDGET}) |"), "|---|---|---|---|---|"]  # fmt: skip
    for m in measured:
        for d in m.dashboards:
            lines.append(f"| {m.run.targets} | {d.stage}/{d.logical_id} | {d.widgets} | {d.metrics} | "
                         f"{d.max_widget_metrics} |")  # fmt: skip
    problems = [p for m in measured for p in violations(m.templates, m.dashboards)]
    lines += ["", "Limits passed:" if problems else "Every template and dashboard is within its limits."]
    lines += [f"- {p}" for p in problems]
    return "\n".join(lines)


def measure(count: int, *, nag: bool = True) -> Measured:
    """Synthesize ``count`` targets in a fresh process and measure the assembly."""
    with tempfile.TemporaryDirectory() as out:
        run = synthesize(count, Path(out), nag=nag)
        return Measured(run, measure_templates(Path(out)), measure_dashboards(Path(out)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=list(SIZES), help="sizes to synthesize")
    parser.add_argument("--no-nag", action="store_true", help="synthesize without the cdk-nag plugin")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    measured = [measure(n, nag=not args.no_nag) for n in sorted(set(args.targets))]
    problems = [p for m in measured for p in violations(m.templates, m.dashboards)]
    if args.json:
        runs = [m.run for m in measured]
        print(json.dumps({
            "runs": [asdict(r) for r in runs],
            "slope_seconds_per_target": slope([r.targets for r in runs], [r.synth_seconds for r in runs]),
            "marginal_seconds_per_target": marginals(runs), "linear": is_linear(runs),
            "templates": {m.run.targets: largest_by_stack(m.templates) for m in measured},
            "dashboards": {m.run.targets: [asdict(d) for d in m.dashboards] for m in measured},
            "violations": problems,
        }))  # fmt: skip
    else:
        print(render_markdown(measured))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
