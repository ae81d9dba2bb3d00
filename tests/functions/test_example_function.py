"""The example app's own function (examples/byo_app/function/app.py) with a stubbed Bedrock client."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from tests.conftest import OFFLINE_AWS_ENV, ROOT

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture
def bot(monkeypatch: pytest.MonkeyPatch):
    for name, value in {**OFFLINE_AWS_ENV, "MODEL_ID": MODEL, "PRICE_PER_1K": "0.25,1.25",
                        "POWERTOOLS_SERVICE_NAME": "support-bot", "POWERTOOLS_METRICS_NAMESPACE": "SupportBot"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("byo_app_function", ROOT / "examples" / "byo_app" / "function" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Stubber(module._bedrock) as stubber:
        yield module, stubber


class Context:
    function_name = "support-bot"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:support-bot"
    aws_request_id = "req-1"


def _call(module: Any, body: Any, capsys: pytest.CaptureFixture) -> tuple[dict, list[dict]]:
    response = module.handler({"body": json.dumps(body) if not isinstance(body, str) else body}, Context())
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return response, blobs


def _metric(blobs: list[dict], name: str) -> tuple[dict, Any]:
    (blob,) = [b for b in blobs if name in b]
    dims = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    value = blob[name]
    return {d: blob[d] for d in dims}, value[0] if isinstance(value, list) and len(value) == 1 else value


def test_answer_emits_success_tokens_and_cost(bot, capsys) -> None:
    module, stubber = bot
    stubber.add_response(
        "converse",
        {"output": {"message": {"role": "assistant", "content": [{"text": "Use the reset link."}]}},
         "stopReason": "end_turn", "usage": {"inputTokens": 1000, "outputTokens": 200, "totalTokens": 1200},
         "metrics": {"latencyMs": 321}},
        {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "How do I reset?"}]}]},
    )  # fmt: skip
    response, blobs = _call(module, {"question": "How do I reset?"}, capsys)
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"answer": "Use the reset link."}
    assert _metric(blobs, "RequestSuccess") == ({"service": "support-bot"}, 1.0)
    dims, cost = _metric(blobs, "EstimatedCostUSD")
    assert dims == {"service": "support-bot", "ModelId": MODEL} and cost == pytest.approx(0.25 + 0.25)


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [("ThrottlingException", 429, "Throttling"), ("ModelErrorException", 502, "ModelError"),
     ("AccessDeniedException", 502, "ModelError")],
)  # fmt: skip
def test_bedrock_errors_become_json_errors_and_a_failure_metric(bot, capsys, code, status, error_class) -> None:
    module, stubber = bot
    stubber.add_client_error("converse", code, "details that must not leak", 400)
    response, blobs = _call(module, {"question": "hi"}, capsys)
    assert response["statusCode"] == status and "details" not in response["body"]
    assert _metric(blobs, "RequestFailure") == ({"service": "support-bot", "ErrorClass": error_class}, 1.0)


def test_timeout_is_504(bot, capsys, monkeypatch) -> None:
    module, _ = bot

    def slow(**kwargs: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")

    monkeypatch.setattr(module._bedrock, "converse", slow)
    response, blobs = _call(module, {"question": "hi"}, capsys)
    assert response["statusCode"] == 504
    assert _metric(blobs, "RequestFailure")[0]["ErrorClass"] == "Timeout"


@pytest.mark.parametrize("body", ["not json", {"question": ""}, {"question": 42}, {}])
def test_malformed_input_is_400(bot, capsys, body) -> None:
    module, _ = bot
    response, blobs = _call(module, body, capsys)
    assert response["statusCode"] == 400 and "question" in json.loads(response["body"])["error"]
    assert _metric(blobs, "RequestFailure")[0]["ErrorClass"] == "Validation"
