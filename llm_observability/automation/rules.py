"""The EventBridge side of the runbooks: which alarm state changes start a runbook, and the input each rule passes.

:func:`alarm_state_pattern` is the pattern of a rule; :func:`model_failover_input` and friends are the
document parameters its SSM Automation target sends, with :class:`EventPath` values that the rule's
input transformer takes from the matched event (such as :data:`ALARM_NAME`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm_observability.automation.documents import (
    API_THROTTLE,
    APPLY,
    MODEL_FAILOVER,
    PROMPT_ROLLBACK,
    RECORD_OK,
    RESTORE,
)

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

ALARM = "ALARM"
OK = "OK"

#: The document ``Mode`` each runbook runs with when its alarms enter a state.
STATE_MODES: Mapping[str, Mapping[str, str]] = {
    MODEL_FAILOVER: {ALARM: APPLY, OK: RESTORE},
    PROMPT_ROLLBACK: {ALARM: APPLY, OK: RECORD_OK},
    API_THROTTLE: {ALARM: APPLY, OK: RESTORE},
}


@dataclass(frozen=True)
class EventPath:
    """A value EventBridge takes from the matched event (an input-transformer path such as ``$.detail.x``)."""

    path: str


#: The name of the alarm that changed state, taken from the event.
ALARM_NAME = EventPath("$.detail.alarmName")

InputValue = str | EventPath


def alarm_state_pattern(alarm_arns: Sequence[str], state: str) -> dict[str, Any]:
    """EventBridge pattern of the state changes of ``alarm_arns`` into ``state`` (``ALARM`` or ``OK``)."""
    if state not in (ALARM, OK):
        raise ValueError(f"state is {state!r}: allowed are {ALARM}, {OK}.")
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": [ALARM_STATE_CHANGE],
        "resources": list(alarm_arns),
        "detail": {"state": {"value": [state]}},
    }


def _input(
    runbook: str, mode: str, assume_role_arn: str, metric_namespace: str, service_name: str, **values: str
) -> dict[str, list[InputValue]]:
    if mode not in STATE_MODES[runbook].values():
        raise ValueError(f"mode is {mode!r}: allowed are {', '.join(STATE_MODES[runbook].values())}.")
    parameters: dict[str, list[InputValue]] = {
        "AutomationAssumeRole": [assume_role_arn],
        "Mode": [mode],
        "AlarmName": [ALARM_NAME],
        "MetricNamespace": [metric_namespace],
        "ServiceName": [service_name],
    }
    parameters.update({name: [value] for name, value in values.items()})
    return parameters


def model_failover_input(
    mode: str, *, assume_role_arn: str, model_parameter_name: str, primary_model_id: str, fallback_model_id: str,
    topic_arn: str, metric_namespace: str, service_name: str,
) -> dict[str, list[InputValue]]:  # fmt: skip
    """Parameters of the model-failover document, as the EventBridge target passes them (``metric_namespace`` and
    ``service_name``: where the run says that healing is in progress, see :data:`~llm_observability.automation.HEALING_METRIC`)."""
    return _input(
        MODEL_FAILOVER, mode, assume_role_arn, metric_namespace, service_name, ModelParameterName=model_parameter_name,
        PrimaryModelId=primary_model_id, FallbackModelId=fallback_model_id, TopicArn=topic_arn,
    )  # fmt: skip


def prompt_rollback_input(
    mode: str, *, assume_role_arn: str, prompt_parameter_name: str, topic_arn: str, metric_namespace: str,
    service_name: str,
) -> dict[str, list[InputValue]]:  # fmt: skip
    """Parameters of the prompt-rollback document, as the EventBridge target passes them."""
    return _input(
        PROMPT_ROLLBACK, mode, assume_role_arn, metric_namespace, service_name,
        PromptParameterName=prompt_parameter_name, TopicArn=topic_arn,
    )  # fmt: skip


def format_limit(value: float) -> str:
    """A throttling limit as API Gateway's patch operations take it (``2``, ``0.5``, ``10``)."""
    return f"{value:g}"


def api_throttle_input(
    mode: str, *, assume_role_arn: str, rest_api_id: str, stage_name: str, normal_rate_limit: float,
    normal_burst_limit: int, tightened_rate_limit: float, tightened_burst_limit: int, topic_arn: str,
    metric_namespace: str, service_name: str,
) -> dict[str, list[InputValue]]:  # fmt: skip
    """Parameters of the API-throttle document, as the EventBridge target passes them."""
    return _input(
        API_THROTTLE, mode, assume_role_arn, metric_namespace, service_name, RestApiId=rest_api_id, StageName=stage_name,
        NormalRateLimit=format_limit(normal_rate_limit), NormalBurstLimit=str(int(normal_burst_limit)),
        TightenedRateLimit=format_limit(tightened_rate_limit), TightenedBurstLimit=str(int(tightened_burst_limit)),
        TopicArn=topic_arn,
    )  # fmt: skip
