"""LLM observability maturity model for Amazon Bedrock applications, as AWS CDK constructs.

Public names are imported on first use (see ``_lazy``): ``llm-observability assess`` needs no CDK,
and a Level 1 synth loads none of Level 3's aws-cdk-lib modules.
"""

from __future__ import annotations

from llm_observability._lazy import lazy_exports
from llm_observability.constructs import __all__ as _CONSTRUCTS
from llm_observability.errors import ConfigError

_EXPORTS: dict[str, str] = {
    "ObservabilityConfig": "llm_observability.config",
    "Workload": "llm_observability.workload",
    **{name: "llm_observability.stacks" for name in ("AiOpsStack", "FoundationStack", "ProactiveStack", "build_app")},
    **{name: "llm_observability.constructs" for name in _CONSTRUCTS},
}
__all__ = ["ConfigError", *sorted(_EXPORTS)]
__version__ = "0.1.0"
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
