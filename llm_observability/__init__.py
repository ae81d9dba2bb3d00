"""LLM observability maturity model for Amazon Bedrock applications, as AWS CDK constructs."""

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs import (
    AlarmThresholds,
    AlertTopic,
    BedrockMetrics,
    InvocationLogging,
    LlmAlarms,
    LlmDashboard,
    RagReferenceApp,
    SampleKnowledgeBase,
)
from llm_observability.errors import ConfigError
from llm_observability.stacks import FoundationStack, build_app
from llm_observability.workload import Workload

__all__ = [
    "AlarmThresholds",
    "AlertTopic",
    "BedrockMetrics",
    "ConfigError",
    "InvocationLogging",
    "LlmAlarms",
    "LlmDashboard",
    "FoundationStack",
    "ObservabilityConfig",
    "RagReferenceApp",
    "SampleKnowledgeBase",
    "Workload",
    "build_app",
]
__version__ = "0.1.0"
