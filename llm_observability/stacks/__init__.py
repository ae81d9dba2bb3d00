"""The maturity-level stacks, the organization app's stages and the bundled app builder (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_observability._lazy import lazy_exports

if TYPE_CHECKING:  # the real types for mypy and IDEs; at run time the names are imported on first use
    from llm_observability.stacks.aiops import AiOpsStack
    from llm_observability.stacks.app import build_app, stack_name
    from llm_observability.stacks.foundation import FoundationStack
    from llm_observability.stacks.organization import (
        MonitoringStack,
        MonitoringStage,
        OamLinkStack,
        TargetStage,
        build_organization,
    )
    from llm_observability.stacks.proactive import ProactiveStack

_EXPORTS: dict[str, str] = {
    "AiOpsStack": "llm_observability.stacks.aiops",
    "FoundationStack": "llm_observability.stacks.foundation",
    "MonitoringStack": "llm_observability.stacks.organization",
    "MonitoringStage": "llm_observability.stacks.organization",
    "OamLinkStack": "llm_observability.stacks.organization",
    "ProactiveStack": "llm_observability.stacks.proactive",
    "TargetStage": "llm_observability.stacks.organization",
    "build_app": "llm_observability.stacks.app",
    "build_organization": "llm_observability.stacks.organization",
    "stack_name": "llm_observability.stacks.app",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
