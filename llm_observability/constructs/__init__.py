"""Reusable constructs; each one usable alone in any CDK app."""

from llm_observability.constructs.alarms import LlmAlarms
from llm_observability.constructs._common import encrypted_log_group, log_encryption_key
from llm_observability.constructs.aiops import CodeGuruProfiling, DevOpsGuruCoverage
from llm_observability.constructs.alert_topic import AlertTopic, allow_publish
from llm_observability.constructs.anomaly import AnomalyAlarms
from llm_observability.constructs.compliance import ComplianceBaseline
from llm_observability.constructs.cost_guard import CostGuard
from llm_observability.constructs.dashboard import LlmDashboard
from llm_observability.constructs.guardrail import LlmGuardrail
from llm_observability.constructs.invocation_logging import InvocationLogging
from llm_observability.constructs.log_analytics import LogAnalytics
from llm_observability.constructs.log_intelligence import LogIntelligence
from llm_observability.constructs.managed_prompt import ManagedPrompt
from llm_observability.constructs.knowledge_base import SampleKnowledgeBase
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.prometheus import PrometheusExport
from llm_observability.constructs.quality_canary import QualityCanary
from llm_observability.constructs.rag_app import RagReferenceApp
from llm_observability.constructs.runbooks import RemediationRunbooks, SsmAutomationTarget, start_automation
from llm_observability.thresholds import AlarmThresholds

__all__ = [
    "AlarmThresholds",
    "AlertTopic",
    "AnomalyAlarms",
    "BedrockMetrics",
    "CodeGuruProfiling",
    "DevOpsGuruCoverage",
    "ComplianceBaseline",
    "CostGuard",
    "InvocationLogging",
    "LlmAlarms",
    "LlmDashboard",
    "LlmGuardrail",
    "LogAnalytics",
    "LogIntelligence",
    "ManagedPrompt",
    "allow_publish",
    "encrypted_log_group",
    "log_encryption_key",
    "PrometheusExport",
    "QualityCanary",
    "RagReferenceApp",
    "RemediationRunbooks",
    "SsmAutomationTarget",
    "start_automation",
    "SampleKnowledgeBase",
]
