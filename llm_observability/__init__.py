"""LLM observability maturity model for Amazon Bedrock applications, as AWS CDK constructs."""

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs import (
    AlarmThresholds,
    AlertTopic,
    AnomalyAlarms,
    BedrockMetrics,
    ComplianceBaseline,
    CostGuard,
    InvocationLogging,
    LlmAlarms,
    LlmDashboard,
    LlmGuardrail,
    LogAnalytics,
    LogIntelligence,
    ManagedPrompt,
    PrometheusExport,
    RemediationRunbooks,
    RagReferenceApp,
    SampleKnowledgeBase,
)
from llm_observability.errors import ConfigError
from llm_observability.stacks import AiOpsStack, FoundationStack, ProactiveStack, build_app
from llm_observability.workload import Workload

__all__ = [
    "AiOpsStack",
    "AlarmThresholds",
    "AlertTopic",
    "AnomalyAlarms",
    "BedrockMetrics",
    "ComplianceBaseline",
    "ConfigError",
    "CostGuard",
    "InvocationLogging",
    "LlmAlarms",
    "LlmDashboard",
    "LlmGuardrail",
    "LogAnalytics",
    "LogIntelligence",
    "ManagedPrompt",
    "FoundationStack",
    "ObservabilityConfig",
    "ProactiveStack",
    "PrometheusExport",
    "RemediationRunbooks",
    "RagReferenceApp",
    "SampleKnowledgeBase",
    "Workload",
    "build_app",
]
__version__ = "0.1.0"
