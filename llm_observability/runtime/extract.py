"""Reading Bedrock requests and responses: question, answer, prompt properties, tokens, stop reason, scores.

Converse and ConverseStream have one shape for every model. InvokeModel bodies are model-specific JSON:
the readers below know the families Bedrock serves (Anthropic Messages and Text Completions, Amazon Nova
and Titan, Meta Llama, Mistral, Cohere, AI21 and OpenAI-style ``choices``); an unknown shape gives no text,
never an error. Token counts of InvokeModel come from the ``X-Amzn-Bedrock-*-Token-Count`` response
headers, which every model family has. Bodies larger than ``MAX_PARSE_BYTES`` are not parsed (their
prompt properties and text are left out): parsing them would cost more than the call's instrumentation
budget. Every function tolerates any input and returns None for what it cannot find.

Retrieved passages (``retrieval_passages``, ``loggable_passages``) are what the request log keeps of a Retrieve or
RetrieveAndGenerate response: at most ``MAX_LOGGED_PASSAGES``, in ranking order, each its id (``passage_id``), its
score and - unless prompt logging is ``none`` - an excerpt of at most ``PASSAGE_EXCERPT_CHARS`` characters (PII
replaced under ``redacted``). The reference app's ``ask`` line uses the same two functions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from . import telemetry as t
from .redaction import TOKEN_AWS_KEY, TOKEN_CARD, TOKEN_EMAIL, TOKEN_IP, TOKEN_PHONE, redact

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


# --- retrieved passages ----------------------------------------------------------------------------------------------
#: Knowledge Base metadata keys of a retrieval result: the chunk's own id, and the address of its source document.
KB_CHUNK_ID_KEY = "x-amz-bedrock-kb-chunk-id"
KB_SOURCE_URI_KEY = "x-amz-bedrock-kb-source-uri"
#: The keys of a result's location that hold its address (s3Location.uri, webLocation.url, customDocumentLocation.id,
#: and the same keys of Confluence, SharePoint, Salesforce and Kendra locations).
_LOCATION_KEYS = ("uri", "url", "id")
#: The text redacted for an excerpt: more than the excerpt, so that PII cut by the window's end (which the patterns
#: no longer recognise) falls in the part dropped after redaction. The longest PII item is shorter than the margin.
EXCERPT_WINDOW_CHARS = 2 * t.PASSAGE_EXCERPT_CHARS
_TOKENS = (TOKEN_EMAIL, TOKEN_PHONE, TOKEN_CARD, TOKEN_IP, TOKEN_AWS_KEY)


def _location_address(location: Any) -> str | None:
    """The uri, url or id of a retrieval result's location, whatever its data source type."""
    if not isinstance(location, dict):
        return None
    for value in location.values():
        if isinstance(value, dict):
            for key in _LOCATION_KEYS:
                address = value.get(key)
                if isinstance(address, str) and address:
                    return address
    return None


def passage_id(result: Any) -> str | None:
    """The id the request log gives a retrieval result (a Retrieve result or a RetrieveAndGenerate reference).

    ``metadata["x-amz-bedrock-kb-chunk-id"]``, else ``documentId``, else the location's uri, url or id, else
    ``metadata["x-amz-bedrock-kb-source-uri"]``; cut to ``MAX_PASSAGE_ID_CHARS``. None when it has none of them.
    Ids name document locations, never content, so they are logged whatever the prompt-logging mode.
    """
    if not isinstance(result, dict):
        return None
    metadata = result.get("metadata")
    for candidate in (
        dig(metadata, KB_CHUNK_ID_KEY),
        result.get("documentId"),
        _location_address(result.get("location")),
        dig(metadata, KB_SOURCE_URI_KEY),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate[: t.MAX_PASSAGE_ID_CHARS]
    return None


def _results(source: Any) -> tuple[list[Any], bool]:
    """The retrieval results of a Retrieve response, the references of a RetrieveAndGenerate response (True), or
    ``source`` itself when it is a list of results."""
    if isinstance(source, (list, tuple)):
        return list(source), False
    if not isinstance(source, dict):
        return [], False
    results = source.get("retrievalResults")
    if isinstance(results, list):
        return results, False
    citations = source.get("citations")
    if not isinstance(citations, list):
        return [], False
    references = (dig(citation, "retrievedReferences") for citation in citations)
    return [ref for refs in references if isinstance(refs, list) for ref in refs], True


def retrieval_passages(source: Any, keep_text: bool) -> list[dict[str, Any]]:
    """The passages of ``source`` as ``[{"id", "score", "excerpt"?}]``: at most ``MAX_LOGGED_PASSAGES``, in order.

    ``source`` is a Retrieve response (``retrievalResults``, ranked, each with its ``score``), a RetrieveAndGenerate
    response (the ``retrievedReferences`` of its citations, no score; a reference cited twice counts once) or a list
    of retrieval results. With ``keep_text`` each passage with text keeps its first ``EXCERPT_WINDOW_CHARS``
    characters as ``excerpt``, which ``loggable_passages`` turns into the logged excerpt.
    """
    results, cited = _results(source)
    passages: list[dict[str, Any]] = []
    seen: set[tuple[str | None, Any]] = set()
    for result in results:
        if not isinstance(result, dict):
            continue
        text = dig(result, "content", "text")
        text = text if isinstance(text, str) else None
        identity = passage_id(result)
        if cited:
            key = (identity, text)
            if key in seen:
                continue
            seen.add(key)
        passage: dict[str, Any] = {"id": identity, "score": number(result.get("score"))}
        if keep_text and text is not None:
            passage["excerpt"] = text[:EXCERPT_WINDOW_CHARS]
        passages.append(passage)
        if len(passages) == t.MAX_LOGGED_PASSAGES:
            break
    return passages


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many last characters ``a`` and ``b`` share, at most ``limit``."""
    size = 0
    while size < limit and size < len(a) and size < len(b) and a[-1 - size] == b[-1 - size]:
        size += 1
    return size


def _tokens(text: str) -> int:
    return sum(text.count(token) for token in _TOKENS)


def excerpt(text: str, prompt_logging: str) -> tuple[str | None, int]:
    """The logged excerpt of a passage's text under ``prompt_logging``, and the PII replacements it shows.

    ``full``: the first ``PASSAGE_EXCERPT_CHARS`` characters. ``redacted``: the first ``EXCERPT_WINDOW_CHARS``
    characters redacted, then cut to ``PASSAGE_EXCERPT_CHARS``. When the window cut the text, a PII item cut in two
    is no longer recognised: it is at the end of the window and left as it was, so the redacted window's end that
    is still the window's own text (up to the margin) is dropped before the cut - the excerpt may then be shorter.
    The count is the replacements within the excerpt. ``none``: no excerpt.
    """
    if prompt_logging == t.PROMPT_LOGGING_NONE:
        return None, 0
    if prompt_logging == t.PROMPT_LOGGING_FULL:
        return text[: t.PASSAGE_EXCERPT_CHARS], 0
    window = text[:EXCERPT_WINDOW_CHARS]
    redacted, found = redact(window)
    if found == 0:  # the text kept its length: whatever the window's end cut lies beyond the excerpt
        return redacted[: t.PASSAGE_EXCERPT_CHARS], 0
    keep = t.PASSAGE_EXCERPT_CHARS
    if len(text) > EXCERPT_WINDOW_CHARS:
        keep = min(keep, len(redacted) - _common_suffix(redacted, window, EXCERPT_WINDOW_CHARS - keep))
    shown = redacted[:keep]
    # Replacements shown: the tokens in the excerpt, less those the text had already (a pre-redacted source).
    return shown, max(0, min(found, _tokens(shown) - _tokens(window[: len(shown)])))


def loggable_passages(passages: Iterable[Mapping[str, Any]], prompt_logging: str) -> tuple[list[dict[str, Any]], int]:
    """``passages`` (``{"id", "score", "excerpt"?}``, excerpt the passage's text) as the request log carries them under
    ``prompt_logging``: at most ``MAX_LOGGED_PASSAGES``, ids cut to ``MAX_PASSAGE_ID_CHARS``, scores finite numbers
    or None, excerpts per :func:`excerpt`; and the number of PII replacements in the excerpts."""
    logged: list[dict[str, Any]] = []
    total = 0
    for passage in islice(passages, t.MAX_LOGGED_PASSAGES):
        identity = passage.get("id")
        entry: dict[str, Any] = {
            "id": identity[: t.MAX_PASSAGE_ID_CHARS] if isinstance(identity, str) and identity else None,
            "score": number(passage.get("score")),
        }
        text = passage.get("excerpt")
        if isinstance(text, str):
            shown, found = excerpt(text, prompt_logging)
            if shown is not None:
                entry["excerpt"] = shown
                total += found
        logged.append(entry)
    return logged, total
