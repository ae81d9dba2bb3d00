"""Say what deleting the synthesized stacks keeps, before `make destroy` runs `cdk destroy`.

Usage: ``python scripts/kept_on_destroy.py cdk.out [-c key=value ...]`` (the same ``-c`` options as the
cdk command). Reads the cloud assembly for resources with a ``Retain`` deletion policy (audit data,
encryption keys, the account's API Gateway logging role) and the settings (cdk.json context, overridden
by ``-c``) under which the app adopted an account singleton instead of creating it. Standard library
only, so it runs with any Python 3.11+.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEPT_POLICIES = ("Retain", "RetainExceptOnCreate")


def context_from(argv: Sequence[str]) -> dict[str, Any]:
    """cdk.json's context with each ``-c key=value`` / ``--context key=value`` of ``argv`` applied."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in ("-c", "--context") and i + 1 < len(args) and "=" in args[i + 1]:
            key, value = args[i + 1].split("=", 1)
            context[key] = value
    return context


def _on(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def adopted_singletons(context: Mapping[str, Any]) -> list[str]:
    """Account-wide settings this app uses but did not create, so deleting it leaves them as they are."""
    level = int(str(context.get("level", 1)))
    notes: list[str] = []
    if not _on(context.get("create_api_gateway_cloudwatch_role", True)):
        notes.append("API Gateway's account-wide CloudWatch role: adopted (create_api_gateway_cloudwatch_role=false).")
    if _on(context.get("invocation_logging", True)) and context.get("invocation_logging_existing", "keep") == "keep":
        notes.append(
            "Bedrock model invocation logging: a configuration the account already had is kept; the one this app "
            "wrote is removed only if it is still in place (invocation_logging_existing=keep)."
        )
    if level >= 2:
        for key, what in (("security_hub", "Security Hub hub"), ("config_recorder", "AWS Config recorder")):
            if context.get(key) == "adopt":
                notes.append(f"{what}: adopted, stays enabled ({key}=adopt).")
        if context.get("cost_anomaly_monitor_arn"):
            notes.append("Cost Anomaly Detection monitor: adopted, stays (cost_anomaly_monitor_arn is set).")
    if level >= 3 and context.get("devops_guru_coverage") == "adopt":
        notes.append("DevOps Guru resource coverage: adopted, stays (devops_guru_coverage=adopt).")
    return notes


def retained_resources(outdir: Path) -> dict[str, list[str]]:
    """Per stack, the resources whose deletion policy keeps them, as ``Type  construct path``."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    kept: dict[str, list[str]] = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        rows = [
            f"{res['Type']:<28} {res.get('Metadata', {}).get('aws:cdk:path', logical_id)}"
            for logical_id, res in template.get("Resources", {}).items()
            if res.get("DeletionPolicy") in KEPT_POLICIES
        ]
        if rows:
            kept[name] = rows
    return kept


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("Usage: kept_on_destroy.py CLOUD_ASSEMBLY_DIR [-c key=value ...]", file=sys.stderr)
        return 2
    outdir = Path(argv[1])
    try:
        kept = retained_resources(outdir)
    except (OSError, json.JSONDecodeError, KeyError) as error:
        print(f"No readable cloud assembly in {outdir}: {error}", file=sys.stderr)
        return 1
    print("Deleting these stacks keeps, by design (delete them by hand once you no longer need the data):")
    for stack, rows in kept.items():
        print(f"  {stack}:")
        print("\n".join(f"    {row}" for row in rows))
    if not kept:
        print("  (no retained resources)")
    notes = adopted_singletons(context_from(argv[2:]))
    if notes:
        print("Account and region settings the app adopted, which deleting leaves as they are:")
        print("\n".join(f"  - {note}" for note in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
