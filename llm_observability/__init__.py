"""LLM observability maturity model for Amazon Bedrock applications, as AWS CDK constructs.

Public names are imported on first use (see ``_lazy``): ``llm-observability assess`` needs no CDK,
and a Level 1 synth loads none of Level 3's aws-cdk-lib modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_observability._lazy import lazy_exports
from llm_observability.constructs import __all__ as _CONSTRUCTS
from llm_observability.errors import ConfigError

if TYPE_CHECKING:  # the real types for mypy and IDEs; at run time the names are imported on first use
    from llm_observability.config import ObservabilityConfig
    from llm_observability.constructs import (
        LEVEL_TARGETS,
        AlarmActionStrategy,
        AlarmFactory,
        AlarmRole,
        AlarmThresholds,
        AlertTopic,
        AnomalyAlarms,
        ApiThrottleProps,
        BedrockMetrics,
        CodeGuruProfiling,
        ComplianceBaseline,
        CostGuard,
        DevOpsGuruCoverage,
        DomainCapacity,
        EstateAlarms,
        EstateDashboards,
        EstateSource,
        FeedbackLoop,
        FunctionInsights,
        IncidentOutcomes,
        InvocationLogging,
        InvocationUsage,
        LlmAlarms,
        LlmDashboard,
        LlmGuardrail,
        LlmInstrumentation,
        LogAnalytics,
        LogIntelligence,
        ManagedPrompt,
        ModelFailoverProps,
        MonitoringSink,
        MultipleAlarmActionStrategy,
        OnlineJudge,
        OpenSearchDelivery,
        OpenSearchDomainDestination,
        OpenSearchServerlessDestination,
        OpsItemAlarmActionStrategy,
        OutcomeTarget,
        OutputDrift,
        PrometheusExport,
        PromptRollbackProps,
        QualityCanary,
        RagReferenceApp,
        RemediationRunbooks,
        ReviewSet,
        RoledAlarm,
        SampleKnowledgeBase,
        Severity,
        SnsAlarmActionStrategy,
        SourceLink,
        SsmAutomationTarget,
        TenantUsage,
        TransactionSearch,
        WorkloadHealth,
        allow_publish,
        demote_alarm,
        encrypted_log_group,
        healing_alarm,
        log_encryption_key,
        multiple_alarm_actions,
        ops_item_alarm_action,
        powertools_layer,
        select_alarms,
        sns_alarm_action,
        start_automation,
    )
    from llm_observability.stacks.aiops import AiOpsStack
    from llm_observability.stacks.app import build_app
    from llm_observability.stacks.foundation import FoundationStack
    from llm_observability.stacks.health import add_health_alarm
    from llm_observability.stacks.organization import MonitoringStack, build_organization
    from llm_observability.stacks.proactive import ProactiveStack
    from llm_observability.workload import Workload
    from llm_observability.workload_facts import LogSchema, RequestContract, ThrottleLimits

_EXPORTS: dict[str, str] = {
    "ObservabilityConfig": "llm_observability.config",
    "Workload": "llm_observability.workload",
    **{name: "llm_observability.workload_facts" for name in ("LogSchema", "RequestContract", "ThrottleLimits")},
    **{name: "llm_observability.stacks" for name in ("AiOpsStack", "FoundationStack", "ProactiveStack", "build_app")},
    **{name: "llm_observability.stacks.organization" for name in ("MonitoringStack", "build_organization")},
    "add_health_alarm": "llm_observability.stacks.health",
    **{name: "llm_observability.constructs" for name in _CONSTRUCTS},
}
__all__ = ["ConfigError", *sorted(_EXPORTS)]
__version__ = "0.1.0"
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
