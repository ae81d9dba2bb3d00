"""AlarmFactory, its action strategies and role-based alarm selection, on one stack synthesized once."""

from __future__ import annotations

from typing import Any

import pytest

from llm_observability.errors import ConfigError

MODEL = "amazon.nova-lite-v1:0"


@pytest.fixture(scope="module")
def made() -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template
    from constructs import Construct

    from llm_observability.constructs.alarm_factory import (
        AlarmFactory,
        AlarmRole,
        MultipleAlarmActionStrategy,
        OpsItemAlarmActionStrategy,
        Severity,
        ops_item_alarm_action,
        sns_alarm_action,
    )

    stack = Stack(App(), "Alarms")
    topic = sns.Topic(stack, "Topic")
    metric = cw.Metric(namespace="AWS/Bedrock", metric_name="InvocationServerErrors", statistic="Sum")
    above = cw.ComparisonOperator.GREATER_THAN_THRESHOLD

    notify = AlarmFactory(Construct(stack, "Notify"), action=sns_alarm_action(topic))
    notify.add_alarm("ServerErrors", metric=metric, threshold=3, comparison=above, severity=Severity.HIGH,
                     role=AlarmRole.MODEL_HEALTH, description=f"Bedrock server errors of {MODEL} above 3 per period.")
    notify.add_anomaly_alarm("Tokens", metric=metric, std_devs=2, severity=Severity.LOW, role=AlarmRole.COST,
                             comparison=cw.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
                             description="Input tokens above their expected band.")
    notify.add_alarm("Once", name="OnceName", metric=metric, threshold=1, comparison=above, evaluation_periods=1,
                     severity=Severity.LOW, role=AlarmRole.AVAILABILITY, description="One period.")

    incidents = AlarmFactory(
        Construct(stack, "Incidents"), name_prefix="team",
        action=MultipleAlarmActionStrategy(sns_alarm_action(topic, on_ok=False), OpsItemAlarmActionStrategy()),
    )
    incidents.add_alarm("Throttles", metric=metric, threshold=5, comparison=above, severity=Severity.HIGH,
                        role=AlarmRole.THROTTLING, description="Throttled.", evaluation_periods=5, datapoints_to_alarm=4)
    incidents.add_alarm("Refusals", metric=metric, threshold=10, comparison=above, severity=Severity.LOW,
                        role=AlarmRole.QUALITY, description="Refused.", treat_missing_data=cw.TreatMissingData.BREACHING)

    every = AlarmFactory(Construct(stack, "Every"), name_prefix="every",
                         action=ops_item_alarm_action(min_severity=Severity.LOW))
    every.add_alarm("Low", metric=metric, threshold=1, comparison=above, severity=Severity.LOW,
                    role=AlarmRole.SECURITY, description="Low, with an OpsItem.")  # fmt: skip
    template = Template.from_stack(stack)
    return {
        "stack": stack, "template": template, "topic_id": stack.get_logical_id(topic.node.default_child),
        "notify": notify, "incidents": incidents, "every": every, "metric": metric,
    }  # fmt: skip


def _ops_item(severity: int) -> Any:
    from aws_cdk.assertions import Match

    return Match.object_like({"Fn::Join": ["", Match.array_with([Match.string_like_regexp(f":opsitem:{severity}#")])]})


def test_alarms_are_named_from_the_prefix_and_described_with_their_severity(made: dict[str, Any]) -> None:
    from aws_cdk.assertions import Match

    template = made["template"]
    prefix = made["notify"].name_prefix
    assert prefix.startswith("Alarms-Notify-") and len(prefix) <= 48
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{prefix}-ServerErrors",
        "AlarmDescription": f"[high] Bedrock server errors of {MODEL} above 3 per period.",
        "Threshold": 3, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
    })  # fmt: skip
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{prefix}-Tokens", "AlarmDescription": "[low] Input tokens above their expected band.",
        "ComparisonOperator": "GreaterThanUpperThreshold", "ThresholdMetricId": Match.any_value(),
    })  # fmt: skip
    # An alarm of fewer periods than the factory's datapoints needs every period to breach.
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{prefix}-OnceName", "EvaluationPeriods": 1, "DatapointsToAlarm": Match.absent(),
    })  # fmt: skip
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "team-Throttles", "EvaluationPeriods": 5, "DatapointsToAlarm": 4,
    })  # fmt: skip
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "team-Refusals", "TreatMissingData": "breaching",
    })  # fmt: skip


def test_sns_strategy_notifies_on_alarm_and_ok(made: dict[str, Any]) -> None:
    topic = {"Ref": made["topic_id"]}
    prefix = made["notify"].name_prefix
    for name in ("ServerErrors", "Tokens", "OnceName"):
        made["template"].has_resource_properties(
            "AWS::CloudWatch::Alarm", {"AlarmName": f"{prefix}-{name}", "AlarmActions": [topic], "OKActions": [topic]}
        )


def test_ops_items_open_only_for_high_severity_after_the_notification(made: dict[str, Any]) -> None:
    from aws_cdk.assertions import Match

    topic = {"Ref": made["topic_id"]}
    made["template"].has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "team-Throttles", "AlarmActions": [topic, _ops_item(2)], "OKActions": Match.absent(),
    })  # fmt: skip
    made["template"].has_resource_properties(
        "AWS::CloudWatch::Alarm", {"AlarmName": "team-Refusals", "AlarmActions": [topic], "OKActions": Match.absent()}
    )
    # With min_severity LOW a low alarm opens a low-severity OpsItem too.
    made["template"].has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "every-Low", "AlarmActions": [_ops_item(4)], "OKActions": Match.absent(),
    })  # fmt: skip


def test_alarms_are_tagged_with_role_and_severity(made: dict[str, Any]) -> None:
    from aws_cdk.assertions import Match

    prefix = made["notify"].name_prefix
    for name, role, severity in (
        (f"{prefix}-ServerErrors", "model_health", "high"), (f"{prefix}-Tokens", "cost", "low"),
        ("team-Throttles", "throttling", "high"), ("every-Low", "security", "low"),
    ):  # fmt: skip
        made["template"].has_resource_properties("AWS::CloudWatch::Alarm", {
            "AlarmName": name,
            "Tags": Match.array_with([{"Key": "AlarmRole", "Value": role}, {"Key": "AlarmSeverity", "Value": severity}]),
        })  # fmt: skip


def test_the_factory_records_roled_alarms_and_selects_by_role_and_severity(made: dict[str, Any]) -> None:
    from llm_observability.constructs.alarm_factory import AlarmRole, RoledAlarm, Severity, select_alarms

    notify, incidents = made["notify"], made["incidents"]
    assert [(r.role, r.severity) for r in notify.alarms] == [
        (AlarmRole.MODEL_HEALTH, Severity.HIGH), (AlarmRole.COST, Severity.LOW), (AlarmRole.AVAILABILITY, Severity.LOW),
    ]  # fmt: skip
    assert all(isinstance(r, RoledAlarm) for r in notify.alarms)
    everything = [*notify.alarms, *incidents.alarms]
    by_id = {r.alarm.node.id: r.alarm for r in everything}
    failover = select_alarms(everything, AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING)
    assert failover == (by_id["ServerErrors"], by_id["Throttles"])
    assert select_alarms(everything, severity=Severity.HIGH) == failover
    assert select_alarms(everything, AlarmRole.QUALITY, severity=Severity.HIGH) == ()
    assert incidents.alarms_for(AlarmRole.QUALITY) == (by_id["Refusals"],)
    assert select_alarms(everything, "cost") == (by_id["Tokens"],)  # the enum's value selects too


def test_workload_carries_alarms_by_role(made: dict[str, Any]) -> None:
    from llm_observability import Workload
    from llm_observability.constructs.alarm_factory import AlarmRole, Severity

    notify, incidents = made["notify"], made["incidents"]
    workload = Workload(name="bot", model_ids=(MODEL,)).with_alarms(notify.alarms).with_alarms(incidents.alarms)
    alarms = [r.alarm for r in [*notify.alarms, *incidents.alarms]]
    assert workload.alarms == tuple(alarms)
    assert workload.high_severity_alarms == (alarms[0], alarms[3])
    assert workload.alarms_for(AlarmRole.THROTTLING, AlarmRole.COST) == (alarms[1], alarms[3])
    assert workload.alarms_for(AlarmRole.COST, severity=Severity.HIGH) == ()
    with pytest.raises(ConfigError, match=r"^Workload 'roled_alarms' holds .*: allowed are RoledAlarm values"):
        workload.with_alarms(alarms)


def test_bad_input_fails_with_one_sentence(made: dict[str, Any]) -> None:
    from aws_cdk import aws_cloudwatch as cw
    from constructs import Construct

    from llm_observability.constructs.alarm_factory import (
        AlarmFactory,
        AlarmRole,
        MultipleAlarmActionStrategy,
        OpsItemAlarmActionStrategy,
        Severity,
        select_alarms,
    )

    stack, metric = made["stack"], made["metric"]
    scope = Construct(stack, "Bad")
    factory = AlarmFactory(scope, action=OpsItemAlarmActionStrategy())
    above = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
    with pytest.raises(ConfigError, match=r"^AlarmFactory 'severity' is 'critical': allowed are high, low\.$"):
        factory.add_alarm("A", metric=metric, threshold=1, comparison=above, severity="critical",  # type: ignore[arg-type]
                          role=AlarmRole.COST, description="x")  # fmt: skip
    with pytest.raises(ConfigError, match=r"^Alarm role is 'budget': allowed are model_health, throttling, latency"):
        select_alarms((), "budget")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^AlarmFactory alarm 'datapoints_to_alarm' is 4: allowed is a whole number "
                                          r"from 1 to 'evaluation_periods' \(3\)\.$"):  # fmt: skip
        factory.add_alarm("B", metric=metric, threshold=1, comparison=above, severity=Severity.LOW,
                          role=AlarmRole.COST, description="x", datapoints_to_alarm=4)  # fmt: skip
    with pytest.raises(ConfigError, match=r"^AlarmFactory 'evaluation_periods' is 0: allowed is a whole number from 1\.$"):
        AlarmFactory(scope, action=OpsItemAlarmActionStrategy(), evaluation_periods=0)
    with pytest.raises(ConfigError, match=r"^MultipleAlarmActionStrategy 'strategies' is empty"):
        MultipleAlarmActionStrategy()
    imported = cw.Alarm.from_alarm_arn(scope, "Imported", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:theirs")
    with pytest.raises(ConfigError, match=r"^Alarm Alarms/Bad/Imported is imported: allowed are alarms defined in this"):
        OpsItemAlarmActionStrategy().bind(imported, Severity.HIGH)  # type: ignore[arg-type]
    OpsItemAlarmActionStrategy().bind(imported, Severity.LOW)  # type: ignore[arg-type]  # below the minimum: untouched
    assert factory.alarms == [] and scope.node.try_find_child("A") is None
