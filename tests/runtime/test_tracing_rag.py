"""The reference RAG handler traced by the runtime: the span tree request > stages > Bedrock calls, the GenAI
attributes, error types, the X-Ray trace header as parent, and the ADOT instrumentations (botocore, Lambda) on.

The real handler with stubbed Bedrock clients (``tests/functions`` fixtures); the OpenTelemetry SDK with an
in-memory exporter, set once per session (``tracing_sdk``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.trace import SpanKind, StatusCode

from llm_observability.runtime import _tracing
from llm_observability.runtime import telemetry as t
from tests.functions.conftest import Api, api, bedrock_clients, lookup_clients, process_env, rag_module  # noqa: F401
from tests.runtime.tracing_sdk import OtelSdk, otel, otel_session  # noqa: F401 - fixtures

QUESTION = "What is the refund policy?"
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
PARENT_ID = "53995c3f42cd8ad8"
TRACE_HEADER = f"Root=1-{TRACE_ID[:8]}-{TRACE_ID[8:]};Parent={PARENT_ID};Sampled=1"
SCOPE = _tracing.TRACER_NAME
LAMBDA_SCOPE = "opentelemetry.instrumentation.aws_lambda"


@pytest.fixture(scope="module", autouse=True)
def _handler_imported_with_its_environment(process_env: None) -> None:  # noqa: F811
    """Import the handler (which reads its service name at import) before the runtime tests' per-test clean-up."""
    rag_module("handler")


def _traced_event(api: Api, body: Any) -> dict[str, Any]:
    event = api.event("/ask", body)
    event["headers"]["X-Amzn-Trace-Id"] = TRACE_HEADER
    return event


def _attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_the_span_tree_is_request_then_the_five_stages_then_the_bedrock_calls(
    api: Api, otel: OtelSdk  # noqa: F811
) -> None:
    api.stub_retrieve()
    api.stub_converse()

    ask = {"question": QUESTION, "temperature": 0.5, "top_p": 0.9, "max_tokens": 300}
    response = api.invoke(_traced_event(api, ask))

    assert response["statusCode"] == 200
    assert len(otel.spans) == 8  # request, 5 stages, Retrieve, Converse
    (request,) = [span for span in otel.spans if span.kind is SpanKind.SERVER]
    assert request.name == api.context.function_name and request.instrumentation_scope.name == SCOPE
    assert format(request.context.trace_id, "032x") == TRACE_ID and request.parent.is_remote
    assert format(request.parent.span_id, "016x") == PARENT_ID
    assert all(span.context.trace_id == request.context.trace_id for span in otel.spans)
    assert _attributes(request) == {
        t.SPAN_INVOCATION_ID: api.context.aws_request_id,
        "faas.trigger": "http",
        "http.request.method": "POST",
        "http.route": "/ask",
        t.SPAN_HTTP_STATUS: 200,
    }
    assert request.status.status_code is StatusCode.UNSET
    stages = otel.children(request)
    assert [span.name for span in stages] == [f"stage {stage}" for stage in t.STAGES]
    assert all(span.kind is SpanKind.INTERNAL and span.status.status_code is StatusCode.UNSET for span in stages)
    by_stage = {span.attributes[t.SPAN_STAGE]: span for span in stages}
    assert by_stage[t.STAGE_RETRIEVAL].attributes[t.SPAN_CACHE_HIT] is False
    assert by_stage[t.STAGE_INFERENCE].attributes[t.SPAN_MODEL_ID] == api.model_id
    assert [otel.children(span) for span in stages if span.name.split()[1] not in t.STAGES[1:4:2]] == [[], [], []]

    (retrieve,) = otel.children(by_stage[t.STAGE_RETRIEVAL])
    assert retrieve.name == f"retrieval {api.knowledge_base_id}" and retrieve.kind is SpanKind.CLIENT
    assert _attributes(retrieve) == {
        t.SPAN_GEN_AI_OPERATION: "retrieval",
        t.SPAN_GEN_AI_PROVIDER: "aws.bedrock",
        t.SPAN_GEN_AI_SYSTEM: "aws.bedrock",
        t.SPAN_RPC_METHOD: "Retrieve",
        t.SPAN_KNOWLEDGE_BASE_ID: api.knowledge_base_id,
        t.SPAN_RETRIEVAL_PASSAGES: 2,
        t.SPAN_RETRIEVAL_TOP_SCORE: 0.82,
    }
    (converse,) = otel.children(by_stage[t.STAGE_INFERENCE])
    assert converse.name == f"chat {api.model_id}" and converse.kind is SpanKind.CLIENT
    assert _attributes(converse) == {
        t.SPAN_GEN_AI_OPERATION: "chat",
        t.SPAN_GEN_AI_PROVIDER: "aws.bedrock",
        t.SPAN_GEN_AI_SYSTEM: "aws.bedrock",
        t.SPAN_RPC_METHOD: "Converse",
        t.SPAN_GEN_AI_REQUEST_MODEL: api.model_id,
        t.SPAN_GEN_AI_REQUEST_TEMPERATURE: 0.5,
        t.SPAN_GEN_AI_REQUEST_TOP_P: 0.9,
        t.SPAN_GEN_AI_REQUEST_MAX_TOKENS: 300,
        t.SPAN_GEN_AI_USAGE_INPUT_TOKENS: 1200,
        t.SPAN_GEN_AI_USAGE_OUTPUT_TOKENS: 80,
        t.SPAN_GEN_AI_FINISH_REASONS: ("end_turn",),
        t.SPAN_PROMPT_VERSION: "v1",  # the handler names the prompt version (llmobs.prompt_version)
    }  # no message content: PROMPT_LOGGING is redacted
    tokens = {p[0][t.OTEL_ATTR_TOKEN_TYPE]: p[2] for p in otel.histograms(SCOPE, t.OTEL_METRIC_TOKEN_USAGE)}
    assert tokens == {"input": 1200, "output": 80}
    durations = otel.histograms(SCOPE, t.OTEL_METRIC_OPERATION_DURATION)
    assert sorted(p[0][t.SPAN_GEN_AI_OPERATION] for p in durations) == ["chat", "retrieval"]


def test_message_content_is_on_the_spans_with_full_prompt_logging(api: Api, otel: OtelSdk) -> None:  # noqa: F811
    api.env(PROMPT_LOGGING="full")
    api.stub_retrieve()
    api.stub_converse()

    api.ask({"question": QUESTION})

    retrieve, converse = otel.named("retrieval "), otel.named("chat ")
    question = json.loads(retrieve[0].attributes[t.SPAN_GEN_AI_INPUT_MESSAGES])
    assert question == [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
    roles = [m["role"] for m in json.loads(converse[0].attributes[t.SPAN_GEN_AI_INPUT_MESSAGES])]
    assert roles == ["system", "user"]
    (answer,) = json.loads(converse[0].attributes[t.SPAN_GEN_AI_OUTPUT_MESSAGES])
    assert answer["parts"][0]["content"] == "Refunds take 30 days [1]." and answer["finish_reason"] == "end_turn"


def _fail_converse(api: Api, fault: str) -> Iterator[None]:
    if fault == "ReadTimeoutError":

        def raise_timeout(**kwargs: Any) -> None:
            raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse")

        event = "before-call.bedrock-runtime.Converse"
        api.runtime.deactivate()  # the hook stands in for the network and raises what botocore would
        api.runtime_client.meta.events.register(event, raise_timeout)
        try:
            yield
        finally:
            api.runtime_client.meta.events.unregister(event, raise_timeout)
            api.runtime.activate()
    else:
        status = {"ThrottlingException": 429, "AccessDeniedException": 403, "ValidationException": 400}[fault]
        api.runtime.add_client_error("converse", fault, "it failed", status)
        yield


@pytest.mark.parametrize(
    ("fault", "status", "error_class"),
    [
        ("ThrottlingException", 429, t.ERROR_THROTTLING),
        ("ReadTimeoutError", 504, t.ERROR_TIMEOUT),
        ("AccessDeniedException", 500, t.ERROR_ACCESS_DENIED),
        ("ValidationException", 502, t.ERROR_MODEL),  # Bedrock refused what we sent: our fault, a model error
    ],
)
def test_a_bedrock_fault_sets_error_type_and_status_on_call_stage_and_request(
    api: Api, otel: OtelSdk, fault: str, status: int, error_class: str  # noqa: F811
) -> None:
    api.stub_retrieve()
    failing = _fail_converse(api, fault)
    next(failing)
    try:
        response = api.ask({"question": QUESTION})
    finally:
        next(failing, None)

    assert response["statusCode"] == status
    (converse,) = otel.named("chat ")
    inference, request = otel.stage(t.STAGE_INFERENCE), otel.one(api.context.function_name)
    assert converse.attributes[t.SPAN_ERROR_TYPE] == fault and inference.attributes[t.SPAN_ERROR_TYPE] == fault
    assert request.attributes[t.SPAN_ERROR_TYPE] == error_class  # the handler's record_error
    assert request.attributes[t.SPAN_HTTP_STATUS] == status
    assert all(span.status.status_code is StatusCode.ERROR for span in (converse, inference, request))
    assert otel.stage(t.STAGE_RETRIEVAL).status.status_code is StatusCode.UNSET
    assert t.SPAN_GEN_AI_USAGE_INPUT_TOKENS not in converse.attributes


def test_a_rejected_request_leaves_the_request_span_ok(api: Api, otel: OtelSdk) -> None:  # noqa: F811
    assert api.ask({"question": ""})["statusCode"] == 400
    preprocessing, request = otel.spans  # the caller's mistake: the service did not fail
    assert request.status.status_code is StatusCode.UNSET and t.SPAN_ERROR_TYPE not in request.attributes
    assert preprocessing.attributes[t.SPAN_ERROR_TYPE] == "RequestValidationError"  # what left the stage


@pytest.fixture
def adot_instrumentations(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # noqa: F811
    """The real Lambda and botocore instrumentations of the ADOT layer, around the handler as Lambda loads it."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", api.context.function_name)
    monkeypatch.setenv("_HANDLER", "handler.lambda_handler")
    lambda_instrumentor, botocore_instrumentor = AwsLambdaInstrumentor(), BotocoreInstrumentor()
    lambda_instrumentor.instrument()
    yield botocore_instrumentor
    lambda_instrumentor.uninstrument()
    if botocore_instrumentor.is_instrumented_by_opentelemetry:
        botocore_instrumentor.uninstrument()
    botocore_instrumentor.response_hook = None


@pytest.mark.parametrize("order", ["botocore-first", "runtime-first"])
def test_with_the_adot_instrumentations_each_bedrock_call_has_one_span(
    api: Api, otel: OtelSdk, adot_instrumentations: Any, order: str  # noqa: F811
) -> None:
    api.env(RETRIEVAL_CACHE_TTL_SECONDS="0")
    if order == "botocore-first":
        adot_instrumentations.instrument()
    else:  # the runtime instruments boto3 on the first invocation
        api.ask({"question": ""})
        adot_instrumentations.instrument()
    otel.clear()
    api.stub_retrieve()
    api.stub_converse()
    api.stub_retrieve()
    api.runtime.add_client_error("converse", "ThrottlingException", "slow down", 429)

    assert api.ask({"question": QUESTION})["statusCode"] == 200
    assert api.ask({"question": QUESTION})["statusCode"] == 429

    first, second = otel.named(api.context.function_name)
    assert len(otel.spans) == 8 + 7  # the Lambda span, the stages run (5, then 4), one span per Bedrock call
    for request, stages in ((first, t.STAGES), (second, t.STAGES[:4])):
        assert request.instrumentation_scope.name == LAMBDA_SCOPE and request.kind is SpanKind.SERVER
        assert [span.name for span in otel.children(request)] == [f"stage {stage}" for stage in stages]
    calls = [span for span in otel.spans if span.kind is SpanKind.CLIENT]
    assert len(calls) == 4
    assert all(span.instrumentation_scope.name.startswith(_tracing.BOTOCORE_SCOPE) for span in calls)
    assert all(span.attributes[t.SPAN_GEN_AI_PROVIDER] == "aws.bedrock" for span in calls)  # enriched by the runtime
    failed = [span for span in calls if span.status.status_code is StatusCode.ERROR]
    assert [span.attributes[t.SPAN_ERROR_TYPE] for span in failed] == ["ThrottlingException"]
    assert second.attributes[t.SPAN_ERROR_TYPE] == t.ERROR_THROTTLING and second.status.status_code is StatusCode.ERROR


def test_instrumentation_off_makes_no_spans_of_the_runtime(
    api: Api, otel: OtelSdk, adot_instrumentations: Any  # noqa: F811
) -> None:
    adot_instrumentations.instrument()
    api.env(INSTRUMENTATION="off")
    api.stub_retrieve()
    api.stub_converse()

    assert api.ask({"question": QUESTION})["statusCode"] == 200

    assert otel.spans and not [span for span in otel.spans if span.instrumentation_scope.name == SCOPE]
    assert len([span for span in otel.spans if span.kind is SpanKind.CLIENT]) == 2  # botocore's own, not ours
