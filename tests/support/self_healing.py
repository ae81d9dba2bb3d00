"""The self-healing scenario the runbook tests share: one account's resources, its alarm events, the input each rule
sends (as RemediationRunbooks wires it) and :func:`run_rules`, which plays EventBridge and Automation for an event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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


def alarm_event(name: str, state: str, previous: str, *, time: str = "2025-06-01T12:00:00Z") -> dict[str, Any]:
    """A CloudWatch "Alarm State Change" event as EventBridge delivers it (default bus)."""
    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [7.0 (01/06/25 11:59:00)] was greater than the threshold (5.0) "
        "(minimum 1 datapoint for OK -> ALARM transition)."
        if state == "ALARM"
        else "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (01/06/25 12:14:00)] was not greater than the "
        "threshold (5.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
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
                "reasonData": json.dumps(
                    {"version": "1.0", "queryDate": "2025-06-01T12:00:00.000+0000", "threshold": 5.0}
                ),
                "timestamp": "2025-06-01T12:00:00.000+0000",
            },
            "previousState": {"value": previous, "reason": "earlier", "timestamp": "2025-06-01T11:00:00.000+0000"},
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
