"""Reusable constructs; each one usable alone in any CDK app (imported on first use, see ``_lazy``)."""

from __future__ import annotations

from llm_observability._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AlarmThresholds": "llm_observability.thresholds",
    "AlertTopic": "llm_observability.constructs.alert_topic",
    "AnomalyAlarms": "llm_observability.constructs.anomaly",
    "BedrockMetrics": "llm_observability.constructs.metrics",
    "CodeGuruProfiling": "llm_observability.constructs.aiops",
    "ComplianceBaseline": "llm_observability.constructs.compliance",
    "CostGuard": "llm_observability.constructs.cost_guard",
    "DevOpsGuruCoverage": "llm_observability.constructs.aiops",
    "InvocationLogging": "llm_observability.constructs.invocation_logging",
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
    "allow_publish": "llm_observability.constructs.alert_topic",
    "encrypted_log_group": "llm_observability.constructs._common",
    "powertools_layer": "llm_observability.constructs._common",
    "log_encryption_key": "llm_observability.constructs._common",
    "start_automation": "llm_observability.constructs.runbooks",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
