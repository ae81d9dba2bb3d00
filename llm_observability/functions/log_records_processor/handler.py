"""Firehose transformation Lambda: CloudWatch Logs subscription records -> one OpenSearch document per log event.

Why a function: CloudWatch Logs packs many log events into one gzip-compressed Firehose record, and an
OpenSearch destination indexes each record as one document, so Firehose's built-in decompression and
message extraction cannot feed OpenSearch (the Firehose documentation says so). This processor splits
records the way AWS's CloudWatch Logs processor blueprint does:

- a CloudWatch Logs ``DATA_MESSAGE`` record (gzip) becomes the document of its first log event (result
  ``Ok``); the documents of its other events are put back into the same delivery stream
  (``PutRecordBatch``), where they arrive as plain JSON records;
- a plain JSON object record (one re-ingested document) passes through unchanged (``Ok``);
- a ``CONTROL_MESSAGE`` (CloudWatch Logs' reachability check) is ``Dropped``;
- anything else (bad base64, gzip or JSON, JSON nested too deep or with too large a number, any unexpected
  error while processing it) is ``ProcessingFailed``: Firehose keeps it, unchanged, under
  ``processing-failed/`` in the backup bucket. A failure never leaves its record: the others of the batch
  are answered as usual.

Document
    The event's message parsed as JSON when it is a JSON object (Powertools and Lambda JSON log records),
    else ``{"message": <text>}``; plus ``@timestamp`` (the event time, ISO 8601 UTC, unless the record
    has one) and ``cloudwatch`` (``log_group``, ``log_stream``, ``event_id``, ``owner``). A message the JSON
    parser refuses (nested too deep, a number too long) is kept as text. The document is UTF-8; a character
    UTF-8 cannot hold (a lone surrogate) is written as its JSON ``\\uXXXX`` escape. A document larger than
    Firehose's record limit (1,024,000 bytes) keeps only the longest start of the message whose JSON text is
    at most 256 KiB (bytes, and at most 256 Ki characters) (``truncated: true``).

Response
    The response stays under Lambda's 6 MB synchronous limit: a record whose answer would push it over is
    answered ``ProcessingFailed`` with its original data (room for those is reserved from the start), its
    other events are not re-ingested, and a warning names it and the reason. Firehose backs it up whole.

Faults
    Records that ``PutRecordBatch`` reports as failed, and throttling or service errors, are retried
    with backoff while the invocation has time; after that the function raises, so Firehose retries the
    whole batch (and, after its retries, backs the original records up to S3). Delivery is at least once:
    a retry can index some events twice.

Own metrics (CloudWatch EMF written by Powertools Metrics, namespace ``METRICS_NAMESPACE``, dimension ``service``)
    ``LogEventsReceived``, ``DocumentsReingested``, ``RecordsMalformed``, ``ReingestRetries``, ``DocumentsTruncated``.

Environment
    ``METRICS_NAMESPACE``: default ``LLMObservability/LogAnalytics``. ``SERVICE_NAME`` (the ``service`` of the
    metrics and log records): default ``log-analytics``. boto3 reads the usual variables (``AWS_REGION``,
    ``AWS_ENDPOINT_URL_FIREHOSE``, ...).

Imports the standard library, boto3 and the Powertools layer (Logger, Metrics, the Firehose and CloudWatch
Logs event classes). Test seams: ``set_client()`` injects a Firehose client, ``sleep`` is the backoff sleeper.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationResponse,
    KinesisFirehoseEvent,
)
from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import (
    CloudWatchLogsDecodedData,
    CloudWatchLogsLogEvent,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event import KinesisFirehoseRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

RESULT_OK: Final = "Ok"
RESULT_DROPPED: Final = "Dropped"
RESULT_FAILED: Final = "ProcessingFailed"

GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_BATCH_RECORDS: Final = 500
MAX_BATCH_BYTES: Final = 4 * 1024 * 1024
MAX_RECORD_BYTES: Final = 1_000 * 1024
TRUNCATED_MESSAGE_CHARS: Final = 256 * 1024
TRUNCATED_MESSAGE_BYTES: Final = 256 * 1024
MAX_RESPONSE_BYTES: Final = 6_000_000
#: What one CloudWatch Logs subscription payload may inflate to: a PutLogEvents batch is at most 1 MiB (plus 26 bytes
#: per event), so 8 MiB leaves room for the envelope and refuses only bombs.
MAX_DECOMPRESSED_BYTES: Final = 8 * 1024 * 1024
RETRY_DELAYS_S: Final = (0.5, 1.0, 2.0, 4.0, 8.0)
RETRYABLE_CODES: Final = frozenset(
    {"ServiceUnavailableException", "ThrottlingException", "LimitExceededException", "InternalFailure"}
)
RESERVE_MS: Final = 10_000
DEFAULT_METRICS_NAMESPACE: Final = "LLMObservability/LogAnalytics"
DEFAULT_SERVICE_NAME: Final = "log-analytics"

CLIENT_CONFIG: Final = Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 3})

logger = Logger(service=os.getenv("SERVICE_NAME") or DEFAULT_SERVICE_NAME)

sleep: Callable[[float], None] = time.sleep
_client: Any = None


class MalformedRecord(ValueError):
    """A record that is neither a CloudWatch Logs subscription payload nor a JSON document."""


class ReingestFailed(RuntimeError):
    """Documents could not be put back into the stream; Firehose retries the batch."""


@dataclass
class Counters:
    events: int = 0
    reingested: int = 0
    malformed: int = 0
    retries: int = 0
    truncated: int = 0


def set_client(client: Any) -> None:
    """Use ``client`` for Firehose calls (tests); None makes the next call create a fresh one."""
    global _client
    _client = client


def firehose_client() -> Any:
    global _client
    if _client is None:
        _client = boto3.client("firehose", config=CLIENT_CONFIG)
    return _client


def _iso(timestamp_ms: Any) -> str | None:
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, (int, float)):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _encode(value: Any) -> bytes:
    """Compact UTF-8 JSON; a character UTF-8 cannot hold (a lone surrogate) becomes its ``\\uXXXX`` JSON escape."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "backslashreplace")


def _message_prefix(message: str) -> str:
    """The longest start of ``message``, at most ``TRUNCATED_MESSAGE_CHARS`` long, whose JSON text (without its
    quotes) is at most ``TRUNCATED_MESSAGE_BYTES`` long."""
    low, high = 0, min(len(message), TRUNCATED_MESSAGE_CHARS)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_encode(message[:middle])) - 2 <= TRUNCATED_MESSAGE_BYTES:
            low = middle
        else:
            high = middle - 1
    return message[:low]


def document(
    event: CloudWatchLogsLogEvent, *, log_group: str, log_stream: str, owner: str, counters: Counters
) -> bytes:
    """The JSON document of one CloudWatch Logs event."""
    if not isinstance(event.raw_event, dict) or not isinstance(event.get("message"), str):
        raise MalformedRecord("a log event has no message")
    message = event.message
    parsed: Any = None
    if message.lstrip().startswith("{"):
        try:
            parsed = json.loads(message)
        except (ValueError, RecursionError):  # not JSON, a number too long, nested too deep: kept as text
            parsed = None
    doc: dict[str, Any] = dict(parsed) if isinstance(parsed, dict) else {"message": message}
    timestamp = _iso(event.get("timestamp"))
    if timestamp and "@timestamp" not in doc:
        doc["@timestamp"] = timestamp
    doc["cloudwatch"] = {
        "log_group": log_group,
        "log_stream": log_stream,
        "event_id": str(event.get("id", "")),
        "owner": owner,
    }
    try:
        encoded = _encode(doc)
    except (ValueError, RecursionError):  # a parsed value the encoder refuses: keep the message as text
        encoded = _encode({"message": message, **{k: v for k, v in doc.items() if k in ("@timestamp", "cloudwatch")}})
    if len(encoded) > MAX_RECORD_BYTES:
        counters.truncated += 1
        short = {
            "message": _message_prefix(message),
            "truncated": True,
            "cloudwatch": doc["cloudwatch"],
            **({"@timestamp": timestamp} if timestamp else {}),
        }
        encoded = _encode(short)
        if len(encoded) > MAX_RECORD_BYTES:
            raise MalformedRecord("a log event's metadata alone exceeds the record size limit")
    return encoded


def gunzip_bounded(payload: bytes, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """``payload`` decompressed (gzip or zlib), at most ``limit`` bytes: a decompression bomb (a 1 MB record that
    inflates to gigabytes) fails its own record instead of the function's memory and so the whole batch.

    :raises MalformedRecord: the payload inflates past ``limit``.
    :raises zlib.error: it is not compressed data.
    """
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
    data = inflater.decompress(payload, limit + 1)
    if len(data) > limit or inflater.unconsumed_tail:
        raise MalformedRecord(f"the payload inflates past {limit:,} bytes")
    return data


def split_record(data: str, counters: Counters) -> list[bytes] | None:
    """The documents of a CloudWatch Logs subscription payload (base64 of gzip); None for a control message."""
    try:
        inflated = gunzip_bounded(base64.b64decode(data))
        message = CloudWatchLogsDecodedData(json.loads(inflated.decode("utf-8")))
    except MalformedRecord:
        raise
    except (zlib.error, ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON, a number too long
        raise MalformedRecord(f"not a gzip-compressed JSON payload ({type(exc).__name__})") from None
    if not isinstance(message.raw_event, dict):
        raise MalformedRecord("the payload is not a JSON object")
    kind = message.get("messageType")
    if kind == "CONTROL_MESSAGE":
        return None
    if kind != "DATA_MESSAGE" or not isinstance(message.get("logEvents"), list):
        raise MalformedRecord(f"unexpected messageType {kind!r}")
    events = message.log_events
    counters.events += len(events)
    context = {
        "log_group": str(message.get("logGroup", "")),
        "log_stream": str(message.get("logStream", "")),
        "owner": str(message.get("owner", "")),
    }
    return [document(event, counters=counters, **context) for event in events]


def process_record(raw: Any, counters: Counters) -> tuple[KinesisFirehoseDataTransformationRecord, list[bytes]]:
    """The Firehose answer for one record (failed ones keep their original data), and the documents to re-ingest."""
    record = KinesisFirehoseRecord(raw if isinstance(raw, dict) else {})
    record_id, data = record.get("recordId"), record.get("data")
    answer = KinesisFirehoseDataTransformationRecord(
        record_id=str(record_id), result=RESULT_FAILED, data=data if isinstance(data, str) else ""
    )
    try:
        if not isinstance(record_id, str) or not isinstance(data, str):
            raise MalformedRecord("recordId and data are required")
        try:
            payload = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise MalformedRecord("data is not base64") from None
        if payload[:2] == GZIP_MAGIC:
            documents = split_record(data, counters)
            if not documents:
                answer.result = RESULT_DROPPED
                return answer, []
            answer.result, answer.data = RESULT_OK, base64.b64encode(documents[0]).decode()
            return answer, documents[1:]
        try:
            parsed = json.loads(payload)
        except (ValueError, RecursionError):
            raise MalformedRecord("a plain record is not JSON (or nested too deep, or a number too long)") from None
        if not isinstance(parsed, dict):
            raise MalformedRecord("a plain record is not a JSON object")
        answer.result = RESULT_OK
        return answer, []
    except MalformedRecord as exc:
        counters.malformed += 1
        logger.warning("malformed record", extra={"record_id": answer.record_id, "error": str(exc)})
        return _failed(raw), []
    except Exception as exc:  # noqa: BLE001 - any other failure stays with its record; Firehose backs it up
        counters.malformed += 1
        logger.warning("record failed", extra={"record_id": answer.record_id, "error": type(exc).__name__})
        return _failed(raw), []


def _failed(raw: Any) -> KinesisFirehoseDataTransformationRecord:
    """``ProcessingFailed`` for ``raw``, with its original data."""
    record_id, data = (raw.get("recordId"), raw.get("data")) if isinstance(raw, dict) else (None, None)
    return KinesisFirehoseDataTransformationRecord(
        record_id=str(record_id), result=RESULT_FAILED, data=data if isinstance(data, str) else ""
    )


def _answer_bytes(answer: KinesisFirehoseDataTransformationRecord) -> int:
    """What ``answer`` adds to the serialized response (its JSON object and a separator)."""
    return len(json.dumps(answer.asdict()).encode()) + 2


def fit_response(
    raws: list[Any], results: list[tuple[KinesisFirehoseDataTransformationRecord, list[bytes]]]
) -> list[tuple[KinesisFirehoseDataTransformationRecord, list[bytes]]]:
    """``results`` with every answer that would take the response over ``MAX_RESPONSE_BYTES`` failed.

    Room for every record's failed answer (its original data) is reserved first; an answer larger than that
    is kept while the response still fits, else replaced by the failed answer and its documents are not
    re-ingested (Firehose backs the original record up whole).
    """
    failed = [_failed(raw) for raw in raws]
    used = 32 + sum(_answer_bytes(answer) for answer in failed)
    fitted = []
    for raw_failed, (answer, more) in zip(failed, results, strict=True):
        extra = _answer_bytes(answer) - _answer_bytes(raw_failed)
        if used + extra <= MAX_RESPONSE_BYTES:
            used += extra
            fitted.append((answer, more))
            continue
        logger.warning(
            "record failed: its answer would take the response over the response size limit",
            extra={"record_id": raw_failed.record_id, "limit_bytes": MAX_RESPONSE_BYTES},
        )
        fitted.append((raw_failed, []))
    return fitted


def chunks(documents: list[bytes]) -> Iterator[list[bytes]]:
    """``PutRecordBatch``-sized groups (at most 500 records and 4 MiB each)."""
    batch: list[bytes] = []
    size = 0
    for doc in documents:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + len(doc) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(doc)
        size += len(doc)
    if batch:
        yield batch


def reingest(stream_name: str, documents: Iterable[bytes], context: LambdaContext, counters: Counters) -> None:
    """Put ``documents`` into the stream, retrying what fails while time allows.

    :raises ReingestFailed: some documents could still not be put.
    """
    client = firehose_client()
    for batch in chunks(list(documents)):
        pending = batch
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            error = ""
            try:
                response = client.put_record_batch(
                    DeliveryStreamName=stream_name, Records=[{"Data": doc} for doc in pending]
                )
                failed = [doc for doc, result in zip(pending, response["RequestResponses"]) if result.get("ErrorCode")]
                counters.reingested += len(pending) - len(failed)
                if not failed:
                    break
                codes = sorted({r.get("ErrorCode") for r in response["RequestResponses"] if r.get("ErrorCode")})
                error = f"{len(failed)} records failed ({', '.join(codes)})"
                pending = failed
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_CODES:
                    raise ReingestFailed(f"PutRecordBatch failed with {code}") from None
                error = code
            except BotoCoreError as exc:
                error = type(exc).__name__
            if delay is None or context.get_remaining_time_in_millis() - delay * 1000 < RESERVE_MS:
                raise ReingestFailed(f"PutRecordBatch still failing after {attempt} attempts: {error}")
            logger.warning(
                "re-ingestion incomplete, retrying", extra={"error": error, "attempt": attempt, "delay_s": delay}
            )
            counters.retries += 1
            sleep(delay)


def emit_metrics(counters: Counters) -> None:
    """Print one EMF blob with the invocation's counters (all of them, zeros included)."""
    metrics = EphemeralMetrics(
        namespace=os.environ.get("METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
        service=os.environ.get("SERVICE_NAME") or DEFAULT_SERVICE_NAME,
    )
    for name, value in (
        ("LogEventsReceived", counters.events),
        ("DocumentsReingested", counters.reingested),
        ("RecordsMalformed", counters.malformed),
        ("ReingestRetries", counters.retries),
        ("DocumentsTruncated", counters.truncated),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    """Firehose data-transformation entry point."""
    records = event.get("records") if isinstance(event, dict) else None
    stream_arn = event.get("deliveryStreamArn") if isinstance(event, dict) else None
    if not isinstance(records, list) or not isinstance(stream_arn, str) or "/" not in stream_arn:
        raise ValueError("The event is not a Firehose transformation request (records, deliveryStreamArn).")
    request = KinesisFirehoseEvent(event)
    stream_name = request.delivery_stream_arn.split("/", 1)[1]
    counters = Counters()
    response = KinesisFirehoseDataTransformationResponse()
    extra: list[bytes] = []
    for answer, more in fit_response(records, [process_record(raw, counters) for raw in records]):
        response.add_record(answer)
        extra.extend(more)
    try:
        if extra:
            reingest(stream_name, extra, context, counters)
    except ReingestFailed as exc:
        logger.error("re-ingestion failed, Firehose will retry the batch", extra={"error": str(exc)})
        raise
    finally:
        emit_metrics(counters)
    logger.info(
        "records processed",
        extra={
            "records": len(records),
            "events": counters.events,
            "reingested": counters.reingested,
            "malformed": counters.malformed,
        },
    )
    return response.asdict()
