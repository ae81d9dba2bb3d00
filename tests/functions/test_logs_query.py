"""The shared Logs Insights module (``functions/_shared/logs_query.py``) against a stubbed ``logs`` client.

``logs_query`` is imported as a top-level module, as the functions that ship it import it (the shared folder is
on ``sys.path``, see ``conftest``). The client is a real boto3 client under ``botocore.stub.Stubber``, so
every request is checked against the service model.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import logs_query
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import OFFLINE_AWS_ENV

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=15)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch):
    for key, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("logs", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _cells(row: dict[str, str]) -> list[dict[str, str]]:
    return [{"field": k, "value": v} for k, v in row.items()]


def _start(stub: Stubber, query: str = "fields @message", groups: list[str] | None = None) -> None:
    stub.add_response(
        "start_query",
        {"queryId": "q-1"},
        {
            "logGroupNames": groups or ["/aws/lambda/app"],
            "startTime": int(START.timestamp()),
            "endTime": int(END.timestamp()) - 1,
            "queryString": query,
            "limit": 10_000,
        },
    )


def _results(
    stub: Stubber, status: str, rows: list[dict[str, str]] | None = None, matched: float | None = None
) -> None:
    body: dict = {"status": status, "results": [_cells(r) for r in rows or []]}
    if matched is not None:
        body["statistics"] = {"recordsMatched": matched, "recordsScanned": matched, "bytesScanned": 100.0}
    stub.add_response("get_query_results", body, {"queryId": "q-1"})


def test_polls_until_complete_with_backoff_and_returns_rows(logs) -> None:
    client, stub = logs
    _start(stub)
    _results(stub, "Scheduled")
    _results(stub, "Running")
    _results(stub, "Complete", [{"@timestamp": "t", "@message": '{"a": 1}'}], matched=1.0)
    sleeps: list[float] = []
    result = logs_query.run_query(client, ["/aws/lambda/app"], "fields @message", START, END, sleep=sleeps.append)
    assert result == logs_query.QueryResult(
        rows=[{"@timestamp": "t", "@message": '{"a": 1}'}], matched=1, truncated=False
    )
    assert sleeps == [0.5, 1.0]


def test_more_records_matched_than_returned_is_truncated(logs) -> None:
    client, stub = logs
    _start(stub)
    _results(stub, "Complete", [{"@message": "{}"}] * 3, matched=12_000.0)
    result = logs_query.run_query(client, ["/aws/lambda/app"], "fields @message", START, END, sleep=lambda s: None)
    assert result.truncated and result.matched == 12_000 and len(result.rows) == 3


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout", "Unknown"])
def test_a_query_that_ends_other_than_complete_raises(logs, status: str) -> None:
    client, stub = logs
    _start(stub)
    _results(stub, status)
    with pytest.raises(logs_query.QueryFailed) as raised:
        logs_query.run_query(client, ["/aws/lambda/app"], "fields @message", START, END, sleep=lambda s: None)
    assert raised.value.status == status and raised.value.query_id == "q-1"


def test_the_deadline_stops_the_query(logs) -> None:
    client, stub = logs
    _start(stub)
    _results(stub, "Running")
    stub.add_response("stop_query", {"success": True}, {"queryId": "q-1"})
    now = iter([0.0, 1000.0])
    with pytest.raises(logs_query.QueryFailed, match="DeadlineExceeded"):
        logs_query.run_query(
            client,
            ["/aws/lambda/app"],
            "fields @message",
            START,
            END,
            sleep=lambda s: None,
            timeout_s=60,
            clock=lambda: next(now),
        )


def test_a_failing_stop_at_the_deadline_still_raises_the_deadline(logs) -> None:
    client, stub = logs
    _start(stub)
    _results(stub, "Running")
    stub.add_client_error("stop_query", "InvalidParameterException", "query already complete")
    now = iter([0.0, 1000.0])
    with pytest.raises(logs_query.QueryFailed, match="DeadlineExceeded"):
        logs_query.run_query(
            client,
            ["/aws/lambda/app"],
            "fields @message",
            START,
            END,
            sleep=lambda s: None,
            timeout_s=60,
            clock=lambda: next(now),
        )


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "LimitExceededException"])
def test_aws_errors_propagate_for_the_caller_to_decide(logs, code: str) -> None:
    client, stub = logs
    stub.add_client_error("start_query", code, "no")
    with pytest.raises(ClientError) as raised:
        logs_query.run_query(client, ["/aws/lambda/app"], "fields @message", START, END, sleep=lambda s: None)
    assert raised.value.response["Error"]["Code"] == code


@pytest.mark.parametrize(
    ("groups", "query", "start", "end", "limit", "message"),
    [
        ([], "q", START, END, 10, "at least one log group"),
        ([f"/g/{i}" for i in range(51)], "q", START, END, 10, "at most 50 log groups"),
        (["/g"], "x" * 10_001, START, END, 10, "at most 10000 characters"),
        (["/g"], "q", START, END, 10_001, "1 to 10000"),
        (["/g"], "q", END, START, 10, "ends before it starts"),
    ],
)
def test_arguments_the_api_would_reject_are_refused_before_calling(groups, query, start, end, limit, message) -> None:
    with pytest.raises(ValueError, match=message):
        logs_query.run_query(object(), groups, query, start, end, limit=limit)


def test_messages_skips_rows_without_a_json_object() -> None:
    rows = [
        {"@message": '{"a": 1}'},
        {"@message": "START RequestId: x"},
        {"@message": "[1, 2]"},
        {},
        {"@message": "[" * 100_000 + "]" * 100_000},  # deeper than the JSON parser's recursion limit
        {"@message": '{"b": 2}'},
    ]
    assert list(logs_query.messages(rows)) == [{"a": 1}, {"b": 2}]


def test_field_reads_dotted_paths_and_flattened_keys() -> None:
    record = {"usage": {"input_tokens": 5}, "retrieval.passages": [1], "a": "x"}
    assert logs_query.field(record, "usage.input_tokens") == 5
    assert logs_query.field(record, "retrieval.passages") == [1]
    assert logs_query.field(record, "a.b") is None
    assert logs_query.field(record, None) is None


def test_windows_are_aligned_and_consecutive() -> None:
    end = datetime(2026, 11, 27, 10, 7, 31, tzinfo=UTC)
    assert logs_query.windows(end, timedelta(minutes=15), 2) == [
        (datetime(2026, 11, 27, 9, 30, tzinfo=UTC), datetime(2026, 11, 27, 9, 45, tzinfo=UTC)),
        (datetime(2026, 11, 27, 9, 45, tzinfo=UTC), datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ]
    with pytest.raises(ValueError):
        logs_query.windows(end, timedelta(0))


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    st.sampled_from([5, 15, 60, 1440]),
    st.integers(1, 30),
)
def test_windows_property(end: datetime, minutes: int, count: int) -> None:
    spans = logs_query.windows(end, timedelta(minutes=minutes), count)
    assert len(spans) == count
    assert spans[-1][1] <= end and end - spans[-1][1] < timedelta(minutes=minutes)
    for (a, b), (c, _) in zip(spans, spans[1:], strict=False):
        assert b == c
    assert all(b - a == timedelta(minutes=minutes) for a, b in spans)


_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.text(max_size=120), max_size=400), st.integers(200, 9_000))
def test_in_list_covers_every_value_under_the_budget(values: list[str], budget: int) -> None:
    clauses = logs_query.in_list("correlation_id", values, max_chars=budget)
    assert all(len(c) <= budget for c in clauses)
    found = [json.loads(f'"{m}"', strict=False) for c in clauses for m in _LITERAL.findall(c)]
    assert found == list(dict.fromkeys(values))
    assert all(c.startswith("filter correlation_id in [") and c.endswith("]") for c in clauses)


def test_in_list_refuses_a_value_that_cannot_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        logs_query.in_list("f", ["x" * 100], max_chars=50)
