"""checkov over the synthesized templates of levels 1-3: no failed check (#15 item 13).

checkov runs from its own virtual environment (``.tools/checkov``, made by ``scripts/install_checkov.sh`` through
``make tools``: it pins boto3 and packaging versions that conflict with the project's). Skips are in
``.checkov.yaml`` (checks that do not apply to the design as a whole) or on the resource (``Metadata.checkov``,
written by :func:`llm_observability.checkov.skip`), each with its reason. Without checkov the test skips locally
and fails in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SynthResult

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
#: checkov takes about 10 s over the three templates: `make test` (CI) runs it, `make test-fast` does not.
pytestmark = pytest.mark.slow


def _checkov() -> Path:
    if CHECKOV.is_file():
        return CHECKOV
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail("checkov is not installed; CI must run scripts/install_checkov.sh (make tools) first.")
    pytest.skip("checkov is not installed (run scripts/install_checkov.sh).")


def _run(templates: list[Path]) -> list[dict[str, Any]]:
    # --skip-download: no Prisma Cloud guidelines (offline); the full JSON report lists the skipped checks too.
    args = [str(_checkov()), "--config-file", str(ROOT / ".checkov.yaml"), "--skip-download", "-o", "json"]
    for path in templates:
        args += ["-f", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert done.stdout.strip(), done.stderr[-2000:]
    reports = json.loads(done.stdout)
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="module")
def reports(level3: SynthResult) -> list[dict[str, Any]]:
    """checkov over the three stacks of the bundled app at level 3 (cdk.json's defaults)."""
    paths = [level3.outdir / f"{stack.artifact_id}.template.json" for stack in level3.stacks.values()]
    return _run(paths)


def test_checkov_reports_no_failed_check(reports: list[dict[str, Any]]) -> None:
    failed = [
        f"{check['check_id']} {check['resource']} ({Path(check['file_path']).name}): {check['check_name']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert sum(report["summary"]["passed"] for report in reports) > 400  # it really checked the templates


def test_every_resource_skip_has_a_reason(reports: list[dict[str, Any]]) -> None:
    skipped = [check for report in reports for check in report["results"].get("skipped_checks", [])]
    assert skipped  # the resource-level skips are read
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment") or "") >= 20, check["check_id"]


def test_the_config_file_gives_each_skip_a_reason() -> None:
    text = (ROOT / ".checkov.yaml").read_text()
    skips = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- CKV_")]
    assert skips
    for check in skips:
        reason = text.split(f"- {check}")[0].rsplit(f"# {check}", 1)
        assert len(reason) == 2 and len(reason[1]) > 80, f"{check} has no reason above it in .checkov.yaml"


@pytest.fixture(scope="module")
def strict_reports(strict_level3: dict[str, Any]) -> list[dict[str, Any]]:
    """checkov over the three stacks in the strict compliance profile (functions and the domain in a VPC, every
    interface endpoint): the network permissions and groups only that profile writes."""
    return _run(sorted(strict_level3["files"].values()))


def test_checkov_reports_no_failed_check_in_the_strict_profile(strict_reports: list[dict[str, Any]]) -> None:
    failed = [
        f"{check['check_id']} {check['resource']} ({Path(check['file_path']).name}): {check['check_name']}"
        for report in strict_reports
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert sum(report["summary"]["passed"] for report in strict_reports) > 400
