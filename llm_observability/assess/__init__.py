"""Maturity scorecard, observability cost estimate and a synth-time check of the LLM observability model.

- ``llm-observability assess PATH``: which capabilities of Level 1 (Foundation), 2 (Proactive) and
  3 (AIOps) a cloud assembly or template shows, with evidence, and the level fully reached; beside the levels,
  the organization-scale rows (cross-account observability, paging once, usage per tenant, aggregation).
- ``llm-observability cost PATH``: the monthly cost of its observability resources, every figure with
  its assumption (prices: ``prices.json``).
- :class:`LlmObservabilityChecks`: the same scorecard as a CDK validation plugin
  (``Validations.of(app).add_plugins(LlmObservabilityChecks(app, level=2))``).

This package reads templates only; :class:`LlmObservabilityChecks` is imported lazily because it needs
aws-cdk-lib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_observability.assess.capabilities import CAPABILITIES, ORGANIZATION_CAPABILITIES
from llm_observability.assess.cost import CostReport, estimate
from llm_observability.assess.loader import AssessError, Source, load
from llm_observability.assess.model import Capability, Status
from llm_observability.assess.report import Scorecard
from llm_observability.assess.scorecard import assess

if TYPE_CHECKING:
    from llm_observability.assess.nag_pack import LlmObservabilityChecks

__all__ = [
    "CAPABILITIES",
    "ORGANIZATION_CAPABILITIES",
    "AssessError",
    "Capability",
    "CostReport",
    "LlmObservabilityChecks",
    "Scorecard",
    "Source",
    "Status",
    "assess",
    "estimate",
    "load",
]


def __getattr__(name: str) -> Any:
    if name == "LlmObservabilityChecks":
        from llm_observability.assess.nag_pack import LlmObservabilityChecks

        return LlmObservabilityChecks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
