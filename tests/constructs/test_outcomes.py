"""IncidentOutcomes: EventBridge rules over the workload's alarms, the outcomes function, target alarms per level,
and the ``outcome_targets`` setting's shape.

One app holds every case (synthesized once per module, cdk-nag's AwsSolutions pack included); a snapshot of the
construct on a minimal workload with the Level 2 targets sits beside the assertions that matter: each rule pattern
fits EventBridge's 2,048 characters whatever the ARNs resolve to, every alarm is watched exactly once, the target
alarms are low-severity OUTCOME alarms on metrics the function emits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.constructs.outcomes import (
    ARN_PREFIX_MAX,
    LEVEL_TARGETS,
    PATTERN_LIMIT,
    OutcomeTarget,
    parse_targets,
    targets_text,
)
from llm_observability.errors import ConfigError
from llm_observability.functions.incident_outcomes import outcomes_telemetry as ot
from tests.conftest import CDK_CONTEXT, scrub

MODEL_ID = "amazon.nova-lite-v1:0"
ACCOUNT = "123456789012"
BASIC_ROLE = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LONG_NAMES = [f"{i:03d}-" + "n" * 251 for i in range(23)]  # 255 characters each


def _workload(stack: Any, name: str) -> Any:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns

    from llm_observability import Workload
    from llm_observability.nag import acknowledge

    log_group = logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
    fn = lambda_.Function(
        stack, "AppFunction", runtime=lambda_.Runtime.PYTHON_3_14, handler="app.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"), log_group=log_group,
    )  # fmt: skip
    acknowledge(fn, f"AwsSolutions-IAM4[Policy::{BASIC_ROLE}]", "The test app's own function, not the construct's.")
    return Workload.from_function(fn, name=name, model_ids=(MODEL_ID,), log_group=log_group).with_alert_topic(
        sns.Topic(stack, "AppTopic", enforce_ssl=True)
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Stacks: Level 2 (the Level 1 alarms, Level 2 targets), Level 3 targets, 23 imported alarms with 255-character
    names plus a composite, and a workload without alarms."""
    from aws_cdk import App, Environment, Stack, Validations
    from aws_cdk import aws_cloudwatch as cw
    from cdk_nag import AwsSolutionsChecks

    from llm_observability import LlmAlarms
    from llm_observability.constructs.alarm_factory import AlarmRole, RoledAlarm, Severity
    from llm_observability.constructs.outcomes import IncidentOutcomes

    outdir = tmp_path_factory.mktemp("outcomes")
    cdk = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    Validations.of(cdk).add_plugins(AwsSolutionsChecks(cdk))
    env = Environment(account=ACCOUNT, region="us-east-1")
    built: dict[str, Any] = {}
    for level in (2, 3):
        stack = Stack(cdk, f"Level{level}", env=env)
        workload = _workload(stack, "snap")
        workload = workload.with_alarms(LlmAlarms(stack, "Level1", workload=workload).roled_alarms)
        built[f"Level{level}"] = (stack, IncidentOutcomes(stack, "Subject", workload=workload,
                                                           targets=LEVEL_TARGETS[level], level=level))  # fmt: skip
    stack = Stack(cdk, "Long", env=env)
    workload = _workload(stack, "long")
    imported = [
        RoledAlarm(cw.Alarm.from_alarm_arn(stack, f"Imported{i}", f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{n}"),
                   AlarmRole.AVAILABILITY, Severity.LOW)
        for i, n in enumerate(LONG_NAMES)
    ]  # fmt: skip
    member = imported[0].alarm
    composite = cw.CompositeAlarm(stack, "Health", alarm_rule=cw.AlarmRule.from_alarm(member, cw.AlarmState.ALARM))
    workload = workload.with_alarms([*imported, RoledAlarm(composite, AlarmRole.AVAILABILITY, Severity.HIGH)])
    built["Long"] = (
        stack,
        IncidentOutcomes(stack, "Subject", workload=workload, targets={"low": OutcomeTarget(10, 60)}),
    )
    stack = Stack(cdk, "Empty", env=env)
    built["Empty"] = (stack, IncidentOutcomes(stack, "Subject", workload=_workload(stack, "empty")))
    cdk.synth()  # raises on an unacknowledged cdk-nag finding
    templates = {
        n: json.loads((Path(outdir) / f"{s.artifact_id}.template.json").read_text()) for n, (s, _) in built.items()
    }
    return {
        "templates": templates,
        "constructs": {n: c for n, (_, c) in built.items()},
        "stacks": {n: s for n, (s, _) in built.items()},
    }


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _subject(template: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {k: v for k, v in scrub(template)["Resources"].items() if k.startswith("Subject")}}


def test_snapshot(app: dict[str, Any], snapshot: Any) -> None:
    subject = _subject(app["templates"]["Level2"])
    assert subject["Resources"]
    assert subject == snapshot(extension_class=JSONSnapshotExtension)


def _resolved(template: dict[str, Any], arn: Any) -> str:
    """``arn`` as deployed at worst: the longest partition and region, the alarm's own name (255 characters when the
    template does not name it)."""
    if isinstance(arn, str):
        return arn
    (logical_id, attribute) = arn["Fn::GetAtt"]
    assert attribute == "Arn"
    name = template["Resources"][logical_id]["Properties"].get("AlarmName", "n" * 255)
    return "arn:aws-us-gov:cloudwatch:" + "r" * 20 + f":{ACCOUNT}:alarm:" + name


@pytest.mark.parametrize("name", ["Level2", "Level3", "Long"])
def test_every_rule_pattern_fits_eventbridge_and_every_alarm_is_watched_once(app: dict[str, Any], name: str) -> None:
    template, construct = app["templates"][name], app["constructs"][name]
    rules = _of_type(template, "AWS::Events::Rule")
    watched: list[str] = []
    for rule in rules.values():
        pattern = rule["Properties"]["EventPattern"]
        resources = [_resolved(template, arn) for arn in pattern["resources"]]
        assert len(json.dumps({**pattern, "resources": resources})) <= PATTERN_LIMIT
        assert pattern["detail"] == {"state": {"value": ["ALARM", "OK", "INSUFFICIENT_DATA"]}}
        assert pattern["source"] == ["aws.cloudwatch"] and pattern["detail-type"] == ["CloudWatch Alarm State Change"]
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 43200, "MaximumRetryAttempts": 10}
        assert "DeadLetterConfig" in target
        watched += [json.dumps(arn, sort_keys=True) for arn in pattern["resources"]]
    assert len(watched) == len(set(watched)) == len(construct.watched)
    own = {
        json.dumps({"Fn::GetAtt": [k, "Arn"]})
        for k in _of_type(template, "AWS::CloudWatch::Alarm")
        if k.startswith("Subject")
    }
    assert not own & set(watched)  # the outcome alarms themselves are not watched
    if name == "Long":  # 23 imported alarms of 255-character names; the composite left out
        assert len(construct.watched) == 23 and len(rules) == 4  # 6 literal 303-character ARNs per rule
        assert sorted(re.sub(r".*:alarm:", "", w.strip('"')) for w in watched) == sorted(LONG_NAMES)


def test_the_longest_prefix_is_assumed(app: dict[str, Any]) -> None:
    assert ARN_PREFIX_MAX == len("arn:aws-us-gov:cloudwatch:" + "r" * 20 + f":{ACCOUNT}:alarm:")


@pytest.mark.parametrize(("name", "expected"), [
    ("Level2", {"ResolveTargetMissed-high": ("TimeToResolve", "high", 1800)}),
    ("Level3", {"ResolveTargetMissed-high": ("TimeToResolve", "high", 300)}),
    ("Long", {"DetectTargetMissed-low": ("TimeToDetect", "low", 600), "ResolveTargetMissed-low": ("TimeToResolve", "low", 3600)}),
])  # fmt: skip
def test_target_alarms_per_level(app: dict[str, Any], name: str, expected: dict[str, tuple[str, str, int]]) -> None:
    from aws_cdk import Stack

    from llm_observability.constructs.alarm_factory import AlarmRole, Severity

    template, construct = app["templates"][name], app["constructs"][name]
    assert set(construct.alarms) == {*expected, "OutcomesNotStarted"}
    roles = {r.alarm: (r.role, r.severity) for r in construct.roled_alarms}
    for alarm_name, (metric, severity, seconds) in expected.items():
        alarm = construct.alarms[alarm_name]
        assert roles[alarm] == (AlarmRole.OUTCOME, Severity.LOW)
        logical_id = Stack.of(construct).get_logical_id(alarm.node.default_child)
        props = template["Resources"][logical_id]["Properties"]
        (query,) = props["Metrics"]  # one labelled metric
        read = query["MetricStat"]
        assert (read["Metric"]["MetricName"], read["Stat"], read["Period"], props["Threshold"]) == (
            metric,
            "Maximum",
            3600,
            seconds,
        )
        assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["TreatMissingData"]) == (
            1,
            1,
            "notBreaching",
        )
        assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["AlarmDescription"].startswith("[low] ")
        assert props["AlarmActions"] and props["OKActions"]
        # The metric the alarm reads is one the function emits, with exactly its dimensions.
        assert metric in ot.SEVERITY_METRICS and read["Metric"]["Namespace"] == construct.workload.metric_namespace
        assert {d["Name"]: d["Value"] for d in read["Metric"]["Dimensions"]} == {ot.DIM_SERVICE: construct.workload.name,
                                                                         ot.DIM_SEVERITY: severity}  # fmt: skip
    assert roles[construct.alarms["OutcomesNotStarted"]] == (AlarmRole.AVAILABILITY, Severity.LOW)
    assert all(r.severity is Severity.LOW for r in construct.roled_alarms)  # no HIGH: the health composite is unchanged


def test_the_function(app: dict[str, Any]) -> None:
    template = app["templates"]["Level2"]
    (fn,) = [f for k, f in _of_type(template, "AWS::Lambda::Function").items() if k.startswith("Subject")]
    assert fn["Properties"]["Environment"]["Variables"] == {
        "OUTCOMES": "1", "POWERTOOLS_SERVICE_NAME": "snap", "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability"}  # fmt: skip
    assert fn["Properties"]["Handler"] == "handler.lambda_handler" and "DeadLetterConfig" in fn["Properties"]
    permissions = [p for k, p in _of_type(template, "AWS::Lambda::Permission").items() if k.startswith("Subject")]
    assert {p["Properties"]["Principal"] for p in permissions} == {"events.amazonaws.com"}
    policies = [p for k, p in _of_type(template, "AWS::IAM::Policy").items() if k.startswith("Subject")]
    actions = {a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] for a in _list(s["Action"])}
    assert actions <= {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}, actions


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_widgets_and_text(app: dict[str, Any]) -> None:
    level2, long = app["constructs"]["Level2"], app["constructs"]["Long"]
    assert level2.targets_text() == "high: resolve ≤ 30 min"
    assert long.targets_text() == "low: detect ≤ 10 min, resolve ≤ 60 min"
    stack = app["stacks"]["Level2"]
    widgets = [stack.resolve(w.to_json()) for w in level2.widgets()]
    text = json.dumps(widgets)
    assert "Targets at Level 2:** high: resolve ≤ 30 min" in json.dumps(widgets, ensure_ascii=False)
    assert '"label": "high target 30 min"' in text and '"value": 30' in text
    for metric in ot.SEVERITY_METRICS:
        assert f'"{metric}"' in text
    assert app["constructs"]["Empty"].widgets() == []


def test_a_workload_without_alarms_is_left_out(app: dict[str, Any]) -> None:
    from llm_observability.left_out import left_out

    empty = app["constructs"]["Empty"]
    assert empty.function is None and empty.rules == [] and empty.roled_alarms == ()
    assert not [k for k in app["templates"]["Empty"]["Resources"] if k.startswith("Subject")]
    (item,) = [i for i in left_out(empty) if i.field == "roled_alarms"]
    assert item.feature.startswith("Incident outcomes") and "Workload.with_alarms" in item.how


# --- The setting's shape ---------------------------------------------------------------------------------------------
def test_level_targets() -> None:
    assert LEVEL_TARGETS == {
        1: {},
        2: {"high": OutcomeTarget(resolve_minutes=30)},
        3: {"high": OutcomeTarget(resolve_minutes=5)},
    }
    assert [targets_text(LEVEL_TARGETS[n]) for n in (1, 2, 3)] == [
        "none",
        "high: resolve ≤ 30 min",
        "high: resolve ≤ 5 min",
    ]


def test_parse_targets_accepts_the_documented_shape() -> None:
    assert parse_targets({}) == {}
    assert parse_targets({"high": {"resolve_minutes": 30}, "low": {"detect_minutes": 15, "resolve_minutes": 1440}}) == {
        "high": OutcomeTarget(resolve_minutes=30), "low": OutcomeTarget(detect_minutes=15, resolve_minutes=1440)}  # fmt: skip
    assert parse_targets({"low": {"detect_minutes": 1.5}}) == {"low": OutcomeTarget(detect_minutes=1.5)}


@pytest.mark.parametrize(
    "value",
    [[], "high", None, {"medium": {"resolve_minutes": 30}}, {"high": 30}, {"high": {}},
     {"high": {"resolve_minutes": 0}}, {"high": {"resolve_minutes": 1441}}, {"high": {"resolve_minutes": True}},
     {"high": {"resolve_minutes": "30"}}, {"high": {"resolve_minutes": float("nan")}}, {"high": {"resolve": 30}},
     {"high": {"resolve_minutes": None}}],
)  # fmt: skip
def test_parse_targets_rejects_a_bad_shape_in_one_sentence(value: Any) -> None:
    with pytest.raises(ConfigError) as error:
        parse_targets(value)
    message = str(error.value)
    assert message.startswith(
        f"Setting 'outcome_targets' is {value!r}: allowed is an object keyed by high or low"
    )
    assert message.count(". ") == 0 and message.endswith("to 1,440.")


@pytest.mark.parametrize(("kwargs", "match"), [({}, "has no minutes"), ({"detect_minutes": 0}, "'detect_minutes' is 0"),
                                               ({"resolve_minutes": 2000}, "'resolve_minutes' is 2000")])  # fmt: skip
def test_outcome_target_checks_its_minutes(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        OutcomeTarget(**kwargs)


def test_the_construct_rejects_unknown_severities() -> None:
    from llm_observability.constructs.outcomes import IncidentOutcomes

    with pytest.raises(ConfigError, match="'targets' has the key 'medium': allowed are high and low"):
        IncidentOutcomes._targets({"medium": OutcomeTarget(resolve_minutes=5)})
    with pytest.raises(ConfigError, match="allowed is an OutcomeTarget"):
        IncidentOutcomes._targets({"high": {"resolve_minutes": 5}})  # type: ignore[dict-item]
