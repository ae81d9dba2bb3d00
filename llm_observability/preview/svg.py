"""Drawing a :class:`~llm_observability.preview.body.Dashboard` as SVG on CloudWatch's 24-column grid.

Each widget is a ``<g class="widget">`` whose ``data-x``, ``data-y``, ``data-width`` and ``data-height`` are its
grid position and size (columns, rows) and whose ``<rect>`` sits at the matching pixels; inside are its title,
its kind as a word (graph, number, alarm status, log query, text: never colour alone) and as many of its lines
(metrics, alarms, query, text) as its height holds, the rest counted (``… 3 more``). Text is cut to the widget's
width by the monospace advance, escaped by ElementTree, and stripped of characters XML cannot hold. The output
depends on the body only (no dates, no randomness), so committed pictures can be checked for staleness.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from llm_observability.preview.body import GRID_COLUMNS, Dashboard, Widget, WidgetKind

COLUMN_PX = 50
ROW_PX = 36
MARGIN_PX = 16
HEADER_PX = 56
GAP_PX = 3
TITLE_FONT_PX = 14
LINE_FONT_PX = 11
LINE_HEIGHT_PX = 15
#: Average advance of a character as a share of the font size (DejaVu Sans is ~0.55-0.63, its Mono 0.602).
SANS_ADVANCE = 0.62
MONO_ADVANCE = 0.61
SANS = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
MONO = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"
SVG_NS = "http://www.w3.org/2000/svg"
#: Accent per kind (the kind is also written out in each widget).
ACCENTS: Mapping[WidgetKind, str] = {
    "graph": "#0972d3",
    "number": "#037f0c",
    "alarm status": "#d91515",
    "log query": "#8d6605",
    "text": "#5f6b7a",
    "other": "#5f6b7a",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters, lone surrogates)."""
    return _NOT_XML.sub("", text)


def fit(text: str, width_px: float, font_px: float, advance: float) -> str:
    """``text`` cut with an ellipsis to what ``width_px`` holds at ``font_px`` and ``advance`` per character."""
    room = int(width_px // (font_px * advance))
    text = clean(text)
    if len(text) <= room:
        return text
    return text[: max(room - 1, 0)] + "…" if room > 0 else ""


def size(dashboard: Dashboard) -> tuple[int, int]:
    """The picture's width and height in pixels."""
    return 2 * MARGIN_PX + GRID_COLUMNS * COLUMN_PX, HEADER_PX + dashboard.rows * ROW_PX + MARGIN_PX


def box(widget: Widget) -> tuple[int, int, int, int]:
    """The pixel rectangle (x, y, width, height) of a widget's frame."""
    return (
        MARGIN_PX + widget.x * COLUMN_PX + GAP_PX,
        HEADER_PX + widget.y * ROW_PX + GAP_PX,
        widget.width * COLUMN_PX - 2 * GAP_PX,
        widget.height * ROW_PX - 2 * GAP_PX,
    )


def _text(parent: ET.Element, x: float, y: float, content: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": f"{x:g}", "y": f"{y:g}", **attributes})
    element.text = content
    return element


def _widget(parent: ET.Element, widget: Widget) -> None:
    x, y, width, height = box(widget)
    group = ET.SubElement(
        parent,
        "g",
        {
            "class": "widget", "id": f"widget-{widget.index}", "data-index": str(widget.index),
            "data-kind": widget.kind, "data-type": clean(widget.source_type), "data-x": str(widget.x),
            "data-y": str(widget.y), "data-width": str(widget.width), "data-height": str(widget.height),
            "data-placed": widget.placed,
        },
    )  # fmt: skip
    ET.SubElement(group, "title").text = clean(f"{widget.kind}: {widget.title}" if widget.title else widget.kind)
    ET.SubElement(
        group,
        "rect",
        {"x": str(x), "y": str(y), "width": str(width), "height": str(height), "rx": "3", "fill": "#ffffff",
         "stroke": "#c6ccd2", "stroke-width": "1"},
    )  # fmt: skip
    ET.SubElement(
        group, "rect", {"x": str(x), "y": str(y), "width": "4", "height": str(height), "fill": ACCENTS[widget.kind]}
    )
    inner = width - 20
    badge = widget.kind if widget.kind != "other" else clean(widget.source_type)
    badge_px = (len(badge) + 2) * LINE_FONT_PX * SANS_ADVANCE
    baseline = y + 20
    _text(group, x + width - 8, baseline, fit(badge, inner, LINE_FONT_PX, SANS_ADVANCE), **{
        "class": "kind", "text-anchor": "end", "font-family": SANS, "font-size": str(LINE_FONT_PX), "fill": "#414d5c",
    })  # fmt: skip
    lines = list(widget.lines)
    if widget.title:
        title = fit(widget.title, inner - badge_px, TITLE_FONT_PX, SANS_ADVANCE)
        _text(group, x + 12, baseline, title, **{
            "class": "title", "font-family": SANS, "font-size": str(TITLE_FONT_PX), "font-weight": "bold",
            "fill": "#16191f",
        })  # fmt: skip
        top = baseline + 8
    elif widget.kind == "text" and lines:
        first = lines.pop(0)
        _text(group, x + 12, baseline, fit(first, inner - badge_px, TITLE_FONT_PX, SANS_ADVANCE), **{
            "class": "title", "font-family": SANS, "font-size": str(TITLE_FONT_PX), "font-weight": "bold",
            "fill": "#16191f",
        })  # fmt: skip
        top = baseline + 8
    else:
        top = baseline + 8
    room = max(int((y + height - 6 - top) // LINE_HEIGHT_PX), 0)
    if widget.kind == "alarm status":
        _alarm_grid(group, x + 12, top, inner, room, lines)
        return
    mono = widget.kind != "text"
    advance = MONO_ADVANCE if mono else SANS_ADVANCE
    rows = wrap(lines, int(inner // (LINE_FONT_PX * advance)))
    shown = rows if len(rows) <= room else rows[: max(room - 1, 0)]
    for number, (_, indent, text) in enumerate(shown, start=1):
        _text(group, x + 12 + indent * LINE_FONT_PX * advance, top + number * LINE_HEIGHT_PX - 3, clean(text), **{
            "class": "line", "font-family": MONO if mono else SANS, "font-size": str(LINE_FONT_PX), "fill": "#414d5c",
        })  # fmt: skip
    if len(shown) < len(rows) and room > 0:
        last_row = {number: place for place, (number, _, _) in enumerate(rows)}
        hidden = sum(1 for place in last_row.values() if place >= len(shown))
        _more(group, x + 12, top + room * LINE_HEIGHT_PX - 3, hidden)


def wrap(lines: list[str], chars: int, *, most: int = 3) -> list[tuple[int, int, str]]:
    """Visual rows ``(line number, indent in characters, text)`` of ``lines`` wrapped at ``chars`` characters:
    at most ``most`` rows a line, continuation rows indented by two, the last one cut with an ellipsis."""
    rows: list[tuple[int, int, str]] = []
    for number, line in enumerate(lines):
        line, indent, width = clean(line), 0, max(chars, 1)
        for part in range(most):
            if len(line) <= width or part == most - 1:
                rows.append((number, indent, fit(line, width, 1, 1)))
                break
            cut = max(line.rfind(" ", 0, width + 1), line.rfind("·", 0, width + 1) + 1)
            cut = cut if cut > width // 2 else width
            rows.append((number, indent, line[:cut].rstrip()))
            line, indent, width = line[cut:].lstrip(), 2, max(chars - 2, 1)
    return rows


def _more(group: ET.Element, x: float, y: float, count: int) -> None:
    _text(group, x, y, f"… {count} more", **{
        "class": "more", "font-family": SANS, "font-size": str(LINE_FONT_PX), "fill": "#5f6b7a", "font-style": "italic",
    })  # fmt: skip


def _alarm_grid(group: ET.Element, x: float, top: float, inner: float, room: int, alarms: list[str]) -> None:
    """Alarm names in columns, as CloudWatch's alarm status widget tiles them."""
    char_px = LINE_FONT_PX * MONO_ADVANCE
    longest = max((len(a) for a in alarms), default=1)
    columns = max(min(int(inner // ((longest + 3) * char_px)), len(alarms)), 1)
    column_px = inner / columns
    capacity = room * columns
    shown = alarms if len(alarms) <= capacity else alarms[: max(capacity - 1, 0)]
    for place, alarm in enumerate(shown):
        row, column = divmod(place, columns)
        _text(group, x + column * column_px, top + (row + 1) * LINE_HEIGHT_PX - 3,
              fit(alarm, column_px - char_px, LINE_FONT_PX, MONO_ADVANCE), **{
                  "class": "line", "font-family": MONO, "font-size": str(LINE_FONT_PX), "fill": "#414d5c"})  # fmt: skip
    if len(shown) < len(alarms) and capacity > 0:
        row, column = divmod(len(shown), columns)
        _more(group, x + column * column_px, top + (row + 1) * LINE_HEIGHT_PX - 3, len(alarms) - len(shown))


def render_svg(dashboard: Dashboard) -> str:
    """The dashboard as a standalone SVG document (UTF-8 text, no external references)."""
    width, height = size(dashboard)
    heading = clean(f"{dashboard.name}")
    summary = clean(
        f"stack {dashboard.stack} · {dashboard.logical_id} · {len(dashboard.widgets)} widgets on the "
        f"{GRID_COLUMNS}-column grid · drawn from the template, before deploy (no data)"
    )
    root = ET.Element(
        "svg",
        {"xmlns": SVG_NS, "width": str(width), "height": str(height), "viewBox": f"0 0 {width} {height}",
         "role": "img", "aria-labelledby": "dashboard-title dashboard-desc", "data-columns": str(GRID_COLUMNS),
         "data-rows": str(dashboard.rows), "data-column-px": str(COLUMN_PX), "data-row-px": str(ROW_PX)},
    )  # fmt: skip
    ET.SubElement(root, "title", {"id": "dashboard-title"}).text = heading
    ET.SubElement(root, "desc", {"id": "dashboard-desc"}).text = summary
    ET.SubElement(root, "rect", {"width": str(width), "height": str(height), "fill": "#f2f3f3"})
    grid = ET.SubElement(root, "g", {"class": "grid", "stroke": "#e3e6e8", "stroke-width": "1"})
    bottom = HEADER_PX + dashboard.rows * ROW_PX
    for column in range(GRID_COLUMNS + 1):
        left = MARGIN_PX + column * COLUMN_PX
        ET.SubElement(grid, "line", {"x1": str(left), "y1": str(HEADER_PX), "x2": str(left), "y2": str(bottom)})
    _text(root, MARGIN_PX, 24, fit(heading, width - 2 * MARGIN_PX, 17, SANS_ADVANCE), **{
        "class": "heading", "font-family": SANS, "font-size": "17", "font-weight": "bold", "fill": "#16191f",
    })  # fmt: skip
    _text(root, MARGIN_PX, 44, fit(summary, width - 2 * MARGIN_PX, 12, SANS_ADVANCE), **{
        "class": "summary", "font-family": SANS, "font-size": "12", "fill": "#414d5c",
    })  # fmt: skip
    widgets = ET.SubElement(root, "g", {"class": "widgets"})
    for widget in dashboard.widgets:
        _widget(widgets, widget)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
