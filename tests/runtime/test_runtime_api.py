"""The runtime's public functions: instrument, observe, stage, feedback, flush, and its settings and seams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

import llm_observability.runtime as llmobs
from llm_observability.runtime import calls, hook, recorder, settings
from llm_observability.runtime.api import PromptLogging
from tests.runtime.bedrock_fakes import MODEL_ID, FakeBedrock, error_reply, json_reply
from tests.runtime.conftest import SERVICE, Output, instrument_captured

MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": "My card is 4111 1111 1111 1111, can I pay?"}]}]
CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Yes, write to pay@example.com."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14},
    "metrics": {"latencyMs": 100},
}


class Context:
    aws_request_id = "lambda-req-1"


API_EVENT = {"requestContext": {"requestId": "api-req-1"}, "body": "{}"}


# --- instrument --------------------------------------------------------------------------------------------------
def test_clients_created_before_instrument_are_instrumented_and_instrument_is_idempotent(fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")  # created before instrument()
    original = BaseClient.__dict__["_make_api_call"]
    out = instrument_captured()
    patched = BaseClient.__dict__["_make_api_call"]
    llmobs.instrument(service_name=SERVICE, namespace="TheirApp", prompt_logging="redacted", prices=None)
    recorder.current().write = out.write
    assert BaseClient.__dict__["_make_api_call"] is patched is not original and llmobs.instrumented()
    fake.queue(json_reply(CONVERSE_OK))
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert len(out.calls()) == 1
    assert out.calls()[0]["estimated_cost_usd"] is None  # the second instrument() dropped the prices
    llmobs.uninstrument()
    assert BaseClient.__dict__["_make_api_call"] is original and not llmobs.instrumented()
    fake.queue(json_reply(CONVERSE_OK))
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert len(out.calls()) == 1


def test_other_services_and_operations_pass_straight_through(out: Output, fake: FakeBedrock) -> None:
    fake.queue(json_reply({"modelSummaries": []}), json_reply({"asyncInvokeSummaries": []}))
    assert fake.client("bedrock").list_foundation_models()["modelSummaries"] == []
    assert fake.client("bedrock-runtime").list_async_invokes()["asyncInvokeSummaries"] == []
    assert out.lines == []


def test_the_hook_chains_with_another_wrapper_of_the_same_method(fake: FakeBedrock) -> None:
    seen: list[str] = []
    inner = BaseClient.__dict__["_make_api_call"]

    def other_library(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        seen.append(operation_name)
        return inner(self, operation_name, api_params)

    other_library.__wrapped__ = inner  # type: ignore[attr-defined]
    BaseClient._make_api_call = other_library  # type: ignore[method-assign]
    try:
        out = instrument_captured()  # wraps the other library's wrapper
        fake.queue(json_reply(CONVERSE_OK))
        fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES)
        assert seen == ["Converse"] and len(out.calls()) == 1
        assert hook.uninstall() and BaseClient.__dict__["_make_api_call"] is other_library
    finally:
        BaseClient._make_api_call = inner  # type: ignore[method-assign]


def test_bad_arguments_raise_value_error_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="prompt_logging is 'secret'"):
        llmobs.instrument(prompt_logging="secret")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="namespace is 'AWS/Bedrock'"):
        llmobs.instrument(namespace="AWS/Bedrock")
    with pytest.raises(ValueError, match="prices: the price of 'm'"):
        llmobs.instrument(prices={"m": {"input_per_1k": -1, "output_per_1k": 1}})
    assert not llmobs.instrumented()


# --- prompt logging modes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "question", "answer", "redactions"),
    [
        ("full", MESSAGES[0]["content"][0]["text"], "Yes, write to pay@example.com.", None),
        ("redacted", "My card is [CARD], can I pay?", "Yes, write to [EMAIL].", [2]),
        ("none", None, None, None),
    ],
)
def test_prompt_logging_mode_decides_the_text_in_the_log_line(
    fake: FakeBedrock, mode: PromptLogging, question: str | None, answer: str | None, redactions: list[int] | None
) -> None:
    out = instrument_captured(prompt_logging=mode)
    fake.queue(json_reply(CONVERSE_OK))
    fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES)
    (line,) = out.calls()
    assert line.get("question") == question and line.get("answer") == answer
    assert line["prompt_logging"] == mode and line["question_chars"] == len(MESSAGES[0]["content"][0]["text"])
    assert ([line["pii_redactions"]] if mode == "redacted" else None) == redactions
    assert "PiiRedactions" not in out.metric_names()  # a log field, not a metric
    if mode == "none":
        assert "4111" not in "\n".join(out.lines) and "pay@example.com" not in "\n".join(out.lines)


# --- observe ---------------------------------------------------------------------------------------------------------
def test_observe_batches_an_invocation_and_counts_one_success(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), json_reply(CONVERSE_OK))

    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        assert out.emf() == []  # nothing printed before the end of the invocation
        return {"statusCode": 200, "body": "ok"}

    assert handler(API_EVENT, Context()) == {"statusCode": 200, "body": "ok"}
    assert handler.__name__ == "handler"
    assert out.values("RequestSuccess") == [1]
    assert len(out.values("EndToEndLatency")) == 1
    assert out.values("InputTokens", ModelId=MODEL_ID) == [10, 10]  # one EMF object, two values
    model_blobs = [b for b in out.emf() if "ModelId" in b]
    assert len(model_blobs) == 1 and model_blobs[0]["request_id"] == "api-req-1"
    assert [(c["correlation_id"], c["function_request_id"]) for c in out.calls()] == [("api-req-1", "lambda-req-1")] * 2


def test_observe_counts_a_bedrock_failure_once_and_reraises_it(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(error_reply("ThrottlingException", 429))

    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            client.converse(modelId=MODEL_ID, messages=MESSAGES)
        except ClientError as exc:
            raise RuntimeError("answer failed") from exc
        return {}

    with pytest.raises(RuntimeError, match="answer failed"):
        handler({}, Context())
    assert out.values("RequestFailure") == [1]  # by the invocation only, not by the call as well
    assert "RequestSuccess" not in out.metric_names() and len(out.values("EndToEndLatency")) == 1
    assert out.calls()[0]["correlation_id"] == "lambda-req-1" and out.calls()[0]["error_class"] == "Throttling"


def test_observe_does_not_count_an_exception_raised_from_a_bedrock_validation_error(
    out: Output, fake: FakeBedrock
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(error_reply("ValidationException", 400))

    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            client.converse(modelId=MODEL_ID, messages=MESSAGES)
        except ClientError as exc:
            raise ValueError("the question is too long") from exc
        return {}

    with pytest.raises(ValueError, match="too long"):
        handler(API_EVENT, Context())
    assert not {"RequestFailure", "RequestSuccess"} & out.metric_names()  # the caller's fault
    assert len(out.values("EndToEndLatency")) == 1


def test_observe_counts_a_caught_bedrock_failure_answered_with_success_as_a_success(
    out: Output, fake: FakeBedrock
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(error_reply("ThrottlingException", 429), json_reply(CONVERSE_OK))

    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            client.converse(modelId=MODEL_ID, messages=MESSAGES)
        except ClientError:
            client.converse(modelId=MODEL_ID, messages=MESSAGES)  # the retry (or a fallback model) answers
        return {"statusCode": 200}

    handler(API_EVENT, Context())
    assert out.values("RequestSuccess") == [1] and "RequestFailure" not in out.metric_names()
    assert [c["outcome"] for c in out.calls()] == ["failure", "success"]  # the throttled call is in the log


def test_observe_counts_an_error_response_after_a_caught_failure_once(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(error_reply("ModelTimeoutException", 408))

    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            client.converse(modelId=MODEL_ID, messages=MESSAGES)
        except ClientError:
            return {"statusCode": 504, "body": "timeout"}
        return {"statusCode": 200}

    assert handler(API_EVENT, Context())["statusCode"] == 504
    assert out.values("RequestFailure") == [1]
    assert "RequestSuccess" not in out.metric_names()


@pytest.mark.parametrize(
    ("status", "success", "failure"),
    [(200, [1], []), (302, [1], []), (400, [], []), (404, [], []), (429, [], [1]), (500, [], [1]), (503, [], [1])],
)
def test_observe_counts_server_side_error_responses_as_failures_and_the_callers_as_neither(
    out: Output, status: int, success: list[int], failure: list[int]
) -> None:
    result = llmobs.observe(lambda event, context: {"statusCode": status})(API_EVENT, Context())
    assert result == {"statusCode": status}
    assert (out.values("RequestSuccess"), out.values("RequestFailure")) == (success, failure)
    assert len(out.values("EndToEndLatency")) == 1


def test_observe_counts_other_exceptions_as_internal_and_nested_observe_once(out: Output) -> None:
    error = KeyError("question")

    @llmobs.observe
    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> None:
        raise error

    with pytest.raises(KeyError) as raised:
        handler({}, Context())
    assert raised.value is error
    assert out.values("RequestFailure") == [1]
    assert len(out.values("EndToEndLatency")) == 1


# --- stage, feedback, flush ------------------------------------------------------------------------------------------
def test_stage_times_user_code_and_a_bedrock_call_inside_its_own_stage_is_timed_once(
    out: Output, fake: FakeBedrock
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK))
    with llmobs.stage("PromptAssembly"):
        pass
    with llmobs.stage("Inference"):
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
    with pytest.raises(ZeroDivisionError), llmobs.stage("PostProcessing"):
        _ = 1 / 0
    assert len(out.values("StageLatency", Stage="PromptAssembly")) == 1
    assert len(out.values("StageLatency", Stage="Inference")) == 1
    assert len(out.values("StageLatency", Stage="PostProcessing")) == 1


def test_feedback_emits_the_score_and_a_log_line_with_the_redacted_comment(out: Output) -> None:
    llmobs.feedback("api-req-1", 2, comment="Wrong, call me on +44 20 7946 0958")
    assert out.values("FeedbackScore") == [2] and out.metric_names() == {"FeedbackScore"}  # SampleCount counts them
    (line,) = out.logs("feedback")
    assert line["feedback_request_id"] == "api-req-1" and line["score"] == 2
    assert line["comment"] == "Wrong, call me on [PHONE]" and line["comment_chars"] == 34
    assert line["pii_redactions"] == 1


def test_cache_lookup_counts_hits_as_1_and_misses_as_0(out: Output) -> None:
    llmobs.cache_lookup(False)
    llmobs.cache_lookup(True)
    assert out.values("RetrievalCacheHit") == [0, 1]  # Average = hit rate, SampleCount = lookups
    with pytest.raises(ValueError, match="hit is 1"):
        llmobs.cache_lookup(1)  # type: ignore[arg-type]


def test_metric_adds_the_service_dimension_to_the_callers_and_batches_in_an_invocation(out: Output) -> None:
    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        llmobs.metric("GuardrailPolicyIntervened", 1, "Count", GuardrailPolicy="topicPolicy")
        llmobs.metric("GuardrailPolicyIntervened", 1, "Count", GuardrailPolicy="topicPolicy")
        llmobs.metric("GuardrailGroundingScore", 0.25)
        assert out.emf() == []
        return {"statusCode": 200}

    handler(API_EVENT, Context())
    assert out.values("GuardrailPolicyIntervened", GuardrailPolicy="topicPolicy") == [1, 1]
    assert out.values("GuardrailGroundingScore") == [0.25]
    (blob,) = [b for b in out.emf() if "GuardrailPolicy" in b]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "GuardrailPolicyIntervened", "Unit": "Count"}]
    assert blob["request_id"] == "api-req-1"


@pytest.mark.parametrize(
    ("args", "dims", "match"),
    [
        (("", 1), {}, "name is ''"),
        (("M", float("nan")), {}, "value of M is nan"),
        (("M", True), {}, "value of M is True"),
        (("M", 1, "Furlongs"), {}, "unit of M is 'Furlongs'"),
        (("M", 1), {"service": "other"}, "not 'service'"),
        (("M", 1), {"ModelId": ""}, "dimension ModelId of M is ''"),
        (("M", 1), {f"D{i}": "x" for i in range(30)}, "at most 29"),
    ],
)
def test_metric_rejects_bad_arguments(out: Output, args: tuple[Any, ...], dims: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        llmobs.metric(*args, **dims)
    assert out.lines == []


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("id", 0), "score is 0"),
        (("id", True), "score is True"),
        (("", 3), "request_id is ''"),
        (("id", 3, 7), "comment"),
    ],
)
def test_feedback_rejects_bad_arguments(out: Output, args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        llmobs.feedback(*args)
    assert out.lines == []


def test_metrics_are_buffered_until_flush_inside_an_invocation(out: Output) -> None:
    rec = recorder.current()
    rec.begin("r1", "r1")
    llmobs.feedback("x", 5)
    assert out.emf() == []
    llmobs.flush()
    assert out.values("FeedbackScore") == [5]
    rec.end()


def test_an_invocation_with_many_calls_is_printed_in_bounded_objects(out: Output) -> None:
    rec = recorder.current()
    rec.begin(None, None)
    for _ in range(2500):
        rec.metric("StageLatency", "Milliseconds", 1.0, "Stage", "Inference")
    rec.end()
    blobs = out.emf()
    assert all(len(b["StageLatency"]) <= 100 for b in blobs)
    assert sum(len(b["StageLatency"]) for b in blobs) == 2500


# --- instrumentation failures never reach the user --------------------------------------------------------------------
def test_instrumentation_errors_are_swallowed_counted_and_logged_once(
    out: Output, fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(response: Any) -> Any:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(calls, "converse_completion", broken)
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), json_reply(CONVERSE_OK))
    first = client.converse(modelId=MODEL_ID, messages=MESSAGES)
    second = client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert first["usage"]["inputTokens"] == 10 and second["stopReason"] == "end_turn"
    assert out.values("InstrumentationErrors") == [1, 1]
    assert [(c["outcome"], c["usage"]["input_tokens"]) for c in out.calls()] == [("success", None)] * 2
    (warning,) = [line for line in out.logs() if line["level"] == "WARNING"]
    assert warning["where"] == "call.succeeded" and warning["error_type"] == "RuntimeError"
    assert "parser bug" not in json.dumps(warning)  # no message text: it could carry the user's data


def test_a_broken_call_constructor_leaves_the_call_alone(
    out: Output, fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hook, "Call", None)  # calling it raises TypeError
    fake.queue(json_reply(CONVERSE_OK))
    assert fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES)["usage"]["totalTokens"] == 14
    assert out.values("InstrumentationErrors") == [1] and out.calls() == []


# --- settings ------------------------------------------------------------------------------------------------------
def test_settings_come_from_the_environment_with_defaults() -> None:
    env = {
        "LLMOBS_NAMESPACE": "Shop",
        "LLMOBS_PROMPT_LOGGING": "full",
        "LLMOBS_PRICES": json.dumps({"anthropic.claude-3-haiku-20240307-v1:0": {"input": 0.25, "output": 1.25}}),
        "AWS_LAMBDA_FUNCTION_NAME": "shop-fn",
    }
    loaded = settings.load(environ=env)
    assert (loaded.service_name, loaded.namespace, loaded.prompt_logging, loaded.problems) == (
        "shop-fn",
        "Shop",
        "full",
        (),
    )
    assert loaded.price_of("us.anthropic.claude-3-haiku-20240307-v1:0") == settings.Price(0.25, 1.25)
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    assert loaded.price_of(arn) == settings.Price(0.25, 1.25) and loaded.price_of("other") is None
    assert settings.load(environ={}).service_name == "llm-app"
    assert settings.load(environ={"POWERTOOLS_SERVICE_NAME": "pt"}).service_name == "pt"


def test_bad_environment_falls_back_and_is_logged_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMOBS_PROMPT_LOGGING", "everything")
    monkeypatch.setenv("LLMOBS_PRICES", "{not json")
    monkeypatch.setenv("LLMOBS_NAMESPACE", "AWS/Lambda")
    lines: list[str] = []
    monkeypatch.setattr(recorder, "_stdout_write", lines.append)
    rec = recorder.current()
    assert (rec.settings.prompt_logging, rec.settings.namespace, dict(rec.settings.prices)) == (
        "redacted",
        "LLMObservability",
        {},
    )
    problems = [json.loads(line)["problem"] for line in lines]
    assert len(problems) == 3 and any("LLMOBS_PRICES is not JSON" in p for p in problems)
    recorder.current()
    assert len(lines) == 3


# The tracing seam (spans, the no-op path without OpenTelemetry, failures of the tracing API) is tested with the
# OpenTelemetry SDK in tests/runtime/test_tracing_runtime.py.
