"""The shape of the maturity model: its levels, the status of a capability, and what a capability is.

The capabilities themselves (one declaration each, beside its evidence rule) are in
:mod:`llm_observability.assess.capabilities`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from llm_observability.assess.inventory import Inventory
    from llm_observability.assess.report import Finding

Rule: TypeAlias = "Callable[[Inventory], Finding]"

LEVEL_NAMES: dict[int, str] = {0: "none", 1: "Foundation", 2: "Proactive", 3: "AIOps"}
MAX_LEVEL = max(LEVEL_NAMES)
#: ``maturity``: a row of Levels 1-3, counted in the level reached; ``organization``: a row of the organization-scale
#: group (many workloads, accounts and tenants); ``outcomes``: a row of the business-outcomes group (incidents against
#: targets, real answers judged, output drift). The two groups are reported beside the levels, never counted in them.
Group: TypeAlias = Literal["maturity", "organization", "outcomes"]
GROUP_TITLES: dict[Group, str] = {
    "maturity": "Maturity levels",
    "organization": "Organization scale",
    "outcomes": "Business outcomes",
}


class Status(str, Enum):
    """How much of a capability the templates show."""

    PRESENT = "present"
    PARTIAL = "partial"
    MISSING = "missing"

    @property
    def rank(self) -> int:
        return {"missing": 0, "partial": 1, "present": 2}[self.value]


@dataclass(frozen=True, kw_only=True)
class Capability:
    """One row of the scorecard: what the model asks for, which constructs of this library provide it,
    and the rule that looks for it in the templates.

    :param id: the row's id (``tracing``, ``guardrail`` ...): the JSON key and the validation plugin's rule name.
    :param level: the maturity level it belongs to, 1 to :data:`MAX_LEVEL`; for an ``organization`` row, the level
        whose rows it builds on (from which the bundled app provides it).
    :param title: one line for the report.
    :param constructs: the construct classes of this library that provide it (names exported by
        ``llm_observability``).
    :param provided_by: those constructs as the report words them (with what in them does it).
    :param next_step: the advice when the row is not present: what to add, naming the construct.
    :param evidence: what counts as evidence, one line (the contract of ``rule``).
    :param rule: reads an :class:`~llm_observability.assess.inventory.Inventory` and returns the
        :class:`~llm_observability.assess.report.Finding`.
    :param group: ``maturity`` (counted in the level reached), ``organization`` or ``outcomes`` (reported beside it).
        Default: ``maturity``.
    """

    id: str
    level: int
    title: str
    constructs: tuple[str, ...]
    provided_by: str
    next_step: str
    evidence: str
    rule: Rule
    group: Group = "maturity"

    def __post_init__(self) -> None:
        if not 1 <= self.level <= MAX_LEVEL:
            raise ValueError(f"capability {self.id!r} has level {self.level}: allowed are 1-{MAX_LEVEL}.")


class Level:
    """The capabilities of one maturity level (or of a group beside the levels), in report order.

    ``@LEVEL.capability(id=..., ...)`` on a function declares a capability whose evidence rule is that
    function (returned unchanged), so a capability and its rule are written once, side by side.

    :param number: the level of its capabilities (an organization row may name its own, see ``capability``).
    :param group: the group of its capabilities. Default: ``maturity``.
    """

    def __init__(self, number: int, *, group: Group = "maturity") -> None:
        self.number = number
        self.group: Group = group
        self.capabilities: list[Capability] = []

    def capability(
        self, *, id: str, title: str, constructs: tuple[str, ...], provided_by: str, next_step: str, evidence: str,
        level: int | None = None,
    ) -> Callable[[Rule], Rule]:
        """Declare the capability ``id`` of this level on its evidence rule (see :class:`Capability`); ``level``
        overrides the level's number (organization rows: the level they build on). Default: the level's number."""

        def declare(rule: Rule) -> Rule:
            self.capabilities.append(
                Capability(id=id, level=self.number if level is None else level, title=title, constructs=constructs,
                           provided_by=provided_by, next_step=next_step, evidence=evidence, rule=rule, group=self.group)
            )  # fmt: skip
            return rule

        return declare
