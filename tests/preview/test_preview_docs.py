"""The dashboard pictures in docs/img/dashboards are what ``scripts/generate_previews.py`` draws from the code.

Compared in-process with the session's level 1 and 2 assemblies (tests/conftest.py): no synthesis of its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, SynthResult
from tests.support.loader import load_file

generator = load_file("generate_previews", ROOT / "scripts" / "generate_previews.py", register=False)


@pytest.fixture(scope="module")
def assemblies(level1: SynthResult, level2: SynthResult) -> dict[int, Path]:
    return {1: level1.outdir, 2: level2.outdir}


@pytest.mark.slow  # synthesizes the Level 1 and 2 apps: `make test` (CI) runs it
def test_committed_pictures_are_what_the_code_draws(assemblies: dict[int, Path]) -> None:
    drawn = generator.pictures(assemblies)
    assert sorted(drawn) == ["docs/img/dashboards/level-1.svg", "docs/img/dashboards/level-2.svg"]
    stale = generator.stale_files(drawn)
    assert stale == [], generator.stale_message(stale)


def test_the_check_names_the_stale_picture_and_the_generator_redraws_it(
    assemblies: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "docs" / "img" / "dashboards"
    target.mkdir(parents=True)
    shutil.copy(ROOT / "docs/img/dashboards/level-1.svg", target / "level-1.svg")
    (target / "level-2.svg").write_text("<svg/>")
    assert generator.run(check=True, synth=lambda _tmp: assemblies, root=tmp_path) == 1
    message = capsys.readouterr().err.strip()
    assert message == (
        "docs/img/dashboards/level-2.svg is stale: run `python scripts/generate_previews.py` and commit the result."
    )
    assert (target / "level-2.svg").read_text() == "<svg/>"  # --check writes nothing
    assert generator.run(check=False, synth=lambda _tmp: assemblies, root=tmp_path) == 0
    assert generator.stale_files(generator.pictures(assemblies), tmp_path) == []
