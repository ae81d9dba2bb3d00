"""The business-outcomes group (incident outcomes, outcome targets, online evaluation, drift statistics): judged on
small hand-written templates and on an assembly of the IncidentOutcomes construct at the Level 2 and 3 targets,
reported beside the levels and never counted, rendered as text, JSON, Markdown and HTML with template strings
escaped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from llm_observability.assess import CAPABILITIES, assess, estimate, load
from llm_observability.assess.capabilities import OUTCOME_CAPABILITIES
from llm_observability.assess.loader import Source, StackTemplate
from llm_observability.assess.model import GROUP_TITLES
from llm_observability.assess.render_html import render_html
from llm_observability.assess.render_markdown import md, render_markdown
from llm_observability.assess.report import JSON_SCHEMA
from llm_observability.assess.scorecard import level_reached
from tests.assess.conftest import TEMPLATES, schema_errors
from tests.assess.test_report_html import _HOSTILE, Page, _check_page
from tests.assess.test_report_markdown import _check_markdown
from tests.conftest import CDK_CONTEXT

Write = Callable[..., Path]
IDS = ["incident-outcomes", "outcome-targets", "online-evaluation", "drift-statistics"]


def _fn(**env: Any) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "handler.lambda_handler", "Runtime": "python3.14",
            "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": "x"}, "Environment": {"Variables": env}}}  # fmt: skip


def _rule(target: str, detail_type: str = "CloudWatch Alarm State Change", as_text: bool = False) -> dict[str, Any]:
    pattern: Any = {"source": ["aws.cloudwatch"], "detail-type": [detail_type],
                    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:b"]}  # fmt: skip
    return {"Type": "AWS::Events::Rule", "Properties": {
        "EventPattern": json.dumps(pattern) if as_text else pattern, "State": "ENABLED",
        "Targets": [{"Id": "Target0", "Arn": {"Fn::GetAtt": [target, "Arn"]}}]}}  # fmt: skip


def _alarm(
    metric: str, threshold: Any = 1800, dims: dict[str, str] | None = None, labelled: bool = True
) -> dict[str, Any]:
    dimensions = [
        {"Name": k, "Value": v}
        for k, v in (dims if dims is not None else {"service": "rag", "Severity": "high"}).items()
    ]
    props: dict[str, Any] = {
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
        "Threshold": threshold,
    }
    if labelled:  # as aws-cdk-lib renders a labelled metric
        props["Metrics"] = [{"Id": "m1", "Label": metric, "ReturnData": True, "MetricStat": {"Period": 3600, "Stat": "Maximum",
                             "Metric": {"Namespace": "LLMObservability", "MetricName": metric, "Dimensions": dimensions}}}]  # fmt: skip
    else:
        props.update(
            Namespace="LLMObservability", MetricName=metric, Dimensions=dimensions, Period=3600, Statistic="Maximum"
        )
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def _anomaly(metric: str) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "ComparisonOperator": "LessThanLowerThreshold", "EvaluationPeriods": 3, "ThresholdMetricId": "ad1",
        "Metrics": [{"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"},
                    {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "LLMObservability", "MetricName": metric,
                                                           "Dimensions": [{"Name": "service", "Value": "rag"}]},
                                                "Period": 900, "Stat": "Average"}}]}}  # fmt: skip


def _card(write_template: Write, resources: dict[str, Any]) -> Any:
    return assess(load(write_template({"Resources": resources})))


def _rows(card: Any) -> dict[str, Any]:
    return {r.capability.id: r for r in card.outcomes}


# --- Declaration -------------------------------------------------------------------------------------------------------
def test_the_group_is_declared_beside_the_levels() -> None:
    assert [c.id for c in OUTCOME_CAPABILITIES] == IDS
    assert all(c.group == "outcomes" and c.level == 2 for c in OUTCOME_CAPABILITIES)
    assert not {c.id for c in CAPABILITIES} & set(IDS) and GROUP_TITLES["outcomes"] == "Business outcomes"
    for capability in OUTCOME_CAPABILITIES:
        assert capability.rule.__module__ == "llm_observability.assess.capabilities.outcomes"
        assert capability.provided_by and capability.next_step and capability.evidence and capability.constructs


# --- Each row -------------------------------------------------------------------------------------------------------------
def test_incident_outcomes_needs_a_rule_on_alarm_state_changes(write_template: Write) -> None:
    row = _rows(_card(write_template, {"Outcomes": _fn(OUTCOMES="1"), "Changes": _rule("Outcomes")}))[
        "incident-outcomes"
    ]
    assert row.status.value == "present" and "send the state changes of 2 alarm(s) to Outcomes" in row.reason
    assert [r.logical_id for r in row.evidence] == ["Outcomes", "Changes"]
    as_text = _rows(_card(write_template, {"Outcomes": _fn(OUTCOMES="1"), "Changes": _rule("Outcomes", as_text=True)}))
    assert as_text["incident-outcomes"].status.value == "present"
    alone = _rows(_card(write_template, {"Outcomes": _fn(OUTCOMES="1"), "Other": _rule("Outcomes", "Scheduled Event")}))
    assert (
        alone["incident-outcomes"].status.value == "partial"
        and "no rule sends them" in alone["incident-outcomes"].reason
    )
    foreign = _rows(_card(write_template, {"Fn": _fn(), "Changes": _rule("Fn")}))["incident-outcomes"]
    assert foreign.status.value == "missing"


def test_outcome_targets_list_the_targets_found(write_template: Write) -> None:
    rows = _rows(_card(write_template, {
        "High": _alarm("TimeToResolve", 1800), "Detect": _alarm("TimeToDetect", 600, {"service": "r", "Severity": "low"},
                                                                  labelled=False),
        "NoSeverity": _alarm("TimeToResolve", 60, {"service": "r"}), "Unresolved": _alarm("TimeToResolve", {"Ref": "P"}),
    }))  # fmt: skip
    row = rows["outcome-targets"]
    assert row.status.value == "present"
    assert row.reason == ("Targets high: resolve ≤ 30 min; low: detect ≤ 10 min; high: resolve target set at deploy time "
                          "(alarm(s) High, Detect, Unresolved); whether they are met is known only at run time.")  # fmt: skip
    none = _rows(_card(write_template, {"Outcomes": _fn(OUTCOMES="1"), "Changes": _rule("Outcomes")}))[
        "outcome-targets"
    ]
    assert none.status.value == "missing" and "although incidents are measured" in none.reason


def test_online_evaluation_wants_the_judge_and_its_alarms(write_template: Write) -> None:
    judge = _fn(JUDGE_MODEL_ID="amazon.nova-lite-v1:0", SAMPLE_PERCENT="10")
    both = _rows(_card(write_template, {"Judge": judge, "Relevance": _anomaly("JudgeRelevance")}))["online-evaluation"]
    assert both.status.value == "present"
    assert both.reason == "Judge judges 10% of answers with amazon.nova-lite-v1:0; 1 score alarm(s) (Relevance)."
    only = _rows(_card(write_template, {"Judge": judge}))["online-evaluation"]
    assert only.status.value == "partial" and "but no alarm on the judge scores" in only.reason
    orphan = _rows(_card(write_template, {"Harm": _alarm("JudgeHarmful", 5, {"service": "r"})}))["online-evaluation"]
    assert orphan.status.value == "partial" and "no judge function publishes" in orphan.reason


def test_drift_statistics_wants_the_output_drift_alarm(write_template: Write) -> None:
    drift = _fn(DRIFT_BASELINE_DAYS="7", DRIFT_STATISTIC="psi")
    rows = _rows(
        _card(write_template, {"Drift": drift, "DriftAlarm": _alarm("OutputDriftMax", 0.25, {"service": "r"})})
    )
    assert rows["drift-statistics"].status.value == "present"
    assert (
        rows["drift-statistics"].reason == "Alarm(s) DriftAlarm on OutputDriftMax, from Drift (psi, baseline 7 days)."
    )
    only = _rows(_card(write_template, {"Drift": drift}))["drift-statistics"]
    assert only.status.value == "partial" and "but no alarm on OutputDriftMax" in only.reason


# --- Beside the levels ------------------------------------------------------------------------------------------------------
def test_a_foreign_template_gets_missing_rows_with_next_steps_and_its_level_is_unchanged() -> None:
    card = assess(load(TEMPLATES / "foreign_observed.json"))
    assert [(r.capability.id, r.status.value) for r in card.outcomes] == [(i, "missing") for i in IDS]
    assert card.level == level_reached(card.results)
    report = card.to_json()
    assert schema_errors(report, JSON_SCHEMA) == [] and "outcomes" in JSON_SCHEMA["properties"]
    assert [(r["id"], r["group"]) for r in report["outcomes"]] == [(i, "outcomes") for i in IDS]
    assert all(r["next_step"] for r in report["outcomes"])
    assert not {s["id"] for s in report["next_steps"]} & set(IDS)  # never a step towards a level
    text = card.render_text()
    assert "Business outcomes (0/4 present; not counted in the level)" in text
    assert "next: Add IncidentOutcomes on the workload" in text


def test_the_group_never_changes_the_level(write_template: Write) -> None:
    everything = {"Outcomes": _fn(OUTCOMES="1"), "Changes": _rule("Outcomes"), "High": _alarm("TimeToResolve"),
                  "Judge": _fn(JUDGE_MODEL_ID="m"), "Relevance": _anomaly("JudgeRelevance"),
                  "Drift": _alarm("OutputDriftMax", 0.25, {"service": "r"})}  # fmt: skip
    card = _card(write_template, everything)
    assert [r.status.value for r in card.outcomes] == ["present"] * 4
    assert card.level == 0 == level_reached(card.results)


def test_reports_without_the_group_still_render() -> None:
    """A JSON report written before the group existed (no ``outcomes`` key) renders as before."""
    report = assess(load(TEMPLATES / "foreign_observed.json")).to_json()
    del report["outcomes"]
    assert "Business outcomes" not in render_markdown(report) and "Business outcomes" not in render_html(report)


# --- Rendering and escaping --------------------------------------------------------------------------------------------------
def _hostile(name: str) -> Source:
    template = json.loads((TEMPLATES / "foreign_observed.json").read_text())
    template["Resources"].update({f"{name}F": _fn(OUTCOMES="1", JUDGE_MODEL_ID=f"{name}M", SAMPLE_PERCENT=name),
                                  f"{name}R": _rule(f"{name}F"), f"{name}A": _alarm("TimeToResolve", 300,
                                  {"service": "s", "Severity": name})})  # fmt: skip
    return Source(path=Path(f"{name}.json"), kind="template", stacks=[StackTemplate(name, Path("t.json"), template)])


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_HOSTILE)
def test_hostile_strings_in_the_group_stay_text(name: str) -> None:
    source = _hostile(name)
    report, cost = assess(source).to_json(), estimate(source).to_json()
    page = _check_page(render_html(report, cost, min_level=1), report, cost)
    assert len(page.all("table")) == 3 and not page.all("script")
    text = page.body_text
    assert f"{name}F" in text and f"{name}A" in text  # shown as text, exactly
    markdown = render_markdown(report, cost, min_level=1)
    _check_markdown(markdown, len(report["capabilities"]))
    outcome_rows = [line for line in markdown.splitlines() if line.startswith("| ") and "Capability" not in line]
    assert any(md(f"{name}F") in line for line in outcome_rows)


def test_the_group_is_a_section_of_its_own_in_html_and_markdown() -> None:
    report = assess(load(TEMPLATES / "foreign_observed.json")).to_json()
    page = Page(render_html(report))
    text = " ".join(page.body_text.split())
    assert "Business outcomes (0/4 present; not counted in the level)" in text
    assert text.index("Capabilities") < text.index("Business outcomes") and list(page.cells) == [
        c["id"] for c in report["capabilities"]
    ]
    assert "Next: Add OutputDrift" in text
    markdown = render_markdown(report)
    assert "<details><summary>Business outcomes (0/4 present; not counted in the level)</summary>" in markdown
    assert "| Capability | Status | Reason | Next step |" in markdown


# --- The construct's assembly: what Level 2 and 3 will show --------------------------------------------------------------------
@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IncidentOutcomes with the Level 2 and the Level 3 targets, each over a workload's Level 1 alarms."""
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns

    from llm_observability import LlmAlarms, Workload
    from llm_observability.constructs.outcomes import LEVEL_TARGETS, IncidentOutcomes

    outdir = tmp_path_factory.mktemp("outcomes-assembly")
    app = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    for level in (2, 3):
        stack = Stack(app, f"Targets{level}", env=Environment(account="123456789012", region="us-east-1"))
        fn = lambda_.Function(stack, "App", runtime=lambda_.Runtime.PYTHON_3_14, handler="app.handler",
                              code=lambda_.Code.from_inline("def handler(e, c):\n    return {}\n"))  # fmt: skip
        workload = Workload.from_function(fn, name="rag", model_ids=("amazon.nova-lite-v1:0",)).with_alert_topic(
            sns.Topic(stack, "Topic"))  # fmt: skip
        workload = workload.with_alarms(LlmAlarms(stack, "Alarms", workload=workload).roled_alarms)
        IncidentOutcomes(stack, "Outcomes", workload=workload, targets=LEVEL_TARGETS[level], level=level)
    app.synth()
    return outdir


@pytest.mark.parametrize(("stack", "minutes"), [("Targets2", 30), ("Targets3", 5)])
def test_the_constructs_targets_are_recognised(assembly: Path, stack: str, minutes: int) -> None:
    card = assess(load(assembly / f"{stack}.template.json"))
    rows = _rows(card)
    assert rows["incident-outcomes"].status.value == "present"
    assert rows["outcome-targets"].status.value == "present"
    assert rows["outcome-targets"].reason.startswith(f"Targets high: resolve ≤ {minutes} min (alarm(s) ")
    assert (rows["online-evaluation"].status.value, rows["drift-statistics"].status.value) == ("missing", "missing")
