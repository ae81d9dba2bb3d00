"""The maturity report as one self-contained HTML page (``llm-observability assess --format html``).

It renders the JSON reports (``llm-observability/assess/v1`` and ``llm-observability/cost/v1``), so it
reads the scorecard generically: whatever capabilities the model declares become rows. The page needs no
network and no script: inline CSS only, the system font stack, and a Content-Security-Policy that forbids
loading anything. Every string that comes from a template (logical ids, stack names, reasons quoting
values) is HTML-escaped where it is written (:func:`_e`); nothing from a template becomes a tag, an
attribute name or a URL.

Accessibility: one ``h1`` and nested headings, tables with ``caption`` and ``th scope``, the status as a
symbol and a word (colour only repeats it), text colours of at least 4.5:1 contrast (:data:`PALETTE`,
checked by a test), print and narrow-screen styles. On a narrow screen each table row becomes a card
(``display: block``); the explicit ARIA table roles keep screen readers reading it as a table.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from llm_observability.assess.cost_report import format_price, format_quantity
from llm_observability.assess.model import LEVEL_NAMES
from llm_observability.assess.report import LevelSummary, gate, group_heading, headline, join_names, ladder

#: Status -> (symbol, foreground, background). The foreground/background pairs keep 4.5:1 contrast or more.
STATUS_STYLE: dict[str, tuple[str, str, str]] = {
    "present": ("\u2713", "#0b5d1e", "#e6f4ea"),
    "partial": ("\u25d0", "#6d4400", "#fff4d6"),
    "missing": ("\u2717", "#a0101b", "#fde8ea"),
}
#: Colours of the page's text on its backgrounds (name -> (foreground, background)), each pair >= 4.5:1.
PALETTE: dict[str, tuple[str, str]] = {
    "body": ("#1b1f24", "#ffffff"),
    "muted": ("#4a5360", "#ffffff"),
    "header": ("#1b1f24", "#eef1f4"),
    "link": ("#0b4f9c", "#ffffff"),
    "passed": ("#0b5d1e", "#e6f4ea"),
    "failed": ("#a0101b", "#fde8ea"),
    **{status: (fg, bg) for status, (_, fg, bg) in STATUS_STYLE.items()},
}

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: %(body_bg)s; color: %(body_fg)s; line-height: 1.45;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #c9d1d9; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 0; }
a { color: %(link_fg)s; }
.muted, caption, .assumption { color: %(muted_fg)s; }
.summary { font-size: 1.25rem; margin: .75rem 0; }
.gate { display: inline-block; padding: .35rem .7rem; border-radius: .3rem; border: 1px solid currentColor;
  font-weight: 600; }
.gate.passed { color: %(passed_fg)s; background: %(passed_bg)s; }
.gate.failed { color: %(failed_fg)s; background: %(failed_bg)s; }
.ladder { list-style: none; padding: 0; margin: 0; display: grid; gap: .5rem; }
.ladder li { border: 1px solid #c9d1d9; border-radius: .4rem; padding: .6rem .8rem; }
.ladder p { margin: .2rem 0 0; }
.ladder li.reached { border-left: .5rem solid %(present_fg)s; }
.ladder li.open { border-left: .5rem solid #8c959f; }
.bar { display: block; height: .5rem; background: #eef1f4; border-radius: .25rem; overflow: hidden; margin-top: .4rem; }
.bar span { display: block; height: 100%%; background: %(present_fg)s; }
.status { display: inline-block; white-space: nowrap; font-weight: 600; padding: .05rem .4rem; border-radius: .25rem; }
.status.present { color: %(present_fg)s; background: %(present_bg)s; }
.status.partial { color: %(partial_fg)s; background: %(partial_bg)s; }
.status.missing { color: %(missing_fg)s; background: %(missing_bg)s; }
table { border-collapse: collapse; width: 100%%; margin: .5rem 0 1rem; }
caption { text-align: left; padding: .25rem 0; }
th, td { border: 1px solid #c9d1d9; padding: .4rem .5rem; text-align: left; vertical-align: top; }
thead th, th[scope="rowgroup"] { background: %(header_bg)s; color: %(header_fg)s; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .ids { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em;
  overflow-wrap: anywhere; }
.evidence { margin: 0; padding-left: 1rem; }
@media screen and (max-width: 40rem) {
  main { padding: 1rem .6rem 2rem; }
  table.cards, table.cards tbody, table.cards tr, table.cards th, table.cards td { display: block; width: 100%%; }
  table.cards caption { display: block; }
  table.cards thead { position: absolute; left: -9999px; }
  table.cards td:empty { display: none; }
  table.cards tr { border: 1px solid #c9d1d9; border-radius: .4rem; margin: 0 0 .6rem; }
  table.cards th, table.cards td { border: 0; border-bottom: 1px solid #eef1f4; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
  td.num { text-align: left; }
}
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, .ladder li { break-inside: avoid; }
  thead { display: table-header-group; }
  .bar { border: 1px solid #8c959f; }
  a[href^="http"]::after { content: " (" attr(href) ")"; font-size: .85em; }
}
"""


def _e(value: Any) -> str:
    """``value`` as text, HTML-escaped for element content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def _css() -> str:
    colours = {f"{name}_fg": fg for name, (fg, _) in PALETTE.items()}
    colours |= {f"{name}_bg": bg for name, (_, bg) in PALETTE.items()}
    return _CSS % colours


def _status(status: str) -> str:
    symbol = STATUS_STYLE.get(status, ("?", "", ""))[0]
    return f'<span class="status {_e(status)}"><span aria-hidden="true">{symbol}</span> {_e(status)}</span>'


def _cell(label: str, content: str, css: str = "") -> str:
    """A data cell whose ``label`` names its column on narrow screens (where the table becomes cards)."""
    klass = f' class="{css}"' if css else ""
    return f'<td role="cell" data-label="{_e(label)}"{klass}>{content}</td>'


def _thead(columns: Iterable[str]) -> str:
    cells = "".join(f'<th role="columnheader" scope="col">{_e(c)}</th>' for c in columns)
    return f'<thead role="rowgroup"><tr role="row">{cells}</tr></thead>'


def _evidence(evidence: list[dict[str, Any]]) -> str:
    if not evidence:
        return '<span class="muted">none</span>'
    items = "".join(
        f'<li>{_e(e["stack"])}: <span class="ids">{_e(", ".join(e["logical_ids"]))}</span></li>' for e in evidence
    )
    return f'<ul class="evidence">{items}</ul>'


def _describe(source: dict[str, Any]) -> str:
    stacks = source["stacks"]
    resources = sum(int(s.get("resources", 0)) for s in stacks)
    names = join_names([s["name"] for s in stacks], 4)
    return f"{source['path']} ({source['kind']}: {len(stacks)} stack(s): {names}; {resources} resources)"


# ----------------------------------------------------------------------------------------------- sections
def _summary(report: dict[str, Any], min_level: int | None) -> str:
    level = report["level"]
    parts = [f'<p class="summary"><strong>{_e(headline(level))}</strong></p>']
    if min_level is not None:
        passed, why = gate(level, min_level)
        word, symbol = ("passed", "\u2713") if passed else ("failed", "\u2717")
        parts.append(
            f'<p><span class="gate {word}"><span aria-hidden="true">{symbol}</span> Gate {word}</span> '
            f"{_e(why[:1].upper() + why[1:])}</p>"
        )
    parts.append(f'<p class="muted">Assessed: {_e(_describe(report["source"]))}</p>')
    return "\n".join(parts)


def _rung(rung: LevelSummary, current: int) -> str:
    if rung.reached:
        state, css = "\u2713 reached", "reached"
    elif rung.level == current + 1:
        state, css = "\u2192 next", "open"
    else:
        state, css = "\u2717 not reached", "open"
    percent = round(100 * rung.present / rung.total) if rung.total else 0
    return (
        f'<li class="{css}"><h3>Level {rung.level}: {_e(rung.name)} <span class="muted">({_e(state)})</span></h3>'
        f"<p>{rung.present} of {rung.total} present, {rung.partial} partial, {rung.missing} missing</p>"
        f'<span class="bar" aria-hidden="true"><span style="width: {percent}%"></span></span></li>'
    )


def _ladder(report: dict[str, Any]) -> str:
    rungs = "\n".join(_rung(r, report["level"]) for r in reversed(ladder(report)))
    return (
        '<section aria-labelledby="ladder"><h2 id="ladder">Maturity ladder</h2>\n'
        f'<ol class="ladder" reversed>\n{rungs}\n</ol></section>'
    )


def _capabilities(report: dict[str, Any]) -> str:
    columns = ("Capability", "Status", "Reason", "Evidence (stack: logical ids)")
    bodies = []
    for rung in ladder(report):
        rows = [
            f'<tr role="row" data-capability="{_e(c["id"])}"><th role="rowheader" scope="row">'
            f"{_e(c['title'])}<br><code>{_e(c['id'])}</code></th>"
            + _cell("Status", _status(c["status"]))
            + _cell("Reason", _e(c["reason"]))
            + _cell("Evidence", _evidence(c["evidence"]))
            + "</tr>"
            for c in report["capabilities"]
            if c["level"] == rung.level
        ]
        head = (
            f'<tr role="row"><th role="rowheader" scope="rowgroup" colspan="4">Level {rung.level}: {_e(rung.name)} '
            f"({rung.present} of {rung.total} present)</th></tr>"
        )
        bodies.append('<tbody role="rowgroup">' + head + "".join(rows) + "</tbody>")
    return (
        '<section aria-labelledby="capabilities"><h2 id="capabilities">Capabilities</h2>\n'
        '<table class="cards" role="table" id="capability-table"><caption>Each capability of the maturity model: '
        "its status, why, and the resources that are its evidence.</caption>"
        + _thead(columns) + "\n".join(bodies) + "</table></section>"
    )  # fmt: skip


def _group(report: dict[str, Any], group: str) -> str:
    """A group reported beside the levels (not counted in them): one list item per row with its status, reason and,
    when not present, the next step. A list, not a table: the capability table stays the only one of capabilities."""
    heading = group_heading(report, group)
    if heading is None:
        return ""
    items = "".join(
        f"<li><strong>{_e(c['title'])}</strong> <code>{_e(c['id'])}</code> {_status(c['status'])}<br>{_e(c['reason'])}"
        + (f'<br><span class="muted">Next: {_e(c["next_step"])}</span>' if c.get("next_step") else "")
        + "</li>"
        for c in report[group]
    )
    return f'<section aria-labelledby="{_e(group)}"><h2 id="{_e(group)}">{_e(heading)}</h2><ul>{items}</ul></section>'


def _next_steps(report: dict[str, Any]) -> str:
    steps = report["next_steps"]
    if not steps:
        text = (
            "Every capability of the maturity model is present."
            if report["level"] == report["max_level"]
            else "Nothing to add."
        )
        return f'<section aria-labelledby="next-steps"><h2 id="next-steps">Next steps</h2><p>{_e(text)}</p></section>'
    target = min(report["level"] + 1, report["max_level"])
    items = "".join(
        f"<li><strong>{_e(s['id'])}</strong> (Level {_e(s['level'])}, {_status(s['status'])}): {_e(s['action'])}</li>"
        for s in steps
    )
    return (
        f'<section aria-labelledby="next-steps"><h2 id="next-steps">Next steps to Level {target} '
        f"({_e(LEVEL_NAMES.get(target, ''))})</h2><ol>{items}</ol></section>"
    )


def _money(value: float | None) -> str:
    return "not priced" if value is None else f"${value:,.2f}"


def _cost_table(cost: dict[str, Any], category: str, title: str) -> str:
    items = [i for i in cost["items"] if i["category"] == category]
    if not items:
        return f"<h3>{_e(title)}</h3><p>None.</p>"
    rows = "".join(
        f'<tr role="row"><th role="rowheader" scope="row">{_e(i["label"])}</th>'
        + _cell("Quantity", f"{_e(format_quantity(i['quantity']))} {_e(i['unit'])}", "num")
        + _cell("Unit price", "" if i["unit_usd"] is None else f"${_e(format_price(i['unit_usd']))}", "num")
        + _cell("Monthly", _e(_money(i["monthly_usd"])), "num")
        + _cell("Assumption", f'<span class="assumption">{_e(i["assumption"])}</span>')
        + "</tr>"
        for i in items
    )
    total = cost["fixed_monthly_usd"] if category == "fixed" else cost["usage_monthly_usd"]
    foot = (
        f'<tfoot role="rowgroup"><tr role="row"><th role="rowheader" scope="row">Total {_e(category)}</th>'
        '<td role="cell"></td><td role="cell"></td>'
        f'{_cell("Monthly", _e(_money(total)), "num")}<td role="cell"></td></tr></tfoot>'
    )
    return (
        f'<table class="cards" role="table"><caption>{_e(title)}</caption>'
        + _thead(("Item", "Quantity", "Unit price", "Monthly (USD)", "Assumption"))
        + f'<tbody role="rowgroup">{rows}</tbody>{foot}</table>'
    )


def _cost(cost: dict[str, Any]) -> str:
    free = "the account's free allowances subtracted" if cost["free_tier_applied"] else "no free tier applied"
    intro = (
        f"<p><strong>Estimated total: {_e(_money(cost['total_monthly_usd']))} per month</strong> "
        f"(fixed {_e(_money(cost['fixed_monthly_usd']))}, usage {_e(_money(cost['usage_monthly_usd']))} at "
        f"{cost['requests_per_month']:,} requests a month; {_e(free)}). {_e(cost['currency'])}, "
        f"{_e(cost['region'])} list prices as of {_e(cost['prices_as_of'])}.</p>"
    )
    tables = _cost_table(cost, "fixed", "Fixed monthly cost") + _cost_table(
        cost, "usage", f"Usage at {cost['requests_per_month']:,} requests a month"
    )
    used = sorted({i["source"] for i in cost["items"] if i.get("source")})
    links = "".join(
        f'<li>{_e(name)}: <a href="{_e(url)}">{_e(url)}</a></li>'
        if str(url).startswith("https://")
        else f"<li>{_e(name)}: {_e(url)}</li>"
        for name, url in ((n, cost["sources"].get(n, "")) for n in used)
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in cost["notes"])
    return (
        '<section aria-labelledby="cost"><h2 id="cost">Monthly cost of the observability</h2>'
        + intro + tables
        + (f"<h3>Notes on the estimate</h3><ul>{notes}</ul>" if notes else "")
        + f"<h3>Prices</h3><p>{_e(cost['basis'])}</p>"
        + (f"<ul>{links}</ul>" if links else "")
        + "</section>"
    )  # fmt: skip


def render_html(report: dict[str, Any], cost: dict[str, Any] | None = None, *, min_level: int | None = None) -> str:
    """The page for a scorecard (``Scorecard.to_json()``) and, when given, its cost (``CostReport.to_json()``).

    :param min_level: the ``--min-level`` gate, shown first when given. Default: no gate.
    """
    title = f"LLM observability maturity: {headline(report['level'])}"
    notes = "".join(f"<li>{_e(n)}</li>" for n in report["notes"])
    sections = [
        _summary(report, min_level),
        _ladder(report),
        _next_steps(report),
        _capabilities(report),
        _group(report, "outcomes"),
        _cost(cost) if cost is not None else "",
        f'<section aria-labelledby="notes"><h2 id="notes">Notes</h2><ul>{notes}</ul></section>' if notes else "",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="llm-observability assess">\n'
        f"<title>{_e(title)}</title>\n<style>{_css()}</style>\n</head>\n<body>\n<main>\n"
        "<h1>LLM observability maturity report</h1>\n" + "\n".join(s for s in sections if s) + "\n"
        f'<footer><p class="muted">Generated by <code>llm-observability assess --format html</code> from the '
        f"{_e(report['schema'])} report.</p></footer>\n</main>\n</body>\n</html>\n"
    )
