"""LLM observability maturity model for Amazon Bedrock applications, as AWS CDK constructs.

The public names are imported on first use (PEP 562), so ``llm-observability assess`` and other
tools that need no CDK do not pay for starting aws-cdk-lib's jsii runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from llm_observability.errors import ConfigError

_EXPORTS: dict[str, str] = {
    "ObservabilityConfig": "llm_observability.config",
    "Workload": "llm_observability.workload",
    "AiOpsStack": "llm_observability.stacks",
    "FoundationStack": "llm_observability.stacks",
    "ProactiveStack": "llm_observability.stacks",
    "build_app": "llm_observability.stacks",
    **{
        name: "llm_observability.constructs"
        for name in (
            "AlarmThresholds", "AlertTopic", "AnomalyAlarms", "BedrockMetrics", "CodeGuruProfiling",
            "ComplianceBaseline", "CostGuard", "DevOpsGuruCoverage", "InvocationLogging", "LlmAlarms",
            "LlmDashboard", "LlmGuardrail", "LogAnalytics", "LogIntelligence", "ManagedPrompt",
            "PrometheusExport", "QualityCanary", "RagReferenceApp", "RemediationRunbooks", "SampleKnowledgeBase",
        )
    },
}  # fmt: skip

__all__ = ["ConfigError", *sorted(_EXPORTS)]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_observability' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
