"""The scorecard as a report: what a rule found, one row per capability, the JSON schema and the text.

Also the wording helpers the rules share (:func:`status_of`, :func:`sentence`, :func:`ids`,
:func:`join_names`), so every reason reads the same way, and the summary every rendering shows
(:func:`ladder`, :func:`gate`), read from the JSON report so the HTML and Markdown renderers need
nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from llm_observability.assess.inventory import Resource
from llm_observability.assess.loader import Source
from llm_observability.assess.model import GROUP_TITLES, LEVEL_NAMES, MAX_LEVEL, Capability, Group, Status

_EVIDENCE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["stack", "logical_ids"],
        "properties": {"stack": {"type": "string"}, "logical_ids": {"type": "array", "items": {"type": "string"}}},
    },
}
_ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "level", "group", "title", "status", "evidence", "reason", "provided_by", "next_step"],
    "properties": {
        "id": {"type": "string"},
        "level": {"type": "integer", "minimum": 1, "maximum": 3},
        "group": {"enum": ["maturity", "organization", "outcomes"]},
        "title": {"type": "string"},
        "status": {"enum": ["present", "partial", "missing"]},
        "evidence": _EVIDENCE_SCHEMA,
        "reason": {"type": "string"},
        "provided_by": {"type": "string"},
        "next_step": {"type": ["string", "null"]},
    },
}
#: JSON Schema (draft 2020-12) of ``llm-observability assess --format json``. ``capabilities`` are the maturity
#: levels' rows (what ``level`` counts); ``organization`` the organization-scale rows and ``outcomes`` the
#: business-outcomes rows, both reported beside them. ``outcomes`` was added to v1 later, so it is not required.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "llm-observability assess report",
    "type": "object",
    "required": ["schema", "source", "level", "level_name", "max_level", "capabilities", "organization", "next_steps",
                 "notes"],
    "properties": {
        "schema": {"const": "llm-observability/assess/v1"},
        "source": {
            "type": "object",
            "required": ["path", "kind", "stacks"],
            "properties": {
                "path": {"type": "string"},
                "kind": {"enum": ["cloud assembly", "template", "directory", "synthesized app"]},
                "stacks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "template", "resources"],
                        "properties": {
                            "name": {"type": "string"},
                            "template": {"type": "string"},
                            "resources": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "level": {"type": "integer", "minimum": 0, "maximum": 3},
        "level_name": {"enum": ["none", "Foundation", "Proactive", "AIOps"]},
        "max_level": {"type": "integer"},
        "capabilities": {"type": "array", "items": _ROW_SCHEMA},
        "organization": {"type": "array", "items": _ROW_SCHEMA},
        "outcomes": {"type": "array", "items": _ROW_SCHEMA},
        "next_steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "level", "status", "action"],
                "properties": {
                    "id": {"type": "string"},
                    "level": {"type": "integer"},
                    "status": {"enum": ["partial", "missing"]},
                    "action": {"type": "string"},
                },
            },
        },
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}


@dataclass
class Finding:
    """What a rule concluded: a status, one-line reason and the resources that are its evidence."""

    status: Status
    reason: str
    evidence: list[Resource] = field(default_factory=list)


@dataclass
class CapabilityResult:
    """One scorecard row."""

    capability: Capability
    status: Status
    reason: str
    evidence: list[Resource]

    def evidence_json(self) -> list[dict[str, Any]]:
        return evidence_json(self.evidence)

    def to_json(self) -> dict[str, Any]:
        c = self.capability
        return {
            "id": c.id, "level": c.level, "group": c.group, "title": c.title, "status": self.status.value,
            "evidence": self.evidence_json(), "reason": self.reason, "provided_by": c.provided_by,
            "next_step": None if self.status is Status.PRESENT else c.next_step,
        }  # fmt: skip


@dataclass
class Scorecard:
    """All rows, the level fully reached (see :func:`~llm_observability.assess.scorecard.level_reached`)
    and what to add next; ``organization`` holds the organization-scale rows and ``outcomes`` the business-outcomes
    rows, which the level does not count."""

    source: Source
    results: list[CapabilityResult]
    notes: list[str]
    level: int
    organization: list[CapabilityResult] = field(default_factory=list)
    outcomes: list[CapabilityResult] = field(default_factory=list)

    def result(self, capability_id: str) -> CapabilityResult:
        return next(r for r in (*self.results, *self.organization, *self.outcomes) if r.capability.id == capability_id)

    def next_steps(self) -> list[CapabilityResult]:
        """Rows not present, up to the next level."""
        target = min(self.level + 1, MAX_LEVEL)
        return [r for r in self.results if r.status is not Status.PRESENT and r.capability.level <= target]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "llm-observability/assess/v1",
            "source": {
                "path": str(self.source.path), "kind": self.source.kind,
                "stacks": [{"name": s.name, "template": str(s.path), "resources": len(s.resources)} for s in self.source.stacks],
            },
            "level": self.level,
            "level_name": LEVEL_NAMES[self.level],
            "max_level": MAX_LEVEL,
            "capabilities": [r.to_json() for r in self.results],
            "organization": [r.to_json() for r in self.organization],
            "outcomes": [r.to_json() for r in self.outcomes],
            "next_steps": [
                {"id": r.capability.id, "level": r.capability.level, "status": r.status.value, "action": r.capability.next_step}
                for r in self.next_steps()
            ],
            "notes": self.notes,
        }  # fmt: skip

    def render_text(self) -> str:
        lines = [
            f"LLM observability maturity: {headline(self.level)}",
            f"Assessed: {self.source.describe()}",
        ]
        for level in range(1, MAX_LEVEL + 1):
            rows = [r for r in self.results if r.capability.level == level]
            done = sum(r.status is Status.PRESENT for r in rows)
            lines += ["", f"Level {level} {LEVEL_NAMES[level]} ({done}/{len(rows)} present)"]
            for r in rows:
                lines.append(f"  [{r.status.value:>7}] {r.capability.id:<26} {r.capability.title}")
                lines.append(f"            {r.reason}")
                evidence = "; ".join(f"{e['stack']}: {join_names(e['logical_ids'], 5)}" for e in r.evidence_json())
                if evidence:
                    lines.append(f"            evidence: {evidence}")
        groups: tuple[tuple[Group, list[CapabilityResult]], ...] = (
            ("organization", self.organization),
            ("outcomes", self.outcomes),
        )
        for group, rows in groups:
            if not rows:
                continue
            done = sum(r.status is Status.PRESENT for r in rows)
            lines += ["", f"{GROUP_TITLES[group]} ({done}/{len(rows)} present; not counted in the level)"]
            for r in rows:
                lines.append(f"  [{r.status.value:>7}] {r.capability.id:<26} {r.capability.title}")
                lines.append(f"            {r.reason}")
                if r.status is not Status.PRESENT:
                    lines.append(f"            next: {r.capability.next_step}")
        steps = self.next_steps()
        if steps:
            target = min(self.level + 1, MAX_LEVEL)
            lines += ["", f"Next steps to Level {target} ({LEVEL_NAMES[target]}):"]
            for r in steps:
                lines.append(
                    f"  - {r.capability.id} (L{r.capability.level}, {r.status.value}): {r.capability.next_step}"
                )
        elif self.level == MAX_LEVEL:
            lines += ["", "Every capability of the maturity model is present."]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


def evidence_json(resources: Iterable[Resource]) -> list[dict[str, Any]]:
    """``[{"stack": ..., "logical_ids": [...]}]``: the resources by stack, in first-seen order, each once."""
    grouped: dict[str, list[str]] = {}
    for resource in resources:
        logical_ids = grouped.setdefault(resource.stack, [])
        if resource.logical_id not in logical_ids:
            logical_ids.append(resource.logical_id)
    return [{"stack": stack, "logical_ids": logical_ids} for stack, logical_ids in grouped.items()]


def join_names(items: Iterable[str], limit: int = 6) -> str:
    """``a, b, c and 4 more``."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def status_of(parts_ok: Iterable[bool]) -> Status:
    """Present when every part is there, partial when some are, missing when none is."""
    parts = list(parts_ok)
    if all(parts):
        return Status.PRESENT
    return Status.PARTIAL if any(parts) else Status.MISSING


def sentence(text: str) -> str:
    """``text`` with its first letter in capitals."""
    return text[:1].upper() + text[1:]


def ids(resources: Iterable[Resource]) -> str:
    """The logical ids of ``resources``, at most four named."""
    return join_names([r.logical_id for r in resources], 4)


@dataclass(frozen=True)
class LevelSummary:
    """One rung of the ladder: a level, how many of its capabilities are present, partial or missing."""

    level: int
    name: str
    present: int
    partial: int
    missing: int
    reached: bool

    @property
    def total(self) -> int:
        return self.present + self.partial + self.missing


def ladder(report: dict[str, Any]) -> list[LevelSummary]:
    """Levels 1 to ``max_level`` of a JSON report (``Scorecard.to_json()``), lowest first."""
    rungs = []
    for level in range(1, int(report["max_level"]) + 1):
        statuses = [c["status"] for c in report["capabilities"] if c["level"] == level]
        rungs.append(
            LevelSummary(
                level=level, name=LEVEL_NAMES.get(level, f"Level {level}"), present=statuses.count("present"),
                partial=statuses.count("partial"), missing=statuses.count("missing"), reached=level <= report["level"],
            )
        )  # fmt: skip
    return rungs


def group_heading(report: dict[str, Any], group: str) -> str | None:
    """``Business outcomes (1/4 present; not counted in the level)`` for a group of a JSON report; None when the
    report has no rows of it (reports written before the group existed)."""
    rows = report.get(group) or []
    if not rows:
        return None
    done = sum(r["status"] == "present" for r in rows)
    title = next((t for g, t in GROUP_TITLES.items() if g == group), group)
    return f"{title} ({done}/{len(rows)} present; not counted in the level)"


def gate(level: int, min_level: int) -> tuple[bool, str]:
    """Whether ``level`` meets ``--min-level``, and the sentence that says so (no capital, with a full stop)."""
    reached = f"maturity level {level} ({LEVEL_NAMES[level]})"
    required = f"the required minimum {min_level} ({LEVEL_NAMES[min_level]})"
    if level < min_level:
        return False, f"{reached} is below {required}."
    return True, f"{reached} meets {required}."


def headline(level: int) -> str:
    """``Level 2 (Proactive) fully reached``, or that Level 1 is not."""
    return f"Level {level} ({LEVEL_NAMES[level]}) fully reached" if level else "Level 1 (Foundation) not reached"
