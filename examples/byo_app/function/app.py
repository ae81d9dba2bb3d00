"""A support bot of "your own": one Bedrock Converse call per question, instrumented with Powertools.

It emits the metric names the library's dashboards and alarms read, with the workload name as the
``service`` dimension: RequestSuccess and RequestFailure (the service's own failures; a bad request is the
caller's, counted by API Gateway's 4XXError), InputTokens and OutputTokens with ModelId (the library
prices them with metric math). Failures are logged with their ``error_class`` for Logs Insights.

Failover is opt-in: the model comes from ``llm_observability_runtime.active_model_id`` (the library's runtime
layer, added by ``LlmInstrumentation`` in the app's stack), which reads the SSM parameter the Level 3 failover
runbook switches (cached for a minute) and falls back to ``MODEL_ID``.
"""

from __future__ import annotations

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from llm_observability_runtime import active_model_id

MODEL_ID = os.environ["MODEL_ID"]
logger = Logger()
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "support-bot")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "SupportBot")
_bedrock = boto3.client("bedrock-runtime", config=Config(connect_timeout=2, read_timeout=20, retries={"total_max_attempts": 1}))


def _reply(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def _emit(dimensions: dict[str, str], *points: tuple[str, MetricUnit, float]) -> None:
    """One EMF blob with dimensions {service, **dimensions}: EMF applies one dimension set per blob."""
    blob = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for name, value in dimensions.items():
        blob.add_dimension(name=name, value=value)
    for name, unit, number in points:
        blob.add_metric(name=name, unit=unit, value=number)
    blob.flush_metrics()


def _failure(error_class: str, status: int) -> None:
    """Log a failed request with its class; count it as RequestFailure unless the caller is at fault."""
    if error_class == "Validation":
        logger.info("Request rejected", extra={"error_class": error_class, "status": status})
        return
    logger.exception("Request failed", extra={"error_class": error_class, "status": status})
    _emit({}, ("RequestFailure", MetricUnit.Count, 1))


@logger.inject_lambda_context
def handler(event: dict, context: object) -> dict:
    try:
        question = json.loads(event.get("body") or "{}")["question"]
        if not isinstance(question, str) or not 0 < len(question) <= 2000:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        _failure("Validation", 400)
        return _reply(400, {"error": "Field 'question' must be a string of 1-2000 characters."})
    model_id = active_model_id(MODEL_ID)
    try:
        out = _bedrock.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": question}]}])
    except ClientError as error:
        throttled = error.response["Error"]["Code"] == "ThrottlingException"
        _failure("Throttling" if throttled else "ModelError", 429 if throttled else 502)
        return _reply(429 if throttled else 502, {"error": "The model could not answer; try again later."})
    except BotoCoreError:
        _failure("Timeout", 504)
        return _reply(504, {"error": "The model did not answer in time."})
    usage = out["usage"]
    _emit({}, ("RequestSuccess", MetricUnit.Count, 1))
    _emit(
        {"ModelId": model_id},
        ("InputTokens", MetricUnit.Count, usage["inputTokens"]),
        ("OutputTokens", MetricUnit.Count, usage["outputTokens"]),
    )  # fmt: skip
    return _reply(200, {"answer": out["output"]["message"]["content"][0]["text"]})
