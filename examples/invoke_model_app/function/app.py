"""A typical Bedrock sample: one function calling InvokeModel (Anthropic messages format) behind a LambdaRestApi.

It knows nothing of the observability library: no EMF, no structured log schema, no Powertools. The
library's runtime layer (added by ``LlmInstrumentation(zero_code=True)``) instruments it through the Lambda
exec wrapper, so this file is exactly what it would be without observability.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

MODEL_ID = os.environ.get("MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
MAX_PROMPT_CHARS = 4000
_client: Any = None


def _bedrock() -> Any:
    global _client
    if _client is None:
        _client = boto3.client("bedrock-runtime")
    return _client


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        body = json.loads(event.get("body") or "{}")
        prompt = body["prompt"] if isinstance(body, dict) else None
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError):
        prompt = None
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        return _response(400, {"error": f"Send a JSON body with a 'prompt' of 1-{MAX_PROMPT_CHARS} characters."})
    request = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": prompt}],
    }
    try:
        response = _bedrock().invoke_model(modelId=MODEL_ID, body=json.dumps(request))
        result = json.loads(response["body"].read())
        text = "".join(part.get("text", "") for part in result.get("content", []) if isinstance(part, dict))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = 429 if code == "ThrottlingException" else 502
        return _response(status, {"error": "The model could not answer.", "code": code})
    except (BotoCoreError, ValueError, KeyError, TypeError):
        return _response(502, {"error": "The model could not answer."})
    return _response(200, {"completion": text})
