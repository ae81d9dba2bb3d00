"""Level 1, Foundation: the RAG reference application and its foundational observability."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Stack
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.alarms import LlmAlarms
from llm_observability.constructs.alert_topic import AlertTopic
from llm_observability.constructs.dashboard import LlmDashboard
from llm_observability.constructs.invocation_logging import InvocationLogging
from llm_observability.constructs.lambda_insights import FunctionInsights
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.rag_app import RagReferenceApp
from llm_observability.constructs.transaction_search import TransactionSearch
from llm_observability.constructs.vpc_endpoints import strict_network
from llm_observability.workload import Workload
from llm_observability.workload_facts import LogSchema, RequestContract, ThrottleLimits


class FoundationStack(Stack):
    """Level 1: the :class:`RagReferenceApp` observed by metrics, a dashboard, alarms and notifications.

    Provisions the reference app, an :class:`AlertTopic` (e-mail from ``alarm_email``),
    :class:`LlmAlarms`, an :class:`LlmDashboard` and, unless ``invocation_logging`` is off,
    :class:`InvocationLogging` and, unless ``transaction_search`` is off, :class:`TransactionSearch` (``create`` or
    ``adopt`` by ``transaction_search_existing``). :attr:`workload` (with its alert topic and every fact the reference
    app can feed: runtime telemetry, the reference log schema and request contract, the primary model, the stage's
    throttle limits) is what Levels 2 and 3 take. With ``health_alarm`` (the default) a second :class:`AlertTopic`,
    ``low_urgency_topic`` (e-mail from ``low_urgency_email``), is the workload's low-urgency topic: the alarms the
    health alarm (``stacks.health.add_health_alarm``) stops paging notify it. With ``lambda_insights``,
    :class:`FunctionInsights` adds CPU, memory and network per function and a dashboard section.

    :param config: validated settings. Default: ``ObservabilityConfig()``.
    :param stack_props: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: ObservabilityConfig | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.config = config = config or ObservabilityConfig()
        # Strict profile: every function of the stack in the VPC of the settings (standard: nothing).
        self.network = strict_network(self, config)
        self.app = RagReferenceApp(self, "RagApp", config=config)
        self.alert_topic = AlertTopic(self, "Alerts", email=config.alarm_email or None)
        self.low_urgency_topic: AlertTopic | None = None
        if config.health_alarm:  # what the member and low-severity alarms notify once the health alarm pages
            self.low_urgency_topic = AlertTopic(
                self, "LowUrgency", email=config.low_urgency_email or None,
                display_name="LLM observability notifications (low urgency)",
            )  # fmt: skip
        # The reference app feeds everything: its own metrics and log line, a canary contract, its stage's limits.
        workload = self.app.workload.with_alert_topic(self.alert_topic.topic, key=self.alert_topic.key).with_facts(
            telemetry="runtime",
            log_schema=LogSchema.reference(),
            request_contract=RequestContract.reference(),
            primary_model_id=config.model_id,
            prompt_logging=config.prompt_logging,
            throttle_limits=ThrottleLimits(
                rate_limit=config.api_throttle_rate_limit, burst_limit=config.api_throttle_burst_limit
            ),
        )
        if self.low_urgency_topic is not None:
            workload = workload.with_low_urgency_topic(self.low_urgency_topic.topic)
        self.metrics = BedrockMetrics(workload, prices=config.model_prices)
        self.alarms = LlmAlarms(self, "Alarms", workload=workload, thresholds=config.thresholds, metrics=self.metrics)
        self.workload: Workload = workload.with_alarms(self.alarms.roled_alarms)
        self.dashboard = LlmDashboard(
            self,
            "Dashboard",
            workload=self.workload,
            alarms=self.workload.alarms,
            metrics=self.metrics,
            success_rate_floor=self.alarms.thresholds.success_rate_floor_percent,
        )
        self.insights: FunctionInsights | None = None
        if config.lambda_insights:  # CPU, memory and network per invocation: 8 metrics per function, ~1 KB of logs
            self.insights = FunctionInsights(
                self, "LambdaInsights", workload=self.workload, log_group_mode=config.lambda_insights_log_group,
                log_retention_days=config.log_retention_days,
            )  # fmt: skip
            widgets = self.insights.widgets()  # none when every function was left out (imported, container images)
            if widgets:
                self.dashboard.add_section("Resource use (Lambda Insights)", widgets)
        self.invocation_logging: InvocationLogging | None = None
        if config.invocation_logging:
            self.invocation_logging = InvocationLogging(
                self,
                "InvocationLogging",
                # Text gets a key of its own (the construct's); metadata shares the app's log key.
                log_key=None if config.invocation_logging_text else self.app.log_key,
                retention_days=config.log_retention_days,
                s3_delivery=config.invocation_logging_s3,
                text_data=config.invocation_logging_text,
                existing_configuration=config.invocation_logging_existing,
            )
            self.workload = self.workload.with_invocation_log_group(self.invocation_logging.log_group)
        self.transaction_search: TransactionSearch | None = None
        if config.transaction_search:
            self.transaction_search = TransactionSearch(
                self,
                "TransactionSearch",
                mode=config.transaction_search_existing,
                indexing_percentage=config.transaction_search_indexing_percentage,
            )
        else:
            Annotations.of(self).add_info(
                "CloudWatch Transaction Search is left out (transaction_search=false): spans reach Transaction Search "
                "and the dashboard's span search only where the account has it on already."
            )
