"""CloudWatch Logs -> OpenSearch Firehose processor (functions/log_records_processor): splitting and faults.

The handler is loaded under a unique module name. ``PutRecordBatch`` goes to a real boto3 Firehose
client wrapped in ``botocore.stub.Stubber`` (requests and responses are validated against the
service model); time is a fake clock shared by the Lambda context and the handler's ``sleep``.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import CloudWatchLogsLogEvent
from botocore.stub import ANY, Stubber
from hypothesis import given, settings, strategies as st

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import FakeClock
from tests.support.loader import load_file

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "log_records_processor"
STREAM = "logs-stream"
STREAM_ARN = f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{STREAM}"
T0 = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z


handler = load_file("log_records_processor_handler", FUNCTION_DIR / "handler.py")

POWERTOOLS_LINE = {
    "level": "INFO",
    "location": "_ask:320",
    "message": "ask",
    "timestamp": "2026-01-01 00:00:00,120+0000",
    "service": "rag-api",
    "correlation_id": "req-1",
    "model_id": "amazon.nova-lite-v1:0",
    "prompt": {"template_version": "v1"},
    "usage": {"input_tokens": 1200, "output_tokens": 80, "total_tokens": 1280},
    "latency_ms": {"end_to_end": 912.5, "stages": {"Retrieval": 120.0}},
}


def cwl_payload(*messages: str, message_type: str = "DATA_MESSAGE") -> bytes:
    return gzip.compress(
        json.dumps(
            {
                "messageType": message_type,
                "owner": "123456789012",
                "logGroup": "/aws/lambda/rag-api",
                "logStream": "2026/01/01/[$LATEST]abc",
                "subscriptionFilters": ["llm-logs"],
                "logEvents": [{"id": f"e{i}", "timestamp": T0 + i, "message": m} for i, m in enumerate(messages)],
            }
        ).encode()
    )


def record(payload: bytes, record_id: str = "r1") -> dict[str, str]:
    return {"recordId": record_id, "approximateArrivalTimestamp": T0, "data": base64.b64encode(payload).decode()}


def event(*records: dict[str, str]) -> dict[str, Any]:
    return {"invocationId": "i", "deliveryStreamArn": STREAM_ARN, "region": "us-east-1", "records": list(records)}


def doc(answer: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(answer["data"]))


@dataclass
class Harness:
    stubber: Stubber
    clock: FakeClock
    capsys: pytest.CaptureFixture[str]

    def invoke(self, *records: dict[str, str]) -> dict[str, Any]:
        return handler.lambda_handler(event(*records), self.clock)

    def expect_put(self, count: int, failed: dict[int, str] | None = None) -> None:
        failed = failed or {}
        responses = [
            {"ErrorCode": failed[i], "ErrorMessage": "slow down"} if i in failed else {"RecordId": f"id{i}"}
            for i in range(count)
        ]
        self.stubber.add_response(
            "put_record_batch",
            {"FailedPutCount": len(failed), "Encrypted": True, "RequestResponses": responses},
            {"DeliveryStreamName": STREAM, "Records": ANY},
        )

    def metrics(self) -> dict[str, float]:
        """The invocation's one EMF blob: namespace, dimension and units checked, one value per metric."""
        (line,) = [json.loads(x) for x in self.capsys.readouterr().out.splitlines() if '"_aws"' in x]
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "LLMObservability/LogAnalytics"
        assert directive["Dimensions"] == [["service"]] and line["service"] == "log-analytics"
        assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}
        values = {m["Name"]: line[m["Name"]] for m in directive["Metrics"]}
        assert all(len(value) == 1 for value in values.values()), values
        return {name: value[0] for name, value in values.items()}


@pytest.fixture
def processor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Harness]:
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("METRICS_NAMESPACE", "SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("firehose", region_name="us-east-1")
    clock = FakeClock(120_000)
    monkeypatch.setattr(handler, "sleep", clock.sleep)
    handler.set_client(client)
    with Stubber(client) as stubber:
        yield Harness(stubber, clock, capsys)
        stubber.assert_no_pending_responses()
    handler.set_client(None)


def test_each_log_event_becomes_one_document(processor: Harness) -> None:
    processor.expect_put(2)
    put_calls: list[dict[str, Any]] = []
    processor.stubber.client.meta.events.register(
        "provide-client-params.firehose.PutRecordBatch", lambda params, **_: put_calls.append(params)
    )
    payload = cwl_payload(
        json.dumps(POWERTOOLS_LINE), "START RequestId: abc Version: $LATEST", json.dumps({"level": "ERROR"})
    )
    result = processor.invoke(record(payload))

    (answer,) = result["records"]
    assert answer["result"] == "Ok"
    first = doc(answer)
    assert first["usage"]["total_tokens"] == 1280 and first["latency_ms"]["end_to_end"] == 912.5
    assert first["@timestamp"] == "2026-01-01T00:00:00.123Z"
    assert first["cloudwatch"] == {
        "log_group": "/aws/lambda/rag-api",
        "log_stream": "2026/01/01/[$LATEST]abc",
        "event_id": "e0",
        "owner": "123456789012",
    }
    (call,) = put_calls
    reingested = [json.loads(r["Data"]) for r in call["Records"]]
    assert reingested[0]["message"] == "START RequestId: abc Version: $LATEST"  # plain text kept as message
    assert reingested[0]["@timestamp"] == "2026-01-01T00:00:00.124Z"
    assert reingested[1]["level"] == "ERROR" and reingested[1]["cloudwatch"]["event_id"] == "e2"
    assert processor.metrics() == {
        "LogEventsReceived": 3,
        "DocumentsReingested": 2,
        "RecordsMalformed": 0,
        "ReingestRetries": 0,
        "DocumentsTruncated": 0,
    }


def test_reingested_documents_pass_through_unchanged(processor: Harness) -> None:
    plain = json.dumps({"message": "hello", "@timestamp": "2026-01-01T00:00:00.000Z"}).encode()
    result = processor.invoke(record(plain))
    assert result["records"] == [{"recordId": "r1", "result": "Ok", "data": base64.b64encode(plain).decode()}]


def test_control_messages_are_dropped(processor: Harness) -> None:
    result = processor.invoke(record(cwl_payload("CWL CONTROL MESSAGE", message_type="CONTROL_MESSAGE")))
    assert result["records"][0]["result"] == "Dropped"


def test_malformed_records_are_failed_with_their_original_data(processor: Harness) -> None:
    bad = [
        {"recordId": "b64", "data": "!!!"},
        record(b"\x1f\x8bnot really gzip", "gzip"),
        record(gzip.compress(b"[1, 2]"), "not-object"),
        record(gzip.compress(json.dumps({"messageType": "OTHER"}).encode()), "type"),
        record(b"plain text", "text"),
        record(b"[]", "array"),
    ]
    result = processor.invoke(*bad)
    assert [r["result"] for r in result["records"]] == ["ProcessingFailed"] * len(bad)
    assert [r["data"] for r in result["records"]] == [b["data"] for b in bad]
    assert processor.metrics()["RecordsMalformed"] == len(bad)


def test_a_decompression_bomb_fails_only_its_own_record(processor: Harness) -> None:
    """A record inflating past 8 MiB (here 64 MiB of zeros in about 65 KB of gzip) is ProcessingFailed with its data;
    the well-formed record of the same batch is processed (before the limit, it exhausted the function's memory)."""
    bomb = record(gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9), "bomb")
    good = record(cwl_payload(json.dumps(POWERTOOLS_LINE)), "good")
    result = processor.invoke(bomb, good)
    by_id = {r["recordId"]: r for r in result["records"]}
    assert by_id["bomb"]["result"] == "ProcessingFailed" and by_id["bomb"]["data"] == bomb["data"]
    assert by_id["good"]["result"] == "Ok"


def test_the_bounded_gunzip_keeps_the_payloads_cloudwatch_logs_sends() -> None:
    one_mib = gzip.compress(b"x" * (1024 * 1024))  # the largest PutLogEvents batch
    assert len(handler.gunzip_bounded(one_mib)) == 1024 * 1024
    with pytest.raises(handler.MalformedRecord, match="inflates past 1,000 bytes"):
        handler.gunzip_bounded(gzip.compress(b"y" * 1001), limit=1000)


def test_partial_put_failures_are_retried(processor: Harness) -> None:
    processor.expect_put(3, failed={1: "ServiceUnavailableException"})
    processor.expect_put(1)
    result = processor.invoke(record(cwl_payload(*(json.dumps({"n": i}) for i in range(4)))))
    assert result["records"][0]["result"] == "Ok"
    assert processor.clock.sleeps == [0.5]
    metrics = processor.metrics()
    assert (metrics["DocumentsReingested"], metrics["ReingestRetries"]) == (3, 1)


def test_throttling_is_retried_then_raises_so_firehose_retries(processor: Harness) -> None:
    for _ in range(len(handler.RETRY_DELAYS_S) + 1):
        processor.stubber.add_client_error("put_record_batch", "ServiceUnavailableException", http_status_code=503)
    with pytest.raises(handler.ReingestFailed, match="ServiceUnavailableException"):
        processor.invoke(record(cwl_payload("a", "b")))
    assert processor.clock.sleeps == list(handler.RETRY_DELAYS_S)
    assert processor.metrics()["ReingestRetries"] == len(handler.RETRY_DELAYS_S)


def test_permanent_errors_raise_at_once(processor: Harness) -> None:
    processor.stubber.add_client_error("put_record_batch", "AccessDeniedException", http_status_code=400)
    with pytest.raises(handler.ReingestFailed, match="AccessDeniedException"):
        processor.invoke(record(cwl_payload("a", "b")))
    assert processor.clock.sleeps == []


def test_no_retry_without_time_left(processor: Harness) -> None:
    processor.clock.remaining_ms = 10_200
    processor.stubber.add_client_error("put_record_batch", "ThrottlingException", http_status_code=400)
    with pytest.raises(handler.ReingestFailed, match="after 1 attempts"):
        processor.invoke(record(cwl_payload("a", "b")))


def test_batches_stay_within_put_record_batch_limits() -> None:
    docs = [b"x" * 10] * 1001
    assert [len(b) for b in handler.chunks(docs)] == [500, 500, 1]
    big = [b"y" * (3 * 1024 * 1024), b"z" * (2 * 1024 * 1024), b"w"]
    assert [len(b) for b in handler.chunks(big)] == [1, 2]


def test_oversized_events_are_truncated() -> None:
    counters = handler.Counters()
    encoded = handler.document(
        CloudWatchLogsLogEvent({"id": "1", "timestamp": T0, "message": "x" * (1_100 * 1024)}),
        log_group="g", log_stream="s", owner="o", counters=counters,
    )  # fmt: skip
    parsed = json.loads(encoded)
    assert parsed["truncated"] is True and len(parsed["message"]) == handler.TRUNCATED_MESSAGE_CHARS
    assert len(encoded) <= handler.MAX_RECORD_BYTES and counters.truncated == 1


def test_an_event_without_a_stream_arn_is_rejected(processor: Harness) -> None:
    with pytest.raises(ValueError, match="deliveryStreamArn"):
        handler.lambda_handler({"records": []}, processor.clock)


# Hardening (issue 15, items 1 and 2): one bad record never fails a batch; records and the response stay within
# Firehose's and Lambda's byte limits.

DEEP_JSON = '{"a":' * 100_000 + "1" + "}" * 100_000
HOSTILE_MESSAGES = {
    "json-surrogate-escape": '{"q": "\\ud800"}',
    "lone-surrogate": "text \ud800 here",
    "deep-json": DEEP_JSON,
    "huge-integer": '{"n": ' + "9" * 5_000 + "}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_MESSAGES))
def test_a_hostile_log_event_never_fails_the_batch(processor: Harness, name: str) -> None:
    good = record(cwl_payload(json.dumps({"level": "INFO"})), "good")
    result = processor.invoke(good, record(cwl_payload(HOSTILE_MESSAGES[name]), "bad"))
    assert [r["result"] for r in result["records"]] == ["Ok", "Ok"]
    assert doc(result["records"][0])["level"] == "INFO"
    hostile = base64.b64decode(result["records"][1]["data"]).decode("utf-8")  # strict: valid UTF-8 for OpenSearch
    parsed = json.loads(hostile)
    if name == "json-surrogate-escape":
        assert parsed["q"] == "\ud800"
    else:  # text, or JSON the parser refuses (too deep, too large a number), is kept as the message
        assert parsed["message"] == HOSTILE_MESSAGES[name]


def test_hostile_records_fail_alone_with_their_original_data(processor: Harness) -> None:
    bad = [
        record(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "deep-plain"),
        record(gzip.compress(b"[" * 100_000 + b"]" * 100_000), "deep-envelope"),
        record(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [], "n": ' + b"9" * 5_000 + b"}"), "int"),
        record(b'{"n": ' + b"9" * 5_000 + b"}", "int-plain"),
    ]
    good = record(json.dumps({"message": "fine"}).encode(), "good")
    result = processor.invoke(*bad, good)
    assert [r["result"] for r in result["records"]] == ["ProcessingFailed"] * len(bad) + ["Ok"]
    assert [r["data"] for r in result["records"]] == [b["data"] for b in bad] + [good["data"]]
    assert processor.metrics()["RecordsMalformed"] == len(bad)


def test_an_unexpected_error_fails_only_its_record(processor: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    real = handler.document

    def flaky(event: CloudWatchLogsLogEvent, **kwargs: Any) -> bytes:
        if event.message == "boom":
            raise RuntimeError("unexpected")
        return real(event, **kwargs)

    monkeypatch.setattr(handler, "document", flaky)
    bad = record(cwl_payload("boom"), "bad")
    result = processor.invoke(record(cwl_payload("fine"), "good"), bad)
    assert [r["result"] for r in result["records"]] == ["Ok", "ProcessingFailed"]
    assert result["records"][1]["data"] == bad["data"]


@pytest.mark.parametrize("char", ["\u00e9", "\U0001f600", "\x01", '"'], ids=["2-byte", "4-byte", "control", "quote"])
def test_truncation_counts_bytes_not_characters(char: str) -> None:
    message = char * 600_000
    counters = handler.Counters()
    encoded = handler.document(
        CloudWatchLogsLogEvent({"id": "1", "timestamp": T0, "message": message}),
        log_group="g", log_stream="s", owner="o", counters=counters,
    )  # fmt: skip
    assert len(encoded) <= handler.MAX_RECORD_BYTES and counters.truncated == 1
    parsed = json.loads(encoded.decode("utf-8"))
    assert parsed["truncated"] is True and message.startswith(parsed["message"]) and parsed["message"]
    assert len(json.dumps(parsed["message"], ensure_ascii=False).encode()) - 2 <= handler.TRUNCATED_MESSAGE_BYTES


def test_the_response_stays_under_lambdas_limit_and_nothing_is_dropped(
    processor: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    big = [record(cwl_payload("x" * 900_000, "small"), f"r{i}") for i in range(8)]  # 8 x 1.2 MB once base64-encoded
    processor.expect_put(4)
    result = processor.invoke(*big)
    assert len(json.dumps(result).encode()) <= handler.MAX_RESPONSE_BYTES < 6 * 1024 * 1024
    assert [r["recordId"] for r in result["records"]] == [b["recordId"] for b in big]
    assert [r["result"] for r in result["records"]] == ["Ok"] * 4 + ["ProcessingFailed"] * 4
    assert [r["data"] for r in result["records"][4:]] == [b["data"] for b in big[4:]]
    reasons = [r.getMessage() for r in caplog.records if "over the response size limit" in r.getMessage()]
    assert len(reasons) == 4
    assert processor.metrics()["DocumentsReingested"] == 4  # the failed records' other events are not re-ingested


# Property-based: nothing raises on hostile input, and one bad record never fails a batch.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)  # lone surrogates too
HOSTILE_TEXT = st.one_of(
    ANY_TEXT,
    ANY_TEXT.map(lambda s: json.dumps({"m": s})),
    st.integers(min_value=1, max_value=6_000).map(lambda n: '{"n":' + "7" * n + "}"),
    st.integers(min_value=500, max_value=100_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(list(HOSTILE_MESSAGES.values())),
)
RAW_RECORDS = st.one_of(
    st.lists(HOSTILE_TEXT, min_size=1, max_size=3).map(lambda messages: record(cwl_payload(*messages))),
    st.binary(max_size=64).map(record),
    st.binary(max_size=64).map(lambda b: record(gzip.compress(b))),
    st.dictionaries(st.sampled_from(["recordId", "data", "other"]), st.one_of(ANY_TEXT, st.integers())),
)


class AcceptingFirehose:
    """A Firehose client that accepts every ``PutRecordBatch`` and keeps what it was given."""

    def __init__(self) -> None:
        self.documents: list[bytes] = []

    def put_record_batch(self, **params: Any) -> dict[str, Any]:
        records: list[dict[str, bytes]] = params["Records"]
        self.documents.extend(r["Data"] for r in records)
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"} for _ in records]}


@settings(max_examples=150, deadline=None, database=None)
@given(raws=st.lists(RAW_RECORDS, min_size=1, max_size=4), position=st.integers(min_value=0, max_value=4))
def test_property_one_bad_record_never_fails_a_batch(raws: list[Any], position: int) -> None:
    good = record(cwl_payload(json.dumps(POWERTOOLS_LINE), "second"), "good")
    batch = [
        {**raw, "recordId": f"h{i}"} if isinstance(raw.get("recordId"), str) else raw
        for i, raw in enumerate(raws)
    ]
    batch.insert(min(position, len(batch)), good)
    client = AcceptingFirehose()
    handler.set_client(client)
    try:
        result = handler.lambda_handler(event(*batch), FakeClock(120_000))
    finally:
        handler.set_client(None)
    answers = result["records"]
    assert len(answers) == len(batch) and len(json.dumps(result).encode()) <= handler.MAX_RESPONSE_BYTES
    (good_answer,) = [a for a in answers if a["recordId"] == "good"]
    assert good_answer["result"] == "Ok" and doc(good_answer)["usage"]["total_tokens"] == 1280
    for raw, answer in zip(batch, answers, strict=True):
        assert answer["result"] in {"Ok", "Dropped", "ProcessingFailed"}
        if answer["result"] == "ProcessingFailed":
            assert answer["data"] == (raw.get("data") if isinstance(raw.get("data"), str) else "")
        elif answer["result"] == "Ok":
            data = base64.b64decode(answer["data"])
            assert len(data) <= handler.MAX_RECORD_BYTES and isinstance(json.loads(data.decode("utf-8")), dict)
    assert all(isinstance(json.loads(d.decode("utf-8")), dict) for d in client.documents)
    assert b'"message":"second"' in b"".join(client.documents)


LONG_TEXT = ANY_TEXT.filter(bool).map(lambda s: s * (1_100_000 // len(s) + 1))  # over the record limit once encoded


@settings(max_examples=150, deadline=None, database=None)
@given(
    message=st.one_of(HOSTILE_TEXT, LONG_TEXT),
    timestamp=st.one_of(st.integers(), st.floats(), st.text(max_size=5)),
)
def test_property_documents_never_raise_and_fit_a_record(message: str, timestamp: Any) -> None:
    encoded = handler.document(
        CloudWatchLogsLogEvent({"id": "1", "timestamp": timestamp, "message": message}),
        log_group="g", log_stream="s", owner="o", counters=handler.Counters(),
    )  # fmt: skip
    assert len(encoded) <= handler.MAX_RECORD_BYTES
    assert isinstance(json.loads(encoded.decode("utf-8")), dict)
