"""The cost lines of evaluating production traffic (issue 19): the online judge's Bedrock calls, the Logs Insights data
the scheduled functions scan, Lambda Insights, and the few megabytes the drift state and the review set keep in S3.

Each scheduled function is recognised by the environment its construct sets (the names the functions read):

- the online judge: ``JUDGE_MODEL_ID`` (with ``JUDGE_PRICE``, ``SAMPLE_PERCENT``, ``MONTHLY_TOKEN_CAP``);
- the feedback join: ``FEEDBACK_LOOKBACK_HOURS`` and ``FEEDBACK_WINDOW_MINUTES`` (``REVIEW_BUCKET`` with a review set);
- output drift: ``DRIFT_BASELINE_DAYS``;
- incident outcomes: ``OUTCOMES`` (custom metrics only, see :mod:`.cost_quantities`).

A function has Lambda Insights when one of its layers is AWS's ``LambdaInsightsExtension`` (its ARN, or every value of
the ``Fn::FindInMap`` region mapping it reads). The extension has no price of its own: eight custom metrics per
function and about 1 KB of log per invocation
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-insights.html#monitoring-insights-pricing).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from llm_observability.assess.intrinsics import alternatives, intrinsic, literal, render
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.prices import assumed, price_entry, price_table
from llm_observability.assess.queries import FUNCTION_TYPES, app_functions, env_of, find_in_map_values, functions_with
from llm_observability.config.models import DEFAULT_MODEL_PRICES, price_in
from llm_observability.functions.feedback_loop import feedback_telemetry as ft
from llm_observability.functions.online_judge import judge_telemetry as jt
from llm_observability.functions.output_drift import drift_telemetry as dt

if TYPE_CHECKING:
    from llm_observability.assess.cost import _Estimator

GB = 1024**3
#: The layer name AWS publishes Lambda Insights under (``LambdaInsightsExtension``, ``LambdaInsightsExtension-Arm64``).
INSIGHTS_LAYER = "LambdaInsightsExtension"
INSIGHTS_NAMESPACE = "LambdaInsights"
#: Metrics the extension writes per function (docs "Lambda Insights metrics": memory_utilization, total_memory,
#: used_memory_max, cpu_total_time, tx_bytes, rx_bytes, total_network, init_duration).
INSIGHTS_METRICS_PER_FUNCTION = 8
#: The environment of each scheduled function (the constructs' fixed names).
ENV_JUDGE_MODEL, ENV_JUDGE_PRICE = jt.ENV_JUDGE_MODEL_ID, jt.ENV_JUDGE_PRICE
ENV_SAMPLE_PERCENT, ENV_TOKEN_CAP = jt.ENV_SAMPLE_PERCENT, jt.ENV_MONTHLY_TOKEN_CAP
ENV_LOOKBACK_HOURS, ENV_FEEDBACK_WINDOW = ft.ENV_LOOKBACK_HOURS, ft.ENV_WINDOW_MINUTES
ENV_REVIEW_BUCKET = ft.ENV_REVIEW_BUCKET
ENV_DRIFT_BASELINE_DAYS = dt.ENV_DRIFT_BASELINE_DAYS
#: How much prompt text the app logs: the reference function's and the runtime's variable. The runtime logs
#: ``redacted`` when its variable is unset.
PROMPT_LOGGING_ENV = ("PROMPT_LOGGING", "LLMOBS_PROMPT_LOGGING")
#: The judge's defaults where its environment is unset or known only at deploy time (the construct's defaults).
DEFAULT_SAMPLE_PERCENT, DEFAULT_TOKEN_CAP = 10.0, 2_000_000
DEFAULT_LOOKBACK_HOURS, DEFAULT_FEEDBACK_WINDOW = 24.0, 60.0


def number(value: Any, default: float) -> float:
    """The finite number ``value`` surely is (``"10"``, ``2.5``), else ``default``."""
    text = literal(value)
    try:
        result = float(text) if text is not None else default
    except (ValueError, OverflowError):
        return default
    return result if math.isfinite(result) else default


def _is_insights_layer(inv: Inventory, stack: str, layer: Any) -> bool:
    call = intrinsic(layer)
    if call is not None and call[0] == "Fn::FindInMap":
        values = find_in_map_values(inv, stack, call[1])
        return bool(values) and all(isinstance(v, str) and INSIGHTS_LAYER in v for v in values)
    return INSIGHTS_LAYER in render(layer)


def insights_functions(inv: Inventory) -> list[Resource]:
    """Functions with a Lambda Insights layer (in one ``Fn::If`` branch at least: an upper bound)."""
    found = []
    for fn in inv.of_type(*FUNCTION_TYPES):
        options = [o for o in alternatives(fn.properties, "Layers") if isinstance(o, list)]
        if any(_is_insights_layer(inv, fn.stack, layer) for option in options for layer in option):
            found.append(fn)
    return found


def insights_metrics(fn: Resource) -> tuple[int, str]:
    """Custom metrics of one function with Lambda Insights, and why."""
    return INSIGHTS_METRICS_PER_FUNCTION, (
        f"{fn.logical_id}: Lambda Insights {INSIGHTS_METRICS_PER_FUNCTION} (the extension's metrics per function)"
    )


def passages_logged(inv: Inventory) -> bool:
    """The templates show an app function logging prompt text (``PROMPT_LOGGING``/``LLMOBS_PROMPT_LOGGING`` set to
    something other than ``none``): its log line then carries the retrieved passages' excerpts."""
    for fn in app_functions(inv):
        env = env_of(inv, fn)
        for name in PROMPT_LOGGING_ENV:
            mode = literal(env.get(name)) if name in env else None
            if mode is not None and mode != "none":
                return True
    return False


def app_log_bytes(inv: Inventory) -> tuple[int, str]:
    """Bytes of app and access log per request, and the text saying what they are made of."""
    base = assumed("app_log_bytes_per_request")
    if passages_logged(inv):
        extra = assumed("passages_log_bytes")
        return base + extra, f"{base:,} app + access log, {extra:,} retrieved passages"
    return base, f"{base:,} app + access log"


def _functions_with(inv: Inventory, name: str) -> list[tuple[Resource, dict[str, Any]]]:
    return [(fn, env_of(inv, fn)) for fn in functions_with(inv, name)]


def judge_price(env: dict[str, Any]) -> tuple[dict[str, float] | None, str, str]:
    """The judge model's price per 1,000 input and output tokens, the model and where the price is from:
    ``JUDGE_PRICE``, else ``prices.json`` ``bedrock.<model>``, else the library's built-in table."""
    model = literal(env.get(ENV_JUDGE_MODEL)) or "the judge model"
    try:
        price = json.loads(literal(env.get(ENV_JUDGE_PRICE)) or "{}")
        if isinstance(price, dict) and price:
            return {k: float(price[k]) for k in ("input_per_1k", "output_per_1k")}, model, "its JUDGE_PRICE"
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        pass
    entry = price_table()["prices"].get(f"bedrock.{model}")
    if isinstance(entry, dict) and "input_per_1k" in entry:
        return {k: float(entry[k]) for k in ("input_per_1k", "output_per_1k")}, model, "prices.json"
    builtin = price_in(DEFAULT_MODEL_PRICES, model)
    if builtin is not None:
        return dict(builtin), model, "the library's built-in model prices"
    return None, model, "no price known"


def judge_lines(e: _Estimator) -> None:
    """The judge's Bedrock spend: the sampled answers, or fewer when the monthly token cap binds."""
    tokens = assumed("judge_tokens_per_answer")
    per_answer = tokens["input"] + tokens["output"]
    for fn, env in _functions_with(e.inv, ENV_JUDGE_MODEL):
        percent = min(max(number(env.get(ENV_SAMPLE_PERCENT), DEFAULT_SAMPLE_PERCENT), 0.0), 100.0)
        cap = max(number(env.get(ENV_TOKEN_CAP), DEFAULT_TOKEN_CAP), 0.0)
        sampled = e.requests * percent / 100
        answers = min(sampled, cap / per_answer)
        price, model, origin = judge_price(env)
        usd = None
        if price is not None:
            usd = (tokens["input"] * price["input_per_1k"] + tokens["output"] * price["output_per_1k"]) / 1000
        bound = (
            f"the monthly token cap binds: {cap:,.0f} tokens / {per_answer:,} per answer" if answers < sampled else
            f"{percent:g} % of {e.requests:,} requests sampled (the {cap:,.0f}-token monthly cap is not reached)"
        )  # fmt: skip
        key = f"bedrock.{model}" if f"bedrock.{model}" in price_table()["prices"] else None
        e.add("online-judge-bedrock", "usage", "Online judge model calls", answers, "answer(s)", key, usd,
              f"{bound}; {tokens['input']:,} input + {tokens['output']} output tokens per answer of {model} ({origin})"
              + ("" if usd is not None else ": not priced, pass the judge's prices") + ". Lambda compute not included.",
              [fn])  # fmt: skip


def insights_scanned_lines(e: _Estimator) -> None:
    """The data the scheduled functions' Logs Insights queries scan, from the app log volume."""
    per_request, _ = app_log_bytes(e.inv)
    month_gb = e.requests * per_request / GB
    scans: list[tuple[float, str, Resource]] = []
    for fn, _env in _functions_with(e.inv, ENV_JUDGE_MODEL):
        scans.append((1.0, f"{fn.logical_id} (online judge) reads each window once: 1x", fn))
    for fn, env in _functions_with(e.inv, ENV_LOOKBACK_HOURS):
        lookback = max(number(env.get(ENV_LOOKBACK_HOURS), DEFAULT_LOOKBACK_HOURS), 0.0)
        window = max(number(env.get(ENV_FEEDBACK_WINDOW), DEFAULT_FEEDBACK_WINDOW), 1.0)
        times = lookback * 60 / window
        scans.append((times, f"{fn.logical_id} (feedback join) looks {lookback:g} h back every {window:g} min: "
                             f"{times:g}x", fn))  # fmt: skip
    for fn, _env in _functions_with(e.inv, ENV_DRIFT_BASELINE_DAYS):
        scans.append((1.0, f"{fn.logical_id} (output drift) reads each day once: 1x", fn))
    if not scans:
        return
    times = sum(t for t, _, _ in scans)
    p = price_entry("logs.insights_scanned")
    e.add("logs-insights-scanned", "usage", "Logs Insights data scanned (scheduled evaluations)", month_gb * times, "GB",
          "logs.insights_scanned", p["usd"],
          f"{e.requests:,} requests x {per_request:,} bytes of app log = {month_gb:.4f} GB a month, scanned "
          f"{times:g}x: {'; '.join(why for _, why, _ in scans)}. Queries people run by hand are billed the same "
          "way and not included.", [fn for _, _, fn in scans])  # fmt: skip


def lambda_insights_lines(e: _Estimator) -> None:
    """The extension's log events (1 KB per invocation) in ``/aws/lambda-insights``: ingestion and storage."""
    functions = insights_functions(e.inv)
    if not functions:
        return
    per_invocation = assumed("lambda_insights_bytes_per_invocation")
    gb = e.requests * per_invocation * len(functions) / GB
    why = (f"{e.requests:,} requests x {per_invocation:,} bytes x {len(functions)} function(s) with Lambda Insights "
           "(each assumed to serve every request: an upper bound)")  # fmt: skip
    e.add("lambda-insights-logs", "usage", "Lambda Insights log ingestion (/aws/lambda-insights)", gb, "GB",
          "logs.ingestion", price_entry("logs.ingestion")["usd"], why + ".", functions)  # fmt: skip
    months = e.log_storage_months()
    e.add("lambda-insights-storage", "usage", "Lambda Insights log storage", gb * months, "GB-month", "logs.storage",
          price_entry("logs.storage")["usd"], f"{months:g} month(s) of those events kept, uncompressed (upper bound).",
          functions)  # fmt: skip


def state_lines(e: _Estimator) -> None:
    """The drift samples and the review set in S3: a few MB each (plus the bucket's KMS key, counted with the keys)."""
    p = price_entry("s3.storage")
    for env_name, line, label, assumption in (
        (ENV_DRIFT_BASELINE_DAYS, "drift-state-storage", "Output drift samples (S3)", "drift_state_mb"),
        (ENV_REVIEW_BUCKET, "review-set-storage", "Feedback review set (S3)", "review_set_mb"),
    ):
        for fn, _env in _functions_with(e.inv, env_name):
            mb = assumed(assumption)
            e.add(line, "fixed", label, mb / 1024, "GB-month", "s3.storage", p["usd"],
                  f"{price_table()['assumptions'][assumption]['why']}: about {mb:g} MB; plus KMS key (counted with the "
                  "KMS keys); requests not included.", [fn])  # fmt: skip


def evaluation_fixed_costs(e: _Estimator) -> None:
    """The fixed lines of the evaluations: their S3 state."""
    state_lines(e)


def evaluation_usage_costs(e: _Estimator) -> None:
    """The usage lines of the evaluations at ``e.requests`` a month: the judge, the data scanned, Lambda Insights."""
    if e.requests <= 0:
        return
    judge_lines(e)
    insights_scanned_lines(e)
    lambda_insights_lines(e)
