"""The one place that names, describes, tags and wires every CloudWatch alarm of the library.

Modelled on cdk-monitoring-constructs' ``AlarmFactory`` and its action strategies: severity is a type
(:class:`Severity`), what happens when an alarm fires is a strategy (:class:`SnsAlarmActionStrategy`,
:class:`OpsItemAlarmActionStrategy`, :class:`MultipleAlarmActionStrategy`), and every alarm carries an
:class:`AlarmRole`, so higher levels select alarms by what they are about, never by their names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, cast

from aws_cdk import Names, Tags
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.errors import ConfigError

#: Tag keys every alarm of the factory carries (cdk-monitoring-constructs finds its alarms by tag too).
ROLE_TAG = "AlarmRole"
SEVERITY_TAG = "AlarmSeverity"


class Severity(str, Enum):
    """How bad it is when the alarm fires; written as ``[high]`` / ``[low]`` at the start of the description."""

    HIGH = "high"
    """Warrants an incident: opens an OpsCenter OpsItem from Level 2 on."""
    LOW = "low"
    """Worth a notification, not an incident."""


class AlarmRole(str, Enum):
    """What an alarm is about. Higher levels select alarms by role (and severity), never by name.

    The roles are cut along what a remediation can fix: the Level 3 model failover acts on
    :attr:`MODEL_HEALTH` and :attr:`THROTTLING`, the API throttle on :attr:`COST`, the prompt rollback on
    high-severity :attr:`QUALITY`.
    """

    MODEL_HEALTH = "model_health"
    """The model itself fails: Bedrock server errors of a model (another model helps)."""
    THROTTLING = "throttling"
    """The model provider throttles the application's calls: Bedrock invocation throttles of a model (another
    model, with its own quota, helps). Throttling of the application's own Lambda or API is AVAILABILITY."""
    LATENCY = "latency"
    """Slow responses: Bedrock or API Gateway latency, fixed thresholds or anomaly bands. Kept apart from
    MODEL_HEALTH because a slow model is no reason to fail over."""
    COST = "cost"
    """Spend or token volume: cost and input-token anomalies (the API throttle's trigger)."""
    QUALITY = "quality"
    """What the answers are worth: canary quality drop and drift, refusals, output verbosity, guardrail
    interventions. High severity only for the quality drop, the prompt rollback's trigger."""
    AVAILABILITY = "availability"
    """Requests fail or cannot be served: success rate, error rates, Bedrock client errors, Lambda errors and
    throttles, API 5xx, traffic outages, and the observability pipelines themselves failing (canary, forwarder)."""
    SECURITY = "security"
    """Abuse of the application: prompt-injection phrasing in the questions."""
    OUTCOME = "outcome"
    """A business-outcome target was missed, after the fact (time to detect or to resolve an incident above the
    level's target). No runbook acts on it: it is a report on the other alarms, not a fault to heal."""


#: An alarm of this app that strategies can bind to: a metric alarm (anomaly-detection alarms are ones) or a
#: composite alarm (the workload's health alarm).
OwnAlarm = cw.Alarm | cw.AnomalyDetectionAlarm | cw.CompositeAlarm


class AlarmActionStrategy(Protocol):
    """What an alarm does when its state changes; the factory binds one to every alarm it makes."""

    def bind(self, alarm: OwnAlarm, severity: Severity) -> None:
        """Add this strategy's actions to ``alarm`` (of ``severity``)."""
        ...


def _own(alarm: cw.IAlarm) -> cw.Alarm | cw.CompositeAlarm:
    """``alarm`` when it is defined in this app, a metric or a composite alarm (an imported alarm cannot take
    actions)."""
    if not isinstance(alarm, cw.Alarm | cw.CompositeAlarm):
        raise ConfigError(
            f"Alarm {alarm.node.path} is imported: allowed are alarms defined in this app, so that actions can be added."
        )
    return alarm


class SnsAlarmActionStrategy:
    """Notifies an SNS topic when the alarm enters ALARM and, by default, when it returns to OK.

    :param topic: where notifications go.
    :param on_ok: also notify when the alarm returns to OK. Default: True.
    """

    def __init__(self, topic: sns.ITopic, *, on_ok: bool = True) -> None:
        self.topic = topic
        self.on_ok = on_ok

    def bind(self, alarm: OwnAlarm, severity: Severity) -> None:
        action = cw_actions.SnsAction(self.topic)
        _own(alarm).add_alarm_action(action)
        if self.on_ok:
            alarm.add_ok_action(action)


def sns_alarm_action(topic: sns.ITopic, *, on_ok: bool = True) -> SnsAlarmActionStrategy:
    """Notify ``topic`` on ALARM (and OK); see :class:`SnsAlarmActionStrategy`."""
    return SnsAlarmActionStrategy(topic, on_ok=on_ok)


_OPS_ITEM_SEVERITY = {Severity.HIGH: cw_actions.OpsItemSeverity.HIGH, Severity.LOW: cw_actions.OpsItemSeverity.LOW}
_RANK = {Severity.LOW: 0, Severity.HIGH: 1}


class OpsItemAlarmActionStrategy:
    """Opens a Systems Manager OpsCenter OpsItem when an alarm of at least ``min_severity`` enters ALARM.

    OpsCenter is where incident management lives now that Systems Manager Incident Manager is closed to
    new customers. The OpsItem's severity is the alarm's (``HIGH`` or ``LOW``); alarms below
    ``min_severity`` are left alone.

    :param min_severity: the lowest alarm severity that opens an OpsItem. Default: ``Severity.HIGH``.
    :param category: OpsItem category. Default: ``OpsItemCategory.AVAILABILITY``.
    """

    def __init__(
        self,
        *,
        min_severity: Severity = Severity.HIGH,
        category: cw_actions.OpsItemCategory = cw_actions.OpsItemCategory.AVAILABILITY,
    ) -> None:
        self.min_severity = _severity(min_severity, "OpsItemAlarmActionStrategy 'min_severity'")
        self.category = category

    def bind(self, alarm: OwnAlarm, severity: Severity) -> None:
        severity = _severity(severity, "OpsItemAlarmActionStrategy severity")
        if _RANK[severity] >= _RANK[self.min_severity]:
            _own(alarm).add_alarm_action(cw_actions.SsmAction(_OPS_ITEM_SEVERITY[severity], self.category))


def ops_item_alarm_action(
    *,
    min_severity: Severity = Severity.HIGH,
    category: cw_actions.OpsItemCategory = cw_actions.OpsItemCategory.AVAILABILITY,
) -> OpsItemAlarmActionStrategy:
    """Open an OpsItem for alarms of ``min_severity`` and above; see :class:`OpsItemAlarmActionStrategy`."""
    return OpsItemAlarmActionStrategy(min_severity=min_severity, category=category)


class MultipleAlarmActionStrategy:
    """Applies several strategies in order (their actions appear on the alarm in that order).

    :param strategies: the strategies to apply (one or more).
    """

    def __init__(self, *strategies: AlarmActionStrategy) -> None:
        if not strategies:
            raise ConfigError("MultipleAlarmActionStrategy 'strategies' is empty: allowed is one or more strategies.")
        self.strategies = strategies

    def bind(self, alarm: OwnAlarm, severity: Severity) -> None:
        for strategy in self.strategies:
            strategy.bind(alarm, severity)


def multiple_alarm_actions(*strategies: AlarmActionStrategy) -> MultipleAlarmActionStrategy:
    """Apply ``strategies`` in order; see :class:`MultipleAlarmActionStrategy`."""
    return MultipleAlarmActionStrategy(*strategies)


@dataclass(frozen=True)
class RoledAlarm:
    """An alarm with what it is about and how bad it is, as higher levels select it."""

    alarm: cw.IAlarm
    role: AlarmRole
    severity: Severity


def select_alarms(
    roled_alarms: Iterable[RoledAlarm], *roles: AlarmRole, severity: Severity | None = None
) -> tuple[cw.IAlarm, ...]:
    """The alarms of ``roled_alarms`` with one of ``roles`` (any role when none is given) and, when given,
    exactly ``severity``, in their original order."""
    wanted = {_role(r) for r in roles}
    level = None if severity is None else _severity(severity, "Alarm selection 'severity'")
    return tuple(
        r.alarm for r in roled_alarms if (not wanted or r.role in wanted) and (level is None or r.severity == level)
    )


def _severity(value: object, setting: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise ConfigError(f"{setting} is {value!r}: allowed are {', '.join(s.value for s in Severity)}.") from None


def _role(value: object) -> AlarmRole:
    try:
        return AlarmRole(value)
    except ValueError:
        raise ConfigError(f"Alarm role is {value!r}: allowed are {', '.join(r.value for r in AlarmRole)}.") from None


def _check_periods(owner: str, evaluation_periods: object, datapoints_to_alarm: object) -> None:
    if not isinstance(evaluation_periods, int) or isinstance(evaluation_periods, bool) or evaluation_periods < 1:
        raise ConfigError(f"{owner} 'evaluation_periods' is {evaluation_periods!r}: allowed is a whole number from 1.")
    if (
        not isinstance(datapoints_to_alarm, int)
        or isinstance(datapoints_to_alarm, bool)
        or not 1 <= datapoints_to_alarm <= evaluation_periods
    ):
        raise ConfigError(
            f"{owner} 'datapoints_to_alarm' is {datapoints_to_alarm!r}: allowed is a whole number from 1 "
            f"to 'evaluation_periods' ({evaluation_periods})."
        )


class AlarmFactory:
    """Makes the alarms of one construct: named ``{name_prefix}-{name}``, described ``[{severity}] ...``,
    tagged with ``AlarmRole`` and ``AlarmSeverity``, wired by ``action`` and recorded in :attr:`alarms`.

    Not a construct itself: the alarms are children of ``scope``.

    :param scope: the construct the alarms belong to.
    :param action: what every alarm does when it changes state.
    :param name_prefix: start of every alarm name. Default: ``scope``'s unique resource name (at most 48
        characters, ``-`` separated).
    :param evaluation_periods: periods looked at, unless an alarm says otherwise. Default: 3.
    :param datapoints_to_alarm: breaching periods among them that raise the alarm. Default: 2.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        action: AlarmActionStrategy,
        name_prefix: str | None = None,
        evaluation_periods: int = 3,
        datapoints_to_alarm: int = 2,
    ) -> None:
        _check_periods("AlarmFactory", evaluation_periods, datapoints_to_alarm)
        self.scope = scope
        self.action = action
        self.name_prefix = name_prefix or Names.unique_resource_name(scope, max_length=48, separator="-")
        self.evaluation_periods = evaluation_periods
        self.datapoints_to_alarm = datapoints_to_alarm
        self.alarms: list[RoledAlarm] = []

    @classmethod
    def notifying(
        cls,
        scope: Construct,
        *,
        owner: str,
        action: AlarmActionStrategy | None = None,
        topic: sns.ITopic | None = None,
        evaluation_periods: int = 3,
        datapoints_to_alarm: int = 2,
    ) -> AlarmFactory:
        """The factory of an alarm construct that takes ``action`` and ``topic`` arguments: its alarms do ``action``
        when given, else notify ``topic`` (``topic or workload.alert_topic``) on ALARM and OK.

        :param owner: the construct's class name, for the error when neither ``action`` nor ``topic`` is given.
        """
        if action is None:
            if topic is None:
                raise ConfigError(
                    f"{owner} 'topic' is missing: allowed is an SNS topic, here or as workload.alert_topic, or an "
                    "alarm 'action'."
                )
            action = SnsAlarmActionStrategy(topic)
        return cls(scope, action=action, evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints_to_alarm)

    def add_alarm(
        self,
        id: str,
        *,
        metric: cw.IMetric,
        threshold: float,
        comparison: cw.ComparisonOperator,
        severity: Severity,
        role: AlarmRole,
        description: str,
        treat_missing_data: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
        evaluation_periods: int | None = None,
        datapoints_to_alarm: int | None = None,
        name: str | None = None,
    ) -> cw.Alarm:
        """A static-threshold alarm.

        :param id: construct id of the alarm under ``scope``.
        :param treat_missing_data: Default: not breaching (no traffic is not an incident).
        :param evaluation_periods: Default: the factory's.
        :param datapoints_to_alarm: Default: the factory's, or every one of ``evaluation_periods`` when those
            are fewer.
        :param name: what follows the prefix in the alarm name. Default: ``id``.
        """
        return self._make(
            cw.Alarm, id, name, severity, role, description, evaluation_periods, datapoints_to_alarm,
            metric=metric, threshold=threshold, comparison_operator=comparison, treat_missing_data=treat_missing_data,
        )  # fmt: skip

    def add_anomaly_alarm(
        self,
        id: str,
        *,
        metric: cw.IMetric,
        std_devs: float,
        comparison: cw.ComparisonOperator,
        severity: Severity,
        role: AlarmRole,
        description: str,
        treat_missing_data: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
        evaluation_periods: int | None = None,
        datapoints_to_alarm: int | None = None,
        name: str | None = None,
    ) -> cw.AnomalyDetectionAlarm:
        """An anomaly-detection alarm: fires when ``metric`` leaves its learned band of ``std_devs`` width.

        ``comparison`` is one of the band comparisons (``GREATER_THAN_UPPER_THRESHOLD``, ...); the other
        parameters are those of :meth:`add_alarm`.
        """
        anomaly = self._make(
            cw.AnomalyDetectionAlarm, id, name, severity, role, description, evaluation_periods, datapoints_to_alarm,
            metric=metric, std_devs=std_devs, comparison_operator=comparison, treat_missing_data=treat_missing_data,
        )  # fmt: skip
        return cast(cw.AnomalyDetectionAlarm, anomaly)

    def alarms_for(self, *roles: AlarmRole, severity: Severity | None = None) -> tuple[cw.IAlarm, ...]:
        """The alarms made so far with one of ``roles`` (any when none) and, when given, ``severity``."""
        return select_alarms(self.alarms, *roles, severity=severity)

    def _periods(self, evaluation_periods: int | None, datapoints_to_alarm: int | None) -> tuple[int, int | None]:
        """The alarm's periods; ``None`` datapoints (left out: every evaluated period must breach) when the
        factory's ``datapoints_to_alarm`` exceeds an alarm's own, shorter ``evaluation_periods``."""
        evaluation = self.evaluation_periods if evaluation_periods is None else evaluation_periods
        datapoints = datapoints_to_alarm
        if datapoints is None and self.datapoints_to_alarm <= evaluation:
            datapoints = self.datapoints_to_alarm
        _check_periods("AlarmFactory alarm", evaluation, evaluation if datapoints is None else datapoints)
        return evaluation, datapoints

    def _make(
        self, kind: type[cw.Alarm], id: str, name: str | None, severity: Severity, role: AlarmRole, description: str,
        evaluation_periods: int | None, datapoints_to_alarm: int | None, **alarm_props: Any,
    ) -> cw.Alarm:  # fmt: skip
        """An alarm of ``kind`` (``cw.Alarm`` or ``cw.AnomalyDetectionAlarm``) with the factory's name, description,
        periods, tags and actions; ``alarm_props`` are the kind's own (metric, threshold or band, comparison)."""
        severity, role = _severity(severity, "AlarmFactory 'severity'"), _role(role)
        evaluation_periods, datapoints_to_alarm = self._periods(evaluation_periods, datapoints_to_alarm)
        alarm = kind(
            self.scope,
            id,
            alarm_name=f"{self.name_prefix}-{name or id}",
            alarm_description=f"[{severity.value}] {description}",
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            **alarm_props,
        )
        Tags.of(alarm).add(ROLE_TAG, role.value)
        Tags.of(alarm).add(SEVERITY_TAG, severity.value)
        self.action.bind(alarm, severity)
        self.alarms.append(RoledAlarm(alarm=alarm, role=role, severity=severity))
        return alarm
