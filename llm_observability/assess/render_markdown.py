"""The maturity report as GitHub-flavoured Markdown (``llm-observability assess --format markdown``).

Short, for a pull-request comment or a CI job summary (``>> "$GITHUB_STEP_SUMMARY"``): the gate result
first (with ``--min-level``), the ladder, the next steps, then every capability, the business-outcomes rows (beside
the levels, not counted) and the cost breakdown folded in ``<details>``. It renders the JSON reports, like :mod:`~llm_observability.assess.render_html`.
Every string that comes from a template is escaped (:func:`md`): it can neither open a tag, a link or
emphasis, nor break a table row.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from llm_observability.assess.cost_report import format_price, format_quantity
from llm_observability.assess.model import LEVEL_NAMES
from llm_observability.assess.report import gate, group_heading, headline, join_names, ladder

STATUS_MARK = {"present": "\u2705 present", "partial": "\U0001f7e1 partial", "missing": "\u274c missing"}
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
#: Logical ids named per stack in the capability table; the HTML report lists them all.
EVIDENCE_IDS = 4


def md(value: Any) -> str:
    """``value`` as one line of inert Markdown text: whitespace runs become one space, ``& < >`` entities,
    and Markdown punctuation backslash-escaped."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _PUNCTUATION.sub(r"\\\1", text)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """Rows of already-escaped cells; ``align`` has one letter per column (``l`` or ``r``), default left."""
    align = align or "l" * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _evidence(evidence: list[dict[str, Any]]) -> str:
    return "; ".join(f"{md(e['stack'])}: {md(join_names(e['logical_ids'], EVIDENCE_IDS))}" for e in evidence) or "-"


def _money(value: float | None) -> str:
    return "not priced" if value is None else f"${value:,.2f}"


def _cost(cost: dict[str, Any]) -> list[str]:
    summary = (
        f"Cost: {_money(cost['total_monthly_usd'])} per month (fixed {_money(cost['fixed_monthly_usd'])}, "
        f"usage {_money(cost['usage_monthly_usd'])} at {cost['requests_per_month']:,} requests)"
    )
    rows = [
        (
            md(i["category"]), md(i["label"]), md(f"{format_quantity(i['quantity'])} {i['unit']}"),
            "" if i["unit_usd"] is None else md(f"${format_price(i['unit_usd'])}"), md(_money(i["monthly_usd"])),
        )
        for i in cost["items"]
    ]  # fmt: skip
    free = "free tier applied" if cost["free_tier_applied"] else "no free tier applied"
    return [
        "<details><summary>" + html.escape(summary) + "</summary>",
        "",
        *_table(("Kind", "Item", "Quantity", "Unit price", "Monthly"), rows, "lllrr"),
        "",
        md(f"{cost['currency']}, {cost['region']} list prices as of {cost['prices_as_of']}; {free}.")
        + " Each line's assumption: `llm-observability cost` or the HTML report.",
        "",
        "</details>",
    ]  # fmt: skip


def _group(report: dict[str, Any], group: str) -> list[str]:
    """A group reported beside the levels, folded: each row's status, reason and (when not present) next step."""
    heading = group_heading(report, group)
    if heading is None:
        return []
    rows = [
        (md(c["title"]), STATUS_MARK.get(c["status"], md(c["status"])), md(c["reason"]), md(c["next_step"] or "-"))
        for c in report[group]
    ]
    return [
        "",
        "<details><summary>" + html.escape(heading) + "</summary>",
        "",
        *_table(("Capability", "Status", "Reason", "Next step"), rows),
        "",
        "</details>",
    ]


def render_markdown(report: dict[str, Any], cost: dict[str, Any] | None = None, *, min_level: int | None = None) -> str:
    """The summary of a scorecard (``Scorecard.to_json()``) and, when given, its cost (``CostReport.to_json()``).

    :param min_level: the ``--min-level`` gate, the first line when given. Default: no gate.
    """
    level = report["level"]
    lines: list[str] = []
    if min_level is not None:
        passed, why = gate(level, min_level)
        mark = "\u2705 LLM observability gate passed" if passed else "\u274c LLM observability gate failed"
        lines += [f"## {mark}: {md(why)}", "", f"**{md(headline(level))}**"]
    else:
        lines += [f"## LLM observability maturity: {md(headline(level))}"]
    source = report["source"]
    stacks = [s["name"] for s in source["stacks"]]
    lines += ["", f"Assessed: {md(source['path'])} ({md(source['kind'])}: {md(join_names(stacks, 4))})", ""]
    rungs = []
    for rung in ladder(report):
        state = "\u2705 reached" if rung.reached else "\u27a1\ufe0f next" if rung.level == level + 1 else "not reached"
        rungs.append(
            (
                f"{rung.level} {md(rung.name)}",
                state,
                f"{rung.present}/{rung.total}",
                str(rung.partial),
                str(rung.missing),
            )
        )
    lines += _table(("Level", "State", "Present", "Partial", "Missing"), rungs, "llrrr")
    steps = report["next_steps"]
    if steps:
        target = min(level + 1, report["max_level"])
        lines += ["", f"**Next steps to Level {target} ({md(LEVEL_NAMES.get(target, ''))}):**", ""]
        lines += [
            f"- {md(s['id'])} (L{s['level']}, {STATUS_MARK.get(s['status'], md(s['status']))}): {md(s['action'])}"
            for s in steps
        ]
    elif level == report["max_level"]:
        lines += ["", "Every capability of the maturity model is present."]
    capabilities = report["capabilities"]
    rows = [
        (str(c["level"]), md(c["title"]), STATUS_MARK.get(c["status"], md(c["status"])), md(c["reason"]),
         _evidence(c["evidence"]))
        for c in capabilities
    ]  # fmt: skip
    lines += [
        "",
        f"<details><summary>All {len(capabilities)} capabilities</summary>",
        "",
        *_table(("Level", "Capability", "Status", "Reason", "Evidence (stack: logical ids)"), rows),
        "",
        "</details>",
    ]
    lines += _group(report, "outcomes")
    if cost is not None:
        lines += ["", *_cost(cost)]
    if report["notes"]:
        lines += ["", "Notes: " + " ".join(md(n) for n in report["notes"])]
    return "\n".join(lines) + "\n"
