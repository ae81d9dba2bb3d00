"""The OpenTelemetry GenAI semantic-convention attributes of one Bedrock call, read from its request and outcome.

Pure functions over plain data (no OpenTelemetry import): what a span of a Converse, ConverseStream,
InvokeModel, InvokeModelWithResponseStream, Retrieve or RetrieveAndGenerate call carries, and the message
content (``gen_ai.input.messages`` / ``gen_ai.output.messages``, JSON strings in the conventions' format) that
goes on it only under full prompt logging. Every function tolerates any input: a value of the wrong type or
shape is left out, never an error, and every value returned is a valid OpenTelemetry attribute value (a string,
a bool, a finite number or a list of strings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import telemetry as t
from .extract import MAX_TEXT_CHARS, Prompt, clip, dig, load_json, number

AttributeValue = str | bool | int | float | list[str]
#: Messages kept for ``gen_ai.input.messages`` (the last ones: the conversation's end is what the model answered).
MAX_MESSAGES = 50


def operation_name(kind: str, model_id: Any, params: Mapping[str, Any]) -> str:
    """``gen_ai.operation.name``: ``chat``, ``text_completion`` (a text-prompt InvokeModel body) or ``retrieval``.

    The botocore instrumentation's rule for InvokeModel (Amazon Titan text models are text completion), so an
    enriched span and the runtime's own span name an operation alike.
    """
    if kind in ("retrieve", "rag"):
        return t.GEN_AI_OPERATION_RETRIEVAL
    if kind == "invoke" and isinstance(model_id, str) and "amazon.titan" in model_id and "body" in params:
        return t.GEN_AI_OPERATION_TEXT_COMPLETION
    return t.GEN_AI_OPERATION_CHAT


def span_name(operation: str, target: Any, fallback: str) -> str:
    """The conventions' span name: ``{operation} {model}`` (``{operation} {knowledge base}`` for retrieval)."""
    return f"{operation} {target}" if isinstance(target, str) and target else f"{operation} {fallback}"


def request_attributes(
    *,
    operation: str,
    rpc_method: str,
    model_id: Any,
    knowledge_base_id: Any,
    prompt: Prompt | None,
) -> dict[str, AttributeValue]:
    """The attributes known before the call: operation, provider, model and the inference parameters."""
    attributes: dict[str, AttributeValue] = {
        t.SPAN_GEN_AI_OPERATION: operation,
        t.SPAN_GEN_AI_PROVIDER: t.GEN_AI_PROVIDER_BEDROCK,
        t.SPAN_GEN_AI_SYSTEM: t.GEN_AI_PROVIDER_BEDROCK,
        t.SPAN_RPC_METHOD: rpc_method,
    }
    if isinstance(model_id, str) and model_id:
        attributes[t.SPAN_GEN_AI_REQUEST_MODEL] = model_id
    if isinstance(knowledge_base_id, str) and knowledge_base_id:
        attributes[t.SPAN_KNOWLEDGE_BASE_ID] = knowledge_base_id
    if prompt is not None:
        for key, value in (
            (t.SPAN_GEN_AI_REQUEST_TEMPERATURE, number(prompt.temperature)),
            (t.SPAN_GEN_AI_REQUEST_TOP_P, number(prompt.top_p)),
            (t.SPAN_GEN_AI_REQUEST_MAX_TOKENS, number(prompt.max_tokens)),
        ):
            if value is not None:
                attributes[key] = value
    return attributes


def outcome_attributes(
    *,
    input_tokens: Any,
    output_tokens: Any,
    stop_reason: Any,
    request_id: Any,
    passages: Any,
    top_score: Any,
) -> dict[str, AttributeValue]:
    """The attributes known after the call: usage, finish reasons, the AWS request id, retrieval results."""
    attributes: dict[str, AttributeValue] = {}
    for key, value in (
        (t.SPAN_GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
        (t.SPAN_GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
        (t.SPAN_RETRIEVAL_PASSAGES, passages),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            attributes[key] = value
    if isinstance(stop_reason, str) and stop_reason:
        attributes[t.SPAN_GEN_AI_FINISH_REASONS] = [stop_reason]
    if isinstance(request_id, str) and request_id:
        attributes[t.SPAN_AWS_REQUEST_ID] = request_id
    score = number(top_score)
    if score is not None:
        attributes[t.SPAN_RETRIEVAL_TOP_SCORE] = score
    return attributes


# --- content (full prompt logging only) ----------------------------------------------------------------------------
def _text_parts(content: Any) -> list[dict[str, str]]:
    """The text parts of a message's content: a string, or blocks with a ``text`` string."""
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    else:
        texts = []
    return [{"type": "text", "content": text} for text in texts]


def _chat_messages(messages: Any, system: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    system_parts = _text_parts(system)
    if system_parts:
        found.append({"role": "system", "parts": system_parts})
    if isinstance(messages, list):
        for message in messages[-MAX_MESSAGES:]:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            parts = _text_parts(message.get("content"))
            if isinstance(role, str) and parts:
                found.append({"role": role, "parts": parts})
    return found


def _invoke_messages(body: Any) -> list[dict[str, Any]]:
    document = load_json(body)
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("messages"), list):
        return _chat_messages(document["messages"], document.get("system"))
    text = next(
        (document[key] for key in ("prompt", "inputText", "message", "input") if isinstance(document.get(key), str)),
        None,
    )
    return [{"role": "user", "parts": [{"type": "text", "content": text}]}] if text is not None else []


def _bounded(messages: list[dict[str, Any]]) -> str | None:
    """``messages`` as the JSON string of the attribute, each text cut to ``MAX_TEXT_CHARS``; None when empty."""
    if not messages:
        return None
    for message in messages:
        for part in message["parts"]:
            part["content"] = clip(part["content"])
    return json.dumps(messages, ensure_ascii=False, separators=(",", ":"))


def input_messages(kind: str, params: Mapping[str, Any]) -> str | None:
    """``gen_ai.input.messages`` of a request (system instructions as a ``system`` message), or None."""
    if kind == "converse":
        messages = _chat_messages(params.get("messages"), params.get("system"))
    elif kind == "invoke":
        messages = _invoke_messages(params.get("body"))
    else:
        text = dig(params, "retrievalQuery", "text") if kind == "retrieve" else dig(params, "input", "text")
        messages = [{"role": "user", "parts": [{"type": "text", "content": text}]}] if isinstance(text, str) else []
    return _bounded(messages)


def output_messages(text: Any, stop_reason: Any) -> str | None:
    """``gen_ai.output.messages`` of an answer, or None without one."""
    if not isinstance(text, str):
        return None
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text[:MAX_TEXT_CHARS]}]}
    if isinstance(stop_reason, str) and stop_reason:
        message["finish_reason"] = stop_reason
    return json.dumps([message], ensure_ascii=False, separators=(",", ":"))
