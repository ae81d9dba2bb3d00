"""``assess --format markdown``: the gate first, short, every capability and the cost in folded sections; template
strings can neither open a tag nor break a table."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from llm_observability.assess.cost import estimate
from llm_observability.assess.loader import load
from llm_observability.assess.render_markdown import STATUS_MARK, md, render_markdown
from llm_observability.assess.scorecard import assess
from tests.assess.conftest import TEMPLATES
from tests.assess.test_report_html import _HOSTILE, hostile_source
from tests.conftest import ROOT, SynthResult

Run = Callable[..., tuple[int, str, str]]
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_OWN_TAGS = re.compile(r"</?details>|<summary>|</summary>")


def _tables(text: str) -> list[list[str]]:
    """The Markdown tables of ``text``: runs of lines that start with ``|``."""
    tables: list[list[str]] = []
    previous = False
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous:
                tables.append([])
            tables[-1].append(line)
        previous = line.startswith("|")
    return tables


def _check_markdown(text: str, capabilities: int) -> None:
    """Tables keep their column count, the only tags are the folds, and the capability table has every row."""
    tables = _tables(text)
    for table in tables:
        columns = {len(_UNESCAPED_PIPE.findall(line)) for line in table}
        assert len(columns) == 1, table
    assert [len(t) - 2 for t in tables[:2]] == [3, capabilities]  # the ladder, every capability
    assert "<" not in _OWN_TAGS.sub("", text)


@pytest.mark.parametrize(("fixture", "level"), [("level1", 1), ("level2", 2), ("level3", 3)])
def test_markdown_report_of_each_level(
    run_cli: Run, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], fixture: str, level: int
) -> None:
    app: SynthResult = request.getfixturevalue(fixture)
    capsys.readouterr()  # the synthesis's own warnings, when this test is the first to ask for the app
    code, text, stderr = run_cli("assess", app.outdir, "--format", "markdown", "--min-level", "2")
    source = load(app.outdir)
    report, cost = assess(source).to_json(), estimate(source).to_json()
    assert report["level"] == level and code == (1 if level < 2 else 0)
    assert stderr == ("" if level >= 2 else f"llm-observability: {text.splitlines()[0].split(': ', 1)[1]}\n")
    first = text.splitlines()[0]
    if level >= 2:
        assert first == (
            f"## \u2705 LLM observability gate passed: maturity level {level} "
            f"({report['level_name']}) meets the required minimum 2 (Proactive)."
        )
    else:
        assert first == (
            "## \u274c LLM observability gate failed: maturity level 1 (Foundation) is below the required minimum 2 "
            "(Proactive)."
        )
    _check_markdown(text, len(report["capabilities"]))
    for c in report["capabilities"]:
        assert f"| {c['level']} | {md(c['title'])} | {STATUS_MARK[c['status']]} | {md(c['reason'])} |" in text
    assert f"Cost: ${cost['total_monthly_usd']:,.2f} per month" in text
    assert all(md(i["label"]) in text for i in cost["items"])
    assert len(text.encode()) < 20_000  # short: a job summary, a pull-request comment


def test_without_a_gate_the_level_comes_first_and_next_steps_follow(run_cli: Run) -> None:
    code, text, _ = run_cli("assess", TEMPLATES / "foreign_observed.json", "--format", "markdown")
    lines = text.splitlines()
    assert code == 0 and lines[0] == "## LLM observability maturity: Level 1 (Foundation) not reached"
    assert "| 1 Foundation | \u27a1\ufe0f next | 6/8 | 1 | 1 |" in lines
    report = assess(load(TEMPLATES / "foreign_observed.json")).to_json()
    steps = [line for line in lines if line.startswith("- ")]
    assert steps == [
        f"- {md(s['id'])} (L{s['level']}, {STATUS_MARK[s['status']]}): {md(s['action'])}" for s in report["next_steps"]
    ]
    _check_markdown(text, len(report["capabilities"]))


def test_markdown_escaping() -> None:
    assert md("a|b <script> *x* [l](u) `c` \\ _y_ ~z~\nnext") == (
        r"a\|b &lt;script&gt; \*x\* \[l\](u) \`c\` \\ \_y\_ \~z\~ next"
    )


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_HOSTILE)
def test_hostile_template_strings_stay_text(name: str) -> None:
    source = hostile_source(name)
    report = assess(source).to_json()
    text = render_markdown(report, estimate(source).to_json(), min_level=3)
    _check_markdown(text, len(report["capabilities"]))
    shown = html.unescape(re.sub(r"\\(.)", r"\1", text))
    assert " ".join(f"{name}D".split()) in shown  # the dashboard's logical id, as text


def _documented_gate_step() -> str:
    """The shell lines of the gate step of docs/reports.md's GitHub Actions example."""
    text = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    step = text.split("- name: Maturity gate", 1)[1].split("run: |\n", 1)[1]
    lines = []
    for line in step.splitlines():
        if not line.startswith("          "):
            break
        lines.append(line.strip())
    return "\n".join(lines)


@pytest.mark.parametrize(("assembly", "status"), [("foreign_observed.json", 1), ("level2", 0)])
def test_the_documented_ci_step_appends_the_summary_and_fails_below_the_level(
    request: pytest.FixtureRequest, tmp_path: Path, assembly: str, status: int
) -> None:
    """docs/reports.md's gate step, as written, in GitHub's default ``bash -e``: the summary is appended even when
    the gate fails the step."""
    step = _documented_gate_step()
    assert "--min-level 2" in step and '"$GITHUB_STEP_SUMMARY"' in step
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    script = f'llm-observability() {{ "{sys.executable}" -m llm_observability.assess "$@"; }}\n' + step.replace(
        "cdk.out", str(TEMPLATES / assembly if status else request.getfixturevalue(assembly).outdir)
    )
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == status, run.stderr
    mark, word = ("\u274c", "failed") if status else ("\u2705", "passed")
    text = summary.read_text()
    assert text.startswith(f"# earlier step\n## {mark} LLM observability gate {word}")
    assert (tmp_path / "maturity.md").read_text() == text.removeprefix("# earlier step\n")
