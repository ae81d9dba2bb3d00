"""The reference app's ``ask`` line carries the retrieved passages and the prompt version, by the runtime's rules.

``retrieval.passages`` of the ``ask`` line: the Knowledge Base chunk ids (``Passage.chunk_id``, the runtime's
``passage_id``), scores and excerpts per PROMPT_LOGGING, exactly what the runtime's ``bedrock_call`` line of the same
Retrieve call carries; a cache hit logs the cached passages alike. ``LogSchema.reference()`` reads them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime import extract
from llm_observability.runtime import telemetry as t
from llm_observability.workload_facts import LogSchema
from tests.functions.conftest import rag_module

if TYPE_CHECKING:
    from tests.functions.conftest import Api

QUESTION = "What is the refund policy?"
CHUNK_KEY = "x-amz-bedrock-kb-chunk-id"
PII_TEXT = "Refunds: write to jane.doe@example.com or call +1 415 555 2671 within 30 days."
LONG_TEXT = "Refunds are issued within 30 days of purchase when the item is unused. " * 10


def result(text: str, score: float, *, chunk: str | None, uri: str) -> dict[str, Any]:
    metadata = {"x-amz-bedrock-kb-source-uri": uri, **({CHUNK_KEY: chunk} if chunk else {})}
    return {
        "content": {"text": text, "type": "TEXT"},
        "location": {"type": "S3", "s3Location": {"uri": uri}},
        "metadata": metadata,
        "score": score,
    }


RESULTS = [
    result(PII_TEXT, 0.82, chunk="chunk-refunds-1", uri="s3://docs/refunds.md"),
    result(LONG_TEXT, 0.61, chunk=None, uri="s3://docs/policy.md"),  # no chunk id: its location names it
]


def at(record: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        record = record[key]
    return record


def ask(api: Api, results: list[dict[str, Any]] = RESULTS, top_k: int = 4) -> tuple[dict[str, Any], dict[str, Any]]:
    """One /ask answered from ``results``; its ``ask`` line and the runtime's Retrieve line."""
    api.stub_retrieve({"retrievalResults": results}, question=QUESTION, top_k=top_k)
    api.stub_converse()
    assert api.ask({"question": QUESTION, "top_k": top_k})["statusCode"] == 200
    out = api.output()
    (retrieve,) = [r for r in out.logs if r["message"] == t.LOG_MESSAGE_CALL and r["operation"] == "Retrieve"]
    return out.log("ask"), retrieve


def test_retrieve_keeps_each_passages_chunk_id() -> None:
    pipeline = rag_module("pipeline")
    stub = type("Client", (), {"retrieve": lambda self, **_: {"retrievalResults": RESULTS}})()
    passages = pipeline.retrieve(stub, "KB12345678", QUESTION, 4)
    assert [p.chunk_id for p in passages] == ["chunk-refunds-1", "s3://docs/policy.md"]
    assert [p.uri for p in passages] == ["s3://docs/refunds.md", "s3://docs/policy.md"]
    assert pipeline.passage_id(RESULTS[0]) == extract.passage_id(RESULTS[0]) == "chunk-refunds-1"
    assert pipeline.Passage("text", None, None).chunk_id is None  # cached or hand-made passages without an id


def test_the_ask_line_carries_ids_scores_and_redacted_excerpts_like_the_runtimes_line(api: Api) -> None:
    line, retrieve = ask(api)
    passages = at(line, t.LOG_FIELD_PASSAGES)
    assert passages == [
        {"id": "chunk-refunds-1", "score": 0.82,
         "excerpt": "Refunds: write to [EMAIL] or call [PHONE] within 30 days."},
        {"id": "s3://docs/policy.md", "score": 0.61, "excerpt": LONG_TEXT[: t.PASSAGE_EXCERPT_CHARS]},
    ]  # fmt: skip
    assert at(retrieve, t.LOG_FIELD_PASSAGES) == passages  # one rule for both lines
    assert line["retrieval"]["count"] == 2 and line["retrieval"]["cache_hit"] is False
    assert line["pii_redactions"] == 2 and retrieve["pii_redactions"] == 2  # the excerpts' (the question has none)
    assert "jane.doe" not in json.dumps(line) and "jane.doe" not in json.dumps(retrieve)


@pytest.mark.parametrize("mode", t.PROMPT_LOGGING_MODES)
def test_the_ask_line_keeps_ids_and_scores_in_every_mode_and_excerpts_as_it_says(api: Api, mode: str) -> None:
    api.env(PROMPT_LOGGING=mode)
    line, retrieve = ask(api)
    passages = at(line, t.LOG_FIELD_PASSAGES)
    assert [(p["id"], p["score"]) for p in passages] == [("chunk-refunds-1", 0.82), ("s3://docs/policy.md", 0.61)]
    assert at(retrieve, t.LOG_FIELD_PASSAGES) == passages
    excerpts = [p.get("excerpt") for p in passages]
    if mode == t.PROMPT_LOGGING_NONE:
        assert excerpts == [None, None] and line["pii_redactions"] == 0
    elif mode == t.PROMPT_LOGGING_FULL:
        assert excerpts == [PII_TEXT, LONG_TEXT[: t.PASSAGE_EXCERPT_CHARS]] and line["pii_redactions"] == 0
    else:
        assert excerpts[0] == "Refunds: write to [EMAIL] or call [PHONE] within 30 days."
        assert line["pii_redactions"] == 2


def test_a_cache_hit_logs_the_cached_passages(api: Api) -> None:
    first, _ = ask(api)
    api.stub_converse()
    assert api.ask({"question": QUESTION, "top_k": 4})["statusCode"] == 200  # no Retrieve: from the cache
    second = api.output().log("ask")
    assert second["retrieval"]["cache_hit"] is True
    assert at(second, t.LOG_FIELD_PASSAGES) == at(first, t.LOG_FIELD_PASSAGES)


def test_more_than_ten_passages_are_cut_in_ranking_order(api: Api) -> None:
    many = [result(f"Passage {i}.", round(1 - i / 20, 2), chunk=f"c{i}", uri=f"s3://d/{i}") for i in range(12)]
    line, retrieve = ask(api, many, top_k=12)
    passages = at(line, t.LOG_FIELD_PASSAGES)
    assert [p["id"] for p in passages] == [f"c{i}" for i in range(t.MAX_LOGGED_PASSAGES)]
    assert line["retrieval"]["count"] == 12 and at(retrieve, t.LOG_FIELD_PASSAGES) == passages


def test_the_reference_log_schema_reads_the_ask_line(api: Api) -> None:
    schema = LogSchema.reference()
    line, _ = ask(api)
    assert at(line, schema.marker_field) == schema.marker_value
    assert at(line, schema.prompt_version) == "v1"
    assert at(line, schema.answer_length) == len("Refunds take 30 days [1].")
    assert [p["id"] for p in at(line, schema.passages)] == ["chunk-refunds-1", "s3://docs/policy.md"]


_PASSAGE = st.builds(
    lambda text, uri, score, chunk: (text, uri, score, chunk),
    st.text(max_size=900),
    st.one_of(st.none(), st.text(max_size=50)),
    st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
    st.one_of(st.none(), st.text(max_size=3000)),
)


@settings(max_examples=75, deadline=None, database=None)
@given(raw=st.lists(_PASSAGE, max_size=20), mode=st.sampled_from(t.PROMPT_LOGGING_MODES))
def test_the_ask_lines_passages_are_bounded_json(raw: list[tuple[Any, ...]], mode: str) -> None:
    pipeline = rag_module("pipeline")
    instrumentation = rag_module("instrumentation")
    passages = tuple(pipeline.Passage(*fields) for fields in raw)
    logged, redactions = instrumentation.loggable_passages(passages, mode)
    assert json.loads(json.dumps(logged, allow_nan=False)) == logged
    assert len(logged) == min(len(passages), t.MAX_LOGGED_PASSAGES) and redactions >= 0
    for entry, passage in zip(logged, passages, strict=False):
        assert entry["id"] == (passage.chunk_id[: t.MAX_PASSAGE_ID_CHARS] if passage.chunk_id else None)
        assert entry["score"] == passage.score
        assert ("excerpt" in entry) == (mode != t.PROMPT_LOGGING_NONE)
        assert len(entry.get("excerpt", "")) <= t.PASSAGE_EXCERPT_CHARS
