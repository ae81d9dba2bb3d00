"""Telemetry vocabulary of the incident-outcomes function: metric, dimension, log and environment variable names.

The outcome metrics sit next to the application's in the workload's namespace, so the dimension names equal
those of ``llm_observability/runtime/telemetry.py`` (a test checks it). Keep this module free of third-party
imports: it runs inside Lambda and is imported by the CDK side as
``llm_observability.functions.incident_outcomes.outcomes_telemetry``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"  # the RAG API's default namespace
DEFAULT_SERVICE_NAME = "rag-api"  # the RAG API's default service name

# --- Dimensions (identical to the runtime's) --------------------------------------------
DIM_SERVICE = "service"
DIM_SEVERITY = "Severity"

#: Severity dimension values: the ``[high]`` / ``[low]`` prefix of the alarm description, else unclassified.
SEVERITY_HIGH = "high"
SEVERITY_LOW = "low"
SEVERITY_UNCLASSIFIED = "unclassified"
SEVERITIES: tuple[str, ...] = (SEVERITY_HIGH, SEVERITY_LOW, SEVERITY_UNCLASSIFIED)

# --- Metrics: dims service, Severity; one value per alarm state change, timestamped at the change --------------
METRIC_INCIDENTS = "Incidents"  # Count: 1 per alarm entering ALARM
METRIC_TIME_TO_DETECT = "TimeToDetect"  # Seconds: onset of the first breaching period -> ALARM
METRIC_TIME_TO_RESOLVE = "TimeToResolve"  # Seconds: ALARM -> OK
METRIC_IMPACT_MINUTES = "ImpactMinutes"  # None (minutes): onset -> OK

# --- Metrics: dims service only ------------------------------------------------------------
METRIC_EVENTS_UNPARSED = "OutcomeEventsUnparsed"  # Count: 1 per event whose detail could not be read

SEVERITY_METRICS: tuple[str, ...] = (
    METRIC_INCIDENTS,
    METRIC_TIME_TO_DETECT,
    METRIC_TIME_TO_RESOLVE,
    METRIC_IMPACT_MINUTES,
)

# --- The log line of every event (``message``), with the event id so queries can deduplicate redeliveries ------
LOG_MESSAGE_OUTCOME = "alarm_outcome"

#: What an outcome line's ``outcome`` field says happened.
OUTCOME_INCIDENT = "incident"  # into ALARM: Incidents, TimeToDetect
OUTCOME_RESOLVED = "resolved"  # ALARM into OK: TimeToResolve, ImpactMinutes
OUTCOME_IMPACT_ENDED = "impact_ended"  # ALARM into INSUFFICIENT_DATA: logged only
OUTCOME_NONE = "no_outcome"  # any other change (OK <-> INSUFFICIENT_DATA, ALARM -> ALARM)
OUTCOME_COMPOSITE = "composite_ignored"  # a composite alarm: its members are counted already
OUTCOME_UNPARSED = "unparsed"  # not an alarm state change this function can read

#: Where the onset (start of the first breaching period) came from, in the order they are tried.
ONSET_BREACHING_DATAPOINT = "breaching_datapoint"  # earliest evaluated datapoint that breaches
ONSET_REASON_TEXT = "reason_text"  # earliest datapoint the reason text names (the breaching ones)
ONSET_FIRST_DATAPOINT = "first_datapoint"  # earliest evaluated datapoint
ONSET_START_DATE = "start_date"  # reasonData.startDate
ONSET_STATE_CHANGE = "state_change"  # none found: the ALARM time itself (impact only)

# --- Environment variables --------------------------------------------------------------
#: Marks the function (value "1"): ``llm-observability assess`` and ``cost`` recognise it by this variable.
ENV_OUTCOMES = "OUTCOMES"
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension (the workload)
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE
