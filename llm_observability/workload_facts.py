"""What a Workload says its application can feed: telemetry, log schema, request contract, throttle limits.

These value types are fields of :class:`~llm_observability.workload.Workload`; each level reads them to decide
what it builds (see ``docs/`` and :mod:`llm_observability.left_out`). Plain, validated, frozen dataclasses
without CDK types, so the Lambda-side formats (the canary's ``REQUEST_CONTRACT``) are defined here once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from typing import Any, Literal

from llm_observability.config.choices import PromptLogging
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry as t
from llm_observability.validation import choice, fail

#: Does the application emit the library's app metrics (``runtime``: the reference app, functions instrumented by
#: ``LlmInstrumentation``, or code that writes the same names and dimensions), or not (``none``)?
Telemetry = Literal["runtime", "none"]
#: HTTP methods a request contract can use (the question travels in the body).
HttpMethod = Literal["POST", "PUT", "PATCH"]
#: The placeholder a request contract's body template carries, as a whole JSON string value.
QUESTION_PLACEHOLDER = "{question}"
#: The reference handler's log line of an answered question (``functions/rag_api``: ``logger.info("ask", ...)``).
REFERENCE_ASK_MESSAGE = "ask"

#: The reference handler's field of the guardrail's contextual-grounding score (0-1), when a guardrail is applied.
REFERENCE_GROUNDING_FIELD = "guardrail.grounding_score"

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_FIELD_ALLOWED = "a JSON field name or dotted path of letters, digits and _ (such as message or request.id)"
#: The optional fields of a LogSchema, in declaration order.
_OPTIONAL_FIELDS = (
    "prompt_version", "passages", "answer_length", "grounding_score", "feedback_marker", "feedback_request_id",
    "feedback_score",
)  # fmt: skip
#: What the runtime's bedrock_call line and the reference ask line both carry of the optional fields.
_LIBRARY_OPTIONAL: dict[str, str] = {
    "prompt_version": t.LOG_FIELD_PROMPT_VERSION,
    "passages": t.LOG_FIELD_PASSAGES,
    "answer_length": t.LOG_FIELD_ANSWER_CHARS,
    "feedback_marker": t.LOG_MESSAGE_FEEDBACK,
    "feedback_request_id": "feedback_request_id",
    "feedback_score": "score",
}
_JSON_PATH = re.compile(r"^\$(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d{1,4}\])+$")
_JSON_PATH_ALLOWED = "a JSON path such as $.answer or $.output.choices[0].text"
_URL_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/{}-]{0,1023}$")
_MAX_BODY_CHARS = 2048


@dataclass(frozen=True, kw_only=True)
class LogSchema:
    """The field names of the application's structured (JSON) log line of one answered request.

    Log filters (prompt-injection and refusal counts) and saved Logs Insights queries are built from it.

    :param marker_field: the field that marks the line. Default: ``message``.
    :param marker_value: its value on the line of an answered request (``bedrock_call`` for the runtime).
    :param question: the field holding the question (full or redacted).
    :param answer: the field holding the answer (full or redacted).
    :param model: the field holding the model id.
    :param error_class: the field holding the error class of a failed request.
    :param request_id: the field holding the request (correlation) id.
    :param service: the field holding the service name, the ``service`` dimension of the log-pattern metrics
        (it must equal the Workload's name). Default: ``service``.

    Optional fields (``None``: the line does not carry it, and what reads it is left out with a synth warning):

    :param prompt_version: the field holding the prompt version that answered (feedback and judge scores per
        version). Default: none.
    :param passages: the field holding the retrieved passages, a list of ``{"id", "score", "excerpt"?}`` in
        ranking order (the online judge's faithfulness). Default: none.
    :param answer_length: the field holding the answer's length in characters (output drift). Default: none.
    :param grounding_score: the field holding a 0-1 grounding score of the answer (output drift). Default: none.
    :param feedback_marker: the marker value (in ``marker_field``) of a feedback line (the feedback join). Default:
        none.
    :param feedback_request_id: the field of a feedback line naming the rated answer's request id. Default: none.
    :param feedback_score: the field of a feedback line holding the 1-5 score. Default: none.
    """

    marker_field: str = t.LOG_FIELD_MESSAGE
    marker_value: str
    question: str
    answer: str
    model: str
    error_class: str
    request_id: str
    service: str = "service"
    prompt_version: str | None = None
    passages: str | None = None
    answer_length: str | None = None
    grounding_score: str | None = None
    feedback_marker: str | None = None
    feedback_request_id: str | None = None
    feedback_score: str | None = None

    def __post_init__(self) -> None:
        for name in ("marker_field", "question", "answer", "model", "error_class", "request_id", "service"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _FIELD.match(value):
                raise fail(name, value, _FIELD_ALLOWED, owner="LogSchema")
        for name in _OPTIONAL_FIELDS:
            if name == "feedback_marker":  # a value of marker_field, checked below like marker_value
                continue
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _FIELD.match(value)):
                raise fail(name, value, f"None or {_FIELD_ALLOWED}", owner="LogSchema")
        for name in ("marker_value", "feedback_marker"):
            value = getattr(self, name)
            if name == "feedback_marker" and value is None:
                continue
            if not isinstance(value, str) or not 0 < len(value) <= 256 or any(c in value for c in '"\\*\n\r'):
                raise fail(name, value, "1-256 characters without quotes, backslashes, * or line breaks",
                           owner="LogSchema")  # fmt: skip

    @classmethod
    def library(cls) -> LogSchema:
        """The log line of ``llm_observability_runtime`` (one ``bedrock_call`` line per Bedrock call)."""
        return cls(
            marker_field=t.LOG_FIELD_MESSAGE,
            marker_value=t.LOG_MESSAGE_CALL,
            question=t.LOG_FIELD_QUESTION,
            answer=t.LOG_FIELD_ANSWER,
            model=t.LOG_FIELD_MODEL,
            error_class=t.LOG_FIELD_ERROR_CLASS,
            request_id=t.LOG_FIELD_REQUEST_ID,
            **_LIBRARY_OPTIONAL,
        )

    @classmethod
    def reference(cls) -> LogSchema:
        """The reference RAG handler's ``ask`` line: the library's field names, and more fields (stage latencies,
        usage, prompt and retrieval properties) that the full set of saved queries and dashboard widgets read."""
        return cls(
            marker_field=t.LOG_FIELD_MESSAGE,
            marker_value=REFERENCE_ASK_MESSAGE,
            question=t.LOG_FIELD_QUESTION,
            answer=t.LOG_FIELD_ANSWER,
            model=t.LOG_FIELD_MODEL,
            error_class=t.LOG_FIELD_ERROR_CLASS,
            request_id=t.LOG_FIELD_REQUEST_ID,
            grounding_score=REFERENCE_GROUNDING_FIELD,
            **_LIBRARY_OPTIONAL,
        )

    @property
    def is_reference(self) -> bool:
        """The reference handler's line, which carries every field the full query set reads."""
        return self == LogSchema.reference()

    def document(self) -> str:
        """The schema as the scheduled functions' ``LOG_SCHEMA`` environment variable reads it (compact JSON of
        every field, ``null`` for the optional ones the line does not carry)."""
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, separators=(",", ":"))


def _holds_placeholder(document: Any) -> bool:
    if isinstance(document, dict):
        return any(_holds_placeholder(v) for v in document.values())
    if isinstance(document, list):
        return any(_holds_placeholder(v) for v in document)
    return document == QUESTION_PLACEHOLDER


@dataclass(frozen=True, kw_only=True)
class RequestContract:
    """How a canary calls the application: one HTTP request per golden question, the answer read from the response.

    The quality canary invokes the workload's first function with an API Gateway proxy event made from this
    contract (so the handler path runs without API credentials) and scores the answer it finds at
    ``answer_path`` of the JSON response body.

    :param path: the resource path, such as ``/ask``.
    :param body_template: the JSON request body, with the string ``"{question}"`` where the question goes (a whole
        JSON string value, such as ``{"question": "{question}"}``).
    :param answer_path: where the answer text is in the JSON response body, such as ``$.answer``.
    :param method: ``POST``, ``PUT`` or ``PATCH``. Default: ``POST``.
    :param model_path: where the response names the model that answered. Default: none (the workload's primary
        model is reported).
    :param prompt_version_path: where the response names the prompt version. Default: none (``unversioned``).
    """

    path: str
    body_template: str
    answer_path: str
    method: HttpMethod = "POST"
    model_path: str | None = None
    prompt_version_path: str | None = None

    def __post_init__(self) -> None:
        choice("method", self.method, HttpMethod, owner="RequestContract")
        if not isinstance(self.path, str) or not _URL_PATH.match(self.path):
            raise fail("path", self.path, "a resource path starting with / (no query string), such as /ask",
                       owner="RequestContract")  # fmt: skip
        for name in ("answer_path", "model_path", "prompt_version_path"):
            value = getattr(self, name)
            if (value is not None or name == "answer_path") and (not isinstance(value, str) or not _JSON_PATH.match(value)):
                raise fail(name, value, _JSON_PATH_ALLOWED, owner="RequestContract")
        allowed = f'a JSON document of at most {_MAX_BODY_CHARS} characters with "{QUESTION_PLACEHOLDER}" as a string value'
        try:
            document = json.loads(self.body_template) if isinstance(self.body_template, str) else None
        except ValueError:
            document = None
        if document is None or len(self.body_template) > _MAX_BODY_CHARS or not _holds_placeholder(document):
            raise fail("body_template", self.body_template, allowed, owner="RequestContract")

    @classmethod
    def reference(cls) -> RequestContract:
        """The reference RAG API: ``POST /ask {"question": ...}``, answering ``{"answer", "model_id",
        "prompt_version"}``."""
        return cls(
            path="/ask",
            body_template=json.dumps({"question": QUESTION_PLACEHOLDER}),
            answer_path="$.answer",
            model_path="$.model_id",
            prompt_version_path="$.prompt_version",
        )

    def document(self, *, default_model_id: str) -> str:
        """The contract as the canary's ``REQUEST_CONTRACT`` environment variable reads it (compact JSON)."""
        return json.dumps(
            {
                "method": self.method,
                "path": self.path,
                "body": json.loads(self.body_template),
                "answer_path": self.answer_path,
                "model_path": self.model_path,
                "prompt_version_path": self.prompt_version_path,
                "default_model_id": default_model_id,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, kw_only=True)
class ThrottleLimits:
    """The API stage's normal throttling, which the Level 3 API throttle runbook restores after tightening it.

    :param rate_limit: steady-state requests per second (above 0).
    :param burst_limit: burst capacity in requests (a whole number above 0).
    """

    rate_limit: float
    burst_limit: int

    def __post_init__(self) -> None:
        rate = self.rate_limit
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
            raise fail("rate_limit", rate, "a number of requests per second above 0", owner="ThrottleLimits")
        burst = self.burst_limit
        if isinstance(burst, bool) or not isinstance(burst, int) or burst <= 0:
            raise fail("burst_limit", burst, "a whole number of requests above 0", owner="ThrottleLimits")


def check_facts(
    telemetry: object, log_schema: object, request_contract: object, throttle_limits: object,
    prompt_logging: object = None,
) -> None:  # fmt: skip
    """Raise :class:`ConfigError` unless each Workload fact has its type (one sentence naming the field)."""
    choice("telemetry", telemetry, Telemetry, owner="Workload")
    if prompt_logging is not None:
        choice("prompt_logging", prompt_logging, PromptLogging, owner="Workload")
    for name, value, kind, how in (
        ("log_schema", log_schema, LogSchema, "LogSchema(...) or LogSchema.library()"),
        ("request_contract", request_contract, RequestContract, "RequestContract(...) or RequestContract.reference()"),
        ("throttle_limits", throttle_limits, ThrottleLimits, "ThrottleLimits(rate_limit=..., burst_limit=...)"),
    ):
        if value is not None and not isinstance(value, kind):
            raise ConfigError(f"Workload '{name}' is {value!r}: allowed is None or a {kind.__name__}, such as {how}.")
