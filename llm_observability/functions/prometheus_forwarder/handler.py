"""Firehose transformation Lambda: CloudWatch metric stream records -> Prometheus remote write (SigV4).

Pipeline: CloudWatch metric stream (JSON output format) -> Amazon Data Firehose -> this function (the
delivery stream's Lambda processor) -> ``POST <workspace>/api/v1/remote_write`` of Amazon Managed
Service for Prometheus. Firehose's own destination is an S3 bucket that only ever receives the
records this function could not deliver.

Records
    Each Firehose record holds one or more newline-separated JSON objects of the metric stream JSON
    format (``namespace``, ``metric_name``, ``dimensions``, ``timestamp`` in ms, ``value`` with ``sum``,
    ``count``, ``min``, ``max`` and any additional statistics such as ``p99``, ``account_id``,
    ``region``). Every statistic becomes one sample of one series named as ``metric_naming`` says.

Result per record (the Firehose transformation protocol)
    ``Dropped``: its samples were accepted by the workspace (nothing left for S3 to keep).
    ``ProcessingFailed``: the record is malformed (not metric stream JSON; a statistic beyond a double,
    a timestamp beyond int64, a lone surrogate in a label value, a line nested too deep), or the
    workspace rejected its samples with a 4xx other than 429 (bad data: out-of-order or duplicate
    samples, limits; permissions). Only that record fails, never its invocation. Firehose writes
    such records, unchanged, under the bucket's error prefix, so nothing is lost and they can be
    inspected or replayed. Every record is answered with its original data.

Faults
    429 and 5xx responses and network errors are retried with exponential backoff (``Retry-After``
    honoured, capped) while the invocation has time left; when a batch still fails, or too little time
    is left to start the next request (its timeout plus the reserve), the function raises, so Firehose
    retries the whole invocation (processor ``NumberOfRetries``) and, after that, writes the records to
    the error prefix. Samples already accepted are resent then; a Prometheus receiver ignores a
    duplicate sample with the same timestamp and value.

Own metrics (CloudWatch EMF written by Powertools Metrics, namespace ``METRICS_NAMESPACE``, dimension ``service``)
    ``SamplesWritten``, ``RecordsDelivered``, ``RecordsMalformed``, ``RecordsRejected``,
    ``RecordsFailed`` (malformed + rejected), ``RemoteWriteThrottled`` (429 responses),
    ``RemoteWriteRetries``.

Environment
    ``REMOTE_WRITE_URL`` (required): the workspace's ``.../api/v1/remote_write`` URL.
    ``AWS_REGION``: signing region (set by Lambda).
    ``NAMESPACE_PREFIXES``: JSON object, CloudWatch namespace -> metric-name prefix. Default: ``{}``.
    ``METRICS_NAMESPACE``: namespace of the function's own metrics. Default: ``LLMObservability/PrometheusExport``.
    ``SERVICE_NAME``: the ``service`` of those metrics and of the log records. Default: ``prometheus-export``.
    ``MAX_SAMPLES_PER_REQUEST``: samples per remote-write request. Default: 2000.

Imports the standard library, the Powertools layer (Logger, Metrics, the Firehose event classes) and its
siblings (``sigv4`` signs the requests with boto3's credentials). Test seams: ``sigv4.set_session()``
injects a boto3 session, ``sleep`` is the backoff sleeper, HTTP goes through ``urllib.request.urlopen``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any, Final

import metric_naming
import remote_write
import sigv4
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

RESULT_DROPPED: Final = "Dropped"
RESULT_FAILED: Final = "ProcessingFailed"

DEFAULT_METRICS_NAMESPACE: Final = "LLMObservability/PrometheusExport"
DEFAULT_SERVICE_NAME: Final = "prometheus-export"
DEFAULT_MAX_SAMPLES: Final = 2000

RETRY_DELAYS_S: Final = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_RETRY_AFTER_S: Final = 10.0
HTTP_TIMEOUT_S: Final = 10.0
# Time kept back so the function can still answer Firehose (or raise) before it times out.
RESERVE_MS: Final = 5_000
# Remote write carries int64 milliseconds: a timestamp outside this range would wrap.
MIN_TIMESTAMP_MS: Final = -(2**63)
MAX_TIMESTAMP_MS: Final = 2**63 - 1
MAX_ERROR_BODY_CHARS: Final = 512
USER_AGENT: Final = "llm-observability-prometheus-export/1.0"

logger = Logger(service=os.getenv("SERVICE_NAME") or DEFAULT_SERVICE_NAME)

sleep: Callable[[float], None] = time.sleep


class MalformedRecord(ValueError):
    """A record that is not metric stream JSON."""


class RetryableDeliveryError(RuntimeError):
    """The workspace could not take a batch now (throttled, server error, network); Firehose retries it."""


class ConfigurationError(RuntimeError):
    """The function's environment is wrong."""


@dataclass(frozen=True)
class Settings:
    remote_write_url: str
    region: str
    prefixes: dict[str, str]
    metrics_namespace: str
    service_name: str
    max_samples: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        url = env.get("REMOTE_WRITE_URL", "")
        if not url.startswith("https://"):
            raise ConfigurationError("REMOTE_WRITE_URL must be the workspace's https://.../api/v1/remote_write URL.")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        if not region:
            raise ConfigurationError("AWS_REGION is not set, so requests cannot be signed.")
        try:
            prefixes = json.loads(env.get("NAMESPACE_PREFIXES") or "{}")
        except json.JSONDecodeError:
            prefixes = None
        if not isinstance(prefixes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in prefixes.items()
        ):
            raise ConfigurationError("NAMESPACE_PREFIXES must be a JSON object of namespace -> prefix strings.")
        try:
            max_samples = int(env.get("MAX_SAMPLES_PER_REQUEST") or DEFAULT_MAX_SAMPLES)
        except ValueError:
            max_samples = 0
        if max_samples < 1:
            raise ConfigurationError("MAX_SAMPLES_PER_REQUEST must be a whole number above 0.")
        return cls(
            remote_write_url=url,
            region=region,
            prefixes=prefixes,
            metrics_namespace=env.get("METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
            service_name=env.get("SERVICE_NAME") or DEFAULT_SERVICE_NAME,
            max_samples=max_samples,
        )


@dataclass
class Counters:
    samples_written: int = 0
    records_delivered: int = 0
    records_malformed: int = 0
    records_rejected: int = 0
    throttled: int = 0
    retries: int = 0


@dataclass
class Record:
    """One Firehose record and the samples parsed from it."""

    record_id: str
    data: str
    samples: list[tuple[tuple[tuple[str, str], ...], int, float]] = field(default_factory=list)
    result: str | None = None


# --- Parsing ----------------------------------------------------------------------------------------------------------


def parse_line(item: Any, prefixes: Mapping[str, str]) -> list[tuple[tuple[tuple[str, str], ...], int, float]]:
    """The samples of one metric stream JSON object: one per statistic, as (sorted labels, timestamp ms, value)."""
    if not isinstance(item, dict):
        raise MalformedRecord("a line is not a JSON object")
    namespace, metric_name, value = item.get("namespace"), item.get("metric_name"), item.get("value")
    timestamp = item.get("timestamp")
    dimensions = item.get("dimensions") or {}
    if not isinstance(namespace, str) or not namespace or not isinstance(metric_name, str) or not metric_name:
        raise MalformedRecord("namespace and metric_name must be non-empty strings")
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, (int, float))
        or not MIN_TIMESTAMP_MS <= timestamp <= MAX_TIMESTAMP_MS  # False for NaN; no float() of a huge int
    ):
        raise MalformedRecord("timestamp must be a number of milliseconds in the int64 range")
    if not isinstance(value, dict) or not value:
        raise MalformedRecord("value must be an object of statistics")
    if not isinstance(dimensions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in dimensions.items()
    ):
        raise MalformedRecord("dimensions must be an object of strings")
    labels: dict[str, str] = {
        metric_naming.LABEL_NAMESPACE: namespace,
        metric_naming.LABEL_REGION: str(item.get("region") or ""),
        metric_naming.LABEL_ACCOUNT_ID: str(item.get("account_id") or ""),
    }
    present = {dimension: dimension_value for dimension, dimension_value in dimensions.items() if dimension_value}
    for dimension, label in metric_naming.dimension_labels(present).items():
        labels[label] = present[dimension]
    base = tuple(sorted((k, v) for k, v in labels.items() if v))
    for label_value in labels.values():
        label_value.encode()  # UnicodeEncodeError (a lone surrogate) here, for this record, not in the batch
    prefix = metric_naming.namespace_prefix(namespace, prefixes)
    samples = []
    for statistic, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise MalformedRecord(f"statistic {statistic!r} is not a number")
        name = metric_naming.series_name(prefix, metric_name, str(statistic))
        try:
            sample_value = float(number)
        except OverflowError:
            raise MalformedRecord(f"statistic {statistic!r} is beyond the range of a double") from None
        samples.append((tuple(sorted((*base, ("__name__", name)))), int(timestamp), sample_value))
    return samples


def parse_record(raw: Any, prefixes: Mapping[str, str]) -> Record:
    """A Firehose record with its samples; ``result`` is ProcessingFailed if it is malformed."""
    record_id = raw.get("recordId") if isinstance(raw, dict) else None
    data = raw.get("data") if isinstance(raw, dict) else None
    # Firehose always sends a string id; anything else (even a 5,000-digit number) is answered as "".
    record = Record(
        record_id=record_id if isinstance(record_id, str) else "", data=data if isinstance(data, str) else ""
    )
    try:
        if not isinstance(record_id, str) or not isinstance(data, str):
            raise MalformedRecord("recordId and data are required")
        text = base64.b64decode(data, validate=True).decode("utf-8")
        for line in text.splitlines():
            if line.strip():
                record.samples.extend(parse_line(json.loads(line), prefixes))
        if not record.samples:
            raise MalformedRecord("no metric in the record")
    # ValueError covers binascii.Error, Unicode errors, JSON errors and integers over Python's digit limit;
    # RecursionError a deeply nested line.
    except (ValueError, RecursionError) as exc:
        logger.warning("malformed record", extra={"record_id": record.record_id, "error": str(exc)[:200]})
        record.samples = []
        record.result = RESULT_FAILED
    return record


def batches(records: list[Record], max_samples: int) -> Iterable[list[Record]]:
    """Records grouped so each group has at most ``max_samples`` samples (a bigger record forms its own group)."""
    batch: list[Record] = []
    count = 0
    for record in records:
        if batch and count + len(record.samples) > max_samples:
            yield batch
            batch, count = [], 0
        batch.append(record)
        count += len(record.samples)
    if batch:
        yield batch


def write_request(records: Iterable[Record]) -> tuple[bytes, int]:
    """The snappy-compressed WriteRequest of the records' samples (series sorted, samples by time), and its size."""
    series: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for record in records:
        for labels, timestamp, value in record.samples:
            series.setdefault(labels, {})[timestamp] = value
    payload = remote_write.encode_write_request(
        (labels, sorted(points.items())) for labels, points in sorted(series.items())
    )
    return remote_write.snappy_compress(payload), sum(len(points) for points in series.values())


# --- Delivery ---------------------------------------------------------------------------------------------------------


def _signed_request(settings: Settings, body: bytes) -> urllib.request.Request:
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
        "User-Agent": USER_AGENT,
    }
    try:
        return sigv4.signed_request(
            "POST", settings.remote_write_url, body, headers=headers, service="aps", region=settings.region
        )
    except sigv4.NoCredentials:
        raise ConfigurationError("No AWS credentials are available to sign remote-write requests.") from None


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S) if value is not None else None
    except ValueError:
        return None


def send(settings: Settings, body: bytes, context: LambdaContext, counters: Counters) -> int | None:
    """POST one remote-write body. None when accepted; the status of a permanent (4xx) rejection otherwise.

    :raises RetryableDeliveryError: still throttled / failing after the retries the remaining time allows.
    """
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
        try:
            with urllib.request.urlopen(_signed_request(settings, body), timeout=HTTP_TIMEOUT_S) as response:
                status = getattr(response, "status", 200)
                if 200 <= status < 300:
                    return None
                raise RetryableDeliveryError(f"unexpected HTTP {status}")
        except urllib.error.HTTPError as exc:
            detail = sigv4.error_body(exc, MAX_ERROR_BODY_CHARS)
            if exc.code == 429:
                counters.throttled += 1
                wait = _retry_after(exc)
            elif exc.code >= 500:
                wait = None
            else:
                logger.error("remote write rejected", extra={"status": exc.code, "detail": detail})
                return exc.code
            error = f"HTTP {exc.code}"
        except (OSError, HTTPException) as exc:  # URLError, timeouts, connection resets
            detail, wait, error = "", None, type(exc).__name__
        if delay is None:
            raise RetryableDeliveryError(f"remote write failed after {attempt} attempts ({error})")
        wait = delay if wait is None else max(wait, delay)
        if context.get_remaining_time_in_millis() - wait * 1000 - HTTP_TIMEOUT_S * 1000 < RESERVE_MS:
            raise RetryableDeliveryError(f"remote write failed ({error}) and no time is left to retry")
        logger.warning(
            "remote write failed, retrying",
            extra={"error": error, "attempt": attempt, "delay_s": wait, "detail": detail},
        )
        counters.retries += 1
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# --- Metrics and entry point ------------------------------------------------------------------------------------------


def emit_metrics(settings: Settings, counters: Counters) -> None:
    """Print one EMF blob with the invocation's counters (all of them, zeros included)."""
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace, service=settings.service_name)
    for name, value in (
        ("SamplesWritten", counters.samples_written),
        ("RecordsDelivered", counters.records_delivered),
        ("RecordsMalformed", counters.records_malformed),
        ("RecordsRejected", counters.records_rejected),
        ("RecordsFailed", counters.records_malformed + counters.records_rejected),
        ("RemoteWriteThrottled", counters.throttled),
        ("RemoteWriteRetries", counters.retries),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    """Firehose data-transformation entry point."""
    settings = Settings.from_env(os.environ)
    raw_records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(raw_records, list):
        raise TypeError("The event is not a Firehose transformation request (no records list).")
    records = [parse_record(raw, settings.prefixes) for raw in raw_records]
    counters = Counters(records_malformed=sum(1 for r in records if r.result == RESULT_FAILED))
    try:
        for batch in batches([r for r in records if r.result is None], settings.max_samples):
            if context.get_remaining_time_in_millis() < HTTP_TIMEOUT_S * 1000 + RESERVE_MS:
                raise RetryableDeliveryError("no time is left to start the next remote-write request")
            body, samples = write_request(batch)
            status = send(settings, body, context, counters)
            if status is None:
                counters.samples_written += samples
                counters.records_delivered += len(batch)
                result = RESULT_DROPPED
            else:
                counters.records_rejected += len(batch)
                result = RESULT_FAILED
            for record in batch:
                record.result = result
    except RetryableDeliveryError as exc:
        logger.error("delivery failed, Firehose will retry the batch", extra={"error": str(exc)})
        raise
    finally:
        emit_metrics(settings, counters)
    logger.info(
        "records processed",
        extra={
            "records": len(records),
            "delivered": counters.records_delivered,
            "malformed": counters.records_malformed,
            "rejected": counters.records_rejected,
            "samples": counters.samples_written,
        },
    )
    return KinesisFirehoseDataTransformationResponse(
        [KinesisFirehoseDataTransformationRecord(r.record_id, r.result or RESULT_FAILED, r.data) for r in records]
    ).asdict()
