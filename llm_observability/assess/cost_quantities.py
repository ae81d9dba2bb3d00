"""What a template implies in billable quantities where the resource count alone does not tell: metrics
per alarm, custom metrics of this project's own functions, runs of a schedule, golden-set questions.

Custom metrics of this project's functions are not visible in a template (EMF is written by the code),
so they are counted from the telemetry vocabulary the code uses, with docs/costs.md's Level 1 breakdown:
5 service-only metrics, 5 pipeline stages, 2 per model = 12 for one model. What repeats another series or
a free AWS/Bedrock metric is not a metric (total tokens and cost are metric math over the token metrics,
model latency is AWS/Bedrock's InvocationLatency, error classes and prompt properties are log fields).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any

from llm_observability.assess.intrinsics import as_list, literal, render
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.queries import (
    ALARM,
    DASHBOARD,
    alarm_metric_identities,
    dashboard_row_identity,
    dashboard_rows,
    is_anomaly_alarm,
)

# The RAG function's EMF metrics (docs/costs.md, Level 1): names in runtime/telemetry.py.
RAG_SERVICE_ONLY = 5  # EndToEndLatency, RequestSuccess, RequestFailure, RetrievalCacheHit, FeedbackScore
RAG_STAGES = 5  # StageLatency x telemetry.STAGES
RAG_PER_MODEL = 2  # InputTokens, OutputTokens
RAG_GUARDRAIL = 3 + 5  # GuardrailIntervened, GroundingScore, RelevanceScore + PolicyIntervened x 5 policies
RAG_PER_PROMPT_VERSION = 4  # RequestSuccess, EndToEndLatency, InputTokens, OutputTokens (+1 with a guardrail)
CANARY_PER_VERSION = 6  # QualityRougeL, QualityBleu, QualityTokenF1, AnswerLength, RefusalRate, CanaryQuestions
# The scheduled evaluations of issue 19 (their *_telemetry.py vocabularies), recognised by their environment.
# Judge: 3 scores, JudgeHarmful and JudgedAnswers by model and prompt version and for the service; then input and
# output tokens, failures and the cap flag for the service.
JUDGE_METRICS = 5 * 2 + 4
# Feedback: FeedbackScore and NegativeFeedback (one model and prompt version), FeedbackUnmatched, ReviewWriteFailures.
FEEDBACK_METRICS = 4
DRIFT_SERVICE_ONLY = 1  # OutputDriftMax, beside OutputDrift per model and signal
DRIFT_SIGNALS = 6  # AnswerLength, Refusal, Grounding, JudgeRelevance, JudgeFaithfulness, JudgeCoherence (upper bound)
DIVERSITY_METRICS = 3  # QuestionsAnalyzed, DistinctQuestions, NearDuplicateShare
OUTCOME_METRICS = 4 * 2  # Incidents, TimeToDetect, TimeToResolve, ImpactMinutes per severity (high, low)


def int_value(value: Any, default: int) -> int:
    """The whole number a property surely is (``"3"``, ``3.0``), else ``default``."""
    text = literal(value)
    try:
        return int(float(text)) if text is not None else default
    except ValueError:
        return default


def indexing_percentage(config: Resource, default: float) -> float:
    """The ``IndexingPercentage`` of an ``AWS::XRay::TransactionSearchConfig`` (0-100), ``default`` (AWS's) when it
    is unset or known only at deploy time."""
    value = config.properties.get("IndexingPercentage")
    try:
        number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else default
    except ValueError:
        return default
    return min(max(number, 0.0), 100.0) if math.isfinite(number) else default


def alarm_metric_count(alarm: Resource) -> tuple[int, str]:
    """Billable alarm metrics of an alarm and its kind: single-metric 1, metric math each metric it reads
    (and each Metrics Insights query), anomaly detection 3."""
    if is_anomaly_alarm(alarm):
        return 3, "anomaly-detection"
    queries = alarm.properties.get("Metrics")
    if not isinstance(queries, list):
        return 1, "single-metric"
    stats = sum(1 for q in queries if isinstance(q, dict) and "MetricStat" in q)
    insights = sum(1 for q in queries if isinstance(q, dict) and "SELECT" in render(q.get("Expression")).upper())
    has_expression = any(isinstance(q, dict) and "Expression" in q for q in queries)
    count = max(stats + insights, 1)
    return count, "metric-math" if has_expression else "single-metric"


def is_high_resolution(alarm: Resource) -> bool:
    """The alarm (or one of its metrics) has a period under 60 seconds."""
    periods = [alarm.properties.get("Period")] + [
        (q.get("MetricStat") or {}).get("Period") for q in alarm.properties.get("Metrics") or [] if isinstance(q, dict)
    ]
    return any(p is not None and int_value(p, 60) < 60 for p in periods)


def known_function_metrics(env: dict[str, Any]) -> tuple[int, str] | None:
    """EMF metric count of this project's functions, recognised by the environment their constructs set."""
    if "PRICE_TABLE" in env and "PROMPT_TEMPLATE_VERSION" in env and "POWERTOOLS_METRICS_NAMESPACE" in env:
        models = 1
        count = RAG_SERVICE_ONLY + RAG_STAGES + RAG_PER_MODEL * models
        why = [
            (
                f"RAG function {count} (docs/costs.md: {RAG_SERVICE_ONLY} service-only, {RAG_STAGES} stages, "
                f"{RAG_PER_MODEL} per model)"
            )
        ]
        guardrail = "GUARDRAIL_ID" in env
        if guardrail:
            count += RAG_GUARDRAIL
            why.append(f"+ {RAG_GUARDRAIL} guardrail metrics (3 + 5 policies)")
        if "PROMPT_PARAMETER_NAME" in env:
            per_version = RAG_PER_PROMPT_VERSION + (1 if guardrail else 0)
            count += 1 + per_version
            why.append(f"+ PromptLookupFailure + {per_version} per prompt version (one active version)")
        if "MODEL_PARAMETER_NAME" in env:
            count += 1 + RAG_PER_MODEL
            why.append(f"+ ModelLookupFailure + {RAG_PER_MODEL} for a second (failover) model")
        return count, " ".join(why)
    if "TARGET_FUNCTION_NAME" in env and "POWERTOOLS_METRICS_NAMESPACE" in env:
        count = CANARY_PER_VERSION * 2 + 1
        return count, (f"quality canary {count} ({CANARY_PER_VERSION} per model and prompt version, the same {CANARY_PER_VERSION} for "
                       "the whole service, CanaryFailures; one model, one prompt version)")  # fmt: skip
    return evaluation_metrics(env)


def evaluation_metrics(env: dict[str, Any]) -> tuple[int, str] | None:
    """EMF metric count of the online judge, the feedback join, output drift and incident outcomes."""
    if "JUDGE_MODEL_ID" in env:
        return JUDGE_METRICS, (f"online judge {JUDGE_METRICS} (5 per model and prompt version and the same 5 for the "
                               "service, 4 token, failure and cap metrics; one model, one prompt version)")  # fmt: skip
    if "FEEDBACK_LOOKBACK_HOURS" in env:
        return FEEDBACK_METRICS, f"feedback join {FEEDBACK_METRICS} (one model, one prompt version)"
    if "DRIFT_BASELINE_DAYS" in env:
        signals = _signal_count(env.get("SIGNALS"))
        diversity = 0 if literal(env.get("DIVERSITY")) == "false" else DIVERSITY_METRICS
        count = DRIFT_SERVICE_ONLY + signals + diversity
        return count, (f"output drift {count} (OutputDriftMax + OutputDrift for {signals} signal(s) of one model"
                       + (f" + {diversity} prompt diversity" if diversity else "") + ")")  # fmt: skip
    if "OUTCOMES" in env:
        return OUTCOME_METRICS, (f"incident outcomes {OUTCOME_METRICS} (4 per severity, high and low: an upper bound, "
                                 "billed only in hours with incidents)")  # fmt: skip
    return None


def _signal_count(value: Any) -> int:
    """Signals the drift function compares: its ``SIGNALS`` list when the template shows it, else every signal."""
    try:
        signals = json.loads(literal(value) or "null")
    except (ValueError, RecursionError):
        return DRIFT_SIGNALS
    return len(signals) if isinstance(signals, list) and signals else DRIFT_SIGNALS


def metric_filter_series(inv: Inventory) -> tuple[int, int, bool]:
    """Metric filters' ``(transformations, custom metrics, one metric per transformation)``.

    Transformations that write one metric (namespace, name and dimension names) count once, as filters of
    several log groups or caller roles do. A metric with Dimensions is one series per dimension value, which
    the logs decide: it counts the values alarms and dashboards read of it (a row per model id), at least one.
    """
    read: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for alarm in inv.of_type(ALARM):
        for identity in alarm_metric_identities(alarm):
            read.setdefault(identity[:2], set()).add(identity)
    for dashboard in inv.of_type(DASHBOARD):
        for row in dashboard_rows(dashboard):
            if row[1] != "*":
                identity = dashboard_row_identity(row)
                read.setdefault(identity[:2], set()).add(identity)
    transformations = 0
    metrics: dict[tuple[Any, ...], int] = {}
    for mf in inv.of_type("AWS::Logs::MetricFilter"):
        for i, t in enumerate(as_list(mf.properties.get("MetricTransformations"))):
            if not isinstance(t, dict):
                continue
            transformations += 1
            namespace, name = literal(t.get("MetricNamespace")), literal(t.get("MetricName"))
            if namespace is None or name is None:
                metrics[(mf.key, i)] = 1
                continue
            dims = sorted(render(d.get("Key")) for d in as_list(t.get("Dimensions")) if isinstance(d, dict))
            values = {
                identity for identity in read.get((namespace, name), set())
                if sorted(pair.split("=", 1)[0] for pair in identity[2:]) == dims
            }  # fmt: skip
            metrics[(namespace, name, *dims)] = max(len(values), 1) if dims else 1
    series = sum(metrics.values())
    return transformations, series, series == transformations == len(metrics)


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")


def runs_per_month(expression: str | None, hours: int) -> float | None:
    """Runs a month of a ``rate(...)`` schedule expression; None for other expressions."""
    match = _RATE.match(expression or "")
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    minutes = amount * {"minute": 1, "hour": 60, "day": 1440}[unit]
    return hours * 60 / minutes if minutes else None


@lru_cache(maxsize=1)
def golden_questions() -> int:
    """Questions in the quality canary's packaged golden set (12 when it cannot be read)."""
    try:
        text = (
            importlib_resources.files("llm_observability.functions.quality_canary")
            .joinpath("golden_set.json")
            .read_text()
        )
        data = json.loads(text)
        return len(data["questions"]) if isinstance(data, dict) else len(data)
    except (OSError, ValueError, KeyError, TypeError, ModuleNotFoundError):
        return 12
