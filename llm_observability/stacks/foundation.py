"""Level 1, Foundation: the RAG reference application and its foundational observability."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.rag_app import RagReferenceApp
from llm_observability.workload import Workload


class FoundationStack(Stack):
    """Level 1: builds the :class:`RagReferenceApp` and observes it; exposes :attr:`workload` for the levels above.

    :param config: validated settings. Default: ``ObservabilityConfig()``.
    :param stack_props: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self, scope: Construct, id: str, *, config: ObservabilityConfig | None = None, **stack_props: Any
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.config = config or ObservabilityConfig()
        self.app = RagReferenceApp(self, "RagApp", config=self.config)
        self.workload: Workload = self.app.workload
