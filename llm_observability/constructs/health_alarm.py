"""The workload's "health" composite alarm: the one alarm that pages, suppressed while a runbook heals.

:class:`WorkloadHealth` puts one ``AWS::CloudWatch::CompositeAlarm`` over exactly the workload's high-severity
alarms (``ALARM("arn") OR ...``) and gives it the paging actions; the member alarms and the workload's
low-severity alarms are demoted (:func:`demote_alarm`): what notified the alert topic notifies the low-urgency
topic instead (or nothing), and OpsItems are opened by the composite only. Its actions suppressor is typically
:func:`healing_alarm`, the alarm on the ``HealingInProgress`` metric the Level 3 runbooks publish while they act.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Annotations, Duration, IResolvable, IResolveContext, Names, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability import automation
from llm_observability.compliance_profile import is_strict
from llm_observability.constructs.alarm_factory import (
    AlarmActionStrategy,
    Severity,
    multiple_alarm_actions,
    ops_item_alarm_action,
    sns_alarm_action,
)
from llm_observability.errors import ConfigError
from llm_observability.workload import Workload

#: Underlying alarms one composite rule may name (PutCompositeAlarm: "as many as 100 underlying alarms").
MAX_RULE_ALARMS = 100
#: Characters of a composite alarm rule (PutCompositeAlarm ``AlarmRule``: length 1-10240).
MAX_RULE_LENGTH = 10240
#: Longest ``arn:<partition>:cloudwatch:<region>:<account>:alarm:`` (aws-us-gov, a 14-character region), rounded up.
_ARN_PREFIX_LENGTH = 64
#: An alarm name CloudWatch accepts at most (used when the name is not known at synth).
_MAX_ALARM_NAME = 255
#: Id of the synth warning that lists member alarms this app cannot demote (imported or composite alarms).
WARNING_ID = "llm-observability:health-alarm"


def healing_metric(*, metric_namespace: str, service: str) -> cw.Metric:
    """The ``HealingInProgress`` metric of the runbooks of ``service`` (1 while a runbook acts), one-minute maximum."""
    return cw.Metric(
        namespace=metric_namespace,
        metric_name=automation.HEALING_METRIC,
        dimensions_map={automation.HEALING_DIMENSION: service},
        statistic=cw.Stats.MAXIMUM,
        period=Duration.minutes(1),
    )


def healing_alarm(
    scope: Construct, id: str, *, metric_namespace: str, service: str, record_topic: sns.ITopic | None = None
) -> cw.Alarm:
    """An alarm in ALARM while a runbook of ``service`` heals (the metric's one-minute maximum is at least 1).

    Missing data is not breaching, so the alarm returns to OK a minute after the last run, even if that run died
    before its last step. It has no actions: it only suppresses the health alarm's. In the strict compliance
    profile (where Control Tower's CT.CLOUDWATCH.PR.1 refuses an alarm without an ALARM action) it also tells
    ``record_topic`` (the runbooks' record topic) that healing started, beside the run records sent there.

    :param record_topic: where the strict profile's ALARM action notifies. Default: none.
    """
    alarm = cw.Alarm(
        scope,
        id,
        metric=healing_metric(metric_namespace=metric_namespace, service=service),
        threshold=1,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        alarm_description=f"Self-healing in progress for {service}: a Level 3 runbook is acting (suppresses the "
        "workload's health alarm; no actions of its own).",
    )
    if record_topic is not None and is_strict(scope):
        sns_alarm_action(record_topic, on_ok=False).bind(alarm, Severity.LOW)
    return alarm


@jsii.implements(IResolvable)
class _DemotedActions:
    """The actions of one state of an alarm, at synthesis: the paging topic replaced by the low-urgency topic (or
    dropped), OpsItem actions dropped, every other action kept. Actions added after demotion are filtered too."""

    def __init__(
        self, alarm: cw.Alarm, original: list[str], page_topic: sns.ITopic | None, low_topic: sns.ITopic | None
    ) -> None:
        self._alarm = alarm
        self._original = original
        self._page_topic = page_topic
        self._low_topic = low_topic
        self.creation_stack: list[str] = []
        self.type_hint = None

    def to_string(self) -> str:
        return Token.as_string(self)

    def resolve(self, context: IResolveContext) -> Any:
        # The actions through the outer resolver (so cross-stack references in them are registered); the paging
        # topic through a resolver of its own (it is compared with, not written).
        actions = context.resolve(self._original) or []
        page = None if self._page_topic is None else Stack.of(self._alarm).resolve(self._page_topic.topic_arn)
        kept: list[Any] = []
        for action in actions:
            if page is not None and action == page:
                if self._low_topic is not None and self._low_topic.topic_arn not in kept:
                    kept.append(self._low_topic.topic_arn)
            elif ":opsitem:" not in json.dumps(action):
                kept.append(action)
        return kept or None


def demote_alarm(alarm: cw.Alarm, *, page_topic: sns.ITopic | None, low_topic: sns.ITopic | None = None) -> None:
    """Stop ``alarm`` paging: its ALARM and OK notifications to ``page_topic`` (when given) go to ``low_topic``
    instead (or nowhere), its OpsItem actions are dropped, its other actions stay (also those added later).

    :param low_topic: where the notifications go instead. Default: none (they are dropped).
    """
    cfn = alarm.node.default_child
    if not isinstance(cfn, cw.CfnAlarm):
        raise ConfigError(f"Alarm {alarm.node.path} has no AWS::CloudWatch::Alarm: allowed are alarms of this app.")
    cfn.alarm_actions = Token.as_list(_DemotedActions(alarm, cfn.alarm_actions or [], page_topic, low_topic))
    cfn.ok_actions = Token.as_list(_DemotedActions(alarm, cfn.ok_actions or [], page_topic, low_topic))


def _name_length(alarm: cw.IAlarm) -> int:
    """Characters of ``alarm``'s ARN in a rule: exact when known at synth, else the prefix and its name (or 255)."""
    if not Token.is_unresolved(alarm.alarm_arn):
        return len(alarm.alarm_arn)
    cfn = alarm.node.default_child
    name = getattr(cfn, "alarm_name", None) if isinstance(cfn, cw.CfnAlarm | cw.CfnCompositeAlarm) else None
    known = isinstance(name, str) and not Token.is_unresolved(name)
    return _ARN_PREFIX_LENGTH + (len(name) if known else _MAX_ALARM_NAME)


def rule_length(alarms: Sequence[cw.IAlarm]) -> int:
    """The most characters ``AlarmRule.any_of(*alarms)`` renders to: ``(ALARM("arn") OR ...)``."""
    return 2 + sum(len('ALARM("")') + _name_length(a) for a in alarms) + len(" OR ") * (len(alarms) - 1)


def _chunks(alarms: Sequence[cw.IAlarm]) -> list[list[cw.IAlarm]]:
    """``alarms`` in order, cut into groups that one composite rule can name."""
    groups: list[list[cw.IAlarm]] = [[]]
    for alarm in alarms:
        candidate = [*groups[-1], alarm]
        if groups[-1] and (len(candidate) > MAX_RULE_ALARMS or rule_length(candidate) > MAX_RULE_LENGTH):
            groups.append([alarm])
        else:
            groups[-1] = candidate
    return groups


class WorkloadHealth(Construct):
    """One composite "health" alarm per workload: in ALARM while any of its high-severity alarms is; the only alarm
    that pages.

    The rule names exactly ``workload.alarms_for(severity=Severity.HIGH)``. A rule names at most 100 alarms in at most
    10,240 characters (PutCompositeAlarm); more are grouped into nested composites (``groups``, no actions) that the
    health alarm names instead. With ``demote_members``, the members stop paging (:func:`demote_alarm`): their
    ALARM and OK notifications to ``workload.alert_topic`` go to ``workload.low_urgency_topic`` (or nowhere without
    one) and their OpsItem actions are dropped (the health alarm opens the OpsItem); the low-severity alarms move to
    the low-urgency topic too when the workload has one (without one they keep notifying the alert topic: they are
    notifications, not incidents, and would otherwise reach no one). Only alarms this app defines can change; the others are listed
    in one synth warning (``llm-observability:health-alarm``).

    Actions suppression (with ``suppressor``): when the health alarm enters ALARM it waits up to ``suppressor_wait``
    for the suppressor to enter ALARM, and stays silent while the suppressor is in ALARM and ``suppressor_extension``
    after; if it is still in ALARM then, it pages. A runbook's healing (cache expiry, then the member alarm's
    evaluation periods) fits in the default extension.

    :param workload: the observed application (with high-severity alarms, and an alert topic unless ``page`` is
        given).
    :param page: what the health alarm does. Default: notify ``workload.alert_topic`` on ALARM and OK and open a
        high-severity OpsItem.
    :param demote_members: stop the workload's own alarms paging. Default: True.
    :param suppressor: an alarm whose ALARM state suppresses the health alarm's actions (typically
        ``RemediationRunbooks.healing_alarm``, or a composite of it and an alarm of yours). Default: none.
    :param suppressor_wait: how long the health alarm waits for the suppressor. Default: 3 minutes (a runbook's first
        datapoint reaches its one-minute alarm within about two).
    :param suppressor_extension: how long actions stay suppressed after the suppressor returns to OK. Default: 15
        minutes (the model cache's minute plus the member alarms' evaluation periods).
    :raises ConfigError: no high-severity alarm (``workload.roled_alarms``), no ``page`` and no alert topic, or the
        low-urgency topic is the alert topic.

    Attributes: ``alarm`` (the health composite), ``members`` (the high-severity alarms it names), ``groups`` (the
    nested composites, when there are too many members for one rule), ``demoted`` and ``not_demoted`` (the alarms
    that stopped paging, and those that could not be changed).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        page: AlarmActionStrategy | None = None,
        demote_members: bool = True,
        suppressor: cw.IAlarm | None = None,
        suppressor_wait: Duration = Duration.minutes(3),
        suppressor_extension: Duration = Duration.minutes(15),
    ) -> None:
        members = workload.alarms_for(severity=Severity.HIGH)
        if not members:
            raise ConfigError(
                f"WorkloadHealth 'workload.roled_alarms' of workload {workload.name!r} has no high-severity alarm: "
                "allowed is a workload carrying at least one (the Workload that Level 1 or 2 returns, or with_alarms)."
            )
        if page is None and workload.alert_topic is None:
            raise ConfigError(
                "WorkloadHealth 'workload.alert_topic' is missing: allowed is a workload with an SNS topic, or a 'page' "
                "action strategy."
            )
        if (
            demote_members
            and workload.low_urgency_topic is not None
            and workload.low_urgency_topic is workload.alert_topic
        ):
            raise ConfigError(
                "WorkloadHealth 'workload.low_urgency_topic' is the alert topic: allowed is another topic (or none), "
                "since the member alarms must not page."
            )
        for name, value in (("suppressor_wait", suppressor_wait), ("suppressor_extension", suppressor_extension)):
            if not isinstance(value, Duration):
                raise ConfigError(f"WorkloadHealth '{name}' is {value!r}: allowed is a Duration (whole seconds).")
        super().__init__(scope, id)
        self.members = members
        prefix = Names.unique_resource_name(self, max_length=48, separator="-")
        chunks = _chunks(members)
        self.groups: list[cw.CompositeAlarm] = []
        if len(chunks) > 1:
            self.groups = [
                cw.CompositeAlarm(
                    self,
                    f"Group{n}",
                    alarm_rule=cw.AlarmRule.any_of(*chunk),
                    composite_alarm_name=f"{prefix}-Group{n}",
                    alarm_description=f"Part {n} of {len(chunks)} of the health alarm of {workload.name} (no actions).",
                )  # fmt: skip
                for n, chunk in enumerate(chunks, start=1)
            ]
            if len(self.groups) > MAX_RULE_ALARMS:
                raise ConfigError(
                    f"WorkloadHealth 'workload.roled_alarms' holds {len(members)} high-severity alarms: allowed are at "
                    f"most what {MAX_RULE_ALARMS} nested composite rules can name (about "
                    f"{MAX_RULE_ALARMS * MAX_RULE_ALARMS // 4} with long names)."
                )
        named: Sequence[cw.IAlarm] = self.groups or members
        suppression: dict[str, Any] = {}
        if suppressor is not None:
            suppression = {
                "actions_suppressor": suppressor,
                "actions_suppressor_wait_period": suppressor_wait,
                "actions_suppressor_extension_period": suppressor_extension,
            }
        self.alarm = cw.CompositeAlarm(
            self,
            "Alarm",
            alarm_rule=cw.AlarmRule.any_of(*named),
            composite_alarm_name=f"{prefix}-Health",
            alarm_description=f"[high] {workload.name} is unhealthy: one of its {len(members)} high-severity alarms is "
            "in ALARM (the alarm's reason names it). The only alarm of the workload that pages"
            + (", silent while self-healing is in progress." if suppressor is not None else "."),
            **suppression,
        )
        if page is None:
            assert workload.alert_topic is not None  # checked above
            page = multiple_alarm_actions(sns_alarm_action(workload.alert_topic), ops_item_alarm_action())
        page.bind(self.alarm, Severity.HIGH)
        self.demoted: list[cw.Alarm] = []
        self.not_demoted: list[cw.IAlarm] = []
        if demote_members:
            for roled in workload.roled_alarms:
                if roled.severity is not Severity.HIGH and workload.low_urgency_topic is None:
                    continue  # a low-severity alarm never paged: it keeps notifying until there is a quieter topic
                if isinstance(roled.alarm, cw.Alarm):
                    demote_alarm(roled.alarm, page_topic=workload.alert_topic, low_topic=workload.low_urgency_topic)
                    self.demoted.append(roled.alarm)
                else:
                    self.not_demoted.append(roled.alarm)
        if self.not_demoted:
            Annotations.of(self).add_warning_v2(
                WARNING_ID,
                f"The health alarm of {workload.name} could not demote {len(self.not_demoted)} alarm(s) that this app "
                "does not define (imported or composite), so they may still page: "
                + ", ".join(a.node.path for a in self.not_demoted)
                + ". Remove their paging actions where they are defined.",
            )
