"""The examples/byo_app composition: someone else's app observed at Levels 1-3 through a Workload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cfnlint.api import ManualArgs, lint_file

from tests.conftest import ROOT


ANNOTATIONS = "Construct Annotations"  # the plugin report that carries synth warnings


@pytest.mark.slow  # about 10 s of cdk-nag and cfn-lint: CI (`make test`) runs it
def test_example_synthesizes_nag_and_lint_clean(example: dict[str, Any]) -> None:
    reports = json.loads((example["outdir"] / "validation-report.json").read_text())["pluginReports"]
    assert [r for r in reports if r["pluginName"] != ANNOTATIONS] == []  # no cdk-nag finding
    rules = {v["ruleName"] for r in reports if r["pluginName"] == ANNOTATIONS for v in r["violations"]}
    assert rules == {"Annotation::llm-observability:left-out"}  # the only warning: what the levels left out
    for name, stack in example["stacks"].items():
        path: Path = example["outdir"] / f"{stack.artifact_id}.template.json"
        assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == [], name


def test_example_levels_observe_the_apps_own_function_and_api(example: dict[str, Any]) -> None:
    level1 = json.dumps(example["templates"]["level1"])
    assert "anthropic.claude-3-haiku-20240307-v1:0" in level1 and '"Namespace": "SupportBot"' in level1
    level2 = example["templates"]["level2"]["Resources"]
    # no request contract, no canary; no log schema, no judge, feedback join or drift; outcomes need only the alarms
    assert [k for k, r in level2.items() if r["Type"] == "AWS::Lambda::Function"] == ["OutcomesFunctionEAB68644"]
    level3 = example["templates"]["level3"]["Resources"]
    types = {r["Type"] for r in level3.values()}
    assert {"AWS::DevOpsGuru::ResourceCollection", "AWS::APS::Workspace"} <= types
    assert "AWS::CodeGuruProfiler::ProfilingGroup" not in types  # no level changes the app's function
    bot = example["templates"]["app"]["Resources"]
    (fn,) = [r for r in bot.values() if r["Type"] == "AWS::Lambda::Function"]
    variables = fn["Properties"]["Environment"]["Variables"]
    assert "AWS_CODEGURU_PROFILER_GROUP_NAME" not in variables
    assert "LLMOBS_MODEL_PARAMETER_NAME" in variables  # the app's own opt-in: active_model_id reads it


def test_example_runbooks_exist_at_level3(example: dict[str, Any]) -> None:
    """The app feeds the failover (its model parameter) and the API throttle (its stage limits): both runbooks
    exist, started by the alarms chosen by role; the prompt rollback (no managed prompt) is left out and listed."""
    level3 = example["templates"]["level3"]["Resources"]
    documents = sorted(k.split("Document")[0] for k, r in level3.items() if r["Type"] == "AWS::SSM::Document")
    assert documents == ["RunbooksApiThrottle", "RunbooksModelFailover"]
    rules = json.dumps([r for r in level3.values() if r["Type"] == "AWS::Events::Rule"])
    assert "amazon.nova-micro-v1:0" in rules and "anthropic.claude-3-haiku-20240307-v1:0" in rules
    assert '\\"20\\"' in rules and '\\"40\\"' in rules  # the stage's normal limits, restored on OK
    policies = json.dumps([r for r in example["templates"]["app"]["Resources"].values() if r["Type"] == "AWS::IAM::Policy"])
    assert "foundation-model/amazon.nova-micro-v1:0" in policies and "ssm:GetParameter" in policies


def test_example_warns_once_per_stack_about_what_it_left_out(example: dict[str, Any]) -> None:
    from llm_observability.left_out import WARNING_ID

    reports = json.loads((example["outdir"] / "validation-report.json").read_text())["pluginReports"]
    warnings: dict[str, list[str]] = {
        name: [
            v["description"] for r in reports if r["pluginName"] == ANNOTATIONS for v in r["violations"]
            if v["ruleName"] == f"Annotation::{WARNING_ID}"
            and [c["constructPath"] for c in v["violatingConstructs"]] == [stack.node.path]
        ]
        for name, stack in example["stacks"].items()
    }  # fmt: skip
    assert warnings["app"] == []
    (level1,) = warnings["level1"]
    assert level1.startswith("LLM observability left out 1 feature(s)") and "'log_schema'" in level1
    (level2,) = warnings["level2"]
    assert "quality canary" in level2 and "'request_contract'" in level2 and "'log_schema'" in level2
    (level3,) = warnings["level3"]
    assert "CodeGuru Profiler" in level3 and "prompt rollback runbook" in level3


def test_example_function_emits_the_metric_names_the_alarms_read() -> None:
    from llm_observability.runtime import telemetry as t

    code = (ROOT / "examples" / "byo_app" / "function" / "app.py").read_text()
    for name in (t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE, t.METRIC_INPUT_TOKENS, t.METRIC_OUTPUT_TOKENS):
        assert f'"{name}"' in code, name


def test_scorecard_of_the_example(example: dict[str, Any]) -> None:
    """Level 1 fully; Level 2 needs the app's own code to apply a guardrail and read a managed prompt (what
    RagReferenceApp does), which the scorecard lists as next steps. The example reads its active-model parameter
    and has stage limits, so its self-healing runbooks exist. Its Workload has no log schema and no request
    contract and it does not opt in to profiling, so log intelligence, the quality canary and CodeGuru Profiler
    are not present."""
    from llm_observability.assess.loader import load
    from llm_observability.assess.scorecard import Status, assess

    card = assess(load(example["outdir"]))
    assert card.level == 1
    gaps = {r.capability.id for r in card.results if r.status is not Status.PRESENT}
    assert gaps == {
        "guardrail", "prompt-management", "log-intelligence", "quality-evaluation", "codeguru-profiler"
    }, gaps  # self-healing is present: the failover and throttle runbooks exist
    assert {step.capability.id for step in card.next_steps()} == {
        "guardrail", "prompt-management", "log-intelligence", "quality-evaluation"
    }  # toward level 2
