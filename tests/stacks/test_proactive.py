"""Level 2 stack: snapshot, security gate and the proactive capabilities."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.constructs.queries import SAVED_QUERIES
from llm_observability.runtime import telemetry as t
from tests.conftest import SynthResult, scrub


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_snapshot_level2(level2: SynthResult, snapshot_json) -> None:
    assert scrub(level2.template(2)) == snapshot_json


@pytest.mark.slow  # cfn-lint over two templates, about 5 s: CI (`make test`) runs it, `make test-fast` does not
def test_level2_app_has_both_stacks_and_passes_the_gates(level2: SynthResult) -> None:
    assert sorted(level2.templates) == ["rag-demo-l1-foundation", "rag-demo-l2-proactive"]
    assert json.loads((level2.outdir / "validation-report.json").read_text())["pluginReports"] == []
    for name, stack in level2.stacks.items():
        matches = lint_file(level2.outdir / f"{stack.artifact_id}.template.json", ManualArgs(regions=["us-east-1"]))
        assert [str(m) for m in matches] == [], name


def _anomaly_alarms(result: SynthResult) -> dict[str, dict]:
    return {
        k: v["Properties"]
        for k, v in result.resources("AWS::CloudWatch::Alarm", level=2).items()
        if "ThresholdMetricId" in v["Properties"] and k.startswith("Anomalies")
    }


def test_anomaly_alarms_watch_latency_tokens_cost_errors_and_volume(level2: SynthResult) -> None:
    alarms = _anomaly_alarms(level2)
    assert len(alarms) == 6
    watched = set()
    for props in alarms.values():
        band = next(q for q in props["Metrics"] if q["Id"] == props["ThresholdMetricId"])
        assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(") and band["Expression"].endswith(", 2)")
        stats = [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]
        watched |= {s["Metric"]["MetricName"] for s in stats}
        assert props["AlarmActions"] and props["OKActions"]
        assert props["TreatMissingData"] == "notBreaching"
    assert {"InvocationLatency", "InputTokenCount", "OutputTokenCount", "Invocations", t.METRIC_INPUT_TOKENS,
            t.METRIC_OUTPUT_TOKENS, t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE} <= watched  # fmt: skip
    volume = next(p for p in alarms.values() if '"Invocations"' in json.dumps(p))
    assert volume["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    # The cost band is learned on metric math: the application's tokens times the model's price (nova-lite).
    (cost,) = [p for k, p in alarms.items() if k.startswith("AnomaliesCostAnomaly")]
    expressions = {q["Id"]: q["Expression"] for q in cost["Metrics"] if "Expression" in q}
    assert expressions[cost["ThresholdMetricId"]].startswith("ANOMALY_DETECTION_BAND(")
    assert "(FILL(in0, 0) * 0.00006 + FILL(out0, 0) * 0.00024) / 1000" in expressions.values()
    (error_rate,) = [p for k, p in alarms.items() if k.startswith("AnomaliesErrorRateAnomaly")]
    assert len([q for q in error_rate["Metrics"] if "MetricStat" in q]) == 2  # RequestSuccess, RequestFailure


def test_anomaly_alarm_period_is_the_metrics_own(level2: SynthResult) -> None:
    """aws-cdk issue 35579: the alarm must use the metric's period, not a 5-minute default."""
    periods = {}
    for props in _anomaly_alarms(level2).values():
        for query in props["Metrics"]:
            if "MetricStat" in query:
                periods[query["MetricStat"]["Metric"]["MetricName"]] = query["MetricStat"]["Period"]
    assert periods[t.METRIC_INPUT_TOKENS] == periods[t.METRIC_OUTPUT_TOKENS] == 3600  # the hourly cost signal
    assert periods["InvocationLatency"] == 300


def test_only_the_health_alarm_opens_ops_items_for_the_high_severity_alarms_of_both_levels(
    level2: SynthResult,
) -> None:
    def high_alarms(level: int) -> set[str]:
        return {
            k.rstrip("0123456789ABCDEF")
            for k, v in level2.resources("AWS::CloudWatch::Alarm", level=level).items()
            if v["Properties"].get("AlarmDescription", "").startswith("[high]")
        }

    assert high_alarms(1) == {
        "AlarmsBedrockLatency", "AlarmsBedrockServerErrors", "AlarmsBedrockThrottles", "AlarmsSuccessRate",
        "AlarmsLambdaErrors", "AlarmsApi5xx",
    }  # fmt: skip
    assert high_alarms(2) == {"AnomaliesCostAnomaly", "AnomaliesErrorRateAnomaly", "QualityCanaryQualityDrop"}
    # health_alarm (default on): the members stop paging, the one health composite opens the OpsItem.
    for level in (1, 2):
        for k, v in level2.resources("AWS::CloudWatch::Alarm", level=level).items():
            assert ":opsitem:" not in json.dumps(v["Properties"].get("AlarmActions", [])), k
    (health,) = level2.resources("AWS::CloudWatch::CompositeAlarm", level=2).values()
    actions = json.dumps(health["Properties"]["AlarmActions"])
    assert ":opsitem:2#CATEGORY=Availability" in actions
    rule = json.dumps(health["Properties"]["AlarmRule"])
    assert all(name in rule for name in high_alarms(1) | high_alarms(2))  # as GetAtt here, stack outputs of Level 1


def test_the_level2_workload_carries_both_levels_alarms_by_role(level2: SynthResult) -> None:
    from llm_observability.constructs.alarm_factory import AlarmRole, Severity

    workload = level2.stacks["rag-demo-l2-proactive"].workload

    def paths(alarms: tuple[Any, ...]) -> list[str]:
        return [a.node.path.split("/", 1)[1] for a in alarms]

    # What the Level 3 runbooks take by default: failover, prompt rollback, API throttle.
    assert paths(workload.alarms_for(AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING)) == [
        "Alarms/BedrockServerErrors", "Alarms/BedrockThrottles",
    ]  # fmt: skip
    assert paths(workload.alarms_for(AlarmRole.QUALITY, severity=Severity.HIGH)) == ["QualityCanary/QualityDrop"]
    assert paths(workload.alarms_for(AlarmRole.COST)) == ["Anomalies/InputTokensAnomaly", "Anomalies/CostAnomaly"]
    # + CanaryNotStarted (low); then 11 of the evaluation, all low: judge 5, feedback 2, drift 2, outcomes 2
    assert len(workload.alarms) == 9 + 15 + 11 and len(workload.high_severity_alarms) == 6 + 3
    assert paths(workload.alarms_for(AlarmRole.OUTCOME)) == ["Outcomes/ResolveTargetMissed-high"]  # Level 2: 30 min
    assert paths(workload.alarms_for(AlarmRole.SECURITY)) == ["LogIntelligence/PromptInjectionMarkersAlarm"]


def test_log_anomaly_detector_and_saved_queries(level2: SynthResult) -> None:
    (detector,) = level2.resources("AWS::Logs::LogAnomalyDetector", level=2).values()
    (arn,) = detector["Properties"]["LogGroupArnList"]
    assert ":log-group:" in json.dumps(arn) and ":*" not in json.dumps(arn)
    assert detector["Properties"]["EvaluationFrequency"] == "FIFTEEN_MIN"
    queries = level2.resources("AWS::Logs::QueryDefinition", level=2)
    assert {q["Properties"]["Name"] for q in queries.values()} == {f"rag-demo/{n}" for n in SAVED_QUERIES}
    assert "rag-demo/human-feedback" in {q["Properties"]["Name"] for q in queries.values()}  # #15 item 8
    assert all(q["Properties"]["LogGroupNames"] for q in queries.values())


def test_log_pattern_metric_filters_have_alarms(level2: SynthResult) -> None:
    filters = {f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]
               for f in level2.resources("AWS::Logs::MetricFilter", level=2).values()}  # fmt: skip
    assert set(filters) == {"PromptInjectionMarkers", "ModelRefusals"}
    injection = filters["PromptInjectionMarkers"]
    assert injection["FilterPattern"].startswith('{ ($.message = "ask") && (($.question = "*gnore previous instructions*")')
    assert injection["MetricTransformations"][0]["Dimensions"] == [{"Key": "service", "Value": "$.service"}]
    alarms = json.dumps(level2.resources("AWS::CloudWatch::Alarm", level=2))
    assert '"MetricName": "PromptInjectionMarkers"' in alarms and '"MetricName": "ModelRefusals"' in alarms


def test_level2_dashboard_draws_the_anomaly_bands(level2: SynthResult) -> None:
    (dashboard,) = level2.resources("AWS::CloudWatch::Dashboard", level=2).values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert body.count("ANOMALY_DETECTION_BAND") == 6 + 1  # six signals and the quality drift
    for needle in ("Anomaly bands", "Log patterns", "Errors by class", "Token usage by prompt version", "alarm"):
        assert needle in body, needle


def test_compliance_baseline_and_cost_guard_in_the_bundled_level2(level2: SynthResult) -> None:
    types = {r["Type"] for r in level2.template(2)["Resources"].values()}
    assert {
        "AWS::SecurityHub::Hub", "AWS::SecurityHub::Standard", "AWS::Config::ConfigurationRecorder",
        "AWS::Config::DeliveryChannel", "AWS::Config::ConfigRule", "AWS::CloudTrail::Trail",
        "AWS::Budgets::Budget", "AWS::CE::AnomalyMonitor", "AWS::CE::AnomalySubscription",
    } <= types  # fmt: skip
    (budget,) = level2.resources("AWS::Budgets::Budget", level=2).values()
    props = budget["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": 100, "Unit": "USD"}
    kinds = sorted(n["Notification"]["NotificationType"] for n in props["NotificationsWithSubscribers"])
    assert kinds == ["ACTUAL", "ACTUAL", "FORECASTED"]
    retention_rule = next(
        r["Properties"] for r in level2.resources("AWS::Config::ConfigRule", level=2).values()
        if r["Properties"]["Source"]["SourceIdentifier"] == "CW_LOGGROUP_RETENTION_PERIOD_CHECK"
    )  # fmt: skip
    assert json.dumps(retention_rule["InputParameters"]).count('"30"') == 1  # the app's own retention passes


@pytest.mark.slow  # one more Level 2 synthesis, about 10 s
def test_without_prompt_text_the_judge_refusals_and_diversity_are_left_out_and_said(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from llm_observability.left_out import report_of
    from tests.conftest import synth_bundled_app

    result = synth_bundled_app(tmp_path_factory.mktemp("level2-no-text"), level=2, prompt_logging="none")
    stack = result.stacks["rag-demo-l2-proactive"]
    functions = {k.rstrip("0123456789ABCDEF"): r for k, r in result.template(2)["Resources"].items()
                 if r["Type"] == "AWS::Lambda::Function"}  # fmt: skip
    assert "OnlineJudgeFunction" not in functions  # no text to judge
    drift = functions["OutputDriftFunction"]["Properties"]["Environment"]["Variables"]
    assert json.loads(drift["SIGNALS"]) == ["AnswerLength", "Grounding"] and drift["DIVERSITY"] == "false"
    assert "REVIEW_BUCKET" not in functions["FeedbackLoopFunction"]["Properties"]["Environment"]["Variables"]
    left = {(item.feature, item.field) for item in report_of(stack).items}
    assert ("The online judge (LLM-as-judge scores of a sample of real answers)", "prompt_logging") in left
    assert {("output drift of refusals", "prompt_logging"), ("prompt diversity", "prompt_logging")} <= left
