"""The maturity scorecard: each capability's finding over a source, and the level reached.

Every capability of :mod:`~llm_observability.assess.capabilities` is judged by its own evidence rule,
twice when the templates have conditions: a capability whose evidence exists only under a template
``Condition`` is at most *partial*. The level reached is the highest level whose rows, and all rows
below, are *present*; the organization-scale and business-outcomes rows are judged the same way and reported
beside the levels, never counted in them.
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_observability.assess.capabilities import CAPABILITIES, ORGANIZATION_CAPABILITIES, OUTCOME_CAPABILITIES
from llm_observability.assess.inventory import Inventory
from llm_observability.assess.loader import Source
from llm_observability.assess.model import MAX_LEVEL, Capability, Status
from llm_observability.assess.report import JSON_SCHEMA, CapabilityResult, Finding, Scorecard, join_names

__all__ = ["JSON_SCHEMA", "CapabilityResult", "Finding", "Scorecard", "Status", "assess", "level_reached"]


def assess(source: Source) -> Scorecard:
    """Score ``source`` against every capability of the model."""
    everything = Inventory(source.stacks)
    unconditional = everything.without_conditional()
    notes = list(source.notes)
    results = [_judge(capability, everything, unconditional) for capability in CAPABILITIES]
    organization = [_judge(capability, everything, unconditional) for capability in ORGANIZATION_CAPABILITIES]
    outcomes = [_judge(capability, everything, unconditional) for capability in OUTCOME_CAPABILITIES]
    if everything.of_type("AWS::CloudFormation::Stack") and not any("nested stack" in n for n in notes):
        notes.append("nested stacks (AWS::CloudFormation::Stack) are assessed only from a cloud assembly.")
    return Scorecard(
        source=source,
        results=results,
        notes=notes,
        level=level_reached(results),
        organization=organization,
        outcomes=outcomes,
    )


def _judge(capability: Capability, everything: Inventory, unconditional: Inventory) -> CapabilityResult:
    """The rule's finding without conditional resources; partial when only conditional ones would make it better."""
    sure = capability.rule(unconditional)
    maybe = capability.rule(everything) if len(unconditional.resources) != len(everything.resources) else sure
    finding = sure
    if maybe.status.rank > sure.status.rank:
        conditions = sorted({r.condition for r in maybe.evidence if r.condition}) or sorted(
            {r.condition for r in everything.resources if r.condition}
        )
        finding = Finding(
            Status.PARTIAL,
            f"{maybe.reason.rstrip('.')}; only when template condition {join_names(conditions)} holds.",
            maybe.evidence,
        )
    return CapabilityResult(capability, finding.status, finding.reason, finding.evidence)


def level_reached(results: Iterable[CapabilityResult]) -> int:
    """The highest level whose rows, and all rows below, are present (0 when Level 1 is not)."""
    results = list(results)
    reached = 0
    for level in range(1, MAX_LEVEL + 1):
        if all(r.status is Status.PRESENT for r in results if r.capability.level == level):
            reached = level
        else:
            break
    return reached
