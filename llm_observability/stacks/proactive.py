"""Level 2, Proactive: anomaly detection, log intelligence, compliance, cost control, incidents."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.alarm_factory import (
    AlarmFactory,
    AlarmRole,
    Severity,
    multiple_alarm_actions,
    ops_item_alarm_action,
    sns_alarm_action,
)
from llm_observability.constructs.anomaly import AnomalyAlarms
from llm_observability.constructs.compliance import RULE_RETENTION_DAYS, ComplianceBaseline
from llm_observability.constructs.cost_guard import CostGuard
from llm_observability.constructs.dashboard import SectionedDashboard
from llm_observability.constructs.log_intelligence import LogIntelligence
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.quality_canary import QualityCanary
from llm_observability.constructs.queries import (
    ERRORS_BY_CLASS,
    GUARDRAIL_INTERVENTIONS,
    TOKENS_BY_PROMPT_VERSION,
    errors_by_class,
    requests_by_model,
)
from llm_observability.constructs.tenant_usage import TenantUsage
from llm_observability.constructs.vpc_endpoints import strict_network
from llm_observability.errors import ConfigError
from llm_observability.functions.quality_canary import canary_telemetry as ct
from llm_observability.left_out import leave_out
from llm_observability.runtime import telemetry as t
from llm_observability.stacks.evaluation import add_evaluation
from llm_observability.workload import Workload


class ProactiveStack(Stack):
    """Level 2: takes any :class:`Workload` (Level 1's or yours) and adds proactive observability.

    Provisions :class:`AnomalyAlarms`, :class:`LogIntelligence`, :class:`ComplianceBaseline`,
    :class:`CostGuard`, :class:`TenantUsage` (unless ``tenant_insights`` is off), a Level 2 dashboard with the
    anomaly bands, and OpsCenter OpsItems for every high-severity alarm of Level 1 and Level 2: Level 2's alarms
    notify the topic and open OpsItems through one action strategy
    (:class:`~llm_observability.constructs.alarm_factory.OpsItemAlarmActionStrategy` composed with SNS), and the
    same OpsItem strategy is bound to the workload's high-severity alarms. OpsCenter is where "enhanced incident
    management" lives now that Incident Manager is closed to new customers. :attr:`workload` carries Level 1's and
    Level 2's alarms with their roles.

    Real traffic is evaluated (``stacks.evaluation``): an :class:`OnlineJudge` scores a sample of answers, a
    :class:`FeedbackLoop` ties ratings to the model and prompt version that answered, :class:`OutputDrift` compares
    yesterday's answers with a trailing baseline, and :class:`IncidentOutcomes` measures time to detect and resolve
    every alarm of Level 1 and 2 against the level's targets (``outcome_targets``; stricter at Level 3).

    Only what the workload can feed is built: :class:`LogIntelligence` with ``log_groups`` (its filters and queries
    from ``log_schema``), the :class:`QualityCanary` with a ``request_contract``, anomaly bands and widgets on app
    metrics with ``telemetry="runtime"``. The rest is listed in one synth warning on this stack
    (``llm-observability:left-out``).

    :param workload: the observed application; it must carry an alert topic.
    :param config: validated settings. Default: ``ObservabilityConfig(level=2)``.
    :param stack_props: passed to :class:`aws_cdk.Stack`.
    """

    def __init__(
        self, scope: Construct, id: str, *, workload: Workload, config: ObservabilityConfig | None = None, **stack_props: Any
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.config = config = config or ObservabilityConfig(level=2)
        # Strict profile: every function of the stack in the VPC of the settings (standard: nothing).
        self.network = strict_network(self, config)
        if workload.alert_topic is None:
            raise ConfigError("ProactiveStack 'workload.alert_topic' is missing: allowed is a workload with an SNS topic.")
        ops_items = ops_item_alarm_action()
        for roled in workload.roled_alarms:  # Level 1's alarms: OpsItems for the high-severity ones
            ops_items.bind(roled.alarm, roled.severity)
        action = multiple_alarm_actions(sns_alarm_action(workload.alert_topic), ops_items)
        self.anomalies = AnomalyAlarms(
            self, "Anomalies", workload=workload, action=action, band_width=config.anomaly_band_width,
            prices=config.model_prices,
        )  # fmt: skip
        self.log_intelligence: LogIntelligence | None = None
        if workload.log_groups:
            self.log_intelligence = LogIntelligence(self, "LogIntelligence", workload=workload, action=action)
        else:
            leave_out(self, "Log intelligence (log anomaly detector, saved queries, log-pattern alarms)", "log_groups")
        self.cost_guard = CostGuard(
            self,
            "CostGuard",
            topic=workload.alert_topic,
            topic_key=workload.alert_topic_key,
            monthly_budget_usd=config.monthly_budget_usd,
            warning_percent=config.budget_warning_percent,
            services=config.budget_services,
            anomaly_monitor_arn=config.cost_anomaly_monitor_arn or None,
            anomaly_threshold_usd=config.cost_anomaly_threshold_usd,
        )
        self.compliance = ComplianceBaseline(
            self,
            "Compliance",
            security_hub=config.security_hub,
            standards=config.security_standards,
            config_recorder=config.config_recorder,
            cloudtrail=config.cloudtrail,
            # The rule flags log groups kept for less than the app keeps its own.
            min_log_retention_days=max(d for d in RULE_RETENTION_DAYS if d <= config.log_retention_days),
            topic=workload.alert_topic,
            topic_key=workload.alert_topic_key,
        )
        self.quality: QualityCanary | None = None
        if not workload.functions:
            leave_out(self, "The quality canary", "functions", "pass the function that answers requests")
        elif workload.request_contract is None:
            leave_out(self, "The quality canary (golden-set scores, quality-drop, drift and refusal alarms)",
                      "request_contract")  # fmt: skip
        else:
            self.quality = QualityCanary(
                self,
                "QualityCanary",
                workload=workload,
                action=action,
                schedule=Duration.minutes(config.quality_canary_minutes),
                rouge_l_floor=config.quality_rouge_l_floor,
                band_width=config.anomaly_band_width,
                log_retention_days=config.log_retention_days,
                powertools_layer_version=config.powertools_layer_version,
            )
        self.tenant_usage: TenantUsage | None = None
        if config.tenant_insights:  # top tenants by tokens, requests and errors per model: a fixed cost per rule
            self.tenant_usage = TenantUsage(self, "TenantUsage", workload=workload)
        else:
            Annotations.of(self).add_info(
                "Per-tenant usage (Contributor Insights rules) is left out (tenant_insights=false)."
            )
        metrics = BedrockMetrics(workload, prices=config.model_prices)
        guardrail_alarms = AlarmFactory(self, action=action)
        self.guardrail_alarm: cw.Alarm | None = None
        if workload.guardrail_arn:
            self.guardrail_alarm = guardrail_alarms.add_alarm(
                "GuardrailInterventionRate",
                metric=metrics.guardrail_intervention_rate(),
                threshold=20,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                severity=Severity.LOW,
                role=AlarmRole.QUALITY,
                description="The guardrail intervened in more than 20% of invocations: an attack, or a filter too strict.",
            )
        level2 = [
            *self.anomalies.roled_alarms,
            *(self.log_intelligence.roled_alarms if self.log_intelligence else ()),
            *(self.quality.roled_alarms if self.quality else ()),
            *guardrail_alarms.alarms,
        ]
        # Real traffic judged, rated and compared with its baseline; incidents measured against the level's targets.
        self.evaluation = add_evaluation(self, workload=workload.with_alarms(level2), config=config, action=action)
        level2 += self.evaluation.roled_alarms
        level2_alarms = [r.alarm for r in level2]

        self.dashboard = SectionedDashboard(self, "Dashboard", workload=workload, title="LLM observability, Level 2")
        self.dashboard.add_section("Alarms", [cw.AlarmStatusWidget(alarms=level2_alarms, width=24, height=4)], per_row=1)
        self.dashboard.add_section("Anomaly bands", self.anomalies.band_widgets())
        if self.log_intelligence and self.log_intelligence.metrics:
            self.dashboard.add_section(
                "Log patterns",
                [
                    cw.GraphWidget(title=name, left=[metric], width=8, height=6)
                    for name, metric in self.log_intelligence.metrics.items()
                ],
            )
        quality_widgets = self._quality_widgets(workload, metrics)
        if quality_widgets:
            self.dashboard.add_section("Output quality, prompt effectiveness and human feedback", quality_widgets)
        for title, widgets in self.evaluation.sections:
            self.dashboard.add_section(title, widgets)
        logs_queries = self._logs_queries(workload)
        if logs_queries:
            groups = [g.log_group_name for g in workload.log_groups]
            self.dashboard.add_section(
                "Logs Insights",
                [
                    cw.LogQueryWidget(title=title, log_group_names=groups, query_string=query, width=8, height=6)
                    for title, query in logs_queries
                ],
            )
        self.workload = workload.with_alarms(level2)

    def _logs_queries(self, workload: Workload) -> list[tuple[str, str]]:
        """The Logs Insights widgets (title, query) the workload's log schema can feed."""
        schema = workload.log_schema
        if not workload.log_groups or schema is None:
            return []  # LogIntelligence (or its absence) already lists what the logs cannot feed
        if not schema.is_reference:
            return [("Errors by class", errors_by_class(schema)), ("Requests by model", requests_by_model(schema))]
        return [
            ("Errors by class", ERRORS_BY_CLASS),
            ("Token usage by prompt version", TOKENS_BY_PROMPT_VERSION),
            ("Guardrail interventions", GUARDRAIL_INTERVENTIONS),
        ]

    def _quality_widgets(self, workload: Workload, metrics: BedrockMetrics) -> list[cw.IWidget]:
        """The seed's "advanced LLM metrics": quality per model and prompt version, drift, feedback, guardrail."""
        hour = Duration.hours(1)
        widgets: list[cw.IWidget] = []
        if self.quality:
            widgets += [
                cw.GraphWidget(title="Golden-set ROUGE-L by model and prompt version",
                               left=[self.quality.by_version(ct.METRIC_ROUGE_L)], width=8, height=6),
                cw.GraphWidget(title="Golden-set BLEU and token F1 by model and prompt version",
                               left=[self.quality.by_version(ct.METRIC_BLEU)],
                               right=[self.quality.by_version(ct.METRIC_TOKEN_F1)], width=8, height=6),
                cw.GraphWidget(
                    title="Quality drift: ROUGE-L and its expected band",
                    left=[
                        self.quality.metrics[ct.METRIC_ROUGE_L],
                        cw.MathExpression(
                            expression=f"ANOMALY_DETECTION_BAND(m1, {self.quality.band_width:g})",
                            using_metrics={"m1": self.quality.metrics[ct.METRIC_ROUGE_L]},
                            label="expected band",
                            period=self.quality.metrics[ct.METRIC_ROUGE_L].period,
                        ),
                    ],
                    width=8, height=6,
                ),
                cw.GraphWidget(title="Refusal rate and answer length (golden set)",
                               left=[self.quality.metrics[ct.METRIC_REFUSAL_RATE]],
                               right=[self.quality.metrics[ct.METRIC_ANSWER_LENGTH]], width=8, height=6),
            ]  # fmt: skip
        if workload.telemetry != "runtime":
            leave_out(self, "Level 2 dashboard widgets on app metrics (prompt effectiveness, feedback, guardrail "
                      "scores, prompt and model lookups)", "telemetry")  # fmt: skip
            return widgets
        widgets += [
            # The {service, PromptVersion} series the RAG function emits; cost per version is in the
            # "Token usage by prompt version" Logs Insights widget (the log line carries estimated_cost_usd).
            cw.GraphWidget(
                title="Prompt effectiveness: successes and input/output tokens (avg) per prompt version",
                left=[metrics.by_prompt_version(t.METRIC_REQUEST_SUCCESS, period=hour)],
                right=[metrics.by_prompt_version(name, statistic="Average", period=hour)
                       for name in (t.METRIC_INPUT_TOKENS, t.METRIC_OUTPUT_TOKENS)],
                width=8, height=6,
            ),
            cw.GraphWidget(
                title="Human feedback (score 1-5) and volume",
                left=[metrics.feedback_score()],
                right=[metrics.feedback_count()],
                width=8, height=6,
            ),
        ]  # fmt: skip
        if workload.guardrail_arn:
            widgets += [
                cw.GraphWidget(
                    title="Guardrail: intervention rate (AWS/Bedrock/Guardrails) and grounding",
                    left=[metrics.guardrail_intervention_rate()],
                    right=[
                        metrics.app(t.METRIC_GUARDRAIL_GROUNDING_SCORE, statistic="Average", label="grounding (avg)"),
                        metrics.app(t.METRIC_GUARDRAIL_RELEVANCE_SCORE, statistic="Average", label="relevance (avg)"),
                    ],
                    width=8, height=6,
                ),
                cw.GraphWidget(
                    title="Guardrail interventions by policy",
                    left=[metrics.app(t.METRIC_GUARDRAIL_POLICY_INTERVENED, label=p, **{t.DIM_GUARDRAIL_POLICY: p})
                          for p in t.GUARDRAIL_POLICIES],
                    width=8, height=6,
                ),
            ]  # fmt: skip
        if workload.prompt_parameter_name:
            widgets.append(
                cw.GraphWidget(title="Prompt and model lookups failing (fallback in use)",
                               left=[metrics.app(t.METRIC_PROMPT_LOOKUP_FAILURE), metrics.app(t.METRIC_MODEL_LOOKUP_FAILURE)],
                               width=8, height=6)
            )  # fmt: skip
        return widgets
