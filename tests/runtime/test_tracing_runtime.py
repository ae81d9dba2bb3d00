"""The runtime's OpenTelemetry tracing on a user-shaped function: spans, GenAI attributes, metrics, the botocore
instrumentation and the no-op and failure paths. The OpenTelemetry SDK is set once per session (``tracing_sdk``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.trace import SpanKind, StatusCode

import llm_observability.runtime as llmobs
from llm_observability.runtime import _tracing, calls, hook, recorder
from llm_observability.runtime import telemetry as t
from tests.conftest import ROOT
from tests.runtime.bedrock_fakes import (
    KNOWLEDGE_BASE_ID,
    MODEL_ID,
    FakeBedrock,
    Reply,
    converse_stream_messages,
    error_reply,
    invoke_reply,
    json_reply,
    stream_reply,
)
from tests.runtime.conftest import Output, instrument_captured
from tests.runtime.tracing_sdk import OtelSdk, otel, otel_session  # noqa: F401 - fixtures
from tests.support.loader import load_file

SCOPE = _tracing.TRACER_NAME
BOTOCORE_BEDROCK = _tracing.BOTOCORE_BEDROCK_RUNTIME_SCOPE
MESSAGES = [{"role": "user", "content": [{"text": "What is the refund policy?"}]}]
CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Thirty days."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14},
    "metrics": {"latencyMs": 100},
}
ANTHROPIC_OK = {"content": [{"type": "text", "text": "Hi."}], "stop_reason": "end_turn"}
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
PARENT_ID = "53995c3f42cd8ad8"
TRACE_HEADER = f"Root=1-{TRACE_ID[:8]}-{TRACE_ID[8:]};Parent={PARENT_ID};Sampled=1"
READ_TIMEOUT = ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse")


class Context:
    function_name = "their-function"
    aws_request_id = "lambda-req-1"


@pytest.fixture
def sample(fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> Any:
    """examples/invoke_model_app's unmodified handler (InvokeModel, no stages), its client answered by ``fake``."""
    path = ROOT / "examples" / "invoke_model_app" / "function" / "app.py"
    module = load_file("invoke_sample_traced", path, register=False)
    monkeypatch.setattr(module, "_client", fake.client("bedrock-runtime"))
    monkeypatch.setattr(module, "MODEL_ID", MODEL_ID)
    return module


@pytest.fixture
def botocore_instrumentation() -> Any:
    """The real botocore instrumentation (as the ADOT layer turns it on), removed afterwards."""
    instrumentor = BotocoreInstrumentor()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.response_hook = None


def _attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


# --- a user's function ---------------------------------------------------------------------------------------------
def test_a_user_shaped_handler_gets_a_request_span_with_one_genai_span_per_call(
    otel: OtelSdk, out: Output, fake: FakeBedrock, sample: Any
) -> None:
    fake.queue(invoke_reply(ANTHROPIC_OK, input_tokens=12, output_tokens=3))
    handler = llmobs.observe(sample.handler)
    event = {"body": json.dumps({"prompt": "Hello"}), "headers": {"x-amzn-trace-id": TRACE_HEADER}}

    assert handler(event, Context())["statusCode"] == 200

    request, call = otel.one("their-function"), otel.one("chat ")
    assert request.kind is SpanKind.SERVER and call.kind is SpanKind.CLIENT
    assert otel.children(request) == [call] and len(otel.spans) == 2
    assert format(request.context.trace_id, "032x") == TRACE_ID and format(request.parent.span_id, "016x") == PARENT_ID
    assert request.parent.is_remote and call.context.trace_id == request.context.trace_id
    assert _attributes(request)[t.SPAN_INVOCATION_ID] == "lambda-req-1"
    assert request.status.status_code is StatusCode.UNSET
    assert call.name == f"chat {MODEL_ID}" and call.instrumentation_scope.name == SCOPE
    assert _attributes(call) == {
        t.SPAN_GEN_AI_OPERATION: "chat",
        t.SPAN_GEN_AI_PROVIDER: "aws.bedrock",
        t.SPAN_GEN_AI_SYSTEM: "aws.bedrock",
        t.SPAN_RPC_METHOD: "InvokeModel",
        t.SPAN_GEN_AI_REQUEST_MODEL: MODEL_ID,
        t.SPAN_GEN_AI_REQUEST_MAX_TOKENS: 512,
        t.SPAN_GEN_AI_USAGE_INPUT_TOKENS: 12,
        t.SPAN_GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        t.SPAN_GEN_AI_FINISH_REASONS: ("end_turn",),
        t.SPAN_AWS_REQUEST_ID: "req-1",
    }
    assert out.values("InputTokens", ModelId=MODEL_ID) == [12]  # the metrics are unchanged by tracing


def test_the_runtimes_own_call_spans_record_the_genai_histograms(otel: OtelSdk, out: Output, fake: FakeBedrock) -> None:
    fake.queue(json_reply(CONVERSE_OK), error_reply("ThrottlingException", 429))
    client = fake.client("bedrock-runtime")
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    with pytest.raises(ClientError):
        client.converse(modelId=MODEL_ID, messages=MESSAGES)

    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock", "gen_ai.system": "aws.bedrock"}
    base["gen_ai.request.model"] = MODEL_ID
    tokens = otel.histograms(SCOPE, t.OTEL_METRIC_TOKEN_USAGE)
    assert sorted((point[0]["gen_ai.token.type"], point[1], point[2]) for point in tokens) == [
        ("input", 1, 10),
        ("output", 1, 4),
    ]
    assert all(point[0] == {**base, "gen_ai.token.type": point[0]["gen_ai.token.type"]} for point in tokens)
    points = otel.histograms(SCOPE, t.OTEL_METRIC_OPERATION_DURATION)
    durations = {point[0].get("error.type"): point for point in points}
    assert set(durations) == {None, "ThrottlingException"} and all(p[1] == 1 and p[2] >= 0 for p in durations.values())
    assert durations["ThrottlingException"][0] == {**base, "error.type": "ThrottlingException"}


def test_request_parameters_come_from_converse_and_invoke_model_bodies(
    otel: OtelSdk, out: Output, fake: FakeBedrock
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), invoke_reply(ANTHROPIC_OK, input_tokens=5, output_tokens=2))
    fake.queue(invoke_reply({"results": [{"outputText": "ok", "completionReason": "FINISH"}]}, input_tokens=1,
                            output_tokens=1))  # fmt: skip
    client.converse(
        modelId=MODEL_ID, messages=MESSAGES, inferenceConfig={"temperature": 0.2, "topP": 0.9, "maxTokens": 300}
    )
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "temperature": 0.7, "top_p": 0.5,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    client.invoke_model(modelId=MODEL_ID, body=json.dumps(body))["body"].read()
    titan = "amazon.titan-text-express-v1"
    titan_body = json.dumps({"inputText": "hi", "textGenerationConfig": {"topP": 1}})
    client.invoke_model(modelId=titan, body=titan_body)["body"].read()  # the span ends when the body is read

    converse, invoke, completion = (_attributes(span) for span in otel.spans)
    assert (converse[t.SPAN_GEN_AI_REQUEST_TEMPERATURE], converse[t.SPAN_GEN_AI_REQUEST_TOP_P]) == (0.2, 0.9)
    assert converse[t.SPAN_GEN_AI_REQUEST_MAX_TOKENS] == 300
    assert (invoke[t.SPAN_GEN_AI_REQUEST_TEMPERATURE], invoke[t.SPAN_GEN_AI_REQUEST_TOP_P]) == (0.7, 0.5)
    assert invoke[t.SPAN_GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert completion[t.SPAN_GEN_AI_OPERATION] == "text_completion" and completion[t.SPAN_GEN_AI_REQUEST_TOP_P] == 1
    assert otel.spans[2].name == f"text_completion {titan}"


def test_retrieve_spans_carry_the_knowledge_base_and_the_passages(
    otel: OtelSdk, out: Output, fake: FakeBedrock
) -> None:
    results = [{"content": {"text": f"p{i}"}, "score": 0.5 + i / 10} for i in range(3)]
    fake.queue(json_reply({"retrievalResults": results}))
    fake.client("bedrock-agent-runtime").retrieve(knowledgeBaseId=KNOWLEDGE_BASE_ID, retrievalQuery={"text": "q"})

    span = otel.one("retrieval ")
    assert span.name == f"retrieval {KNOWLEDGE_BASE_ID}"
    attributes = _attributes(span)
    assert attributes[t.SPAN_KNOWLEDGE_BASE_ID] == KNOWLEDGE_BASE_ID and attributes[t.SPAN_RETRIEVAL_PASSAGES] == 3
    assert attributes[t.SPAN_RETRIEVAL_TOP_SCORE] == pytest.approx(0.7)
    assert attributes[t.SPAN_GEN_AI_OPERATION] == "retrieval" and attributes[t.SPAN_RPC_METHOD] == "Retrieve"


def test_a_stream_span_stays_open_until_the_stream_is_consumed(otel: OtelSdk, out: Output, fake: FakeBedrock) -> None:
    fake.queue(stream_reply(converse_stream_messages(["Thirty ", "days."], input_tokens=11, output_tokens=7)))
    response = fake.client("bedrock-runtime").converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    assert otel.spans == []  # not consumed yet
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in response["stream"] if "contentBlockDelta" in e)
    span = otel.one("chat ")
    assert _attributes(span)[t.SPAN_GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert _attributes(span)[t.SPAN_GEN_AI_FINISH_REASONS] == ("end_turn",)


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (error_reply("ThrottlingException", 429), "ThrottlingException"),
        (Reply(raise_instead=READ_TIMEOUT), "ReadTimeoutError"),
        (error_reply("AccessDeniedException", 403), "AccessDeniedException"),
        (error_reply("ValidationException", 400), "ValidationException"),
    ],
    ids=["throttling", "timeout", "access-denied", "validation"],
)
@pytest.mark.parametrize("botocore_on", [False, True], ids=["own-span", "botocore-span"])
def test_a_failed_call_has_its_error_type_and_error_status(
    otel: OtelSdk, fake: FakeBedrock, botocore_instrumentation: Any, reply: Reply, error_type: str, botocore_on: bool
) -> None:
    if botocore_on:
        botocore_instrumentation.instrument()
    out = instrument_captured()
    fake.queue(reply)
    with pytest.raises((ClientError, ReadTimeoutError)):
        fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES)

    (span,) = otel.spans
    assert span.instrumentation_scope.name == (BOTOCORE_BEDROCK if botocore_on else SCOPE)
    assert span.attributes[t.SPAN_ERROR_TYPE] == error_type and span.status.status_code is StatusCode.ERROR
    assert span.attributes[t.SPAN_GEN_AI_PROVIDER] == "aws.bedrock"
    assert [event.name for event in span.events] == ["exception"]
    assert len(out.calls()) == 1


# --- the botocore instrumentation: one span per Bedrock call --------------------------------------------------------
@pytest.mark.parametrize("order", ["botocore-first", "runtime-first"])
def test_with_the_botocore_instrumentation_each_call_has_exactly_one_span(
    otel: OtelSdk, fake: FakeBedrock, botocore_instrumentation: Any, order: str
) -> None:
    original = BaseClient.__dict__["_make_api_call"]
    if order == "botocore-first":
        botocore_instrumentation.instrument()
        out = instrument_captured()
    else:
        out = instrument_captured()
        botocore_instrumentation.instrument()
    outer = BaseClient.__dict__["_make_api_call"]
    assert type(outer).__name__ == "FunctionWrapper" and hook._is_ours(outer.__wrapped__)  # theirs outside ours
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), invoke_reply(ANTHROPIC_OK, input_tokens=5, output_tokens=2))

    @llmobs.observe
    def handler(event: Any, context: Any) -> dict[str, Any]:
        with llmobs.stage("Inference"):
            client.converse(modelId=MODEL_ID, messages=MESSAGES, inferenceConfig={"temperature": 0.3})
        client.invoke_model(modelId=MODEL_ID, body=json.dumps({"messages": [], "max_tokens": 9}))["body"].read()
        return {"statusCode": 200}

    handler({}, Context())

    assert len(otel.spans) == 4  # request, stage and exactly one span per Bedrock call
    converse, invoke = otel.named("chat ")
    assert {converse.instrumentation_scope.name, invoke.instrumentation_scope.name} == {BOTOCORE_BEDROCK}
    assert otel.children(otel.stage("Inference")) == [converse]
    assert _attributes(converse)[t.SPAN_GEN_AI_PROVIDER] == "aws.bedrock"  # enriched by the runtime
    assert _attributes(converse)[t.SPAN_GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert _attributes(invoke)[t.SPAN_GEN_AI_REQUEST_MAX_TOKENS] == 9
    assert _attributes(invoke)[t.SPAN_GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert otel.histograms(SCOPE, t.OTEL_METRIC_TOKEN_USAGE) == []  # the bedrock extension records its own
    assert otel.histograms(BOTOCORE_BEDROCK, t.OTEL_METRIC_TOKEN_USAGE)
    assert len(out.calls()) == 2
    # either order of removal leaves a working chain, and both removed restore botocore's own method
    if order == "botocore-first":
        assert hook.uninstall()
        assert type(BaseClient.__dict__["_make_api_call"]).__name__ == "FunctionWrapper"
        botocore_instrumentation.uninstrument()
    else:
        botocore_instrumentation.uninstrument()
        assert hook._is_ours(BaseClient.__dict__["_make_api_call"]) and hook.uninstall()
    assert BaseClient.__dict__["_make_api_call"] is original
    fake.queue(json_reply(CONVERSE_OK))
    assert fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES)["stopReason"] == "end_turn"


def test_a_retrieve_span_of_the_botocore_instrumentation_is_enriched_and_timed(
    otel: OtelSdk, fake: FakeBedrock, botocore_instrumentation: Any
) -> None:
    botocore_instrumentation.instrument()
    instrument_captured()
    fake.queue(json_reply({"retrievalResults": [{"content": {"text": "p"}, "score": 0.4}]}))
    fake.client("bedrock-agent-runtime").retrieve(knowledgeBaseId=KNOWLEDGE_BASE_ID, retrievalQuery={"text": "q"})

    (span,) = otel.spans
    assert span.instrumentation_scope.name.startswith(_tracing.BOTOCORE_SCOPE)
    assert span.attributes[t.SPAN_KNOWLEDGE_BASE_ID] == KNOWLEDGE_BASE_ID
    assert span.attributes[t.SPAN_RETRIEVAL_PASSAGES] == 1
    (point,) = otel.histograms(SCOPE, t.OTEL_METRIC_OPERATION_DURATION)  # no bedrock extension records it
    assert point[0][t.SPAN_GEN_AI_OPERATION] == "retrieval"


# --- content --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["full", "redacted", "none"])
def test_message_content_is_on_spans_only_with_full_prompt_logging(otel: OtelSdk, fake: FakeBedrock, mode: Any) -> None:
    instrument_captured(prompt_logging=mode)
    fake.queue(json_reply(CONVERSE_OK))
    system = [{"text": "Answer briefly."}]
    fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES, system=system)

    attributes = _attributes(otel.one("chat "))
    if mode != "full":
        assert t.SPAN_GEN_AI_INPUT_MESSAGES not in attributes and t.SPAN_GEN_AI_OUTPUT_MESSAGES not in attributes
        return
    assert json.loads(attributes[t.SPAN_GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is the refund policy?"}]},
    ]
    assert json.loads(attributes[t.SPAN_GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Thirty days."}], "finish_reason": "end_turn"}
    ]


# --- request spans, stages, record_error -----------------------------------------------------------------------------
def test_the_request_span_is_parented_by_the_trace_header_else_lambdas_environment_variable(
    otel: OtelSdk, out: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = llmobs.observe(lambda event, context: {"statusCode": 200})
    other = "Root=1-11111111-222222222222222222222222;Parent=3333333333333333;Sampled=1"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", other)
    handler({"headers": {"X-Amzn-Trace-Id": TRACE_HEADER}}, Context())
    handler({"headers": {}}, Context())
    handler({"headers": {"X-Amzn-Trace-Id": "Root=garbage"}}, Context())
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    handler({"headers": {"X-Amzn-Trace-Id": "Root=1-xyz;Parent=1"}}, Context())

    from_header, from_env, from_env_again, root = otel.spans
    assert format(from_header.context.trace_id, "032x") == TRACE_ID
    assert format(from_header.parent.span_id, "016x") == PARENT_ID
    for span in (from_env, from_env_again):
        assert format(span.context.trace_id, "032x") == "11111111222222222222222222222222"
        assert format(span.parent.span_id, "016x") == "3333333333333333"
    assert root.parent is None


def test_the_lambda_instrumentations_server_span_is_enriched_not_doubled(otel: OtelSdk, out: Output) -> None:
    tracer = trace.get_tracer("opentelemetry.instrumentation.aws_lambda")
    handler = llmobs.observe(lambda event, context: {"statusCode": 503})
    with tracer.start_as_current_span("their-function", kind=SpanKind.SERVER):
        handler({}, Context())
    (span,) = otel.spans
    assert span.attributes[t.SPAN_ERROR_TYPE] == "503" and span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(
    ("answer", "error_type"), [(500, "500"), (429, "429"), (404, None), (200, None)]
)
def test_a_5xx_or_429_answer_marks_the_request_span_failed(
    otel: OtelSdk, out: Output, answer: int, error_type: str | None
) -> None:
    llmobs.observe(lambda event, context: {"statusCode": answer})({}, Context())
    (span,) = otel.spans
    assert span.attributes.get(t.SPAN_ERROR_TYPE) == error_type and span.attributes[t.SPAN_HTTP_STATUS] == answer
    assert (span.status.status_code is StatusCode.ERROR) == (error_type is not None)


def test_an_exception_marks_the_stage_and_request_spans_and_goes_through(
    otel: OtelSdk, out: Output, fake: FakeBedrock
) -> None:
    fake.queue(error_reply("ThrottlingException", 429))
    client = fake.client("bedrock-runtime")

    @llmobs.observe
    def handler(event: Any, context: Any) -> None:
        with llmobs.stage("Inference"):
            try:
                client.converse(modelId=MODEL_ID, messages=MESSAGES)
            except ClientError as error:
                raise RuntimeError("the model is busy") from error

    with pytest.raises(RuntimeError, match="busy"):
        handler({}, Context())
    call, stage, request = otel.spans
    assert (call.attributes[t.SPAN_ERROR_TYPE], stage.attributes[t.SPAN_ERROR_TYPE]) == (
        "ThrottlingException",
        "RuntimeError",
    )
    assert request.attributes[t.SPAN_ERROR_TYPE] == "ThrottlingException"  # the AWS code in the chain
    assert all(span.status.status_code is StatusCode.ERROR for span in (call, stage, request))
    assert [event.name for event in request.events] == ["exception"]


def test_record_error_marks_the_request_and_stage_spans_over_the_answers_status(otel: OtelSdk, out: Output) -> None:
    @llmobs.observe
    def handler(event: Any, context: Any) -> dict[str, Any]:
        with llmobs.stage("Retrieval") as span:
            span.set_attribute("app.cache_hit", True)
            llmobs.record_error("Throttling")
        return {"statusCode": 429}

    handler({}, Context())
    stage, request = otel.spans
    assert stage.attributes["app.cache_hit"] is True and stage.attributes[t.SPAN_STAGE] == "Retrieval"
    assert stage.kind is SpanKind.INTERNAL and stage.parent.span_id == request.context.span_id
    assert stage.attributes[t.SPAN_ERROR_TYPE] == request.attributes[t.SPAN_ERROR_TYPE] == "Throttling"
    with pytest.raises(ValueError, match="error_type is ''"):
        llmobs.record_error("")


# --- no OpenTelemetry, broken OpenTelemetry --------------------------------------------------------------------------
def test_without_the_opentelemetry_api_everything_is_a_no_op(
    otel: OtelSdk, out: Output, fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tracing, "_otel_trace", None)
    for name in ("start_call", "start_stage", "start_request", "record_error"):  # skipped, not even called
        monkeypatch.setattr(_tracing, name, pytest.fail)
    fake.queue(json_reply(CONVERSE_OK))
    client = fake.client("bedrock-runtime")

    @llmobs.observe
    def handler(event: Any, context: Any) -> dict[str, Any]:
        with llmobs.stage("Inference") as span:
            span.set_attribute("x", 1)
            assert not span.is_recording()
            client.converse(modelId=MODEL_ID, messages=MESSAGES)
        llmobs.record_error("Internal")
        return {"statusCode": 200}

    assert handler({}, Context()) == {"statusCode": 200}
    assert otel.spans == [] and len(out.calls()) == 1
    assert out.values(t.METRIC_INSTRUMENTATION_ERRORS) == []


class _Broken:
    """A tracer, or a span, whose every method raises."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"tracing broke in {name}")

        return fail


@pytest.mark.parametrize("broken", ["tracer", "span"])
def test_a_failing_tracing_api_never_reaches_the_users_call(
    otel: OtelSdk, out: Output, fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    if broken == "tracer":
        monkeypatch.setattr(_tracing, "_tracer", _Broken())
    else:
        real = _tracing._get_tracer()

        class HalfBroken:
            def start_span(self, *args: Any, **kwargs: Any) -> Any:
                real.start_span(*args, **kwargs).end()
                return _Broken()

        monkeypatch.setattr(_tracing, "_tracer", HalfBroken())
    fake.queue(json_reply(CONVERSE_OK), error_reply("ThrottlingException", 429))
    client = fake.client("bedrock-runtime")

    @llmobs.observe
    def handler(event: Any, context: Any) -> dict[str, Any]:
        with llmobs.stage("Inference") as span:
            span.set_attribute("x", 1)
            answer = client.converse(modelId=MODEL_ID, messages=MESSAGES)
        with pytest.raises(ClientError) as raised:
            client.converse(modelId=MODEL_ID, messages=MESSAGES)
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"  # the user's exception, unchanged
        llmobs.record_error("Throttling")
        return {"statusCode": 200, "body": answer["stopReason"]}

    assert handler({}, Context()) == {"statusCode": 200, "body": "end_turn"}
    assert len(out.calls()) == 2
    assert sum(out.values(t.METRIC_INSTRUMENTATION_ERRORS)) >= 1  # counted, logged once per place
    assert {line["where"] for line in out.logs() if "where" in line} <= {
        "observe.span", "observe.span_end", "stage.span", "stage.attribute", "stage.span_end", "call.span",
        "call.detach", "call.span_end", "record_error",
    }  # fmt: skip
    assert recorder.current().invocation is None and trace.get_current_span() is trace.INVALID_SPAN


# --- attribute extraction from hostile requests (property) ------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["temperature", "top_p", "topP", "max_tokens", "maxTokens", "messages", "system", "prompt", "inputText",
     "textGenerationConfig", "inferenceConfig", "p", "max_gen_len", "content", "role", "text"]
)  # fmt: skip
_shaped = st.recursive(
    _json, lambda inner: st.dictionaries(_keys, inner, max_size=5) | st.lists(inner, max_size=3), max_leaves=25
)
_bodies = st.one_of(
    _shaped.map(lambda document: json.dumps(document)),
    _shaped.map(lambda document: json.dumps(document).encode()),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.just("[" * 5000),  # deeper than the JSON parser's recursion limit
    _json,
)


def _valid(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(item, str) for item in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return isinstance(value, (str, bool, int))


@settings(max_examples=50, deadline=None)
@given(
    operation=st.sampled_from(sorted(calls.OPERATIONS)),
    body=_bodies,
    params=st.dictionaries(_keys | st.sampled_from(["modelId", "knowledgeBaseId", "retrievalQuery", "input"]),
                           _shaped, max_size=5),  # fmt: skip
)
def test_property_span_attributes_of_any_request_are_valid_attribute_values(
    operation: tuple[str, str], body: Any, params: dict[str, Any]
) -> None:
    rec = recorder.Recorder(recorder.load(service_name="s", prompt_logging="full"), write=lambda line: None)
    call = calls.Call(rec, calls.OPERATIONS[operation], {**params, "body": body})
    attributes = call.span_attributes()
    assert isinstance(call.span_name, str) and call.span_name
    assert all(isinstance(key, str) and _valid(value) for key, value in attributes.items())
    for key in (t.SPAN_GEN_AI_INPUT_MESSAGES,):
        if key in attributes:
            assert isinstance(json.loads(attributes[key]), list)
