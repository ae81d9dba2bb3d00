"""The self-healing scenario the runbook tests share: one account's resources, its alarm events, the input each rule
sends (as RemediationRunbooks wires it) and :func:`run_rules`, which plays EventBridge and Automation for an event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from llm_observability import automation as a
from tests.support.eventbridge import matches, transform_input
from tests.support.ssm_simulator import Execution, simulate

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/runbooks-AutomationRole-1A2B3C"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts-Topic-4D5E6F"
MODEL_PARAMETER = "/rag-api/model/active"
PROMPT_PARAMETER = "/rag-api/prompt/active-version"
PRIMARY = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK = "amazon.nova-micro-v1:0"
PROMPT_ID = "PROMPT1234"
PROMPT_BASE_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:prompt/{PROMPT_ID}"
REST_API_ID = "a1b2c3d4e5"
STAGE = "prod"
#: Where the runbooks say that healing is in progress (the workload's metric namespace and name).
NAMESPACE = "LLMObservability"
SERVICE = "rag-demo"
HEALING = {"metric_namespace": NAMESPACE, "service_name": SERVICE}


def prompt_arn(version: int) -> str:
    """The ARN of version ``version`` of the scenario's managed prompt."""
    return f"{PROMPT_BASE_ARN}:{version}"


def reason_data(datapoints: Sequence[tuple[str, float | None]] = (), *, threshold: float = 5.0) -> dict[str, Any]:
    """An alarm's ``reasonData`` (before JSON encoding) evaluating ``datapoints``, each ``(timestamp, value)`` with
    CloudWatch's ``2025-06-01T11:59:00.000+0000`` timestamps (a None value: missing data)."""
    data: dict[str, Any] = {"version": "1.0", "queryDate": "2025-06-01T12:00:00.000+0000", "threshold": threshold}
    if datapoints:
        data.update(
            statistic="Sum", period=60, startDate=min(at for at, _ in datapoints),
            evaluatedDatapoints=[{"timestamp": at, **({} if value is None else {"sampleCount": 1.0, "value": value})}
                                 for at, value in datapoints],
        )  # fmt: skip
    return data


def alarm_event(
    name: str,
    state: str,
    previous: str,
    *,
    time: str = "2025-06-01T12:00:00Z",
    state_time: str = "2025-06-01T12:00:00.000+0000",
    previous_time: str = "2025-06-01T11:00:00.000+0000",
    datapoints: Sequence[tuple[str, float | None]] = (),
    previous_reason_data: dict[str, Any] | None = None,
    event_id: str = "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
) -> dict[str, Any]:
    """A CloudWatch "Alarm State Change" event as EventBridge delivers it (default bus).

    :param state_time: the new state's timestamp; ``previous_time`` the previous state's.
    :param datapoints: the datapoints the new state evaluated (``reasonData.evaluatedDatapoints``). Default: none.
    :param previous_reason_data: the previous state's ``reasonData`` (see :func:`reason_data`). Default: none.
    """
    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [7.0 (01/06/25 11:59:00)] was greater than the threshold (5.0) "
        "(minimum 1 datapoint for OK -> ALARM transition)."
        if state == "ALARM"
        else "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (01/06/25 12:14:00)] was not greater than the "
        "threshold (5.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    previous_state: dict[str, Any] = {"value": previous, "reason": "earlier", "timestamp": previous_time}
    if previous_reason_data is not None:
        previous_state["reasonData"] = json.dumps(previous_reason_data)
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": reason,
                "reasonData": json.dumps(reason_data(datapoints)),
                "timestamp": state_time,
            },
            "previousState": previous_state,
            "configuration": {
                "description": "[high] Bedrock server errors above 5 per period.",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/Bedrock",
                                "name": "InvocationServerErrors",
                                "dimensions": {"ModelId": PRIMARY},
                            },
                            "period": 60,
                            "stat": "Sum",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def alarm_arn(name: str) -> str:
    """The ARN of the scenario's alarm ``name``."""
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def run_rules(
    runbook: str,
    alarm_arns: list[str],
    event: dict[str, Any],
    inputs: Callable[[str], dict[str, Any]],
    clients: dict[str, Any],
) -> list[Execution]:
    """What EventBridge and Automation do with ``event``: every matching rule's document run with its input."""
    executions = []
    for state, mode in a.STATE_MODES[runbook].items():
        if matches(a.alarm_state_pattern(alarm_arns, state), event):
            parameters = transform_input(inputs(mode), event)
            executions.append(simulate(a.DOCUMENTS[runbook](), parameters, clients))
    return executions


def failover_inputs(mode: str) -> dict[str, Any]:
    """What the model-failover rule of ``mode`` sends, for the scenario's resources."""
    return a.model_failover_input(
        mode, assume_role_arn=ROLE_ARN, model_parameter_name=MODEL_PARAMETER, primary_model_id=PRIMARY,
        fallback_model_id=FALLBACK, topic_arn=TOPIC_ARN, **HEALING,
    )  # fmt: skip


def rollback_inputs(mode: str) -> dict[str, Any]:
    """What the prompt-rollback rule of ``mode`` sends, for the scenario's resources."""
    return a.prompt_rollback_input(
        mode, assume_role_arn=ROLE_ARN, prompt_parameter_name=PROMPT_PARAMETER, topic_arn=TOPIC_ARN, **HEALING
    )


def throttle_inputs(mode: str) -> dict[str, Any]:
    """What the API-throttle rule of ``mode`` sends, for the scenario's resources."""
    return a.api_throttle_input(
        mode, assume_role_arn=ROLE_ARN, rest_api_id=REST_API_ID, stage_name=STAGE, normal_rate_limit=10,
        normal_burst_limit=20, tightened_rate_limit=2, tightened_burst_limit=5, topic_arn=TOPIC_ARN, **HEALING,
    )  # fmt: skip
