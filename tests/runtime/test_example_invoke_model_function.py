"""examples/invoke_model_app's unmodified handler, instrumented by the runtime: what its Level 1-2 alarms read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.runtime.bedrock_fakes import MODEL_ID, FakeBedrock, error_reply, invoke_reply
from tests.runtime.conftest import Output
from tests.support.loader import load_file


@pytest.fixture
def sample(fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load_file("invoke_sample", ROOT / "examples" / "invoke_model_app" / "function" / "app.py", register=False)
    monkeypatch.setattr(module, "_client", fake.client("bedrock-runtime"))
    monkeypatch.setattr(module, "MODEL_ID", MODEL_ID)
    return module


def _ask(sample: Any, body: Any) -> dict[str, Any]:
    return sample.handler({"body": body if isinstance(body, str) else json.dumps(body)}, None)


def test_answer_carries_tokens_from_the_invoke_model_headers(sample: Any, fake: FakeBedrock, out: Output) -> None:
    fake.queue(invoke_reply({"content": [{"type": "text", "text": "Hi."}]}, input_tokens=12, output_tokens=3))
    response = _ask(sample, {"prompt": "Hello"})
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"completion": "Hi."}
    assert out.values("InputTokens", ModelId=MODEL_ID) == [12]
    assert out.values("OutputTokens", ModelId=MODEL_ID) == [3]
    assert out.values("StageLatency", Stage="Inference")


def test_throttling_is_a_429_and_a_counted_failure(sample: Any, fake: FakeBedrock, out: Output) -> None:
    fake.queue(error_reply("ThrottlingException", 429))
    response = _ask(sample, {"prompt": "Hello"})
    assert response["statusCode"] == 429
    (line,) = out.calls()
    assert line["error_class"] == "Throttling"


@pytest.mark.parametrize("body", ["{", "[]", {"prompt": ""}, {"prompt": "x" * 4001}, {"other": 1}])
def test_bad_input_is_a_400_without_a_model_call(sample: Any, fake: FakeBedrock, out: Output, body: Any) -> None:
    assert _ask(sample, body)["statusCode"] == 400
    assert fake.requests == [] and out.calls() == []
