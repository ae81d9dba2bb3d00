"""Reusable constructs; each one usable alone in any CDK app."""

from llm_observability.constructs.alarms import LlmAlarms
from llm_observability.constructs.alert_topic import AlertTopic
from llm_observability.constructs.dashboard import LlmDashboard
from llm_observability.constructs.invocation_logging import InvocationLogging
from llm_observability.constructs.knowledge_base import SampleKnowledgeBase
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.rag_app import RagReferenceApp
from llm_observability.thresholds import AlarmThresholds

__all__ = [
    "AlarmThresholds",
    "AlertTopic",
    "BedrockMetrics",
    "InvocationLogging",
    "LlmAlarms",
    "LlmDashboard",
    "RagReferenceApp",
    "SampleKnowledgeBase",
]
