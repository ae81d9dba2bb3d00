"""Behaviour of the RAG Lambda: responses, EMF metrics, logs and OpenTelemetry spans."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime import telemetry

if TYPE_CHECKING:
    from conftest import Api

from tests.functions.conftest import api_event, rag_module

API_REQUEST_ID = "api-request-id-0001"
QUESTION = "What is the refund policy?"
AWS_DETAIL = "arn:aws:bedrock:us-east-1:123456789012:knowledge-base/KB12345678 internal detail xyzzy"


def body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


def headers(response: dict[str, Any]) -> dict[str, str]:
    """The response headers: REST API proxy responses carry them as ``multiValueHeaders``, one value each here."""
    assert "headers" not in response and response["isBase64Encoded"] is False
    values = response["multiValueHeaders"]
    assert all(len(value) == 1 for value in values.values()), values
    return {name: value[0] for name, value in values.items()}


def assert_error_response(response: dict[str, Any], status: int, request_id: str = API_REQUEST_ID) -> dict:
    """Status, JSON headers, request id, and a body with only a message and the request id."""
    assert response["statusCode"] == status
    assert headers(response)["Content-Type"] == "application/json"
    assert headers(response)["X-Request-Id"] == request_id
    payload = body(response)
    assert set(payload) == {"error", "request_id"}
    assert payload["request_id"] == request_id
    assert payload["error"].endswith(".")
    for leak in ("Traceback", "xyzzy", "arn:aws", "Exception", "botocore", "kaboom"):
        assert leak not in response["body"]
    return payload


def assert_failure_metric(api: Api, api_output: Any, error_class: str) -> None:
    """The failure's class is in its log line; RequestFailure{service} counts it unless the caller is at fault."""
    failures = api_output.metric(telemetry.METRIC_REQUEST_FAILURE)
    if error_class == telemetry.ERROR_VALIDATION:
        assert failures == []
        message = "Request rejected"
    else:
        (failure,) = failures
        assert failure.dimensions == (telemetry.DIM_SERVICE,)
        assert failure.dimension_values == {telemetry.DIM_SERVICE: api.service}
        assert failure.values == [1.0]
        message = "Request failed"
    assert api_output.log(message)["error_class"] == error_class
    assert api_output.metric(telemetry.METRIC_REQUEST_SUCCESS) == []


# --- Happy path ------------------------------------------------------------------------------------
def test_ask_returns_answer_sources_and_usage(api: Api) -> None:
    api.stub_retrieve(question=QUESTION)
    api.stub_converse()

    response = api.ask({"question": "  What is the\n refund   policy?  "})

    assert response["statusCode"] == 200
    assert headers(response) == {"Content-Type": "application/json", "X-Request-Id": API_REQUEST_ID}
    payload = body(response)
    assert payload["answer"] == "Refunds take 30 days [1]."
    assert payload["request_id"] == API_REQUEST_ID
    assert payload["model_id"] == api.model_id
    assert payload["prompt_version"] == "v1"
    assert payload["usage"] == {"input_tokens": 1200, "output_tokens": 80, "total_tokens": 1280}
    assert [source["uri"] for source in payload["sources"]] == ["s3://docs/refunds.md", "s3://docs/shipping.md"]
    assert [source["score"] for source in payload["sources"]] == [0.82, 0.41]
    assert len(payload["sources"][0]["excerpt"]) <= 200
    assert payload["sources"][0]["excerpt"].startswith("Refunds are issued within 30 days")
    assert payload["sources"][1]["excerpt"] == "Shipping is free for orders above 50 EUR."


def test_ask_sends_the_prompt_and_inference_settings_to_bedrock(api: Api) -> None:
    api.stub_retrieve(question=QUESTION, top_k=2)
    api.stub_converse(
        expected={
            "modelId": api.model_id,
            "system": [{"text": api.pipeline.PROMPT_TEMPLATES["v1"].system}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "text": "Passages:\n"
                            f"[1] {api.default_passages[0][0]}\n\n[2] {api.default_passages[1][0]}\n\n"
                            f"Question: {QUESTION}"
                        }
                    ],
                }
            ],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.0, "topP": 1.0, "stopSequences": ["\n\nHuman:"]},
            "requestMetadata": {"tenant": "anonymous"},  # no header, no IAM caller in the event
        }
    )

    response = api.ask(
        {
            "question": QUESTION,
            "top_k": 2,
            "max_tokens": 256,
            "temperature": 0,
            "top_p": 1,
            "stop_sequences": ["\n\nHuman:"],
        }
    )

    assert response["statusCode"] == 200


def test_system_prompt_restricts_the_model_to_the_passages(api: Api) -> None:
    system = api.pipeline.PROMPT_TEMPLATES["v1"].system
    assert "only the numbered passages" in system
    assert "do not know" in system


def test_ask_without_passages_still_answers(api: Api) -> None:
    api.stub_retrieve(api.retrieve_response())
    api.stub_converse(api.converse_response("I do not know."))

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 200
    assert body(response)["sources"] == []
    retrieval = api.output().log("ask")["retrieval"]  # passages and top score are log fields, not metrics
    assert retrieval["count"] == 0 and retrieval.get("top_score") is None


def test_ask_emits_emf_metrics_with_low_cardinality_dimensions(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()

    api.ask({"question": QUESTION})
    out = api.output()

    assert {metric.namespace for metric in out.metrics} == {api.namespace}
    stage_latency = out.metric(telemetry.METRIC_STAGE_LATENCY)
    assert [metric.dimension_values[telemetry.DIM_STAGE] for metric in stage_latency] == list(telemetry.STAGES)
    for metric in stage_latency:
        assert metric.dimensions == (telemetry.DIM_SERVICE, telemetry.DIM_STAGE)
        assert metric.unit == "Milliseconds"
        assert len(metric.values) == 1
        assert metric.values[0] >= 0

    model_dims = {telemetry.DIM_SERVICE: api.service, telemetry.DIM_MODEL_ID: api.model_id}
    expected_model_metrics = {telemetry.METRIC_INPUT_TOKENS: 1200.0, telemetry.METRIC_OUTPUT_TOKENS: 80.0}
    for name, value in expected_model_metrics.items():
        metric = out.only(name)
        assert metric.dimensions == (telemetry.DIM_SERVICE, telemetry.DIM_MODEL_ID)
        assert metric.dimension_values == model_dims
        assert metric.values == [pytest.approx(value)]

    service_only = {
        telemetry.METRIC_REQUEST_SUCCESS: 1.0,
        telemetry.METRIC_RETRIEVAL_CACHE_HIT: 0.0,  # a miss: Average over lookups is the hit rate
        telemetry.METRIC_END_TO_END_LATENCY: None,
    }
    for name, value in service_only.items():
        metric = out.only(name)
        assert metric.dimensions == (telemetry.DIM_SERVICE,)
        if value is not None:
            assert metric.values == [value]
    # Everything else of an answer (prompt length, passages, top score, cost, redactions) is a log field.
    assert {metric.name for metric in out.metrics} == {
        telemetry.METRIC_STAGE_LATENCY, *expected_model_metrics, *service_only
    }  # fmt: skip
    assert len({(m.name, m.dimensions, tuple(m.dimension_values.values())) for m in out.metrics}) == 10

    allowed = {telemetry.DIM_SERVICE, telemetry.DIM_STAGE, telemetry.DIM_MODEL_ID}
    assert all(set(metric.dimensions) <= allowed for metric in out.metrics)
    assert all(blob["request_id"] == API_REQUEST_ID for blob in out.emf)  # metadata, not a dimension
    assert all("prompt_version" not in blob for blob in out.emf)  # on the log lines (``ask``), not the EMF ones


def test_each_stage_runs_in_its_own_span(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()

    api.ask({"question": QUESTION})

    (request,) = [span for span in api.tracing.spans if span.parent is None]
    assert [span.name for span in api.tracing.children(request)] == [f"stage {stage}" for stage in telemetry.STAGES]
    assert api.tracing.stage(telemetry.STAGE_INFERENCE).attributes[telemetry.SPAN_MODEL_ID] == api.model_id
    assert api.tracing.stage(telemetry.STAGE_RETRIEVAL).attributes[telemetry.SPAN_CACHE_HIT] is False
    contents = (telemetry.SPAN_GEN_AI_INPUT_MESSAGES, telemetry.SPAN_GEN_AI_OUTPUT_MESSAGES)
    assert not any(key in span.attributes for span in api.tracing.spans for key in contents)  # only when full


def test_ask_writes_one_structured_log_line(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()

    api.ask({"question": QUESTION, "temperature": 0.5, "stop_sequences": ["END"]})
    record = api.output().log("ask")

    assert record["correlation_id"] == API_REQUEST_ID
    assert record["service"] == api.service
    assert record["model_id"] == api.model_id
    assert record["prompt_version"] == "v1"  # on every log line of a request
    assert record["prompt"] == {
        "template_version": "v1",
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 512,
        "stop_sequences": ["END"],
        "top_k": 4,
        "length": record["prompt"]["length"],
    }
    assert record["usage"] == {"input_tokens": 1200, "output_tokens": 80, "total_tokens": 1280}
    passages = [  # ids, excerpts per PROMPT_LOGGING: test_rag_api_passages.py
        {"id": "s3://docs/refunds.md", "score": 0.82, "excerpt": api.default_passages[0][0][:300]},
        {"id": "s3://docs/shipping.md", "score": 0.41, "excerpt": api.default_passages[1][0]},
    ]
    assert record["retrieval"] == {"count": 2, "top_score": 0.82, "cache_hit": False, "passages": passages}
    assert set(record["latency_ms"]["stages"]) == set(telemetry.STAGES)
    assert record["latency_ms"]["inference_model"] == 840.0
    assert record["estimated_cost_usd"] == pytest.approx(0.4)


def test_the_runtime_logs_each_bedrock_call_of_a_request_with_its_request_id(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()

    api.ask({"question": f"{QUESTION} Mail me at jane.doe@example.com"})
    calls = api.output().logs

    retrieve, converse = [record for record in calls if record["message"] == telemetry.LOG_MESSAGE_CALL]
    assert (retrieve["operation"], retrieve["stage"], converse["operation"], converse["stage"]) == (
        "Retrieve", telemetry.STAGE_RETRIEVAL, "Converse", telemetry.STAGE_INFERENCE
    )  # fmt: skip
    for record in (retrieve, converse):
        assert record["correlation_id"] == API_REQUEST_ID and record["service"] == api.service
        assert record["function_request_id"] == api.context.aws_request_id
        assert record["outcome"] == "success" and record["error_class"] is None
        assert "jane.doe@example.com" not in json.dumps(record) and "[EMAIL]" in record["question"]
    assert retrieve["retrieval"] == {
        "count": 2,
        "top_score": 0.82,
        "passages": [
            {"id": "s3://docs/refunds.md", "score": 0.82, "excerpt": api.default_passages[0][0][:300]},
            {"id": "s3://docs/shipping.md", "score": 0.41, "excerpt": api.default_passages[1][0]},
        ],
    }
    assert converse["model_id"] == api.model_id and converse["usage"]["total_tokens"] == 1280
    assert converse["estimated_cost_usd"] == pytest.approx(0.4)  # PRICE_TABLE, handed to the runtime


def test_a_failed_bedrock_call_is_logged_by_the_runtime_and_counted_once_by_the_request(api: Api) -> None:
    api.stub_retrieve()
    api.runtime.add_client_error("converse", "ThrottlingException", "slow down", 429)

    assert api.ask({"question": QUESTION})["statusCode"] == 429
    out = api.output()

    (call,) = [r for r in out.logs if r["message"] == telemetry.LOG_MESSAGE_CALL and r["operation"] == "Converse"]
    assert (call["outcome"], call["error_class"], call["aws_error_code"], call["level"]) == (
        "failure", telemetry.ERROR_THROTTLING, "ThrottlingException", "WARNING"
    )  # fmt: skip
    assert out.only(telemetry.METRIC_REQUEST_FAILURE).values == [1.0]  # by the invocation, not by the call as well
    assert out.metric(telemetry.METRIC_INPUT_TOKENS) == []


def test_request_id_falls_back_to_the_lambda_request_id(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()

    response = api.invoke(api.event("/ask", {"question": QUESTION}, request_id=None))

    assert body(response)["request_id"] == api.context.aws_request_id
    assert headers(response)["X-Request-Id"] == api.context.aws_request_id


def test_base64_encoded_body_is_decoded(api: Api) -> None:
    api.stub_retrieve(question=QUESTION)
    api.stub_converse()

    response = api.ask({"question": QUESTION}, base64_encoded=True)

    assert response["statusCode"] == 200


def test_missing_price_reports_zero_cost_and_warns_once(api: Api) -> None:
    api.env(PRICE_TABLE=json.dumps({"some.other-model": api.price}))
    api.stub_retrieve()  # the second question is answered from the retrieval cache
    for _ in range(2):
        api.stub_converse()
        assert api.ask({"question": QUESTION})["statusCode"] == 200

    out = api.output()
    assert [record["estimated_cost_usd"] for record in out.logs if record["message"] == "ask"] == [0.0, 0.0]
    warnings = [record for record in out.logs if record["level"] == "WARNING"]
    assert len(warnings) == 1
    assert "PRICE_TABLE" in warnings[0]["message"]


# --- Retrieval cache -------------------------------------------------------------------------------
def test_identical_question_is_served_from_the_retrieval_cache(api: Api) -> None:
    api.stub_retrieve(question=QUESTION)  # only one Retrieve is stubbed: a second call would fail
    api.stub_converse()
    api.stub_converse()

    first = api.ask({"question": QUESTION})
    second = api.ask({"question": f"  {QUESTION.replace(' ', '   ')} "})

    assert first["statusCode"] == second["statusCode"] == 200
    assert body(first)["sources"] == body(second)["sources"]
    out = api.output()
    lookups = out.metric(telemetry.METRIC_RETRIEVAL_CACHE_HIT)
    assert [metric.values for metric in lookups] == [[0.0], [1.0]]  # a miss, then a hit
    assert all(metric.dimensions == (telemetry.DIM_SERVICE,) for metric in lookups)
    assert [record["retrieval"]["cache_hit"] for record in out.logs if record["message"] == "ask"] == [False, True]


def test_cache_key_includes_top_k(api: Api) -> None:
    api.stub_retrieve(top_k=4, question=QUESTION)
    api.stub_retrieve(top_k=3, question=QUESTION)
    api.stub_converse()
    api.stub_converse()

    api.ask({"question": QUESTION})
    api.ask({"question": QUESTION, "top_k": 3})

    assert [m.values for m in api.output().metric(telemetry.METRIC_RETRIEVAL_CACHE_HIT)] == [[0.0], [0.0]]


def test_zero_ttl_disables_the_cache(api: Api) -> None:
    api.env(RETRIEVAL_CACHE_TTL_SECONDS="0")
    for _ in range(2):
        api.stub_retrieve()
        api.stub_converse()
        api.ask({"question": QUESTION})

    out = api.output()
    assert out.metric(telemetry.METRIC_RETRIEVAL_CACHE_HIT) == []


def test_retrieval_cache_expires_and_evicts(api: Api) -> None:
    now = [100.0]
    cache = api.pipeline.RetrievalCache(ttl_seconds=10, max_entries=2, clock=lambda: now[0])
    passages = (api.pipeline.Passage("text", "s3://a", 0.5),)
    cache.put("a", 4, passages)
    cache.put("b", 4, passages)
    assert cache.get("a", 4) == passages  # "a" is now the most recently used
    cache.put("c", 4, passages)  # evicts "b"
    assert cache.get("b", 4) is None
    assert len(cache) == 2
    now[0] += 10
    assert cache.get("a", 4) is None
    assert cache.get("c", 4) is None
    assert len(cache) == 0


# --- Bedrock failures ------------------------------------------------------------------------------
FAULTS = [
    # operation, error code, http status from AWS, our status, error class, Retry-After
    ("retrieve", "ThrottlingException", 429, 429, telemetry.ERROR_THROTTLING, "2"),
    ("converse", "ThrottlingException", 429, 429, telemetry.ERROR_THROTTLING, "2"),
    ("converse", "ServiceQuotaExceededException", 400, 429, telemetry.ERROR_THROTTLING, "2"),
    ("converse", "ModelTimeoutException", 408, 504, telemetry.ERROR_TIMEOUT, None),
    ("retrieve", "ServiceUnavailableException", 503, 503, telemetry.ERROR_UNAVAILABLE, "5"),
    ("converse", "ServiceUnavailableException", 503, 503, telemetry.ERROR_UNAVAILABLE, "5"),
    ("converse", "ModelNotReadyException", 429, 503, telemetry.ERROR_UNAVAILABLE, "5"),
    ("converse", "ModelErrorException", 424, 502, telemetry.ERROR_MODEL, None),
    ("converse", "InternalServerException", 500, 502, telemetry.ERROR_MODEL, None),
    ("converse", "ModelStreamErrorException", 424, 502, telemetry.ERROR_MODEL, None),
    ("converse", "ValidationException", 400, 502, telemetry.ERROR_MODEL, None),
    ("retrieve", "ValidationException", 400, 502, telemetry.ERROR_MODEL, None),
    ("converse", "AccessDeniedException", 403, 500, telemetry.ERROR_ACCESS_DENIED, None),
    ("retrieve", "AccessDeniedException", 403, 500, telemetry.ERROR_ACCESS_DENIED, None),
    ("retrieve", "ResourceNotFoundException", 404, 500, telemetry.ERROR_ACCESS_DENIED, None),
    ("converse", "ResourceNotFoundException", 404, 500, telemetry.ERROR_ACCESS_DENIED, None),
]


@pytest.mark.parametrize(("operation", "code", "aws_status", "status", "error_class", "retry_after"), FAULTS)
def test_bedrock_errors_map_to_http_status(
    api: Api, operation: str, code: str, aws_status: int, status: int, error_class: str, retry_after: str | None
) -> None:
    if operation == "retrieve":
        api.agent.add_client_error("retrieve", code, f"{code}: {AWS_DETAIL}", aws_status)
    else:
        api.stub_retrieve()
        api.runtime.add_client_error("converse", code, f"{code}: {AWS_DETAIL}", aws_status)

    response = api.ask({"question": QUESTION})

    payload = assert_error_response(response, status)
    assert headers(response).get("Retry-After") == retry_after
    if error_class == telemetry.ERROR_ACCESS_DENIED:
        assert payload["error"] == "The service is not configured correctly; the operators have been alerted."
    out = api.output()
    assert_failure_metric(api, out, error_class)
    assert len(out.metric(telemetry.METRIC_END_TO_END_LATENCY)) == 1
    failed_stage = telemetry.STAGE_RETRIEVAL if operation == "retrieve" else telemetry.STAGE_INFERENCE
    assert out.metric(telemetry.METRIC_STAGE_LATENCY)[-1].dimension_values[telemetry.DIM_STAGE] == failed_stage
    record = out.log("Request failed")
    assert record["aws_error_code"] == code
    assert record["error_class"] == error_class
    assert record["stage"] == failed_stage
    if error_class == telemetry.ERROR_THROTTLING:  # expected under load: a warning without a stack trace
        assert record["level"] == "WARNING"
        assert "exception" not in record
    else:
        assert record["level"] == "ERROR"
        assert "Traceback" in record["exception"]  # the stack trace stays server-side
    failed_span = api.tracing.stage(failed_stage)
    assert failed_span.status.status_code.name == "ERROR"
    assert failed_span.attributes[telemetry.SPAN_ERROR_TYPE] == code


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ("Converse", ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/xyzzy")),
        ("Retrieve", ConnectTimeoutError(endpoint_url="https://bedrock-agent-runtime.us-east-1.amazonaws.com/xyzzy")),
    ],
)
def test_network_timeouts_map_to_504(api: Api, operation: str, error: Exception) -> None:
    def raise_timeout(**kwargs: Any) -> None:
        raise error

    stubber, client = (api.runtime, api.runtime_client) if operation == "Converse" else (api.agent, api.agent_client)
    event_name = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    if operation == "Converse":
        api.stub_retrieve()
    stubber.deactivate()  # the hook below stands in for the network and raises what botocore would
    client.meta.events.register(event_name, raise_timeout)
    try:
        response = api.ask({"question": QUESTION})
    finally:
        client.meta.events.unregister(event_name, raise_timeout)
        stubber.activate()

    assert_error_response(response, 504)
    assert_failure_metric(api, api.output(), telemetry.ERROR_TIMEOUT)


def test_unexpected_exception_maps_to_500_without_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(response: Any) -> None:
        raise RuntimeError("kaboom: secret internal state xyzzy")

    monkeypatch.setattr(api.pipeline, "parse_completion", explode)
    api.stub_retrieve()
    api.stub_converse()

    response = api.ask({"question": QUESTION})

    payload = assert_error_response(response, 500)
    assert payload["error"] == "An internal error occurred; the operators have been alerted."
    out = api.output()
    assert_failure_metric(api, out, telemetry.ERROR_INTERNAL)
    record = out.log("Request failed")
    assert record["stage"] == telemetry.STAGE_POSTPROCESS
    assert "kaboom" in record["exception"]


# --- Validation ---------------------------------------------------------------------------------------
MALFORMED = [
    ("bad json", {"raw_body": '{"question": "x"'}, "not valid JSON"),
    ("array body", {"body": ["question"]}, "JSON object"),
    ("string body", {"body": "question"}, "JSON object"),
    ("empty body", {"raw_body": ""}, "JSON object"),
    ("no body", {}, "JSON object"),
    ("missing question", {"body": {"temperature": 0.1}}, "'question'"),
    ("question not a string", {"body": {"question": 42}}, "'question'"),
    ("blank question", {"body": {"question": " \n\t "}}, "'question' must not be empty"),
    ("question too long", {"body": {"question": "x" * 51}}, "at most 50 characters"),
    ("temperature 2", {"body": {"question": "q", "temperature": 2}}, "'temperature' must be a number from 0 to 1"),
    ("temperature NaN", {"raw_body": '{"question": "q", "temperature": NaN}'}, "not valid JSON"),
    ("temperature bool", {"body": {"question": "q", "temperature": True}}, "'temperature'"),
    ("top_p negative", {"body": {"question": "q", "top_p": -0.1}}, "'top_p' must be a number from 0 to 1"),
    ("max_tokens x", {"body": {"question": "q", "max_tokens": "x"}}, "'max_tokens' must be an integer from 1 to 2048"),
    ("max_tokens 0", {"body": {"question": "q", "max_tokens": 0}}, "'max_tokens'"),
    ("max_tokens 2049", {"body": {"question": "q", "max_tokens": 2049}}, "'max_tokens'"),
    ("max_tokens float", {"body": {"question": "q", "max_tokens": 12.5}}, "'max_tokens'"),
    ("top_k 21", {"body": {"question": "q", "top_k": 21}}, "'top_k' must be an integer from 1 to 20"),
    ("stop_sequences str", {"body": {"question": "q", "stop_sequences": "END"}}, "'stop_sequences'"),
    ("stop_sequences 5", {"body": {"question": "q", "stop_sequences": ["a", "b", "c", "d", "e"]}}, "at most 4"),
    ("stop_sequence long", {"body": {"question": "q", "stop_sequences": ["x" * 51]}}, "'stop_sequences'"),
    ("unknown field", {"body": {"question": "q", "model": "gpt"}}, "Unknown field(s) 'model'"),
    ("bad base64", {"raw_body": "!!not-base64!!", "base64_encoded": False, "_flag_base64": True}, "base64"),
]


@pytest.mark.parametrize(("case", "event_args", "message"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_requests_are_rejected_with_400(api: Api, case: str, event_args: dict, message: str) -> None:
    api.env(MAX_QUESTION_CHARS="50")
    event_args = dict(event_args)
    flag_base64 = event_args.pop("_flag_base64", False)
    event = api.event("/ask", **event_args)
    if flag_base64:
        event["isBase64Encoded"] = True

    response = api.invoke(event)

    payload = assert_error_response(response, 400)
    assert message in payload["error"]
    out = api.output()
    assert_failure_metric(api, out, telemetry.ERROR_VALIDATION)
    assert [metric.dimension_values[telemetry.DIM_STAGE] for metric in out.metric(telemetry.METRIC_STAGE_LATENCY)] == [
        telemetry.STAGE_PREPROCESS
    ]
    record = out.log("Request rejected")
    assert record["level"] == "INFO"
    assert record["status"] == 400


# --- Prompt logging modes ----------------------------------------------------------------------------
EMAIL = "jane.doe@example.com"
PHONE = "+1 (555) 123-4567"


@pytest.mark.parametrize("mode", ["full", "redacted", "none"])
def test_prompt_logging_modes(api: Api, mode: str) -> None:
    api.env(PROMPT_LOGGING=mode)
    question = f"Can you refund the order of {EMAIL}?"
    api.stub_retrieve()
    api.stub_converse(api.converse_response(f"Call support at {PHONE}."))

    response = api.ask({"question": question})

    assert EMAIL in response["body"] or PHONE in response["body"]  # the client always gets the real answer
    out = api.output()
    logs = "\n".join(json.dumps(record) for record in out.logs)
    record = out.log("ask")
    assert record["prompt_logging"] == mode
    assert record["question_chars"] == len(question)
    if mode == "full":
        assert record["question"] == question
        assert record["answer"] == f"Call support at {PHONE}."
        assert record["pii_redactions"] == 0
    elif mode == "redacted":
        assert EMAIL not in logs
        assert "(555) 123" not in logs and "123-4567" not in logs  # not "555": a latency or id may hold it
        assert record["question"] == "Can you refund the order of [EMAIL]?"
        assert record["answer"] == "Call support at [PHONE]."
        assert record["pii_redactions"] == 2
    else:
        assert "question" not in record
        assert "answer" not in record
        assert EMAIL not in logs
        assert "(555) 123" not in logs and "123-4567" not in logs  # not "555": a latency or id may hold it
        assert "refund the order" not in logs
        assert record["pii_redactions"] == 0


# --- Feedback ------------------------------------------------------------------------------------------
def test_feedback_is_recorded(api: Api) -> None:
    response = api.feedback({"request_id": "c0ffee-1234", "score": 4, "comment": f"Great, mail me at {EMAIL}"})

    assert response["statusCode"] == 202
    assert headers(response)["X-Request-Id"] == API_REQUEST_ID
    assert body(response) == {"status": "recorded", "request_id": API_REQUEST_ID, "feedback_request_id": "c0ffee-1234"}
    out = api.output()
    score = out.only(telemetry.METRIC_FEEDBACK_SCORE)
    assert score.values == [4.0]  # SampleCount = answers scored
    assert score.dimensions == (telemetry.DIM_SERVICE,)
    # Every invocation of the function is a request of the service: a recorded score counts as one served.
    assert {metric.name for metric in out.metrics} == {
        telemetry.METRIC_FEEDBACK_SCORE, telemetry.METRIC_REQUEST_SUCCESS, telemetry.METRIC_END_TO_END_LATENCY
    }  # fmt: skip
    record = out.log("feedback")  # the runtime's line, in the request's invocation
    assert record["pii_redactions"] == 1
    assert record["level"] == "INFO"
    assert record["correlation_id"] == API_REQUEST_ID and record["service"] == api.service
    assert record["feedback_request_id"] == "c0ffee-1234"
    assert record["score"] == 4
    assert record["comment"] == "Great, mail me at [EMAIL]"
    assert EMAIL not in out.raw
    assert out.metric(telemetry.METRIC_REQUEST_FAILURE) == []


def test_feedback_comment_follows_prompt_logging(api: Api) -> None:
    api.env(PROMPT_LOGGING="none")
    api.feedback({"request_id": "abc", "score": 5, "comment": "secret words"})
    record = api.output().log("feedback")
    assert "comment" not in record
    assert record["comment_chars"] == len("secret words")

    api.env(PROMPT_LOGGING="full")
    api.feedback({"request_id": "abc", "score": 1, "comment": f"write {EMAIL}"})
    assert api.output().log("feedback")["comment"] == f"write {EMAIL}"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"request_id": "abc", "score": 0}, "'score'"),
        ({"request_id": "abc", "score": 6}, "'score'"),
        ({"request_id": "abc", "score": 4.5}, "'score'"),
        ({"request_id": "abc", "score": True}, "'score'"),
        ({"request_id": "abc"}, "'score'"),
        ({"request_id": "abc def", "score": 3}, "'request_id'"),
        ({"request_id": "abc;DROP", "score": 3}, "'request_id'"),
        ({"request_id": "", "score": 3}, "'request_id'"),
        ({"request_id": "a" * 129, "score": 3}, "'request_id'"),
        ({"score": 3}, "'request_id'"),
        ({"request_id": "abc", "score": 3, "comment": "x" * 1001}, "'comment'"),
        ({"request_id": "abc", "score": 3, "comment": 7}, "'comment'"),
        ({"request_id": "abc", "score": 3, "rating": 3}, "Unknown field(s) 'rating'"),
    ],
)
def test_invalid_feedback_is_rejected(api: Api, payload: dict, field: str) -> None:
    response = api.feedback(payload)

    assert field in assert_error_response(response, 400)["error"]
    out = api.output()
    assert_failure_metric(api, out, telemetry.ERROR_VALIDATION)
    assert out.metric(telemetry.METRIC_FEEDBACK_SCORE) == []


# --- Routing ---------------------------------------------------------------------------------------------
def test_unknown_route_is_404(api: Api) -> None:
    response = api.invoke(api.event("/admin", {"question": QUESTION}))

    assert_error_response(response, 404)
    out = api.output()
    assert_failure_metric(api, out, telemetry.ERROR_VALIDATION)  # neither a success nor a failure of the service
    assert len(out.only(telemetry.METRIC_END_TO_END_LATENCY).values) == 1  # every invocation is timed


def test_wrong_method_is_405(api: Api) -> None:
    response = api.invoke(api.event("/ask", method="GET"))

    assert_error_response(response, 405)
    assert headers(response)["Allow"] == "POST"
    assert_failure_metric(api, api.output(), telemetry.ERROR_VALIDATION)


def test_routes_by_resource_so_base_paths_and_trailing_slashes_do_not_matter(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()
    ask = api.event("/ask", {"question": QUESTION})
    ask["path"] = "/v1/ask"  # a custom domain's base path mapping prefixes the request path, not the resource
    feedback = api.event("/feedback/", {"request_id": "c0ffee-1234", "score": 5})

    assert api.invoke(ask)["statusCode"] == 200
    assert api.invoke(feedback)["statusCode"] == 202


def test_a_method_without_route_on_an_unknown_resource_is_404(api: Api) -> None:
    assert_error_response(api.invoke(api.event("/admin", method="DELETE")), 404)


def test_non_api_gateway_event_is_404(api: Api) -> None:
    response = api.invoke(["not", "an", "api", "event"])

    assert_error_response(response, 404, request_id=api.context.aws_request_id)


# --- Configuration ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"MODEL_ID": None}, "MODEL_ID is required"),
        ({"KNOWLEDGE_BASE_ID": " "}, "KNOWLEDGE_BASE_ID is required"),
        ({"RETRIEVAL_TOP_K": "0"}, "RETRIEVAL_TOP_K must be an integer from 1 to 20"),
        ({"RETRIEVAL_TOP_K": "four"}, "RETRIEVAL_TOP_K"),
        ({"PROMPT_LOGGING": "verbose"}, "PROMPT_LOGGING must be one of full, none, redacted"),
        ({"PRICE_TABLE": "not json"}, "PRICE_TABLE must be a JSON object"),
        ({"PRICE_TABLE": '{"m": {"input_per_1k": -1, "output_per_1k": 1}}'}, "PRICE_TABLE entry 'm'"),
        ({"PROMPT_TEMPLATE_VERSION": "v99"}, "PROMPT_TEMPLATE_VERSION must be one of v1"),
        ({"RETRIEVAL_CACHE_TTL_SECONDS": "-1"}, "RETRIEVAL_CACHE_TTL_SECONDS"),
        ({"RETRIEVAL_CACHE_MAX_ENTRIES": "0"}, "RETRIEVAL_CACHE_MAX_ENTRIES"),
        ({"MAX_QUESTION_CHARS": "lots"}, "MAX_QUESTION_CHARS"),
        ({"INSTRUMENTATION": "maybe"}, "INSTRUMENTATION must be one of off, on"),
    ],
)
def test_bad_configuration_returns_500_json(api: Api, env: dict[str, str | None], problem: str) -> None:
    api.env(**env)

    response = api.ask({"question": QUESTION})

    payload = assert_error_response(response, 500)
    assert payload["error"] == "The service is not configured correctly; the operators have been alerted."
    out = api.output()
    assert_failure_metric(api, out, telemetry.ERROR_INTERNAL)
    assert {metric.namespace for metric in out.metrics} == {api.namespace}  # counted where the alarms read it
    record = out.log("Invalid function configuration")
    assert record["level"] == "ERROR"
    assert any(problem in item for item in record["configuration_problems"])


def test_configuration_is_read_once_per_container(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.stub_retrieve()
    api.stub_converse()
    api.ask({"question": QUESTION})
    monkeypatch.delenv("MODEL_ID")  # not re-read until the next cold start
    api.stub_converse()

    assert api.ask({"question": QUESTION})["statusCode"] == 200


def test_settings_are_parsed_from_the_environment(api: Api) -> None:
    settings = api.handler.load_settings(
        api.pipeline.PROMPT_TEMPLATES,
        {
            "MODEL_ID": "m",
            "KNOWLEDGE_BASE_ID": "kb",
            "RETRIEVAL_TOP_K": "7",
            "PROMPT_LOGGING": "FULL",
            "PRICE_TABLE": '{"m": {"input_per_1k": 0.003, "output_per_1k": 0.015}}',
            "PROMPT_TEMPLATE_VERSION": "v1",
            "RETRIEVAL_CACHE_TTL_SECONDS": "0",
            "RETRIEVAL_CACHE_MAX_ENTRIES": "16",
            "MAX_QUESTION_CHARS": "500",
            "INSTRUMENTATION": "off",
        },
    )
    assert (settings.model_id, settings.knowledge_base_id, settings.retrieval_top_k) == ("m", "kb", 7)
    assert settings.prompt_logging == "full"
    assert settings.model_price.cost(1000, 2000) == pytest.approx(0.033)
    assert (settings.cache_ttl_seconds, settings.cache_max_entries, settings.max_question_chars) == (0, 16, 500)
    assert settings.instrumentation is False


def test_clients_are_created_once_from_standard_boto3_configuration(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://localhost:4566")
    api.pipeline.reset_clients()
    try:
        runtime = api.pipeline.bedrock_runtime()
        agent = api.pipeline.agent_runtime()
        assert runtime is api.pipeline.bedrock_runtime()
        assert agent is api.pipeline.agent_runtime()
        assert runtime.meta.endpoint_url == "http://localhost:4566"
        assert agent.meta.region_name == "eu-west-1"
        assert agent.meta.endpoint_url == "https://bedrock-agent-runtime.eu-west-1.amazonaws.com"
        runtime_config, agent_config = runtime.meta.config, agent.meta.config
        # Both calls together must end before API Gateway's and the function's 29 s.
        worst = sum(c.connect_timeout + c.read_timeout for c in (runtime_config, agent_config))
        assert worst < 29
        assert runtime_config.retries == agent_config.retries == {"mode": "standard", "total_max_attempts": 1}
    finally:
        api.reset()


# --- INSTRUMENTATION=off ------------------------------------------------------------------------------
def test_instrumentation_off_keeps_responses_and_drops_telemetry(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse()
    on = api.ask({"question": QUESTION})
    api.output()

    api.env(INSTRUMENTATION="off")
    api.tracing.clear()
    api.stub_retrieve()
    api.stub_converse()
    off = api.ask({"question": QUESTION})
    bad = api.ask({"question": ""})

    assert off == on
    assert_error_response(bad, 400)
    out = api.output()
    assert out.emf == []
    assert [record["message"] for record in out.logs] == ["Request rejected"]
    assert api.tracing.spans == []  # no request, stage or Bedrock call span from the runtime


def test_knowledge_base_id_comes_from_the_environment(api: Api) -> None:
    assert api.handler._load_runtime().settings.knowledge_base_id == api.knowledge_base_id


# --- The dashboard's Logs Insights queries read fields the handler really writes --------------------
def _field(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        assert isinstance(value, dict) and part in value, f"log field {dotted!r} missing from {record}"
        value = value[part]
    return value


def test_logs_insights_queries_match_the_log_fields(api: Api) -> None:
    # The query module lives in the CDK package; load it by path so this test needs no CDK import.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "llm_observability" / "constructs" / "queries.py"
    spec = importlib.util.spec_from_file_location("dashboard_queries", path)
    queries = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(queries)

    api.stub_retrieve()
    api.stub_converse()
    ask = api.ask({"question": QUESTION})
    api.stub_retrieve(question="another question")
    api.runtime.add_client_error("converse", "ModelErrorException", "boom", 424)
    api.ask({"question": "another question"})
    api.ask({"question": 42})  # rejected: the caller's fault
    api.feedback({"request_id": body(ask)["request_id"], "score": 4})
    out = api.output()
    for message, fields in queries.QUERY_FIELDS.items():
        record = out.log(message)
        for dotted in fields:
            _field(record, dotted)
            assert dotted in " ".join(queries.QUERIES.values()), f"{dotted!r} is listed but no query reads it"


# --- Hostile input (issue 15, item 6) ------------------------------------------------------------------
def test_a_json_body_nested_too_deep_is_a_client_error(api: Api) -> None:
    for depth in (1_000, 100_000):
        response = api.ask(raw_body='{"question": ' + "[" * depth + "]" * depth + "}")

        payload = assert_error_response(response, 400)
        assert payload["error"] == "The request body is not valid JSON."
        out = api.output()
        assert_failure_metric(api, out, telemetry.ERROR_VALIDATION)


def test_a_lone_surrogate_in_the_question_still_gets_its_ask_line(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    api.env(PROMPT_LOGGING="full")
    api.stub_retrieve(question="refund \ufffd policy?")
    api.stub_converse()

    response = api.ask(raw_body='{"question": "refund \\ud800 policy?"}')

    assert response["statusCode"] == 200
    raw = capsys.readouterr()
    assert "Logging error" not in raw.err
    lines = [json.loads(line) for line in raw.out.splitlines() if line.startswith("{")]
    (record,) = [line for line in lines if line.get("message") == "ask"]
    assert record["question"] == "refund \ufffd policy?"


def test_a_lone_surrogate_in_a_feedback_comment_still_gets_its_feedback_line(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.env(PROMPT_LOGGING="full")

    response = api.feedback(raw_body='{"request_id": "abc", "score": 3, "comment": "odd \\udfff text \\ud83d\\ude00"}')

    assert response["statusCode"] == 202
    raw = capsys.readouterr()
    assert "Logging error" not in raw.err
    lines = [json.loads(line) for line in raw.out.splitlines() if line.startswith("{")]
    (record,) = [line for line in lines if line.get("message") == "feedback"]
    assert record["comment"] == "odd \ufffd text \U0001f600"  # a well-formed pair stays what it is


_HOSTILE_STRINGS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\ud800", "a\udfffb", "\ud83d\ude00", "\x00\x1f", "[" * 100_000, "9" * 5_000]),
)
_HOSTILE_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _HOSTILE_STRINGS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_HOSTILE_STRINGS, inner, max_size=3)),
    max_leaves=8,
)
_FEEDBACK_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "request_id": st.one_of(st.just("abc-123"), _HOSTILE_VALUES),
        "score": st.one_of(st.integers(min_value=1, max_value=5), st.integers(), _HOSTILE_VALUES),
        "comment": st.one_of(_HOSTILE_STRINGS, _HOSTILE_VALUES),
    },
)
_HOSTILE_BODIES = st.one_of(
    _HOSTILE_STRINGS,
    st.builds(lambda value: json.dumps(value, ensure_ascii=True), _FEEDBACK_FIELDS),
    st.builds(lambda value: json.dumps(value, ensure_ascii=True), _HOSTILE_VALUES),
    st.integers(min_value=1, max_value=100_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(min_value=4_300, max_value=20_000).map(lambda digits: '{"score": ' + "7" * digits + "}"),
)


@given(text=_HOSTILE_BODIES)
@settings(max_examples=150, deadline=None, database=None)
def test_property_a_hostile_body_is_never_a_server_error(text: str) -> None:
    """Whatever the body, parsing and validating it raises only the 400 error, and what it keeps encodes as UTF-8."""
    validation, errors = rag_module("validation"), rag_module("errors")
    try:
        document = validation.parse_json_object({"body": text})
        feedback = validation.parse_feedback(document)
    except errors.RequestValidationError as rejected:
        assert rejected.status == 400 and rejected.message.endswith(".")
        return
    assert 1 <= feedback.score <= 5
    (feedback.comment or "").encode("utf-8")
    try:
        ask = validation.parse_ask(document, default_top_k=4, max_question_chars=1000)
    except errors.RequestValidationError:
        return
    ask.question.encode("utf-8")


@given(question=_HOSTILE_STRINGS, comment=st.one_of(st.none(), _HOSTILE_STRINGS))
@settings(max_examples=150, deadline=None, database=None)
def test_property_what_validation_keeps_is_loggable(question: str, comment: str | None) -> None:
    """A question or comment that passes validation has no lone surrogate left: its log lines can be written."""
    validation, errors = rag_module("validation"), rag_module("errors")
    body = json.dumps({"request_id": "abc", "score": 2, "comment": comment})
    try:
        kept = validation.parse_feedback(validation.parse_json_object({"body": body})).comment
    except errors.RequestValidationError:
        assert comment is not None and len(comment) > validation.MAX_FEEDBACK_COMMENT_CHARS
    else:
        assert (kept is None) == (comment is None)
        if kept is not None:
            kept.encode("utf-8")
    try:
        request = validation.parse_ask({"question": question}, default_top_k=4, max_question_chars=200_000)
    except errors.RequestValidationError:
        return
    request.question.encode("utf-8")


# --- Tenants (issue 17) --------------------------------------------------------------------------------------
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
CALLER_ARN = "arn:aws:sts::123456789012:assumed-role/PortalRole/portal-session"


def _tenant_event(headers: dict[str, str] | None = None, user_arn: str | None = None) -> dict[str, Any]:
    built = api_event("/ask", {"question": QUESTION})
    built["headers"].update(headers or {})
    if user_arn is not None:
        built["requestContext"]["identity"] = {"userArn": user_arn, "caller": "AROAEXAMPLE:portal-session"}
    return built


def _metadata(tenant: str) -> dict[str, Any]:
    return {"requestMetadata": {"tenant": tenant}}


def test_the_tenant_header_goes_to_bedrock_and_into_the_log_lines(api: Api) -> None:
    api.stub_retrieve()
    api.runtime.add_response("converse", api.converse_response("Refunds take 30 days [1]."))
    captured: list[dict[str, Any]] = []
    handler = lambda params, **_: captured.append(dict(params))  # noqa: E731
    api.runtime_client.meta.events.register("provide-client-params.bedrock-runtime.Converse", handler)
    try:
        response = api.invoke(_tenant_event({"X-Tenant-Id": "acme-eu"}, user_arn=CALLER_ARN))
    finally:
        api.runtime_client.meta.events.unregister("provide-client-params.bedrock-runtime.Converse", handler)
    assert response["statusCode"] == 200
    assert captured[0]["requestMetadata"] == {"tenant": "acme-eu"}  # the header wins over the IAM caller
    out = api.output()
    assert out.log("ask")[telemetry.LOG_FIELD_TENANT] == "acme-eu"
    calls = [line for line in out.logs if line.get("message") == telemetry.LOG_MESSAGE_CALL]
    assert [c.get(telemetry.LOG_FIELD_TENANT) for c in calls] == ["acme-eu", "acme-eu"]  # Retrieve, Converse


def test_without_the_header_the_iam_caller_is_the_tenant(api: Api) -> None:
    api.stub_retrieve()
    api.runtime.add_response("converse", api.converse_response("Refunds take 30 days [1]."))
    sent: list[dict[str, Any]] = []
    handler = lambda params, **_: sent.append(params.get("requestMetadata"))  # noqa: E731
    api.runtime_client.meta.events.register("provide-client-params.bedrock-runtime.Converse", handler)
    try:
        assert api.invoke(_tenant_event(user_arn=CALLER_ARN))["statusCode"] == 200
    finally:
        api.runtime_client.meta.events.unregister("provide-client-params.bedrock-runtime.Converse", handler)
    assert sent == [{"tenant": CALLER_ARN}]
    assert api.output().log("ask")[telemetry.LOG_FIELD_TENANT] == CALLER_ARN
    assert api.handler.llmobs.tenancy.current_tenant.get() is None  # the tenant ended with the request


@pytest.mark.parametrize("value", ["", "acme corp", "a" * 65, "acme;drop table", "ünï"])
def test_an_invalid_tenant_header_is_a_400_naming_the_header(api: Api, value: str) -> None:
    response = api.invoke(_tenant_event({"x-tenant-id": value}, user_arn=CALLER_ARN))
    payload = assert_error_response(response, 400)
    assert "x-tenant-id header" in payload["error"]
    out = api.output()
    assert_failure_metric(api, out, telemetry.ERROR_VALIDATION)
    assert [line for line in out.logs if line.get("message") == telemetry.LOG_MESSAGE_CALL] == []  # no Bedrock call


def test_the_tenant_header_name_comes_from_the_environment(api: Api) -> None:
    api.env(TENANT_HEADER="x-customer")
    api.stub_retrieve()
    api.stub_converse()
    assert api.invoke(_tenant_event({"X-Customer": "globex", "x-tenant-id": "ignored"}))["statusCode"] == 200
    assert api.output().log("ask")[telemetry.LOG_FIELD_TENANT] == "globex"


def test_a_tenant_with_a_profile_is_served_through_it_and_reported_as_the_model(api: Api) -> None:
    api.env(TENANT_PROFILES=json.dumps({"acme": PROFILE_ARN}))
    api.stub_retrieve()  # once: the second question is served from the retrieval cache
    for tenant, invoked in (("acme", PROFILE_ARN), ("globex", api.model_id)):
        api.runtime.add_response("converse", api.converse_response("Refunds take 30 days [1]."))
        sent: list[str] = []
        handler = lambda params, **_: sent.append(params["modelId"])  # noqa: E731
        api.runtime_client.meta.events.register("provide-client-params.bedrock-runtime.Converse", handler)
        try:
            response = api.invoke(_tenant_event({"x-tenant-id": tenant}))
        finally:
            api.runtime_client.meta.events.unregister("provide-client-params.bedrock-runtime.Converse", handler)
        assert sent == [invoked]
        assert body(response)["model_id"] == api.model_id
        out = api.output()
        (call,) = [line for line in out.logs if line.get("operation") == "Converse"]
        assert call[telemetry.LOG_FIELD_MODEL] == api.model_id and call.get("invoked_model_id") == (
            PROFILE_ARN if tenant == "acme" else None
        )
        (tokens,) = out.metric(telemetry.METRIC_INPUT_TOKENS)
        assert tokens.dimension_values[telemetry.DIM_MODEL_ID] == api.model_id


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"TENANT_HEADER": "X-Tenant"}, "TENANT_HEADER must be a lowercase HTTP header name"),
        ({"TENANT_PROFILES": '{"acme": "arn:aws:bedrock:us-east-1::foundation-model/x"}'}, "TENANT_PROFILES must be"),
        ({"TENANT_PROFILES": '{"a b": "' + PROFILE_ARN + '"}'}, "TENANT_PROFILES must be"),
        ({"TENANT_PROFILES": "[]"}, "TENANT_PROFILES must be"),
    ],
)
def test_bad_tenant_settings_are_a_configuration_error(api: Api, env: dict[str, str], problem: str) -> None:
    api.env(**env)
    assert_error_response(api.ask({"question": QUESTION}), 500)
    assert any(problem in p for p in api.output().log("Invalid function configuration")["configuration_problems"])


def test_a_throttled_tenant_call_is_a_429_whose_call_line_names_the_tenant(api: Api) -> None:
    api.stub_retrieve()
    api.runtime.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    response = api.invoke(_tenant_event({"x-tenant-id": "acme"}))
    assert_error_response(response, 429)
    out = api.output()
    (call,) = [line for line in out.logs if line.get("operation") == "Converse"]
    assert call[telemetry.LOG_FIELD_TENANT] == "acme" and call[telemetry.LOG_FIELD_OUTCOME] == telemetry.LOG_OUTCOME_FAILURE


@given(value=st.text(max_size=100), arn=st.one_of(st.none(), st.text(max_size=300)))
@settings(max_examples=150, deadline=None, database=None)
def test_property_any_tenant_header_is_a_400_or_a_valid_key(value: str, arn: str | None) -> None:
    """Whatever the header (and the caller), the tenant is a valid requestMetadata value or the request is a 400."""
    handler, errors, settings_module = rag_module("handler"), rag_module("errors"), rag_module("settings")
    settings = settings_module.Settings(model_id="m", knowledge_base_id="kb")
    event = {"headers": {"X-Tenant-Id": value}, "requestContext": {"identity": {"userArn": arn}}}
    try:
        try:
            tenant = handler._tenant(event, settings)
        except errors.RequestValidationError as rejected:
            assert rejected.status == 400 and "x-tenant-id header" in rejected.message
        else:
            assert tenant == value.strip() and len(tenant) <= 64
        without_header = handler._tenant({"requestContext": {"identity": {"userArn": arn}}}, settings)
        assert re.fullmatch(r"[A-Za-z0-9:_@$#=/+,.-]{1,256}", without_header)
    finally:
        handler.llmobs.tenant(None)
