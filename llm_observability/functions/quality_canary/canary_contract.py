"""The quality canary's request contract: how to ask the target one question, and where the answer is.

The contract comes from the ``REQUEST_CONTRACT`` environment variable, JSON written by the CDK side
(``RequestContract.document``)::

    {"method": "POST", "path": "/ask", "body": {"question": "{question}"}, "answer_path": "$.answer",
     "model_path": "$.model_id", "prompt_version_path": "$.prompt_version", "default_model_id": "..."}

Every JSON string value of ``body`` equal to ``{question}`` is replaced by the question (structurally, so
any question is a valid JSON string). Paths are ``$`` followed by ``.name`` and ``[index]`` steps. Without
the variable the canary asks the reference RAG API (:data:`REFERENCE`). Standard library only.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = "{question}"
METHODS = ("POST", "PUT", "PATCH")
#: The prompt version reported when the contract names none.
UNVERSIONED = "unversioned"
#: The model reported when the contract names neither a model path nor a default model.
UNKNOWN_MODEL = "unknown"
USER_AGENT = "llm-observability-quality-canary"

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d{1,4})\]")
_MISSING = object()

Path = tuple[str | int, ...]


def parse_path(text: Any, name: str) -> Path:
    """``$.a.b[0]`` as ``("a", "b", 0)``; ValueError naming ``name`` when it is not such a path."""
    if not isinstance(text, str) or not text.startswith("$") or len(text) < 2:
        raise ValueError(f"{name} must be a JSON path such as $.answer, got {text!r}.")
    steps: list[str | int] = []
    position = 1
    for match in _STEP.finditer(text, 1):
        if match.start() != position:
            break
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if position != len(text):
        raise ValueError(f"{name} must be a JSON path such as $.answer, got {text!r}.")
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class Contract:
    """A validated request contract."""

    method: str
    path: str
    body: Any
    answer_path: Path
    model_path: Path | None = None
    prompt_version_path: Path | None = None
    default_model_id: str = UNKNOWN_MODEL


REFERENCE = Contract(
    "POST", "/ask", {"question": PLACEHOLDER}, ("answer",), ("model_id",), ("prompt_version",), UNKNOWN_MODEL
)


def parse(text: str) -> Contract:
    """The contract in ``text`` (the environment variable); ValueError with one sentence per problem found first."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError("REQUEST_CONTRACT must be a JSON object.") from None
    if not isinstance(document, dict):
        raise ValueError("REQUEST_CONTRACT must be a JSON object.")
    method, path = document.get("method", "POST"), document.get("path")
    if method not in METHODS:
        raise ValueError(f"REQUEST_CONTRACT method must be one of {', '.join(METHODS)}, got {method!r}.")
    if not isinstance(path, str) or not path.startswith("/") or "?" in path:
        raise ValueError(f"REQUEST_CONTRACT path must start with / and carry no query string, got {path!r}.")
    if not _holds_placeholder(document.get("body")):
        raise ValueError(f"REQUEST_CONTRACT body must hold the string {PLACEHOLDER!r} as a value.")
    optional = {
        name: parse_path(document[name], f"REQUEST_CONTRACT {name}") if document.get(name) is not None else None
        for name in ("model_path", "prompt_version_path")
    }
    default_model = document.get("default_model_id")
    return Contract(
        method=method,
        path=path,
        body=document["body"],
        answer_path=parse_path(document.get("answer_path"), "REQUEST_CONTRACT answer_path"),
        model_path=optional["model_path"],
        prompt_version_path=optional["prompt_version_path"],
        default_model_id=default_model if isinstance(default_model, str) and default_model else UNKNOWN_MODEL,
    )


def _holds_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_placeholder(v) for v in value)
    return value == PLACEHOLDER


def _fill(value: Any, question: str) -> Any:
    if isinstance(value, dict):
        return {key: _fill(v, question) for key, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, question) for v in value]
    return question if value == PLACEHOLDER else value


def request_body(contract: Contract, question: str) -> str:
    """The JSON request body with the question in place of every placeholder."""
    return json.dumps(_fill(contract.body, question), ensure_ascii=False)


def find(document: Any, path: Path) -> Any:
    """The value at ``path`` in ``document``, or None when the path does not lead to one."""
    value = document
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and step < len(value) else _MISSING
        else:
            value = value.get(step, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            return None
    return value


def proxy_event(contract: Contract, question: str, request_id: str) -> dict[str, Any]:
    """An API Gateway REST API (Lambda proxy integration) event sending ``question`` as the contract says."""
    headers = {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": USER_AGENT}
    return {
        "resource": contract.path,
        "path": contract.path,
        "httpMethod": contract.method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": contract.path,
            "httpMethod": contract.method,
            "path": contract.path,
            "stage": "canary",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"userAgent": USER_AGENT},
        },
        "body": request_body(contract, question),
        "isBase64Encoded": False,
    }
