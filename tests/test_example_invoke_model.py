"""examples/invoke_model_app: a typical public sample reaches Level 2 with no change to its handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from tests.conftest import CDK_CONTEXT, ROOT
from tests.support.loader import load_file

FLAGS = {k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")}


def _module() -> Any:
    return load_file("invoke_model_app", ROOT / "examples" / "invoke_model_app" / "app.py", register=False)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample with Levels 1-2 (nag on), and the bare sample alone, each synthesized once."""
    from aws_cdk import App, Aspects, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.hygiene import NoRedundantDependsOn

    module = _module()
    outdir = tmp_path_factory.mktemp("invoke-sample")
    app = App(outdir=str(outdir), context=FLAGS)
    stacks = module.build(app)
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on an unacknowledged cdk-nag finding
    bare_dir = tmp_path_factory.mktemp("invoke-sample-bare")
    bare_app = App(outdir=str(bare_dir), context=FLAGS)
    bare = module.InvokeModelStack(bare_app, "InvokeSample", observe=False)
    bare_app.synth()
    templates = {n: json.loads((outdir / f"{s.artifact_id}.template.json").read_text()) for n, s in stacks.items()}
    return {
        "outdir": outdir,
        "stacks": stacks,
        "templates": templates,
        "bare": json.loads((bare_dir / f"{bare.artifact_id}.template.json").read_text()),
    }


def _function(template: dict[str, Any]) -> dict[str, Any]:
    (fn,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    return fn["Properties"]


@pytest.mark.slow  # cfn-lint over each template, 2-8 s: CI (`make test`) runs it, `make test-fast` does not
def test_cfn_lint_reports_nothing(synthesized: dict[str, Any]) -> None:
    for name, stack in synthesized["stacks"].items():
        path = Path(synthesized["outdir"]) / f"{stack.artifact_id}.template.json"
        assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == [], name


def test_the_handler_is_unchanged_only_the_layer_and_its_settings_are_added(synthesized: dict[str, Any]) -> None:
    observed, bare = _function(synthesized["templates"]["app"]), _function(synthesized["bare"])
    assert {k: v for k, v in observed.items() if k not in ("Layers", "Environment")} == {
        k: v for k, v in bare.items() if k not in ("Layers", "Environment")
    }
    added = set(observed["Environment"]["Variables"]) - set(bare["Environment"]["Variables"])
    assert added and all(k.startswith("LLMOBS_") or k == "AWS_LAMBDA_EXEC_WRAPPER" for k in added), added
    assert observed["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/llmobs-instrument"
    assert len(observed["Layers"]) == 1 and "Layers" not in bare


def test_level_1_and_2_read_the_app_metrics_the_runtime_emits(synthesized: dict[str, Any]) -> None:
    alarms = {
        r["Properties"].get("AlarmName", ""): r["Properties"]
        for t in (synthesized["templates"]["level1"], synthesized["templates"]["level2"])
        for r in t["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert any(name.endswith("SuccessRate") for name in alarms), sorted(alarms)
    assert any(name.endswith("CostAnomaly") for name in alarms), sorted(alarms)
    level2 = synthesized["templates"]["level2"]["Resources"]
    assert not [r for r in level2.values() if r["Type"] == "AWS::Lambda::Function" and "Canary" in json.dumps(r)]


def test_one_warning_per_stack_lists_what_the_sample_cannot_feed(synthesized: dict[str, Any]) -> None:
    report = json.loads((Path(synthesized["outdir"]) / "validation-report.json").read_text())
    text = json.dumps(report)
    assert "llm-observability:left-out" in text and "request_contract" in text
