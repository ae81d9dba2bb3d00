"""``assess --format html``: one self-contained, accessible page per assembly; hostile template strings stay text;
the file is written atomically."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_observability.assess.cost import estimate
from llm_observability.assess.loader import Source, StackTemplate, load
from llm_observability.assess.render_html import PALETTE, STATUS_STYLE, render_html
from llm_observability.assess.scorecard import assess
from tests.assess.conftest import TEMPLATES
from tests.conftest import SynthResult

Run = Callable[..., tuple[int, str, str]]

#: Every element and attribute the renderer writes: anything else in a page came from a template.
ELEMENTS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "strong", "span", "section",
    "ol", "ul", "li", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "code", "br", "a", "footer",
}  # fmt: skip
ATTRIBUTES = {
    "lang", "charset", "http-equiv", "content", "name", "class", "id", "aria-labelledby", "aria-hidden", "style",
    "reversed", "role", "scope", "colspan", "data-label", "data-capability", "href",
}  # fmt: skip


class Page(HTMLParser):
    """The parts of a rendered page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.cells: dict[str, str] = {}  # capability id -> its row's text
        self._row: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "tr" and "data-capability" in attributes:
            self._row = attributes["data-capability"]
            self.cells[self._row] = ""
        if tag not in ("meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._row is not None:
            self.cells[self._row] += data + " "

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    @property
    def body_text(self) -> str:
        return "".join(self.text)


def _report(path: Path, **cost: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    source = load(path)
    return assess(source).to_json(), estimate(source, **cost).to_json()


def _check_page(html: str, report: dict[str, Any], cost: dict[str, Any]) -> Page:
    """What every report page must be: self-contained, semantic, one row per capability with its status."""
    page = Page(html)
    assert html.startswith("<!DOCTYPE html>") and page.stack == [], f"unclosed elements: {page.stack}"
    assert {t for t, _ in page.tags} <= ELEMENTS
    assert {name for _, a in page.tags for name in a} <= ATTRIBUTES
    # Self-contained: no scripts, no external resources (stylesheets, fonts, images), a CSP forbidding them anyway.
    assert "<script" not in html and "url(" not in html and "@import" not in html and "@font-face" not in html
    assert all(not (a.get("href") or "").startswith(("http:", "//")) for _, a in page.tags)
    csp = [m["content"] for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0].startswith("default-src 'none'")
    # Semantics: one h1, every table captioned, every header cell scoped.
    assert len(page.all("h1")) == 1 and page.all("caption") and len(page.all("caption")) == len(page.all("table"))
    assert all(th.get("scope") in ("col", "row", "rowgroup") for th in page.all("th"))
    # Every capability: a row with its title, id, status as a word, reason and evidence ids.
    assert list(page.cells) == [c["id"] for c in report["capabilities"]]
    for c in report["capabilities"]:
        row = " ".join(page.cells[c["id"]].split())
        assert c["title"] in row and c["status"] in row and " ".join(c["reason"].split()) in row
        assert all(" ".join(i.split()) in row for e in c["evidence"] for i in e["logical_ids"])
    # The ladder (three rungs), the level reached, the cost total and each cost line.
    assert len([li for li in page.all("li") if "reached" in (li.get("class") or "") or li.get("class") == "open"]) == 3
    text = " ".join(page.body_text.split())
    level = report["level"]
    assert (
        f"Level {level} ({report['level_name']}) fully reached" if level else "Level 1 (Foundation) not reached"
    ) in text
    assert f"Estimated total: ${cost['total_monthly_usd']:,.2f} per month" in text
    assert all(i["label"] in text for i in cost["items"])
    return page


# ------------------------------------------------------------------------------------------------- assemblies
@pytest.mark.parametrize(("fixture", "level"), [("level1", 1), ("level2", 2), ("level3", 3)])
def test_html_report_of_each_level(
    run_cli: Run,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fixture: str,
    level: int,
) -> None:
    app: SynthResult = request.getfixturevalue(fixture)
    capsys.readouterr()  # the synthesis's own warnings, when this test is the first to ask for the app
    out = tmp_path / "report.html"
    code, stdout, stderr = run_cli("assess", app.outdir, "--format", "html", "-o", out, "--min-level", str(level))
    assert (code, stdout, stderr) == (0, "", "")
    report, cost = _report(app.outdir)
    assert report["level"] == level
    page = _check_page(out.read_text(encoding="utf-8"), report, cost)
    assert "Gate passed" in page.body_text
    next_steps = " ".join(page.body_text.split()).split("Capabilities")[0]
    if level < 3:
        assert all(s["action"] in next_steps for s in report["next_steps"]) and report["next_steps"]
    else:
        assert "Every capability of the maturity model is present." in next_steps


def test_gate_failure_is_shown_first_and_exits_1(run_cli: Run, level1: SynthResult, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, stderr = run_cli("assess", level1.outdir, "--format", "html", "-o", out, "--min-level", "2")
    assert code == 1 and stdout == ""
    assert stderr == "llm-observability: maturity level 1 (Foundation) is below the required minimum 2 (Proactive).\n"
    text = " ".join(Page(out.read_text()).body_text.split())
    gate = "Gate failed Maturity level 1 (Foundation) is below the required minimum 2 (Proactive)."
    assert gate in text and text.index(gate) < text.index("Maturity ladder")


@pytest.mark.parametrize(
    "path", [TEMPLATES / "foreign_observed.json", TEMPLATES / "foreign_short_intrinsics.yaml", TEMPLATES]
)
def test_html_report_of_foreign_templates(run_cli: Run, path: Path) -> None:
    code, html, stderr = run_cli("assess", path, "--format", "html", "--requests-per-month", "50000", "--free-tier")
    assert (code, stderr) == (0, "")
    report, cost = _report(path, requests_per_month=50_000, free_tier=True)
    text = " ".join(_check_page(html, report, cost).body_text.split())
    assert "50,000 requests a month; the account's free allowances subtracted" in text


def test_status_is_a_symbol_and_a_word_in_colours_of_enough_contrast() -> None:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for name, (fg, bg) in PALETTE.items():
        high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
        assert (high + 0.05) / (low + 0.05) >= 4.5, f"{name}: {fg} on {bg}"
    html = render_html(*_report(TEMPLATES / "foreign_observed.json"))
    for status, (symbol, _, _) in STATUS_STYLE.items():
        assert f'<span class="status {status}"><span aria-hidden="true">{symbol}</span> {status}</span>' in html
    assert "@media print" in html and "@media screen and (max-width: 40rem)" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


# ------------------------------------------------------------------------------------------------- hostile strings
_FOREIGN = json.loads((TEMPLATES / "foreign_observed.json").read_text())
_HOSTILE = st.lists(
    st.sampled_from([*"<>&\"'/=!-[]`*_|\\;:(){}# \n\tAé☃", "script", "img", "onerror", "&amp;", "<!--", "]]>"]),
    min_size=1,
    max_size=12,
).map("".join) | st.sampled_from(["</td></tr></table><script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])


def hostile_source(name: str) -> Source:
    """foreign_observed.json with the stack, three evidence resources, a namespace and a tag key named ``name``."""
    template = copy.deepcopy(_FOREIGN)
    resources = template["Resources"]
    for old, suffix in (("Dashboard", "D"), ("BedrockLatencyAlarm", "L"), ("AnswerErrorsAlarm", "E")):
        resources[f"{name}{suffix}"] = resources.pop(old)
    resources[f"{name}E"]["Properties"]["Namespace"] = f"{name}NS"
    for resource in resources.values():
        for tag in resource.get("Properties", {}).get("Tags", []):
            tag["Key"] = f"{name}Tag"
    return Source(path=Path(f"{name}.json"), kind="template", stacks=[StackTemplate(name, Path("t.json"), template)])


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_HOSTILE)
def test_hostile_template_strings_never_become_markup(name: str) -> None:
    source = hostile_source(name)
    report, cost = assess(source).to_json(), estimate(source).to_json()
    html = render_html(report, cost, min_level=1)
    page = _check_page(html, report, cost)  # the same elements, attributes and rows as any page
    assert len(page.all("table")) == 3 and len(page.all("script")) == 0
    text = page.body_text
    for suffix in ("D", "L", "E"):
        assert f"{name}{suffix}" in text  # shown as text, exactly
    assert f"{name}Tag" in text or f"{name}NS" in text


# ------------------------------------------------------------------------------------------------- atomic output
def test_bad_input_writes_nothing_and_keeps_the_old_report(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"Resources": {')
    out = tmp_path / "report.html"
    code, stdout, stderr = run_cli("assess", tmp_path / "broken.json", "--format", "html", "-o", out)
    assert code == 2 and stdout == "" and not out.exists()
    assert stderr.startswith("llm-observability: ") and stderr.count("\n") == 1 and "is not valid JSON" in stderr
    out.write_text("previous report")
    assert run_cli("assess", tmp_path / "broken.json", "--format", "markdown", "-o", out)[0] == 2
    assert out.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.json", "report.html"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [("missing/report.html", "No such file or directory"), (".", "it is a folder, give a file name")],
)
def test_unwritable_output_is_one_sentence(run_cli: Run, tmp_path: Path, target: str, expected: str) -> None:
    code, stdout, stderr = run_cli(
        "assess", TEMPLATES / "plain_serverless.json", "--format", "html", "-o", tmp_path / target
    )
    assert code == 2 and stdout == "" and stderr.count("\n") == 1
    assert stderr.startswith(f"llm-observability: cannot write {tmp_path / target}") and expected in stderr


def test_a_failed_write_leaves_no_temporary_file(run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.md"
    out.write_text("previous report")
    os.chmod(out, 0o644)

    def disk_full(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    code, _, stderr = run_cli("assess", TEMPLATES / "plain_serverless.json", "--format", "markdown", "-o", out)
    assert code == 2 and stderr == f"llm-observability: cannot write {out}: No space left on device.\n"
    assert out.read_text() == "previous report" and [p.name for p in tmp_path.iterdir()] == ["report.md"]
    monkeypatch.undo()
    assert run_cli("assess", TEMPLATES / "plain_serverless.json", "--format", "markdown", "-o", out)[0] == 0
    assert out.read_text().startswith("## LLM observability maturity") and out.stat().st_mode & 0o777 == 0o644


def test_text_json_and_cost_take_an_output_file_too(run_cli: Run, tmp_path: Path) -> None:
    assert run_cli("assess", TEMPLATES / "cost_small.json", "--format", "json", "-o", tmp_path / "a.json") == (
        0,
        "",
        "",
    )
    assert json.loads((tmp_path / "a.json").read_text())["schema"] == "llm-observability/assess/v1"
    assert run_cli("cost", TEMPLATES / "cost_small.json", "--output", tmp_path / "c.txt") == (0, "", "")
    assert re.match(r"Observability cost estimate: USD per month", (tmp_path / "c.txt").read_text())
    code, _, stderr = run_cli("cost", TEMPLATES / "cost_small.json", "--format", "html")
    assert code == 2 and "invalid choice: 'html'" in stderr  # the cost breakdown is part of assess's html report
