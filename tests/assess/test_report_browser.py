"""The HTML maturity report in headless Chromium: it loads with no console error and no network request, its
capability table lists every capability, and it draws something (at desktop and at phone width).

Marked slow (two Chromium starts and two screenshots decoded: about 12 s); `make test` and CI run it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from llm_observability.assess.loader import load
from llm_observability.assess.scorecard import assess
from tests.conftest import SynthResult
from tests.support.browser import is_blank, load_page

Run = Callable[..., tuple[int, str, str]]


@pytest.mark.slow
def test_html_report_in_chromium(run_cli: Run, level1: SynthResult, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run_cli("assess", level1.outdir, "--format", "html", "-o", out, "--min-level", "1")[0] == 0
    report = assess(load(level1.outdir)).to_json()
    for width, height in ((1024, 768), (390, 700)):
        page = load_page(out, width=width, height=height)
        assert page["console_errors"] == [] and page["requests"] == []
        text = " ".join(page["text"].split())
        table = text[
            text.index("Each capability of the maturity model") : text.index("Monthly cost of the observability")
        ]
        for capability in report["capabilities"]:
            assert capability["title"] in table and capability["id"] in table, capability["id"]
        assert "Level 1 (Foundation) fully reached" in text and "Gate passed" in text
        assert not is_blank(page["screenshot"])
