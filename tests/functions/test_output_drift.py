"""The output-drift function (``functions/output_drift``) against stubbed ``logs`` and ``s3`` clients.

The handler is loaded as Lambda loads it (its folder and ``functions/_shared`` on ``sys.path``). The clients are
real boto3 clients under ``botocore.stub.Stubber`` (requests checked against the service models); EMF blobs and log
records are read back from stdout. The statistics are checked against ``scipy.stats`` (a test-only oracle).
"""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import scipy.stats
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime import telemetry as runtime_telemetry
from llm_observability.workload_facts import LogSchema
from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import CurrentStdout
from tests.functions.conftest import FUNCTIONS_DIR, SHARED_DIR
from tests.support.loader import load_file

DRIFT_DIR = FUNCTIONS_DIR / "output_drift"
SIBLINGS = ("drift_telemetry", "stats", "samples")
SERVICE = "drift-test"
NAMESPACE = "DriftTest"
BUCKET = "drift-state"
GROUP = "/aws/lambda/app"
JUDGE_GROUP = "/aws/lambda/judge"
DAY = date(2026, 11, 27)
MODEL = "amazon.nova-lite-v1:0"
SCHEMA = LogSchema.reference()


@pytest.fixture(scope="module")
def drift() -> Iterator[SimpleNamespace]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**OFFLINE_AWS_ENV, "POWERTOOLS_SERVICE_NAME": SERVICE,
                            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE, "POWERTOOLS_LOG_LEVEL": "INFO"}.items():  # fmt: skip
            patch.setenv(name, value)
        for name in ("POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        handler = load_file("output_drift_handler", DRIFT_DIR / "handler.py", search=[DRIFT_DIR, SHARED_DIR],
                            siblings=SIBLINGS)  # fmt: skip
        yield SimpleNamespace(handler=handler, stats=handler.stats, samples=handler.samples, t=handler.telemetry)


def config(drift: SimpleNamespace, **overrides: Any) -> Any:
    env = {
        "LOG_GROUP_NAMES": json.dumps([GROUP]),
        "LOG_SCHEMA": SCHEMA.document(),
        "STATE_BUCKET": BUCKET,
        "SIGNALS": json.dumps(["AnswerLength", "Refusal", "Grounding"]),
        "DRIFT_MIN_SAMPLES": "10",
        **overrides,
    }
    return drift.handler.load_config({k: v for k, v in env.items() if v is not None})


# --- Stubbed clients ---------------------------------------------------------------------------------------------------
def line(length: float | None = 200, *, model: str = MODEL, answer: str = "Three levels.", grounding: Any = 0.9,
         question: str = "What are the levels?", request_id: str = "r-1", **extra: Any) -> dict[str, Any]:  # fmt: skip
    record = {"message": "ask", "model_id": model, "correlation_id": request_id, "answer": answer,
              "question": question, "guardrail": {"grounding_score": grounding}, **extra}  # fmt: skip
    if length is not None:
        record["answer_chars"] = length
    return record


def judge_line(relevance: Any = 4, *, model: str = MODEL, request_id: str = "r-1") -> dict[str, Any]:
    return {"message": "judge_result", "request_id": request_id, "model_id": model, "prompt_version": "v1",
            "rubric_version": "1", "scores": {"relevance": relevance, "faithfulness": 5, "coherence": 3,
                                              "harmful": False}}  # fmt: skip


def _cells(message: Any) -> list[dict[str, str]]:
    text = message if isinstance(message, str) else json.dumps(message)
    return [{"field": "@timestamp", "value": "2026-11-27 10:00:00.000"}, {"field": "@message", "value": text}]


class Logs:
    """Queues the answers of one day's hourly queries on a stubbed ``logs`` client."""

    def __init__(self, stub: Stubber) -> None:
        self.stub = stub
        self.count = 0

    def hour(self, rows: list[Any], *, matched: int | None = None, groups: list[str] | None = None,
             error: str | None = None, status: str = "Complete") -> None:  # fmt: skip
        self.count += 1
        query_id = f"q-{self.count}"
        if error:
            self.stub.add_client_error("start_query", service_error_code=error, http_status_code=400)
            return
        self.stub.add_response("start_query", {"queryId": query_id},
                               {"logGroupNames": groups or [GROUP], "startTime": ANY, "endTime": ANY,
                                "queryString": ANY, "limit": 10_000})  # fmt: skip
        body: dict[str, Any] = {"status": status, "results": [_cells(r) for r in rows] if status == "Complete" else []}
        body["statistics"] = {"recordsMatched": float(len(rows) if matched is None else matched)}
        self.stub.add_response("get_query_results", body, {"queryId": query_id})

    def day(self, rows_of_hour: Callable[[int], list[Any]], judge: Callable[[int], list[Any]] | None = None) -> None:
        for hour in range(24):
            self.hour(rows_of_hour(hour))
            if judge is not None:
                self.hour(judge(hour), groups=[JUDGE_GROUP])


class S3:
    """A stubbed ``s3`` client that answers the run's PutObject and then its GetObject of each baseline day."""

    def __init__(self, client: Any, stub: Stubber) -> None:
        self.client, self.stub = client, stub
        self.store: dict[str, bytes | str] = {}  # key -> body, or the error code a GetObject of it gets
        self.puts: list[dict[str, Any]] = []
        client.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: self.puts.append(params))

    def expect_run(self, day: date, days: int = 7, put_error: str | None = None, put: bool = True) -> None:
        if put_error:
            self.stub.add_client_error("put_object", service_error_code=put_error, http_status_code=403)
        elif put:  # (no PutObject when nothing was read)
            self.stub.add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"samples/{SERVICE}/{day}.json",
                                                      "Body": ANY, "ContentType": "application/json"})  # fmt: skip
        for back in range(1, days + 1):
            key = f"samples/{SERVICE}/{day - timedelta(days=back)}.json"
            stored = self.store.get(key, "NoSuchKey")
            if isinstance(stored, str) and not stored.startswith("{"):
                self.stub.add_client_error("get_object", service_error_code=stored, http_status_code=404)
            else:
                raw = stored.encode() if isinstance(stored, str) else stored
                self.stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(raw), len(raw))},
                                       {"Bucket": BUCKET, "Key": key})  # fmt: skip

    def put_day(self, drift: SimpleNamespace, day: date, values: dict[tuple[str, str], list[float]]) -> None:
        document = drift.samples.sample_document(SERVICE, day, values, {})
        self.store[f"samples/{SERVICE}/{day}.json"] = json.dumps(document)

    def stored(self) -> dict[str, Any]:
        (put,) = self.puts
        body = put["Body"]
        return json.loads(body.getvalue() if hasattr(body, "getvalue") else body)


@pytest.fixture
def env(drift: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    logs_client = boto3.client("logs", region_name="us-east-1")
    s3_client = boto3.client("s3", region_name="us-east-1")
    monkeypatch.setattr(drift.handler.logger.registered_handler, "stream", CurrentStdout())
    with Stubber(logs_client) as logs_stub, Stubber(s3_client) as s3_stub:
        harness = SimpleNamespace(logs=Logs(logs_stub), s3=S3(s3_client, s3_stub), logs_client=logs_client,
                                  s3_client=s3_client, capsys=capsys)  # fmt: skip

        def run(cfg: Any, day: date = DAY, remaining: Callable[[], int] | None = None) -> dict[str, Any]:
            capsys.readouterr()
            return drift.handler.run(cfg, logs_client, s3_client, day, remaining, sleep=lambda _: None)

        def output() -> list[dict[str, Any]]:
            return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]

        harness.run, harness.output = run, output
        yield harness
        logs_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
    drift.handler.reset_state()


def blobs(lines: list[dict[str, Any]]) -> list[tuple[dict[str, str], dict[str, Any]]]:
    found = []
    for record in lines:
        if "_aws" in record:
            directive = record["_aws"]["CloudWatchMetrics"][0]
            assert directive["Namespace"] == NAMESPACE
            dims = {name: record[name] for name in directive["Dimensions"][0]}
            values = {m["Name"]: record[m["Name"]] for m in directive["Metrics"]}
            values = {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in values.items()}
            found.append((dims, {m["Name"]: (values[m["Name"]], m["Unit"]) for m in directive["Metrics"]}))
    return found


def logs_with(lines: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [r for r in lines if r.get("message") == message and "_aws" not in r]


def baseline_values(seed: int, mean: float = 200, n: int = 300) -> dict[tuple[str, str], list[float]]:
    rng = random.Random(seed)
    return {(MODEL, "AnswerLength"): [max(0.0, rng.gauss(mean, 40)) for _ in range(n)],
            (MODEL, "Refusal"): [float(rng.random() < 0.1) for _ in range(n)]}  # fmt: skip


def day_rows(mean: float, seed: int) -> Callable[[int], list[Any]]:
    rng = random.Random(seed)

    def rows(hour: int) -> list[Any]:
        return [line(max(0.0, rng.gauss(mean, 40)), answer="I don't know." if rng.random() < 0.1 else "Three.",
                     question=f"question {hour} {i}") for i in range(15)]  # fmt: skip

    return rows


# --- Statistics against scipy ------------------------------------------------------------------------------------------
samples_with_ties = st.lists(st.one_of(st.integers(-3, 3).map(float), st.floats(-1e6, 1e6, allow_nan=False)),
                             min_size=1, max_size=300)  # fmt: skip


# scipy falls back from its exact p-value to the asymptotic one on some samples; the statistic compared here is the
# same either way (ks_2samp's statistic does not depend on the method).
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
@settings(max_examples=150, deadline=None, database=None)
@given(samples_with_ties, samples_with_ties)
def test_ks_is_scipy_ks_2samp(drift: SimpleNamespace, a: list[float], b: list[float]) -> None:
    assert abs(drift.stats.ks(a, b) - scipy.stats.ks_2samp(a, b).statistic) <= 1e-12


def test_ks_and_psi_on_shifted_and_unshifted_normal_samples(drift: SimpleNamespace) -> None:
    rng = random.Random(3)
    base = [rng.gauss(0, 1) for _ in range(500)]
    shifted = [rng.gauss(0.5, 1) for _ in range(500)]
    same = [rng.gauss(0, 1) for _ in range(500)]
    s = drift.stats
    assert s.ks(base, shifted) == pytest.approx(scipy.stats.ks_2samp(base, shifted).statistic, abs=1e-12)
    assert s.ks(base, shifted) > 0.15 and s.psi(base, shifted) > 0.1
    assert s.psi(base, same) < 0.1 and s.ks(base, same) < s.ks_critical(500, 500, 0.01)
    assert s.ks_critical(500, 500, 0.01) == pytest.approx(1.6276 * math.sqrt(2 / 500), rel=1e-3)


@settings(max_examples=150, deadline=None, database=None)
@given(samples_with_ties, samples_with_ties)
def test_psi_properties(drift: SimpleNamespace, a: list[float], b: list[float]) -> None:
    s = drift.stats
    assert s.psi(a, b) >= 0
    assert s.psi(a, a) == pytest.approx(0, abs=1e-12)
    edges = s.bin_edges(a)
    e, c = s.shares(a, edges), s.shares(b, edges)
    assert s.psi_from_shares(e, c) == pytest.approx(s.psi_from_shares(c, e), rel=1e-12, abs=1e-12)
    assert len(e) <= s.PSI_BINS and sum(e) == pytest.approx(1)
    # A strictly increasing transform moves the decile edges with the data: same bins, same index.
    # (exact in floating point: scaling by 4, and the rank of each value among all values, squared)
    ranks = {x: float(i) ** 2 for i, x in enumerate(sorted(set(a) | set(b)))}
    for transform in (lambda x: 4.0 * x, ranks.__getitem__):
        assert s.psi([transform(x) for x in a], [transform(x) for x in b]) == s.psi(a, b)


def test_psi_bins_discrete_data_and_empty_bins(drift: SimpleNamespace) -> None:
    s = drift.stats
    assert s.bin_edges([0.0] * 90 + [1.0] * 10) == [0.0]  # two bins for a 0/1 signal
    assert s.bin_edges([5.0] * 10) == [5.0]
    expected = 0.2 * math.log(0.3 / 0.1) + (0.7 - 0.9) * math.log(0.7 / 0.9)
    assert s.psi([0.0] * 90 + [1.0] * 10, [0.0] * 70 + [1.0] * 30) == pytest.approx(expected)
    assert math.isfinite(s.psi([0.0] * 100, [1.0] * 100)) and s.psi([0.0] * 100, [1.0] * 100) > 5  # floored shares
    with pytest.raises(ValueError):
        s.psi([], [1.0])
    with pytest.raises(ValueError):
        s.ks([1.0], [float("nan")])
    with pytest.raises(ValueError):
        s.psi_from_shares([0.5, 0.5], [1.0, 0.0])


def test_the_sample_is_deterministic_per_date(drift: SimpleNamespace) -> None:
    values = [float(i % 997) for i in range(5000)]
    rng = random.Random(1)
    shuffled = values[:]
    rng.shuffle(shuffled)
    one = drift.samples.day_samples(SERVICE, DAY, {(MODEL, "AnswerLength"): values})
    two = drift.samples.day_samples(SERVICE, DAY, {(MODEL, "AnswerLength"): shuffled})
    other = drift.samples.day_samples(SERVICE, DAY + timedelta(days=1), {(MODEL, "AnswerLength"): values})
    assert one == two and len(one[(MODEL, "AnswerLength")]) == drift.t.SAMPLE_SIZE
    assert one != other
    small = drift.samples.day_samples(SERVICE, DAY, {(MODEL, "Refusal"): [1.0, 0.0], (MODEL, "Grounding"): []})
    assert small == {(MODEL, "Refusal"): [0.0, 1.0]}


# --- Runs --------------------------------------------------------------------------------------------------------------
def test_a_shifted_day_drifts_and_the_sample_is_stored(drift: SimpleNamespace, env: Any) -> None:
    for back in range(1, 8):
        env.s3.put_day(drift, DAY - timedelta(days=back), baseline_values(back))
    env.logs.day(day_rows(mean=320, seed=1))
    env.s3.expect_run(DAY)

    summary = env.run(config(drift))

    out = env.output()
    (result,) = [r for r in logs_with(out, "drift_result") if r["signal"] == "AnswerLength"]
    assert result["model"] == MODEL and result["statistic"] == "psi" and result["psi"] > 0.25 and result["ks"] > 0.5
    assert result["baseline_n"] == 2100 and result["current_n"] == 360 and result["baseline_days"] == 7
    assert result["current_mean"] == pytest.approx(320, abs=10) and result["baseline_mean"] == pytest.approx(200, abs=5)
    by_dims = dict((tuple(sorted(d.items())), m) for d, m in blobs(out))
    drift_blob = by_dims[(("ModelId", MODEL), ("Signal", "AnswerLength"), ("service", SERVICE))]
    assert drift_blob == {"OutputDrift": (result["psi"], "None")}
    service_blob = by_dims[(("service", SERVICE),)]
    assert service_blob["OutputDriftMax"] == (summary["max_drift"], "None") and summary["max_drift"] >= result["psi"]
    assert service_blob["QuestionsAnalyzed"] == (360.0, "Count") and service_blob["DistinctQuestions"] == (
        360.0,
        "Count",
    )
    assert service_blob["NearDuplicateShare"][1] == "Percent"
    assert summary["compared"] == 2 and summary["sample_stored"] and summary["queries_ok"] == 24
    stored = env.s3.stored()
    assert stored["date"] == DAY.isoformat() and stored["models"][MODEL]["AnswerLength"]["count"] == 360
    assert len(stored["models"][MODEL]["Refusal"]["values"]) == 360
    assert "question" not in json.dumps(stored) and "Three" not in json.dumps(stored)  # numbers only, never text
    # Grounding has values today but none in the baseline: skipped, and stored for the days to come.
    (skipped,) = logs_with(out, "drift_skipped")
    assert (skipped["signal"], skipped["reason"], skipped["baseline_days"]) == ("Grounding", "insufficient", 0)
    assert stored["models"][MODEL]["Grounding"]["values"] == [0.9] * 360


def test_an_unshifted_day_stays_below_the_thresholds_with_ks(drift: SimpleNamespace, env: Any) -> None:
    for back in range(1, 8):
        env.s3.put_day(drift, DAY - timedelta(days=back), baseline_values(back))
    env.logs.day(day_rows(mean=200, seed=2))
    env.s3.expect_run(DAY)

    env.run(config(drift, DRIFT_STATISTIC="ks", DIVERSITY="false"))

    out = env.output()
    (result,) = [r for r in logs_with(out, "drift_result") if r["signal"] == "AnswerLength"]
    assert result["statistic"] == "ks" and result["value"] == result["ks"] and result["psi"] < 0.1
    assert result["ks"] < result["ks_critical_1pct"]
    assert not logs_with(out, "prompt_diversity")
    service_blob = [m for d, m in blobs(out) if d == {"service": SERVICE}][0]
    assert set(service_blob) == {"OutputDriftMax"}


def test_a_baseline_of_too_few_days_is_skipped_as_insufficient(drift: SimpleNamespace, env: Any) -> None:
    for back in (1, 2):
        env.s3.put_day(drift, DAY - timedelta(days=back), baseline_values(back))
    env.logs.day(day_rows(mean=320, seed=1))
    env.s3.expect_run(DAY)

    summary = env.run(config(drift, DIVERSITY="false"))

    out = env.output()
    skipped = {r["signal"]: r for r in logs_with(out, "drift_skipped")}
    assert skipped["AnswerLength"]["reason"] == "insufficient" and skipped["AnswerLength"]["baseline_days"] == 2
    assert not logs_with(out, "drift_result") and blobs(out) == [] and summary["max_drift"] is None


def test_the_baseline_skips_a_missing_day_and_a_corrupt_object(drift: SimpleNamespace, env: Any) -> None:
    for back in (1, 3, 5):
        env.s3.put_day(drift, DAY - timedelta(days=back), baseline_values(back))
    env.s3.store[f"samples/{SERVICE}/{DAY - timedelta(days=2)}.json"] = b"{not json"
    env.s3.store[f"samples/{SERVICE}/{DAY - timedelta(days=4)}.json"] = json.dumps(
        {"version": 1, "models": {MODEL: {"AnswerLength": {"values": [1, "x"]}}}}
    )
    env.s3.store[f"samples/{SERVICE}/{DAY - timedelta(days=6)}.json"] = "AccessDenied"
    env.logs.day(day_rows(mean=200, seed=4))
    env.s3.expect_run(DAY)

    env.run(config(drift, DIVERSITY="false"))

    out = env.output()
    (result,) = [r for r in logs_with(out, "drift_result") if r["signal"] == "AnswerLength"]
    assert result["baseline_days"] == 3 and result["baseline_n"] == 900
    unreadable = logs_with(out, "Drift baseline day unreadable")
    assert {r["key"][-15:-5] for r in unreadable} == {str(DAY - timedelta(days=2)), str(DAY - timedelta(days=4))}
    missing = {r["key"][-15:-5]: r for r in logs_with(out, "Drift baseline day missing")}
    assert missing[str(DAY - timedelta(days=6))]["aws_error_code"] == "AccessDenied"
    assert missing[str(DAY - timedelta(days=7))]["aws_error_code"] == "NoSuchKey"


def test_canary_requests_and_bad_lines_are_skipped(drift: SimpleNamespace, env: Any) -> None:
    hostile = [
        "not json", "[1, 2]", json.dumps({"message": "ask"}),  # no model
        line(-5), line("200"), line(True), line(200, grounding=1.5), line(200, grounding=float("inf")),
        line(200, model=""), line(200, model="x" * 300), line(200, answer=None, question=None),
    ]  # fmt: skip

    def rows(hour: int) -> list[Any]:
        canary = [line(99_999, request_id=f"canary-run-{hour}-q{i}") for i in range(5)]
        return [*canary, *hostile, *[line(200 + i, question=f"q {i}") for i in range(3)]]

    env.logs.day(rows)
    env.s3.expect_run(DAY)

    summary = env.run(config(drift))

    stored = env.s3.stored()["models"][MODEL]
    lengths = stored["AnswerLength"]["values"]
    # Lengths: 3 good lines, and the lines whose grounding or text is unusable (their length still counts).
    assert max(lengths) < 99_999 and stored["AnswerLength"]["count"] == 24 * 6
    assert stored["Grounding"]["count"] == 24 * 7 and stored["Refusal"]["count"] == 24 * 8
    assert summary["canary_lines"] == 24 * 5 and summary["bad_lines"] == 24 * 3
    assert "x" * 300 not in stored


def test_judge_scores_are_signals_per_model(drift: SimpleNamespace, env: Any) -> None:
    base = {(MODEL, "JudgeRelevance"): [4.0] * 60 + [5.0] * 40, (MODEL, "JudgeCoherence"): [3.0] * 100}
    for back in range(1, 4):
        env.s3.put_day(drift, DAY - timedelta(days=back), base)
    legacy = {k: v for k, v in judge_line(2).items() if k != "model_id"} | {"model": MODEL}  # the brief's field name
    env.logs.day(lambda h: [], judge=lambda h: [judge_line(2), judge_line("5"), judge_line(9),
                                                judge_line(2, request_id="canary-x"), {"message": "judge_result"},
                                                {**judge_line(2), "model_id": None}, legacy])  # fmt: skip
    env.s3.expect_run(DAY, days=3)

    summary = env.run(config(drift, SIGNALS='["JudgeRelevance", "JudgeCoherence"]', JUDGE_LOG_GROUP=JUDGE_GROUP,
                             DRIFT_BASELINE_DAYS="3"))  # fmt: skip

    out = env.output()
    results = {r["signal"]: r for r in logs_with(out, "drift_result")}
    assert results["JudgeRelevance"]["current_mean"] == 2.0 and results["JudgeRelevance"]["psi"] > 1
    assert results["JudgeCoherence"]["psi"] == pytest.approx(0, abs=1e-12)
    assert results["JudgeRelevance"]["current_n"] == 48  # judge_line(2) and the legacy line, each hour
    assert summary["canary_lines"] == 24 and summary["bad_lines"] == 48 and summary["queries_ok"] == 48


# --- Faults ------------------------------------------------------------------------------------------------------------
def test_failed_throttled_and_truncated_hours_are_logged_and_the_rest_is_used(drift: SimpleNamespace, env: Any) -> None:
    for hour in range(24):
        if hour == 0:
            env.logs.hour([], error="ThrottlingException")
        elif hour == 1:
            env.logs.hour([], error="AccessDeniedException")
        elif hour == 2:
            env.logs.hour([], status="Failed")
        elif hour == 3:
            env.logs.hour([line(100)] * 2, matched=50_000)
        else:
            env.logs.hour([line(100)])
    env.s3.expect_run(DAY)

    summary = env.run(config(drift))

    out = env.output()
    failed = logs_with(out, "Drift query failed")
    assert [(r["error"], r.get("aws_error_code"), r.get("status")) for r in failed] == [
        ("ThrottlingException", "ThrottlingException", None), ("AccessDeniedException", "AccessDeniedException", None),
        ("QueryFailed", None, "Failed"),
    ]  # fmt: skip
    (truncated,) = logs_with(out, "Drift query truncated: the hour is used as a sample")
    assert truncated["matched"] == 50_000 and truncated["returned"] == 2
    assert summary["queries_failed"] == 3 and summary["truncated_hours"] == 1 and summary["queries_ok"] == 21
    assert env.s3.stored()["models"][MODEL]["AnswerLength"]["count"] == 22


def test_no_successful_query_fails_the_run_without_storing(drift: SimpleNamespace, env: Any) -> None:
    for _ in range(24):
        env.logs.hour([], error="AccessDeniedException")
    env.s3.expect_run(DAY, put=False)
    with pytest.raises(drift.handler.DriftRunFailed, match="no log query succeeded"):
        env.run(config(drift))
    assert env.s3.puts == []
    assert logs_with(env.output(), "Drift run failed")[0]["summary"]["queries_failed"] == 24


def test_a_sample_s3_refuses_fails_the_run_after_publishing(drift: SimpleNamespace, env: Any) -> None:
    for back in range(1, 8):
        env.s3.put_day(drift, DAY - timedelta(days=back), baseline_values(back))
    env.logs.day(day_rows(mean=320, seed=1))
    env.s3.expect_run(DAY, put_error="AccessDenied")
    with pytest.raises(drift.handler.DriftRunFailed, match="could not be stored"):
        env.run(config(drift, DIVERSITY="false"))
    out = env.output()
    assert logs_with(out, "Drift samples not stored")[0]["aws_error_code"] == "AccessDenied"
    assert any("OutputDriftMax" in m for _, m in blobs(out))  # published before failing


def test_queries_stop_when_the_invocation_runs_out_of_time(drift: SimpleNamespace, env: Any) -> None:
    left = iter([600_000] * 5 + [10_000] * 100)
    for _ in range(5):
        env.logs.hour([line(100)])
    env.s3.expect_run(DAY)
    summary = env.run(config(drift), remaining=lambda: next(left))
    assert summary["queries_ok"] == 5 and summary["queries_skipped"] == 19
    assert logs_with(env.output(), "Drift queries skipped: not enough time left")[0]["skipped"] == 19


def test_a_query_past_its_deadline_is_stopped(
    drift: SimpleNamespace, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift.handler, "QUERY_TIMEOUT_S", 0.0)
    stub = env.logs.stub
    for hour in range(24):
        stub.add_response("start_query", {"queryId": f"q{hour}"})
        stub.add_response("get_query_results", {"status": "Running", "results": []})
        stub.add_response("stop_query", {"success": True})
    env.s3.expect_run(DAY, put=False)
    with pytest.raises(drift.handler.DriftRunFailed):
        env.run(config(drift))
    failed = logs_with(env.output(), "Drift query failed")
    assert len(failed) == 24 and {r["status"] for r in failed} == {"DeadlineExceeded"}


# --- Configuration and entry point -------------------------------------------------------------------------------------
def test_configuration_defaults_and_problems(drift: SimpleNamespace) -> None:
    cfg = config(drift, SIGNALS=None, DRIFT_MIN_SAMPLES=None)
    assert cfg.signals == ("AnswerLength", "Refusal", "Grounding") and cfg.baseline_days == 7
    assert cfg.statistic == "psi" and cfg.min_samples == 50 and cfg.diversity and cfg.jaccard == 0.8
    assert cfg.schema.grounding_score == "guardrail.grounding_score" and cfg.log_group_names == (GROUP,)
    assert config(drift, SIGNALS=None, JUDGE_LOG_GROUP=JUDGE_GROUP).signals[-3:] == (
        "JudgeRelevance", "JudgeFaithfulness", "JudgeCoherence")  # fmt: skip
    with pytest.raises(drift.handler.DriftConfigError) as caught:
        drift.handler.load_config({"LOG_GROUP_NAMES": "[]", "LOG_SCHEMA": "{bad", "DRIFT_STATISTIC": "mean",
                                    "DRIFT_BASELINE_DAYS": "2.5", "DRIFT_MIN_SAMPLES": "5", "DIVERSITY": "maybe",
                                    "NEAR_DUPLICATE_JACCARD": "0.1", "SIGNALS": '["Judge"]'})  # fmt: skip
    text = " ".join(caught.value.problems)
    for name in ("LOG_GROUP_NAMES", "LOG_SCHEMA", "STATE_BUCKET", "DRIFT_STATISTIC", "DRIFT_BASELINE_DAYS",
                 "DRIFT_MIN_SAMPLES", "DIVERSITY", "NEAR_DUPLICATE_JACCARD", "SIGNALS"):  # fmt: skip
        assert name in text
    with pytest.raises(drift.handler.DriftConfigError, match="JUDGE_LOG_GROUP is required"):
        config(drift, SIGNALS='["JudgeRelevance"]')


def test_the_day_is_the_one_before_the_event(drift: SimpleNamespace) -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    day_of = drift.handler.day_of
    assert day_of({"time": "2026-11-28T01:15:00Z"}, now) == DAY
    assert day_of({"date": "2026-11-20"}, now) == date(2026, 11, 20)
    assert day_of({"time": "yesterday"}, now) == date(2026, 11, 30)
    assert day_of(None, now) == date(2026, 11, 30)
    with pytest.raises(drift.handler.DriftConfigError, match="YYYY-MM-DD"):
        day_of({"date": "20/11/2026"}, now)


def test_the_handler_runs_a_scheduled_event(drift: SimpleNamespace, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"LOG_GROUP_NAMES": json.dumps([GROUP]), "LOG_SCHEMA": SCHEMA.document(),
                        "STATE_BUCKET": BUCKET}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    drift.handler.reset_state()
    drift.handler.set_client("logs", env.logs_client)
    drift.handler.set_client("s3", env.s3_client)
    monkeypatch.setattr(drift.handler.logs_query.time, "sleep", lambda _: None)
    env.logs.day(lambda h: [line(100)])
    env.s3.expect_run(DAY)
    context = SimpleNamespace(function_name="drift", memory_limit_in_mb=1024, aws_request_id="req-1",
                              invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:drift",
                              get_remaining_time_in_millis=lambda: 900_000)  # fmt: skip
    summary = drift.handler.lambda_handler({"time": "2026-11-28T01:15:00Z", "detail": {}}, context)
    assert summary["date"] == DAY.isoformat() and summary["queries_ok"] == 24 and summary["sample_stored"]
    with pytest.raises(ValueError, match="logs or s3"):
        drift.handler.set_client("sqs", None)


def test_the_vocabulary_matches_the_runtime_and_the_fixed_names(drift: SimpleNamespace) -> None:
    t = drift.t
    assert (t.DIM_SERVICE, t.DIM_MODEL_ID, t.DIM_SIGNAL) == (
        runtime_telemetry.DIM_SERVICE, runtime_telemetry.DIM_MODEL_ID, runtime_telemetry.DIM_SIGNAL)  # fmt: skip
    assert t.JUDGE_MARKER_VALUE == runtime_telemetry.LOG_MESSAGE_JUDGE
    assert (t.ENV_DRIFT_BASELINE_DAYS, t.ENV_DRIFT_STATISTIC, t.ENV_LOG_GROUP_NAMES, t.ENV_LOG_SCHEMA) == (
        "DRIFT_BASELINE_DAYS", "DRIFT_STATISTIC", "LOG_GROUP_NAMES", "LOG_SCHEMA")  # fmt: skip
    from llm_observability.functions.quality_canary import canary_telemetry

    assert t.CANARY_REQUEST_ID_PREFIX == canary_telemetry.REQUEST_ID_PREFIX + "-"
    assert set(t.SIGNALS) == {*t.APP_SIGNALS, *t.JUDGE_SIGNALS} and len(t.SIGNALS) == 6
