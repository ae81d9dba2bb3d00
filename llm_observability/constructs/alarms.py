"""Static-threshold alarms for an LLM workload, each notifying a topic on ALARM and on OK."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory, AlarmRole, Severity
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.left_out import leave_out
from llm_observability.thresholds import AlarmThresholds
from llm_observability.workload import Workload

HIGH, LOW = Severity.HIGH, Severity.LOW
MODEL_HEALTH, THROTTLING, LATENCY, AVAILABILITY = (
    AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING, AlarmRole.LATENCY, AlarmRole.AVAILABILITY
)  # fmt: skip


class LlmAlarms(Construct):
    """Alarms on Bedrock latency, errors and throttles, the app's success rate, Lambda and API health.

    Every alarm notifies ``topic`` when it goes to ALARM and when it returns to OK (or does what
    ``action`` says), and treats missing data as not breaching (no traffic is not an incident). Each
    carries a role and a severity (:attr:`roled_alarms`): Bedrock server errors are ``MODEL_HEALTH``,
    Bedrock throttles ``THROTTLING`` (the Level 3 failover acts on both), latencies ``LATENCY``, everything
    else ``AVAILABILITY``. Alarm names start with :attr:`name_prefix`. The success-rate alarm reads app metrics:
    it is built when ``workload.telemetry`` is ``runtime`` and otherwise listed in the stack's
    ``llm-observability:left-out`` warning.

    :param workload: the observed application.
    :param thresholds: Default: ``AlarmThresholds()``.
    :param metrics: metric factory to use. Default: ``BedrockMetrics(workload)``.
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the workload's
        topic or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``alarms`` (name -> alarm), ``roled_alarms`` (every alarm with its role and severity).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        thresholds: AlarmThresholds | None = None,
        metrics: BedrockMetrics | None = None,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.thresholds = th = thresholds or AlarmThresholds()
        f = AlarmFactory.notifying(
            self, owner="LlmAlarms", action=action, topic=topic or workload.alert_topic,
            evaluation_periods=th.evaluation_periods, datapoints_to_alarm=th.datapoints_to_alarm,
        )  # fmt: skip
        self.metrics = m = metrics or BedrockMetrics(workload)
        self.name_prefix = f.name_prefix
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(name: str, metric: cw.IMetric, threshold: float, comparison: cw.ComparisonOperator, severity: Severity,
                  role: AlarmRole, description: str) -> None:  # fmt: skip
            self.alarms[name] = f.add_alarm(name, metric=metric, threshold=threshold, comparison=comparison,
                                            severity=severity, role=role, description=description)  # fmt: skip

        above = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        for i, model_id in enumerate(workload.model_ids):
            suffix = "" if len(workload.model_ids) == 1 else str(i + 1)
            self.alarms.update(add_model_alarms(f, m, model_id, th, suffix=suffix))
        if workload.telemetry == "runtime":  # RequestSuccess/RequestFailure are app metrics
            alarm("SuccessRate", m.success_rate(), th.success_rate_floor_percent, cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                  HIGH, AVAILABILITY, f"Share of successful requests below {th.success_rate_floor_percent:g}%.")  # fmt: skip
        else:
            leave_out(self, "The SuccessRate alarm (app metrics)", "telemetry")
        # Lambda throttles are the function's own concurrency, not the model's quota: AVAILABILITY, not THROTTLING.
        for name, threshold, severity in (("Errors", th.lambda_errors, HIGH), ("Throttles", th.lambda_throttles, LOW)):
            for j, fn in enumerate(workload.functions):
                alarm(f"Lambda{name}{'' if j == 0 else j + 1}", m.lambda_metric(fn, name), threshold,
                      cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, severity, AVAILABILITY,
                      f"Lambda {name.lower()} of {fn.node.path} reached {threshold:g} per period.")  # fmt: skip
        api_5xx, api_latency = m.api_server_errors(), m.api_latency("p90")  # the REST or the HTTP API's stage
        if api_5xx is not None and api_latency is not None:
            alarm("Api5xx", api_5xx, th.api_5xx, above, HIGH, AVAILABILITY,
                  f"API Gateway 5XX responses above {th.api_5xx:g} per period.")  # fmt: skip
            alarm("ApiLatency", api_latency, th.api_latency_p90_ms, above, LOW, LATENCY,
                  f"API Gateway p90 latency above {th.api_latency_p90_ms:g} ms.")  # fmt: skip
        self.roled_alarms = tuple(f.alarms)  # each alarm with its role and severity, for Workload.with_alarms


def add_model_alarms(
    factory: AlarmFactory,
    metrics: BedrockMetrics,
    model_id: str,
    thresholds: AlarmThresholds,
    *,
    prefix: str = "Bedrock",
    suffix: str = "",
) -> dict[str, cw.Alarm]:
    """The four alarms on one model's AWS/Bedrock metrics (``<prefix>Latency<suffix>``, ``ClientErrors``,
    ``ServerErrors``, ``Throttles``), by name: the Level 1 set per model, and the fallback model's at Level 3."""
    th, m, above = thresholds, metrics, cw.ComparisonOperator.GREATER_THAN_THRESHOLD
    specs = (
        ("Latency", m.invocation_latency(model_id), th.bedrock_latency_p90_ms, HIGH, LATENCY,
         f"Bedrock p90 latency of {model_id} above {th.bedrock_latency_p90_ms:g} ms."),
        ("ClientErrors", m.invocation_client_errors(model_id), th.bedrock_client_errors, LOW, AVAILABILITY,
         f"Bedrock client errors of {model_id} (validation, access) above {th.bedrock_client_errors:g} per period."),
        ("ServerErrors", m.invocation_server_errors(model_id), th.bedrock_server_errors, HIGH, MODEL_HEALTH,
         f"Bedrock server errors of {model_id} above {th.bedrock_server_errors:g} per period."),
        ("Throttles", m.invocation_throttles(model_id), th.bedrock_throttles, HIGH, THROTTLING,
         f"Bedrock throttled {model_id} more than {th.bedrock_throttles:g} times per period."),
    )  # fmt: skip
    return {
        f"{prefix}{name}{suffix}": factory.add_alarm(
            f"{prefix}{name}{suffix}", metric=metric, threshold=threshold, comparison=above, severity=severity,
            role=role, description=description,
        )  # fmt: skip
        for name, metric, threshold, severity, role, description in specs
    }

