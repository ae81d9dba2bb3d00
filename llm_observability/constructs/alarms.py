"""Static-threshold alarms for an LLM workload, each notifying a topic on ALARM and on OK."""

from __future__ import annotations

from aws_cdk import Names
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.errors import ConfigError
from llm_observability.thresholds import AlarmThresholds
from llm_observability.workload import Workload

HIGH = "high"
LOW = "low"


class LlmAlarms(Construct):
    """Alarms on Bedrock latency, errors and throttles, the app's success rate, Lambda and API health.

    Every alarm notifies ``topic`` when it goes to ALARM and when it returns to OK, and treats missing
    data as not breaching (no traffic is not an incident). Alarm names start with
    :attr:`name_prefix`, so rules of higher levels can match them.

    :param workload: the observed application.
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of the two is required).
    :param thresholds: Default: ``AlarmThresholds()``.
    :param metrics: metric factory to use. Default: ``BedrockMetrics(workload)``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        topic: sns.ITopic | None = None,
        thresholds: AlarmThresholds | None = None,
        metrics: BedrockMetrics | None = None,
    ) -> None:
        super().__init__(scope, id)
        topic = topic or workload.alert_topic
        if topic is None:
            raise ConfigError("LlmAlarms 'topic' is missing: allowed is an SNS topic, here or as workload.alert_topic.")
        self.thresholds = thresholds = thresholds or AlarmThresholds()
        self.metrics = m = metrics or BedrockMetrics(workload)
        self.name_prefix = Names.unique_resource_name(self, max_length=48, separator="-")
        self._actions = [cw_actions.SnsAction(topic)]
        self.alarms: dict[str, cw.Alarm] = {}
        self.severity: dict[str, str] = {}

        above = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        for i, model_id in enumerate(workload.model_ids):
            suffix = "" if len(workload.model_ids) == 1 else str(i + 1)
            self._alarm(f"BedrockLatency{suffix}", m.invocation_latency(model_id), thresholds.bedrock_latency_p90_ms, above, HIGH,
                        f"Bedrock p90 latency of {model_id} above {thresholds.bedrock_latency_p90_ms:g} ms.")  # fmt: skip
            self._alarm(f"BedrockClientErrors{suffix}", m.invocation_client_errors(model_id), thresholds.bedrock_client_errors, above, LOW,
                        f"Bedrock client errors of {model_id} (validation, access) above {thresholds.bedrock_client_errors:g} per period.")  # fmt: skip
            self._alarm(f"BedrockServerErrors{suffix}", m.invocation_server_errors(model_id), thresholds.bedrock_server_errors, above, HIGH,
                        f"Bedrock server errors of {model_id} above {thresholds.bedrock_server_errors:g} per period.")  # fmt: skip
            self._alarm(f"BedrockThrottles{suffix}", m.invocation_throttles(model_id), thresholds.bedrock_throttles, above, HIGH,
                        f"Bedrock throttled {model_id} more than {thresholds.bedrock_throttles:g} times per period.")  # fmt: skip
        self._alarm("SuccessRate", m.success_rate(), thresholds.success_rate_floor_percent, cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    HIGH, f"Share of successful requests below {thresholds.success_rate_floor_percent:g}%.")  # fmt: skip
        for name, threshold, severity in (("Errors", thresholds.lambda_errors, HIGH), ("Throttles", thresholds.lambda_throttles, LOW)):
            for j, fn in enumerate(workload.functions):
                self._alarm(f"Lambda{name}{'' if j == 0 else j + 1}", m.lambda_metric(fn, name), threshold,
                            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, severity,
                            f"Lambda {name.lower()} of {fn.node.path} reached {threshold:g} per period.")  # fmt: skip
        api_5xx, api_latency = m.api("5XXError"), m.api("Latency", "p90")
        if api_5xx is not None and api_latency is not None:
            self._alarm("Api5xx", api_5xx, thresholds.api_5xx, above, HIGH,
                        f"API Gateway 5XX responses above {thresholds.api_5xx:g} per period.")  # fmt: skip
            self._alarm("ApiLatency", api_latency, thresholds.api_latency_p90_ms, above, LOW,
                        f"API Gateway p90 latency above {thresholds.api_latency_p90_ms:g} ms.")  # fmt: skip

    @property
    def high_severity(self) -> list[cw.Alarm]:
        """Alarms that warrant an incident (OpsItems at Level 2)."""
        return [a for name, a in self.alarms.items() if self.severity[name] == HIGH]

    def _alarm(
        self, name: str, metric: cw.IMetric, threshold: float, comparison: cw.ComparisonOperator, severity: str, description: str
    ) -> None:
        alarm = cw.Alarm(
            self,
            name,
            alarm_name=f"{self.name_prefix}-{name}",
            alarm_description=f"[{severity}] {description}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=self.thresholds.evaluation_periods,
            datapoints_to_alarm=self.thresholds.datapoints_to_alarm,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(*self._actions)
        alarm.add_ok_action(*self._actions)
        self.alarms[name] = alarm
        self.severity[name] = severity
