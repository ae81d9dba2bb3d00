"""The observability cost estimate: hand-computed figures, this project's Level 1 against docs/costs.md."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from llm_observability.assess import cost_quantities, estimate, load, prices
from llm_observability.runtime import telemetry
from tests.assess.conftest import TEMPLATES
from tests.conftest import ROOT, SynthResult

GB = 1024**3


def test_hand_computed_small_template() -> None:
    # 1 dashboard $3.00 + alarm metrics (1 single + 2 metric math + 3 anomaly band) x $0.10 + 2 KMS keys x $1.00
    report = estimate(load(TEMPLATES / "cost_small.json"), requests_per_month=0)
    assert report.fixed_usd == 5.60
    assert report.usage_usd == 0.0 and not [i for i in report.items if i.category == "usage"]
    assert (report.item("dashboards").quantity, report.item("dashboards").monthly_usd) == (1, 3.0)
    alarms = report.item("alarms")
    assert alarms.quantity == 6 and round(alarms.monthly_usd, 2) == 0.60
    assert (
        "1 single-metric alarm(s) = 1 metric(s); 1 metric-math alarm(s) = 2 metric(s); 1 anomaly-detection alarm(s) = 3"
        in alarms.assumption
    )
    assert (report.item("kms-keys").quantity, report.item("kms-keys").monthly_usd) == (2, 2.0)
    assert "1 rotate yearly" in report.item("kms-keys").assumption
    assert "free dashboards are already used elsewhere" in report.item("dashboards").assumption
    # with the free tier: 3 dashboards and 10 alarm metrics free, keys are never free
    assert estimate(load(TEMPLATES / "cost_small.json"), requests_per_month=0, free_tier=True).fixed_usd == 2.00


def _docs_level1_total() -> float:
    costs = (ROOT / "docs" / "costs.md").read_text()
    section = costs[costs.index("**Level 1 observability, fixed monthly cost") :]
    return float(re.search(r"\*\*Total\*\*.*?\*\*\$([0-9.,]+)\*\*", section).group(1).replace(",", ""))


def test_level1_assembly_matches_the_docs_total(level1: SynthResult) -> None:
    report = estimate(load(level1.outdir))
    assert report.fixed_usd == _docs_level1_total() == 11.10
    # docs/costs.md: 1 dashboard, 8 single-metric + 1 metric-math alarm over 2 metrics = 10, 12 custom metrics, 3 keys
    assert report.item("dashboards").quantity == 1
    assert report.item("alarms").quantity == 10
    assert report.item("custom-metrics").quantity == 12
    assert report.item("kms-keys").quantity == 3  # logs, alerts, low-urgency alerts
    # usage at the docs' example volume: 10,000 requests x (2 KB app + 1 KB of retrieved passages, logged as the
    # function's PROMPT_LOGGING=redacted says, + 1 KB metadata-only invocation log, the default without
    # invocation_logging_text) = 40 MB -> $0.02
    ingestion = report.item("log-ingestion")
    assert ingestion.quantity == pytest.approx(10_000 * 4096 / GB)
    assert "metadata only" in ingestion.assumption
    assert round(ingestion.monthly_usd + report.item("log-storage").monthly_usd, 2) == 0.02
    # Transaction Search is on (the Level 1 default): spans are CloudWatch Logs ingestion, not X-Ray traces recorded
    assert "xray" not in {i.id for i in report.items}
    assert report.item("transaction-search-spans").quantity == pytest.approx(10_000 * 10 * 1500 / GB)
    assert report.item("transaction-search-indexing").monthly_usd == 0.0  # 1 % indexed, the free share


def test_docs_metric_breakdown_matches_the_telemetry_vocabulary() -> None:
    assert cost_quantities.RAG_STAGES == len(telemetry.STAGES)
    # tests/test_metric_contract.py counts the series the handler really emits (12 for one model at Level 1)
    assert cost_quantities.RAG_SERVICE_ONLY + cost_quantities.RAG_STAGES + cost_quantities.RAG_PER_MODEL == 12
    assert cost_quantities.RAG_GUARDRAIL == 3 + len(telemetry.GUARDRAIL_POLICIES)
    assert cost_quantities.RAG_PER_PROMPT_VERSION + 1 == len(telemetry.PROMPT_VERSION_METRICS)


def test_level2_assembly_counts_what_level_2_adds(level2: SynthResult) -> None:
    report = estimate(load(level2.outdir), requests_per_month=0)
    assert report.item("dashboards").quantity == 2
    alarms = report.item("alarms")
    # 7 anomaly bands of Level 1's and 2's metrics, and the judge's relevance and faithfulness drops
    assert "9 anomaly-detection alarm(s) = 27 metric(s)" in alarms.assumption
    metrics = report.item("custom-metrics")
    # RAG + guardrail + prompt lookups/version + canary + filters, then the judge, feedback join, output drift (6
    # signals + the maximum + 3 diversity) and incident outcomes (4 per severity, high and low)
    assert metrics.quantity == 12 + 8 + 1 + 5 + 13 + 2 + 14 + 4 + 10 + 8
    assert report.item("securityhub").monthly_usd == pytest.approx(2.0)
    assert report.item("config-evaluations").quantity == 13 * 100
    canary = report.item("quality-canary-bedrock")
    assert canary.quantity == 730 * 12 and "PRICE_TABLE" in canary.assumption


def test_aiops_resources_are_priced_from_their_properties(level2: SynthResult, tmp_path: Path) -> None:
    for template in level2.outdir.glob("*.template.json"):
        shutil.copy(template, tmp_path)
    shutil.copy(TEMPLATES / "aiops_level3.json", tmp_path)
    report = estimate(load(tmp_path), requests_per_month=10_000)
    assert report.item("opensearch-data").monthly_usd == pytest.approx(730 * 0.036)  # t3.small.search
    assert report.item("opensearch-storage").monthly_usd == pytest.approx(10 * 0.122)  # 10 GB gp3
    assert report.item("codeguru-profiler").monthly_usd == pytest.approx(730 * 0.005)
    assert report.item("amp-ingestion").quantity == pytest.approx(200 * 730 * 60 / 1e7)
    assert report.item("ssm-automation").monthly_usd == 0
    assert report.item("devops-guru").quantity % 730 == 0
    assert report.item("firehose").quantity == pytest.approx(10_000 * 3072 / GB)  # the app log with its passages


def test_unknown_instance_type_is_not_priced(write_template) -> None:  # type: ignore[no-untyped-def]
    path = write_template(
        {
            "Resources": {
                "D": {
                    "Type": "AWS::OpenSearchService::Domain",
                    "Properties": {"ClusterConfig": {"InstanceType": "x9.huge.search"}},
                }
            }
        }
    )
    report = estimate(load(path))
    assert report.item("opensearch-data").monthly_usd is None
    assert "not priced" in report.render_text() and report.to_json()["not_priced"] == ["OpenSearch data nodes"]


def test_foreign_emf_is_a_stated_lower_bound() -> None:
    report = estimate(load(TEMPLATES / "foreign_observed.json"))
    metrics = report.item("custom-metrics")
    assert metrics.quantity == 2  # SupportBot AnswerErrors + TokenCostUSD read by the alarm and the dashboard
    assert "at least 2" in metrics.assumption and "lower bound" in metrics.assumption


def test_price_table_is_dated_data_with_sources() -> None:
    table = prices.price_table()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table["as_of"]) and table["region"] == "us-east-1"
    for key, price in table["prices"].items():
        assert price["source"] in table["sources"], key
        assert table["sources"][price["source"]].startswith("https://aws.amazon.com/"), key
    for key, assumption in table["assumptions"].items():
        assert "value" in assumption and assumption["why"], key


def test_text_report_prints_every_figure_with_its_assumption(level1: SynthResult) -> None:
    text = estimate(load(level1.outdir)).render_text()
    assert "as of " + prices.price_table()["as_of"] in text
    assert "Total fixed" in text and "$11.10" in text
    assert "10 alarm metric(s) x $0.10  = $1.00" in text
    assert "https://aws.amazon.com/cloudwatch/pricing/" in text
