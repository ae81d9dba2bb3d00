"""Count the AWS Control Tower proactive-control violations of the bundled app, per level, for a compliance profile.

Usage: ``python scripts/control_tower_report.py [--profile standard|strict] [--levels 1,2,3] [--all-rules]
[-c key=value ...]`` (the ``-c`` options as for the cdk command, over cdk.json's context).

Synthesizes the bundled app of each level with ``CfnGuardValidator`` (``cdklabs-cdk-validator-cfnguard``, a dev
dependency: the bundled Control Tower cfn-guard rules and binary) as a CDK policy validation plugin and prints,
per level, the violating resources and the controls they break. By default the controls of
``llm_observability.compliance_profile.DISABLED_CONTROLS`` are off (what a user disables in the OU); with
``--all-rules`` every bundled rule runs (the issue's "today" table). Exit status 0 (a report is not a gate; the
test suite is: tests/test_control_tower.py), or 2 with one sentence for a setting the app refuses.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The control id at the start of a cfn-guard rule's message, e.g. ``[CT.S3.PR.10]: Require ...``.
_CONTROL = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]")
REPORT_FILE = "policy-validation-report.json"
GUARD_PLUGIN = "cdk-validator-cfnguard"


def synth_with_rules(
    outdir: Path, context: Mapping[str, Any], *, disabled: Sequence[str] | None = None, nag: bool = True
) -> dict[str, Any]:
    """Synthesize the bundled app with ``context`` and the Control Tower rules (``disabled``: rule names turned off;
    Default: the documented list) and return the JSON policy validation report (every plugin's)."""
    from aws_cdk import App, Validations
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    from llm_observability.compliance_profile import disabled_rules
    from llm_observability.stacks import build_app

    validator = CfnGuardValidator(
        control_tower_rules_enabled=True, disabled_rules=list(disabled_rules() if disabled is None else disabled)
    )
    app = App(context={**context, "@aws-cdk/core:validationReportJson": True}, outdir=str(outdir))
    build_app(app, nag=nag)
    # The plugin implements the Beta1 interface, which Validations accepts at run time.
    Validations.of(app).add_plugins(validator)  # type: ignore[arg-type]
    try:
        app.synth()
    except Exception as error:  # a violation fails synth; the report is written first
        if not (outdir / REPORT_FILE).is_file():
            raise
        if "Validation failed" not in str(error) and "ValidationFailed" not in str(error):
            raise
    report = outdir / REPORT_FILE
    return json.loads(report.read_text()) if report.is_file() else {"pluginReports": []}


def violations(report: Mapping[str, Any], *, plugin: str = GUARD_PLUGIN) -> dict[str, dict[str, set[str]]]:
    """``{stack name: {control id: {construct paths}}}`` of ``plugin``'s violations in a validation report."""
    found: dict[str, dict[str, set[str]]] = {}
    for plugin_report in report.get("pluginReports", []):
        if plugin not in plugin_report.get("summary", {}).get("pluginName", ""):
            continue
        for violation in plugin_report.get("violations", []):
            match = _CONTROL.search(violation.get("description", "")) or _CONTROL.search(violation.get("ruleName", ""))
            control = match.group(1) if match else violation.get("ruleName", "?")
            for resource in violation.get("violatingResources", violation.get("violatingConstructs", [])):
                stack = resource.get("constructPath", "").split("/")[0]
                found.setdefault(stack, {}).setdefault(control, set()).add(resource.get("constructPath", "?"))
    return found


def plugin_failures(report: Mapping[str, Any], plugin: str) -> int:
    """How many violations ``plugin`` (e.g. ``AwsSolutions``, cdk-nag) reported."""
    return sum(
        len(r.get("violations", []))
        for r in report.get("pluginReports", [])
        if plugin in r.get("summary", {}).get("pluginName", "")
    )


def summary(found: Mapping[str, Mapping[str, set[str]]]) -> tuple[int, int]:
    """(violating constructs, distinct controls) over all stacks of ``found``."""
    constructs = {path for controls in found.values() for paths in controls.values() for path in paths}
    controls = {control for by_control in found.values() for control in by_control}
    return len(constructs), len(controls)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="control_tower_report.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("standard", "strict"), default="standard")
    parser.add_argument("--levels", default="1,2,3", help="comma-separated levels (default: 1,2,3)")
    parser.add_argument("--all-rules", action="store_true", help="run every bundled rule (no documented list)")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    for pair in args.context:
        key, _, value = pair.partition("=")
        context[key] = value
    context["compliance_profile"] = args.profile
    print(f"| level | violating constructs | controls | ids |  (profile {args.profile})")
    print("|---|---|---|---|")
    from llm_observability.errors import ConfigError

    for level in (int(n) for n in args.levels.split(",")):
        with tempfile.TemporaryDirectory(prefix="ct-report-") as outdir:
            try:
                report = synth_with_rules(
                    Path(outdir), {**context, "level": level}, disabled=[] if args.all_rules else None, nag=False
                )
            except ConfigError as error:
                print(f"Configuration error: {error}", file=sys.stderr)
                return 2
        found = violations(report)
        constructs, controls = summary(found)
        ids = sorted({c for by_control in found.values() for c in by_control})
        print(f"| {level} | {constructs} | {controls} | {', '.join(ids)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
