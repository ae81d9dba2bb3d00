"""Reusable constructs; each one usable alone in any CDK app."""

from llm_observability.constructs.knowledge_base import SampleKnowledgeBase
from llm_observability.constructs.rag_app import RagReferenceApp

__all__ = ["RagReferenceApp", "SampleKnowledgeBase"]
