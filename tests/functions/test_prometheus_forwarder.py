"""Prometheus metric forwarder (functions/prometheus_forwarder): encoding, naming, delivery and faults.

The handler is loaded under a unique module name (its siblings ``metric_naming`` and ``remote_write``
are uniquely named and imported from the function folder, as Lambda does; ``sigv4`` comes from
``functions/_shared``, which the asset has beside the handler). HTTP goes to a fake
``urllib.request.urlopen``; every remote-write body is decoded with independent oracles: ``snappy``
(python-snappy) for the block format and ``protobuf`` with a descriptor of ``prometheus.WriteRequest``
built here from ``prompb/remote.proto`` and ``types.proto``.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sigv4
import snappy
from botocore.credentials import Credentials
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import FakeClock, FakeHttpResponse, http_error
from tests.support.loader import load_file

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "prometheus_forwarder"
URL = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0a1b2c3d/api/v1/remote_write"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


handler = load_file("prometheus_forwarder_handler", FUNCTION_DIR / "handler.py", search=[FUNCTION_DIR], keep_search=True)
metric_naming = sys.modules["metric_naming"]  # the siblings, imported by the handler as Lambda does
remote_write = sys.modules["remote_write"]


# --- oracles ----------------------------------------------------------------------------------------------------------


def _write_request_class() -> Any:
    """``prometheus.WriteRequest`` (labels, samples) from a descriptor built like prompb's .proto files."""
    f = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="prompb_remote.proto", package="prometheus", syntax="proto3")
    label = proto.message_type.add(name="Label")
    label.field.add(name="name", number=1, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    label.field.add(name="value", number=2, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    sample = proto.message_type.add(name="Sample")
    sample.field.add(name="value", number=1, type=f.TYPE_DOUBLE, label=f.LABEL_OPTIONAL)
    sample.field.add(name="timestamp", number=2, type=f.TYPE_INT64, label=f.LABEL_OPTIONAL)
    series = proto.message_type.add(name="TimeSeries")
    series.field.add(
        name="labels", number=1, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED, type_name=".prometheus.Label"
    )
    series.field.add(
        name="samples", number=2, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED, type_name=".prometheus.Sample"
    )
    request = proto.message_type.add(name="WriteRequest")
    request.field.add(
        name="timeseries", number=1, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED, type_name=".prometheus.TimeSeries"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _write_request_class()


def decode(body: bytes) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    """A remote-write body (snappy + protobuf) as {sorted labels: [(timestamp, value)]}; label order checked."""
    message = WriteRequest()
    message.ParseFromString(snappy.uncompress(body))
    decoded = {}
    for series in message.timeseries:
        labels = tuple((label.name, label.value) for label in series.labels)
        assert list(labels) == sorted(labels), "labels must be sorted by name"
        assert labels not in decoded, "one TimeSeries per label set"
        decoded[labels] = [(s.timestamp, s.value) for s in series.samples]
    return decoded


# --- fixtures ---------------------------------------------------------------------------------------------------------


def metric_line(
    metric: str,
    value: dict[str, float],
    *,
    namespace: str = "LLMObservability",
    dimensions: dict[str, str] | None = None,
    timestamp: int = T0,
) -> dict[str, Any]:
    """One object of the metric stream JSON output format."""
    return {
        "metric_stream_name": "llm-metrics",
        "account_id": "123456789012",
        "region": "us-east-1",
        "namespace": namespace,
        "metric_name": metric,
        "dimensions": dimensions if dimensions is not None else {"service": "rag-api"},
        "timestamp": timestamp,
        "value": value,
        "unit": "Milliseconds",
    }


def record(*lines: dict[str, Any], record_id: str = "r1", raw: bytes | None = None) -> dict[str, str]:
    data = raw if raw is not None else "\n".join(json.dumps(line) for line in lines).encode() + b"\n"
    return {"recordId": record_id, "approximateArrivalTimestamp": T0, "data": base64.b64encode(data).decode()}


def firehose_event(*records: dict[str, str]) -> dict[str, Any]:
    return {
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/metrics",
        "region": "us-east-1",
        "records": list(records),
    }


@dataclass
class FakeWorkspace:
    """Answers remote-write POSTs with queued outcomes (default 204) and keeps every request."""

    outcomes: list[Exception | int] = field(default_factory=list)
    requests: list[urllib.request.Request] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, timeout: float | None = None) -> FakeHttpResponse:
        assert timeout is not None and timeout > 0
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else 204
        if isinstance(outcome, Exception):
            raise outcome
        return FakeHttpResponse(outcome)

    def bodies(self) -> list[dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]]:
        return [decode(r.data) for r in self.requests]  # type: ignore[arg-type]


@dataclass
class Harness:
    workspace: FakeWorkspace
    clock: FakeClock
    capsys: pytest.CaptureFixture[str]

    def invoke(self, *records: dict[str, str]) -> dict[str, Any]:
        return handler.lambda_handler(firehose_event(*records), self.clock)

    def metrics(self) -> dict[str, Any]:
        lines = [json.loads(line) for line in self.capsys.readouterr().out.splitlines() if '"_aws"' in line]
        assert len(lines) == 1, lines
        blob = lines[0]
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "LLMObservability/PrometheusExport"
        assert directive["Dimensions"] == [["service"]] and blob["service"] == "rag-api"
        assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}
        values = {m["Name"]: blob[m["Name"]] for m in directive["Metrics"]}
        assert all(len(value) == 1 for value in values.values()), values
        return {name: value[0] for name, value in values.items()}


class FakeSession:
    def get_credentials(self) -> Credentials:
        return Credentials("AKIDEXAMPLE", "secret", "session-token")


@contextmanager
def offline_forwarder(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeWorkspace, FakeClock]]:
    """The function's environment, a fake workspace, a fake clock and credentials, undone on exit."""
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REMOTE_WRITE_URL", URL)
    monkeypatch.setenv("NAMESPACE_PREFIXES", json.dumps({"LLMObservability": "llmobs"}))
    monkeypatch.setenv("SERVICE_NAME", "rag-api")
    monkeypatch.delenv("MAX_SAMPLES_PER_REQUEST", raising=False)
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    workspace = FakeWorkspace()
    clock = FakeClock(120_000)
    monkeypatch.setattr(urllib.request, "urlopen", workspace)
    monkeypatch.setattr(handler, "sleep", clock.sleep)
    sigv4.set_session(FakeSession())
    try:
        yield workspace, clock
    finally:
        sigv4.set_session(None)


@pytest.fixture
def forwarder(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Harness]:
    with offline_forwarder(monkeypatch) as (workspace, clock):
        yield Harness(workspace, clock, capsys)


# --- naming -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("EndToEndLatency", "end_to_end_latency"),
        ("EstimatedCostUSD", "estimated_cost_usd"),
        ("ModelId", "model_id"),
        ("service", "service"),
        ("AWS/Bedrock", "aws_bedrock"),
        ("InputTokenCount", "input_token_count"),
        ("p99.9", "p99_9"),
        ("PR(:300)", "pr_300"),
        ("5xxErrors", "_5xx_errors"),
    ],
)
def test_snake_case_names_are_valid_prometheus_names(name: str, expected: str) -> None:
    assert metric_naming.snake(name) == expected


def test_series_names_follow_the_documented_convention() -> None:
    assert metric_naming.app_series("EndToEndLatency", "p99") == "llmobs_end_to_end_latency_p99"
    assert metric_naming.app_series("RequestSuccess", "count") == "llmobs_request_success_count"
    assert metric_naming.bedrock_series("Invocations", "sum") == "aws_bedrock_invocations_sum"
    assert metric_naming.namespace_prefix("AWS/Lambda") == "aws_lambda"
    assert metric_naming.namespace_prefix("TheirApp", {"TheirApp": "llmobs"}) == "llmobs"
    assert metric_naming.label_name("ModelId") == "model_id"
    assert metric_naming.label_name("Region") == "dimension_region"  # never clobbers the reserved labels


def test_a_metric_stream_line_becomes_one_sample_per_statistic() -> None:
    samples = handler.parse_line(
        metric_line("EndToEndLatency", {"max": 900.0, "min": 100.0, "sum": 1500.0, "count": 3.0, "p99": 890.5}),
        {"LLMObservability": "llmobs"},
    )
    by_name = {dict(labels)["__name__"]: (labels, ts, value) for labels, ts, value in samples}
    assert set(by_name) == {
        "llmobs_end_to_end_latency_max",
        "llmobs_end_to_end_latency_min",
        "llmobs_end_to_end_latency_sum",
        "llmobs_end_to_end_latency_count",
        "llmobs_end_to_end_latency_p99",
    }
    labels, timestamp, value = by_name["llmobs_end_to_end_latency_p99"]
    assert dict(labels) == {
        "__name__": "llmobs_end_to_end_latency_p99",
        "service": "rag-api",
        "namespace": "LLMObservability",
        "region": "us-east-1",
        "account_id": "123456789012",
    }
    assert (timestamp, value) == (T0, 890.5)


# --- encoding ---------------------------------------------------------------------------------------------------------


def test_write_request_decodes_with_protobuf_and_snappy() -> None:
    series = [
        ((("__name__", "b_metric"), ("a", "1")), [(T0, 1.5), (T0 + 60_000, -2.25)]),
        ((("__name__", "a_metric"), ("zeta", "ü-unicode")), [(T0, float("inf"))]),
    ]
    body = remote_write.snappy_compress(remote_write.encode_write_request(series))
    decoded = decode(body)
    assert decoded == {
        (("__name__", "b_metric"), ("a", "1")): [(T0, 1.5), (T0 + 60_000, -2.25)],
        (("__name__", "a_metric"), ("zeta", "ü-unicode")): [(T0, float("inf"))],
    }


def test_negative_timestamps_use_the_int64_encoding() -> None:
    message = WriteRequest()
    message.ParseFromString(remote_write.encode_write_request([((("__name__", "x"),), [(-5, 0.0)])]))
    assert message.timeseries[0].samples[0].timestamp == -5


@pytest.mark.parametrize("size", [0, 1, 4, 5, 59, 60, 61, 255, 256, 257, 65_535, 65_536, 65_537, 200_000])
def test_snappy_round_trips_through_python_snappy(size: int) -> None:
    rng = random.Random(size)
    repetitive = bytes(rng.choice(b"ab") for _ in range(size))
    incompressible = rng.randbytes(size)
    runs = (b"llmobs_end_to_end_latency_p99{service=rag-api}" * (size // 40 + 1))[:size]
    for data in (repetitive, incompressible, runs):
        assert snappy.uncompress(remote_write.snappy_compress(data)) == data
    if size >= 1000:
        assert len(remote_write.snappy_compress(runs)) < size // 10  # real compression, not only literals


# --- delivery ---------------------------------------------------------------------------------------------------------


def test_records_are_written_signed_and_dropped_from_the_stream(forwarder: Harness) -> None:
    latency = metric_line("EndToEndLatency", {"max": 900.0, "min": 100.0, "sum": 1500.0, "count": 3.0, "p99": 890.0})
    bedrock = metric_line(
        "Invocations",
        {"max": 1.0, "min": 1.0, "sum": 7.0, "count": 7.0},
        namespace="AWS/Bedrock",
        dimensions={"ModelId": "amazon.nova-lite-v1:0"},
        timestamp=T0 + 60_000,
    )
    earlier = metric_line(
        "EndToEndLatency", {"max": 1.0, "min": 1.0, "sum": 1.0, "count": 1.0, "p99": 1.0}, timestamp=T0 - 60_000
    )
    result = forwarder.invoke(record(latency, bedrock, record_id="a"), record(earlier, record_id="b"))

    assert result == {
        "records": [
            {"recordId": "a", "result": "Dropped", "data": record(latency, bedrock, record_id="a")["data"]},
            {"recordId": "b", "result": "Dropped", "data": record(earlier, record_id="b")["data"]},
        ]
    }
    (request,) = forwarder.workspace.requests
    assert request.get_method() == "POST" and request.full_url == URL
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["content-encoding"] == "snappy"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-prometheus-remote-write-version"] == "0.1.0"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/aps/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == "session-token" and "x-amz-date" in headers

    (body,) = forwarder.workspace.bodies()
    names = {dict(labels)["__name__"] for labels in body}
    assert "aws_bedrock_invocations_sum" in names and "llmobs_end_to_end_latency_p99" in names
    p99 = next(points for labels, points in body.items() if dict(labels)["__name__"] == "llmobs_end_to_end_latency_p99")
    assert p99 == [(T0 - 60_000, 1.0), (T0, 890.0)]  # one series, samples in time order across records
    invocations = next(labels for labels in body if dict(labels)["__name__"] == "aws_bedrock_invocations_sum")
    assert dict(invocations)["model_id"] == "amazon.nova-lite-v1:0" and dict(invocations)["namespace"] == "AWS/Bedrock"
    assert forwarder.metrics() == {
        "SamplesWritten": 14,
        "RecordsDelivered": 2,
        "RecordsMalformed": 0,
        "RecordsRejected": 0,
        "RecordsFailed": 0,
        "RemoteWriteThrottled": 0,
        "RemoteWriteRetries": 0,
    }


def test_batches_respect_the_sample_limit(forwarder: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_SAMPLES_PER_REQUEST", "5")
    stats = {"max": 1.0, "min": 1.0, "sum": 1.0, "count": 1.0}
    records = [
        record(metric_line("RequestSuccess", stats, timestamp=T0 + i * 60_000), record_id=f"r{i}") for i in range(3)
    ]
    result = forwarder.invoke(*records)
    assert [r["result"] for r in result["records"]] == ["Dropped"] * 3
    assert len(forwarder.workspace.requests) == 3
    assert all(sum(len(p) for p in body.values()) == 4 for body in forwarder.workspace.bodies())


def test_malformed_records_are_kept_for_s3_and_counted(forwarder: Harness) -> None:
    good = record(metric_line("RequestSuccess", {"sum": 1.0, "count": 1.0, "min": 1.0, "max": 1.0}), record_id="ok")
    bad = [
        {"recordId": "not-base64", "data": "%%%"},
        record(raw=b"{not json", record_id="not-json"),
        record(
            {"namespace": "X", "metric_name": "Y", "timestamp": T0, "value": {"sum": "many"}}, record_id="text-value"
        ),
        record({"namespace": "X", "metric_name": "Y", "timestamp": "soon", "value": {"sum": 1}}, record_id="bad-time"),
        record(raw=b"\n\n", record_id="empty"),
    ]
    result = forwarder.invoke(good, *bad)
    assert {r["recordId"]: r["result"] for r in result["records"]} == {
        "ok": "Dropped",
        "not-base64": "ProcessingFailed",
        "not-json": "ProcessingFailed",
        "text-value": "ProcessingFailed",
        "bad-time": "ProcessingFailed",
        "empty": "ProcessingFailed",
    }
    assert all(r["data"] == src["data"] for r, src in zip(result["records"], [good, *bad]))
    metrics = forwarder.metrics()
    assert (metrics["RecordsMalformed"], metrics["RecordsFailed"], metrics["RecordsDelivered"]) == (5, 5, 1)


def test_throttling_is_retried_honouring_retry_after(forwarder: Harness) -> None:
    forwarder.workspace.outcomes = [http_error(429, headers={"Retry-After": "3"}), http_error(429), 200]
    result = forwarder.invoke(record(metric_line("RequestSuccess", {"sum": 1.0})))
    assert result["records"][0]["result"] == "Dropped"
    assert forwarder.clock.sleeps == [3.0, 1.0]  # Retry-After, then the backoff schedule
    assert len(forwarder.workspace.requests) == 3
    # every attempt is signed afresh
    assert all(r.get_header("Authorization") for r in forwarder.workspace.requests)
    metrics = forwarder.metrics()
    assert (metrics["RemoteWriteThrottled"], metrics["RemoteWriteRetries"], metrics["SamplesWritten"]) == (2, 2, 1)


def test_persistent_throttling_raises_so_firehose_retries(forwarder: Harness) -> None:
    forwarder.workspace.outcomes = [http_error(429)] * 10
    with pytest.raises(handler.RetryableDeliveryError, match="HTTP 429"):
        forwarder.invoke(record(metric_line("RequestSuccess", {"sum": 1.0})))
    assert len(forwarder.workspace.requests) == len(handler.RETRY_DELAYS_S) + 1
    assert forwarder.metrics()["RemoteWriteThrottled"] == len(handler.RETRY_DELAYS_S) + 1


def test_server_errors_raise_when_no_time_is_left(forwarder: Harness) -> None:
    forwarder.clock.remaining_ms = 16_000
    forwarder.workspace.outcomes = [http_error(503, b"overloaded"), http_error(503)]
    with pytest.raises(handler.RetryableDeliveryError, match="no time is left"):
        forwarder.invoke(record(metric_line("RequestSuccess", {"sum": 1.0})))
    assert len(forwarder.workspace.requests) == 2  # one retry fitted in the remaining time


def test_server_errors_and_network_errors_are_retried(forwarder: Harness) -> None:
    forwarder.workspace.outcomes = [http_error(500), urllib.error.URLError("connection reset"), TimeoutError(), 200]
    result = forwarder.invoke(record(metric_line("RequestSuccess", {"sum": 1.0})))
    assert result["records"][0]["result"] == "Dropped"
    assert forwarder.clock.sleeps == [0.5, 1.0, 2.0]


def test_client_errors_mark_records_failed_with_a_metric(
    forwarder: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", logs)
    forwarder.workspace.outcomes = [http_error(400, b"out of order sample")]
    result = forwarder.invoke(
        record(metric_line("RequestSuccess", {"sum": 1.0}), record_id="x"),
        record(metric_line("RequestFailure", {"sum": 1.0}), record_id="y"),
    )
    assert [r["result"] for r in result["records"]] == ["ProcessingFailed", "ProcessingFailed"]
    assert len(forwarder.workspace.requests) == 1  # a 4xx is not retried
    metrics = forwarder.metrics()
    assert (metrics["RecordsRejected"], metrics["RecordsFailed"], metrics["SamplesWritten"]) == (2, 2, 0)
    (rejected,) = [json.loads(line) for line in logs.getvalue().splitlines() if "remote write rejected" in line]
    assert (rejected["level"], rejected["status"], rejected["detail"]) == ("ERROR", 400, "out of order sample")


def test_a_rejected_batch_does_not_fail_the_others(forwarder: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_SAMPLES_PER_REQUEST", "1")
    forwarder.workspace.outcomes = [204, http_error(403, b"denied"), 204]
    result = forwarder.invoke(
        *(record(metric_line("RequestSuccess", {"sum": 1.0}, timestamp=T0 + i), record_id=str(i)) for i in range(3))
    )
    assert [r["result"] for r in result["records"]] == ["Dropped", "ProcessingFailed", "Dropped"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REMOTE_WRITE_URL", "http://insecure/api/v1/remote_write", "REMOTE_WRITE_URL"),
        ("NAMESPACE_PREFIXES", "[1, 2]", "NAMESPACE_PREFIXES"),
        ("MAX_SAMPLES_PER_REQUEST", "0", "MAX_SAMPLES_PER_REQUEST"),
    ],
)
def test_bad_configuration_fails_loudly(
    forwarder: Harness, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(handler.ConfigurationError, match=message):
        forwarder.invoke(record(metric_line("RequestSuccess", {"sum": 1.0})))
    assert forwarder.workspace.requests == []


def test_an_event_without_records_is_rejected(forwarder: Harness) -> None:
    with pytest.raises(TypeError, match="not a Firehose transformation request"):
        handler.lambda_handler({"invocationId": "x"}, forwarder.clock)


# --- hostile input (issue 15) -----------------------------------------------------------------------------------------


def deep_line(depth: int) -> bytes:
    return b'{"namespace": "X", "metric_name": "Y", "timestamp": 1, "value": ' + b"[" * depth + b"]" * depth + b"}"


def raw_line(*, namespace: bytes = b'"X"', timestamp: bytes = b"1", value: bytes = b"1", extra: bytes = b"") -> bytes:
    """One metric stream line written by hand, for numbers and escapes ``json.dumps`` would not write."""
    template = b'{"namespace":%s,"metric_name":"Y","timestamp":%s,"value":{"sum":%s}%s}'
    return template % (namespace, timestamp, value, extra)


HOSTILE_RECORDS: dict[str, dict[str, str]] = {
    "int-400": record(raw=raw_line(value=b"1" + b"0" * 399)),  # beyond a double: OverflowError
    "int-4300": record(raw=raw_line(value=b"1" + b"0" * 4299)),
    "int-5000": record(raw=raw_line(value=b"1" + b"0" * 4999)),  # beyond Python's digit limit: ValueError
    "deep": record(raw=deep_line(100_000)),  # RecursionError
    "surrogate-dimension": record(raw=raw_line(extra=b',"dimensions":{"service":"a\\ud800b"}')),
    "surrogate-namespace": record(raw=raw_line(namespace=b'"X\\udfff"')),
    "timestamp-1e30": record(raw=raw_line(timestamp=b"1e30")),  # int64 would wrap
    "timestamp-2**64": record(raw=raw_line(timestamp=str(2**64 + 5).encode())),
    "timestamp-huge-int": record(raw=raw_line(timestamp=b"1" + b"0" * 400)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_RECORDS))
def test_a_hostile_record_fails_alone(forwarder: Harness, name: str) -> None:
    good = record(metric_line("RequestSuccess", {"sum": 1.0}), record_id="good")
    bad = {**HOSTILE_RECORDS[name], "recordId": "bad"}
    result = forwarder.invoke(good, bad)
    assert {r["recordId"]: r["result"] for r in result["records"]} == {"good": "Dropped", "bad": "ProcessingFailed"}
    (body,) = forwarder.workspace.bodies()
    assert [points for points in body.values()] == [[(T0, 1.0)]]  # nothing of the bad record was sent, nothing wrapped
    assert forwarder.metrics()["RecordsMalformed"] == 1


def test_timestamps_in_the_int64_range_are_kept() -> None:
    samples = handler.parse_line(metric_line("X", {"sum": 1.0}, timestamp=2**63 - 1), {})
    assert [timestamp for _, timestamp, _ in samples] == [2**63 - 1]
    with pytest.raises(handler.MalformedRecord, match="timestamp"):
        handler.parse_line(metric_line("X", {"sum": 1.0}, timestamp=2**63), {})


def test_no_batch_is_started_without_time_for_its_request(forwarder: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_SAMPLES_PER_REQUEST", "1")
    forwarder.clock.remaining_ms = 40_000
    started: list[int] = []

    def slow_workspace(request: urllib.request.Request, timeout: float | None = None) -> FakeHttpResponse:
        started.append(forwarder.clock.remaining_ms)
        forwarder.clock.remaining_ms -= 10_000  # each request takes 10 s
        return forwarder.workspace(request, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", slow_workspace)
    with pytest.raises(handler.RetryableDeliveryError, match="no time is left"):
        forwarder.invoke(
            *(record(metric_line("RequestSuccess", {"sum": 1.0}, timestamp=T0 + i), record_id=str(i)) for i in range(5))
        )
    budget = int(handler.HTTP_TIMEOUT_S * 1000) + handler.RESERVE_MS
    assert started == [40_000, 30_000, 20_000] and all(remaining >= budget for remaining in started)
    metrics = forwarder.metrics()
    assert (metrics["RecordsDelivered"], metrics["SamplesWritten"]) == (3, 3)


def test_dimensions_with_the_same_snake_case_name_keep_distinct_labels(forwarder: Harness) -> None:
    line = metric_line("Invocations", {"sum": 1.0}, dimensions={"model_id": "lower", "ModelId": "upper"})
    swapped = metric_line("Invocations", {"sum": 1.0}, dimensions={"ModelId": "upper", "model_id": "lower"})
    (labels, _, _), = handler.parse_line(line, {})
    assert dict(labels)["model_id"] == "upper" and dict(labels)["model_id_2"] == "lower"
    assert handler.parse_line(swapped, {}) == handler.parse_line(line, {})  # the order of the record does not matter
    assert metric_naming.dimension_labels(["model_id", "ModelId", "Model-Id", "model_id_2"]) == {
        "Model-Id": "model_id",
        "ModelId": "model_id_3",
        "model_id": "model_id_4",
        "model_id_2": "model_id_2",
    }
    result = forwarder.invoke(record(line))
    assert result["records"][0]["result"] == "Dropped"
    (body,) = forwarder.workspace.bodies()
    assert {(dict(labels)["model_id"], dict(labels)["model_id_2"]) for labels in body} == {("upper", "lower")}


# --- properties (hypothesis) ------------------------------------------------------------------------------------------

LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
HOSTILE_TEXT = st.text(st.one_of(st.characters(), LONE_SURROGATES), max_size=12)
HUGE_INTEGERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=300, max_value=4_300).map(lambda digits: 10 ** (digits - 1)),  # json.dumps stops at 4,300
    st.integers(min_value=300, max_value=4_300).map(lambda digits: -(10 ** (digits - 1))),
)
# Beyond Python's 4,300-digit limit a number can only be written as text: json.loads raises ValueError on it.
OVERLONG_NUMBERS = st.integers(min_value=4_301, max_value=6_000).flatmap(
    lambda digits: st.sampled_from([raw_line(timestamp=b"1" * digits), raw_line(value=b"1" * digits)])
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), HUGE_INTEGERS, st.floats(), HOSTILE_TEXT),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(HOSTILE_TEXT, children, max_size=3)),
    max_leaves=8,
)
HOSTILE_LINES = st.fixed_dictionaries(
    {},
    optional={
        "namespace": st.one_of(HOSTILE_TEXT, JSON_VALUES),
        "metric_name": st.one_of(HOSTILE_TEXT, JSON_VALUES),
        "dimensions": st.one_of(st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=4), JSON_VALUES),
        "timestamp": st.one_of(HUGE_INTEGERS, st.floats(), st.just(1e30), JSON_VALUES),
        "value": st.one_of(
            st.dictionaries(HOSTILE_TEXT, st.one_of(HUGE_INTEGERS, st.floats()), max_size=4), JSON_VALUES
        ),
        "region": JSON_VALUES,
        "account_id": JSON_VALUES,
    },
)
HOSTILE_PAYLOADS = st.one_of(
    HOSTILE_LINES.map(lambda line: json.dumps(line).encode() + b"\n"),
    st.integers(min_value=900, max_value=100_000).map(deep_line),
    OVERLONG_NUMBERS,
    st.binary(max_size=64),
    HOSTILE_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
)


def hostile_record(payload: bytes, record_id: str) -> dict[str, str]:
    return {"recordId": record_id, "data": base64.b64encode(payload).decode()}


@settings(max_examples=150, deadline=None, database=None)
@given(payloads=st.lists(HOSTILE_PAYLOADS, min_size=1, max_size=4), good_first=st.booleans())
def test_property_one_bad_record_never_fails_the_batch(payloads: list[bytes], good_first: bool) -> None:
    good = [
        record(metric_line("RequestSuccess", {"sum": 1.0}, timestamp=T0 + i), record_id=f"good{i}") for i in range(2)
    ]
    bad = [hostile_record(payload, f"bad{i}") for i, payload in enumerate(payloads)]
    records = [*good, *bad] if good_first else [*bad, *good]
    with pytest.MonkeyPatch.context() as monkeypatch, offline_forwarder(monkeypatch) as (workspace, clock):
        result = handler.lambda_handler(firehose_event(*records), clock)
        bodies = workspace.bodies()  # every body sent is valid snappy + protobuf with UTF-8 labels
    answers = {r["recordId"]: r for r in result["records"]}
    assert [r["recordId"] for r in result["records"]] == [r["recordId"] for r in records]
    assert all(answers[r["recordId"]]["data"] == r["data"] for r in records)
    assert {answers[r["recordId"]]["result"] for r in good} == {"Dropped"}
    assert {answer["result"] for answer in answers.values()} <= {"Dropped", "ProcessingFailed"}
    sent = {(labels, point) for body in bodies for labels, points in body.items() for point in points}
    assert all(-(2**63) <= timestamp < 2**63 for _, (timestamp, _) in sent)
    assert {point for labels, point in sent if dict(labels)["__name__"] == "llmobs_request_success_sum"} >= {
        (T0, 1.0),
        (T0 + 1, 1.0),
    }


@settings(max_examples=150, deadline=None, database=None)
@given(payload=HOSTILE_PAYLOADS, record_id=st.one_of(HOSTILE_TEXT, JSON_VALUES))
def test_property_parsing_never_raises(payload: bytes, record_id: Any) -> None:
    parsed = handler.parse_record({"recordId": record_id, "data": base64.b64encode(payload).decode()}, {})
    if parsed.result is None:
        assert parsed.samples and isinstance(record_id, str)
        assert all(-(2**63) <= timestamp < 2**63 for _, timestamp, _ in parsed.samples)
        body, count = handler.write_request([parsed])  # encodes: every label is valid UTF-8
        assert sum(len(points) for points in decode(body).values()) == count
    else:
        assert parsed.result == "ProcessingFailed" and parsed.samples == []


@settings(max_examples=150, deadline=None, database=None)
@given(dimensions=st.lists(HOSTILE_TEXT, max_size=8, unique=True), seed=st.integers(0, 1_000))
def test_property_dimension_labels_are_distinct_valid_and_order_free(dimensions: list[str], seed: int) -> None:
    labels = metric_naming.dimension_labels(dimensions)
    shuffled = list(dimensions)
    random.Random(seed).shuffle(shuffled)
    assert metric_naming.dimension_labels(shuffled) == labels
    assert set(labels) == set(dimensions) and len(set(labels.values())) == len(dimensions)
    valid = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
    assert all(valid.fullmatch(label) and not label.startswith("__") for label in labels.values())
    assert not set(labels.values()) & metric_naming.RESERVED_LABELS
    wanted = [metric_naming.label_name(dimension) for dimension in dimensions]
    assert all(labels[d] == metric_naming.label_name(d) for d, w in zip(dimensions, wanted) if wanted.count(w) == 1)
