"""The examples/byo_app composition: someone else's app observed at Levels 1-3 through a Workload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file

from tests.conftest import ROOT


def test_example_synthesizes_nag_and_lint_clean(example: dict[str, Any]) -> None:
    assert json.loads((example["outdir"] / "validation-report.json").read_text())["pluginReports"] == []
    for name, stack in example["stacks"].items():
        path: Path = example["outdir"] / f"{stack.artifact_id}.template.json"
        assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == [], name


def test_example_levels_observe_the_apps_own_function_and_api(example: dict[str, Any]) -> None:
    level1 = json.dumps(example["templates"]["level1"])
    assert "anthropic.claude-3-haiku-20240307-v1:0" in level1 and '"Namespace": "SupportBot"' in level1
    level2 = example["templates"]["level2"]["Resources"]
    assert any(r["Type"] == "AWS::Lambda::Function" and "quality canary" in json.dumps(r) for r in level2.values())
    types = {r["Type"] for r in example["templates"]["level3"]["Resources"].values()}
    assert {"AWS::CodeGuruProfiler::ProfilingGroup", "AWS::DevOpsGuru::ResourceCollection", "AWS::APS::Workspace"} <= types
    bot = example["templates"]["app"]["Resources"]
    (fn,) = [r for r in bot.values() if r["Type"] == "AWS::Lambda::Function"]
    assert "AWS_CODEGURU_PROFILER_GROUP_NAME" in fn["Properties"]["Environment"]["Variables"]


def test_example_function_emits_the_metric_names_the_alarms_read() -> None:
    from llm_observability.functions.rag_api import telemetry as t

    code = (ROOT / "examples" / "byo_app" / "function" / "app.py").read_text()
    for name in (t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE, t.METRIC_INPUT_TOKENS, t.METRIC_OUTPUT_TOKENS):
        assert f'"{name}"' in code, name


def test_scorecard_of_the_example(example: dict[str, Any]) -> None:
    """Level 1 fully; Level 2 and 3 need the app's own code to apply a guardrail, read a managed prompt
    and an active-model parameter (what RagReferenceApp does), which the scorecard lists as next steps.
    The example's function writes its own log schema and has no request contract or profiler start, so
    log intelligence, the quality canary and CodeGuru Profiler cannot receive data: partial, not present."""
    from llm_observability.assess.loader import load
    from llm_observability.assess.scorecard import Status, assess

    card = assess(load(example["outdir"]))
    assert card.level == 1
    gaps = {r.capability.id for r in card.results if r.status is not Status.PRESENT}
    assert gaps == {
        "guardrail", "prompt-management", "self-healing", "log-intelligence", "quality-evaluation", "codeguru-profiler"
    }, gaps
    assert {step.capability.id for step in card.next_steps()} == {
        "guardrail", "prompt-management", "log-intelligence", "quality-evaluation"
    }  # toward level 2
