"""Dashboards the library did not write: intrinsics, CloudWatch's flow for widgets without a position, bad input
(one sentence, exit 2, nothing written) and hostile text (escaped, the SVG stays well-formed)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_observability.assess import load
from llm_observability.preview import dashboards, png_available, previews, render_svg, run, to_png
from llm_observability.preview.body import Dashboard, parse_widgets, readable
from llm_observability.preview.command import index_page
from llm_observability.preview.png import MAX_HEIGHT_PX
from llm_observability.preview.svg import clean
from tests.support.browser import is_blank, png_size

SVG = "{http://www.w3.org/2000/svg}"


def template(body: Any, **extra: Any) -> dict[str, Any]:
    resources = {
        "Api": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": body, **extra}},
    }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def write(tmp_path: Path, data: dict[str, Any], name: str = "foreign.template.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def metric(title: str, width: int | None = None, height: int | None = None, **extra: Any) -> dict[str, Any]:
    widget: dict[str, Any] = {"type": "metric", "properties": {"title": title, "metrics": [["NS", "M"]], **extra}}
    if width is not None:
        widget["width"] = width
    if height is not None:
        widget["height"] = height
    return widget


FOREIGN_BODY = {
    "Fn::Join": [
        "",
        [
            '{"widgets":[{"type":"metric","width":12,"height":4,"properties":{"title":"Errors of ',
            {"Ref": "Api"},
            '","view":"timeSeries","region":"',
            {"Ref": "AWS::Region"},
            '","metrics":[["AWS/Lambda","Errors","FunctionName","',
            {"Ref": "Api"},
            '",{"stat":"Sum"}],[".","Throttles",".",".",{"stat":"Sum"}],["...","Other"]]}},'
            '{"type":"metric","width":12,"height":4,"properties":{"title":"Now","view":"singleValue",'
            '"metrics":[["AWS/Lambda","Duration","FunctionName","',
            {"Fn::GetAtt": ["Api", "Arn"]},
            '"]]}},{"type":"log","width":16,"properties":{"title":"Q","query":"SOURCE \'',
            {"Fn::Sub": "/aws/lambda/${Api}"},
            "' | limit 5\"}},{\"type\":\"explorer\",\"width\":8,\"height\":3,\"properties\":{}},"
            '{"type":"text","x":0,"y":20,"width":24,"height":1,"properties":{"markdown":"## [Runbook](https://x)"}}]}',
        ],
    ]
}


def test_a_foreign_dashboard_is_drawn_with_logical_ids_and_cloudwatchs_flow(tmp_path: Path) -> None:
    path = write(tmp_path, template(FOREIGN_BODY, DashboardName={"Fn::Sub": "${AWS::StackName}-ops"}))
    (board,) = dashboards(load(path))
    assert board.name == "AWS::StackName-ops" and board.stack == "foreign"
    graph, number, query, other, text = board.widgets
    # Without x/y: left to right, then the next row below the first widget; width/height default to 6.
    assert [(w.x, w.y, w.width, w.height, w.placed) for w in board.widgets] == [
        (0, 0, 12, 4, "auto"), (12, 0, 12, 4, "auto"), (0, 4, 16, 6, "auto"), (16, 4, 8, 3, "auto"),
        (0, 20, 24, 1, "given"),
    ]  # fmt: skip
    assert graph.title == "Errors of Api" and graph.kind == "graph"
    assert graph.lines == (
        "AWS/Lambda · Errors · FunctionName=Api (Sum)",  # {"Ref": "Api"} -> Api
        "AWS/Lambda · Throttles · FunctionName=Api (Sum)",  # "." repeats the value at that place
        "AWS/Lambda · Throttles · FunctionName=Other",  # "..." repeats the leading values
    )
    assert number.kind == "number" and number.lines == ("AWS/Lambda · Duration · FunctionName=Api",)
    assert query.kind == "log query" and query.lines == ("SOURCE '/aws/lambda/Api' | limit 5",)
    assert other.kind == "other" and other.source_type == "explorer"
    assert text.kind == "text" and text.lines == ("Runbook",)
    svg = render_svg(board)
    root = ET.fromstring(svg.encode())
    assert [g.get("data-kind") for g in root.iter(f"{SVG}g") if g.get("class") == "widget"] == [
        "graph", "number", "log query", "other", "text",
    ]  # fmt: skip
    if png_available():
        png = to_png(svg)
        assert png_size(png) == (1232, 56 + 21 * 36 + 16)
        assert not is_blank(png)


@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
@pytest.mark.skipif(not png_available(), reason="resvg-py is not installed")
def test_a_very_tall_dashboard_is_scaled_down_in_the_png() -> None:
    widgets = parse_widgets(_widgets({**metric("Tall", 24, 1000), "x": 0, "y": 0}), "here")
    svg = render_svg(Dashboard("stack", "Board", "tall", widgets))
    width, height = png_size(to_png(svg))
    assert height == MAX_HEIGHT_PX and width == round(1232 * MAX_HEIGHT_PX / (56 + 1000 * 36 + 16))


def test_readable_intrinsics() -> None:
    assert readable({"Ref": "Fn"}) == "Fn"
    assert readable({"Fn::GetAtt": "Alarm.Arn"}) == "Alarm"
    assert readable({"Fn::Join": [":", ["a", {"Ref": "AWS::Region"}]]}) == "a:AWS::Region"
    assert readable({"Fn::Sub": ["${X}-${!Y}", {"X": {"Ref": "Z"}}]}) == "Z-${Y}"
    assert readable({"Fn::ImportValue": "shared:LogGroup"}) == "shared:LogGroup"
    assert readable({"Fn::Select": [1, ["a", {"Ref": "B"}]]}) == "B"
    assert readable({"Fn::Base64": "x"}) == "Base64"


def test_a_plain_string_body_and_a_body_with_quotes_in_a_sub() -> None:
    body = {"Fn::Sub": '{"widgets":[{"type":"text","width":24,"height":2,"properties":{"markdown":"${Name}"}}]}'}
    (widget,) = parse_widgets(body, "here")
    assert widget.lines == ("Name",)
    (widget,) = parse_widgets(json.dumps({"widgets": [metric("t", 6, 6, view="gauge")]}), "here")
    assert (widget.kind, widget.x, widget.y) == ("graph", 0, 0)


# --------------------------------------------------------------------------------------------------- bad input
def _widgets(*widgets: dict[str, Any]) -> str:
    return json.dumps({"widgets": list(widgets)})


BAD = {
    "no dashboard": (
        {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"B": {"Type": "AWS::S3::Bucket"}}},
        "has no CloudWatch dashboard (no AWS::CloudWatch::Dashboard resource in its 1 stack(s)): nothing to preview.",
    ),
    "not JSON": (template('{"widgets": [}'), "has a DashboardBody that is not JSON: Expecting value at line 1"),
    "not text": (template({"Fn::If": ["C", "{}", "{}"]}), "has a DashboardBody that is not JSON text"),
    "not a string": (template({"widgets": []}), "is {\"widgets\": []}, expected a string."),
    "no widgets": (template('{"start": "-PT3H"}'), "has a DashboardBody without a widgets list."),
    "off the grid": (
        template(_widgets({**metric("Wide", 8, 6), "x": 20, "y": 0})),
        "widget 1 ('Wide') of dashboard Board of stack foreign is off the grid: x 20 plus width 8 ends at column 28",
    ),
    "too wide": (template(_widgets(metric("W", 25, 6))), "is off the grid: width is 25, allowed are 1-24."),
    "negative y": (template(_widgets({**metric("N", 6, 6), "x": 0, "y": -1})), "is off the grid: y is -1"),
    "below the grid": (
        template(_widgets({**metric("Low", 6, 10), "x": 0, "y": 995})),
        "is off the grid: y 995 plus height 10 ends at row 1005, the preview draws at most 1000 rows.",
    ),
    "x only": (template(_widgets({**metric("X", 6, 6), "x": 3})), "gives only one of x and y"),
    "fraction": (template(_widgets(metric("F", 2.5, 6))), "has width 2.5: expected a whole number."),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, expected = BAD[case]
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("before")
    assert run(write(tmp_path, data), out) == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert captured.out == "" and "\n" not in message and "Traceback" not in message
    assert message.startswith("llm-observability preview: ") and message.endswith(".")
    assert expected in message
    assert sorted(p.name for p in out.iterdir()) == ["index.html"] and (out / "index.html").read_text() == "before"


def test_unreadable_input_and_an_output_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path / "missing", tmp_path / "out") == 2
    assert "does not exist" in capsys.readouterr().err
    good = write(tmp_path, template(_widgets(metric("ok", 6, 6))))
    (tmp_path / "file").write_text("x")
    assert run(good, tmp_path / "file") == 2
    assert capsys.readouterr().err.strip().endswith("is a file, give a folder.")


# ------------------------------------------------------------------------------------------------ hostile text
HOSTILE = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=8)
    | st.sampled_from(["<", ">", "&", '"', "'", "]]>", "<script>", "</text>", "\x00", "\x1b", "\ud800"]),
    max_size=8,
).map("".join)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=HOSTILE, name=HOSTILE, query=HOSTILE)
def test_hostile_titles_are_escaped(title: str, name: str, query: str, tmp_path: Path) -> None:
    body = _widgets(
        metric(title, 8, 6),
        {"type": "log", "x": 8, "y": 0, "width": 8, "height": 6, "properties": {"title": title, "query": query}},
    )
    path = write(tmp_path, template(body, DashboardName=name))
    (drawn,) = previews(load(path), png=False)
    root = ET.fromstring(drawn.svg.encode("utf-8"))  # well-formed whatever the text
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "foreignObject")]
    assert root.findtext(f"{SVG}title") == clean(drawn.dashboard.name)
    normal = " ".join(title.split())
    widget = root.find(f".//{SVG}g[@class='widget']")
    assert widget is not None
    assert widget.findtext(f"{SVG}title") == clean(f"graph: {normal}" if normal else "graph")
    tags = _Tags()
    tags.feed(index_page([drawn], str(path)))
    assert tags.tags.count("script") == 0 and tags.tags.count("img") == 1
