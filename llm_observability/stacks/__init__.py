"""The maturity-level stacks and the bundled app builder."""

from llm_observability.stacks.aiops import AiOpsStack
from llm_observability.stacks.app import build_app, stack_name
from llm_observability.stacks.foundation import FoundationStack
from llm_observability.stacks.proactive import ProactiveStack

__all__ = ["AiOpsStack", "FoundationStack", "ProactiveStack", "build_app", "stack_name"]
