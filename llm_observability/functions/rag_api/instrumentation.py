"""The RAG function's telemetry: the library's runtime for metrics and traces, Powertools for logs, per request.

Metrics and spans come from the runtime layer (``llm_observability_runtime``), the same code that instruments
users' functions: ``start`` instruments boto3 with this function's settings, so every Retrieve and Converse call
emits its StageLatency and InputTokens/OutputTokens{ModelId}, a ``bedrock_call`` log line and one span with the
OpenTelemetry GenAI attributes; the handler runs ``observe``d (EndToEndLatency, RequestSuccess or RequestFailure,
one EMF flush and one request span per invocation). Spans go to the OpenTelemetry tracer provider the ADOT
layer sets up (nothing without one). ``Recorder`` adds what only this application knows: the five RAG stages
(``llmobs.stage``: StageLatency and a span each, with the application's attributes), retrieval-cache lookups,
the guardrail and per-prompt-version metrics of Level 2 (``llmobs.metric``), the feedback score
(``llmobs.feedback``, whose log line is the ``feedback`` line), the error type of a failed request
(``llmobs.record_error``) and the ``ask`` summary log line, which holds what a question needs no alarm for
(prompt length and version, passages, top score, cost, PII redactions). Its ``retrieval.passages`` follow the
runtime's rules (``extract.loggable_passages``): ids and scores always, excerpts per PROMPT_LOGGING.
``NullRecorder`` (INSTRUMENTATION=off) does none of it: no metrics, no spans.

Test and benchmark seam: the module-level ``logger``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import llm_observability_runtime as llmobs
from aws_lambda_powertools import Logger
from llm_observability_runtime import extract, redaction, telemetry

if TYPE_CHECKING:
    import pipeline
    from settings import ModelPrice, Settings
    from validation import AskRequest, FeedbackRequest

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE
UNIT_MS = "Milliseconds"
UNIT_COUNT = "Count"
UNIT_NONE = "None"

logger = Logger(service=SERVICE_NAME)

_now = time.perf_counter
#: ``retrieval.passages``: the passages are a key of the line's ``retrieval`` object.
_PASSAGES_KEY = telemetry.LOG_FIELD_PASSAGES.split(".")[1]


def start(prompt_logging: str | None = None, prices: Mapping[str, ModelPrice] | None = None) -> None:
    """Instrument boto3 with the runtime: this function's service, namespace, prompt logging and prices.

    Called once per container with the validated settings (or the runtime's defaults for both when the
    settings are invalid, so the 500 answers are still counted in this function's namespace).
    """
    table = {m: {"input_per_1k": p.input_per_1k, "output_per_1k": p.output_per_1k} for m, p in (prices or {}).items()}
    llmobs.instrument(
        service_name=SERVICE_NAME,
        namespace=NAMESPACE,
        prompt_logging=prompt_logging,  # type: ignore[arg-type]  # validated by settings
        prices=table,
    )


def stop() -> None:
    """Stop instrumenting boto3 (INSTRUMENTATION=off, or a simulated new container)."""
    if llmobs.instrumented():
        llmobs.uninstrument()


class _NullSpan:
    """Stands in for a stage's span when instrumentation is off."""

    def set_attribute(self, key: str, value: Any) -> None:
        """Do nothing."""


NULL_SPAN = _NullSpan()


class Recorder:
    """Instrumentation of one invocation: stages, the application's own metrics and the summary log line."""

    def __init__(self) -> None:
        self.stage_ms: dict[str, float] = {}
        self.current_stage: str | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[Any]:
        """Run a pipeline stage in the runtime's ``stage``: StageLatency{Stage} and a span; yields the span
        (``set_attribute``)."""
        self.current_stage = name
        started = _now()
        try:
            with llmobs.stage(name) as span:
                yield span
        finally:
            self.stage_ms[name] = round((_now() - started) * 1000, 3)

    def metric(self, name: str, unit: str, value: float, **dimensions: str) -> None:
        """Emit a metric with the service dimension and ``dimensions`` (low-cardinality values only)."""
        llmobs.metric(name, value, unit, **dimensions)

    def failure(self, error_class: str) -> None:
        """A failed request: a server-side error class becomes the request span's error.type (``observe`` counts
        RequestFailure by the status). The caller's own mistakes (Validation, 4xx) leave the span OK."""
        if error_class in telemetry.FAILURE_ERROR_CLASSES:
            llmobs.record_error(error_class)

    def cache_lookup(self, hit: bool) -> None:
        """Count one retrieval-cache lookup: RetrievalCacheHit 1 for a hit, 0 for a miss."""
        llmobs.cache_lookup(hit)

    def ask_succeeded(
        self,
        settings: Settings,
        request: AskRequest,
        passages: tuple[pipeline.Passage, ...],
        cache_hit: bool,
        prompt: pipeline.Prompt,
        completion: pipeline.Completion,
        started: float,
        model_id: str | None = None,
        guardrail: pipeline.GuardrailOutcome | None = None,
        per_prompt_version: bool = False,
        tenant: str | None = None,
    ) -> None:
        """Emit the application metrics of an answered /ask and its structured summary log line.

        ``tenant`` (the request's tenant key: the TENANT_HEADER header, else the IAM caller) is a field of the line
        whatever PROMPT_LOGGING says: it is no prompt text, but an IAM caller's ARN names a role session, which can
        name a person (see docs/configuration.md).
        ``model_id`` is the model Converse used (default MODEL_ID); ``guardrail`` the guardrail's
        outcome when one is configured; ``per_prompt_version`` adds the {service, PromptVersion} metrics
        (RequestSuccess, EndToEndLatency, InputTokens, OutputTokens and GuardrailIntervened). Tokens per
        model, success and latency per service are the runtime's; the log line carries what is no metric:
        prompt length, retrieval count and top score, the estimated cost (PRICE_TABLE), the PII redactions.
        """
        model_id = model_id or settings.model_id
        price = settings.price_of(model_id)
        cost = price.cost(completion.input_tokens, completion.output_tokens) if price else 0.0
        end_to_end_ms = (_now() - started) * 1000
        inference_ms = (
            completion.latency_ms
            if completion.latency_ms is not None
            else self.stage_ms.get(telemetry.STAGE_INFERENCE, 0.0)
        )
        scores = [passage.score for passage in passages if passage.score is not None]
        top_score = max(scores) if scores else None

        if guardrail is not None:
            self.guardrail(guardrail)
        if per_prompt_version:
            version = {telemetry.DIM_PROMPT_VERSION: prompt.version}
            self.metric(telemetry.METRIC_REQUEST_SUCCESS, UNIT_COUNT, 1, **version)
            self.metric(telemetry.METRIC_END_TO_END_LATENCY, UNIT_MS, end_to_end_ms, **version)
            self.metric(telemetry.METRIC_INPUT_TOKENS, UNIT_COUNT, completion.input_tokens, **version)
            self.metric(telemetry.METRIC_OUTPUT_TOKENS, UNIT_COUNT, completion.output_tokens, **version)
            if guardrail is not None:
                self.metric(telemetry.METRIC_GUARDRAIL_INTERVENED, UNIT_COUNT, int(guardrail.intervened), **version)

        texts, redactions = loggable_texts(settings.prompt_logging, question=request.question, answer=completion.text)
        logged_passages, excerpt_redactions = loggable_passages(passages, settings.prompt_logging)
        logger.info(
            "ask",
            extra={
                "model_id": model_id,
                **({telemetry.LOG_FIELD_TENANT: tenant} if tenant is not None else {}),
                telemetry.LOG_FIELD_PROMPT_VERSION: prompt.version,
                "prompt": {
                    "template_version": prompt.version,
                    "temperature": request.temperature,
                    "top_p": request.top_p,
                    "max_tokens": request.max_tokens,
                    "stop_sequences": list(request.stop_sequences),
                    "top_k": request.top_k,
                    "length": len(prompt),
                },
                "retrieval": {
                    "count": len(passages),
                    "top_score": top_score,
                    "cache_hit": cache_hit,
                    _PASSAGES_KEY: logged_passages,
                },
                "usage": {
                    "input_tokens": completion.input_tokens,
                    "output_tokens": completion.output_tokens,
                    "total_tokens": completion.total_tokens,
                },
                "estimated_cost_usd": cost,
                "stop_reason": completion.stop_reason,
                "latency_ms": {
                    "stages": self.stage_ms,
                    "inference_model": inference_ms,
                    "end_to_end": round(end_to_end_ms, 3),
                },
                "question_chars": len(request.question),
                "answer_chars": len(completion.text),
                "prompt_logging": settings.prompt_logging,
                "pii_redactions": redactions + excerpt_redactions,
                **texts,
                **(
                    {
                        "guardrail": {
                            "intervened": guardrail.intervened,
                            "policies": list(guardrail.policies),
                            "grounding_score": guardrail.grounding_score,
                            "relevance_score": guardrail.relevance_score,
                            "guardrail_id": settings.guardrail_id,
                            "guardrail_version": settings.guardrail_version,
                        }
                    }
                    if guardrail is not None
                    else {}
                ),
            },
        )

    def guardrail(self, outcome: pipeline.GuardrailOutcome) -> None:
        """Emit the guardrail metrics of one answered /ask."""
        self.metric(telemetry.METRIC_GUARDRAIL_INTERVENED, UNIT_COUNT, int(outcome.intervened))
        for policy in outcome.policies:
            self.metric(
                telemetry.METRIC_GUARDRAIL_POLICY_INTERVENED, UNIT_COUNT, 1, **{telemetry.DIM_GUARDRAIL_POLICY: policy}
            )
        if outcome.grounding_score is not None:
            self.metric(telemetry.METRIC_GUARDRAIL_GROUNDING_SCORE, UNIT_NONE, outcome.grounding_score)
        if outcome.relevance_score is not None:
            self.metric(telemetry.METRIC_GUARDRAIL_RELEVANCE_SCORE, UNIT_NONE, outcome.relevance_score)

    def feedback(self, feedback: FeedbackRequest) -> None:
        """FeedbackScore (its SampleCount is the number of answers scored) and the ``feedback`` log line."""
        llmobs.feedback(feedback.request_id, feedback.score, feedback.comment)


class NullRecorder(Recorder):
    """INSTRUMENTATION=off: no spans, metrics or summary logs; responses are unchanged."""

    _stage = nullcontext(NULL_SPAN)

    def stage(self, name: str) -> Any:
        """Run the stage without tracing or timing."""
        return self._stage

    def metric(self, name: str, unit: str, value: float, **dimensions: str) -> None:
        """Do nothing."""

    def failure(self, error_class: str) -> None:
        """Do nothing."""

    def cache_lookup(self, hit: bool) -> None:
        """Do nothing."""

    def ask_succeeded(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing."""

    def feedback(self, feedback: FeedbackRequest) -> None:
        """Do nothing."""


NULL_RECORDER = NullRecorder()


def loggable_passages(passages: tuple[pipeline.Passage, ...], mode: str) -> tuple[list[dict[str, Any]], int]:
    """The ``retrieval.passages`` of the ``ask`` line under PROMPT_LOGGING ``mode`` (the runtime's rules: at most
    ``MAX_LOGGED_PASSAGES`` in ranking order, ids and scores always, excerpts of ``PASSAGE_EXCERPT_CHARS`` redacted,
    full or absent), and the PII replacements in the excerpts."""
    return extract.loggable_passages(({"id": p.chunk_id, "score": p.score, "excerpt": p.text} for p in passages), mode)


def loggable_texts(mode: str, **texts: str) -> tuple[dict[str, str], int]:
    """The texts to put in a log line under PROMPT_LOGGING ``mode``, and the redaction count (the runtime's
    redaction, so the ``ask`` line and the runtime's lines replace the same PII with the same tokens)."""
    if mode == telemetry.PROMPT_LOGGING_FULL:
        return texts, 0
    if mode == telemetry.PROMPT_LOGGING_NONE:
        return {}, 0
    redacted: dict[str, str] = {}
    total = 0
    for key, text in texts.items():
        redacted[key], count = redaction.redact(text)
        total += count
    return redacted, total
