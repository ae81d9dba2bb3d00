"""Reading Bedrock requests and responses: question, answer, prompt properties, tokens, stop reason, scores.

Converse and ConverseStream have one shape for every model. InvokeModel bodies are model-specific JSON:
the readers below know the families Bedrock serves (Anthropic Messages and Text Completions, Amazon Nova
and Titan, Meta Llama, Mistral, Cohere, AI21 and OpenAI-style ``choices``); an unknown shape gives no text,
never an error. Token counts of InvokeModel come from the ``X-Amzn-Bedrock-*-Token-Count`` response
headers, which every model family has. Bodies larger than ``MAX_PARSE_BYTES`` are not parsed (their
prompt properties and text are left out): parsing them would cost more than the call's instrumentation
budget. Every function tolerates any input and returns None for what it cannot find.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_PARSE_BYTES = 256 * 1024
MAX_TEXT_CHARS = 100_000  # text kept per call for logging; the rest is cut
HEADER_INPUT_TOKENS = "x-amzn-bedrock-input-token-count"
HEADER_OUTPUT_TOKENS = "x-amzn-bedrock-output-token-count"
HEADER_LATENCY = "x-amzn-bedrock-invocation-latency"
HEADER_REQUEST_ID = "x-amzn-requestid"
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"


@dataclass
class Prompt:
    """What a request tells about its prompt."""

    question: str | None = None  # the text of the last user message
    chars: int | None = None  # characters of the whole prompt (system and every message)
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None


def number(value: Any) -> float | None:
    """``value`` if it is a finite number (not a bool), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def count(value: Any) -> int | None:
    """``value`` as a non-negative token count, else None (header strings included)."""
    if isinstance(value, str):
        value = int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def dig(document: Any, *path: str | int) -> Any:
    """``document[path[0]][path[1]]...`` or None where the path does not exist."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(document, list) or not -len(document) <= key < len(document):
                return None
        elif not isinstance(document, dict):
            return None
        document = document[key] if isinstance(key, int) else document.get(key)
    return document


def clip(text: str | None) -> str | None:
    """``text`` cut to ``MAX_TEXT_CHARS``."""
    return text[:MAX_TEXT_CHARS] if text is not None and len(text) > MAX_TEXT_CHARS else text


def _block_texts(content: Any) -> list[str]:
    """The texts of a message's content: a string, or blocks ``{"text": ...}`` / ``{"type": "text", ...}``."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str)]


def _messages_prompt(messages: Any, system: Any) -> Prompt:
    """Question and size of a chat-style request (Converse, Anthropic Messages, Nova, OpenAI-style)."""
    prompt = Prompt()
    if not isinstance(messages, list):
        return prompt
    total = sum(len(text) for text in _block_texts(system))
    for message in messages:
        if not isinstance(message, dict):
            continue
        texts = _block_texts(message.get("content"))
        total += sum(len(text) for text in texts)
        if message.get("role") == "user" and texts:
            prompt.question = "\n".join(texts)
    prompt.chars = total
    return prompt


def converse_prompt(params: dict[str, Any]) -> Prompt:
    """The prompt of a Converse / ConverseStream request."""
    prompt = _messages_prompt(params.get("messages"), params.get("system"))
    config = params.get("inferenceConfig")
    prompt.max_tokens = count(dig(config, "maxTokens"))
    prompt.temperature = number(dig(config, "temperature"))
    prompt.top_p = number(dig(config, "topP"))
    return prompt


def load_json(body: Any) -> Any:
    """A JSON body given as bytes or str (at most ``MAX_PARSE_BYTES``), else None."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        if len(body) > MAX_PARSE_BYTES:
            return None
        body = bytes(body)
    elif isinstance(body, str):
        if len(body) > MAX_PARSE_BYTES:
            return None
    else:
        return None  # a file object: reading it would consume the user's body
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def invoke_prompt(body: Any) -> Prompt:
    """The prompt of an InvokeModel request body, whatever the model family."""
    document = load_json(body)
    if not isinstance(document, dict):
        return Prompt()
    if isinstance(document.get("messages"), list):
        prompt = _messages_prompt(document["messages"], document.get("system"))
    else:
        text = _first(
            *(
                document.get(key)
                for key in ("prompt", "inputText", "message", "input")
                if isinstance(document.get(key), str)
            )
        )
        prompt = Prompt(question=text, chars=len(text) if text is not None else None)
    text_config, nova = document.get("textGenerationConfig"), document.get("inferenceConfig")
    prompt.max_tokens = count(
        _first(
            *(document.get(k) for k in ("max_tokens", "max_tokens_to_sample", "max_gen_len", "max_completion_tokens")),
            dig(text_config, "maxTokenCount"),
            dig(nova, "max_new_tokens"),
            dig(nova, "maxTokens"),
        )
    )
    prompt.temperature = number(
        _first(document.get("temperature"), dig(text_config, "temperature"), dig(nova, "temperature"))
    )
    prompt.top_p = number(
        _first(
            document.get("top_p"), document.get("p"), dig(text_config, "topP"), dig(nova, "top_p"), dig(nova, "topP")
        )
    )
    return prompt


@dataclass
class Completion:
    """What a response tells: the answer and its usage."""

    text: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None  # Bedrock's own measure of the inference


def converse_completion(response: dict[str, Any]) -> Completion:
    """The answer, usage and latency of a Converse response."""
    texts = _block_texts(dig(response, "output", "message", "content"))
    return Completion(
        text="".join(texts) if texts else None,
        stop_reason=_string(response.get("stopReason")),
        input_tokens=count(dig(response, "usage", "inputTokens")),
        output_tokens=count(dig(response, "usage", "outputTokens")),
        latency_ms=number(dig(response, "metrics", "latencyMs")),
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _joined(parts: Iterable[Any]) -> str | None:
    texts = [part for part in parts if isinstance(part, str)]
    return "".join(texts) if texts else None


def invoke_completion(document: Any) -> Completion:
    """The answer, stop reason and body-reported usage of an InvokeModel response body (parsed JSON)."""
    if not isinstance(document, dict):
        return Completion()
    nova = dig(document, "output", "message", "content")
    choices = document.get("choices")
    text = _first(
        _joined(_block_texts(document["content"])) if isinstance(document.get("content"), list) else None,  # Anthropic
        _joined(_block_texts(nova)) if nova is not None else None,  # Nova
        _string(document.get("generation")),  # Llama
        _string(dig(document, "results", 0, "outputText")),  # Titan
        _string(dig(document, "outputs", 0, "text")),  # Mistral
        _string(dig(choices, 0, "message", "content")),  # OpenAI-style, AI21, Mistral chat
        _string(document.get("completion")),  # Anthropic Text Completions
        _string(document.get("text")),  # Cohere Command R
        _string(dig(document, "generations", 0, "text")),  # Cohere Command
    )
    stop = _first(
        *(_string(document.get(k)) for k in ("stop_reason", "stopReason", "finish_reason")),
        _string(dig(document, "results", 0, "completionReason")),
        _string(dig(document, "outputs", 0, "stop_reason")),
        _string(dig(choices, 0, "finish_reason")),
    )
    usage = document.get("usage")
    return Completion(
        text=text,
        stop_reason=stop,
        input_tokens=count(
            _first(
                dig(usage, "input_tokens"),
                dig(usage, "inputTokens"),
                dig(usage, "prompt_tokens"),
                document.get("prompt_token_count"),
                document.get("inputTextTokenCount"),
            )
        ),
        output_tokens=count(
            _first(
                dig(usage, "output_tokens"),
                dig(usage, "outputTokens"),
                dig(usage, "completion_tokens"),
                document.get("generation_token_count"),
                dig(document, "results", 0, "tokenCount"),
            )
        ),
    )


def invoke_stream_delta(document: Any) -> tuple[str | None, str | None]:
    """The text and stop reason of one InvokeModelWithResponseStream chunk (parsed JSON)."""
    if not isinstance(document, dict):
        return None, None
    text = _first(
        _string(dig(document, "delta", "text")),  # Anthropic content_block_delta
        _string(dig(document, "contentBlockDelta", "delta", "text")),  # Nova
        _string(document.get("generation")),  # Llama
        _string(document.get("outputText")),  # Titan
        _string(dig(document, "outputs", 0, "text")),  # Mistral
        _string(dig(document, "choices", 0, "delta", "content")),  # OpenAI-style
        _string(document.get("completion")),  # Anthropic Text Completions
        _string(document.get("text")),  # Cohere
    )
    stop = _first(
        _string(dig(document, "delta", "stop_reason")),
        _string(dig(document, "messageStop", "stopReason")),
        _string(document.get("stop_reason")),
        _string(document.get("completionReason")),
        _string(dig(document, "outputs", 0, "stop_reason")),
        _string(dig(document, "choices", 0, "finish_reason")),
        _string(document.get("finish_reason")),
    )
    return text, stop


def header(headers: Any, name: str) -> str | None:
    """A response header by lower-case ``name`` (botocore lower-cases them; a plain dict may not)."""
    if not isinstance(headers, dict):
        return None
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == name), None)
    return value if isinstance(value, str) else None


def response_headers(response: Any) -> Any:
    """The HTTP headers botocore put in a response's ``ResponseMetadata``."""
    return dig(response, "ResponseMetadata", "HTTPHeaders")


def request_id(response: Any) -> str | None:
    """The AWS request id of a response."""
    return _string(dig(response, "ResponseMetadata", "RequestId")) or header(
        response_headers(response), HEADER_REQUEST_ID
    )


def retrieval_scores(response: dict[str, Any]) -> tuple[int, float | None]:
    """How many passages a Retrieve response has, and the best score among them."""
    results = response.get("retrievalResults")
    if not isinstance(results, list):
        return 0, None
    scores = [s for s in (number(dig(r, "score")) for r in results) if s is not None]
    return len(results), max(scores) if scores else None


def rag_references(response: dict[str, Any]) -> int:
    """How many retrieved references the citations of a RetrieveAndGenerate response carry."""
    citations = response.get("citations")
    if not isinstance(citations, list):
        return 0
    return sum(len(refs) for refs in (dig(c, "retrievedReferences") for c in citations) if isinstance(refs, list))


def rag_model(params: dict[str, Any]) -> str | None:
    """The model ARN of a RetrieveAndGenerate request."""
    config = params.get("retrieveAndGenerateConfiguration")
    return _string(
        _first(
            dig(config, "knowledgeBaseConfiguration", "modelArn"),
            dig(config, "externalSourcesConfiguration", "modelArn"),
        )
    )
