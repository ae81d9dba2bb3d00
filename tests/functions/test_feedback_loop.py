"""Feedback join Lambda (functions/feedback_loop): the join by request id, its metrics, the review set, faults.

The handler is loaded under a unique module name with its folder and ``functions/_shared`` first on ``sys.path``
while it loads (its siblings ``feedback_join``, ``feedback_telemetry`` and ``logs_query`` then leave
``sys.modules``). Logs Insights and S3 calls go to real boto3 clients under ``botocore.stub.Stubber`` (no network;
requests are checked against the service models); EMF blobs and log records are read back from stdout. Times
are relative to now, so the EMF timestamps are ones CloudWatch would accept.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import CurrentStdout
from tests.support.loader import load_file

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions"
FOLDER = FUNCTIONS_DIR / "feedback_loop"
SHARED = FUNCTIONS_DIR / "_shared"
SIBLINGS = ("feedback_join", "feedback_telemetry", "logs_query")

SERVICE = "feedback-test-workload"
NAMESPACE = "FeedbackTest"
GROUPS = ["/aws/lambda/rag-api"]
BUCKET = "review-bucket-test"
MODEL_A = "anthropic.claude-3-haiku-20240307-v1:0"
MODEL_B = "us.amazon.nova-pro-v1:0"
SCHEMA = {
    "marker_field": "message", "marker_value": "ask", "question": "question", "answer": "answer", "model": "model_id",
    "error_class": "error_class", "request_id": "correlation_id", "service": "service",
    "prompt_version": "prompt_version", "passages": "retrieval.passages", "answer_length": "answer_chars",
    "grounding_score": None, "feedback_marker": "feedback", "feedback_request_id": "feedback_request_id",
    "feedback_score": "score",
}  # fmt: skip
ENV_NAMES = ("LOG_GROUP_NAMES", "LOG_SCHEMA", "FEEDBACK_LOOKBACK_HOURS", "FEEDBACK_WINDOW_MINUTES", "REVIEW_BUCKET",
             "PROMPT_LOGGING")  # fmt: skip


@pytest.fixture(scope="module")
def env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**OFFLINE_AWS_ENV, "POWERTOOLS_SERVICE_NAME": SERVICE,
                            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE, "POWERTOOLS_LOG_LEVEL": "INFO"}.items():  # fmt: skip
            patch.setenv(name, value)
        for name in ("POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def handler(env: None) -> ModuleType:
    return load_file("feedback_loop_handler", FOLDER / "handler.py", search=[FOLDER, SHARED], siblings=SIBLINGS)


@pytest.fixture(scope="module")
def clients(handler: ModuleType) -> SimpleNamespace:
    config = handler.client_config()
    return SimpleNamespace(
        logs=boto3.client("logs", region_name="us-east-1", config=config),
        s3=boto3.client("s3", region_name="us-east-1", config=config),
    )


# --- Log lines --------------------------------------------------------------------------------------
def at(moment: datetime) -> str:
    """A Logs Insights @timestamp."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def feedback_row(request_id: Any, score: Any, moment: datetime, comment: str | None = None) -> dict[str, str]:
    line = {"level": "INFO", "message": "feedback", "service": SERVICE, "feedback_request_id": request_id,
            "score": score}  # fmt: skip
    if comment is not None:
        line["comment"] = comment
    return {"@timestamp": at(moment), "@message": json.dumps(line)}


def answer_row(request_id: str, moment: datetime, *, model: str = MODEL_A, version: str | None = "v3",
               question: str | None = "How long do refunds take?", answer: str | None = "30 days [1].",
               passages: Any = None, mode: str | None = "redacted") -> dict[str, str]:  # fmt: skip
    line: dict[str, Any] = {"level": "INFO", "message": "ask", "correlation_id": request_id, "model_id": model}
    if version is not None:
        line["prompt_version"] = version
    if question is not None:
        line["question"] = question
    if answer is not None:
        line["answer"] = answer
    if mode is not None:
        line["prompt_logging"] = mode
    line["retrieval"] = {"passages": passages if passages is not None else [
        {"id": "s3://docs/refunds.md", "score": 0.82, "excerpt": "Refunds are issued within 30 days."},
        {"id": "s3://docs/shipping.md", "score": 0.41},
    ]}  # fmt: skip
    return {"@timestamp": at(moment), "@message": json.dumps(line)}


# --- Harness ------------------------------------------------------------------------------------------
@dataclass
class Join:
    handler: ModuleType
    logs: Stubber
    s3: Stubber
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    queries: list[dict[str, Any]] = field(default_factory=list)
    puts: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    remaining_ms: int = 600_000

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.handler.window_for(self.now, self.handler.get_config())

    def in_window(self, minutes: float) -> datetime:
        return self.window[0] + timedelta(minutes=minutes)

    def env(self, **values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        self.handler.reset_state()
        self.handler.set_client(logs=self.logs.client, s3=self.s3.client)

    def query(self, rows: list[dict[str, str]], *, status: str = "Complete", matched: float | None = None,
              query_id: str = "q") -> None:  # fmt: skip
        self.logs.add_response("start_query", {"queryId": query_id}, {
            "logGroupNames": GROUPS, "startTime": ANY, "endTime": ANY, "queryString": ANY, "limit": 10_000})  # fmt: skip
        body: dict[str, Any] = {"status": status, "results": [[{"field": k, "value": v} for k, v in r.items()]
                                                               for r in rows]}  # fmt: skip
        body["statistics"] = {"recordsMatched": float(len(rows) if matched is None else matched),
                              "recordsScanned": 1000.0, "bytesScanned": 1e6}  # fmt: skip
        self.logs.add_response("get_query_results", body, {"queryId": query_id})

    def put(self, count: int = 1) -> None:
        for _ in range(count):
            self.s3.add_response("put_object", {"ETag": '"e"'}, {"Bucket": BUCKET, "Key": ANY, "Body": ANY,
                                                                 "ContentType": "application/json"})  # fmt: skip

    def put_error(self, code: str, count: int = 1) -> None:
        for _ in range(count):
            self.s3.add_client_error("put_object", service_error_code=code, http_status_code=403)

    def run(self) -> dict[str, Any]:
        context = SimpleNamespace(aws_request_id="run-0001", function_name="feedback-join", memory_limit_in_mb=512,
                                  invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:feedback-join",
                                  get_remaining_time_in_millis=lambda: self.remaining_ms)  # fmt: skip
        event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "detail": {}}  # fmt: skip
        return self.handler.lambda_handler(event, context)

    def output(self) -> list[dict[str, Any]]:
        raw = self.capsys.readouterr().out
        return [json.loads(line) for line in raw.splitlines() if line.startswith("{")]


def blobs(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for line in lines:
        if "_aws" not in line:
            continue
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        (dims,) = directive["Dimensions"]
        metrics = {m["Name"]: (m["Unit"], line[m["Name"]] if isinstance(line[m["Name"]], list) else [line[m["Name"]]])
                   for m in directive["Metrics"]}  # fmt: skip
        found.append({"dims": {d: line[d] for d in dims}, "metrics": metrics, "timestamp": line["_aws"]["Timestamp"],
                      "namespace": directive["Namespace"]})  # fmt: skip
    return found


def values(lines: list[dict[str, Any]], metric: str, **dims: str) -> list[float]:
    return [v for b in blobs(lines) if b["dims"] == dims and metric in b["metrics"] for v in b["metrics"][metric][1]]


def logs_with(lines: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("message") == message and "_aws" not in line]


@pytest.fixture
def join(handler: ModuleType, clients: SimpleNamespace, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Join]:  # fmt: skip
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOG_GROUP_NAMES", json.dumps(GROUPS))
    monkeypatch.setenv("LOG_SCHEMA", json.dumps(SCHEMA))
    monkeypatch.setenv("PROMPT_LOGGING", "redacted")
    monkeypatch.setattr(handler.logger.registered_handler, "stream", CurrentStdout())
    with Stubber(clients.logs) as logs, Stubber(clients.s3) as s3:
        harness = Join(handler, logs, s3, monkeypatch, capsys)

        def record(params: dict[str, Any], **_: Any) -> None:
            harness.queries.append(dict(params))

        def record_put(params: dict[str, Any], **_: Any) -> None:
            harness.puts.append(dict(params))

        clients.logs.meta.events.register("before-parameter-build.logs.StartQuery", record, unique_id="fb-q")
        clients.s3.meta.events.register("before-parameter-build.s3.PutObject", record_put, unique_id="fb-put")
        try:
            harness.env()
            yield harness
            logs.assert_no_pending_responses()
            s3.assert_no_pending_responses()
        finally:
            clients.logs.meta.events.unregister("before-parameter-build.logs.StartQuery", unique_id="fb-q")
            clients.s3.meta.events.unregister("before-parameter-build.s3.PutObject", unique_id="fb-put")
            handler.reset_state()


# --- The join ----------------------------------------------------------------------------------------
def test_join_emits_score_and_negative_share_per_model_and_version(join: Join) -> None:
    t = join.in_window
    join.query([feedback_row("r1", 1, t(5)), feedback_row("r2", 2, t(5.5)), feedback_row("r3", 3, t(20)),
                feedback_row("r4", 5, t(40))])  # fmt: skip
    join.query([answer_row("r1", t(4)), answer_row("r2", t(5)), answer_row("r3", t(-30), model=MODEL_B, version="v4"),
                answer_row("r4", t(39), model=MODEL_B, version="v4")])  # fmt: skip
    summary = join.run()
    out = join.output()

    assert (summary["ratings"], summary["joined"], summary["unmatched"], summary["negative"]) == (4, 4, 0, 2)
    assert summary["negative_share"] == 50.0
    version_a = {"service": SERVICE, "ModelId": MODEL_A, "PromptVersion": "v3"}
    version_b = {"service": SERVICE, "ModelId": MODEL_B, "PromptVersion": "v4"}
    assert values(out, "FeedbackScore", **version_a) == [1.0, 2.0]
    assert values(out, "NegativeFeedback", **version_a) == [100.0, 100.0]
    assert values(out, "FeedbackScore", **version_b) == [3.0, 5.0]
    assert values(out, "NegativeFeedback", **version_b) == [0.0, 0.0]
    assert sorted(values(out, "NegativeFeedback", service=SERVICE)) == [0.0, 0.0, 100.0, 100.0]
    assert values(out, "FeedbackUnmatched", service=SERVICE) == [0.0]
    assert not values(out, "ReviewWriteFailures", service=SERVICE)  # no review set
    assert values(out, "FeedbackScore", service=SERVICE) == []  # the runtime's own stream is left alone
    # every value at the minute of its rating; the unmatched count at the window's start
    stamps = {b["timestamp"] for b in blobs(out) if "FeedbackScore" in b["metrics"]}
    assert stamps == {int(t(m).timestamp()) // 60 * 60_000 for m in (5, 20, 40)}
    (unmatched,) = [b for b in blobs(out) if "FeedbackUnmatched" in b["metrics"]]
    assert unmatched["timestamp"] == int(join.window[0].timestamp()) * 1000
    assert all(b["namespace"] == NAMESPACE for b in blobs(out))


def test_queries_read_the_window_and_the_lookback(join: Join) -> None:
    join.env(FEEDBACK_LOOKBACK_HOURS="6", FEEDBACK_WINDOW_MINUTES="30")
    start, end = join.window
    assert end - start == timedelta(minutes=30) and end <= join.now - join.handler.SETTLE
    assert int(end.timestamp()) % 1800 == 0
    join.query([feedback_row("r1", 4, start + timedelta(minutes=1))])
    join.query([answer_row("r1", start)])
    join.run()
    first, second = join.queries
    assert (first["startTime"], first["endTime"]) == (int(start.timestamp()), int(end.timestamp()) - 1)
    assert first["queryString"] == 'fields @timestamp, @message | filter message = "feedback" | sort @timestamp asc'
    assert (second["startTime"], second["endTime"]) == (
        int((end - timedelta(hours=6)).timestamp()),
        int(end.timestamp()) - 1,
    )
    assert second["queryString"] == ('fields @timestamp, @message | filter message = "ask" | '
                                     'filter correlation_id in ["r1"] | sort @timestamp desc')  # fmt: skip


def test_the_window_comes_from_the_event_time_so_a_retry_reads_the_same_one(join: Join) -> None:
    join.now = datetime.now(UTC) - timedelta(hours=1, minutes=10)  # a retry, an hour after its event was sent
    start, end = join.window
    assert end <= join.now - join.handler.SETTLE < end + timedelta(hours=1)
    join.query([])
    join.run()
    (query,) = join.queries
    assert (query["startTime"], query["endTime"]) == (int(start.timestamp()), int(end.timestamp()) - 1)


def test_a_rating_whose_answer_is_older_than_the_lookback_is_unmatched(join: Join) -> None:
    t = join.in_window
    join.query([feedback_row("recent", 5, t(1)), feedback_row("old", 1, t(2))])
    join.query([answer_row("recent", t(0))])  # the old answer is outside [end - lookback, end): not returned
    summary = join.run()
    out = join.output()
    assert (summary["joined"], summary["unmatched"]) == (1, 1)
    assert values(out, "FeedbackUnmatched", service=SERVICE) == [1.0]
    assert values(out, "NegativeFeedback", service=SERVICE) == [0.0]  # the unmatched 1 is not counted


def test_repeated_ratings_of_one_answer_count_once_the_latest_wins(join: Join) -> None:
    t = join.in_window
    join.query([feedback_row("r1", 1, t(1)), feedback_row("r1", 4, t(9)), feedback_row("r1", 2, t(3))])
    join.query([answer_row("r1", t(0)), answer_row("r1", t(0.5), model=MODEL_B)])  # latest answer line wins
    summary = join.run()
    out = join.output()
    assert summary["dropped"] == {"repeated": 2}
    assert values(out, "FeedbackScore", service=SERVICE, ModelId=MODEL_B, PromptVersion="v3") == [4.0]
    assert values(out, "NegativeFeedback", service=SERVICE) == [0.0]


def test_canary_and_malformed_lines_are_dropped_one_by_one(join: Join) -> None:
    t = join.in_window
    rows = [feedback_row("canary-run-q1", 1, t(1)), feedback_row("ok", 3, t(2)), feedback_row("bad-score", 7, t(3)),
            feedback_row("bool", True, t(4)), feedback_row("", 3, t(5)), feedback_row(["x"], 3, t(6)),
            feedback_row("text-score", "4.5", t(7)), {"@timestamp": at(t(8)), "@message": "not json"},
            {"@timestamp": at(t(9))}, {"@message": json.dumps({"message": "feedback", "score": 2})}]  # fmt: skip
    join.query(rows)
    join.query([answer_row("ok", t(0)), answer_row("text-score", t(0), version=None)])
    summary = join.run()
    out = join.output()
    assert summary["dropped"] == {"canary": 1, "malformed": 7}
    assert summary["joined"] == 2
    assert values(out, "FeedbackScore", service=SERVICE, ModelId=MODEL_A, PromptVersion="unversioned") == [4.5]
    assert "canary-run-q1" not in join.queries[1]["queryString"]


def test_without_a_prompt_version_field_every_rating_is_unversioned(join: Join) -> None:
    join.env(LOG_SCHEMA=json.dumps({**SCHEMA, "prompt_version": None, "passages": None}))
    t = join.in_window
    join.query([feedback_row("r1", 2, t(1))])
    join.query([answer_row("r1", t(0), version="v9", model="bad\nmodel")])
    join.run()
    out = join.output()
    assert values(out, "NegativeFeedback", service=SERVICE, ModelId="unknown", PromptVersion="unversioned") == [100.0]


def test_no_ratings_still_reports_the_run(join: Join) -> None:
    join.query([])
    summary = join.run()
    out = join.output()
    assert summary["ratings"] == 0 and summary["negative_share"] is None
    assert len(join.queries) == 1  # no answer query for no ratings
    assert values(out, "FeedbackUnmatched", service=SERVICE) == [0.0]
    assert logs_with(out, "Feedback join")[0]["summary"]["joined"] == 0


def test_many_ratings_are_looked_up_in_chunks_under_the_query_limit(join: Join) -> None:
    t = join.in_window
    ids = [f"req-{i:04d}-" + "x" * 100 for i in range(300)]
    join.query([feedback_row(rid, 5, t(1)) for rid in ids])
    chunks = join.handler.id_chunks(join.handler.get_config().schema, ids)
    assert len(chunks) > 2
    for index, chunk in enumerate(chunks):
        join.query([answer_row(rid, t(0)) for rid in chunk], query_id=f"b{index}")
    summary = join.run()
    assert summary["joined"] == 300
    assert all(len(q["queryString"]) <= 10_000 for q in join.queries)
    assert len(join.queries) == 1 + len(chunks)


def test_out_of_time_look_ups_leave_their_ratings_out_of_both_counts(join: Join) -> None:
    t = join.in_window
    ids = [f"req-{i:04d}-" + "y" * 200 for i in range(100)]
    join.query([feedback_row(rid, 1, t(1)) for rid in ids])
    chunks = join.handler.id_chunks(join.handler.get_config().schema, ids)
    join.query([answer_row(rid, t(0)) for rid in chunks[0]], query_id="b0")
    calls = iter([600_000, 600_000, 20_000])  # the first query, the first chunk, then too little for the next
    run = join.handler.run_join(join.handler.get_config(), join.logs.client, join.now, "r", lambda: next(calls, 20_000))
    assert run.not_looked_up == len(ids) - len(chunks[0])
    assert (len(run.joined), len(run.unmatched)) == (len(chunks[0]), 0)
    assert run.summary()["not_looked_up"] == len(ids) - len(chunks[0])


def test_a_truncated_query_is_logged_and_what_it_returned_is_used(join: Join) -> None:
    t = join.in_window
    join.query([feedback_row("r1", 5, t(1))], matched=25_000)
    join.query([answer_row("r1", t(0))])
    summary = join.run()
    out = join.output()
    assert summary["truncated_queries"] == ["feedback"] and summary["joined"] == 1
    (warning,) = [line for line in out if str(line.get("message", "")).startswith("More feedback lines")]
    assert warning["matched"] == 25_000


# --- Faults -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_a_failed_query_fails_the_run_before_anything_is_emitted(join: Join, status: str) -> None:
    t = join.in_window
    join.query([feedback_row("r1", 1, t(1))])
    join.query([], status=status)
    with pytest.raises(join.handler.FeedbackJoinFailed, match=rf"failed \({status}\); nothing was emitted"):
        join.run()
    out = join.output()
    assert not blobs(out)
    (error,) = logs_with(out, "Feedback join failed: a Logs Insights query did not complete")
    assert error["error_code"] == status and "Traceback" not in json.dumps(out)


@pytest.mark.parametrize("code", ["LimitExceededException", "AccessDeniedException", "ThrottlingException",
                                  "ResourceNotFoundException"])  # fmt: skip
def test_throttling_and_access_errors_fail_the_run_cleanly(join: Join, code: str) -> None:
    join.logs.add_client_error("start_query", service_error_code=code, http_status_code=400)
    with pytest.raises(join.handler.FeedbackJoinFailed) as error:
        join.run()
    assert code in str(error.value) and error.value.__cause__ is None and error.value.__suppress_context__
    assert not blobs(join.output())


def test_a_query_past_its_deadline_is_stopped(join: Join, handler: ModuleType) -> None:
    join.logs.add_response("start_query", {"queryId": "slow"}, None)
    for _ in range(3):
        join.logs.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": "slow"})
    join.logs.add_response("stop_query", {"success": True}, {"queryId": "slow"})
    ticks = iter(range(0, 100_000, 100))  # each poll sees 100 s pass: the 240 s deadline comes on the third
    with pytest.raises(handler.FeedbackJoinFailed, match="DeadlineExceeded"):
        handler.run_join(handler.get_config(), join.logs.client, join.now, "r", sleep=lambda _: None,
                         clock=lambda: float(next(ticks)))  # fmt: skip


def test_invalid_configuration_lists_every_problem(handler: ModuleType) -> None:
    with pytest.raises(handler.FeedbackConfigError) as error:
        handler.load_config({"LOG_GROUP_NAMES": "[]", "LOG_SCHEMA": json.dumps({**SCHEMA, "feedback_score": None}),
                             "FEEDBACK_LOOKBACK_HOURS": "169", "FEEDBACK_WINDOW_MINUTES": "abc",
                             "PROMPT_LOGGING": "verbose"})  # fmt: skip
    problems = error.value.problems
    assert len(problems) == 5
    assert problems[0] == "LOG_GROUP_NAMES must be a JSON list of 1 to 50 log group names."
    assert "LOG_SCHEMA lacks usable feedback_score" in problems[1]
    assert problems[2] == "FEEDBACK_LOOKBACK_HOURS must be a whole number from 1 to 168, got '169'."
    assert problems[3] == "FEEDBACK_WINDOW_MINUTES must be a whole number from 15 to 1440, got 'abc'."
    assert problems[4] == "PROMPT_LOGGING must be one of full, redacted, none, got 'verbose'."
    with pytest.raises(handler.FeedbackConfigError, match="LOG_SCHEMA is not valid JSON"):
        handler.load_config({"LOG_GROUP_NAMES": json.dumps(GROUPS), "LOG_SCHEMA": "{"})
    with pytest.raises(handler.FeedbackConfigError, match="marker_value"):
        handler.load_config(
            {"LOG_GROUP_NAMES": json.dumps(GROUPS), "LOG_SCHEMA": json.dumps({**SCHEMA, "marker_value": 'a"b'})}
        )
    config = handler.load_config({"LOG_GROUP_NAMES": json.dumps(GROUPS * 2), "LOG_SCHEMA": json.dumps(SCHEMA)})
    assert config.log_group_names == tuple(GROUPS) and config.prompt_logging == "none" and config.review_bucket is None


def test_the_handler_logs_a_bad_configuration_and_raises(join: Join) -> None:
    join.env(LOG_SCHEMA="[]")
    with pytest.raises(join.handler.FeedbackConfigError):
        join.run()
    (record,) = logs_with(join.output(), "Invalid feedback join configuration")
    assert record["configuration_problems"] == ["LOG_SCHEMA must be a JSON object."]


# --- Review set ------------------------------------------------------------------------------------------
def test_review_objects_hold_the_answer_as_logged_at_a_deterministic_key(join: Join) -> None:
    join.env(REVIEW_BUCKET=BUCKET)
    t = join.in_window
    rated = t(7)
    join.query([feedback_row("api-req-1", 1, rated, comment="Wrong, mail me at [EMAIL]"),
                feedback_row("odd/id?", 5, t(8))])  # fmt: skip
    join.query([answer_row("api-req-1", t(1), question="Refund for [EMAIL]?", answer="30 days [1]."),
                answer_row("odd/id?", t(2))])  # fmt: skip
    join.put(2)
    summary = join.run()
    out = join.output()
    assert summary["review_written"] == 2 and summary["review_failures"] == {}
    first, second = join.puts
    assert first["Key"] == f"feedback/{rated:%Y/%m/%d}/api-req-1.json"
    import hashlib

    assert second["Key"].endswith(hashlib.sha256(b"odd/id?").hexdigest() + ".json")
    document = json.loads(first["Body"])
    assert document == {
        "schema": 1, "request_id": "api-req-1", "rated_at": rated.replace(microsecond=rated.microsecond // 1000 * 1000)
        .isoformat().replace("+00:00", "Z"), "score": 1.0, "comment": "Wrong, mail me at [EMAIL]",
        "model_id": MODEL_A, "prompt_version": "v3", "question": "Refund for [EMAIL]?", "answer": "30 days [1].",
        "sources": [{"id": "s3://docs/refunds.md", "score": 0.82, "excerpt": "Refunds are issued within 30 days."},
                    {"id": "s3://docs/shipping.md", "score": 0.41}],
        "prompt_logging": "redacted",
    }  # fmt: skip
    assert values(out, "ReviewWriteFailures", service=SERVICE) == [0.0]


def test_a_none_prompt_logging_line_writes_no_text_fields(join: Join) -> None:
    join.env(REVIEW_BUCKET=BUCKET, PROMPT_LOGGING="redacted")
    t = join.in_window
    join.query([feedback_row("r1", 2, t(1), comment="secret comment")])
    join.query([answer_row("r1", t(0), question=None, answer=None, mode="none")])
    join.put()
    join.run()
    document = json.loads(join.puts[0]["Body"])
    assert document["prompt_logging"] == "none"
    assert not {"question", "answer", "comment"} & set(document)
    assert all("excerpt" not in source for source in document["sources"])
    assert "secret comment" not in join.puts[0]["Body"].decode()


def test_s3_access_denied_is_logged_once_counted_and_the_metrics_still_flush(join: Join) -> None:
    join.env(REVIEW_BUCKET=BUCKET)
    t = join.in_window
    join.query([feedback_row(f"r{i}", 1, t(i)) for i in range(1, 5)])
    join.query([answer_row(f"r{i}", t(0)) for i in range(1, 5)])
    join.put_error("AccessDenied")  # the first write fails; the rest are not tried
    summary = join.run()
    out = join.output()
    assert summary["review_failures"] == {"AccessDenied": 4} and summary["review_written"] == 0
    assert values(out, "ReviewWriteFailures", service=SERVICE) == [4.0]
    assert values(out, "NegativeFeedback", service=SERVICE) == [100.0] * 4
    assert len(logs_with(out, "Review object not written")) == 1


def test_a_transient_s3_error_costs_one_object(join: Join) -> None:
    join.env(REVIEW_BUCKET=BUCKET)
    t = join.in_window
    join.query([feedback_row(f"r{i}", 4, t(i)) for i in range(1, 4)])
    join.query([answer_row(f"r{i}", t(0)) for i in range(1, 4)])
    join.put()
    join.s3.add_client_error("put_object", service_error_code="InternalError", http_status_code=500)
    join.put()
    summary = join.run()
    assert summary["review_written"] == 2 and summary["review_failures"] == {"InternalError": 1}
    assert values(join.output(), "ReviewWriteFailures", service=SERVICE) == [1.0]


def test_review_writes_stop_when_time_runs_out(join: Join, handler: ModuleType) -> None:
    item = handler.Joined(handler.Rating("r1", 1.0, join.now), handler.Answer("r1", MODEL_A, "v1", join.now))
    writes = handler.write_reviews(join.s3.client, BUCKET, [item, item], "redacted", lambda: 1_000)
    assert (writes.written, dict(writes.failures)) == (0, {"OutOfTime": 2})


# --- Properties ---------------------------------------------------------------------------------------------
_ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=256)


@settings(max_examples=120, deadline=None, database=None)
@given(ids=st.lists(_ids.filter(lambda s: s.strip() and s.isprintable()), min_size=1, max_size=400))
def test_answer_queries_stay_under_the_limit_and_cover_every_id(handler: ModuleType, ids: list[str]) -> None:
    schema = handler.parse_schema(json.dumps(SCHEMA))
    queries = handler.answer_queries(schema, ids)
    chunks = handler.id_chunks(schema, ids)
    assert all(len(query) <= 10_000 for query in queries)
    assert len(queries) == len(chunks)
    assert [q for chunk in chunks for q in handler.answer_queries(schema, chunk)] == queries
    assert [i for chunk in chunks for i in chunk] == list(dict.fromkeys(ids))
    for query, chunk in zip(queries, chunks, strict=True):
        listed = query.split(" in [", 1)[1].rsplit("] | sort", 1)[0]
        assert listed == ", ".join(handler.logs_query.quote(i) for i in chunk)


@settings(max_examples=100, deadline=None, database=None)
@given(scores=st.lists(st.sampled_from([1, 2, 3, 4, 5, 1.5, 2.5]), min_size=1, max_size=250),
       min_ratings=st.integers(1, 20))  # fmt: skip
def test_negative_share_is_the_average_and_the_alarm_ignores_thin_hours(
    handler: ModuleType, scores: list[float], min_ratings: int
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    items = [handler.Joined(handler.Rating(f"r{i}", float(s), now), handler.Answer(f"r{i}", MODEL_A, "v1", now))
             for i, s in enumerate(scores)]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        handler.publish(items, 0, now, "run", None)
    lines = [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]
    emitted = values(lines, "NegativeFeedback", service=handler.SERVICE_NAME)
    n, share = len(emitted), sum(emitted) / len(emitted)
    assert n == len(scores)
    assert share == pytest.approx(100 * sum(s <= 2 for s in scores) / len(scores))
    by_version = values(lines, "FeedbackScore", service=handler.SERVICE_NAME, ModelId=MODEL_A, PromptVersion="v1")
    assert sorted(by_version) == sorted(float(s) for s in scores)
    # the alarm's IF(n >= min_ratings, share, 0): an hour with fewer ratings gives 0, never a breach
    datapoint = share if n >= min_ratings else 0
    assert datapoint == (share if len(scores) >= min_ratings else 0)
    assert n >= min_ratings or datapoint == 0


_cell = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=True), st.text(max_size=20),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))  # fmt: skip


@settings(max_examples=75, deadline=None, database=None)
@given(records=st.lists(st.fixed_dictionaries({}, optional={
    "message": st.sampled_from(["feedback", "ask", 3]), "feedback_request_id": _cell, "score": _cell,
    "comment": _cell, "correlation_id": _cell, "model_id": _cell, "prompt_version": _cell, "question": _cell,
    "retrieval": st.one_of(_cell, st.fixed_dictionaries({"passages": st.lists(st.dictionaries(
        st.sampled_from(["id", "score", "excerpt"]), _cell), max_size=3)})),
}), max_size=15), stamps=st.lists(st.one_of(st.text(max_size=25), st.just("2026-01-01 00:00:00.000")), max_size=15))  # fmt: skip
def test_arbitrary_lines_never_raise(handler: ModuleType, records: list[dict[str, Any]], stamps: list[str]) -> None:
    schema = handler.parse_schema(json.dumps(SCHEMA))
    default = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {"@message": json.dumps(r), **({"@timestamp": s} if s else {})} for r, s in zip(records, stamps + [""] * 20)
    ]
    ratings, dropped = handler.parse_ratings(rows, schema, default)
    assert len(ratings) + sum(dropped.values()) == len(rows)
    answers = handler.parse_answers(rows, schema, {r.request_id for r in ratings} | {"x"}, default)
    joined, unmatched = handler.join(ratings, answers)
    for item in joined:
        document = handler.review_object(item, "redacted")
        json.dumps(document)
        assert handler.review_key(item.rating).startswith("feedback/")
        assert 1 <= document["score"] <= 5
    assert len(joined) + len(unmatched) == len(ratings)
