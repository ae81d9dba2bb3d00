"""Retrieved passages and the prompt version in the runtime's request log.

``retrieval.passages`` on the ``bedrock_call`` line of Retrieve (ranked, with scores) and RetrieveAndGenerate (the
cited references, no score): ids and scores in every prompt-logging mode, a 300-character excerpt - raw under
``full``, PII replaced (and counted in ``pii_redactions``) under ``redacted``, absent under ``none``. ``prompt_version``
is a per-invocation context like ``tenant``, on the call lines and on the ``feedback`` line. Calls go through real
boto3 clients answered by ``FakeBedrock``; the id and excerpt rules are also checked on ``extract`` directly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

import llm_observability.runtime as llmobs
from llm_observability.runtime import api, calls, extract, recorder
from llm_observability.runtime import telemetry as t
from llm_observability.workload_facts import LogSchema
from tests.runtime.bedrock_fakes import KNOWLEDGE_BASE_ID, MODEL_ID, FakeBedrock, error_reply, json_reply
from tests.runtime.conftest import Output, instrument_captured
from tests.runtime.tracing_sdk import otel_sdk

CHUNK_KEY = "x-amz-bedrock-kb-chunk-id"
SOURCE_KEY = "x-amz-bedrock-kb-source-uri"
QUESTION = "How long do refunds take?"  # no PII: the line's pii_redactions are the excerpts' alone
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": QUESTION}]}]
CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "30 days."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
    "metrics": {"latencyMs": 80},
}
PII_TEXT = "Refunds: write to jane.doe@example.com or call +1 415 555 2671 within 30 days."
LONG_TEXT = "Refunds are issued within 30 days of purchase when the item is unused. " * 10  # 710 characters


def s3_result(text: str, score: float, chunk: str | None = None, uri: str = "s3://docs/refunds.md") -> dict:
    """A Retrieve result from an S3 data source, with the chunk-id metadata real responses carry."""
    metadata = {SOURCE_KEY: uri, **({CHUNK_KEY: chunk} if chunk else {})}
    return {
        "content": {"text": text, "type": "TEXT"},
        "location": {"type": "S3", "s3Location": {"uri": uri}},
        "metadata": metadata,
        "score": score,
    }


def retrieve(fake: FakeBedrock, results: list[dict[str, Any]]) -> dict[str, Any]:
    """One Retrieve call answered with ``results``; its bedrock_call line."""
    fake.queue(json_reply({"retrievalResults": results}))
    fake.client("bedrock-agent-runtime").retrieve(knowledgeBaseId=KNOWLEDGE_BASE_ID, retrievalQuery={"text": QUESTION})
    return fake_line(fake)


def fake_line(fake: FakeBedrock) -> dict[str, Any]:
    out: Output = fake.out  # type: ignore[attr-defined]
    line = out.calls()[-1]
    return line


@pytest.fixture
def fake(fake: FakeBedrock, out: Output) -> FakeBedrock:
    fake.out = out  # type: ignore[attr-defined]
    return fake


@pytest.fixture(autouse=True)
def _no_prompt_version() -> Any:
    """Each test starts, and leaves the process, without a prompt version."""
    api.prompt_version(None)
    yield
    api.prompt_version(None)


def passages_of(line: dict[str, Any]) -> list[dict[str, Any]]:
    """``retrieval.passages`` of a line, read by its dotted path (as the scheduled functions read it)."""
    value: Any = line
    for key in t.LOG_FIELD_PASSAGES.split("."):
        value = value[key]
    return value


# --- ids: shapes of every data source -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"metadata": {CHUNK_KEY: "chunk-1", SOURCE_KEY: "s3://b/k"}, "documentId": "doc-1",
          "location": {"type": "S3", "s3Location": {"uri": "s3://b/k"}}}, "chunk-1"),
        ({"documentId": "doc-1", "location": {"type": "S3", "s3Location": {"uri": "s3://b/k"}}}, "doc-1"),
        ({"location": {"type": "S3", "s3Location": {"uri": "s3://b/k"}}, "metadata": {}}, "s3://b/k"),
        ({"location": {"type": "WEB", "webLocation": {"url": "https://example.com/faq"}}}, "https://example.com/faq"),
        ({"location": {"type": "CUSTOM", "customDocumentLocation": {"id": "ticket-42"}}}, "ticket-42"),
        ({"location": {"type": "CONFLUENCE", "confluenceLocation": {"url": "https://wiki/x"}}}, "https://wiki/x"),
        ({"location": {"type": "KENDRA", "kendraDocumentLocation": {"uri": "kendra://d"}}}, "kendra://d"),
        ({"location": {"type": "SQL", "sqlLocation": {"query": "SELECT 1"}}, "metadata": {SOURCE_KEY: "db://t"}},
         "db://t"),
        ({"metadata": {CHUNK_KEY: "", SOURCE_KEY: 7}, "documentId": None, "location": "S3"}, None),
        ({"content": {"text": "no metadata, no location"}}, None),
        ("not a result", None),
    ],
)  # fmt: skip
def test_a_passage_id_is_the_chunk_id_else_the_document_id_else_its_location(result: Any, expected: Any) -> None:
    assert extract.passage_id(result) == expected


def test_a_long_id_is_cut() -> None:
    uri = "s3://docs/" + "k" * 5000
    assert extract.passage_id({"location": {"s3Location": {"uri": uri}}}) == uri[: t.MAX_PASSAGE_ID_CHARS]


def test_more_than_ten_passages_are_cut_keeping_the_ranking() -> None:
    results = [s3_result(f"passage {i}", 1 - i / 100, chunk=f"c{i}") for i in range(14)]
    passages = extract.retrieval_passages({"retrievalResults": results}, keep_text=False)
    assert [p["id"] for p in passages] == [f"c{i}" for i in range(t.MAX_LOGGED_PASSAGES)]
    assert [p["score"] for p in passages] == [1 - i / 100 for i in range(t.MAX_LOGGED_PASSAGES)]
    assert all("excerpt" not in p for p in passages)
    logged, _ = extract.loggable_passages(({"id": f"x{i}", "score": None} for i in range(30)), t.PROMPT_LOGGING_FULL)
    assert len(logged) == t.MAX_LOGGED_PASSAGES


def test_malformed_results_give_passages_without_id_or_score_never_an_error() -> None:
    response = {"retrievalResults": [None, {"score": float("nan")}, {"score": "0.3", "content": {"text": 5}}, {}]}
    assert extract.retrieval_passages(response, keep_text=True) == [
        {"id": None, "score": None},
        {"id": None, "score": None},
        {"id": None, "score": None},
    ]
    assert extract.retrieval_passages({"retrievalResults": "x"}, keep_text=True) == []
    assert extract.retrieval_passages({"citations": [{"retrievedReferences": None}, 3]}, keep_text=True) == []
    assert extract.retrieval_passages(None, keep_text=True) == []


# --- the bedrock_call line ------------------------------------------------------------------------------------------
def test_retrieve_logs_ids_scores_and_redacted_excerpts_in_ranking_order(fake: FakeBedrock, out: Output) -> None:
    line = retrieve(
        fake,
        [
            s3_result(LONG_TEXT, 0.82, chunk="chunk-a"),
            s3_result(PII_TEXT, 0.61, chunk="chunk-b", uri="s3://docs/contact.md"),
            {"content": {"text": "A web page."}, "location": {"type": "WEB", "webLocation": {"url": "https://x.io"}},
             "score": 0.4},
        ],
    )  # fmt: skip
    first, second, third = passages_of(line)
    assert first == {"id": "chunk-a", "score": 0.82, "excerpt": LONG_TEXT[: t.PASSAGE_EXCERPT_CHARS]}
    assert second == {
        "id": "chunk-b",
        "score": 0.61,
        "excerpt": "Refunds: write to [EMAIL] or call [PHONE] within 30 days.",
    }
    assert third == {"id": "https://x.io", "score": 0.4, "excerpt": "A web page."}
    assert line["pii_redactions"] == 2  # the question has none: both are the excerpt's
    assert line["retrieval"]["count"] == 3 and line["retrieval"]["top_score"] == 0.82
    assert "jane.doe" not in json.dumps(line)


@pytest.mark.parametrize("mode", t.PROMPT_LOGGING_MODES)
def test_ids_and_scores_are_logged_in_every_mode_and_excerpts_as_the_mode_says(fake: FakeBedrock, mode: str) -> None:
    fake.out = instrument_captured(mode)  # type: ignore[attr-defined]
    line = retrieve(fake, [s3_result(PII_TEXT, 0.7, chunk="chunk-b"), s3_result(LONG_TEXT, 0.5, chunk="chunk-a")])
    passages = passages_of(line)
    assert [(p["id"], p["score"]) for p in passages] == [("chunk-b", 0.7), ("chunk-a", 0.5)]
    if mode == t.PROMPT_LOGGING_NONE:
        assert all("excerpt" not in p for p in passages) and line["pii_redactions"] == 0
        assert "question" not in line
    elif mode == t.PROMPT_LOGGING_FULL:
        assert [p["excerpt"] for p in passages] == [PII_TEXT, LONG_TEXT[: t.PASSAGE_EXCERPT_CHARS]]
        assert line["pii_redactions"] == 0
    else:
        assert passages[0]["excerpt"] == "Refunds: write to [EMAIL] or call [PHONE] within 30 days."
        assert line["pii_redactions"] == 2


def test_pii_cut_by_the_excerpts_end_is_redacted_not_left_in_part(fake: FakeBedrock, out: Output) -> None:
    at_the_edge = "x" * (t.PASSAGE_EXCERPT_CHARS - 10) + " jane.doe@example.com and more text after it."
    line = retrieve(fake, [s3_result(at_the_edge, 0.9, chunk="c")])
    (passage,) = passages_of(line)
    assert passage["excerpt"] == "x" * (t.PASSAGE_EXCERPT_CHARS - 10) + " [EMAIL] a"
    assert len(passage["excerpt"]) == t.PASSAGE_EXCERPT_CHARS and line["pii_redactions"] == 1


def test_pii_cut_by_the_redaction_window_never_shows_even_when_earlier_pii_shrank_the_text() -> None:
    email = "averyveryverylongname.personal.address@example-company.com "  # 59 characters, 7 after redaction
    text = email * 10 + "  sam.q.public@example.org " + "tail " * 50  # the window (600) ends inside the 11th address
    assert len(email * 10) < extract.EXCERPT_WINDOW_CHARS < len(email * 10) + 16
    shown, found = extract.excerpt(text, t.PROMPT_LOGGING_REDACTED)
    assert shown is not None and len(shown) <= t.PASSAGE_EXCERPT_CHARS
    assert "@" not in shown and "sam" not in shown and "personal" not in shown
    assert shown.split() == ["[EMAIL]"] * 10 and found == 10  # only the unredacted end of the window is dropped


def test_a_source_that_was_redacted_already_is_not_counted_again() -> None:
    shown, found = extract.excerpt("Contact [EMAIL] or bob@example.com.", t.PROMPT_LOGGING_REDACTED)
    assert shown == "Contact [EMAIL] or [EMAIL]." and found == 1


def test_retrieve_and_generate_logs_the_cited_references_without_scores(fake: FakeBedrock, out: Output) -> None:
    web = {"content": {"text": "Shipping is free."}, "location": {"type": "WEB", "webLocation": {"url": "https://s"}}}
    refund = {"content": {"text": PII_TEXT}, "location": {"type": "S3", "s3Location": {"uri": "s3://d/r.md"}},
              "metadata": {CHUNK_KEY: "chunk-r"}}  # fmt: skip
    fake.queue(
        json_reply(
            {
                "output": {"text": "Free, and 30 days."},
                "citations": [{"retrievedReferences": [refund, web]}, {"retrievedReferences": [refund]}],
                "sessionId": "s",
            }
        )
    )
    fake.client("bedrock-agent-runtime").retrieve_and_generate(
        input={"text": QUESTION},
        retrieveAndGenerateConfiguration={
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {
                "knowledgeBaseId": KNOWLEDGE_BASE_ID,
                "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL_ID}",
            },
        },
    )
    line = out.calls()[-1]
    assert line["retrieval"]["count"] == 3  # every reference cited
    assert passages_of(line) == [  # each reference once, in citation order
        {"id": "chunk-r", "score": None, "excerpt": "Refunds: write to [EMAIL] or call [PHONE] within 30 days."},
        {"id": "https://s", "score": None, "excerpt": "Shipping is free."},
    ]
    assert line["pii_redactions"] == 2


def test_a_failed_retrieve_logs_no_passages(fake: FakeBedrock, out: Output) -> None:
    fake.queue(error_reply("ThrottlingException", 429))
    with pytest.raises(ClientError):
        fake.client("bedrock-agent-runtime").retrieve(knowledgeBaseId=KNOWLEDGE_BASE_ID, retrievalQuery={"text": "q"})
    (line,) = out.calls()
    assert "retrieval" not in line and line["error_class"] == t.ERROR_THROTTLING


def test_the_library_log_schema_reads_the_lines_the_runtime_writes(fake: FakeBedrock, out: Output) -> None:
    schema = LogSchema.library()
    api.prompt_version("v7")
    line = retrieve(fake, [s3_result("Refunds take 30 days.", 0.9, chunk="c1")])
    fake.queue(json_reply(CONVERSE_OK))
    fake.client("bedrock-runtime").converse(modelId=MODEL_ID, messages=MESSAGES)
    converse = out.calls()[-1]
    llmobs.feedback("req-1", 4)
    (feedback,) = out.logs(t.LOG_MESSAGE_FEEDBACK)

    def at(record: dict[str, Any], path: str) -> Any:
        for key in path.split("."):
            record = record[key]
        return record

    assert at(line, schema.passages) == [{"id": "c1", "score": 0.9, "excerpt": "Refunds take 30 days."}]
    assert at(line, schema.prompt_version) == at(converse, schema.prompt_version) == "v7"
    assert at(converse, schema.answer_length) == len("30 days.")
    assert at(feedback, schema.marker_field) == schema.feedback_marker
    assert at(feedback, schema.feedback_request_id) == "req-1" and at(feedback, schema.feedback_score) == 4
    assert at(feedback, schema.prompt_version) == "v7"


# --- prompt_version -----------------------------------------------------------------------------------------------
def test_the_prompt_version_is_per_invocation_like_the_tenant(fake: FakeBedrock, out: Output) -> None:
    client = fake.client("bedrock-runtime")

    @llmobs.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("version"):
            llmobs.prompt_version(event["version"])
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        return {"statusCode": 200}

    for event in ({"version": "managed-3"}, {}, {"version": "v2"}):
        fake.queue(json_reply(CONVERSE_OK))
        handler(event, None)
    first, second, third = out.calls()
    assert first[t.LOG_FIELD_PROMPT_VERSION] == "managed-3"
    assert t.LOG_FIELD_PROMPT_VERSION not in second  # the next invocation starts without one
    assert third[t.LOG_FIELD_PROMPT_VERSION] == "v2"
    assert api.current_prompt_version.get() is None  # nothing leaks out of an invocation


def test_outside_an_invocation_the_prompt_version_holds_until_changed(fake: FakeBedrock, out: Output) -> None:
    client = fake.client("bedrock-runtime")
    llmobs.prompt_version("v1")
    for version in ("v1", None):
        fake.queue(json_reply(CONVERSE_OK))
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        llmobs.prompt_version(version)
    fake.queue(json_reply(CONVERSE_OK))
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert [line.get(t.LOG_FIELD_PROMPT_VERSION) for line in out.calls()] == ["v1", "v1", None]


def test_the_call_span_carries_the_prompt_version(fake: FakeBedrock, out: Output) -> None:
    otel = otel_sdk()  # the session's OpenTelemetry SDK
    otel.clear()
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), json_reply(CONVERSE_OK))
    llmobs.prompt_version("managed-4")
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    llmobs.prompt_version(None)
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    versioned, unversioned = otel.spans
    assert versioned.attributes[t.SPAN_PROMPT_VERSION] == "managed-4"
    assert t.SPAN_PROMPT_VERSION not in unversioned.attributes
    otel.clear()


def test_a_feedback_line_carries_the_prompt_version_when_one_is_set(out: Output) -> None:
    llmobs.feedback("req-1", 5)
    llmobs.prompt_version("v9")
    llmobs.feedback("req-2", 2, comment="mail me at jane@example.com")
    first, second = out.logs(t.LOG_MESSAGE_FEEDBACK)
    assert t.LOG_FIELD_PROMPT_VERSION not in first
    assert second[t.LOG_FIELD_PROMPT_VERSION] == "v9" and second["comment"] == "mail me at [EMAIL]"


@pytest.mark.parametrize("bad", ["", "v" * (api.MAX_PROMPT_VERSION_CHARS + 1), "v1\nv2", 3, b"v1"])
def test_a_bad_prompt_version_is_refused_in_one_sentence(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^prompt_version is .*: allowed is None or 1-256 printable characters\.$"):
        llmobs.prompt_version(bad)


def test_the_prompt_version_is_public() -> None:
    assert "prompt_version" in llmobs.__all__ and llmobs.prompt_version is api.prompt_version
    from llm_observability.runtime import extract as via_package

    assert llmobs.extract is via_package


# --- properties -----------------------------------------------------------------------------------------------------
_PII = st.sampled_from(
    ["jane.doe@example.com", "+1 415 555 2671", "4111 1111 1111 1111", "10.0.0.1", "AKIAIOSFODNN7EXAMPLE"]
)
_WORDS = st.lists(st.one_of(_PII, st.text(min_size=1, max_size=40)), max_size=60).map(" ".join)
_RESULT = st.fixed_dictionaries(
    {"content": st.fixed_dictionaries({"text": _WORDS})},
    optional={
        "score": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=3)),
        "metadata": st.dictionaries(st.sampled_from([CHUNK_KEY, SOURCE_KEY]), st.text(max_size=3000)),
        "documentId": st.one_of(st.none(), st.text(max_size=50)),
        "location": st.fixed_dictionaries({"webLocation": st.fixed_dictionaries({"url": st.text(max_size=100)})}),
    },
)


@settings(max_examples=80, deadline=None, database=None)
@given(results=st.lists(_RESULT, max_size=25), mode=st.sampled_from(t.PROMPT_LOGGING_MODES))
def test_logged_passages_are_bounded_json_whatever_the_results(results: list[dict[str, Any]], mode: str) -> None:
    passages, redactions = extract.loggable_passages(
        extract.retrieval_passages({"retrievalResults": results}, mode != t.PROMPT_LOGGING_NONE), mode
    )
    encoded = json.dumps({"retrieval": {"passages": passages}}, allow_nan=False)  # what the recorder's encoder needs
    assert json.loads(encoded)["retrieval"]["passages"] == passages
    assert len(passages) <= t.MAX_LOGGED_PASSAGES and redactions >= 0
    for passage in passages:
        assert set(passage) <= {"id", "score", "excerpt"} and {"id", "score"} <= set(passage)
        assert passage["id"] is None or 0 < len(passage["id"]) <= t.MAX_PASSAGE_ID_CHARS
        assert passage["score"] is None or isinstance(passage["score"], (int, float))
        excerpt = passage.get("excerpt")
        assert (excerpt is None) == (mode == t.PROMPT_LOGGING_NONE)
        assert excerpt is None or len(excerpt) <= t.PASSAGE_EXCERPT_CHARS
    if mode != t.PROMPT_LOGGING_REDACTED:
        assert redactions == 0


@settings(max_examples=120, deadline=None, database=None)
@given(
    before=st.text(alphabet="abc xyz.,", max_size=700),
    local=st.from_regex(r"piiq[a-z0-9]{3,20}", fullmatch=True),
    after=st.text(alphabet="abc xyz.,", max_size=700),
)
def test_a_redacted_excerpt_never_shows_part_of_an_address(before: str, local: str, after: str) -> None:
    """Wherever the address falls - inside the excerpt, across its end or across the window's end - no part of it
    (its local part starts with ``piiq``, which nothing else contains) is in the excerpt."""
    shown, found = extract.excerpt(f"{before} {local}@example.com {after}", t.PROMPT_LOGGING_REDACTED)
    assert shown is not None and len(shown) <= t.PASSAGE_EXCERPT_CHARS
    assert re.search(r"pii|example\.com", shown) is None
    assert found == shown.count("[EMAIL]") <= 1


@settings(max_examples=75, deadline=None, database=None)
@given(
    results=st.lists(_RESULT, max_size=14),
    mode=st.sampled_from(t.PROMPT_LOGGING_MODES),
    version=st.one_of(st.none(), st.text(min_size=1, max_size=20).filter(str.isprintable)),
)
def test_a_retrieve_line_stays_one_valid_json_line_whatever_the_response(
    results: list[dict[str, Any]], mode: str, version: str | None
) -> None:
    out = instrument_captured(mode)  # type: ignore[arg-type]
    api.prompt_version(version)
    call = calls.Call(recorder.current(), calls.OPERATIONS[("bedrock-agent-runtime", "Retrieve")], {})
    call.succeeded({"retrievalResults": results})
    api.prompt_version(None)
    (line,) = out.calls()  # printed (no encoding error), one line, no instrumentation warning
    assert [d["message"] for d in out.logs()] == [t.LOG_MESSAGE_CALL]
    passages = passages_of(line)
    assert len(passages) == min(len(results), t.MAX_LOGGED_PASSAGES)
    assert all(len(p.get("excerpt", "")) <= t.PASSAGE_EXCERPT_CHARS for p in passages)
    assert all(("excerpt" in p) == (mode != t.PROMPT_LOGGING_NONE) for p in passages)
    assert line.get(t.LOG_FIELD_PROMPT_VERSION) == version
