"""Cross-account alarms of one region in the monitoring account and the estate composite, the one that notifies.

Per model, one Metrics Insights query covers every linked account (a metric-math alarm reads at most 10 metrics). An
alarm takes one Metrics Insights query, not several combined arithmetically (AWS documents single-query alarms only;
a deployment combining two was refused with "Invalid metrics list", as a public CDK project records), so the
estimated cost, input tokens x price + output tokens x price, is a metric-math alarm over the source accounts' own
token metrics, built only while it needs at most 10 (sources: ``limits``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import cast

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.constructs.alarm_factory import AlarmFactory, AlarmRole, RoledAlarm, Severity
from llm_observability.constructs.metrics import (
    DEFAULT_PERIOD,
    INVOCATION_SERVER_ERRORS,
    INVOCATION_THROTTLES,
    BedrockMetrics,
)
from llm_observability.constructs.monitoring.limits import (
    MAX_ALARM_RULE_CHARS,
    MAX_METRICS_INSIGHTS_ALARMS_PER_REGION,
    MAX_METRICS_PER_MATH_ALARM,
    METRICS_INSIGHTS_ALARM_WINDOW,
)
from llm_observability.constructs.monitoring.sources import (
    EstateSource,
    at_source,
    check_sources,
    metrics_insights,
)
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.runtime import telemetry as t
from llm_observability.thresholds import AlarmThresholds

_NOT_ID = re.compile(r"[^A-Za-z0-9.:_-]+")


def _usd(value: float) -> str:
    """``value`` as a plain decimal for metric math (``0.00006``, never ``6e-05``)."""
    return format(Decimal(repr(float(value))), "f")


def rule_length(alarm_names: Sequence[str]) -> int:
    """The longest a composite rule ``(ALARM("<arn>") OR ...)`` over alarms of these names can be (any partition,
    region and account)."""
    arn = 'ALARM("arn:aws-us-gov:cloudwatch:us-gov-west-1:123456789012:alarm:")'
    return sum(len(arn) + len(name) for name in alarm_names) + len(" OR ") * max(len(alarm_names) - 1, 0) + 2


class _NoAction:
    """The member alarms' action strategy: none (the estate composite is the only alarm that notifies)."""

    def bind(self, alarm: cw.IAlarm, severity: Severity) -> None:
        return None


class EstateAlarms(Construct):
    """Cross-account alarms of one region in the monitoring account, and the estate composite over them.

    Per model id of the region's sources, across every linked account (one Metrics Insights query each): Bedrock
    throttles (``THROTTLING``) and server errors (``MODEL_HEALTH``); with ``cost_threshold_usd_per_hour``, the
    estimated Bedrock cost of all sources per hour (``COST``): their token metrics times the models' prices, a
    metric-math alarm, built only while it reads at most 10 metrics (2 per source and priced model). All are high
    severity and notify nothing: the estate composite (any of them in ALARM) is the one alarm that notifies ``topic``.

    :param sources: the workloads to watch (all of this stack's region; one or more).
    :param topic: where the composite notifies, on ALARM and OK. Default: none (the composite has no action and a synth
        warning says so).
    :param cost_threshold_usd_per_hour: alarm when the estate's estimated Bedrock cost passes this many US dollars in an
        hour. Default: none (no cost alarm).
    :param thresholds: the throttle and server-error thresholds per period (``bedrock_throttles``,
        ``bedrock_server_errors``) and the periods evaluated. Default: ``AlarmThresholds()``.
    :param prices: US dollars per 1,000 input and output tokens by model id, over the built-in table. Default: the
        built-in table.

    Attributes: ``alarms`` (each with its role and severity), ``composite``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sources: Sequence[EstateSource],
        topic: sns.ITopic | None = None,
        cost_threshold_usd_per_hour: float | None = None,
        thresholds: AlarmThresholds | None = None,
        prices: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        if cost_threshold_usd_per_hour is not None and (
            isinstance(cost_threshold_usd_per_hour, bool)
            or not isinstance(cost_threshold_usd_per_hour, (int, float))
            or not cost_threshold_usd_per_hour > 0
        ):
            raise ConfigError(
                f"EstateAlarms 'cost_threshold_usd_per_hour' is {cost_threshold_usd_per_hour!r}: allowed is None or a "
                "number of US dollars above 0."
            )
        if thresholds is not None and not isinstance(thresholds, AlarmThresholds):
            raise ConfigError(f"EstateAlarms 'thresholds' is {thresholds!r}: allowed is None or an AlarmThresholds.")
        th = thresholds or AlarmThresholds()
        window = DEFAULT_PERIOD.to_seconds() * th.evaluation_periods
        if window > METRICS_INSIGHTS_ALARM_WINDOW.to_seconds():
            raise ConfigError(
                f"EstateAlarms 'thresholds.evaluation_periods' is {th.evaluation_periods}: allowed are at most "
                f"{int(METRICS_INSIGHTS_ALARM_WINDOW.to_seconds() // DEFAULT_PERIOD.to_seconds())} periods of 5 "
                "minutes, since Metrics Insights alarms evaluate the latest 3 hours only."
            )
        super().__init__(scope, id)
        self.sources = check_sources("EstateAlarms", self, sources)
        factory = AlarmFactory(
            self,
            action=_NoAction(),
            evaluation_periods=th.evaluation_periods,
            datapoints_to_alarm=th.datapoints_to_alarm,
        )
        models = tuple(dict.fromkeys(m for s in self.sources for m in s.model_ids))
        keys: dict[str, str] = {}
        for model_id in models:
            key = _NOT_ID.sub("-", model_id)
            keys[model_id] = key if key not in keys.values() else f"{key}-{len(keys)}"
        for model_id in models:
            key = keys[model_id]
            factory.add_alarm(
                f"Throttles-{key}",
                metric=metrics_insights(INVOCATION_THROTTLES, model_id, label=f"throttles {model_id}, all accounts"),
                threshold=th.bedrock_throttles,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                severity=Severity.HIGH,
                role=AlarmRole.THROTTLING,
                description=(
                    f"Bedrock throttled {model_id} more than {th.bedrock_throttles:g} times per period across the "
                    "region's linked accounts."
                ),
            )
            factory.add_alarm(
                f"ServerErrors-{key}",
                metric=metrics_insights(
                    INVOCATION_SERVER_ERRORS, model_id, label=f"server errors {model_id}, all accounts"
                ),
                threshold=th.bedrock_server_errors,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                severity=Severity.HIGH,
                role=AlarmRole.MODEL_HEALTH,
                description=(
                    f"Bedrock server errors of {model_id} above {th.bedrock_server_errors:g} per period across the "
                    "region's linked accounts."
                ),
            )
        insights = len(factory.alarms)
        if insights > MAX_METRICS_INSIGHTS_ALARMS_PER_REGION:
            Annotations.of(self).add_warning_v2(
                "llm-observability:metrics-insights-alarm-quota",
                f"EstateAlarms makes {insights} Metrics Insights alarms: the default quota is "
                f"{MAX_METRICS_INSIGHTS_ALARMS_PER_REGION} per account and region; request an increase before "
                "deploying.",
            )
        if cost_threshold_usd_per_hour is None:
            leave_out(self, "The estate's estimated-cost alarm", "cost_threshold_usd_per_hour",
                      "pass EstateAlarms(cost_threshold_usd_per_hour=...)", source="setting")  # fmt: skip
        else:
            self._cost_alarm(factory, cost_threshold_usd_per_hour, prices)
        self.alarms: list[RoledAlarm] = list(factory.alarms)
        self.composite = self._composite(factory.name_prefix, topic)

    def _cost_alarm(
        self, factory: AlarmFactory, threshold: float, prices: Mapping[str, Mapping[str, float]] | None
    ) -> None:
        """The estimated cost of every source per hour: a metric-math alarm over the sources' token metrics."""
        terms: list[str] = []
        using: dict[str, cw.IMetric] = {}
        unpriced: list[str] = []
        for source in self.sources:
            m = BedrockMetrics(source.workload(), period=Duration.hours(1), prices=prices)
            unpriced += [f"{model} ({source.workload_name}, {source.account})" for model in m.unpriced_models()]
            for model_id in source.model_ids:
                price = m.price_of(model_id)
                if price is None:
                    continue
                n = len(terms)
                using[f"i{n}"] = at_source(m.tokens(t.METRIC_INPUT_TOKENS, model_id), source)
                using[f"o{n}"] = at_source(m.tokens(t.METRIC_OUTPUT_TOKENS, model_id), source)
                terms.append(
                    f"FILL(i{n}, 0) * {_usd(price['input_per_1k'])} + FILL(o{n}, 0) * {_usd(price['output_per_1k'])}"
                )
        if unpriced:
            Annotations.of(self).add_warning_v2(
                "llm-observability:estate-unpriced-model",
                f"EstateAlarms leaves out of the estimated cost {', '.join(unpriced)}: no price is known; pass "
                "prices={model id: {...}}.",
            )
        if not terms or len(using) > MAX_METRICS_PER_MATH_ALARM:
            leave_out(
                self, "The estate's estimated-cost alarm", "cost_threshold_usd_per_hour",
                f"it would read {len(using)} token metrics (2 per source and priced model), a metric-math alarm reads "
                f"1 to {MAX_METRICS_PER_MATH_ALARM} and a Metrics Insights alarm one query, not input and output "
                "tokens with their prices; alarm on cost in each account (CostGuard budgets and anomaly detection) "
                "instead",
                source="setting",
            )  # fmt: skip
            return
        cost = cw.MathExpression(
            expression=f"({' + '.join(terms)}) / 1000", using_metrics=using, label="estimated USD per hour",
            period=Duration.hours(1),
        )  # fmt: skip
        factory.add_alarm(
            "EstimatedCost",
            metric=cost,
            threshold=threshold,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            severity=Severity.HIGH,
            role=AlarmRole.COST,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            description=f"Estimated Bedrock cost of the region's workloads above {threshold:g} USD in an hour.",
        )

    def _composite(self, prefix: str, topic: sns.ITopic | None) -> cw.CompositeAlarm:
        alarms = [r.alarm for r in self.alarms]
        length = rule_length([cast(cw.CfnAlarm, a.node.default_child).alarm_name or "" for a in alarms])
        if length > MAX_ALARM_RULE_CHARS:
            raise ConfigError(
                f"EstateAlarms 'sources' call {len(alarms) // 2} models: allowed are as many as keep the estate "
                f"composite's rule (one ALARM(<arn>) per member alarm) within {MAX_ALARM_RULE_CHARS} characters."
            )
        composite = cw.CompositeAlarm(
            self,
            "Estate",
            composite_alarm_name=f"{prefix}-estate",
            alarm_description=(
                f"[{Severity.HIGH.value}] The LLM estate of this region needs attention: "
                "Bedrock throttling, server errors or cost across the linked accounts (see the member alarms)."
            ),
            alarm_rule=cw.AlarmRule.any_of(*(cw.AlarmRule.from_alarm(a, cw.AlarmState.ALARM) for a in alarms)),
        )
        if topic is None:
            leave_out(self, "Notifications of the estate composite alarm", "topic",
                      "pass EstateAlarms(topic=...), e.g. an AlertTopic with the 'monitoring' setting's alarm_email",
                      source="setting")  # fmt: skip
        else:
            action = cw_actions.SnsAction(topic)
            composite.add_alarm_action(action)
            composite.add_ok_action(action)
        return composite
