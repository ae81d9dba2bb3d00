"""Incident outcomes: time to detect, time to resolve and minutes of impact, from CloudWatch alarm state changes.

EventBridge delivers each "CloudWatch Alarm State Change" event of the workload's alarms (default bus, rules that
list the alarms' ARNs) to this function, one event per invocation. It keeps no state: everything it measures is in
the event (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).

- Into ALARM (from OK or INSUFFICIENT_DATA): ``Incidents`` = 1 and ``TimeToDetect`` = the state's timestamp minus
  the *onset*, the start of the first breaching period. The onset is the earliest evaluated datapoint of
  ``reasonData`` that breaches (the comparison read from the reason text, the threshold from ``reasonData`` or the
  point itself for an anomaly band; a point without a value breaches when the reason says missing data was
  "treated as [Breaching]"); else the earliest datapoint the reason text names (CloudWatch names the breaching
  ones there, as ``[7.0 (01/06/25 11:59:00)]``); else the earliest evaluated datapoint; else ``startDate``.
  Datapoint timestamps are the starts of their periods, so the measure includes up to one period of aggregation.
- ALARM into OK: ``TimeToResolve`` = the state's timestamp minus the previous (ALARM) state's, and
  ``ImpactMinutes`` = from the previous state's onset (else its timestamp) to now, in minutes.
- ALARM into INSUFFICIENT_DATA: the impact ends without a resolution: logged only.
- Composite alarms (``reasonData.triggeringAlarms``, ``configuration.alarmRule``) are ignored: their members are
  counted already. Other changes are logged as ``no_outcome``.

Metrics (CloudWatch EMF, namespace ``POWERTOOLS_METRICS_NAMESPACE``), dimensions {service, Severity} (``high`` or
``low`` from the ``[high]``/``[low]`` prefix of the alarm description, else ``unclassified``), timestamped at the
state change when that is within CloudWatch's window (14 days past, 2 hours ahead): Incidents, TimeToDetect,
TimeToResolve, ImpactMinutes. An event whose detail cannot be read counts ``OutcomeEventsUnparsed`` {service}.

Every event also writes one ``alarm_outcome`` log line with the event id (EventBridge delivers at least once, so
Logs Insights queries can deduplicate by it), the alarm, the transition and the figures. The handler never raises:
a bad event is logged and counted, and any unexpected error costs that event only.

Environment: see ``outcomes_telemetry.ENV_*``. IAM: none beyond writing its own log group.
Test seams: ``set_clock()`` replaces the clock that decides whether a timestamp is within CloudWatch's window,
``reset_state()`` restores it.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import outcomes_telemetry as telemetry
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"
ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
STATES = frozenset({ALARM, OK, INSUFFICIENT_DATA})
#: CloudWatch accepts EMF timestamps up to 14 days in the past and 2 hours ahead.
MAX_PAST = timedelta(days=14)
MAX_AHEAD = timedelta(hours=2)
_MAX_TEXT = 300  # characters of an alarm name or reason kept in a log line
_MAX_REASON_DATA_CHARS = 100_000  # reasonData is a few KB; anything longer is not CloudWatch's

_SEVERITY = re.compile(r"^\s*\[(high|low)\]", re.IGNORECASE)
#: A datapoint the reason text names: ``7.0 (01/06/25 11:59:00)``, dd/mm/yy in UTC.
_REASON_POINT = re.compile(r"\((\d{2})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})\)")
_MISSING_BREACHES = re.compile(r"treated as \[breaching\]", re.IGNORECASE)
#: Static-threshold comparisons as the reason text words them, longest first.
_COMPARISONS: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
    ("greater than or equal to the threshold", lambda v, t: v >= t),
    ("less than or equal to the threshold", lambda v, t: v <= t),
    ("greater than the threshold", lambda v, t: v > t),
    ("less than the threshold", lambda v, t: v < t),
)
_UPPER_BAND = "greater than the upper threshold"
_LOWER_BAND = "less than the lower threshold"

logger = Logger(service=SERVICE_NAME)


# --- Test seams ----------------------------------------------------------------------------------------
def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _system_clock


def set_clock(clock: Callable[[], datetime]) -> None:
    """Use ``clock`` (an aware datetime) to decide whether a timestamp is within CloudWatch's window (tests)."""
    global _clock
    _clock = clock


def reset_state() -> None:
    """Restore the system clock, as in a new container."""
    set_clock(_system_clock)


# --- Reading the event -----------------------------------------------------------------------------------
class Unparsed(Exception):
    """The event is not an alarm state change this function can read; the message says why."""


@dataclass(frozen=True)
class State:
    """One side of a state change: its value, reason, parsed ``reasonData`` and timestamp."""

    value: str
    reason: str
    reason_data: dict[str, Any]
    timestamp: datetime | None


@dataclass(frozen=True)
class AlarmChange:
    """What the event says: which alarm, how severe, from which state into which."""

    event_id: str | None
    alarm_name: str | None
    severity: str
    state: State
    previous: State
    composite: bool


def parse_time(value: Any) -> datetime | None:
    """``2025-06-01T12:00:00.000+0000`` (CloudWatch's form) or any ISO 8601 time with an offset, in UTC; else None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _reason_data(value: Any) -> dict[str, Any]:
    """``reasonData`` as a dict: CloudWatch sends a JSON string; an object is taken as is; anything else is empty."""
    if isinstance(value, str) and len(value) <= _MAX_REASON_DATA_CHARS:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


def _state(detail: Mapping[str, Any], key: str) -> State:
    raw = detail.get(key)
    if not isinstance(raw, dict):
        raise Unparsed(f"detail.{key} is not an object")
    value = raw.get("value")
    if value not in STATES:
        raise Unparsed(f"detail.{key}.value is not one of {', '.join(sorted(STATES))}")
    reason = raw.get("reason")
    return State(
        value=value,
        reason=reason if isinstance(reason, str) else "",
        reason_data=_reason_data(raw.get("reasonData")),
        timestamp=parse_time(raw.get("timestamp")),
    )


def severity_of(description: Any) -> str:
    """``high``/``low`` from the ``[high]``/``[low]`` prefix the library's alarm factory writes, else unclassified."""
    match = _SEVERITY.match(description) if isinstance(description, str) else None
    return match.group(1).lower() if match else telemetry.SEVERITY_UNCLASSIFIED


def parse_event(event: Any) -> AlarmChange:
    """The alarm state change in an EventBridge event; :class:`Unparsed` when it is not one."""
    if not isinstance(event, dict):
        raise Unparsed("the event is not an object")
    if event.get("detail-type") != DETAIL_TYPE or event.get("source") != SOURCE:
        raise Unparsed(f"the event is not a {DETAIL_TYPE!r} event of {SOURCE}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise Unparsed("detail is not an object")
    state, previous = _state(detail, "state"), _state(detail, "previousState")
    if state.timestamp is None:
        raise Unparsed("detail.state.timestamp is not a time")
    configuration = detail.get("configuration")
    configuration = configuration if isinstance(configuration, dict) else {}
    composite = "alarmRule" in configuration or any("triggeringAlarms" in s.reason_data for s in (state, previous))
    name, event_id = detail.get("alarmName"), event.get("id")
    return AlarmChange(
        event_id=event_id[:_MAX_TEXT] if isinstance(event_id, str) else None,
        alarm_name=name[:_MAX_TEXT] if isinstance(name, str) else None,
        severity=severity_of(configuration.get("description")),
        state=state,
        previous=previous,
        composite=composite,
    )


# --- The onset of an ALARM state -------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _comparison(reason: str) -> Callable[[float, float], bool] | None:
    """How a datapoint is compared with its threshold, from the reason text; None when the text does not say."""
    text = reason.lower()
    for phrase, compare in _COMPARISONS:
        if phrase in text:
            return compare
    upper, lower = _UPPER_BAND in text, _LOWER_BAND in text
    if upper and not lower:
        return lambda v, t: v > t
    if lower and not upper:
        return lambda v, t: v < t
    return None  # a two-sided band: one threshold per point cannot say which side was crossed


def _points(reason_data: Mapping[str, Any]) -> list[tuple[datetime, float | None, float | None]]:
    """(timestamp, value, own threshold) of each evaluated datapoint with a readable timestamp."""
    raw = reason_data.get("evaluatedDatapoints")
    points = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and (at := parse_time(item.get("timestamp"))) is not None:
            points.append((at, _number(item.get("value")), _number(item.get("threshold"))))
    return points


def _reason_times(reason: str) -> list[datetime]:
    """The datapoint times the reason text names (``(01/06/25 11:59:00)``, dd/mm/yy, UTC)."""
    times = []
    for day, month, year, hour, minute, second in _REASON_POINT.findall(reason[:10_000]):
        try:
            times.append(
                datetime(2000 + int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
            )
        except ValueError:
            continue
    return times


def onset(state: State) -> tuple[datetime | None, str | None]:
    """The start of the first breaching period of an ALARM state, and where it came from
    (``outcomes_telemetry.ONSET_*``); (None, None) when the state says nothing about it."""
    points = _points(state.reason_data)
    compare = _comparison(state.reason)
    threshold = _number(state.reason_data.get("threshold"))
    missing_breaches = bool(_MISSING_BREACHES.search(state.reason))
    breaching = [
        at
        for at, value, own in points
        if (value is None and missing_breaches)
        or (value is not None and compare is not None and (limit := own if own is not None else threshold) is not None
            and compare(value, limit))
    ]  # fmt: skip
    if breaching:
        return min(breaching), telemetry.ONSET_BREACHING_DATAPOINT
    if named := _reason_times(state.reason):
        return min(named), telemetry.ONSET_REASON_TEXT
    if points:
        return min(at for at, _, _ in points), telemetry.ONSET_FIRST_DATAPOINT
    start = parse_time(state.reason_data.get("startDate"))
    return (start, telemetry.ONSET_START_DATE) if start is not None else (None, None)


# --- Outcomes ----------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one state change means for the outcome metrics."""

    kind: str
    severity: str = telemetry.SEVERITY_UNCLASSIFIED
    at: datetime | None = None
    incidents: int = 0
    time_to_detect: float | None = None
    time_to_resolve: float | None = None
    impact_minutes: float | None = None
    onset: datetime | None = None
    onset_source: str | None = None
    note: str | None = None

    @property
    def metrics(self) -> dict[str, tuple[float, str]]:
        """The metric values to publish: name -> (value, unit)."""
        found: dict[str, tuple[float, str]] = {}
        if self.incidents:
            found[telemetry.METRIC_INCIDENTS] = (float(self.incidents), MetricUnit.Count.value)
        if self.time_to_detect is not None:
            found[telemetry.METRIC_TIME_TO_DETECT] = (self.time_to_detect, MetricUnit.Seconds.value)
        if self.kind == telemetry.OUTCOME_RESOLVED:
            if self.time_to_resolve is not None:
                found[telemetry.METRIC_TIME_TO_RESOLVE] = (self.time_to_resolve, MetricUnit.Seconds.value)
            if self.impact_minutes is not None:
                found[telemetry.METRIC_IMPACT_MINUTES] = (self.impact_minutes, MetricUnit.NoUnit.value)
        return found


def outcome_of(change: AlarmChange) -> Outcome:
    """The outcome of one alarm state change (see the module docstring)."""
    state, previous = change.state, change.previous
    base = {"severity": change.severity, "at": state.timestamp}
    if change.composite:
        return Outcome(telemetry.OUTCOME_COMPOSITE, **base)
    now = state.timestamp
    assert now is not None  # parse_event guarantees it
    if state.value == ALARM and previous.value != ALARM:
        start, source = onset(state)
        outcome = Outcome(telemetry.OUTCOME_INCIDENT, incidents=1, onset=start, onset_source=source, **base)
        if start is None:
            outcome.note = "no onset in the event: time to detect unknown"
        elif start > now:
            outcome.note = "the onset is after the state change: time to detect not counted"
        else:
            outcome.time_to_detect = (now - start).total_seconds()
        return outcome
    if previous.value == ALARM and state.value in (OK, INSUFFICIENT_DATA):
        kind = telemetry.OUTCOME_RESOLVED if state.value == OK else telemetry.OUTCOME_IMPACT_ENDED
        start, source = onset(previous)
        if start is None and previous.timestamp is not None:
            start, source = previous.timestamp, telemetry.ONSET_STATE_CHANGE
        outcome = Outcome(kind, onset=start, onset_source=source, **base)
        if start is not None and start <= now:
            outcome.impact_minutes = (now - start).total_seconds() / 60
        notes = []
        if kind == telemetry.OUTCOME_RESOLVED:
            if previous.timestamp is None:
                notes.append("no previous state timestamp: time to resolve unknown")
            elif previous.timestamp > now:
                notes.append("the previous state is after this one: time to resolve not counted")
            else:
                outcome.time_to_resolve = (now - previous.timestamp).total_seconds()
        if outcome.impact_minutes is None:
            notes.append("no onset before the state change: impact unknown")
        outcome.note = "; ".join(notes) or None
        return outcome
    return Outcome(telemetry.OUTCOME_NONE, **base)


# --- Output --------------------------------------------------------------------------------------------------------
def _in_window(at: datetime) -> bool:
    now = _clock()
    return now - MAX_PAST <= at <= now + MAX_AHEAD


def publish(outcome: Outcome) -> bool:
    """Print the outcome's EMF blob (nothing when it has no metric); whether it carries the change's timestamp."""
    metrics = outcome.metrics
    if not metrics:
        return False
    blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
    blob.set_default_dimensions(**{telemetry.DIM_SERVICE: SERVICE_NAME, telemetry.DIM_SEVERITY: outcome.severity})
    timestamped = outcome.at is not None and _in_window(outcome.at)
    if timestamped:
        with warnings.catch_warnings():  # Powertools checks the window against the system clock; ours decided
            warnings.simplefilter("ignore")
            blob.set_timestamp(int(outcome.at.timestamp() * 1000))  # type: ignore[union-attr]
    for name, (value, unit) in metrics.items():
        blob.add_metric(name=name, unit=unit, value=value)
    blob.flush_metrics()
    return timestamped


def publish_unparsed() -> None:
    """Count one event that could not be read."""
    blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
    blob.set_default_dimensions(**{telemetry.DIM_SERVICE: SERVICE_NAME})
    blob.add_metric(name=telemetry.METRIC_EVENTS_UNPARSED, unit=MetricUnit.Count, value=1)
    blob.flush_metrics()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


def summary(change: AlarmChange, outcome: Outcome, timestamped: bool) -> dict[str, Any]:
    """The ``alarm_outcome`` line's fields (no reason text: it can be long; the alarm history keeps it)."""
    return {
        "event_id": change.event_id,
        "alarm_name": change.alarm_name,
        "severity": outcome.severity,
        "transition": f"{change.previous.value}->{change.state.value}",
        "outcome": outcome.kind,
        "state_time": _iso(change.state.timestamp),
        "previous_state_time": _iso(change.previous.timestamp),
        "onset": _iso(outcome.onset),
        "onset_source": outcome.onset_source,
        "incidents": outcome.incidents,
        "time_to_detect_s": outcome.time_to_detect,
        "time_to_resolve_s": outcome.time_to_resolve,
        "impact_minutes": outcome.impact_minutes,
        "metrics": sorted(outcome.metrics),
        "metric_time": "state_change" if timestamped else "now",
        "note": outcome.note,
    }


def handle(event: Any) -> dict[str, Any]:
    """One event: its outcome published and logged; returns the log line's fields. Never raises."""
    event_id = event.get("id") if isinstance(event, dict) else None
    try:
        change = parse_event(event)
    except Exception as exc:  # Unparsed, or anything a hostile event provokes
        note = str(exc) if isinstance(exc, Unparsed) else f"the event could not be read ({type(exc).__name__})"
        fields = {"event_id": event_id[:_MAX_TEXT] if isinstance(event_id, str) else None,
                  "outcome": telemetry.OUTCOME_UNPARSED, "note": note}  # fmt: skip
        logger.warning(telemetry.LOG_MESSAGE_OUTCOME, extra=fields)
        publish_unparsed()
        return fields
    try:
        outcome = outcome_of(change)
        timestamped = publish(outcome)
    except Exception as exc:  # a bug or a hostile field costs this event, never a stack trace in the caller
        fields = {"event_id": change.event_id, "alarm_name": change.alarm_name, "outcome": telemetry.OUTCOME_UNPARSED,
                  "note": f"the event could not be measured ({type(exc).__name__})"}  # fmt: skip
        logger.error(telemetry.LOG_MESSAGE_OUTCOME, extra=fields)
        publish_unparsed()
        return fields
    fields = summary(change, outcome, timestamped)
    logger.info(telemetry.LOG_MESSAGE_OUTCOME, extra=fields)
    return fields


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``handler.lambda_handler``): one EventBridge event; returns the outcome line's fields."""
    try:
        return handle(event)
    except Exception as exc:  # the last guard (a failing log or metric write): EventBridge must not retry forever
        logger.error("Incident outcome failed", extra={"error": type(exc).__name__})
        return {"outcome": telemetry.OUTCOME_UNPARSED, "note": type(exc).__name__}
