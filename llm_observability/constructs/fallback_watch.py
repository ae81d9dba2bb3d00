"""FallbackModelWatch: alarms and a dashboard on the model the Level 3 failover switches to."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory
from llm_observability.constructs.alarms import add_model_alarms
from llm_observability.constructs.dashboard import SectionedDashboard, graph
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.errors import ConfigError
from llm_observability.thresholds import AlarmThresholds
from llm_observability.workload import Workload


class FallbackModelWatch(Construct):
    """What watches the fallback model once the failover runbook has switched to it.

    The Level 1 alarms and dashboard watch the Workload's ``model_ids``; after a failover the application calls
    ``fallback_model_id`` instead, which they do not name. This construct gives that model the same four alarms
    (``FallbackLatency``, ``FallbackClientErrors``, ``FallbackServerErrors``, ``FallbackThrottles`` on its
    AWS/Bedrock metrics, with the Level 1 thresholds) and a dashboard: its invocations, latency, errors and
    throttles, beside the primary model's, and the state of its alarms. The alarms are not in the Workload's
    alarms, so they never start the failover runbook themselves.

    :param workload: the observed application (its alert topic, when ``topic`` and ``action`` are not given).
    :param fallback_model_id: the model the failover runbook switches to.
    :param thresholds: Default: ``AlarmThresholds()`` (the Level 1 defaults).
    :param topic: where the alarms notify. Default: ``workload.alert_topic``.
    :param action: what the alarms do instead of notifying ``topic``. Default: none.
    :raises ConfigError: ``fallback_model_id`` is empty or one of the workload's own models.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        fallback_model_id: str,
        thresholds: AlarmThresholds | None = None,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        if not isinstance(fallback_model_id, str) or not fallback_model_id:
            raise ConfigError(
                f"FallbackModelWatch 'fallback_model_id' is {fallback_model_id!r}: allowed is a Bedrock model id."
            )
        if fallback_model_id in workload.model_ids:
            raise ConfigError(
                f"FallbackModelWatch 'fallback_model_id' is {fallback_model_id!r}, one of the workload's model_ids "
                "(watched at Level 1 already): allowed is another model."
            )
        super().__init__(scope, id)
        th = thresholds or AlarmThresholds()
        factory = AlarmFactory.notifying(
            self, owner="FallbackModelWatch", action=action, topic=topic or workload.alert_topic,
            evaluation_periods=th.evaluation_periods, datapoints_to_alarm=th.datapoints_to_alarm,
        )  # fmt: skip
        metrics = BedrockMetrics(workload)
        self.fallback_model_id = fallback_model_id
        self.alarms: dict[str, cw.Alarm] = add_model_alarms(factory, metrics, fallback_model_id, th, prefix="Fallback")
        self.dashboard = SectionedDashboard(self, "Dashboard", workload=workload, title="LLM observability, Level 3")
        primary = workload.primary_model_id or workload.model_ids[0]
        self.dashboard.add_section(
            f"Fallback model {fallback_model_id} (after a failover from {primary})",
            [
                graph("Invocations: fallback and primary", [metrics.invocations(fallback_model_id), metrics.invocations(primary)]),
                graph("Latency p90 (ms): fallback and primary",
                      [metrics.invocation_latency(fallback_model_id), metrics.invocation_latency(primary)],
                      floor=th.bedrock_latency_p90_ms),
                graph("Fallback errors and throttles",
                      [metrics.invocation_server_errors(fallback_model_id), metrics.invocation_client_errors(fallback_model_id),
                       metrics.invocation_throttles(fallback_model_id)]),
                cw.AlarmStatusWidget(title="Fallback model alarms", alarms=list(self.alarms.values()), width=24, height=3),
            ],
        )  # fmt: skip
