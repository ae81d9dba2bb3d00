"""``llm-observability preview``: the command line wiring of the dashboard previews (llm_observability.preview)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.assess.conftest import TEMPLATES

Run = Callable[..., tuple[int, str, str]]


def test_preview_writes_a_picture_per_dashboard_and_an_index(run_cli: Run, tmp_path: Path) -> None:
    code, out, err = run_cli("preview", TEMPLATES / "foreign_observed.json", "--out", tmp_path / "pictures", "--no-png")
    assert (code, err) == (0, "") and "Wrote 1 dashboard preview(s) (SVG)" in out
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == ["foreign_observed-Dashboard.svg", "index.html"]
    assert (tmp_path / "pictures" / "foreign_observed-Dashboard.svg").read_text().lstrip().startswith(("<svg", "<?xml"))


def test_preview_bad_input_is_one_sentence_and_writes_nothing(run_cli: Run, tmp_path: Path) -> None:
    code, out, err = run_cli("preview", TEMPLATES / "plain_serverless.json", "--out", tmp_path / "pictures")
    assert code == 2 and out == "" and err.count("\n") == 1 and "no CloudWatch dashboard" in err
    assert not (tmp_path / "pictures").exists()
    code, _, err = run_cli("preview", TEMPLATES / "foreign_observed.json")
    assert code == 2 and "the following arguments are required: --out" in err
