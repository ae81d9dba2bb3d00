"""The maturity model: every capability of Levels 1 (Foundation), 2 (Proactive) and 3 (AIOps), in report order,
and the organization-scale and business-outcomes groups reported beside the levels (:mod:`.organization` and
:mod:`.outcomes` say why they are groups).

Each capability is declared once, in the module of its level, on the function that is its evidence
rule: its id, title, the constructs of this library that provide it, the advice and the rule. The rows
follow the README's "What Level N provisions" sections (and the seed's Level 1/2/3 tables).
"""

from __future__ import annotations

from llm_observability.assess.capabilities import level1, level2, level3, organization, outcomes
from llm_observability.assess.model import Capability

#: The maturity levels' rows: what the level reached counts.
CAPABILITIES: tuple[Capability, ...] = (
    *level1.LEVEL.capabilities,
    *level2.LEVEL.capabilities,
    *level3.LEVEL.capabilities,
)
#: The organization-scale rows (cross-account, paging once, per tenant, aggregation): reported, never counted.
ORGANIZATION_CAPABILITIES: tuple[Capability, ...] = tuple(organization.GROUP.capabilities)
#: The business-outcomes rows (incident outcomes, targets, online evaluation, drift): reported, never counted.
OUTCOME_CAPABILITIES: tuple[Capability, ...] = tuple(outcomes.GROUP.capabilities)
BY_ID: dict[str, Capability] = {c.id: c for c in (*CAPABILITIES, *ORGANIZATION_CAPABILITIES, *OUTCOME_CAPABILITIES)}


def capabilities_of(level: int) -> list[Capability]:
    """The capabilities of one level, in report order."""
    return [c for c in CAPABILITIES if c.level == level]


__all__ = ["BY_ID", "CAPABILITIES", "ORGANIZATION_CAPABILITIES", "OUTCOME_CAPABILITIES", "capabilities_of"]
