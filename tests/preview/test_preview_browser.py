"""The Level 1 dashboard preview and its index page in headless Chromium: no console error, no network request,
the widgets' titles on the page, and a screenshot with something drawn (tests/support/browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_observability.assess import load
from llm_observability.preview import previews, run
from tests.conftest import SynthResult
from tests.support.browser import is_blank, load_page

#: Chromium start-up and a synthesized app: `make test` (CI) runs these, `make test-fast` does not.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def written(level1: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("previews")
    assert run(level1.outdir, out, png=False) == 0
    return out


def test_the_svg_preview_loads_cleanly_and_is_not_blank(level1: SynthResult, written: Path) -> None:
    (preview,) = previews(load(level1.outdir), png=False)
    page = load_page(written / f"{preview.stem}.svg")
    assert page["console_errors"] == []
    assert page["requests"] == []
    assert not is_blank(page["screenshot"])
    for widget in preview.dashboard.widgets:
        assert widget.title in page["text"]


def test_the_index_page_shows_the_pictures_without_the_network(written: Path) -> None:
    page = load_page(written / "index.html")
    assert page["console_errors"] == [] and page["requests"] == []
    assert "CloudWatch dashboard previews" in page["text"]
    assert not is_blank(page["screenshot"])
