"""The feedback join's records: the schema it reads, ratings, answers, the join, its queries and review objects.

Pure functions over parsed Logs Insights rows (no AWS calls), imported by ``handler`` as a sibling. Every
malformed line costs that line only: it is skipped and counted, never raised.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedback_telemetry as telemetry
import logs_query

PROMPT_LOGGING_MODES = ("full", "redacted", "none")
MAX_REQUEST_ID_CHARS = 256
MAX_LABEL_CHARS = 256
MAX_COMMENT_CHARS = 2_000
MAX_TEXT_CHARS = 20_000
MAX_PASSAGES = 10  # the runtime's MAX_LOGGED_PASSAGES
MAX_EXCERPT_CHARS = 300  # the runtime's PASSAGE_EXCERPT_CHARS
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True, slots=True)
class Schema:
    """The log-line fields the join reads (from ``LOG_SCHEMA``); ``None``: the line does not carry it."""

    marker_field: str
    marker_value: str
    request_id: str
    model: str
    feedback_marker: str
    feedback_request_id: str
    feedback_score: str
    question: str | None = None
    answer: str | None = None
    prompt_version: str | None = None
    passages: str | None = None


_REQUIRED_SCHEMA = ("marker_field", "marker_value", "request_id", "model", "feedback_marker", "feedback_request_id",
                    "feedback_score")  # fmt: skip
_OPTIONAL_SCHEMA = ("question", "answer", "prompt_version", "passages")
_VALUES = ("marker_value", "feedback_marker")  # marker values, not field names


def parse_schema(text: str) -> Schema:
    """The join's fields from a ``LogSchema.document()``; ValueError naming what is missing or malformed."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError(f"{telemetry.ENV_LOG_SCHEMA} is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ValueError(f"{telemetry.ENV_LOG_SCHEMA} must be a JSON object.")
    values: dict[str, str | None] = {}
    problems = []
    for name in (*_REQUIRED_SCHEMA, *_OPTIONAL_SCHEMA):
        value = document.get(name)
        if value is None and name in _OPTIONAL_SCHEMA:
            values[name] = None
        elif not isinstance(value, str) or not (
            (0 < len(value) <= 256 and not any(c in value for c in '"\\\n\r'))
            if name in _VALUES
            else _FIELD.match(value)
        ):
            problems.append(name)
        else:
            values[name] = value
    if problems:
        raise ValueError(
            f"{telemetry.ENV_LOG_SCHEMA} lacks usable {', '.join(problems)}: the feedback join needs the answer line's "
            "marker, request id and model fields and the feedback line's marker, request id and score fields."
        )
    return Schema(**values)  # type: ignore[arg-type]


# --- Records ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rating:
    """One user rating from a feedback line."""

    request_id: str
    score: float
    rated_at: datetime
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The rated answer's line: who answered, and the text as it was logged."""

    request_id: str
    model_id: str
    prompt_version: str
    logged_at: datetime
    question: str | None = None
    answer: str | None = None
    passages: tuple[dict[str, Any], ...] = ()
    prompt_logging: str | None = None


@dataclass(frozen=True, slots=True)
class Joined:
    rating: Rating
    answer: Answer

    @property
    def negative(self) -> bool:
        return self.rating.score <= telemetry.NEGATIVE_SCORE


def parse_timestamp(value: Any, default: datetime) -> datetime:
    """A Logs Insights ``@timestamp`` (``2026-11-27 10:00:00.000``, UTC) or an ISO time; ``default`` otherwise."""
    if isinstance(value, str) and value:
        text = value.strip().replace(" ", "T", 1).replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return default
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return default


def _label(value: Any) -> str | None:
    """A usable dimension value: a non-empty printable string of at most MAX_LABEL_CHARS, else None."""
    if isinstance(value, str) and 0 < len(value.strip()) <= MAX_LABEL_CHARS and value.isprintable():
        return value.strip()
    return None


def _request_id(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_REQUEST_ID_CHARS and value.isprintable() and value.strip():
        return value
    return None


def _score(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value) if telemetry.MIN_SCORE <= value <= telemetry.MAX_SCORE else None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _rows_with_messages(rows: Iterable[dict[str, str]]) -> Iterable[tuple[dict[str, str], dict[str, Any] | None]]:
    """Each row with the JSON object of its ``@message`` (None: no message, or not a JSON object)."""
    for row in rows:
        yield row, next(iter(logs_query.messages([row])), None)


def parse_ratings(
    rows: Iterable[dict[str, str]], schema: Schema, default_time: datetime
) -> tuple[list[Rating], Counter[str]]:
    """The ratings of feedback rows, oldest first, one per rated request (its latest rating), and the number of
    lines dropped by reason (``malformed``, ``canary``, ``repeated``)."""
    dropped: Counter[str] = Counter()
    latest: dict[str, Rating] = {}
    for row, record in _rows_with_messages(rows):
        request_id = _request_id(logs_query.field(record, schema.feedback_request_id)) if record else None
        score = _score(logs_query.field(record, schema.feedback_score)) if record else None
        if record is None or request_id is None or score is None:
            dropped["malformed"] += 1
            continue
        if request_id.startswith(telemetry.CANARY_REQUEST_PREFIX):
            dropped["canary"] += 1
            continue
        comment = _text(record.get(telemetry.FEEDBACK_COMMENT_FIELD), MAX_COMMENT_CHARS)
        rating = Rating(request_id, score, parse_timestamp(row.get("@timestamp"), default_time), comment)
        previous = latest.get(request_id)
        if previous is not None:
            dropped["repeated"] += 1
            if previous.rated_at > rating.rated_at:
                continue
        latest[request_id] = rating
    return sorted(latest.values(), key=lambda r: (r.rated_at, r.request_id)), dropped


def _passages(value: Any, with_text: bool) -> tuple[dict[str, Any], ...]:
    """The logged passages as ``{id, score, excerpt?}`` (at most MAX_PASSAGES; bad entries skipped)."""
    if not isinstance(value, list):
        return ()
    found = []
    for item in value[:MAX_PASSAGES]:
        if not isinstance(item, dict) or _label(item.get("id")) is None:
            continue
        score = item.get("score")
        passage: dict[str, Any] = {
            "id": item["id"],
            "score": float(score) if isinstance(score, (int, float)) and not isinstance(score, bool)
            and math.isfinite(score) else None,
        }  # fmt: skip
        excerpt = _text(item.get("excerpt"), MAX_EXCERPT_CHARS)
        if with_text and excerpt is not None:
            passage["excerpt"] = excerpt
        found.append(passage)
    return tuple(found)


def parse_answers(
    rows: Iterable[dict[str, str]], schema: Schema, wanted: set[str], default_time: datetime
) -> dict[str, Answer]:
    """The latest answer line of each wanted request id."""
    answers: dict[str, Answer] = {}
    for row, record in _rows_with_messages(rows):
        request_id = _request_id(logs_query.field(record, schema.request_id)) if record else None
        if record is None or request_id is None or request_id not in wanted:
            continue
        version = _label(logs_query.field(record, schema.prompt_version)) if schema.prompt_version else None
        mode = record.get(telemetry.PROMPT_LOGGING_FIELD)
        answer = Answer(
            request_id=request_id,
            model_id=_label(logs_query.field(record, schema.model)) or telemetry.UNKNOWN_MODEL,
            prompt_version=version or telemetry.UNVERSIONED,
            logged_at=parse_timestamp(row.get("@timestamp"), default_time),
            question=_text(logs_query.field(record, schema.question), MAX_TEXT_CHARS) if schema.question else None,
            answer=_text(logs_query.field(record, schema.answer), MAX_TEXT_CHARS) if schema.answer else None,
            passages=_passages(logs_query.field(record, schema.passages), True) if schema.passages else (),
            prompt_logging=mode if mode in PROMPT_LOGGING_MODES else None,
        )
        previous = answers.get(request_id)
        if previous is None or answer.logged_at >= previous.logged_at:
            answers[request_id] = answer
    return answers


def join(ratings: Sequence[Rating], answers: Mapping[str, Answer]) -> tuple[list[Joined], list[Rating]]:
    """(ratings with their answer, ratings whose answer was not found)."""
    joined = [Joined(r, answers[r.request_id]) for r in ratings if r.request_id in answers]
    return joined, [r for r in ratings if r.request_id not in answers]


# --- Queries -----------------------------------------------------------------------------------------
def feedback_query(schema: Schema) -> str:
    """Query A: the feedback lines, oldest first."""
    return (
        f"fields @timestamp, @message | filter {schema.marker_field} = {logs_query.quote(schema.feedback_marker)} "
        "| sort @timestamp asc"
    )


def _answer_query_parts(schema: Schema) -> tuple[str, str, int]:
    head = f"fields @timestamp, @message | filter {schema.marker_field} = {logs_query.quote(schema.marker_value)} | "
    tail = " | sort @timestamp desc"
    return head, tail, logs_query.MAX_QUERY_CHARS - len(head) - len(tail)


def answer_queries(schema: Schema, request_ids: Iterable[str]) -> list[str]:
    """Query B, one query per chunk of request ids, each under StartQuery's 10,000 characters."""
    head, tail, budget = _answer_query_parts(schema)
    return [head + clause + tail for clause in logs_query.in_list(schema.request_id, request_ids, max_chars=budget)]


def id_chunks(schema: Schema, request_ids: Iterable[str]) -> list[list[str]]:
    """The request ids grouped as :func:`answer_queries` puts them in queries (the same length rule as
    ``logs_query.in_list``), so a run knows which ratings a query it could not start would have looked up."""
    _, _, budget = _answer_query_parts(schema)
    opening = len(f"filter {schema.request_id} in [") + 1
    chunks: list[list[str]] = []
    size = opening
    for value in dict.fromkeys(request_ids):
        extra = len(logs_query.quote(value)) + (2 if chunks and chunks[-1] and size > opening else 0)
        if not chunks or size + extra > budget:
            chunks.append([])
            size = opening
            extra = len(logs_query.quote(value))
        chunks[-1].append(value)
        size += extra
    return chunks


# --- Review set ----------------------------------------------------------------------------------------
def review_key(rating: Rating) -> str:
    """``feedback/YYYY/MM/DD/<request id>.json`` (a request id unsafe in a key: its SHA-256 instead)."""
    safe = rating.request_id if _SAFE_KEY.match(rating.request_id) and rating.request_id not in (".", "..") else (
        hashlib.sha256(rating.request_id.encode("utf-8")).hexdigest()
    )  # fmt: skip
    return f"{telemetry.REVIEW_PREFIX}{rating.rated_at:%Y/%m/%d}/{safe}.json"


def review_object(item: Joined, prompt_logging: str) -> dict[str, Any]:
    """The review object of a joined rating: text only as logged, and none when the mode is ``none``."""
    mode = item.answer.prompt_logging or prompt_logging
    with_text = mode != "none"
    document: dict[str, Any] = {
        "schema": telemetry.REVIEW_SCHEMA,
        "request_id": item.rating.request_id,
        "rated_at": item.rating.rated_at.isoformat().replace("+00:00", "Z"),
        "score": item.rating.score,
        "model_id": item.answer.model_id,
        "prompt_version": item.answer.prompt_version,
        "sources": [p if with_text else {k: v for k, v in p.items() if k != "excerpt"} for p in item.answer.passages],
        "prompt_logging": mode,
    }
    if with_text:
        document.update(comment=item.rating.comment, question=item.answer.question, answer=item.answer.answer)
    return document
