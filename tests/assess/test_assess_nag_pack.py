"""``LlmObservabilityChecks``: the scorecard as a CDK validation plugin at synth time."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from llm_observability.assess.capabilities import capabilities_of
from llm_observability.assess.nag_pack import PLUGIN_NAME, LlmObservabilityChecks
from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT, SynthResult


def _stacks(result: SynthResult) -> list[tuple[str, str]]:
    return [
        (path.name.removesuffix(".template.json"), str(path)) for path in sorted(result.outdir.glob("*.template.json"))
    ]


def test_small_app_missing_alarms_fails_synth(tmp_path: Path) -> None:
    from aws_cdk import Acknowledgment, App, Stack, Validations
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    app = App(context=CDK_CONTEXT, outdir=str(tmp_path))
    stack = Stack(app, "SupportBot")
    log_group = logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.ONE_MONTH)
    lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", tracing=lambda_.Tracing.ACTIVE,
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"), log_group=log_group,
    )  # fmt: skip
    Validations.of(stack).acknowledge(
        Acknowledgment(
            id=f"{PLUGIN_NAME}::invocation-logging", reason="The platform team configures it for the account."
        )
    )
    checks = LlmObservabilityChecks(app, level=1)
    Validations.of(app).add_plugins(checks)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    assert f"Acknowledge with '{PLUGIN_NAME}::alarms'" in str(failure.value)
    (report,) = [
        r
        for r in json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
        if r["pluginName"] == PLUGIN_NAME
    ]
    rules = {v["ruleName"]: v for v in report["violations"]}
    assert "alarms" in rules and "tracing" not in rules  # the function is traced
    assert "LlmAlarms" in rules["alarms"]["description"] and rules["alarms"]["severity"] == "error"
    assert rules["alarms"]["violatingConstructs"][0]["constructPath"] == "SupportBot"
    assert [v["ruleName"] for v in report["suppressedViolations"]] == ["invocation-logging"]
    assert report["metadata"] == {"level_reached": "0", "level_required": "1"}
    assert checks.last_scorecard is not None and checks.last_scorecard.level == 0


def test_level1_app_passes_level_1_and_fails_level_2(level1: SynthResult) -> None:
    passing = LlmObservabilityChecks(level=1).check_templates(_stacks(level1))
    assert passing.success and passing.violations == []
    failing = LlmObservabilityChecks(level=2).check_templates(_stacks(level1))
    assert not failing.success
    assert [v.rule_name for v in failing.violations] == [c.id for c in capabilities_of(2)]
    assert all(v.severity == "error" and v.fix for v in failing.violations)


def test_validate_reads_the_cdk_context(level2: SynthResult) -> None:
    context = SimpleNamespace(
        stack_templates=[SimpleNamespace(stack_construct_path=p, template_path=t) for p, t in _stacks(level2)]
    )
    report = LlmObservabilityChecks(level=2).validate(context)
    assert report.success and report.metadata == {"level_reached": "2", "level_required": "2"}
    report = LlmObservabilityChecks(level=3, severity="warning").validate(context)
    assert report.success and {v.rule_name for v in report.violations} == {c.id for c in capabilities_of(3)}


def test_plugin_metadata_and_bad_settings() -> None:
    checks = LlmObservabilityChecks(level=2)
    assert checks.name == PLUGIN_NAME and checks.version and checks.level == 2
    assert checks.rule_ids == [c.id for c in capabilities_of(1) + capabilities_of(2)]
    with pytest.raises(ConfigError, match="'level' is 4: allowed are 1-3"):
        LlmObservabilityChecks(level=4)
    with pytest.raises(ConfigError, match="'severity'"):
        LlmObservabilityChecks(severity="fatal")
