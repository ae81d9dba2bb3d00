"""Reading the application's answers for the online judge: its log schema, the Logs Insights query, the join of a
request's lines by correlation id, and the deterministic sample.

A sibling module of ``handler.py`` (standard library and the shared ``logs_query`` only).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import judge_telemetry as telemetry
import logs_query
import rubric

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MAX_LABEL_CHARS = 256


@dataclass(frozen=True)
class Schema:
    """The fields of the application's log line the judge reads (``LogSchema.document()``)."""

    marker_field: str
    marker_value: str
    question: str
    answer: str
    model: str
    request_id: str
    error_class: str | None = None
    prompt_version: str | None = None
    passages: str | None = None


def parse_schema(document: Any, problems: list[str]) -> Schema | None:
    if not isinstance(document, dict):
        problems.append(f"{telemetry.ENV_LOG_SCHEMA} must be a JSON object (LogSchema.document()).")
        return None
    values: dict[str, Any] = {}
    for name in ("marker_field", "question", "answer", "model", "request_id"):
        value = document.get(name)
        if not isinstance(value, str) or not _FIELD.match(value):
            problems.append(f"{telemetry.ENV_LOG_SCHEMA} field {name!r} must be a field name or dotted path.")
        values[name] = value
    for name in ("error_class", "prompt_version", "passages"):
        value = document.get(name)
        if value is not None and (not isinstance(value, str) or not _FIELD.match(value)):
            problems.append(f"{telemetry.ENV_LOG_SCHEMA} field {name!r} must be null or a field name or dotted path.")
        values[name] = value
    marker = document.get("marker_value")
    if not isinstance(marker, str) or not 0 < len(marker) <= 256:
        problems.append(f"{telemetry.ENV_LOG_SCHEMA} field 'marker_value' must be 1-256 characters.")
    values["marker_value"] = marker
    return Schema(**values) if not problems else None


# --- Reading the answers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One answered request of the window, as the judge sees it."""

    request_id: str
    timestamp: datetime
    model_id: str
    prompt_version: str
    question: str
    answer: str
    passages: tuple[rubric.Passage, ...] = ()


def build_query(schema: Schema) -> str:
    return (
        "fields @timestamp, @message"
        f" | filter {schema.marker_field} = {logs_query.quote(schema.marker_value)} or retrieval.count > 0"
        f" | sort @timestamp asc | limit {logs_query.MAX_ROWS}"
    )


def parse_timestamp(value: Any, default: datetime) -> datetime:
    """A Logs Insights ``@timestamp`` (``2026-11-27 10:00:01.123``, UTC), else ``default``."""
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    return default


def _label(value: Any, default: str) -> str:
    ok = isinstance(value, str) and 0 < len(value.strip()) <= _MAX_LABEL_CHARS and value.isprintable()
    return value if ok else default


def is_canary(request_id: str) -> bool:
    return request_id.startswith(telemetry.CANARY_REQUEST_ID_PREFIX)


def collect_answers(rows: Iterable[Mapping[str, str]], schema: Schema, default_time: datetime) -> tuple[list[Answer], Counter[str]]:  # fmt: skip
    """The window's judgeable answers, one per request id (its last answer line), oldest first, and the counts of
    what was skipped and why (``canary``, ``failed``, ``no_text``, ``malformed``)."""
    skipped: Counter[str] = Counter()
    groups: dict[str, list[tuple[datetime, dict[str, Any]]]] = {}
    for row in rows:
        try:
            record = next(logs_query.messages([dict(row)]), None)
        except RecursionError:  # a line nested too deep for the JSON parser
            record = None
        if record is None:
            skipped["malformed"] += 1
            continue
        request_id = logs_query.field(record, schema.request_id)
        if not isinstance(request_id, str) or not request_id:
            skipped["no_request_id"] += 1
            continue
        groups.setdefault(request_id, []).append((parse_timestamp(row.get("@timestamp"), default_time), record))
    answers: list[Answer] = []
    for request_id, lines in groups.items():
        if is_canary(request_id):
            skipped["canary"] += 1
            continue
        try:
            answer = _answer(request_id, lines, schema)
        except Exception:  # noqa: BLE001 - one hostile line costs its request, never the run
            answer = "malformed"
        if isinstance(answer, str):
            skipped[answer] += 1
        else:
            answers.append(answer)
    answers.sort(key=lambda a: a.timestamp)
    return answers, skipped


def _answer(request_id: str, lines: list[tuple[datetime, dict[str, Any]]], schema: Schema) -> Answer | str:
    field = logs_query.field
    marked = [(ts, r) for ts, r in lines if field(r, schema.marker_field) == schema.marker_value]
    if not marked:
        return "no_answer"
    ok = [(ts, r) for ts, r in marked if not (schema.error_class and field(r, schema.error_class))]
    if not ok:
        return "failed"
    texts = [(ts, r) for ts, r in ok
             if isinstance(field(r, schema.question), str) and isinstance(field(r, schema.answer), str)
             and field(r, schema.answer).strip()]  # fmt: skip
    if not texts:
        return "no_text"
    timestamp, line = texts[-1]
    passages: tuple[rubric.Passage, ...] = ()
    if schema.passages:
        passages = rubric.best_passages(field(line, schema.passages))
        for _, other in reversed(lines):
            if passages:
                break
            passages = rubric.best_passages(field(other, schema.passages))
    version = field(line, schema.prompt_version) if schema.prompt_version else None
    return Answer(
        request_id=request_id, timestamp=timestamp,
        model_id=_label(field(line, schema.model), telemetry.UNKNOWN_MODEL),
        prompt_version=_label(version, telemetry.UNVERSIONED),
        question=field(line, schema.question), answer=field(line, schema.answer), passages=passages,
    )  # fmt: skip


def sample_fraction(request_id: str) -> float:
    """The request's place in [0, 1): the first 8 bytes of sha256(request id), over 2**64."""
    digest = hashlib.sha256(request_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_sampled(request_id: str, percent: float) -> bool:
    return not is_canary(request_id) and sample_fraction(request_id) < percent / 100


def choose(answers: Iterable[Answer], percent: float, max_per_run: int) -> tuple[list[Answer], int]:
    """The sampled answers (at most ``max_per_run``: the lowest fractions, oldest first) and how many more were
    sampled than judged."""
    sampled = sorted(
        (a for a in answers if is_sampled(a.request_id, percent)), key=lambda a: sample_fraction(a.request_id)
    )
    return sorted(sampled[:max_per_run], key=lambda a: a.timestamp), max(0, len(sampled) - max_per_run)
