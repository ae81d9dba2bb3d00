"""Reading CloudWatch dashboards out of CloudFormation templates: the body's intrinsics, its widgets and their grid.

A ``DashboardBody`` is JSON text, in a CDK template a ``Fn::Join`` of JSON fragments and intrinsics
(``{"Ref": "RagAppFunction"}``, ``{"Fn::GetAtt": ["Alarm", "Arn"]}``). Each intrinsic is read as the logical id
it names (``RagAppFunction``, ``Alarm``; a pseudo parameter as itself, ``AWS::Region``), escaped into the JSON
string it sits in, and the text is parsed. Every widget becomes a :class:`Widget` on CloudWatch's 24-column grid:
its kind, position and size, title and the lines that say what it shows (metrics, alarms, the query, the text).
Widgets without ``x``/``y`` are placed as CloudWatch flows them: left to right, top to bottom, each in the first
free place after the widget before it; a missing ``width``/``height`` is CloudWatch's default, 6.

Bad input raises :class:`PreviewError` with one sentence naming the stack, the dashboard and the widget.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from llm_observability.assess.intrinsics import intrinsic
from llm_observability.assess.loader import Source

GRID_COLUMNS = 24
#: CloudWatch's limit on a widget's height (rows) and its default size; the preview draws at most MAX_ROWS rows
#: (a bound on the picture's size: CloudWatch's own dashboards stop at 500 widgets).
MAX_HEIGHT = 1000
MAX_ROWS = 1000
DEFAULT_SIZE = 6
DASHBOARD_TYPE = "AWS::CloudWatch::Dashboard"

WidgetKind = Literal["graph", "number", "alarm status", "log query", "text", "other"]
_SUB_PLACEHOLDER = re.compile(r"\$\{(!?)([^}]*)\}")
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(")


class PreviewError(Exception):
    """An assembly the preview cannot draw (no dashboard, a body that is not JSON, a widget off the grid)."""


@dataclass(frozen=True)
class Widget:
    """One widget as drawn: where it sits on the grid (columns, rows) and what it shows.

    ``lines`` are the metrics (``namespace · name · dimension=value (stats)``), the alarms, the query or the text;
    ``placed`` says whether the body gave ``x``/``y`` or CloudWatch's flow placed it.
    """

    index: int
    kind: WidgetKind
    source_type: str
    x: int
    y: int
    width: int
    height: int
    title: str
    lines: tuple[str, ...]
    placed: Literal["given", "auto"]


@dataclass(frozen=True)
class Dashboard:
    """A CloudWatch dashboard of a stack: its logical id, its name as the template gives it, and its widgets."""

    stack: str
    logical_id: str
    name: str
    widgets: tuple[Widget, ...]

    @property
    def rows(self) -> int:
        """The grid rows the widgets cover (at least 1)."""
        return max((w.y + w.height for w in self.widgets), default=1) or 1

    def describe(self) -> str:
        return f"dashboard {self.logical_id} of stack {self.stack}"


# ------------------------------------------------------------------------------------------------ intrinsics
def readable(value: Any) -> str:
    """Text of a template value with each intrinsic read as the logical id (or pseudo parameter) it names."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    call = intrinsic(value)
    if call is None:
        if isinstance(value, list):
            return ",".join(readable(v) for v in value)
        return json.dumps(value, sort_keys=True, default=str) if value is not None else ""
    name, argument = call
    if name == "Ref":
        return argument if isinstance(argument, str) else "Ref"
    if name == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else argument
        return readable(parts[0]) if isinstance(parts, list) and parts else "GetAtt"
    if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        return readable(argument[0]).join(readable(v) for v in argument[1])
    if name == "Fn::Sub":
        return _sub(argument, escape=False)
    if name == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        return readable(argument[1])
    if name == "Fn::Select" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        index = argument[0]
        if isinstance(index, int | str) and str(index).isdigit() and int(index) < len(argument[1]):
            return readable(argument[1][int(index)])
    if name == "Fn::ImportValue":
        return readable(argument)
    if name == "Fn::GetStackOutput" and isinstance(argument, dict):
        return readable(argument.get("OutputName", "GetStackOutput"))
    return name.removeprefix("Fn::")


def _sub(argument: Any, *, escape: bool) -> str:
    """``Fn::Sub`` text with each ``${Name}`` replaced by its variable or the logical id it names."""
    template, variables = (argument[0], argument[1]) if isinstance(argument, list) and len(argument) == 2 else (
        argument, {}
    )  # fmt: skip
    if not isinstance(template, str):
        return "Sub"
    variables = variables if isinstance(variables, dict) else {}

    def replace(match: re.Match[str]) -> str:
        if match.group(1):  # ${!Literal} is the text ${Literal}
            return "${" + match.group(2) + "}"
        name = match.group(2)
        text = readable(variables[name]) if name in variables else name.split(".", 1)[0]
        return json.dumps(text)[1:-1] if escape else text

    return _SUB_PLACEHOLDER.sub(replace, template)


def body_text(body: Any) -> str | None:
    """The JSON text of a ``DashboardBody``: a string, a ``Fn::Join`` of fragments, or a ``Fn::Sub``; None if
    it is none of these. Intrinsics inside the JSON are replaced by :func:`readable` text, escaped for JSON."""
    if isinstance(body, str):
        return body
    call = intrinsic(body)
    if call is None:
        return None
    name, argument = call
    if name == "Fn::Sub":
        return _sub(argument, escape=True)
    if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        delimiter = argument[0] if isinstance(argument[0], str) else ""
        return delimiter.join(p if isinstance(p, str) else json.dumps(readable(p))[1:-1] for p in argument[1])
    return None


# --------------------------------------------------------------------------------------------------- widgets
def _kind(widget_type: str, properties: dict[str, Any]) -> WidgetKind:
    if widget_type == "metric":
        return "number" if properties.get("view") == "singleValue" else "graph"
    return {"alarm": "alarm status", "log": "log query", "text": "text"}.get(widget_type, "other")  # type: ignore[return-value]


def metric_lines(properties: dict[str, Any]) -> list[str]:
    """One line per metric (stats of the same metric merged) or math expression of a metric widget.

    CloudWatch's shorthand is expanded: ``"."`` repeats the previous metric's value at that position and a
    leading ``"..."`` repeats the previous metric's leading values.
    """
    default_stat = properties.get("stat")
    order: list[str] = []
    stats: dict[str, list[str]] = {}
    previous: list[str] = []
    for entry in properties.get("metrics") or []:
        if not isinstance(entry, list):
            continue
        options = entry[-1] if entry and isinstance(entry[-1], dict) else {}
        tokens = [readable(t) for t in (entry[:-1] if options else entry)]
        if not tokens:
            expression, label = options.get("expression"), options.get("label")
            if expression is not None:
                line = f"= {readable(expression)}" + (f"  [{readable(label)}]" if label else "")
                if line not in stats:
                    order.append(line)
                    stats[line] = []
            continue
        if tokens[0] == "...":
            keep = max(len(previous) - (len(tokens) - 1), 0)
            tokens = previous[:keep] + tokens[1:]
        tokens = [previous[i] if t == "." and i < len(previous) else t for i, t in enumerate(tokens)]
        previous = tokens
        namespace, name, dims = (tokens + ["", ""])[0], (tokens + ["", ""])[1], tokens[2:]
        pairs = " ".join(f"{dims[i]}={dims[i + 1] if i + 1 < len(dims) else ''}" for i in range(0, len(dims), 2))
        line = " · ".join(part for part in (namespace, name, pairs) if part)
        if line not in stats:
            order.append(line)
            stats[line] = []
        stat = options.get("stat", default_stat)
        if stat is not None and readable(stat) not in stats[line]:
            stats[line].append(readable(stat))
    return [f"{line} ({', '.join(stats[line])})" if stats[line] else line for line in order]


def _alarm_name(arn: str) -> str:
    return arn.rsplit(":alarm:", 1)[-1] if ":alarm:" in arn else arn


def _unlink(text: str) -> str:
    """Markdown ``[label](url)`` links as their label; the URL may hold balanced parentheses (console URLs do)."""
    out, rest = [], text
    while (match := _MARKDOWN_LINK.search(rest)) is not None:
        depth, end = 1, match.end()
        while end < len(rest) and depth:
            depth += {"(": 1, ")": -1}.get(rest[end], 0)
            end += 1
        out.append(rest[: match.start()] + match.group(1))
        rest = rest[end:]
    return "".join(out) + rest


def _text_lines(markdown: str) -> list[str]:
    lines = []
    for raw in markdown.splitlines():
        line = _unlink(raw).lstrip("#").strip().replace("`", "").replace("**", "")
        if line:
            lines.append(line)
    return lines


def _lines(kind: WidgetKind, widget_type: str, properties: dict[str, Any]) -> list[str]:
    if kind in ("graph", "number"):
        return metric_lines(properties)
    if kind == "alarm status":
        return [_alarm_name(readable(a)) for a in properties.get("alarms") or []]
    if kind == "log query":
        return [line for line in readable(properties.get("query", "")).splitlines() if line.strip()]
    if kind == "text":
        return _text_lines(readable(properties.get("markdown", "")))
    return [f"{widget_type} widget"]


def _number(value: Any, what: str, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise PreviewError(f"{where} has {what} {json.dumps(value, default=str)[:40]}: expected a whole number.")
    if not low <= int(value) <= high:
        raise PreviewError(f"{where} is off the grid: {what} is {int(value)}, allowed are {low}-{high}.")
    return int(value)


def _overlaps(x: int, y: int, width: int, height: int, placed: list[Widget]) -> bool:
    return any(x < w.x + w.width and w.x < x + width and y < w.y + w.height and w.y < y + height for w in placed)


def _flow(width: int, height: int, after: tuple[int, int], placed: list[Widget]) -> tuple[int, int]:
    """The first free place for a widget without a position, left to right and top to bottom from ``after``."""
    x, y = after
    while True:
        if x + width > GRID_COLUMNS:
            x, y = 0, y + 1
            continue
        if not _overlaps(x, y, width, height, placed):
            return x, y
        x += 1


def parse_widgets(body: Any, where: str) -> tuple[Widget, ...]:
    """The widgets of a ``DashboardBody`` (see the module docstring); ``where`` names the dashboard in errors."""
    text = body_text(body)
    if text is None:
        raise PreviewError(f"{where} has a DashboardBody that is not JSON text (nor a Fn::Join or Fn::Sub of it).")
    try:
        data = json.loads(text)
    except RecursionError:
        raise PreviewError(f"{where} has a DashboardBody nested too deeply to read.") from None
    except ValueError as error:
        reason = getattr(error, "msg", str(error))
        at = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise PreviewError(f"{where} has a DashboardBody that is not JSON: {reason}{at}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("widgets"), list):
        raise PreviewError(f"{where} has a DashboardBody without a widgets list.")
    widgets: list[Widget] = []
    cursor = (0, 0)
    for index, raw in enumerate(data["widgets"], start=1):
        if not isinstance(raw, dict):
            raise PreviewError(f"widget {index} of {where} is not a JSON object.")
        found = raw.get("properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        widget_type = readable(raw.get("type", "?"))
        title = " ".join(readable(properties.get("title", "")).split())
        named = f"widget {index}" + (f" ({title[:60]!r})" if title else "") + f" of {where}"
        width = _number(raw.get("width", DEFAULT_SIZE), "width", named, 1, GRID_COLUMNS)
        height = _number(raw.get("height", DEFAULT_SIZE), "height", named, 1, MAX_HEIGHT)
        if ("x" in raw) != ("y" in raw):
            raise PreviewError(f"{named} gives only one of x and y: CloudWatch needs both, or neither.")
        if "x" in raw:
            x = _number(raw["x"], "x", named, 0, GRID_COLUMNS - 1)
            y = _number(raw["y"], "y", named, 0, MAX_ROWS - 1)
            if x + width > GRID_COLUMNS:
                raise PreviewError(
                    f"{named} is off the grid: x {x} plus width {width} ends at column {x + width}, "
                    f"allowed is at most {GRID_COLUMNS}."
                )
            placed: Literal["given", "auto"] = "given"
        else:
            x, y = _flow(width, height, cursor, widgets)
            placed = "auto"
        if y + height > MAX_ROWS:
            raise PreviewError(
                f"{named} is off the grid: y {y} plus height {height} ends at row {y + height}, "
                f"the preview draws at most {MAX_ROWS} rows."
            )
        cursor = (x + width, y)
        kind = _kind(widget_type, properties)
        lines = tuple(" ".join(line.split()) for line in _lines(kind, widget_type, properties))
        widgets.append(Widget(index, kind, widget_type, x, y, width, height, title, lines, placed))
    return tuple(widgets)


def dashboards(source: Source) -> list[Dashboard]:
    """Every CloudWatch dashboard of the loaded stacks, in template order; :class:`PreviewError` if none."""
    found = []
    for stack in source.stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") != DASHBOARD_TYPE:
                continue
            properties = resource.get("Properties") or {}
            where = f"dashboard {logical_id} of stack {stack.name}"
            name = " ".join(readable(properties.get("DashboardName", "")).split()) or logical_id
            found.append(Dashboard(stack.name, logical_id, name, parse_widgets(properties.get("DashboardBody"), where)))
    if not found:
        raise PreviewError(
            f"{source.path} has no CloudWatch dashboard (no {DASHBOARD_TYPE} resource in its "
            f"{len(source.stacks)} stack(s)): nothing to preview."
        )
    return found
