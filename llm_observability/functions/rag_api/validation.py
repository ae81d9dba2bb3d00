"""Parsing and validation of API Gateway request bodies.

Every rejection raises ``RequestValidationError`` whose message is one sentence
naming the field and what is allowed; it is safe to return to the client.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from errors import RequestValidationError

MAX_TOKENS_LIMIT = 2048
DEFAULT_MAX_TOKENS = 512
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9
MAX_TOP_K = 20
MAX_STOP_SEQUENCES = 4
MAX_STOP_SEQUENCE_CHARS = 50
MAX_FEEDBACK_REQUEST_ID_CHARS = 128
MAX_FEEDBACK_COMMENT_CHARS = 1000

_ASK_FIELDS = ("question", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences")
_FEEDBACK_FIELDS = ("request_id", "score", "comment")
_REQUEST_ID = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_FEEDBACK_REQUEST_ID_CHARS}}}")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")  # a "\ud800" JSON escape: no UTF-8 for it, so no log line


@dataclass(frozen=True, slots=True)
class AskRequest:
    """A validated /ask request with defaults applied."""

    question: str
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stop_sequences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FeedbackRequest:
    """A validated /feedback request."""

    request_id: str
    score: int
    comment: str | None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(event: Mapping[str, Any]) -> dict[str, Any]:
    """Decode the API Gateway proxy body (base64 if flagged) into a JSON object."""
    body = event.get("body")
    if not isinstance(body, str) or not body:
        raise RequestValidationError("The request body must be a JSON object.")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise RequestValidationError(
                "The request body is flagged base64-encoded but is not valid base64 UTF-8."
            ) from None
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's stack allows
        raise RequestValidationError("The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise RequestValidationError("The request body must be a JSON object.")
    return document


def well_formed(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so it can be encoded as UTF-8 (and logged)."""
    return _LONE_SURROGATES.sub("\ufffd", text)


def normalize_question(text: str) -> str:
    """NFC-normalize, drop control characters, replace lone surrogates and collapse runs of whitespace."""
    return " ".join(_CONTROL_CHARS.sub("", unicodedata.normalize("NFC", well_formed(text))).split())


def _reject_unknown(document: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(key for key in document if key not in allowed)
    if unknown:
        raise RequestValidationError(
            f"Unknown field(s) {', '.join(map(repr, unknown))}; allowed fields are {', '.join(allowed)}."
        )


def _integer(document: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = document.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestValidationError(f"'{name}' must be an integer from {low} to {high}.")
    return value


def _unit_float(document: Mapping[str, Any], name: str, default: float) -> float:
    value = document.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise RequestValidationError(f"'{name}' must be a number from 0 to 1.")
    return float(value)


def parse_ask(document: Mapping[str, Any], *, default_top_k: int, max_question_chars: int) -> AskRequest:
    """Validate an /ask body and normalize its question."""
    _reject_unknown(document, _ASK_FIELDS)
    question = document.get("question")
    if not isinstance(question, str):
        raise RequestValidationError("'question' is required and must be a string.")
    question = normalize_question(question)
    if not question:
        raise RequestValidationError("'question' must not be empty.")
    if len(question) > max_question_chars:
        raise RequestValidationError(f"'question' must be at most {max_question_chars} characters.")
    stop_sequences = document.get("stop_sequences", [])
    if (
        not isinstance(stop_sequences, list)
        or len(stop_sequences) > MAX_STOP_SEQUENCES
        or not all(isinstance(item, str) and 0 < len(item) <= MAX_STOP_SEQUENCE_CHARS for item in stop_sequences)
    ):
        raise RequestValidationError(
            f"'stop_sequences' must be a list of at most {MAX_STOP_SEQUENCES} non-empty strings "
            f"of at most {MAX_STOP_SEQUENCE_CHARS} characters."
        )
    return AskRequest(
        question=question,
        max_tokens=_integer(document, "max_tokens", DEFAULT_MAX_TOKENS, 1, MAX_TOKENS_LIMIT),
        temperature=_unit_float(document, "temperature", DEFAULT_TEMPERATURE),
        top_p=_unit_float(document, "top_p", DEFAULT_TOP_P),
        top_k=_integer(document, "top_k", default_top_k, 1, MAX_TOP_K),
        stop_sequences=tuple(stop_sequences),
    )


def parse_feedback(document: Mapping[str, Any]) -> FeedbackRequest:
    """Validate a /feedback body."""
    _reject_unknown(document, _FEEDBACK_FIELDS)
    request_id = document.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise RequestValidationError(
            f"'request_id' is required and must be 1 to {MAX_FEEDBACK_REQUEST_ID_CHARS} letters, digits or dashes."
        )
    score = document.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise RequestValidationError("'score' is required and must be an integer from 1 to 5.")
    comment = document.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_FEEDBACK_COMMENT_CHARS):
        raise RequestValidationError(f"'comment' must be a string of at most {MAX_FEEDBACK_COMMENT_CHARS} characters.")
    return FeedbackRequest(
        request_id=request_id, score=score, comment=None if comment is None else well_formed(comment)
    )
