"""The dashboard previews of the bundled app: every widget of the body at its grid position, nothing overlapping.

The oracle reads the synthesized DashboardBody on its own (the ``Fn::Join`` with every intrinsic as a fixed word,
parsed as JSON) and compares its widgets with the SVG's ``<g class="widget">`` elements: grid attributes, the
pixel rectangle, the kind and the title.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from llm_observability.assess import load
from llm_observability.preview import dashboards, png_available, previews, render_svg, run
from llm_observability.preview.svg import COLUMN_PX, GAP_PX, HEADER_PX, MARGIN_PX, ROW_PX, size
from tests.conftest import SynthResult
from tests.support.browser import png_size

SVG = "{http://www.w3.org/2000/svg}"
KINDS = {"metric": "graph", "alarm": "alarm status", "log": "log query", "text": "text"}


def body_widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The widgets of the template's one dashboard, read without the preview's code."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "INTRINSIC" for p in parts))["widgets"]


def svg_widgets(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg.encode("utf-8"))
    return root.findall(f".//{SVG}g[@class='widget']")


def grid(element: ET.Element) -> tuple[int, int, int, int]:
    return tuple(int(element.get(f"data-{key}")) for key in ("x", "y", "width", "height"))  # type: ignore[return-value]


@pytest.fixture(scope="module", params=[1, 2])
def level(request: pytest.FixtureRequest) -> tuple[int, SynthResult]:
    """(level, the bundled app synthesized at that level): the dashboard of that level's stack is checked."""
    return request.param, request.getfixturevalue(f"level{request.param}")


@pytest.fixture(scope="module")
def drawn(level: tuple[int, SynthResult]) -> tuple[list[dict[str, Any]], str]:
    number, app = level
    (board,) = [d for d in dashboards(load(app.outdir)) if f"-l{number}-" in d.stack]
    return body_widgets(app.template(number)), render_svg(board)


def test_every_widget_is_drawn_at_its_grid_position(drawn: tuple[list[dict[str, Any]], str]) -> None:
    widgets, svg = drawn
    elements = svg_widgets(svg)
    assert len(elements) == len(widgets) > 10
    for widget, element in zip(widgets, elements, strict=True):
        assert grid(element) == (widget["x"], widget["y"], widget["width"], widget["height"])
        assert element.get("data-placed") == "given"
        rect = element.find(f"{SVG}rect")
        assert rect is not None
        assert (int(rect.get("x")), int(rect.get("y"))) == (
            MARGIN_PX + widget["x"] * COLUMN_PX + GAP_PX, HEADER_PX + widget["y"] * ROW_PX + GAP_PX,
        )  # fmt: skip
        assert (int(rect.get("width")), int(rect.get("height"))) == (
            widget["width"] * COLUMN_PX - 2 * GAP_PX, widget["height"] * ROW_PX - 2 * GAP_PX,
        )  # fmt: skip


def test_kinds_and_titles_are_the_bodys(drawn: tuple[list[dict[str, Any]], str]) -> None:
    widgets, svg = drawn
    for widget, element in zip(widgets, svg_widgets(svg), strict=True):
        properties = widget["properties"]
        kind = "number" if properties.get("view") == "singleValue" else KINDS[widget["type"]]
        assert element.get("data-kind") == kind
        assert element.findtext(f"{SVG}text[@class='kind']") == kind
        if "title" in properties:
            assert element.findtext(f"{SVG}title") == f"{kind}: {properties['title']}"
    assert {e.get("data-kind") for e in svg_widgets(svg)} >= {"graph", "alarm status", "log query", "text"}


def test_no_widgets_overlap_and_all_fit_the_grid(drawn: tuple[list[dict[str, Any]], str]) -> None:
    boxes = [grid(e) for e in svg_widgets(drawn[1])]
    for x, _, width, _ in boxes:
        assert 0 <= x and x + width <= 24
    for (ax, ay, aw, ah), (bx, by, bw, bh) in combinations(boxes, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, ((ax, ay, aw, ah), (bx, by, bw, bh))


def test_the_level_1_dashboard_shows_its_metrics_alarms_and_queries_by_logical_id(level1: SynthResult) -> None:
    (board,) = [d for d in dashboards(load(level1.outdir)) if "-l1-" in d.stack]
    by_title = {w.title: w for w in board.widgets}
    latency = by_title["Bedrock inference latency (ms)"]
    assert latency.kind == "graph"
    assert latency.lines[0].startswith("AWS/Bedrock · InvocationLatency · ModelId=")
    assert latency.lines[0].endswith("(p50, p90, p99)")  # three stats of one metric, one line
    alarms = [w for w in board.widgets if w.kind == "alarm status"][0]
    alarm_ids = {k for k, v in level1.template(1)["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms.lines and set(alarms.lines) <= alarm_ids  # Fn::GetAtt [Alarm, Arn] -> the alarm's logical id
    log_group = next(k for k in level1.template(1)["Resources"] if k.startswith("RagAppFunctionLogs"))
    queries = [w for w in board.widgets if w.kind == "log query"]
    assert queries and all(w.lines[0].startswith(f"SOURCE '{log_group}' |") for w in queries)
    lambda_widget = next(w for w in board.widgets if w.title.startswith("Lambda invocations"))
    function = next(k for k, v in level1.template(1)["Resources"].items() if k.startswith("RagAppFunction")
                    and v["Type"] == "AWS::Lambda::Function")  # fmt: skip
    assert f"FunctionName={function}" in lambda_widget.lines[0]
    assert [w.kind for w in board.widgets].count("number") == 1
    svg = render_svg(board)
    assert "Fn::" not in svg and '"Ref"' not in svg and "INTRINSIC" not in svg


def test_run_writes_an_svg_png_and_index_per_dashboard(level2: SynthResult, tmp_path: Path) -> None:
    out = tmp_path / "previews"
    assert run(level2.outdir, out) == 0
    drawn = previews(load(level2.outdir), png=False)
    assert len(drawn) == 2
    index = (out / "index.html").read_text()
    for preview in drawn:
        svg = (out / f"{preview.stem}.svg").read_text()
        assert svg == preview.svg
        assert f'src="{preview.stem}.svg"' in index and f'href="{preview.stem}.svg"' in index
        if png_available():
            assert png_size((out / f"{preview.stem}.png").read_bytes()) == size(preview.dashboard)
            assert f'href="{preview.stem}.png"' in index
    assert "<script" not in index and "http" not in index.replace('"http://www.w3.org', "")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temporary file left
