"""The cost estimate as a report: its lines, totals, JSON (``llm-observability/cost/v1``) and text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm_observability.assess.inventory import Resource
from llm_observability.assess.loader import Source
from llm_observability.assess.prices import price_table
from llm_observability.assess.report import evidence_json


@dataclass
class CostItem:
    """One line of the estimate."""

    id: str
    category: str  # "fixed" or "usage"
    label: str
    quantity: float
    unit: str
    unit_usd: float | None
    monthly_usd: float | None  # None: not priced
    assumption: str
    source: str | None = None
    evidence: list[Resource] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "label": self.label, "quantity": round(self.quantity, 6),
            "unit": self.unit, "unit_usd": self.unit_usd,
            "monthly_usd": None if self.monthly_usd is None else round(self.monthly_usd, 4),
            "assumption": self.assumption, "source": self.source, "evidence": evidence_json(self.evidence),
        }  # fmt: skip


@dataclass
class CostReport:
    """The estimate of one source: its lines (fixed and usage), at a request volume, with or without free tier."""

    source: Source
    items: list[CostItem]
    requests_per_month: int
    free_tier: bool
    notes: list[str]

    def total(self, category: str | None = None) -> float:
        return sum(i.monthly_usd or 0.0 for i in self.items if category in (None, i.category))

    @property
    def fixed_usd(self) -> float:
        return round(self.total("fixed"), 2)

    @property
    def usage_usd(self) -> float:
        return round(self.total("usage"), 2)

    def item(self, item_id: str) -> CostItem:
        return next(i for i in self.items if i.id == item_id)

    def to_json(self) -> dict[str, Any]:
        table = price_table()
        return {
            "schema": "llm-observability/cost/v1",
            "source": {"path": str(self.source.path), "kind": self.source.kind, "stacks": [s.name for s in self.source.stacks]},
            "currency": table["currency"], "region": table["region"], "prices_as_of": table["as_of"],
            "basis": table["basis"], "requests_per_month": self.requests_per_month, "free_tier_applied": self.free_tier,
            "fixed_monthly_usd": self.fixed_usd, "usage_monthly_usd": self.usage_usd,
            "total_monthly_usd": round(self.total(), 2),
            "items": [i.to_json() for i in self.items],
            "not_priced": [i.label for i in self.items if i.monthly_usd is None],
            "notes": self.notes, "sources": table["sources"],
        }  # fmt: skip

    def render_text(self) -> str:
        table = price_table()
        lines = [
            f"Observability cost estimate: USD per month, {table['region']} list prices as of {table['as_of']}",
            f"Assessed: {self.source.describe()}",
        ]
        for category, title in (
            ("fixed", "Fixed monthly cost"),
            ("usage", f"Usage at {self.requests_per_month:,} requests/month"),
        ):
            items = [i for i in self.items if i.category == category]
            lines += ["", title]
            if not items:
                lines.append("  (none)")
            for i in items:
                money = "not priced" if i.monthly_usd is None else f"${i.monthly_usd:,.2f}"
                unit = "" if i.unit_usd is None else f" x ${format_price(i.unit_usd)}"
                lines.append(f"  {i.label:<42} {format_quantity(i.quantity)} {i.unit}{unit}  = {money}")
                lines.append(f"      {i.assumption}")
            lines.append(f"  {'Total ' + category:<42} ${self.total(category):,.2f}")
        lines += [
            "",
            f"Estimated total: ${self.total():,.2f} per month"
            + (
                "" if self.free_tier else " (no free tier applied: --free-tier subtracts the account's free allowances)"
            ),
        ]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        lines += ["", f"Prices: {table['basis']}"]
        lines += [
            f"  {name}: {url}"
            for name, url in sorted(
                {i.source: table["sources"].get(i.source, "") for i in self.items if i.source}.items()
            )
        ]
        return "\n".join(lines)


def format_price(value: float) -> str:
    """A unit price with at least two decimals and no trailing zeros beyond them: ``0.30``, ``0.0028``."""
    whole, _, fraction = f"{value:.6f}".rstrip("0").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def format_quantity(value: float) -> str:
    """A quantity with thousands separators, whole when it is whole: ``10,000``, ``0.0763``."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4g}"
