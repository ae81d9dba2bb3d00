"""Upgrades: the logical ids of stateful resources stay as they are.

A changed logical id makes CloudFormation create a new resource and delete (or, where retained, orphan)
the old one: a new bucket, log group, key or parameter, and the data in the old one left behind. The
ids below were recorded from the released templates (new stateful resources may be added; none of these
may disappear). A change that must replace one updates
``tests/data/stateful_logical_ids.json`` and says so in the upgrade notes (docs/upgrading.md).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, SynthResult

PINNED = json.loads((ROOT / "tests" / "data" / "stateful_logical_ids.json").read_text())


def _stateful(template: dict, types: list[str]) -> dict[str, list[str]]:
    resources = template["Resources"]
    return {t: sorted(k for k, v in resources.items() if v["Type"] == t) for t in types if any(v["Type"] == t for v in resources.values())}


@pytest.mark.parametrize("level", [1, 2, 3])
def test_stateful_logical_ids_are_unchanged(level: int, request: pytest.FixtureRequest) -> None:
    synth: SynthResult = request.getfixturevalue(f"level{level}")
    now = _stateful(synth.template(level), PINNED["types"])
    gone = {t: sorted(set(ids) - set(now.get(t, []))) for t, ids in PINNED["levels"][str(level)].items()}
    assert {t: ids for t, ids in gone.items() if ids} == {}, "stateful resources would be replaced"
