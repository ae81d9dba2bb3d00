"""``LogSchema``'s optional fields and ``document()``, and the ``prompt_logging`` Workload fact.

A foreign schema written before the optional fields existed (only the required fields) stays what it was: equal to
itself, every optional field None, not the reference schema. ``document()`` is the scheduled functions'
``LOG_SCHEMA`` and round-trips through JSON. ``LlmInstrumentation.instrumented()`` says how much text its functions
log.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from llm_observability import Workload
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry as t
from llm_observability.workload_facts import LogSchema

REQUIRED = {
    "marker_value": "answered",
    "question": "request.question",
    "answer": "response.text",
    "model": "model",
    "error_class": "error",
    "request_id": "requestId",
}
OPTIONAL = (
    "prompt_version", "passages", "answer_length", "grounding_score", "feedback_marker", "feedback_request_id",
    "feedback_score",
)  # fmt: skip


def test_the_optional_fields_are_the_ones_the_functions_read() -> None:
    declared = [f.name for f in dataclasses.fields(LogSchema)]
    assert tuple(declared[-len(OPTIONAL) :]) == OPTIONAL
    assert all(f.default is None for f in dataclasses.fields(LogSchema) if f.name in OPTIONAL)


def test_an_old_foreign_schema_stays_equal_to_itself_with_no_optional_field() -> None:
    old = LogSchema(**REQUIRED)
    assert old == LogSchema(**REQUIRED) and hash(old) == hash(LogSchema(**REQUIRED))
    assert all(getattr(old, name) is None for name in OPTIONAL)
    assert old.marker_field == t.LOG_FIELD_MESSAGE and old.service == "service"
    assert not old.is_reference and old != LogSchema.library()
    assert old != dataclasses.replace(old, passages="retrieval.passages")


def test_the_reference_schema_is_still_recognised_and_fills_every_optional_field() -> None:
    reference, library = LogSchema.reference(), LogSchema.library()
    assert reference.is_reference and not library.is_reference
    assert all(getattr(reference, name) is not None for name in OPTIONAL)
    assert reference.grounding_score == "guardrail.grounding_score" and library.grounding_score is None
    assert (library.prompt_version, library.passages, library.answer_length) == (
        t.LOG_FIELD_PROMPT_VERSION, t.LOG_FIELD_PASSAGES, t.LOG_FIELD_ANSWER_CHARS,
    )  # fmt: skip
    assert (library.feedback_marker, library.feedback_request_id, library.feedback_score) == (
        t.LOG_MESSAGE_FEEDBACK, "feedback_request_id", "score",
    )  # fmt: skip
    for name in OPTIONAL:
        if name != "grounding_score":
            assert getattr(reference, name) == getattr(library, name), name


@pytest.mark.parametrize("schema", [LogSchema(**REQUIRED), LogSchema.library(), LogSchema.reference()])
def test_the_document_round_trips_through_json(schema: LogSchema) -> None:
    document = schema.document()
    assert "\n" not in document and " " not in document  # compact: one environment variable
    parsed = json.loads(document)
    assert set(parsed) == {f.name for f in dataclasses.fields(LogSchema)}
    assert LogSchema(**parsed) == schema
    assert all(parsed[name] is None for name in OPTIONAL if getattr(schema, name) is None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"passages": "retrieval passages"},
            r"^LogSchema 'passages' is 'retrieval passages': allowed is None or a JSON",
        ),
        ({"prompt_version": ""}, r"^LogSchema 'prompt_version' is '': allowed is None or a JSON field name"),
        ({"feedback_score": 5}, r"^LogSchema 'feedback_score' is 5: allowed is None or a JSON field name"),
        ({"answer_length": "1chars"}, r"^LogSchema 'answer_length' is '1chars'"),
        ({"feedback_marker": 'feed"back'}, r"^LogSchema 'feedback_marker' is 'feed\"back': allowed is "),
        ({"feedback_marker": ""}, r"^LogSchema 'feedback_marker' is '': allowed is "),
        ({"feedback_marker": "x" * 257}, r"^LogSchema 'feedback_marker' is 'x+': allowed is 1-256 characters"),
    ],
)
def test_a_bad_optional_field_is_a_config_error_in_one_sentence(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LogSchema(**REQUIRED, **changes)


def test_prompt_logging_is_a_validated_workload_fact() -> None:
    workload = Workload(name="their-bot", model_ids=("amazon.nova-lite-v1:0",))
    assert workload.prompt_logging is None and not workload.logs_prompt_text
    for mode, logs_text in (("full", True), ("redacted", True), ("none", False)):
        told = workload.with_facts(prompt_logging=mode)  # type: ignore[arg-type]
        assert told.prompt_logging == mode and told.logs_prompt_text is logs_text
        assert told.with_facts(telemetry="runtime").prompt_logging == mode  # other facts leave it as it is
    with pytest.raises(ConfigError, match=r"^Workload 'prompt_logging' is 'bogus': allowed are full, redacted, none\."):
        workload.with_facts(prompt_logging="bogus")  # type: ignore[arg-type]


def test_instrumented_says_how_much_text_the_functions_log() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_

    from llm_observability import LlmInstrumentation

    stack = Stack(App(), "TheirApp")
    fn = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )  # fmt: skip
    workload = Workload.from_function(fn, name="their-bot", model_ids=("amazon.nova-lite-v1:0",))
    for mode in t.PROMPT_LOGGING_MODES:
        instrumentation = LlmInstrumentation(
            stack, f"Instrumentation{mode.title()}", functions=[fn], service_name="their-bot", prompt_logging=mode
        )
        told = instrumentation.instrumented(workload)
        assert told.prompt_logging == mode and told.telemetry == "runtime"
        assert told.log_schema == LogSchema.library()
    assert (
        LlmInstrumentation(stack, "Default", functions=[fn], service_name="their-bot")
        .instrumented(workload)
        .prompt_logging
        == t.PROMPT_LOGGING_REDACTED
    )
