"""Business outcomes from the alarms' state changes: incidents, time to detect, time to resolve and minutes of impact
per severity, with a target per maturity level and an alarm when one is missed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.config.bounds import POWERTOOLS_VERSION
from llm_observability.config.rules import OUTCOME_MEASURES, OUTCOME_MINUTES, check_outcome_targets
from llm_observability.constructs._common import (
    asset_function,
    dead_letter_metric,
    dead_letter_queue,
    function_role,
    log_encryption_key,
    powertools_layer,
)
from llm_observability.constructs.alarm_factory import (
    AlarmActionStrategy,
    AlarmFactory,
    AlarmRole,
    RoledAlarm,
    Severity,
)
from llm_observability.errors import ConfigError
from llm_observability.functions.incident_outcomes import outcomes_telemetry as ot
from llm_observability.left_out import leave_out
from llm_observability.workload import Workload

#: EventBridge's default limit on an event pattern (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
PATTERN_LIMIT = 2048
#: The longest ``arn:<partition>:cloudwatch:<region>:<account>:alarm:`` an alarm ARN can start with (partition
#: ``aws-us-gov``, a region name of up to 20 characters).
ARN_PREFIX_MAX = len("arn:aws-us-gov:cloudwatch:") + 20 + len(":123456789012:alarm:")
#: CloudWatch's longest alarm name.
ALARM_NAME_MAX = 255
STATE_CHANGE = "CloudWatch Alarm State Change"
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


@dataclass(frozen=True)
class OutcomeTarget:
    """How fast incidents of one severity must be detected and resolved.

    :param detect_minutes: most minutes from the first breaching period to ALARM. Default: no detection target.
    :param resolve_minutes: most minutes from ALARM to OK. Default: no resolution target.

    Each given value is a number from 1 to 1440; at least one must be given.
    """

    detect_minutes: float | None = None
    resolve_minutes: float | None = None

    def __post_init__(self) -> None:
        for name in OUTCOME_MEASURES:
            if getattr(self, name) is not None:
                OUTCOME_MINUTES.check(name, getattr(self, name), owner="OutcomeTarget")
        if self.detect_minutes is None and self.resolve_minutes is None:
            raise ConfigError("OutcomeTarget has no minutes: allowed is detect_minutes, resolve_minutes or both.")

    def text(self) -> str:
        """``detect ≤ 10 min, resolve ≤ 30 min``."""
        parts = [f"{what} ≤ {minutes:g} min" for what, minutes in (("detect", self.detect_minutes),
                                                                   ("resolve", self.resolve_minutes)) if minutes is not None]  # fmt: skip
        return ", ".join(parts)


#: The targets of each maturity level when the ``outcome_targets`` setting is empty: Level 2 resolves high-severity
#: incidents within 30 minutes; Level 3, healed by its runbooks, within 5.
LEVEL_TARGETS: Mapping[int, Mapping[str, OutcomeTarget]] = {
    1: {},
    2: {Severity.HIGH.value: OutcomeTarget(resolve_minutes=30)},
    3: {Severity.HIGH.value: OutcomeTarget(resolve_minutes=5)},
}

def parse_targets(value: object) -> dict[str, OutcomeTarget]:
    """The ``outcome_targets`` setting (``{"high": {"resolve_minutes": 30}}``) as targets by severity; ``{}`` for an
    empty object (the level's defaults apply). One-sentence :class:`ConfigError` naming the setting otherwise (the
    setting's own rule, :func:`~llm_observability.config.rules.check_outcome_targets`)."""
    checked = check_outcome_targets("outcome_targets", value)
    return {severity: OutcomeTarget(**minutes) for severity, minutes in checked.items()}


def targets_text(targets: Mapping[str, OutcomeTarget]) -> str:
    """``high: resolve ≤ 30 min; low: detect ≤ 10 min``, or ``none``."""
    return "; ".join(f"{severity}: {target.text()}" for severity, target in sorted(targets.items())) or "none"


def _arn_length(alarm: cw.IAlarm) -> int:
    """The most characters ``alarm``'s ARN can have once deployed: exact for a literal ARN, else the longest prefix
    and the alarm's literal name (255 characters when the name is not known at synth)."""
    if not Token.is_unresolved(alarm.alarm_arn):
        return len(alarm.alarm_arn)
    name: object = alarm.alarm_name
    child = alarm.node.default_child
    if Token.is_unresolved(name) and isinstance(child, cw.CfnAlarm):
        name = child.alarm_name
    return ARN_PREFIX_MAX + (len(name) if isinstance(name, str) and not Token.is_unresolved(name) else ALARM_NAME_MAX)


def pattern(arns: Sequence[str]) -> dict[str, object]:
    """The EventBridge pattern of the state changes of ``arns`` (every state: ALARM, OK, INSUFFICIENT_DATA)."""
    return {"source": ["aws.cloudwatch"], "detail-type": [STATE_CHANGE], "resources": list(arns),
            "detail": {"state": {"value": list(STATES)}}}  # fmt: skip


def pack(alarms: Sequence[cw.IAlarm], limit: int = PATTERN_LIMIT) -> list[list[cw.IAlarm]]:
    """``alarms`` in order, split into groups whose pattern stays within ``limit`` characters (JSON as
    ``json.dumps`` writes it) whatever their ARNs resolve to."""
    base = len(json.dumps(pattern([])))
    groups: list[list[cw.IAlarm]] = []
    size = limit
    for alarm in alarms:
        extra = _arn_length(alarm) + 4  # quotes and ", "
        if base + extra > limit:
            raise ConfigError(
                f"IncidentOutcomes alarm {alarm.node.path} has an ARN too long for one EventBridge pattern."
            )
        if size + extra > limit:
            groups.append([])
            size = base
        groups[-1].append(alarm)
        size += extra
    return groups


class IncidentOutcomes(Construct):
    """Measures what observability buys, from the workload's own alarms: every state change of every alarm in
    ``workload.roled_alarms`` (composite alarms left out: their members are counted) reaches a function through
    EventBridge, which publishes per severity (``[high]``/``[low]`` in the alarm description, else unclassified):

    - ``Incidents``: 1 per alarm entering ALARM;
    - ``TimeToDetect``: seconds from the first breaching period (from the alarm's evaluated datapoints) to ALARM;
    - ``TimeToResolve``: seconds from ALARM to OK;
    - ``ImpactMinutes``: minutes from the first breaching period to OK.

    A target per severity raises a low-severity :attr:`AlarmRole.OUTCOME` alarm when an incident's time to detect or
    resolve exceeds it (``DetectTargetMissed-<severity>``, ``ResolveTargetMissed-<severity>``: the hour's Maximum,
    1 of 1, missing data not breaching); no runbook acts on them. Rules list the alarms' ARNs, as many per rule as fit
    EventBridge's 2,048-character pattern (rules are free).

    :param workload: the observed application; its ``roled_alarms`` are watched. With none, the construct is left
        out (one synth warning).
    :param targets: targets by severity (``"high"``/``"low"``). Default: none (only the measures);
        :data:`LEVEL_TARGETS` holds the bundled levels' defaults.
    :param level: the maturity level the targets belong to, for the dashboard's text. Default: not named.
    :param log_key: KMS key of the function's log group. Default: a new rotating key.
    :param log_retention_days: retention of its log group. Default: 30.
    :param powertools_layer_version: version of the Powertools layer. Default: the tested release.
    :param topic: where the target alarms notify. Default: ``workload.alert_topic`` (one of ``topic``, the workload's
        topic or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``function`` (None when left out), ``rules``, ``watched`` (the alarms), ``targets``, ``alarms`` (by
    name), ``roled_alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        targets: Mapping[Severity | str, OutcomeTarget] | None = None,
        level: int | None = None,
        log_key: kms.IKey | None = None,
        log_retention_days: int = 30,
        powertools_layer_version: str = POWERTOOLS_VERSION,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.workload = workload
        self.level = level
        self.targets = self._targets(targets or {})
        factory = AlarmFactory.notifying(
            self, owner="IncidentOutcomes", action=action, topic=topic or workload.alert_topic,
            evaluation_periods=1, datapoints_to_alarm=1,
        )  # fmt: skip
        self.watched: list[cw.IAlarm] = list(
            dict.fromkeys(r.alarm for r in workload.roled_alarms if not isinstance(r.alarm, cw.CompositeAlarm))
        )
        self.rules: list[events.Rule] = []
        self.alarms: dict[str, cw.Alarm] = {}
        self.roled_alarms: tuple[RoledAlarm, ...] = ()
        self.function: lambda_.Function | None = None
        if not self.watched:
            leave_out(
                self, "Incident outcomes (time to detect and to resolve per severity, with targets)", "roled_alarms",
                "pass the Workload that Level 1 and 2 return (it carries their alarms by role), or add your alarms "
                "with Workload.with_alarms",
            )  # fmt: skip
            return
        key = log_key or log_encryption_key(
            self, "LogKey", description="Encrypts the incident-outcomes function's logs."
        )
        role, log_group = function_role(
            self, "Outcomes", key=key, retention_days=log_retention_days,
            description=f"Measures time to detect and resolve the {workload.name} alarms' incidents.",
        )  # fmt: skip
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetters", purpose="the alarm state changes EventBridge or Lambda could not deliver"
        )
        self.function = asset_function(
            self,
            "Function",
            folder="incident_outcomes",
            description=f"{workload.name}: incident outcomes (time to detect, time to resolve) from alarm state changes",
            layers=[powertools_layer(self, powertools_layer_version)],
            role=role,
            log_group=log_group,
            timeout=Duration.seconds(30),
            memory_size=256,
            dead_letter_queue=self.dead_letter_queue,
            environment={
                ot.ENV_OUTCOMES: "1",
                ot.ENV_POWERTOOLS_SERVICE_NAME: workload.name,
                ot.ENV_POWERTOOLS_METRICS_NAMESPACE: workload.metric_namespace,
            },
        )
        groups = pack(self.watched)
        for index, group in enumerate(groups):
            body = pattern([alarm.alarm_arn for alarm in group])
            self.rules.append(
                events.Rule(
                    self,
                    f"AlarmChanges{index + 1}" if len(groups) > 1 else "AlarmChanges",
                    description=f"State changes of {len(group)} {workload.name} alarm(s), for their incident outcomes.",
                    event_pattern=events.EventPattern(
                        source=body["source"],
                        detail_type=body["detail-type"],
                        resources=body["resources"],
                        detail=body["detail"],
                    ),  # fmt: skip
                    # Each change is measured once from the event itself: keep trying for hours, then park it.
                    targets=[
                        event_targets.LambdaFunction(
                            self.function,
                            retry_attempts=10,
                            max_event_age=Duration.hours(12),
                            dead_letter_queue=self.dead_letter_queue,
                        )
                    ],  # fmt: skip
                )
            )
        where = f"the Level {level} target" if level else "the target"
        for severity, target in self.targets.items():
            for kind, minutes, metric_name in (
                ("Detect", target.detect_minutes, ot.METRIC_TIME_TO_DETECT),
                ("Resolve", target.resolve_minutes, ot.METRIC_TIME_TO_RESOLVE),
            ):
                if minutes is None:
                    continue
                name = f"{kind}TargetMissed-{severity}"
                self.alarms[name] = factory.add_alarm(
                    name, metric=self.metric(metric_name, severity=severity, statistic="Maximum"),
                    threshold=minutes * 60, comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=1, datapoints_to_alarm=1, severity=Severity.LOW, role=AlarmRole.OUTCOME,
                    description=f"A {severity}-severity incident took more than {minutes:g} minutes to "
                    f"{kind.lower()} ({where}).",
                )  # fmt: skip
        self.alarms["OutcomesNotStarted"] = factory.add_alarm(
            "OutcomesNotStarted", metric=dead_letter_metric(self.dead_letter_queue), threshold=0,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=Severity.LOW, role=AlarmRole.AVAILABILITY,
            description="An alarm state change did not reach the incident-outcomes function: it is in its dead-letter queue.",
        )  # fmt: skip
        self.roled_alarms = tuple(factory.alarms)

    @staticmethod
    def _targets(targets: Mapping[Severity | str, OutcomeTarget]) -> dict[str, OutcomeTarget]:
        found = {}
        for severity, target in targets.items():
            if severity not in (Severity.HIGH, Severity.LOW):
                raise ConfigError(f"IncidentOutcomes 'targets' has the key {severity!r}: allowed are high and low.")
            if not isinstance(target, OutcomeTarget):
                raise ConfigError(
                    f"IncidentOutcomes 'targets' maps {severity!r} to {target!r}: allowed is an OutcomeTarget."
                )
            found[Severity(severity).value] = target
        return found

    def metric(
        self, name: str, *, severity: str, statistic: str = "Average", period: Duration = Duration.hours(1)
    ) -> cw.Metric:
        """An outcome metric (``outcomes_telemetry.SEVERITY_METRICS``) of one severity."""
        return cw.Metric(
            namespace=self.workload.metric_namespace,
            metric_name=name,
            dimensions_map={ot.DIM_SERVICE: self.workload.name, ot.DIM_SEVERITY: severity},
            statistic=statistic,
            period=period,
            label=f"{name} {severity} ({statistic})",
        )

    def metric_time_to_resolve(self, severity: str, **options: object) -> cw.Metric:
        """Seconds from ALARM to OK of ``severity``'s incidents."""
        return self.metric(ot.METRIC_TIME_TO_RESOLVE, severity=severity, **options)  # type: ignore[arg-type]

    def metric_time_to_detect(self, severity: str, **options: object) -> cw.Metric:
        """Seconds from the first breaching period to ALARM of ``severity``'s incidents."""
        return self.metric(ot.METRIC_TIME_TO_DETECT, severity=severity, **options)  # type: ignore[arg-type]

    def targets_text(self) -> str:
        """The targets as one line, for the dashboard and ``assess``."""
        return targets_text(self.targets)

    def widgets(self) -> list[cw.IWidget]:
        """The "Outcomes" dashboard section: time to detect and to resolve (daily average and maximum, minutes, with
        the targets), impact minutes and incidents per day and severity, and the targets in words."""
        if self.function is None:
            return []
        day = Duration.days(1)
        severities = (Severity.HIGH.value, Severity.LOW.value)
        graphs: list[cw.IWidget] = []
        for title, metric_name, kind in (("Time to detect", ot.METRIC_TIME_TO_DETECT, "detect_minutes"),
                                         ("Time to resolve", ot.METRIC_TIME_TO_RESOLVE, "resolve_minutes")):  # fmt: skip
            lines = [
                cw.MathExpression(
                    expression=f"{s}_{stat.lower()} / 60",  # seconds -> minutes; ids unique within the graph
                    using_metrics={
                        f"{s}_{stat.lower()}": self.metric(metric_name, severity=s, statistic=stat, period=day)
                    },
                    label=f"{s} {stat.lower()}",
                    period=day,
                )
                for s in severities
                for stat in ("Average", "Maximum")
            ]
            annotations = [
                cw.HorizontalAnnotation(value=minutes, label=f"{s} target {minutes:g} min")
                for s, target in self.targets.items()
                if (minutes := getattr(target, kind)) is not None
            ]
            graphs.append(cw.GraphWidget(title=f"{title} (minutes, per day)", left=lines,
                                         left_annotations=annotations or None, width=8, height=6))  # fmt: skip
        per_day = list(ot.SEVERITIES)
        graphs.append(
            cw.GraphWidget(
                title="Impact minutes and incidents per day",
                left=[self.metric(ot.METRIC_IMPACT_MINUTES, severity=s, statistic="Sum", period=day) for s in per_day],
                right=[self.metric(ot.METRIC_INCIDENTS, severity=s, statistic="Sum", period=day) for s in per_day],
                width=8,
                height=6,
            )
        )
        heading = f"Targets at Level {self.level}" if self.level else "Targets"
        text = cw.TextWidget(
            markdown=f"**{heading}:** {self.targets_text()}. Measured from the alarms' state changes (time to detect "
            "counts from the start of the first breaching period, so it includes up to one period of aggregation).",
            width=24,
            height=2,
        )
        return [text, *graphs]
