"""benchmarks/bench_scale.py: its measuring and reporting functions, on hand-made figures and on a synthesized
2-target organization app (which ``llm-observability assess`` also reads, stage by stage)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_observability.assess import assess, load
from tests.conftest import ROOT
from tests.support.loader import load_file

bench = load_file("bench_scale", ROOT / "benchmarks" / "bench_scale.py")  # registered: it declares dataclasses


def _template(resources: int = 1, outputs: int = 0) -> object:
    return bench.TemplateSize("t-1", "s", resources, 10, outputs, 0)


def test_growth_slope_and_linearity() -> None:
    assert bench.slope([1, 10, 50], [10.0, 28.0, 108.0]) == pytest.approx(2.0)
    linear = [bench.Run(1, 10.0, 12.0), bench.Run(10, 28.0, 30.0), bench.Run(50, 108.0, 110.0)]
    assert bench.marginals(linear) == pytest.approx([2.0, 2.0]) and bench.is_linear(linear)
    quadratic = [bench.Run(1, 10.0, 12.0), bench.Run(10, 28.0, 30.0), bench.Run(50, 300.0, 302.0)]
    assert bench.marginals(quadratic)[-1] == pytest.approx(6.8) and not bench.is_linear(quadratic)
    assert bench.slope([3], [1.0]) == 0.0 and bench.is_linear(linear[:2])


def test_dashboard_size_counts_widgets_and_metric_rows() -> None:
    body = {"widgets": [
        {"type": "text", "properties": {"markdown": "# acct"}},
        {"type": "metric", "properties": {"metrics": [["AWS/Bedrock", "Invocations", {"accountId": "1"}],
                                                      [{"expression": "m1/m2", "id": "e"}], ["A", "B"]]}},
        {"type": "metric", "properties": {"metrics": [["AWS/Bedrock", "InvocationThrottles"]]}},
    ]}  # fmt: skip
    assert bench.dashboard_size(body) == (3, [0, 3, 1])
    assert bench.dashboard_size({}) == (0, [])


def test_every_passed_limit_is_one_sentence() -> None:
    fine = [_template(), bench.DashboardSize("m-9", "mon", "D", 10, 20, 5)]
    assert bench.violations(fine[:1], fine[1:]) == []
    big = bench.TemplateSize("t-1", "stack", 501, 1_000_001, 201, 201)
    wide = bench.DashboardSize("m-9", "mon", "D", 501, 2501, 501)
    found = bench.violations([big], [wide])
    assert len(found) == 7
    assert "t-1/stack: 501 resources, CloudFormation allows 500." in found
    assert "m-9/mon/D: 501 metrics in one widget, CloudWatch allows 500." in found


def test_markdown_report_states_growth_and_the_limits() -> None:
    measured = [
        bench.Measured(bench.Run(1, 10.0, 12.0), [_template(70)], [bench.DashboardSize("m-9", "mon", "D1", 9, 14, 3)]),
        bench.Measured(bench.Run(10, 28.0, 30.0), [_template(70), _template(72, 1)], []),
    ]
    text = bench.render_markdown(measured)
    assert "| 10 | 2 | 28.0 | 30.0 | 2.80 |" in text
    assert "Growth: 2.00 s per target (least squares); per added target between sizes: 2.00 s: linear." in text
    assert "| 10 | s | 2 | 72 | 10 | 1 | 0 |" in text  # the largest of each measure over the stages
    assert "| 1 | m-9/D1 | 9 | 14 | 3 |" in text and text.endswith("Every template and dashboard is within its limits.")
    over = [bench.Measured(bench.Run(1, 1.0, 1.0), [_template(501)], [])]
    assert "Limits passed:\n- t-1/s: 501 resources" in bench.render_markdown(over)


def test_targets_alternate_regions_at_level_2() -> None:
    context = bench.context(3)
    assert [t["account"] for t in context["targets"]] == ["100000000000", "100000000001", "100000000002"]
    assert [t["region"] for t in context["targets"]] == ["us-east-1", "us-west-2", "us-east-1"]
    assert {t["level"] for t in context["targets"]} == {2}
    assert context["monitoring"]["account"] == "999999999999" and "us-east-1" in context["monitoring"]["sink_arns"]
    assert context["@aws-cdk/core:target-partitions"] == json.loads((ROOT / "cdk.json").read_text())["context"][
        "@aws-cdk/core:target-partitions"]


@pytest.fixture(scope="module")
def two_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield bench.build(2, tmp_path_factory.mktemp("scale2"), nag=False)


@pytest.mark.slow
def test_measuring_a_two_target_app(two_targets: Path) -> None:
    templates = bench.measure_templates(two_targets)
    assert sorted((t.stage, t.stack) for t in templates) == [
        ("m-999999999999-us-east-1", "rag-demo-monitoring"),
        ("t-100000000000-us-east-1", "rag-demo-l1-foundation"),
        ("t-100000000000-us-east-1", "rag-demo-l2-proactive"),
        ("t-100000000000-us-east-1", "rag-demo-oam-link"),  # its region's sink ARN is known
        ("t-100000000001-us-west-2", "rag-demo-l1-foundation"),
        ("t-100000000001-us-west-2", "rag-demo-l2-proactive"),
    ]
    assert all(0 < t.resources <= bench.MAX_RESOURCES and 0 < t.bytes <= bench.MAX_TEMPLATE_BYTES for t in templates)
    dashboards = bench.measure_dashboards(two_targets)
    assert dashboards and {d.stage for d in dashboards} == {"m-999999999999-us-east-1"}
    assert all(d.widgets > 0 and 0 < d.max_widget_metrics <= d.metrics for d in dashboards)
    assert bench.violations(templates, dashboards) == []
    assert bench.measure_dashboards(two_targets, stage_prefix="t-")  # the targets' own dashboards, when asked


@pytest.mark.slow
def test_assess_reads_every_stage_of_the_organization_app(two_targets: Path) -> None:
    source = load(two_targets)
    names = [s.name for s in source.stacks]
    assert len(names) == len(set(names)) == 6  # the same stack names in each stage, told apart by the stage
    assert "t-100000000001-us-west-2/rag-demo-l1-foundation" in names
    card = assess(source)
    link = card.result("cross-account-observability")
    assert link.status.value == "present", link.reason
    assert {r.type for r in link.evidence} >= {"AWS::Oam::Sink", "AWS::Oam::Link"}
    assert "metrics and traces" in link.reason and "logs" not in link.reason  # share_logs is off by default
    assert card.level >= 1
