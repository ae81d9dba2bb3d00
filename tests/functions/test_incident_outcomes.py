"""Incident-outcomes Lambda (functions/incident_outcomes/handler.py): time to detect, time to resolve and minutes of
impact from CloudWatch alarm state changes.

The handler is loaded under a unique module name with its folder on ``sys.path`` only while it loads (as the
canary's tests do). A recorded sequence of alarm state changes (``tests/data/alarm_sequence.json``) must give exactly
the expected metrics; hypothesis feeds it arbitrary details (it never raises) and checks the arithmetic. EMF blobs
and log lines are read back from captured stdout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime import telemetry as runtime_telemetry
from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import CurrentStdout
from tests.support.loader import load_file

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "incident_outcomes"
SEQUENCE = json.loads((Path(__file__).resolve().parents[1] / "data" / "alarm_sequence.json").read_text())["events"]
SERVICE = "outcomes-test-workload"
NAMESPACE = "OutcomesTest"
#: The recorded events are of 2025-06-01: a clock that afternoon keeps their timestamps within CloudWatch's window.
RECORDED_NOW = datetime(2025, 6, 1, 16, 0, tzinfo=UTC)


@dataclass
class LambdaContext:
    function_name: str = "incident-outcomes"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:incident-outcomes"
    aws_request_id: str = "5d0c4e8a-1b2f-4f0e-9c3d-2a1b0c9d8e7f"


@dataclass(frozen=True)
class Blob:
    dimensions: dict[str, str]
    metrics: dict[str, tuple[str, float]]  # name -> (unit, value)
    timestamp: int


@dataclass
class Output:
    lines: list[dict[str, Any]]

    @property
    def blobs(self) -> list[Blob]:
        found = []
        for line in self.lines:
            if "_aws" not in line:
                continue
            (directive,) = line["_aws"]["CloudWatchMetrics"]
            assert directive["Namespace"] == NAMESPACE
            (names,) = directive["Dimensions"]
            metrics = {}
            for definition in directive["Metrics"]:
                value = line[definition["Name"]]
                (value,) = value if isinstance(value, list) else [value]
                metrics[definition["Name"]] = (definition["Unit"], value)
            found.append(Blob({n: line[n] for n in names}, metrics, line["_aws"]["Timestamp"]))
        return found

    @property
    def outcome_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("message") == "alarm_outcome"]


@pytest.fixture(scope="module")
def handler() -> Iterator[ModuleType]:
    """The handler with the workload's Powertools settings, for this module only."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**OFFLINE_AWS_ENV, "POWERTOOLS_SERVICE_NAME": SERVICE,
                            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE, "POWERTOOLS_LOG_LEVEL": "INFO"}.items():  # fmt: skip
            patch.setenv(name, value)
        for name in ("POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED"):
            patch.delenv(name, raising=False)
        module = load_file(
            "incident_outcomes_handler",
            FUNCTION_DIR / "handler.py",
            search=[FUNCTION_DIR],
            siblings=("outcomes_telemetry",),
        )
        yield module


@pytest.fixture
def run(handler: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """``run(event) -> (returned fields, Output)`` with the clock at RECORDED_NOW."""
    monkeypatch.setattr(handler.logger.registered_handler, "stream", CurrentStdout())
    handler.set_clock(lambda: RECORDED_NOW)

    def _run(event: Any) -> tuple[dict[str, Any], Output]:
        capsys.readouterr()
        fields = handler.lambda_handler(event, LambdaContext())
        raw = capsys.readouterr().out
        return fields, Output([json.loads(line) for line in raw.splitlines() if line.startswith("{")])

    yield _run
    handler.reset_state()


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("+0000", "+00:00")).timestamp() * 1000)


# --- The recorded sequence ------------------------------------------------------------------------------------------
def test_the_vocabulary_matches_the_runtime(handler: ModuleType) -> None:
    t = handler.telemetry
    assert (t.DIM_SERVICE, t.DIM_SEVERITY) == (runtime_telemetry.DIM_SERVICE, runtime_telemetry.DIM_SEVERITY)
    assert t.DEFAULT_NAMESPACE == runtime_telemetry.DEFAULT_NAMESPACE
    assert t.SEVERITIES == ("high", "low", "unclassified")


@pytest.mark.parametrize("recorded", SEQUENCE, ids=[r["name"] for r in SEQUENCE])
def test_the_recorded_sequence_gives_exactly_the_expected_metrics(run: Any, recorded: dict[str, Any]) -> None:
    expected = recorded["expected"]
    fields, output = run(recorded["event"])
    (line,) = output.outcome_lines
    assert line["event_id"] == recorded["event"]["id"] == fields["event_id"]  # queries deduplicate redeliveries by it
    assert (line["outcome"], line["severity"], line.get("onset_source"), line.get("onset")) == (  # None: left out
        expected["outcome"], expected["severity"], expected["onset_source"], expected["onset"])  # fmt: skip
    assert line["alarm_name"] == recorded["event"]["detail"]["alarmName"]
    if not expected["metrics"]:
        assert output.blobs == []
        return
    (blob,) = output.blobs
    assert blob.dimensions == {"service": SERVICE, "Severity": expected["severity"]}
    assert {name: value for name, (_, value) in blob.metrics.items()} == pytest.approx(expected["metrics"], abs=1e-6)
    units = {"Incidents": "Count", "TimeToDetect": "Seconds", "TimeToResolve": "Seconds", "ImpactMinutes": "None"}
    assert {name: unit for name, (unit, _) in blob.metrics.items()} == {n: units[n] for n in expected["metrics"]}
    assert (
        blob.timestamp == _ms(recorded["event"]["detail"]["state"]["timestamp"])
        and line["metric_time"] == "state_change"
    )


def test_the_whole_sequence_in_order(run: Any) -> None:
    """Incidents per severity, and the detection and resolution figures, over the recorded day."""
    totals: dict[tuple[str, str], float] = {}
    for recorded in SEQUENCE:
        for blob in run(recorded["event"])[1].blobs:
            for name, (_, value) in blob.metrics.items():
                key = (blob.dimensions["Severity"], name)
                totals[key] = totals.get(key, 0) + value
    assert totals == pytest.approx({
        ("high", "Incidents"): 1, ("high", "TimeToDetect"): 150.123, ("high", "TimeToResolve"): 1200,
        ("high", "ImpactMinutes"): 22.50205, ("low", "Incidents"): 3, ("low", "TimeToDetect"): 905 + 92.389 + 124.653,
        ("unclassified", "Incidents"): 1, ("unclassified", "TimeToDetect"): 70,
    })  # fmt: skip


def test_a_redelivered_event_is_logged_again_with_the_same_id(run: Any) -> None:
    event = SEQUENCE[0]["event"]
    first, second = run(event)[0], run(event)[0]
    assert first == second and first["event_id"] == event["id"]


def test_a_change_outside_cloudwatchs_window_is_counted_now(run: Any, handler: ModuleType) -> None:
    handler.set_clock(lambda: RECORDED_NOW + timedelta(days=15))
    fields, output = run(SEQUENCE[0]["event"])
    (blob,) = output.blobs
    assert fields["metric_time"] == "now" and blob.timestamp != _ms(
        SEQUENCE[0]["event"]["detail"]["state"]["timestamp"]
    )
    assert blob.metrics["TimeToDetect"][1] == pytest.approx(150.123)


# --- Reading the event -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01T12:00:00.000+0000", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        ("2025-06-01T12:00:00Z", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        ("2025-06-01T14:00:00.250+02:00", datetime(2025, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2025-06-01T12:00:00", None),  # no offset: not a CloudWatch time
        ("yesterday", None),
        (1_717_243_200_000, None),
        ("2025-13-01T12:00:00Z", None),
    ],
)
def test_times(handler: ModuleType, text: Any, expected: datetime | None) -> None:
    assert handler.parse_time(text) == expected


@pytest.mark.parametrize(
    ("description", "severity"),
    [("[high] Bedrock errors.", "high"), ("  [LOW] drift", "low"), ("high errors", "unclassified"), (None, "unclassified"),
     ("[medium] x", "unclassified"), (7, "unclassified")],
)  # fmt: skip
def test_severity_comes_from_the_description_prefix(handler: ModuleType, description: Any, severity: str) -> None:
    assert handler.severity_of(description) == severity


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (None, "the event is not an object"),
        ([], "the event is not an object"),
        ({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, "is not a 'CloudWatch Alarm State"),
        ({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": "x"}, "detail is not"),
        ({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {"state": {}}},
         "detail.state.value is not one of"),
        ({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
          "detail": {"state": {"value": "ALARM"}, "previousState": {"value": "OK"}}}, "detail.state.timestamp is not a time"),
    ],
)  # fmt: skip
def test_malformed_events_are_logged_and_counted(run: Any, event: Any, why: str) -> None:
    fields, output = run(event)
    (line,) = output.outcome_lines
    assert line["outcome"] == fields["outcome"] == "unparsed" and why in line["note"] and line["level"] == "WARNING"
    (blob,) = output.blobs
    assert blob.dimensions == {"service": SERVICE} and blob.metrics == {"OutcomeEventsUnparsed": ("Count", 1)}


def test_a_failing_metric_write_costs_the_event_not_the_invocation(
    run: Any, handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(outcome: Any) -> bool:
        raise OSError("stdout closed")

    monkeypatch.setattr(handler, "publish", broken)
    fields, output = run(SEQUENCE[0]["event"])
    assert fields["outcome"] == "unparsed" and "OSError" in fields["note"]
    assert output.outcome_lines[0]["level"] == "ERROR" and "Traceback" not in json.dumps(output.lines)


def test_even_a_failing_log_write_does_not_raise(
    run: Any, handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler, "handle", broken)
    assert run(SEQUENCE[0]["event"])[0] == {"outcome": "unparsed", "note": "RuntimeError"}


def test_the_onset_falls_back_in_order(handler: ModuleType) -> None:
    State = handler.State
    at = datetime(2025, 6, 1, 12, tzinfo=UTC)
    points = [{"timestamp": "2025-06-01T11:50:00.000+0000", "value": 1.0},
              {"timestamp": "2025-06-01T11:55:00.000+0000", "value": 9.0}]  # fmt: skip
    over = "1 out of the last 2 datapoints [9.0 (01/06/25 11:55:00)] was greater than the threshold (5.0)"
    cases = [
        (State("ALARM", over, {"threshold": 5.0, "evaluatedDatapoints": points}, at), "11:55", "breaching_datapoint"),
        (State("ALARM", over, {"evaluatedDatapoints": points}, at), "11:55", "reason_text"),  # no threshold
        (State("ALARM", "Threshold Crossed", {"evaluatedDatapoints": points}, at), "11:50", "first_datapoint"),
        (State("ALARM", "", {"startDate": "2025-06-01T11:40:00.000+0000"}, at), "11:40", "start_date"),
    ]
    for state, hhmm, source in cases:
        found, how = handler.onset(state)
        assert (found.strftime("%H:%M"), how) == (hhmm, source)
    assert handler.onset(State("ALARM", "", {}, at)) == (None, None)


@pytest.mark.parametrize(
    ("phrase", "value", "breaches"),
    [("greater than or equal to the threshold", 5.0, True), ("greater than the threshold", 5.0, False),
     ("less than or equal to the threshold", 5.0, True), ("less than the threshold", 4.0, True),
     ("less than the threshold", 6.0, False), ("less than the lower thresholds", 4.0, True)],
)  # fmt: skip
def test_each_comparison_of_the_reason_text(handler: ModuleType, phrase: str, value: float, breaches: bool) -> None:
    at = datetime(2025, 6, 1, 12, tzinfo=UTC)
    point = {"timestamp": "2025-06-01T11:58:00.000+0000", "value": value, "threshold": 5.0}
    state = handler.State("ALARM", f"1 datapoint [{value} (01/06/25 11:58:00)] was {phrase} (5.0)",
                          {"threshold": 5.0, "evaluatedDatapoints": [point]}, at)  # fmt: skip
    assert (handler.onset(state)[1] == "breaching_datapoint") is breaches


# --- Properties --------------------------------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
_STATE = st.fixed_dictionaries(
    {},
    optional={
        "value": st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA", "alarm", ""]) | _JSON,
        "reason": st.text(max_size=200) | _JSON,
        "reasonData": _JSON.map(json.dumps) | _JSON,
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
        | _JSON,
    },
)
_DETAIL = st.fixed_dictionaries(
    {}, optional={"alarmName": _JSON | st.text(), "state": _STATE | _JSON, "previousState": _STATE | _JSON,
                  "configuration": st.fixed_dictionaries({}, optional={"description": _JSON | st.text()}) | _JSON},
) | _JSON  # fmt: skip


@settings(max_examples=75, deadline=None, database=None)
@given(detail=_DETAIL, event_id=_JSON)
def test_any_detail_never_raises(handler: ModuleType, detail: Any, event_id: Any) -> None:
    event = {
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "detail": detail,
    }
    handler.set_clock(lambda: RECORDED_NOW)
    try:
        fields = handler.handle(event)
    finally:
        handler.reset_state()
    assert fields["outcome"] in {"incident", "resolved", "impact_ended", "no_outcome", "composite_ignored", "unparsed"}
    for name in ("time_to_detect_s", "time_to_resolve_s", "impact_minutes"):
        assert fields.get(name) is None or fields[name] >= 0


_MINUTE = datetime(2025, 6, 1, tzinfo=UTC)


@settings(max_examples=150, deadline=None, database=None)
@given(
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=10),
    threshold=st.floats(min_value=-1e6, max_value=1e6),
    start_minute=st.integers(min_value=0, max_value=600),
    delay_ms=st.integers(min_value=-600_000, max_value=3_600_000),
)
def test_time_to_detect_is_from_the_first_breaching_period(
    handler: ModuleType, values: list[float], threshold: float, start_minute: int, delay_ms: int
) -> None:
    times = [_MINUTE + timedelta(minutes=start_minute + i) for i in range(len(values))]
    last = times[-1] + timedelta(minutes=1)
    state_time = last + timedelta(milliseconds=delay_ms)
    points = [{"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "value": v} for t, v in zip(times, values)]
    state = handler.State("ALARM", "Threshold Crossed: datapoints were greater than the threshold (x).",
                          {"threshold": threshold, "evaluatedDatapoints": points}, state_time)  # fmt: skip
    change = handler.AlarmChange("e", "a", "high", state, handler.State("OK", "", {}, None), False)
    outcome = handler.outcome_of(change)
    breaching = [t for t, v in zip(times, values) if v > threshold]
    expected_onset = min(breaching) if breaching else min(times)
    assert outcome.onset == expected_onset and outcome.incidents == 1
    if expected_onset <= state_time:
        assert outcome.time_to_detect == (state_time - expected_onset).total_seconds() >= 0
    else:
        assert outcome.time_to_detect is None and "after the state change" in outcome.note


@settings(max_examples=150, deadline=None, database=None)
@given(
    alarm_at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    seconds=st.integers(min_value=0, max_value=30 * 86_400),
    to_state=st.sampled_from(["OK", "INSUFFICIENT_DATA"]),
)
def test_time_to_resolve_is_the_timestamp_difference(
    handler: ModuleType, alarm_at: datetime, seconds: int, to_state: str
) -> None:
    alarm_at = alarm_at.replace(microsecond=alarm_at.microsecond // 1000 * 1000)
    ok_at = alarm_at + timedelta(seconds=seconds)
    event = {"id": "e", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {
        "alarmName": "a", "configuration": {"description": "[low] x"},
        "state": {"value": to_state, "timestamp": ok_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"},
        "previousState": {"value": "ALARM", "timestamp": alarm_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"},
    }}  # fmt: skip
    outcome = handler.outcome_of(handler.parse_event(event))
    assert outcome.impact_minutes == pytest.approx(seconds / 60) and outcome.onset_source == "state_change"
    if to_state == "OK":
        assert outcome.kind == "resolved" and outcome.time_to_resolve == seconds
        assert set(outcome.metrics) == {"TimeToResolve", "ImpactMinutes"}
    else:
        assert outcome.kind == "impact_ended" and outcome.time_to_resolve is None and outcome.metrics == {}
