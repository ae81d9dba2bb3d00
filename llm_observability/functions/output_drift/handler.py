"""Output drift: compares a day of production answers with the days before it, per model and signal.

Run daily by EventBridge (01:15 UTC) for the previous UTC day: the day before the event's ``time`` (or an explicit
``{"date": "YYYY-MM-DD"}`` for a backfill). Steps:

1. 24 hourly CloudWatch Logs Insights queries (``logs_query``, one at a time, at most 10,000 rows each) read the
   application's log lines (``LOG_SCHEMA``'s marker) and, with ``JUDGE_LOG_GROUP``, the online judge's
   ``judge_result`` lines. An hour that matched more rows than it returned is logged and used as a sample; an hour
   whose query failed is logged and left out. Canary requests (request id ``canary-...``) are skipped.
2. Per model, the signals of ``SIGNALS`` (``drift_telemetry.SIGNALS``): answer length, refusal (0/1, needs the answer
   text), grounding score, and the judge's relevance, faithfulness and coherence. A line that lacks a field, or
   holds a value out of range, adds nothing to that signal; one bad line never stops the run.
3. A seeded sample of at most 2,000 values per (model, signal) goes to ``STATE_BUCKET`` at
   ``samples/<service>/<date>.json`` (numbers only: no text is stored). The baseline is the union of the samples of
   the ``DRIFT_BASELINE_DAYS`` days before; a missing or unreadable day is logged and skipped. A (model, signal) is
   compared only with samples from at least 3 baseline days and ``DRIFT_MIN_SAMPLES`` values on each side.
4. KS and PSI (``stats``) for each compared pair, a ``drift_result`` log line with both, and EMF metrics:
   ``OutputDrift`` {service, ModelId, Signal} (the ``DRIFT_STATISTIC``) and ``OutputDriftMax`` {service}.
5. Prompt diversity (``DIVERSITY``, needs the question text, which stays in memory): ``QuestionsAnalyzed``,
   ``DistinctQuestions`` and ``NearDuplicateShare`` {service} (``textstats.near_duplicates`` over a seeded sample
   of at most 10,000 of the day's questions).

The run raises ``DriftRunFailed`` after publishing what it could when no query succeeded or the day's sample could
not be stored, so the invocation fails, is retried, and lands in the dead-letter queue (alarmed). A bad
configuration raises ``DriftConfigError``. Environment: ``drift_telemetry.ENV_*``. IAM: ``logs:StartQuery`` on the
log groups, ``logs:GetQueryResults``/``logs:StopQuery``, S3 read/write on the state bucket and its KMS key.

Test seams: ``set_client(service, client)`` injects the ``logs`` or ``s3`` client, ``reset_state()`` simulates a
new container.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import boto3
import drift_telemetry as telemetry
import logs_query
import samples
import stats
import textstats
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE
HOURS = 24
#: A query is not started with less than this left of the invocation (the metrics must still be flushed).
RESERVE_MS = 60_000
QUERY_TIMEOUT_S = 240.0

logger = Logger(service=SERVICE_NAME)
Key = samples.Key


# --- Configuration ----------------------------------------------------------------------------------------------------
class DriftConfigError(Exception):
    """The function's environment or event is invalid; ``problems`` lists every issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid output drift configuration: " + " ".join(problems))
        self.problems = problems


class DriftRunFailed(Exception):
    """No query succeeded, or the day's sample could not be stored."""


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields of the application's log line that the function reads (``LogSchema.document()``)."""

    marker_field: str
    marker_value: str
    model: str
    request_id: str
    question: str | None = None
    answer: str | None = None
    answer_length: str | None = None
    grounding_score: str | None = None


@dataclass(frozen=True, slots=True)
class DriftConfig:
    log_group_names: tuple[str, ...]
    schema: Schema
    bucket: str
    signals: tuple[str, ...]
    judge_log_group: str | None = None
    baseline_days: int = telemetry.DEFAULT_BASELINE_DAYS
    statistic: str = telemetry.STATISTIC_PSI
    min_samples: int = telemetry.DEFAULT_MIN_SAMPLES
    diversity: bool = True
    jaccard: float = telemetry.DEFAULT_NEAR_DUPLICATE_JACCARD


def _json(env: Mapping[str, str], name: str, problems: list[str]) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        problems.append(f"{name} is not valid JSON.")
        return None


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float, problems: list[str]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:
        problems.append(f"{name} must be a number from {lo:g} to {hi:g}, got {raw!r}.")
        return default
    return value


def _whole(env: Mapping[str, str], name: str, default: int, lo: int, hi: int, problems: list[str]) -> int:
    value = _number(env, name, default, lo, hi, problems)
    if value != int(value):
        problems.append(f"{name} must be a whole number from {lo} to {hi}, got {env.get(name)!r}.")
        return default
    return int(value)


def load_config(environ: Mapping[str, str] | None = None) -> DriftConfig:
    """Read and validate the environment; raise DriftConfigError listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    groups = _json(env, telemetry.ENV_LOG_GROUP_NAMES, problems)
    if not (isinstance(groups, list) and 1 <= len(groups) <= logs_query.MAX_LOG_GROUPS
            and all(isinstance(g, str) and g for g in groups)):  # fmt: skip
        problems.append(f"{telemetry.ENV_LOG_GROUP_NAMES} must be a JSON list of 1 to 50 log group names.")
        groups = []
    document = _json(env, telemetry.ENV_LOG_SCHEMA, problems)
    schema: Schema | None = None
    if isinstance(document, dict):
        names = [n for n in Schema.__slots__ if n in document and (document[n] is None or isinstance(document[n], str))]
        try:
            schema = Schema(**{n: document[n] for n in names})
        except TypeError:
            schema = None
    if schema is None or not all((schema.marker_field, schema.marker_value, schema.model, schema.request_id)):
        problems.append(
            f"{telemetry.ENV_LOG_SCHEMA} must be LogSchema.document(): marker, model and request id fields."
        )
    bucket = env.get(telemetry.ENV_STATE_BUCKET, "").strip()
    if not bucket:
        problems.append(f"{telemetry.ENV_STATE_BUCKET} is required and must not be empty.")
    judge = env.get(telemetry.ENV_JUDGE_LOG_GROUP, "").strip() or None
    signals = _json(env, telemetry.ENV_SIGNALS, problems)
    if signals is None:
        signals = [s for s in telemetry.SIGNALS if judge or s not in telemetry.JUDGE_SIGNALS]
    if not isinstance(signals, list) or any(s not in telemetry.SIGNALS for s in signals):
        problems.append(f"{telemetry.ENV_SIGNALS} must be a JSON list of signals from {', '.join(telemetry.SIGNALS)}.")
        signals = []
    elif judge is None and any(s in telemetry.JUDGE_SIGNALS for s in signals):
        problems.append(f"{telemetry.ENV_SIGNALS} names judge signals, so {telemetry.ENV_JUDGE_LOG_GROUP} is required.")
    statistic = env.get(telemetry.ENV_DRIFT_STATISTIC, "").strip() or telemetry.STATISTIC_PSI
    if statistic not in telemetry.STATISTICS:
        problems.append(
            f"{telemetry.ENV_DRIFT_STATISTIC} must be one of {', '.join(telemetry.STATISTICS)}, got {statistic!r}."
        )
    diversity = env.get(telemetry.ENV_DIVERSITY, "true").strip().lower()
    if diversity not in ("true", "false"):
        problems.append(f"{telemetry.ENV_DIVERSITY} must be true or false, got {diversity!r}.")
    config = DriftConfig(
        log_group_names=tuple(groups),
        schema=schema or Schema("", "", "", ""),
        bucket=bucket,
        signals=tuple(dict.fromkeys(signals)),
        judge_log_group=judge,
        baseline_days=_whole(env, telemetry.ENV_DRIFT_BASELINE_DAYS, telemetry.DEFAULT_BASELINE_DAYS,
                             telemetry.MIN_BASELINE_DAYS, telemetry.MAX_BASELINE_DAYS, problems),
        statistic=statistic,
        min_samples=_whole(env, telemetry.ENV_DRIFT_MIN_SAMPLES, telemetry.DEFAULT_MIN_SAMPLES,
                           telemetry.MIN_MIN_SAMPLES, telemetry.MAX_MIN_SAMPLES, problems),
        diversity=diversity == "true",
        jaccard=_number(env, telemetry.ENV_NEAR_DUPLICATE_JACCARD, telemetry.DEFAULT_NEAR_DUPLICATE_JACCARD,
                        telemetry.MIN_NEAR_DUPLICATE_JACCARD, 1.0, problems),
    )  # fmt: skip
    if problems:
        raise DriftConfigError(problems)
    return config


# --- Per-container state ------------------------------------------------------------------------------------------------
_config: DriftConfig | None = None
_clients: dict[str, Any] = {}
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 5})


def set_client(service: str, client: Any) -> None:
    """Use ``client`` as the ``logs`` or ``s3`` client (tests); None makes the next run create one."""
    if service not in ("logs", "s3"):
        raise ValueError(f"No {service} client here: logs or s3.")
    _clients[service] = client


def reset_state() -> None:
    """Forget the configuration and the clients, as in a new container."""
    global _config
    _config = None
    _clients.clear()


def get_client(service: str) -> Any:
    """The container's client of ``service``, created on first use (standard boto3 configuration chain)."""
    if _clients.get(service) is None:
        set_client(service, boto3.client(service, config=CLIENT_CONFIG))
    return _clients[service]


def get_config() -> DriftConfig:
    global _config
    if _config is None:
        _config = load_config()
    return _config


# --- Reading the day -------------------------------------------------------------------------------------------------
@dataclass
class Day:
    """What the queries of one day gave: values per (model, signal), the questions, and how the hours went."""

    values: dict[Key, list[float]] = field(default_factory=lambda: defaultdict(list))
    questions: list[str] = field(default_factory=list)
    queries_ok: int = 0
    app_queries_ok: int = 0
    queries_failed: int = 0
    queries_skipped: int = 0
    truncated_hours: int = 0
    canary_lines: int = 0
    bad_lines: int = 0


def _is_canary(request_id: Any) -> bool:
    return isinstance(request_id, str) and request_id.startswith(telemetry.CANARY_REQUEST_ID_PREFIX)


def app_query(schema: Schema) -> str:
    return (f"fields @message | filter {schema.marker_field} = {logs_query.quote(schema.marker_value)} "
            f"| sort @timestamp asc | limit {logs_query.MAX_ROWS}")  # fmt: skip


def judge_query() -> str:
    return (f"fields @message | filter {telemetry.JUDGE_MARKER_FIELD} = {logs_query.quote(telemetry.JUDGE_MARKER_VALUE)} "
            f"| sort @timestamp asc | limit {logs_query.MAX_ROWS}")  # fmt: skip


def read_app_line(record: dict[str, Any], config: DriftConfig, day: Day) -> None:
    """Add one application log line's signal values (and question) to ``day``."""
    schema, get = config.schema, logs_query.field
    if _is_canary(get(record, schema.request_id)):
        day.canary_lines += 1
        return
    model = get(record, schema.model)
    if not samples.is_label(model):
        day.bad_lines += 1
        return
    signals = config.signals
    if telemetry.SIGNAL_ANSWER_LENGTH in signals and schema.answer_length:
        length = samples.finite(get(record, schema.answer_length), 0, math.inf)
        if length is not None:
            day.values[(model, telemetry.SIGNAL_ANSWER_LENGTH)].append(length)
    if telemetry.SIGNAL_REFUSAL in signals and schema.answer:
        answer = get(record, schema.answer)
        if isinstance(answer, str):
            day.values[(model, telemetry.SIGNAL_REFUSAL)].append(1.0 if textstats.is_refusal(answer) else 0.0)
    if telemetry.SIGNAL_GROUNDING in signals and schema.grounding_score:
        grounding = samples.finite(get(record, schema.grounding_score), 0, 1)
        if grounding is not None:
            day.values[(model, telemetry.SIGNAL_GROUNDING)].append(grounding)
    if config.diversity and schema.question:
        question = get(record, schema.question)
        if isinstance(question, str) and question.strip():
            day.questions.append(question)


def read_judge_line(record: dict[str, Any], config: DriftConfig, day: Day) -> None:
    """Add one ``judge_result`` line's 1-5 scores to ``day``."""
    if _is_canary(record.get(telemetry.JUDGE_FIELD_REQUEST_ID)):
        day.canary_lines += 1
        return
    model = next((record[f] for f in telemetry.JUDGE_FIELDS_MODEL if f in record), None)
    scores = record.get(telemetry.JUDGE_FIELD_SCORES)
    if not samples.is_label(model) or not isinstance(scores, dict):
        day.bad_lines += 1
        return
    for signal, key in telemetry.JUDGE_SIGNALS.items():
        score = samples.finite(scores.get(key), 1, 5) if signal in config.signals else None
        if score is not None:
            day.values[(model, signal)].append(score)


def collect(
    config: DriftConfig, client: Any, day: date, remaining_ms: Callable[[], int] | None = None, **query_options: Any
) -> Day:
    """Run the day's hourly queries one at a time and read every line they return."""
    result = Day()
    end = datetime.combine(day + timedelta(days=1), time(), UTC)
    sources: list[tuple[str, tuple[str, ...], str, Callable[[dict[str, Any], DriftConfig, Day], None]]] = [
        ("app", config.log_group_names, app_query(config.schema), read_app_line)
    ]
    if config.judge_log_group and any(s in telemetry.JUDGE_SIGNALS for s in config.signals):
        sources.append(("judge", (config.judge_log_group,), judge_query(), read_judge_line))
    for start, stop in logs_query.windows(end, timedelta(hours=1), HOURS):
        for source, groups, query, read in sources:
            if remaining_ms is not None and remaining_ms() < RESERVE_MS:
                result.queries_skipped += 1
                continue
            try:
                rows = logs_query.run_query(
                    client, groups, query, start, stop, timeout_s=QUERY_TIMEOUT_S, **query_options
                )
            except (logs_query.QueryFailed, ClientError, BotoCoreError, ValueError) as exc:
                result.queries_failed += 1
                code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
                logger.warning("Drift query failed", extra={"source": source, "hour": start.isoformat(),
                                                            "error": type(exc).__name__, "aws_error_code": code,
                                                            "status": getattr(exc, "status", None)})  # fmt: skip
                continue
            result.queries_ok += 1
            result.app_queries_ok += source == "app"
            if rows.truncated:
                result.truncated_hours += 1
                logger.warning("Drift query truncated: the hour is used as a sample",
                               extra={"source": source, "hour": start.isoformat(), "matched": rows.matched,
                                      "returned": len(rows.rows)})  # fmt: skip
            for record in logs_query.messages(rows.rows):
                try:
                    read(record, config, result)
                except Exception:  # noqa: BLE001 - one hostile line costs that line, never the day
                    result.bad_lines += 1
    if result.queries_skipped:
        logger.warning("Drift queries skipped: not enough time left", extra={"skipped": result.queries_skipped})
    return result


# --- State: the daily samples ------------------------------------------------------------------------------------------
def save_samples(client: Any, bucket: str, key: str, document: dict[str, Any]) -> bool:
    """Store the day's samples; False (logged) when S3 refused."""
    try:
        client.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, separators=(",", ":")).encode(),
                          ContentType="application/json")  # fmt: skip
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        logger.error(
            "Drift samples not stored", extra={"key": key, "error": type(exc).__name__, "aws_error_code": code}
        )
        return False
    return True


def load_baseline(
    client: Any, bucket: str, service: str, day: date, days: int
) -> tuple[dict[Key, list[float]], dict[Key, int]]:
    """The union of the samples of the ``days`` days before ``day``, and per key the number of days that had it."""
    values: dict[Key, list[float]] = defaultdict(list)
    found: dict[Key, int] = defaultdict(int)
    for back in range(1, days + 1):
        key = samples.sample_key(service, day - timedelta(days=back))
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            stored = samples.parse_sample_document(body)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            log = logger.info if code in ("NoSuchKey", "404") else logger.warning
            log("Drift baseline day missing", extra={"key": key, "aws_error_code": code})
            continue
        except (BotoCoreError, ValueError, RecursionError, UnicodeDecodeError) as exc:
            logger.warning("Drift baseline day unreadable", extra={"key": key, "error": type(exc).__name__})
            continue
        for pair, sample in stored.items():
            if sample:
                values[pair].extend(sample)
                found[pair] += 1
    return dict(values), dict(found)


# --- Comparison ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Drift:
    model: str
    signal: str
    ks: float
    psi: float
    baseline_n: int
    current_n: int
    baseline_days: int
    baseline_mean: float
    current_mean: float

    def value(self, statistic: str) -> float:
        return self.ks if statistic == telemetry.STATISTIC_KS else self.psi


def compare(
    current: Mapping[Key, Sequence[float]],
    baseline: Mapping[Key, Sequence[float]],
    days_found: Mapping[Key, int],
    min_samples: int,
) -> tuple[list[Drift], list[dict[str, Any]]]:
    """KS and PSI of every (model, signal) with enough data; the others with the reason they were skipped."""
    results: list[Drift] = []
    skipped: list[dict[str, Any]] = []
    for model, signal in sorted(set(current) | set(baseline)):
        cur, base = current.get((model, signal), []), baseline.get((model, signal), [])
        days = days_found.get((model, signal), 0)
        facts = {
            "model": model,
            "signal": signal,
            "baseline_n": len(base),
            "current_n": len(cur),
            "baseline_days": days,
        }
        if not cur:
            skipped.append({**facts, "reason": telemetry.SKIP_NO_CURRENT})
        elif days < telemetry.MIN_BASELINE_DAYS or len(base) < min_samples or len(cur) < min_samples:
            skipped.append({**facts, "reason": telemetry.SKIP_INSUFFICIENT})
        else:
            results.append(Drift(model, signal, stats.ks(base, cur), stats.psi(base, cur), len(base), len(cur), days,
                                 stats.mean(base), stats.mean(cur)))  # fmt: skip
    return results, skipped


def diversity(questions: Sequence[str], jaccard: float, seed: str) -> dict[str, float]:
    """QuestionsAnalyzed, DistinctQuestions and NearDuplicateShare of the day's questions."""
    distinct = {form for form in map(textstats.normalize, questions) if form}
    sample = stats.seeded_sample(questions, telemetry.MAX_DIVERSITY_QUESTIONS, seed)
    return {
        telemetry.METRIC_QUESTIONS_ANALYZED: float(len(questions)),
        telemetry.METRIC_DISTINCT_QUESTIONS: float(len(distinct)),
        telemetry.METRIC_NEAR_DUPLICATE_SHARE: textstats.near_duplicate_share(sample, jaccard),
    }


# --- Publishing -----------------------------------------------------------------------------------------------------------
def publish(day: date, statistic: str, results: Sequence[Drift], figures: Mapping[str, float] | None) -> None:
    """EMF: OutputDrift per (ModelId, Signal), then OutputDriftMax and the diversity figures per service."""
    for result in results:
        blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
        blob.set_default_dimensions(**{telemetry.DIM_SERVICE: SERVICE_NAME, telemetry.DIM_MODEL_ID: result.model,
                                       telemetry.DIM_SIGNAL: result.signal})  # fmt: skip
        blob.add_metadata(key="date", value=day.isoformat())
        blob.add_metric(name=telemetry.METRIC_OUTPUT_DRIFT, unit=MetricUnit.NoUnit, value=result.value(statistic))
        blob.flush_metrics()
    if not results and not figures:
        return
    blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
    blob.set_default_dimensions(**{telemetry.DIM_SERVICE: SERVICE_NAME})
    blob.add_metadata(key="date", value=day.isoformat())
    if results:
        blob.add_metric(name=telemetry.METRIC_OUTPUT_DRIFT_MAX, unit=MetricUnit.NoUnit,
                        value=max(r.value(statistic) for r in results))  # fmt: skip
    for name, value in (figures or {}).items():
        unit = MetricUnit.Percent if name == telemetry.METRIC_NEAR_DUPLICATE_SHARE else MetricUnit.Count
        blob.add_metric(name=name, unit=unit, value=value)
    blob.flush_metrics()


# --- One run --------------------------------------------------------------------------------------------------------------
def day_of(event: Any, now: datetime) -> date:
    """The UTC day to analyse: ``event["date"]`` when given, else the day before the event's ``time`` (or ``now``)."""
    if isinstance(event, dict) and "date" in event:
        try:
            return date.fromisoformat(str(event["date"]))
        except ValueError:
            raise DriftConfigError([f"The event's date must be YYYY-MM-DD, got {str(event['date'])[:40]!r}."]) from None
    when = now
    if isinstance(event, dict) and isinstance(event.get("time"), str):
        try:
            when = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        except ValueError:
            logger.warning(
                "Event time unreadable: the run analyses the day before now", extra={"time": event["time"][:40]}
            )
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).date() - timedelta(days=1)


def run(config: DriftConfig, logs_client: Any, s3_client: Any, day: date,
        remaining_ms: Callable[[], int] | None = None, **query_options: Any) -> dict[str, Any]:  # fmt: skip
    """One day: collect, store the sample, compare with the baseline, publish; the run's summary."""
    read = collect(config, logs_client, day, remaining_ms, **query_options)
    app_read = read.app_queries_ok > 0
    current = samples.day_samples(SERVICE_NAME, day, read.values)
    stored = False
    if app_read:
        counts = {pair: len(values) for pair, values in read.values.items()}
        stored = save_samples(s3_client, config.bucket, samples.sample_key(SERVICE_NAME, day),
                              samples.sample_document(SERVICE_NAME, day, current, counts))  # fmt: skip
    baseline, days_found = load_baseline(s3_client, config.bucket, SERVICE_NAME, day, config.baseline_days)
    results, skipped = compare(current, baseline, days_found, config.min_samples)
    for result in results:
        logger.info(telemetry.LOG_MESSAGE_DRIFT_RESULT, extra={
            "date": day.isoformat(), "model": result.model, "signal": result.signal, "statistic": config.statistic,
            "value": result.value(config.statistic), "ks": result.ks, "psi": result.psi,
            "ks_critical_1pct": stats.ks_critical(result.baseline_n, result.current_n),
            "baseline_n": result.baseline_n, "current_n": result.current_n, "baseline_days": result.baseline_days,
            "baseline_mean": result.baseline_mean, "current_mean": result.current_mean,
        })  # fmt: skip
    for item in skipped:
        logger.info(telemetry.LOG_MESSAGE_DRIFT_SKIPPED, extra={"date": day.isoformat(), **item})
    figures = None
    if config.diversity and read.questions:
        figures = diversity(read.questions, config.jaccard, f"{SERVICE_NAME}|questions|{day.isoformat()}")
        logger.info(telemetry.LOG_MESSAGE_DIVERSITY, extra={"date": day.isoformat(), **figures})
    publish(day, config.statistic, results, figures)
    summary = {
        "date": day.isoformat(), "statistic": config.statistic, "compared": len(results), "skipped": len(skipped),
        "max_drift": max((r.value(config.statistic) for r in results), default=None), "sample_stored": stored,
        "queries_ok": read.queries_ok, "queries_failed": read.queries_failed, "queries_skipped": read.queries_skipped,
        "truncated_hours": read.truncated_hours, "canary_lines": read.canary_lines, "bad_lines": read.bad_lines,
    }  # fmt: skip
    if not app_read or not stored:
        logger.error("Drift run failed", extra={"summary": summary})
        raise DriftRunFailed(
            f"Output drift for {day.isoformat()}: "
            + ("no log query succeeded" if not app_read else "the day's sample could not be stored")
            + "; see the 'Drift query failed' and 'Drift samples not stored' log records."
        )
    logger.info("Drift run", extra={"summary": summary})
    return summary


# --- Entry point -----------------------------------------------------------------------------------------------------------
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``handler.lambda_handler``): one day's drift; returns its summary."""
    try:
        config = get_config()
        day = day_of(event, datetime.now(UTC))
    except DriftConfigError as exc:
        logger.error("Invalid output drift configuration", extra={"configuration_problems": exc.problems})
        raise
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return run(config, get_client("logs"), get_client("s3"), day, remaining if callable(remaining) else None)
