"""Level 2, Proactive: anomaly detection, log intelligence, compliance, cost control, incidents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.anomaly import AnomalyAlarms
from llm_observability.constructs.compliance import RULE_RETENTION_DAYS, ComplianceBaseline
from llm_observability.constructs.cost_guard import CostGuard
from llm_observability.constructs.dashboard import SectionedDashboard
from llm_observability.constructs.log_intelligence import LogIntelligence
from llm_observability.constructs.queries import ERRORS_BY_CLASS, GUARDRAIL_INTERVENTIONS, TOKENS_BY_PROMPT_VERSION
from llm_observability.errors import ConfigError
from llm_observability.workload import Workload


def open_ops_items(alarms: Sequence[cw.IAlarm]) -> None:
    """Make each alarm also open a Systems Manager OpsCenter OpsItem (high severity) when it fires.

    OpsCenter is where the maturity model's "enhanced incident management" lives now that AWS
    Systems Manager Incident Manager is closed to new customers.
    """
    action = cw_actions.SsmAction(cw_actions.OpsItemSeverity.HIGH, cw_actions.OpsItemCategory.AVAILABILITY)
    for alarm in alarms:
        if not isinstance(alarm, cw.Alarm | cw.AnomalyDetectionAlarm):
            raise ConfigError(
                f"Workload alarm {alarm.node.path} is imported: allowed are alarms defined in this app, "
                "so that an OpsItem action can be added."
            )
        alarm.add_alarm_action(action)


class ProactiveStack(Stack):
    """Level 2: takes any :class:`Workload` (Level 1's or yours) and adds proactive observability.

    Provisions :class:`AnomalyAlarms`, :class:`LogIntelligence`, :class:`ComplianceBaseline`,
    :class:`CostGuard`, a Level 2 dashboard with the anomaly bands, and OpsCenter OpsItems for every
    high-severity alarm of Level 1 and Level 2.

    :param workload: the observed application; it must carry an alert topic.
    :param config: validated settings. Default: ``ObservabilityConfig(level=2)``.
    :param stack_props: passed to :class:`aws_cdk.Stack`.
    """

    def __init__(
        self, scope: Construct, id: str, *, workload: Workload, config: ObservabilityConfig | None = None, **stack_props: Any
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.config = config = config or ObservabilityConfig(level=2)
        if workload.alert_topic is None:
            raise ConfigError("ProactiveStack 'workload.alert_topic' is missing: allowed is a workload with an SNS topic.")
        self.anomalies = AnomalyAlarms(self, "Anomalies", workload=workload, band_width=config.anomaly_band_width)
        self.log_intelligence = LogIntelligence(self, "LogIntelligence", workload=workload)
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
            alert_topic=workload.alert_topic,
            alert_topic_key=workload.alert_topic_key,
        )
        level2_alarms = [*self.anomalies.alarms.values(), *self.log_intelligence.alarms.values()]
        open_ops_items([*workload.high_severity_alarms, *self.anomalies.high_severity])

        self.dashboard = SectionedDashboard(self, "Dashboard", workload=workload, title="LLM observability, Level 2")
        self.dashboard.add_section("Alarms", [cw.AlarmStatusWidget(alarms=level2_alarms, width=24, height=4)], per_row=1)
        self.dashboard.add_section("Anomaly bands", self.anomalies.band_widgets())
        self.dashboard.add_section(
            "Log patterns",
            [
                cw.GraphWidget(title=name, left=[metric], width=8, height=6)
                for name, metric in self.log_intelligence.metrics.items()
            ],
        )
        groups = [g.log_group_name for g in workload.log_groups]
        self.dashboard.add_section(
            "Logs Insights",
            [
                cw.LogQueryWidget(title=title, log_group_names=groups, query_string=query, width=8, height=6)
                for title, query in (
                    ("Errors by class", ERRORS_BY_CLASS),
                    ("Token usage by prompt version", TOKENS_BY_PROMPT_VERSION),
                    ("Guardrail interventions", GUARDRAIL_INTERVENTIONS),
                )
            ],
        )
        self.workload = workload.with_alarms(level2_alarms, high_severity=self.anomalies.high_severity)
