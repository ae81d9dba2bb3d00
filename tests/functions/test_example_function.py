"""The example app's own function (examples/byo_app/function/app.py) with a stubbed Bedrock client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from tests.conftest import OFFLINE_AWS_ENV, ROOT
from tests.fakes import CurrentStdout
from tests.support.loader import load_file

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture
def bot(monkeypatch: pytest.MonkeyPatch):
    for name, value in {**OFFLINE_AWS_ENV, "MODEL_ID": MODEL,
                        "POWERTOOLS_SERVICE_NAME": "support-bot", "POWERTOOLS_METRICS_NAMESPACE": "SupportBot"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    module = load_file("byo_app_function", ROOT / "examples" / "byo_app" / "function" / "app.py", register=False)
    monkeypatch.setattr(module.logger.registered_handler, "stream", CurrentStdout())  # log lines reach capsys
    with Stubber(module._bedrock) as stubber:
        yield module, stubber


class Context:
    function_name = "support-bot"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:support-bot"
    aws_request_id = "req-1"


def _call(module: Any, body: Any, capsys: pytest.CaptureFixture) -> tuple[dict, list[dict]]:
    response, blobs, _ = _call_logged(module, body, capsys)
    return response, blobs


def _call_logged(module: Any, body: Any, capsys: pytest.CaptureFixture) -> tuple[dict, list[dict], list[dict]]:
    """The response, the EMF blobs and the log records of one invocation."""
    response = module.handler({"body": json.dumps(body) if not isinstance(body, str) else body}, Context())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return response, [x for x in lines if "_aws" in x], [x for x in lines if "_aws" not in x]


def _metric(blobs: list[dict], name: str) -> tuple[dict, Any]:
    (blob,) = [b for b in blobs if name in b]
    dims = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    value = blob[name]
    return {d: blob[d] for d in dims}, value[0] if isinstance(value, list) and len(value) == 1 else value


def test_answer_emits_success_and_tokens(bot, capsys) -> None:
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
    # the library prices the tokens with metric math: no cost metric of its own
    assert _metric(blobs, "InputTokens") == ({"service": "support-bot", "ModelId": MODEL}, 1000)
    assert _metric(blobs, "OutputTokens") == ({"service": "support-bot", "ModelId": MODEL}, 200)
    assert {name for blob in blobs for name in blob if name[0].isupper()} == {"RequestSuccess", "InputTokens",
                                                                               "OutputTokens", "ModelId"}  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [("ThrottlingException", 429, "Throttling"), ("ModelErrorException", 502, "ModelError"),
     ("AccessDeniedException", 502, "ModelError")],
)  # fmt: skip
def test_bedrock_errors_become_json_errors_and_a_failure_metric(bot, capsys, code, status, error_class) -> None:
    module, stubber = bot
    stubber.add_client_error("converse", code, "details that must not leak", 400)
    response, blobs, logs = _call_logged(module, {"question": "hi"}, capsys)
    assert response["statusCode"] == status and "details" not in response["body"]
    assert _metric(blobs, "RequestFailure") == ({"service": "support-bot"}, 1.0)
    (record,) = [r for r in logs if r["message"] == "Request failed"]
    assert (record["error_class"], record["status"]) == (error_class, status)


def test_timeout_is_504(bot, capsys, monkeypatch) -> None:
    module, _ = bot

    def slow(**kwargs: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")

    monkeypatch.setattr(module._bedrock, "converse", slow)
    response, blobs, logs = _call_logged(module, {"question": "hi"}, capsys)
    assert response["statusCode"] == 504
    assert _metric(blobs, "RequestFailure") == ({"service": "support-bot"}, 1.0)
    assert [r["error_class"] for r in logs if r["message"] == "Request failed"] == ["Timeout"]


@pytest.mark.parametrize("body", ["not json", {"question": ""}, {"question": 42}, {}])
def test_malformed_input_is_400(bot, capsys, body) -> None:
    module, _ = bot
    response, blobs, logs = _call_logged(module, body, capsys)
    assert response["statusCode"] == 400 and "question" in json.loads(response["body"])["error"]
    assert blobs == []  # the caller's fault: no RequestFailure (API Gateway's 4XXError counts it)
    assert [r["error_class"] for r in logs if r["message"] == "Request rejected"] == ["Validation"]
