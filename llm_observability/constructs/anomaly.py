"""CloudWatch anomaly-detection alarms on an LLM workload's latency, tokens, cost, errors and volume."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.config.bounds import ANOMALY_BAND_WIDTH
from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory, AlarmRole, Severity
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.workload import Workload

UPPER = cw.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD
OUTSIDE = cw.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD
HIGH, LOW = Severity.HIGH, Severity.LOW


@dataclass(frozen=True)
class AnomalySignal:
    """One metric watched by an anomaly band: what it is, how it may deviate, what about and how bad that is."""

    name: str
    metric: cw.IMetric
    comparison: cw.ComparisonOperator
    severity: Severity
    role: AlarmRole
    description: str


class AnomalyAlarms(Construct):
    """Anomaly-detection alarms: CloudWatch learns each metric's normal band (daily and weekly patterns
    included) and alarms when the metric leaves it, so no static threshold has to be guessed.

    Watched: Bedrock p90 latency, input and output tokens and invocation volume per model (volume
    both ways: a sudden drop is as suspicious as a spike), the application's estimated cost per hour
    per model and its error rate. Cost and error rate are metric math (the band is learned on the
    expression: the application's InputTokens/OutputTokens times the model's price, and
    RequestFailure/(RequestSuccess+RequestFailure)); a model without a known price is watched on its
    tokens per hour instead, with a synth warning. Each alarm notifies the topic on ALARM and on OK (or
    does what ``action`` says); the alarm's period is the metric's own (5 minutes, one hour for cost;
    aws-cdk issue 35579 is fixed in the pinned aws-cdk-lib and the tests check it). Roles: cost and
    input tokens ``COST`` (the Level 3 API throttle acts on them), latency ``LATENCY``, output tokens
    (verbosity) ``QUALITY``, volume and error rate ``AVAILABILITY``. Cost and error rate read app metrics: they
    are built when ``workload.telemetry`` is ``runtime``, otherwise listed in the stack's left-out warning.

    :param workload: the observed application.
    :param band_width: width of the expected band in standard deviations. Default: 2.
    :param evaluation_periods: periods looked at. Default: 3.
    :param datapoints_to_alarm: periods outside the band that raise the alarm. Default: 2.
    :param cost_period: aggregation period of the cost signal. Default: 1 hour.
    :param prices: US dollars per 1,000 input and output tokens by model id, merged over the built-in
        table (see :class:`BedrockMetrics`). Default: the built-in table.
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the workload's
        topic or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``signals``, ``alarms`` (name -> alarm), ``roled_alarms`` (every alarm with its role and severity).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        band_width: float = 2.0,
        evaluation_periods: int = 3,
        datapoints_to_alarm: int = 2,
        cost_period: Duration = Duration.hours(1),
        prices: Mapping[str, Mapping[str, float]] | None = None,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        ANOMALY_BAND_WIDTH.check("band_width", band_width, owner="AnomalyAlarms")
        if not 1 <= datapoints_to_alarm <= evaluation_periods:
            raise ConfigError(
                f"AnomalyAlarms 'datapoints_to_alarm' is {datapoints_to_alarm!r}: allowed is a whole number from 1 "
                f"to 'evaluation_periods' ({evaluation_periods})."
            )
        self.band_width = band_width
        m = BedrockMetrics(workload, prices=prices)
        hourly = BedrockMetrics(workload, period=cost_period, prices=prices)
        app = workload.telemetry == "runtime"  # cost and error rate are math over the app's own metrics
        if not app:
            leave_out(self, "The CostAnomaly and ErrorRateAnomaly alarms (app metrics)", "telemetry")
        elif unpriced := hourly.unpriced_models():
            Annotations.of(self).add_warning_v2(
                "llm-observability:anomaly-unpriced-model",
                f"AnomalyAlarms watches the tokens, not the cost, of {', '.join(unpriced)}: no price is known (a model "
                "id given as a token cannot be priced at synth); pass the price in 'prices'.",
            )
        per_hour = cost_period.to_human_string()
        signals: list[AnomalySignal] = []
        for i, model_id in enumerate(workload.model_ids):
            n = "" if len(workload.model_ids) == 1 else str(i + 1)
            cost = hourly.estimated_cost(model_id)
            signals += [
                AnomalySignal(f"LatencyAnomaly{n}", m.invocation_latency(model_id), UPPER, LOW, AlarmRole.LATENCY,
                              f"Bedrock p90 latency of {model_id} above its expected band."),
                AnomalySignal(f"InputTokensAnomaly{n}", m.input_token_count(model_id), UPPER, LOW, AlarmRole.COST,
                              f"Input tokens of {model_id} above their expected band (prompt growth, abuse)."),
                AnomalySignal(f"OutputTokensAnomaly{n}", m.output_token_count(model_id), UPPER, LOW, AlarmRole.QUALITY,
                              f"Output tokens of {model_id} above their expected band (verbosity drift)."),
                AnomalySignal(f"VolumeAnomaly{n}", m.invocations(model_id), OUTSIDE, LOW, AlarmRole.AVAILABILITY,
                              f"Invocations of {model_id} outside their expected band (spike or outage)."),
            ]  # fmt: skip
            signals += [
                AnomalySignal(f"CostAnomaly{n}", cost, UPPER, HIGH, AlarmRole.COST,
                              f"Estimated {model_id} spend per {per_hour} above its expected band.")
                if cost is not None else
                AnomalySignal(f"CostAnomaly{n}", hourly.total_tokens(model_id), UPPER, HIGH, AlarmRole.COST,
                              f"Tokens of {model_id} per {per_hour} (no price known) above their expected band."),
            ] if app else []  # fmt: skip
        if app:
            signals.append(
                AnomalySignal("ErrorRateAnomaly", m.error_rate(), UPPER, HIGH, AlarmRole.AVAILABILITY,
                              "Share of failed requests above its expected band.")
            )  # fmt: skip
        self.signals = signals
        factory = AlarmFactory.notifying(
            self, owner="AnomalyAlarms", action=action, topic=topic or workload.alert_topic,
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints_to_alarm,
        )  # fmt: skip
        self.alarms: dict[str, cw.AnomalyDetectionAlarm] = {}
        for s in signals:
            self.alarms[s.name] = factory.add_anomaly_alarm(
                s.name, metric=s.metric, std_devs=band_width, comparison=s.comparison, severity=s.severity,
                role=s.role, description=s.description,
            )  # fmt: skip
        self.roled_alarms = tuple(factory.alarms)  # each alarm with its role and severity, for Workload.with_alarms

    def band_widgets(self, *, width: int = 8) -> list[cw.GraphWidget]:
        """One graph per signal: the metric and its expected band (the dashboard's Level 2 section)."""
        return [
            cw.GraphWidget(
                title=f"{s.name}: {s.description.split(' above')[0].split(' outside')[0]}",
                left=[
                    s.metric,
                    cw.MathExpression(
                        expression=f"ANOMALY_DETECTION_BAND(m1, {self.band_width:g})",
                        using_metrics={"m1": s.metric},
                        label="expected band",
                        period=s.metric.period,
                    ),
                ],
                width=width,
                height=6,
            )
            for s in self.signals
        ]
