"""Every instrumented Bedrock API on the happy path and on faults, through real boto3 clients and wire-format responses.

Each test asserts what the user gets (the same response, events or exception as without the runtime)
and what the runtime printed: EMF values by metric and dimensions (the library's contract: StageLatency,
InputTokens/OutputTokens per model and, with no observed invocation, RequestSuccess or RequestFailure), and the
``bedrock_call`` log line with everything else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError, ReadTimeoutError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from llm_observability.runtime import flush
from tests.runtime.bedrock_fakes import (
    KNOWLEDGE_BASE_ID,
    MODEL_ID,
    FakeBedrock,
    Reply,
    anthropic_stream_chunks,
    chunk_message,
    converse_stream_messages,
    error_reply,
    event_message,
    invoke_reply,
    json_reply,
    stream_reply,
)
from tests.runtime.conftest import Output

QUESTION = "Can I return shoes? Mail me at jane@example.com"
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": QUESTION}]}]
CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Yes, within 30 days. Call +1 415 555 2671."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150},
    "metrics": {"latencyMs": 812},
}
# USD per 1k tokens from bedrock_fakes.PRICE: 0.25 in, 1.25 out
COST_120_30 = 120 / 1000 * 0.25 + 30 / 1000 * 1.25


def _one_call(out: Output) -> dict[str, Any]:
    (line,) = out.calls()
    return line


def test_converse_emits_stage_latency_and_tokens_and_logs_the_rest(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK))
    response = client.converse(
        modelId=MODEL_ID, messages=MESSAGES, inferenceConfig={"maxTokens": 256, "temperature": 0.2}
    )
    assert response["output"]["message"]["content"][0]["text"].startswith("Yes, within 30 days")

    assert len(out.values("StageLatency", Stage="Inference")) == 1
    assert out.values("InputTokens", ModelId=MODEL_ID) == [120]
    assert out.values("OutputTokens", ModelId=MODEL_ID) == [30]
    assert out.values("RequestSuccess") == [1]  # no observed handler: the call is the request
    # Total tokens and cost are metric math over the token metrics; the rest is the log line's.
    assert out.metric_names() == {"StageLatency", "InputTokens", "OutputTokens", "RequestSuccess"}
    line = _one_call(out)
    assert line["pii_redactions"] == 2
    assert line["level"] == "INFO" and line["service"] == "their-bot" and line["operation"] == "Converse"
    assert line["model_id"] == MODEL_ID and line["outcome"] == "success" and line["error_class"] is None
    assert line["usage"] == {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    assert line["estimated_cost_usd"] == pytest.approx(COST_120_30)
    assert line["prompt"] == {"length": len(QUESTION), "max_tokens": 256, "temperature": 0.2, "top_p": None}
    assert line["bedrock_request_id"] == "req-1" and line["stop_reason"] == "end_turn"
    assert line["question"] == "Can I return shoes? Mail me at [EMAIL]"
    assert line["answer"] == "Yes, within 30 days. Call [PHONE]."
    assert line["latency_ms"]["inference_model"] == 812 and line["latency_ms"]["call"] >= 0


def test_emf_objects_follow_the_spec(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK))
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    blobs = out.emf()
    assert blobs
    for blob in blobs:
        meta = blob["_aws"]
        assert isinstance(meta["Timestamp"], int)
        (directive,) = meta["CloudWatchMetrics"]
        assert directive["Namespace"] == "TheirApp"
        (dims,) = directive["Dimensions"]
        assert dims[0] == "service" and all(blob[d] for d in dims)
        assert all(m["Name"] in blob and m["Unit"] in ("Milliseconds", "Count", "None") for m in directive["Metrics"])


def test_converse_stream_is_passed_through_and_measured_at_its_end(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(stream_reply(converse_stream_messages(["Yes, ", "within 30 days."], input_tokens=40, output_tokens=9)))
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    assert out.calls() == []  # nothing until the user has consumed the stream
    events = list(response["stream"])
    assert [next(iter(e)) for e in events] == [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata",
    ]  # fmt: skip
    assert events[1] == {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Yes, "}}}
    assert out.values("InputTokens", ModelId=MODEL_ID) == [40]
    assert out.values("OutputTokens", ModelId=MODEL_ID) == [9]
    line = _one_call(out)
    assert line["latency_ms"]["inference_model"] == 250  # Bedrock's own, from the metadata event
    assert line["streamed"] is True and line["answer"] == "Yes, within 30 days." and line["stop_reason"] == "end_turn"
    assert line["latency_ms"]["first_event"] <= line["latency_ms"]["call"]


@pytest.mark.parametrize(
    ("family", "body", "answer"),
    [
        ("anthropic", {"content": [{"type": "text", "text": "Sure."}], "stop_reason": "end_turn"}, "Sure."),
        ("llama", {"generation": "Sure.", "stop_reason": "stop", "prompt_token_count": 1}, "Sure."),
        (
            "titan",
            {"inputTextTokenCount": 1, "results": [{"outputText": "Sure.", "completionReason": "FINISH"}]},
            "Sure.",
        ),
        ("nova", {"output": {"message": {"content": [{"text": "Sure."}]}}, "stopReason": "end_turn"}, "Sure."),
        ("mistral", {"outputs": [{"text": "Sure.", "stop_reason": "stop"}]}, "Sure."),
        ("openai", {"choices": [{"message": {"content": "Sure."}, "finish_reason": "stop"}]}, "Sure."),
        ("embedding", {"embedding": [0.1, 0.2], "inputTextTokenCount": 5}, None),
    ],
)
def test_invoke_model_of_any_family_takes_tokens_from_the_headers(
    out: Output, fake: FakeBedrock, family: str, body: dict[str, Any], answer: str | None
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(invoke_reply(body, input_tokens=120, output_tokens=30, latency=321))
    request = {"prompt": QUESTION, "max_gen_len": 64} if family == "llama" else {"inputText": QUESTION}
    response = client.invoke_model(modelId=MODEL_ID, body=json.dumps(request))
    assert out.lines == []  # the call is reported when its body has been read
    assert json.loads(response["body"].read()) == body  # the user reads the very bytes Bedrock sent
    assert out.values("InputTokens", ModelId=MODEL_ID) == [120]
    assert out.values("OutputTokens", ModelId=MODEL_ID) == [30]
    line = _one_call(out)
    assert line["estimated_cost_usd"] == pytest.approx(COST_120_30)
    assert line["latency_ms"]["inference_model"] == 321
    assert line["usage"]["total_tokens"] == 150 and line["question"] == "Can I return shoes? Mail me at [EMAIL]"
    assert line.get("answer") == answer
    if family == "llama":
        assert line["prompt"]["max_tokens"] == 64


def test_invoke_model_body_read_in_chunks_is_seen_whole(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    body = {"content": [{"type": "text", "text": "x" * 5000}], "stop_reason": "max_tokens"}
    fake.queue(invoke_reply(body, input_tokens=1, output_tokens=2))
    response = client.invoke_model(modelId=MODEL_ID, body=b'{"prompt": "hi"}')
    data = b"".join(response["body"].iter_chunks(1024))
    assert json.loads(data) == body
    line = _one_call(out)
    assert line["answer_chars"] == 5000 and line["stop_reason"] == "max_tokens"


def test_invoke_model_with_response_stream_reads_bedrocks_final_metrics(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(stream_reply(anthropic_stream_chunks(["Sure", ", within 30 days."], input_tokens=77, output_tokens=6)))
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 99, "messages": MESSAGES})
    response = client.invoke_model_with_response_stream(modelId=MODEL_ID, body=body)
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert chunks[0]["type"] == "message_start" and len(chunks) == 5
    assert out.values("InputTokens", ModelId=MODEL_ID) == [77]
    assert out.values("OutputTokens", ModelId=MODEL_ID) == [6]
    line = _one_call(out)
    assert line["latency_ms"]["inference_model"] == 400
    assert line["answer"] == "Sure, within 30 days." and line["stop_reason"] == "end_turn"
    assert line["prompt"]["max_tokens"] == 99 and line["prompt"]["length"] == len(QUESTION)


def test_retrieve_emits_the_retrieval_stage_and_logs_passages_and_top_score(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-agent-runtime")
    results = [{"content": {"text": f"passage {i}"}, "score": s} for i, s in enumerate((0.4, 0.9, 0.7))]
    fake.queue(json_reply({"retrievalResults": results}))
    response = client.retrieve(knowledgeBaseId=KNOWLEDGE_BASE_ID, retrievalQuery={"text": QUESTION})
    assert len(response["retrievalResults"]) == 3
    assert len(out.values("StageLatency", Stage="Retrieval")) == 1
    assert out.metric_names() == {"StageLatency", "RequestSuccess"}
    line = _one_call(out)
    assert line["stage"] == "Retrieval" and line["knowledge_base_id"] == KNOWLEDGE_BASE_ID and line["model_id"] is None
    assert line["retrieval"] == {
        "count": 3,
        "top_score": 0.9,
        "passages": [{"id": None, "score": s, "excerpt": f"passage {i}"} for i, s in enumerate((0.4, 0.9, 0.7))],
    }  # ids, more shapes and the logging modes: test_runtime_passages.py
    assert "usage" not in line
    assert line["question"] == "Can I return shoes? Mail me at [EMAIL]"


def test_retrieve_and_generate_logs_answer_and_references(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-agent-runtime")
    model_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL_ID}"
    refs = [{"content": {"text": "a"}}, {"content": {"text": "b"}}]
    fake.queue(json_reply({"output": {"text": "Yes."}, "citations": [{"retrievedReferences": refs}], "sessionId": "s"}))
    client.retrieve_and_generate(
        input={"text": QUESTION},
        retrieveAndGenerateConfiguration={
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {"knowledgeBaseId": KNOWLEDGE_BASE_ID, "modelArn": model_arn},
        },
    )
    assert len(out.values("StageLatency", Stage="Retrieval")) == 1
    assert out.metric_names() == {"StageLatency", "RequestSuccess"}
    line = _one_call(out)
    assert line["retrieval"] == {
        "count": 2,
        "top_score": None,
        "passages": [{"id": None, "score": None, "excerpt": "a"}, {"id": None, "score": None, "excerpt": "b"}],
    }
    assert line["operation"] == "RetrieveAndGenerate" and line["model_id"] == model_arn
    assert line["knowledge_base_id"] == KNOWLEDGE_BASE_ID and line["answer"] == "Yes."


# --- faults ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "status", "error_class", "level"),
    [
        ("ThrottlingException", 429, "Throttling", "WARNING"),
        ("ModelTimeoutException", 408, "Timeout", "ERROR"),
        ("AccessDeniedException", 403, "AccessDenied", "ERROR"),
        ("ValidationException", 400, "Validation", "WARNING"),
        ("ServiceUnavailableException", 503, "ServiceUnavailable", "ERROR"),
        ("ModelErrorException", 424, "ModelError", "ERROR"),
        ("InternalServerException", 500, "ModelError", "ERROR"),
        ("SomethingNewException", 400, "Internal", "ERROR"),
    ],
)
def test_converse_failure_is_a_request_failure_unless_the_callers_and_is_reraised_unchanged(
    out: Output, fake: FakeBedrock, code: str, status: int, error_class: str, level: str
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(error_reply(code, status))
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert type(raised.value) is getattr(client.exceptions, code, ClientError) or code == "SomethingNewException"
    assert raised.value.response["Error"]["Code"] == code and raised.value.response["Error"]["Message"] == "it failed"
    # No ErrorClass dimension: the class is the log line's; Validation (the caller's request) is no failure.
    assert out.values("RequestFailure") == ([] if error_class == "Validation" else [1])
    assert len(out.values("StageLatency", Stage="Inference")) == 1
    assert not {"RequestSuccess", "InputTokens"} & out.metric_names()
    line = _one_call(out)
    assert line["level"] == level and line["outcome"] == "failure" and line["error_class"] == error_class
    assert line["aws_error_code"] == code and line["question"] == "Can I return shoes? Mail me at [EMAIL]"


@pytest.mark.parametrize(
    ("operation", "service", "kwargs"),
    [
        ("invoke_model", "bedrock-runtime", {"modelId": MODEL_ID, "body": b"{}"}),
        ("invoke_model_with_response_stream", "bedrock-runtime", {"modelId": MODEL_ID, "body": b"{}"}),
        ("converse_stream", "bedrock-runtime", {"modelId": MODEL_ID, "messages": MESSAGES}),
        ("retrieve", "bedrock-agent-runtime", {"knowledgeBaseId": KNOWLEDGE_BASE_ID, "retrievalQuery": {"text": "q"}}),
    ],
)
def test_every_api_counts_throttling_and_access_denied(
    out: Output, fake: FakeBedrock, operation: str, service: str, kwargs: dict[str, Any]
) -> None:
    client = fake.client(service)
    fake.queue(error_reply("ThrottlingException", 429), error_reply("AccessDeniedException", 403))
    for _ in range(2):
        with pytest.raises(ClientError):
            getattr(client, operation)(**kwargs)
    assert out.values("RequestFailure") == [1, 1]  # one EMF object per call (no observed invocation)
    assert [line["error_class"] for line in out.calls()] == ["Throttling", "AccessDenied"]


def test_read_timeout_is_a_timeout(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    error = ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")
    fake.queue(Reply(raise_instead=error))
    with pytest.raises(ReadTimeoutError) as raised:
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert raised.value is error
    assert out.values("RequestFailure") == [1]
    line = _one_call(out)
    assert line["error_class"] == "Timeout" and line["aws_error_code"] is None


def test_malformed_converse_body_gives_the_user_what_botocore_gives(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(b"{not json"))
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert "output" not in response  # botocore's own reading of an unparsable body
    assert "InstrumentationErrors" not in out.metric_names()
    assert "InputTokens" not in out.metric_names() and out.values("RequestSuccess") == [1]
    line = _one_call(out)
    assert line["usage"] == {"input_tokens": None, "output_tokens": None, "total_tokens": None}
    assert "answer" not in line and line["outcome"] == "success"


def test_malformed_invoke_model_body_still_counts_the_header_tokens(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(invoke_reply(b"\x00\xffnot json at all", input_tokens=5, output_tokens=6))
    response = client.invoke_model(modelId=MODEL_ID, body=b"not json either")
    assert response["body"].read() == b"\x00\xffnot json at all"
    assert (out.values("InputTokens", ModelId=MODEL_ID), out.values("OutputTokens", ModelId=MODEL_ID)) == ([5], [6])
    assert "InstrumentationErrors" not in out.metric_names()
    line = _one_call(out)
    assert "answer" not in line and "question" not in line and line["prompt"]["length"] is None


def test_converse_stream_broken_midway_raises_the_users_error_and_counts_it(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    error = ProtocolError("Connection broken: IncompleteRead")
    fake.queue(stream_reply(converse_stream_messages(["Yes, ", "within"]), fail_after=3, error=error))
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    seen = []
    with pytest.raises(ProtocolError) as raised:
        for event in response["stream"]:
            seen.append(event)  # noqa: PERF402 - the events before the break are the point
    assert raised.value is error and len(seen) == 3
    assert out.values("RequestFailure") == [1]
    line = _one_call(out)
    assert line["error_class"] == "ServiceUnavailable"
    assert line["outcome"] == "failure" and line["answer"] == "Yes, within" and line["usage"]["input_tokens"] is None


def test_stream_exception_event_is_classified_from_its_code(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    messages = [
        *anthropic_stream_chunks(["Sure"])[:2],
        event_message("modelStreamErrorException", {"message": "x"}, message_type="exception"),
    ]
    fake.queue(stream_reply(messages))
    response = client.invoke_model_with_response_stream(modelId=MODEL_ID, body=b"{}")
    with pytest.raises(EventStreamError):
        list(response["body"])
    assert out.values("RequestFailure") == [1]
    line = _one_call(out)
    assert (line["aws_error_code"], line["error_class"]) == ("ModelStreamErrorException", "ModelError")


def test_invoke_model_body_that_breaks_while_read_is_a_failure(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    reply = invoke_reply({"content": []}, input_tokens=1, output_tokens=1)
    reply.fail_after, reply.error = 0, ProtocolError("Connection broken")
    fake.queue(reply)
    response = client.invoke_model(modelId=MODEL_ID, body=b"{}")
    with pytest.raises(ResponseStreamingError):
        response["body"].read()
    assert out.values("RequestFailure") == [1]
    assert "RequestSuccess" not in out.metric_names() and _one_call(out)["error_class"] == "ServiceUnavailable"


def test_abandoned_stream_is_reported_as_incomplete_at_flush(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(stream_reply(converse_stream_messages(["a", "b"])))
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    for event in response["stream"]:
        if "contentBlockDelta" in event:
            break
    flush()
    line = _one_call(out)
    assert line["outcome"] == "incomplete" and line["answer"] == "a"
    assert "RequestSuccess" not in out.metric_names() and "RequestFailure" not in out.metric_names()


def test_invoke_model_body_never_read_is_reported_at_flush_with_its_header_tokens(
    out: Output, fake: FakeBedrock
) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(invoke_reply({"generation": "x"}, input_tokens=8, output_tokens=2))
    client.invoke_model(modelId=MODEL_ID, body=b"{}")
    flush()
    assert (out.values("InputTokens", ModelId=MODEL_ID), out.values("OutputTokens", ModelId=MODEL_ID)) == ([8], [2])
    line = _one_call(out)
    assert line["outcome"] == "incomplete" and "answer" not in line


def test_closing_a_stream_closes_the_connection_and_reports_once(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(stream_reply([chunk_message({"generation": "x"})]))
    response = client.invoke_model_with_response_stream(modelId=MODEL_ID, body=b"{}")
    response["body"].close()
    response["body"].close()
    assert [line["outcome"] for line in out.calls()] == ["incomplete"]
