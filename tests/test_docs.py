"""The docs: generated blocks current, README short, every relative link live, quoted limits equal to the code's.

The generated blocks are compared in-process with what ``scripts/generate_docs.py`` makes from the session's
level 1-3 assemblies (tests/conftest.py), so the check synthesizes nothing of its own.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from llm_observability.config import INFERENCE_PROFILE_PREFIXES, PRICE_TABLE_DATE, ObservabilityConfig
from llm_observability.config import config_reference_rows as reference
from llm_observability.config.choices import SingletonMode
from llm_observability.config.fields import declared
from llm_observability.thresholds import AlarmThresholds
from llm_observability.validation import WORKLOAD_NAME_MAX_LENGTH, Choice, Range, options_of
from tests.conftest import ROOT, SynthResult
from tests.support.loader import load_file

DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
README_LIMIT_BYTES = 14_000
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


generator = load_file("generate_docs", ROOT / "scripts" / "generate_docs.py", register=False)


@pytest.fixture(scope="module")
def generated(level1: SynthResult, level2: SynthResult, level3: SynthResult) -> dict[str, str]:
    """Every generated block, from the session's assemblies."""
    return generator.blocks({1: level1.outdir, 2: level2.outdir, 3: level3.outdir})


def prose(path: Path) -> str:
    """A page without its code blocks and generated blocks, whitespace collapsed: what a person wrote."""
    text = generator.BLOCK.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    return " ".join(text.split())


def number(text: str) -> float:
    return float(text.replace(",", ""))


# ------------------------------------------------------------------------------------------ generated blocks
def test_committed_docs_are_what_the_code_generates(generated: dict[str, str]) -> None:
    stale = generator.stale_files(generated)
    assert stale == [], generator.stale_message(stale)


def test_the_check_names_the_stale_file_in_one_sentence(
    generated: dict[str, str], level1: SynthResult, level2: SynthResult, level3: SynthResult, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name in generator.FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    costs = tmp_path / "docs" / "costs.md"
    costs.write_text(costs.read_text().replace("$11.10", "$11.99"))
    assert generator.stale_files(generated, tmp_path) == ["docs/costs.md"]

    assemblies = {1: level1.outdir, 2: level2.outdir, 3: level3.outdir}
    assert generator.run(check=True, synth=lambda _tmp: assemblies, root=tmp_path) == 1
    message = capsys.readouterr().err.strip()
    assert message == "docs/costs.md is stale: run `make docs` (scripts/generate_docs.py) and commit the result."
    assert "$11.99" in costs.read_text()  # --check writes nothing

    assert generator.run(check=False, synth=lambda _tmp: assemblies, root=tmp_path) == 0
    assert generator.stale_files(generated, tmp_path) == [] and "$9.99" not in costs.read_text()

    costs.write_text("# Costs\n\nno markers\n")
    assert generator.run(check=True, synth=lambda _tmp: assemblies, root=tmp_path) == 2
    assert "docs/costs.md has no 'costs' block" in capsys.readouterr().err


def test_blocks_hold_every_setting_and_each_level_s_cost(generated: dict[str, str], level1: SynthResult) -> None:
    rows = reference()
    table = [line for line in generated["configuration"].splitlines() if line.startswith("| `")]
    assert [re.match(r"\| `(\w+)`", line).group(1) for line in table] == [r.key for r in rows]
    assert "| `quality_rouge_l_floor` | number | `0.2` | a number above 0 and below 1 |" in generated["configuration"]

    from llm_observability.assess import estimate, load

    level1_total = f"| **Total** | | | **${estimate(load(level1.outdir)).fixed_usd:,.2f}** | |"
    assert level1_total in generated["costs"].split("### Level 2")[0]
    assert [line.split(" | ")[0] for line in generated["levels"].splitlines()[2:] if line] == [
        "| [1 Foundation](docs/level-1.md)", "| [2 Proactive](docs/level-2.md)", "| [3 AIOps](docs/level-3.md)",
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------------- README
def test_readme_is_short_and_starts_with_quick_start_then_your_own_app() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) < README_LIMIT_BYTES, f"README.md is {len(text.encode()):,} bytes"
    sections = re.findall(r"^## (.+)$", _FENCE.sub("", text), flags=re.M)
    assert sections[:2] == ["Quick start", "Use in your own app"]
    quick_start = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert [line.split("#")[0].strip() for line in quick_start.splitlines()] == ["make synth LEVEL=1", "make test"]
    assert all(page.name in text for page in DOCS), "README.md links every page of docs/"


# -------------------------------------------------------------------------------------------------- links
def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", path.read_text(encoding="utf-8")), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        seen[slug if slug not in seen else f"{slug}-{seen[slug]}"] = seen.get(slug, 0) + 1
    return set(seen)


def test_anchor_slugs_follow_github() -> None:
    page = ROOT / "docs" / "level-2.md"
    assert "llm-quality-the-seeds-advanced-llm-metrics" in anchors(page)
    assert {"llmalarms", "the-api"} <= anchors(ROOT / "docs" / "level-1.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_and_anchor(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


# --------------------------------------------------------------------------------- limits quoted in prose
def test_the_workload_name_rule_quoted_is_the_code_s() -> None:
    quotes = [(page.name, m) for page in PAGES for m in re.findall(r"(\d+)-(\d+) lowercase letters", prose(page))]
    assert len(quotes) >= 2, quotes
    assert {m for _, m in quotes} == {("1", str(WORKLOAD_NAME_MAX_LENGTH))}, quotes


RULES: dict[str, Any] = {item.name: item.spec.rule for item in declared(ObservabilityConfig)}


def test_ranges_quoted_for_settings_are_the_code_s() -> None:
    """Every "`key` (lo-hi ...)" in the prose of README.md and docs/ names the bounds of that key's rule."""
    checked = []
    for page in PAGES:
        for key, quoted in re.findall(r"`(\w+)` \(([^)]*)\)", prose(page)):
            rule = RULES.get(key)
            numbers = [number(n) for n in _NUMBER.findall(quoted)]
            if isinstance(rule, Range) and numbers:
                assert numbers[:2] == [rule.lo, rule.hi], f"{page.name}: `{key}` ({quoted}) but {rule.allowed}"
            elif isinstance(rule, Choice) and numbers:
                assert numbers == list(options_of(rule.options)), f"{page.name}: `{key}` ({quoted})"
            else:
                continue
            checked.append(key)
    assert {"quality_canary_minutes", "quality_rouge_l_floor", "retrieval_top_k", "api_throttle_rate_limit",
            "api_throttle_burst_limit", "lambda_memory_mb", "anomaly_band_width", "budget_warning_percent",
            "monthly_budget_usd", "slo_objective_percent", "embedding_dimensions"} <= set(checked)  # fmt: skip


def test_model_id_facts_quoted_are_the_code_s() -> None:
    text = prose(ROOT / "docs" / "configuration.md")
    geography = re.search(r"starts with its geography \(([^)]*)\)", text).group(1)
    assert tuple(re.findall(r"`([\w-]+)\.`", geography)) == INFERENCE_PROFILE_PREFIXES
    assert f"dated {PRICE_TABLE_DATE}" in text


def _constants(relative: str) -> dict[str, Any]:
    """Module-level constants of a Lambda source file (it imports its siblings, so it is read, not imported)."""
    tree = ast.parse((ROOT / relative).read_text())
    return {
        t.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_api_limits_quoted_are_the_handler_s() -> None:
    v = _constants("llm_observability/functions/rag_api/validation.py")
    s = _constants("llm_observability/functions/rag_api/settings.py")
    text = prose(ROOT / "docs" / "level-1.md")
    for quote in (
        f"`question` (required, 1-{s['DEFAULT_MAX_QUESTION_CHARS']} characters)",
        f"`max_tokens` (1-{v['MAX_TOKENS_LIMIT']}, default {v['DEFAULT_MAX_TOKENS']})",
        f"`temperature` (0-1, default {v['DEFAULT_TEMPERATURE']})",
        f"`top_p` (0-1, default {v['DEFAULT_TOP_P']})",
        f"`top_k` (passages, 1-{v['MAX_TOP_K']},",
        f"up to {v['MAX_STOP_SEQUENCES']} strings of up to {v['MAX_STOP_SEQUENCE_CHARS']} characters",
        f"`comment` (up to {v['MAX_FEEDBACK_COMMENT_CHARS']} characters",
    ):
        assert quote in text, quote


def test_alarm_thresholds_quoted_are_the_code_s() -> None:
    text = prose(ROOT / "docs" / "level-1.md")
    names = re.search(r"Threshold names for `alarm_thresholds` / `AlarmThresholds\(\.\.\.\)`: (.*?)\.", text).group(1)
    assert re.findall(r"`(\w+)`", names) == [f.name for f in fields(AlarmThresholds)]
    d = AlarmThresholds()
    periods = f"looks at {d.evaluation_periods} periods of 5 minutes and fires when {d.datapoints_to_alarm} breach"
    assert periods in text
    for row in (f"| > {d.bedrock_latency_p90_ms:g} ms |", f"| > {d.bedrock_server_errors:g} per 5 min |",
                f"| < {d.success_rate_floor_percent:g} % |", f"| > {d.api_latency_p90_ms:g} ms |"):  # fmt: skip
        assert row in text, row


def test_singletons_table_names_each_singleton_setting_with_its_default() -> None:
    text = (ROOT / "docs" / "singletons.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| [^|]+ \| `(\w+)` \| `([^`]*)` \|", text, flags=re.M)
    defaults = {r.key: r.default for r in reference()}
    assert len(rows) == len({key for key, _ in rows}) == 9
    assert all(defaults[key] == default for key, default in rows), rows
    hints = get_type_hints(ObservabilityConfig)
    modes = {item.name for item in declared(ObservabilityConfig) if hints[item.name] == SingletonMode}
    assert modes == {"security_hub", "config_recorder", "devops_guru_coverage", "transaction_search_existing",
                     "lambda_insights_log_group"}  # fmt: skip
    assert modes <= {k for k, _ in rows}


def test_upgrade_notes_name_the_files_that_pin_logical_ids() -> None:
    text = prose(ROOT / "docs" / "upgrading.md")
    for pin in ("tests/stacks/test_logical_ids.py", "tests/data/stateful_logical_ids.json"):
        assert f"`{pin}`" in text and (ROOT / pin).is_file(), pin
    pinned = json.loads((ROOT / "tests" / "data" / "stateful_logical_ids.json").read_text())
    assert pinned["levels"].keys() == {"1", "2", "3"}
