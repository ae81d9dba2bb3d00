"""Feedback join: ties each user rating to the model and prompt version of the answer it rates.

Run on a schedule by EventBridge. Each run reads one window of ``FEEDBACK_WINDOW_MINUTES``, aligned to the
epoch and ending at least :data:`SETTLE` before the scheduled event's ``time`` (so late log lines are in, and a
retry of the same event reads the same window):

1. Query A (CloudWatch Logs Insights) reads the window's feedback lines (``<marker_field> = <feedback_marker>``):
   the rated answer's request id, the 1-5 score and the (redacted) comment. Canary ratings, lines without a usable
   request id or score, and repeated ratings of one answer (the latest counts) are dropped.
2. Query B reads the answer lines (``<marker_field> = <marker_value>``) of ``[window end - lookback, window end)``
   whose request id is one of the rated ones, ``filter <request_id> in [...]`` chunked under StartQuery's
   10,000-character query limit. The latest line of each request id is the answer.
3. Metrics (EMF, namespace ``POWERTOOLS_METRICS_NAMESPACE``), see ``feedback_telemetry``: ``FeedbackScore`` and
   ``NegativeFeedback`` per {service, ModelId, PromptVersion} and ``NegativeFeedback`` per {service}, one value
   per joined rating, timestamped at the rating; ``FeedbackUnmatched`` (ratings whose answer is older than the
   lookback or not in these log groups) once per run, 0 included, at the window's start.
4. With ``REVIEW_BUCKET``: one object per joined rating at ``feedback/YYYY/MM/DD/<request id>.json`` (the rating's
   UTC day; a deterministic key, so a rerun overwrites instead of duplicating). Text only as the line logged it
   (redacted or full), none when the prompt-logging mode is ``none``. A failed write is logged and counted
   (``ReviewWriteFailures``); an access or key error stops the remaining writes; the metrics are flushed anyway.

A query that fails (throttled past botocore's retries, access denied, timed out) fails the run before anything is
emitted or written, so Lambda's retry of the event (same window) counts each rating once; after the retries the
event waits in the dead-letter queue, which the construct alarms on. A bad line costs that line only.

Environment: see ``feedback_telemetry.ENV_*``. IAM: ``logs:StartQuery`` on the log groups,
``logs:GetQueryResults`` and ``logs:StopQuery``; with a review set ``s3:PutObject`` on ``feedback/*`` and
``kms:GenerateDataKey`` on the bucket's key.

Test seams: ``set_client()`` injects the Logs and S3 clients, ``reset_state()`` simulates a new container.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import feedback_telemetry as telemetry
import logs_query
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from feedback_join import (
    PROMPT_LOGGING_MODES,
    Answer,
    Joined,
    Rating,
    Schema,
    answer_queries,
    feedback_query,
    id_chunks,
    join,
    parse_answers,
    parse_ratings,
    parse_schema,
    parse_timestamp,
    review_key,
    review_object,
)

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE

#: How long after a window ends it is read: log lines reach Logs Insights within seconds to a minute or two.
SETTLE = timedelta(minutes=5)
#: The longest one Logs Insights query may run; a query needs this much of the Lambda's time left to start.
QUERY_TIMEOUT_S = 240.0
#: Time kept for writing the metrics after the last query or review write.
FLUSH_MARGIN_MS = 10_000
#: Time one review write needs (connect and read timeouts with a retry).
WRITE_BUDGET_MS = 25_000
#: S3 errors that will fail every further write of the run as well.
PERMANENT_S3_ERRORS = frozenset(
    {"AccessDenied", "NoSuchBucket", "AllAccessDisabled", "InvalidBucketName", "KMS.AccessDeniedException",
     "KMS.DisabledException", "KMS.NotFoundException", "KMS.KMSInvalidStateException"}
)  # fmt: skip

logger = Logger(service=SERVICE_NAME)


# --- Configuration -----------------------------------------------------------------------------
class FeedbackConfigError(Exception):
    """The function's environment is invalid; ``problems`` lists every issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid feedback join configuration: " + " ".join(problems))
        self.problems = problems


class FeedbackJoinFailed(Exception):
    """A Logs Insights query of the run failed: nothing was emitted, the event is retried."""


@dataclass(frozen=True, slots=True)
class JoinConfig:
    """Validated configuration of the join."""

    log_group_names: tuple[str, ...]
    schema: Schema
    lookback: timedelta = timedelta(hours=telemetry.DEFAULT_LOOKBACK_HOURS)
    window: timedelta = timedelta(minutes=telemetry.DEFAULT_WINDOW_MINUTES)
    review_bucket: str | None = None
    prompt_logging: str = "none"


def _whole(env: Mapping[str, str], name: str, default: int, bounds: tuple[int, int], problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = bounds[0] - 1
    if not bounds[0] <= value <= bounds[1]:
        problems.append(f"{name} must be a whole number from {bounds[0]} to {bounds[1]}, got {raw!r}.")
        return default
    return value


def load_config(environ: Mapping[str, str] | None = None) -> JoinConfig:
    """Read and validate the environment; raise FeedbackConfigError listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    groups: tuple[str, ...] = ()
    try:
        parsed = json.loads(env.get(telemetry.ENV_LOG_GROUP_NAMES, "") or "null")
    except ValueError:
        parsed = None
    if (
        isinstance(parsed, list)
        and 0 < len(parsed) <= logs_query.MAX_LOG_GROUPS
        and all(isinstance(name, str) and name.strip() for name in parsed)
    ):
        groups = tuple(dict.fromkeys(parsed))
    else:
        problems.append(
            f"{telemetry.ENV_LOG_GROUP_NAMES} must be a JSON list of 1 to {logs_query.MAX_LOG_GROUPS} log group names."
        )

    schema = None
    try:
        schema = parse_schema(env.get(telemetry.ENV_LOG_SCHEMA, "") or "null")
    except ValueError as exc:
        problems.append(str(exc))

    lookback = _whole(env, telemetry.ENV_LOOKBACK_HOURS, telemetry.DEFAULT_LOOKBACK_HOURS,
                      telemetry.LOOKBACK_HOURS_RANGE, problems)  # fmt: skip
    window = _whole(env, telemetry.ENV_WINDOW_MINUTES, telemetry.DEFAULT_WINDOW_MINUTES,
                    telemetry.WINDOW_MINUTES_RANGE, problems)  # fmt: skip
    bucket = env.get(telemetry.ENV_REVIEW_BUCKET, "").strip() or None
    prompt_logging = env.get(telemetry.ENV_PROMPT_LOGGING, "").strip() or "none"
    if prompt_logging not in PROMPT_LOGGING_MODES:
        problems.append(f"{telemetry.ENV_PROMPT_LOGGING} must be one of {', '.join(PROMPT_LOGGING_MODES)}, "
                        f"got {prompt_logging!r}.")  # fmt: skip
    if problems or schema is None:
        raise FeedbackConfigError(problems)
    return JoinConfig(groups, schema, timedelta(hours=lookback), timedelta(minutes=window), bucket, prompt_logging)


# --- Per-container state -------------------------------------------------------------------------
_config: JoinConfig | None = None
_clients: dict[str, Any] = {}


def client_config() -> Config:
    """botocore configuration of the Logs and S3 clients (standard retries with backoff, bounded waits)."""
    return Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 4})


def set_client(*, logs: Any = None, s3: Any = None) -> None:
    """Use ``logs`` and ``s3`` as the clients (tests); None makes the next run create that one."""
    for name, client in (("logs", logs), ("s3", s3)):
        if client is None:
            _clients.pop(name, None)
        else:
            _clients[name] = client


def reset_state() -> None:
    """Forget the configuration and the clients, as in a new container."""
    global _config
    _config = None
    _clients.clear()


def get_client(service: str) -> Any:
    """The container's ``logs`` or ``s3`` client (standard boto3 region, endpoint and credential chain)."""
    if service not in _clients:
        _clients[service] = boto3.client(service, config=client_config())
    return _clients[service]


def get_config() -> JoinConfig:
    """The container's configuration, read on the first invocation that finds it valid."""
    global _config
    if _config is None:
        _config = load_config()
    return _config


@dataclass
class Writes:
    written: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def write_reviews(
    client: Any, bucket: str, items: Sequence[Joined], prompt_logging: str,
    remaining_ms: Callable[[], int] | None = None,
) -> Writes:  # fmt: skip
    """Put one review object per joined rating; every failure is counted by error code, never raised."""
    writes = Writes()
    for index, item in enumerate(items):
        if remaining_ms is not None and remaining_ms() < WRITE_BUDGET_MS + FLUSH_MARGIN_MS:
            writes.failures["OutOfTime"] += len(items) - index
            logger.warning("Review writes stopped: not enough time left", extra={"not_written": len(items) - index})
            break
        key = review_key(item.rating)
        try:
            body = json.dumps(review_object(item, prompt_logging), ensure_ascii=False).encode("utf-8")
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        except (BotoCoreError, Exception) as exc:  # noqa: BLE001 - a failed write costs its object, not the metrics
            code = type(exc).__name__
        else:
            writes.written += 1
            continue
        writes.failures[code] += 1
        if writes.failures[code] == 1:
            logger.warning("Review object not written", extra={"key": key, "error_code": code})
        if code in PERMANENT_S3_ERRORS:
            rest = len(items) - index - 1
            if rest:
                writes.failures[code] += rest
                logger.warning("Review writes stopped: the error holds for every object",
                               extra={"error_code": code, "not_written": rest})  # fmt: skip
            break
    return writes


# --- Metrics -------------------------------------------------------------------------------------------
def _minute(moment: datetime) -> int:
    seconds = int(moment.timestamp())
    return (seconds - seconds % 60) * 1000


def _blob(dimensions: Mapping[str, str], timestamp_ms: int, run_id: str) -> AmazonCloudWatchEMFProvider:
    blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
    blob.set_default_dimensions(**dimensions)
    blob.set_timestamp(timestamp_ms)
    blob.add_metadata(key="run_id", value=run_id)
    return blob


def _flush(blob: AmazonCloudWatchEMFProvider) -> None:
    """Flush what Powertools has not flushed yet (it prints a blob by itself at 100 values of a metric)."""
    if blob.metric_set:
        blob.flush_metrics()


def publish(
    joined: Sequence[Joined], unmatched: int, window_start: datetime, run_id: str, review_failures: int | None
) -> None:
    """Print the run's EMF blobs: per (ModelId, PromptVersion, minute of the rating), per (service, minute), and
    one per run with FeedbackUnmatched (and ReviewWriteFailures when the review set is on)."""
    by_version: dict[tuple[str, str, int], list[Joined]] = {}
    by_minute: dict[int, list[Joined]] = {}
    for item in joined:
        minute = _minute(item.rating.rated_at)
        by_version.setdefault((item.answer.model_id, item.answer.prompt_version, minute), []).append(item)
        by_minute.setdefault(minute, []).append(item)
    service = {telemetry.DIM_SERVICE: SERVICE_NAME}
    for (model_id, version, minute), items in by_version.items():
        dims = {**service, telemetry.DIM_MODEL_ID: model_id, telemetry.DIM_PROMPT_VERSION: version}
        blob = _blob(dims, minute, run_id)
        for item in items:
            blob.add_metric(name=telemetry.METRIC_FEEDBACK_SCORE, unit=MetricUnit.NoUnit, value=item.rating.score)
            blob.add_metric(name=telemetry.METRIC_NEGATIVE_FEEDBACK, unit=MetricUnit.Percent,
                            value=100 if item.negative else 0)  # fmt: skip
        _flush(blob)
    for minute, items in by_minute.items():
        blob = _blob(service, minute, run_id)
        for item in items:
            blob.add_metric(name=telemetry.METRIC_NEGATIVE_FEEDBACK, unit=MetricUnit.Percent,
                            value=100 if item.negative else 0)  # fmt: skip
        _flush(blob)
    blob = _blob(service, int(window_start.timestamp()) * 1000, run_id)
    blob.add_metric(name=telemetry.METRIC_FEEDBACK_UNMATCHED, unit=MetricUnit.Count, value=unmatched)
    if review_failures is not None:
        blob.add_metric(name=telemetry.METRIC_REVIEW_WRITE_FAILURES, unit=MetricUnit.Count, value=review_failures)
    blob.flush_metrics()


# --- One run ----------------------------------------------------------------------------------------------
@dataclass
class Run:
    """What a run read, joined and wrote."""

    run_id: str
    window: tuple[datetime, datetime]
    ratings: list[Rating] = field(default_factory=list)
    joined: list[Joined] = field(default_factory=list)
    unmatched: list[Rating] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    not_looked_up: int = 0
    truncated: list[str] = field(default_factory=list)
    writes: Writes | None = None

    def summary(self) -> dict[str, Any]:
        negative = sum(item.negative for item in self.joined)
        return {
            "run_id": self.run_id,
            "window": [moment.isoformat() for moment in self.window],
            "ratings": len(self.ratings),
            "joined": len(self.joined),
            "unmatched": len(self.unmatched),
            "negative": negative,
            "negative_share": 100.0 * negative / len(self.joined) if self.joined else None,
            "dropped": dict(self.dropped),
            "not_looked_up": self.not_looked_up,
            "truncated_queries": self.truncated,
            "review_written": self.writes.written if self.writes else None,
            "review_failures": dict(self.writes.failures) if self.writes else None,
        }


def _timeout_s(remaining_ms: Callable[[], int] | None) -> float | None:
    """The time the next query may take, or None when there is too little left to start one."""
    if remaining_ms is None:
        return QUERY_TIMEOUT_S
    left = (remaining_ms() - FLUSH_MARGIN_MS) / 1000
    return None if left < 30 else min(QUERY_TIMEOUT_S, left - 10)


def window_for(moment: datetime, config: JoinConfig) -> tuple[datetime, datetime]:
    """The window a run at ``moment`` reads: the last whole window ending at least SETTLE before it."""
    return logs_query.windows(moment - SETTLE, config.window, 1)[0]


def run_join(
    config: JoinConfig, logs: Any, moment: datetime, run_id: str, remaining_ms: Callable[[], int] | None = None,
    sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None,
) -> Run:  # fmt: skip
    """Read the window's ratings and their answers and join them (nothing emitted or written yet).

    Before each answer query the Lambda's clock (``remaining_ms``) must leave room for it; the ratings of the
    queries left are then counted as ``not_looked_up`` and left out of both joined and unmatched (their answers
    may well exist). Raises FeedbackJoinFailed when a query fails.
    """
    start, end = window_for(moment, config)
    run = Run(run_id, (start, end))
    options = {name: value for name, value in (("sleep", sleep), ("clock", clock)) if value is not None}
    groups = list(config.log_group_names)
    answers: dict[str, Answer] = {}
    try:
        result = logs_query.run_query(logs, groups, feedback_query(config.schema), start, end,
                                      timeout_s=_timeout_s(remaining_ms) or 30.0, **options)  # fmt: skip
        if result.truncated:
            run.truncated.append("feedback")
            logger.warning("More feedback lines than one query returns: the rest of the window is not counted",
                           extra={"matched": result.matched, "returned": len(result.rows)})  # fmt: skip
        run.ratings, run.dropped = parse_ratings(result.rows, config.schema, start)
        wanted = {r.request_id for r in run.ratings}
        chunks = id_chunks(config.schema, [r.request_id for r in run.ratings])
        for index, chunk in enumerate(chunks):
            timeout_s = _timeout_s(remaining_ms)
            if timeout_s is None:
                skipped = {request_id for rest in chunks[index:] for request_id in rest}
                run.not_looked_up = len(skipped)
                run.ratings = [r for r in run.ratings if r.request_id not in skipped]
                logger.warning("Answer look-ups stopped: not enough time left",
                               extra={"queries_left": len(chunks) - index, "ratings_left_out": len(skipped)})  # fmt: skip
                break
            for query in answer_queries(config.schema, chunk):
                found = logs_query.run_query(logs, groups, query, end - config.lookback, end, timeout_s=timeout_s,
                                             **options)  # fmt: skip
                if found.truncated:
                    run.truncated.append(f"answers[{index}]")
                    logger.warning("More answer lines than one query returns", extra={"matched": found.matched})
                answers.update(parse_answers(found.rows, config.schema, wanted, end))
    except (logs_query.QueryFailed, ClientError, BotoCoreError, ValueError) as exc:
        if isinstance(exc, logs_query.QueryFailed):
            code = exc.status
        elif isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        else:
            code = type(exc).__name__
        logger.error("Feedback join failed: a Logs Insights query did not complete", extra={"error_code": code})
        raise FeedbackJoinFailed(
            f"A Logs Insights query of the feedback join failed ({code}); nothing was emitted, the run is retried."
        ) from None
    run.joined, run.unmatched = join(run.ratings, answers)
    return run


# --- Entry point -------------------------------------------------------------------------------------------
def _event_time(event: Any) -> datetime:
    """The scheduled event's ``time`` (a retry carries the same one), else now."""
    moment = event.get("time") if isinstance(event, dict) else None
    now = datetime.now(UTC)
    parsed = parse_timestamp(moment, now)
    return parsed if abs(parsed - now) < timedelta(days=2) else now


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``handler.lambda_handler``): one join run; returns its summary."""
    try:
        config = get_config()
    except FeedbackConfigError as exc:
        logger.error("Invalid feedback join configuration", extra={"configuration_problems": exc.problems})
        raise
    run_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    logger.set_correlation_id(run_id)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    remaining_ms = remaining if callable(remaining) else None
    run = run_join(config, get_client("logs"), _event_time(event), run_id, remaining_ms)
    if config.review_bucket:
        run.writes = write_reviews(get_client("s3"), config.review_bucket, run.joined, config.prompt_logging,
                                   remaining_ms)  # fmt: skip
    publish(run.joined, len(run.unmatched), run.window[0], run_id, run.writes.failed if run.writes else None)
    summary = run.summary()
    logger.info("Feedback join", extra={"summary": summary})
    return summary
