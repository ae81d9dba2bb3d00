"""Reusable constructs; each one usable alone in any CDK app (imported on first use, see ``_lazy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_observability._lazy import lazy_exports

if TYPE_CHECKING:  # the real types for mypy and IDEs; at run time the names are imported on first use
    from llm_observability.constructs._common import encrypted_log_group, log_encryption_key, powertools_layer
    from llm_observability.constructs.aiops import CodeGuruProfiling, DevOpsGuruCoverage
    from llm_observability.constructs.alarm_factory import (
        AlarmActionStrategy,
        AlarmFactory,
        AlarmRole,
        MultipleAlarmActionStrategy,
        OpsItemAlarmActionStrategy,
        RoledAlarm,
        Severity,
        SnsAlarmActionStrategy,
        multiple_alarm_actions,
        ops_item_alarm_action,
        select_alarms,
        sns_alarm_action,
    )
    from llm_observability.constructs.alarms import LlmAlarms
    from llm_observability.constructs.alert_topic import AlertTopic, allow_publish
    from llm_observability.constructs.anomaly import AnomalyAlarms
    from llm_observability.constructs.compliance import ComplianceBaseline
    from llm_observability.constructs.cost_guard import CostGuard
    from llm_observability.constructs.dashboard import LlmDashboard
    from llm_observability.constructs.feedback_loop import FeedbackLoop, ReviewSet
    from llm_observability.constructs.guardrail import LlmGuardrail
    from llm_observability.constructs.health_alarm import WorkloadHealth, demote_alarm, healing_alarm
    from llm_observability.constructs.instrumentation import LlmInstrumentation
    from llm_observability.constructs.invocation_logging import InvocationLogging
    from llm_observability.constructs.invocation_usage import InvocationUsage
    from llm_observability.constructs.knowledge_base import SampleKnowledgeBase
    from llm_observability.constructs.lambda_insights import FunctionInsights
    from llm_observability.constructs.log_analytics import (
        DomainCapacity,
        LogAnalytics,
        OpenSearchDelivery,
        OpenSearchDomainDestination,
        OpenSearchServerlessDestination,
    )
    from llm_observability.constructs.log_intelligence import LogIntelligence
    from llm_observability.constructs.managed_prompt import ManagedPrompt
    from llm_observability.constructs.metrics import BedrockMetrics
    from llm_observability.constructs.monitoring import (
        EstateAlarms,
        EstateDashboards,
        EstateSource,
        MonitoringSink,
        SourceLink,
    )
    from llm_observability.constructs.online_judge import OnlineJudge
    from llm_observability.constructs.outcomes import LEVEL_TARGETS, IncidentOutcomes, OutcomeTarget
    from llm_observability.constructs.output_drift import OutputDrift
    from llm_observability.constructs.prometheus import PrometheusExport
    from llm_observability.constructs.quality_canary import QualityCanary
    from llm_observability.constructs.rag_app import RagReferenceApp
    from llm_observability.constructs.runbooks import (
        ApiThrottleProps,
        ModelFailoverProps,
        PromptRollbackProps,
        RemediationRunbooks,
        SsmAutomationTarget,
        start_automation,
    )
    from llm_observability.constructs.tenant_usage import TenantUsage
    from llm_observability.constructs.transaction_search import TransactionSearch
    from llm_observability.thresholds import AlarmThresholds

_EXPORTS: dict[str, str] = {
    "OpenSearchDomainDestination": "llm_observability.constructs.log_analytics",
    "OpenSearchServerlessDestination": "llm_observability.constructs.log_analytics",
    "DomainCapacity": "llm_observability.constructs.log_analytics",
    "OpenSearchDelivery": "llm_observability.constructs.log_analytics",
    "AlarmFactory": "llm_observability.constructs.alarm_factory",
    "AlarmRole": "llm_observability.constructs.alarm_factory",
    "Severity": "llm_observability.constructs.alarm_factory",
    "RoledAlarm": "llm_observability.constructs.alarm_factory",
    "AlarmActionStrategy": "llm_observability.constructs.alarm_factory",
    "SnsAlarmActionStrategy": "llm_observability.constructs.alarm_factory",
    "OpsItemAlarmActionStrategy": "llm_observability.constructs.alarm_factory",
    "MultipleAlarmActionStrategy": "llm_observability.constructs.alarm_factory",
    "sns_alarm_action": "llm_observability.constructs.alarm_factory",
    "ops_item_alarm_action": "llm_observability.constructs.alarm_factory",
    "multiple_alarm_actions": "llm_observability.constructs.alarm_factory",
    "select_alarms": "llm_observability.constructs.alarm_factory",
    "ModelFailoverProps": "llm_observability.constructs.runbooks",
    "PromptRollbackProps": "llm_observability.constructs.runbooks",
    "ApiThrottleProps": "llm_observability.constructs.runbooks",
    "AlarmThresholds": "llm_observability.thresholds",
    "AlertTopic": "llm_observability.constructs.alert_topic",
    "AnomalyAlarms": "llm_observability.constructs.anomaly",
    "BedrockMetrics": "llm_observability.constructs.metrics",
    "CodeGuruProfiling": "llm_observability.constructs.aiops",
    "ComplianceBaseline": "llm_observability.constructs.compliance",
    "CostGuard": "llm_observability.constructs.cost_guard",
    "DevOpsGuruCoverage": "llm_observability.constructs.aiops",
    "InvocationLogging": "llm_observability.constructs.invocation_logging",
    "InvocationUsage": "llm_observability.constructs.invocation_usage",
    "LlmInstrumentation": "llm_observability.constructs.instrumentation",
    "LlmAlarms": "llm_observability.constructs.alarms",
    "LlmDashboard": "llm_observability.constructs.dashboard",
    "LlmGuardrail": "llm_observability.constructs.guardrail",
    "LogAnalytics": "llm_observability.constructs.log_analytics",
    "LogIntelligence": "llm_observability.constructs.log_intelligence",
    "ManagedPrompt": "llm_observability.constructs.managed_prompt",
    "PrometheusExport": "llm_observability.constructs.prometheus",
    "QualityCanary": "llm_observability.constructs.quality_canary",
    "RagReferenceApp": "llm_observability.constructs.rag_app",
    "RemediationRunbooks": "llm_observability.constructs.runbooks",
    "SampleKnowledgeBase": "llm_observability.constructs.knowledge_base",
    "SsmAutomationTarget": "llm_observability.constructs.runbooks",
    "TransactionSearch": "llm_observability.constructs.transaction_search",
    "TenantUsage": "llm_observability.constructs.tenant_usage",
    "OnlineJudge": "llm_observability.constructs.online_judge",
    "FeedbackLoop": "llm_observability.constructs.feedback_loop",
    "ReviewSet": "llm_observability.constructs.feedback_loop",
    "OutputDrift": "llm_observability.constructs.output_drift",
    "IncidentOutcomes": "llm_observability.constructs.outcomes",
    "OutcomeTarget": "llm_observability.constructs.outcomes",
    "LEVEL_TARGETS": "llm_observability.constructs.outcomes",
    "FunctionInsights": "llm_observability.constructs.lambda_insights",
    "WorkloadHealth": "llm_observability.constructs.health_alarm",
    "demote_alarm": "llm_observability.constructs.health_alarm",
    "healing_alarm": "llm_observability.constructs.health_alarm",
    **{
        name: "llm_observability.constructs.monitoring"
        for name in ("EstateAlarms", "EstateDashboards", "EstateSource", "MonitoringSink", "SourceLink")
    },
    "allow_publish": "llm_observability.constructs.alert_topic",
    "encrypted_log_group": "llm_observability.constructs._common",
    "powertools_layer": "llm_observability.constructs._common",
    "log_encryption_key": "llm_observability.constructs._common",
    "start_automation": "llm_observability.constructs.runbooks",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
