"""The examples/byo_app composition: someone else's app observed at Levels 1-3 through a Workload."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.hygiene import NoRedundantDependsOn

    spec = importlib.util.spec_from_file_location("byo_app", ROOT / "examples" / "byo_app" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outdir = tmp_path_factory.mktemp("example")
    app = App(outdir=str(outdir))
    stacks = module.build(app)
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    templates = {name: json.loads((outdir / f"{s.artifact_id}.template.json").read_text()) for name, s in stacks.items()}
    return {"outdir": outdir, "stacks": stacks, "templates": templates}


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
    assert "AWS::CodeGuruProfiler::ProfilingGroup" in types and "AWS::DevOpsGuru::ResourceCollection" not in types
    bot = example["templates"]["app"]["Resources"]
    (fn,) = [r for r in bot.values() if r["Type"] == "AWS::Lambda::Function"]
    assert "AWS_CODEGURU_PROFILER_GROUP_NAME" in fn["Properties"]["Environment"]["Variables"]


def test_example_function_emits_the_metric_names_the_alarms_read() -> None:
    from llm_observability.functions.rag_api import telemetry as t

    code = (ROOT / "examples" / "byo_app" / "function" / "app.py").read_text()
    for name in (t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE, t.METRIC_INPUT_TOKENS, t.METRIC_ESTIMATED_COST):
        assert f'"{name}"' in code, name
