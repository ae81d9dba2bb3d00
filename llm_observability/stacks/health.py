"""Adds the workload's health alarm to the top stack of a build, from the settings (``health_alarm`` and friends)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cw

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.alarm_factory import (
    Severity,
    multiple_alarm_actions,
    ops_item_alarm_action,
    sns_alarm_action,
)
from llm_observability.constructs.health_alarm import WorkloadHealth
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.workload import Workload

#: Construct ids under the stack.
HEALTH_ID = "WorkloadHealth"
SUPPRESSOR_ID = "HealthSuppressor"
USER_SUPPRESSOR_ID = "HealthSuppressorAlarm"

#: How a workload without high-severity alarms gets a health alarm (the left-out warning says it).
NO_HIGH_ALARMS_HOW = (
    "pass the Workload that Level 1 or 2 returns, or add high-severity alarms with Workload.with_alarms; the health "
    "alarm is built over them"
)


def add_health_alarm(stack: Stack, config: ObservabilityConfig) -> WorkloadHealth | None:
    """The workload's :class:`WorkloadHealth` in ``stack`` (the top stack of a build: it reads ``stack.workload``,
    which carries the alarms of every level below), or None with ``health_alarm`` off.

    It pages on the workload's alert topic, and from Level 2 on (``config.level``) also opens an OpsItem, as
    high-severity alarms do there. Its actions suppressor is ``stack.healing_alarm`` (Level 3's runbooks healing)
    and the alarm of ``health_suppressor_alarm_arn``; with both, a composite ``HealthSuppressor`` in ALARM when
    either is. A workload without a high-severity alarm gets no health alarm: that is listed in the stack's
    left-out warning (the setting is on by default, and a user's workload may carry no alarms at all).

    :raises ConfigError: ``stack`` has no ``workload``, or the workload has no alert topic.
    """
    if not config.health_alarm:
        return None
    workload = getattr(stack, "workload", None)
    if not isinstance(workload, Workload):
        raise ConfigError(
            f"Setting 'health_alarm' needs stack {stack.node.path!r} to expose its 'workload': allowed are the level "
            "stacks (FoundationStack, ProactiveStack, AiOpsStack), or set health_alarm=false."
        )
    if not workload.alarms_for(severity=Severity.HIGH):
        leave_out(stack, "The workload health alarm (health_alarm)", "roled_alarms", NO_HIGH_ALARMS_HOW)
        return None
    if workload.alert_topic is None:
        raise ConfigError(
            "Setting 'health_alarm' needs Workload 'alert_topic': allowed is a workload with an SNS topic, or set "
            "health_alarm=false."
        )
    suppressors: list[cw.IAlarm] = []
    healing = getattr(stack, "healing_alarm", None)
    if healing is not None:
        suppressors.append(healing)
    if config.health_suppressor_alarm_arn:
        suppressors.append(cw.Alarm.from_alarm_arn(stack, USER_SUPPRESSOR_ID, config.health_suppressor_alarm_arn))
    suppressor: cw.IAlarm | None = suppressors[0] if suppressors else None
    if len(suppressors) > 1:
        suppressor = cw.CompositeAlarm(
            stack,
            SUPPRESSOR_ID,
            alarm_rule=cw.AlarmRule.any_of(*suppressors),
            alarm_description=f"Suppresses the health alarm of {workload.name}: self-healing in progress, or the "
            "alarm of health_suppressor_alarm_arn is in ALARM (no actions).",
        )
    page = sns_alarm_action(workload.alert_topic)
    if config.level >= 2:
        page = multiple_alarm_actions(page, ops_item_alarm_action())
    return WorkloadHealth(stack, HEALTH_ID, workload=workload, page=page, suppressor=suppressor)
