"""The cost lines issue 19 adds, on hand-built templates: the online judge's Bedrock calls (sample share or token cap),
the Logs Insights data the scheduled functions scan, Lambda Insights (metrics and log), the evaluations' custom metrics,
the retrieved passages in the app log and the S3 state of drift and the review set.

The functions are recognised by the environment their constructs set, so these templates carry only that: no other
helper's construct is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.assess import estimate, load
from llm_observability.assess.cost_evaluation import app_log_bytes, judge_price, number
from llm_observability.assess.inventory import Inventory
from llm_observability.assess.prices import assumed, price_entry

GB = 1024**3
NOVA_LITE = {"input_per_1k": 0.00006, "output_per_1k": 0.00024}
PER_ANSWER_TOKENS = 1200 + 150
#: One judged answer of Nova Lite: 1,200 input and 150 output tokens.
NOVA_LITE_ANSWER = (1200 * 0.00006 + 150 * 0.00024) / 1000
INSIGHTS_X86 = "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:60"
INSIGHTS_ARM = "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension-Arm64:25"


def _function(env: dict[str, Any] | None = None, layers: Any = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"Runtime": "python3.13", "Handler": "index.handler", "Code": {"ZipFile": "x"}}
    if env is not None:
        properties["Environment"] = {"Variables": env}
    if layers is not None:
        properties["Layers"] = layers
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def _judge(**env: Any) -> dict[str, Any]:
    return _function({"JUDGE_MODEL_ID": "amazon.nova-lite-v1:0", "JUDGE_PRICE": json.dumps(NOVA_LITE),
                      "SAMPLE_PERCENT": "10", "MONTHLY_TOKEN_CAP": "2000000", "MAX_PER_RUN": "50",
                      "WINDOW_MINUTES": "15", "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability", **env})  # fmt: skip


def _feedback(**env: Any) -> dict[str, Any]:
    return _function({"FEEDBACK_LOOKBACK_HOURS": "24", "FEEDBACK_WINDOW_MINUTES": "60", "REVIEW_BUCKET": "review",
                      "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability", **env})  # fmt: skip


def _drift(**env: Any) -> dict[str, Any]:
    return _function({"DRIFT_BASELINE_DAYS": "7", "DRIFT_STATISTIC": "psi",
                      "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability", **env})  # fmt: skip


def _outcomes() -> dict[str, Any]:
    return _function({"OUTCOMES": "1", "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability"})


def _app(prompt_logging: str | None = "redacted", layers: Any = None) -> dict[str, Any]:
    return _function({"PROMPT_LOGGING": prompt_logging} if prompt_logging else {}, layers)


def _full() -> dict[str, Any]:
    """An app with Lambda Insights on two functions (one through an agnostic stack's mapping) and every evaluation."""
    return {
        "Mappings": {"LambdaInsightsLayerArns": {"us-east-1": {"x8664": INSIGHTS_X86, "arm64": INSIGHTS_ARM}}},
        "Resources": {
            "App": _app(layers=[INSIGHTS_X86]),
            "Mapped": _function(
                layers=[{"Fn::FindInMap": ["LambdaInsightsLayerArns", {"Ref": "AWS::Region"}, "arm64"]}]
            ),
            "Judge": _judge(),
            "Feedback": _feedback(),
            "Drift": _drift(),
            "Outcomes": _outcomes(),
        },
    }


@pytest.fixture
def cost(write_template: Callable[..., Path]) -> Callable[..., Any]:
    """``cost(template, requests=10_000)``: the estimate of one hand-built template."""

    def _cost(template: dict[str, Any], requests: int = 10_000, free_tier: bool = False) -> Any:
        return estimate(load(write_template(template)), requests_per_month=requests, free_tier=free_tier)

    return _cost


def _ids(report: Any) -> set[str]:
    return {i.id for i in report.items}


# --- prices and assumptions ----------------------------------------------------------------------------------------
def test_the_new_prices_and_assumptions_are_dated_data_with_sources() -> None:
    scanned = price_entry("logs.insights_scanned")
    assert scanned["usd"] == 0.005 and scanned["source"] == "cloudwatch"
    assert price_entry("s3.storage")["usd"] == 0.023
    assert assumed("judge_tokens_per_answer") == {"input": 1200, "output": 150}
    assert assumed("passages_log_bytes") == 1024 and assumed("app_log_bytes_per_request") == 2048
    assert assumed("lambda_insights_bytes_per_invocation") == 1024


# --- custom metrics ------------------------------------------------------------------------------------------------
def test_the_evaluations_and_lambda_insights_count_their_metrics(cost: Callable[..., Any]) -> None:
    metrics = cost(_full(), requests=0).item("custom-metrics")
    # judge 14, feedback 4, drift 1 + 6 signals + 3 diversity, outcomes 8, Lambda Insights 8 x 2 functions
    assert metrics.quantity == 14 + 4 + 10 + 8 + 16
    for part in ("Judge: online judge 14", "Feedback: feedback join 4", "Drift: output drift 10",
                 "Outcomes: incident outcomes 8", "App: Lambda Insights 8", "Mapped: Lambda Insights 8"):  # fmt: skip
        assert part in metrics.assumption, part
    assert round(metrics.monthly_usd, 2) == round(52 * 0.3, 2)


def test_drift_counts_the_signals_it_is_given_and_diversity_only_when_on(cost: Callable[..., Any]) -> None:
    template = {"Resources": {"Drift": _drift(SIGNALS='["AnswerLength","Refusal"]', DIVERSITY="false")}}
    metrics = cost(template, requests=0).item("custom-metrics")
    assert metrics.quantity == 1 + 2
    assert "OutputDrift for 2 signal(s) of one model)" in metrics.assumption
    unreadable = {"Resources": {"Drift": _drift(SIGNALS={"Ref": "Signals"})}}
    assert cost(unreadable, requests=0).item("custom-metrics").quantity == 1 + 6 + 3


def test_a_lambda_insights_dashboard_is_not_counted_again_as_a_foreign_namespace(cost: Callable[..., Any]) -> None:
    body = {"widgets": [{"type": "metric", "properties": {"metrics": [
        ["LambdaInsights", "memory_utilization", "function_name", "app"]]}}]}  # fmt: skip
    template = {"Resources": {
        "App": _app(layers=[INSIGHTS_X86]),
        "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": json.dumps(body)}},
    }}  # fmt: skip
    assert cost(template, requests=0).item("custom-metrics").quantity == 8


def test_only_a_lambda_insights_layer_or_mapping_counts(cost: Callable[..., Any]) -> None:
    template = {
        "Mappings": {"Other": {"us-east-1": {"arm64": "arn:aws:lambda:us-east-1:1:layer:Other:1"}}},
        "Resources": {
            "Plain": _function(layers=["arn:aws:lambda:us-east-1:123456789012:layer:powertools:3"]),
            "OtherMap": _function(layers=[{"Fn::FindInMap": ["Other", {"Ref": "AWS::Region"}, "arm64"]}]),
            "Missing": _function(layers=[{"Fn::FindInMap": ["Absent", {"Ref": "AWS::Region"}, "arm64"]}]),
            "Either": _function(layers={"Fn::If": ["On", [INSIGHTS_ARM], []]}),
        },
    }
    report = cost(template)
    assert report.item("custom-metrics").quantity == 8  # "Either": one branch has it (an upper bound)
    assert report.item("lambda-insights-logs").evidence[0].logical_id == "Either"


# --- usage ---------------------------------------------------------------------------------------------------------
def test_the_judge_is_priced_by_its_sample_share_below_the_cap(cost: Callable[..., Any]) -> None:
    judge = cost(_full()).item("online-judge-bedrock")
    assert judge.category == "usage" and judge.quantity == pytest.approx(1000)  # 10 % of 10,000
    assert judge.unit_usd == pytest.approx(NOVA_LITE_ANSWER)
    assert judge.monthly_usd == pytest.approx(1000 * NOVA_LITE_ANSWER)
    assert "10 % of 10,000 requests sampled (the 2,000,000-token monthly cap is not reached)" in judge.assumption
    assert "(its JUDGE_PRICE)" in judge.assumption


def test_the_judge_stops_at_its_monthly_token_cap(cost: Callable[..., Any]) -> None:
    judge = cost(_full(), requests=1_000_000).item("online-judge-bedrock")
    assert judge.quantity == pytest.approx(2_000_000 / PER_ANSWER_TOKENS)
    assert judge.monthly_usd == pytest.approx(2_000_000 / PER_ANSWER_TOKENS * NOVA_LITE_ANSWER)
    assert "the monthly token cap binds: 2,000,000 tokens / 1,350 per answer" in judge.assumption


@pytest.mark.parametrize(
    ("model", "price", "expected", "origin"),
    [
        ("amazon.nova-lite-v1:0", "{}", NOVA_LITE, "prices.json"),
        ("amazon.nova-pro-v1:0", "{}", {"input_per_1k": 0.0008, "output_per_1k": 0.0032}, "built-in"),
        ("us.amazon.nova-pro-v1:0", "not json", {"input_per_1k": 0.0008, "output_per_1k": 0.0032}, "built-in"),
        ("acme.unknown-v1", "{}", None, "no price"),
    ],
)
def test_the_judge_price_falls_back_to_the_tables(model: str, price: str, expected: Any, origin: str) -> None:
    found, named, where = judge_price({"JUDGE_MODEL_ID": model, "JUDGE_PRICE": price})
    assert found == expected and named == model and origin in where


def test_an_unpriced_judge_is_listed_as_not_priced(cost: Callable[..., Any]) -> None:
    report = cost({"Resources": {"Judge": _judge(JUDGE_MODEL_ID="acme.unknown-v1", JUDGE_PRICE="{}")}})
    judge = report.item("online-judge-bedrock")
    assert judge.monthly_usd is None and "not priced" in judge.assumption
    assert "Online judge model calls" in report.to_json()["not_priced"]


def test_logs_insights_scans_the_app_log_once_per_reader_and_lookback_over_window_for_feedback(
    cost: Callable[..., Any],
) -> None:
    report = cost(_full())
    scanned = report.item("logs-insights-scanned")
    month_gb = 10_000 * (2048 + 1024) / GB  # prompt logging redacted: the passages are on the line
    assert scanned.quantity == pytest.approx(month_gb * (1 + 24 + 1))  # judge 1x, feedback 24 h / 60 min, drift 1x
    assert scanned.monthly_usd == pytest.approx(month_gb * 26 * 0.005)
    assert "Feedback (feedback join) looks 24 h back every 60 min: 24x" in scanned.assumption
    assert {r.logical_id for r in scanned.evidence} == {"Judge", "Feedback", "Drift"}
    hourly = cost({"Resources": {"App": _app(), "Feedback": _feedback(FEEDBACK_LOOKBACK_HOURS="6",
                                                                      FEEDBACK_WINDOW_MINUTES="15")}})  # fmt: skip
    assert hourly.item("logs-insights-scanned").quantity == pytest.approx(month_gb * 6 * 60 / 15)


def test_passages_count_only_where_the_templates_show_prompt_text(cost: Callable[..., Any]) -> None:
    with_text = cost({"Resources": {"App": _app("full")}}).item("log-ingestion")
    assert with_text.quantity == pytest.approx(10_000 * 3072 / GB)
    assert "2,048 app + access log, 1,024 retrieved passages" in with_text.assumption
    for mode in ("none", None):
        without = cost({"Resources": {"App": _app(mode)}}).item("log-ingestion")
        assert without.quantity == pytest.approx(10_000 * 2048 / GB) and "passages" not in without.assumption
    runtime = cost({"Resources": {"App": _function({"LLMOBS_PROMPT_LOGGING": "redacted"})}}).item("log-ingestion")
    assert runtime.quantity == pytest.approx(10_000 * 3072 / GB)


def test_lambda_insights_sends_a_kilobyte_per_invocation_per_function(cost: Callable[..., Any]) -> None:
    report = cost(_full())
    logs = report.item("lambda-insights-logs")
    assert logs.quantity == pytest.approx(10_000 * 1024 * 2 / GB) and logs.unit_usd == 0.5
    storage = report.item("lambda-insights-storage")
    assert storage.quantity == pytest.approx(logs.quantity) and storage.unit_usd == 0.03
    assert {r.logical_id for r in logs.evidence} == {"App", "Mapped"}


def test_the_s3_state_is_a_line_of_a_few_megabytes_plus_its_key(cost: Callable[..., Any]) -> None:
    report = cost(_full(), requests=0)
    for line, mb in (("drift-state-storage", 2), ("review-set-storage", 5)):
        item = report.item(line)
        assert item.category == "fixed" and item.quantity == pytest.approx(mb / 1024)
        assert round(item.monthly_usd, 2) == 0.0 and "plus KMS key" in item.assumption
    without = {"Resources": {"Feedback": _function({"FEEDBACK_LOOKBACK_HOURS": "24"})}}
    assert "review-set-storage" not in _ids(cost(without, requests=0))


def test_without_requests_there_are_no_usage_lines(cost: Callable[..., Any]) -> None:
    report = cost(_full(), requests=0)
    assert not [i for i in report.items if i.category == "usage"]


def test_a_template_without_the_evaluations_gets_none_of_their_lines(cost: Callable[..., Any]) -> None:
    report = cost({"Resources": {"App": _app("none")}})
    assert not _ids(report) & {
        "online-judge-bedrock", "logs-insights-scanned", "lambda-insights-logs", "lambda-insights-storage",
        "drift-state-storage", "review-set-storage",
    }  # fmt: skip
    assert not any("Logs Insights" in note for note in report.notes)


def test_numbers_from_the_environment_fall_back_to_the_defaults() -> None:
    assert number("12.5", 1) == 12.5 and number({"Ref": "P"}, 7) == 7
    assert number("nan", 3) == 3 and number("inf", 4) == 4 and number("1e999", 5) == 5 and number("x", 6) == 6


def test_app_log_bytes_reads_the_inventory(write_template: Callable[..., Path]) -> None:
    source = load(write_template({"Resources": {"App": _app("redacted")}}))
    assert app_log_bytes(Inventory(source.stacks)) == (3072, "2,048 app + access log, 1,024 retrieved passages")


@settings(max_examples=60, deadline=None, database=None)
@given(
    requests=st.integers(min_value=1, max_value=10**8),
    percent=st.floats(min_value=0, max_value=100, allow_nan=False),
    cap=st.integers(min_value=0, max_value=10**10),
)
def test_the_judge_never_exceeds_its_sample_share_or_its_cap(
    tmp_path_factory: pytest.TempPathFactory, requests: int, percent: float, cap: int
) -> None:
    path = tmp_path_factory.mktemp("judge") / "template.json"
    path.write_text(
        json.dumps({"Resources": {"Judge": _judge(SAMPLE_PERCENT=str(percent), MONTHLY_TOKEN_CAP=str(cap))}})
    )
    judge = estimate(load(path), requests_per_month=requests).item("online-judge-bedrock")
    assert judge.quantity == pytest.approx(min(requests * percent / 100, cap / PER_ANSWER_TOKENS))
    assert judge.quantity * PER_ANSWER_TOKENS <= cap * (1 + 1e-9) + 1e-6
    assert judge.monthly_usd == pytest.approx(judge.quantity * NOVA_LITE_ANSWER) and judge.monthly_usd >= 0
    capped = judge.quantity < requests * percent / 100
    assert ("cap binds" in judge.assumption) is capped
