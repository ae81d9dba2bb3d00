"""Lambda entry point of the RAG API (API Gateway REST API, Lambda proxy integration).

Routes
    POST /ask       answer a question from the Knowledge Base with a Bedrock model
    POST /feedback  record a 1..5 score for an earlier answer

Each /ask stage (telemetry.STAGES) runs in its own X-Ray subsegment and emits
its latency as StageLatency{Stage=<stage>}.  Metrics are CloudWatch EMF lines
written by Powertools and flushed once per invocation; logs are Powertools
JSON lines whose correlation id is the API Gateway request id.

Test and benchmark seams: ``reset_state()``, ``pipeline.set_clients()``, and the
module-level ``tracer.provider`` / ``logger`` / ``metrics`` objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple

import pipeline
import telemetry
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_xray_sdk import global_sdk_config
from errors import (
    MESSAGE_METHOD_NOT_ALLOWED,
    MESSAGE_MISCONFIGURED,
    MESSAGE_NOT_FOUND,
    ApiError,
    aws_error_code,
    classify_exception,
    error_response,
    json_response,
)
from redaction import redact
from settings import Settings, SettingsError, load_settings
from validation import AskRequest, FeedbackRequest, parse_ask, parse_feedback, parse_json_object

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE_NAME, patch_modules=("botocore",))

_now = time.perf_counter


class DimensionedMetrics:
    """EMF blobs for metrics with one dimension besides ``service`` (Stage, ModelId, ErrorClass).

    EMF applies one dimension set to a whole blob, so each dimension value gets
    its own reusable Powertools provider; ``flush`` prints one blob per value
    used since the previous flush.
    """

    def __init__(self, namespace: str, service: str) -> None:
        self._namespace = namespace
        self._service = service
        self._providers: dict[tuple[str, str], AmazonCloudWatchEMFProvider] = {}
        self._pending: dict[tuple[str, str], AmazonCloudWatchEMFProvider] = {}

    def add(self, dimension: str, value: str, name: str, unit: MetricUnit, metric_value: float) -> None:
        """Add one value of metric ``name`` under dimensions {service, ``dimension``=``value``}."""
        key = (dimension, value)
        provider = self._providers.get(key)
        if provider is None:
            provider = AmazonCloudWatchEMFProvider(namespace=self._namespace, service=self._service)
            provider.set_default_dimensions(**{telemetry.DIM_SERVICE: self._service, dimension: value})
            self._providers[key] = provider
        provider.add_metric(name=name, unit=unit, value=metric_value)
        self._pending[key] = provider

    def flush(self) -> None:
        """Print every pending blob and clear it."""
        for provider in self._pending.values():
            provider.flush_metrics()
            if provider.metric_set:  # not printed because POWERTOOLS_METRICS_DISABLED is set
                provider.clear_metrics()
        self._pending.clear()

    def clear(self) -> None:
        """Drop pending values without printing them."""
        for provider in self._pending.values():
            provider.clear_metrics()
        self._pending.clear()


dimensioned_metrics = DimensionedMetrics(NAMESPACE, SERVICE_NAME)


# --- Per-container state ------------------------------------------------------------
class Runtime(NamedTuple):
    """What a container builds once: its settings and its retrieval cache."""

    settings: Settings
    cache: pipeline.RetrievalCache


_runtime: Runtime | SettingsError | None = None


def _load_runtime() -> Runtime | SettingsError:
    """Parse the environment on the first invocation of a container and keep the result."""
    global _runtime
    if _runtime is None:
        try:
            settings = load_settings(pipeline.PROMPT_TEMPLATES)
        except SettingsError as exc:
            _runtime = exc
            return exc
        if settings.model_price is None:
            logger.warning(
                "No price for the model in PRICE_TABLE; EstimatedCostUSD will be 0",
                extra={"model_id": settings.model_id},
            )
        if not settings.instrumentation:
            global_sdk_config.set_sdk_enabled(False)
        _runtime = Runtime(settings, pipeline.RetrievalCache(settings.cache_ttl_seconds, settings.cache_max_entries))
    return _runtime


def reset_state() -> None:
    """Forget settings, the retrieval cache, Bedrock clients and unflushed metrics.

    The next invocation behaves like the first one of a new container.
    """
    global _runtime
    _runtime = None
    pipeline.reset_clients()
    metrics.clear_metrics()
    dimensioned_metrics.clear()


# --- Instrumentation --------------------------------------------------------------------
class _NullSegment:
    """Stands in for an X-Ray subsegment when tracing is off."""

    def put_annotation(self, key: str, value: Any) -> None:
        """Do nothing."""


_NULL_SEGMENT = _NullSegment()


class Recorder:
    """Instrumentation of one invocation: subsegments, metrics and the summary log line."""

    def __init__(self) -> None:
        self.stage_ms: dict[str, float] = {}
        self.current_stage: str | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[Any]:
        """Run a pipeline stage in an X-Ray subsegment and record its StageLatency."""
        self.current_stage = name
        started = _now()
        try:
            with tracer.provider.in_subsegment(name=name) as subsegment:
                yield subsegment if subsegment is not None else _NULL_SEGMENT
        finally:
            elapsed = (_now() - started) * 1000
            self.stage_ms[name] = round(elapsed, 3)
            dimensioned_metrics.add(
                telemetry.DIM_STAGE, name, telemetry.METRIC_STAGE_LATENCY, MetricUnit.Milliseconds, elapsed
            )

    def request_started(self, request_id: str) -> None:
        """Attach the request id to this invocation's main EMF blob as metadata (not a dimension)."""
        metrics.add_metadata(key="request_id", value=request_id)

    def metric(self, name: str, unit: MetricUnit, value: float) -> None:
        """Add a metric with the service dimension only."""
        metrics.add_metric(name=name, unit=unit, value=value)

    def failure(self, error_class: str) -> None:
        """Count one failed request under its ErrorClass."""
        dimensioned_metrics.add(
            telemetry.DIM_ERROR_CLASS, error_class, telemetry.METRIC_REQUEST_FAILURE, MetricUnit.Count, 1
        )
        tracer.put_annotation(telemetry.DIM_ERROR_CLASS, error_class)

    def ask_succeeded(
        self,
        settings: Settings,
        request: AskRequest,
        passages: tuple[pipeline.Passage, ...],
        cache_hit: bool,
        prompt: pipeline.Prompt,
        completion: pipeline.Completion,
        started: float,
    ) -> None:
        """Emit the success metrics of an /ask and its structured summary log line."""
        price = settings.model_price
        cost = price.cost(completion.input_tokens, completion.output_tokens) if price else 0.0
        model_id = settings.model_id
        inference_ms = (
            completion.latency_ms
            if completion.latency_ms is not None
            else self.stage_ms.get(telemetry.STAGE_INFERENCE, 0.0)
        )
        scores = [passage.score for passage in passages if passage.score is not None]
        top_score = max(scores) if scores else None

        self.metric(telemetry.METRIC_REQUEST_SUCCESS, MetricUnit.Count, 1)
        self.metric(telemetry.METRIC_PROMPT_LENGTH, MetricUnit.Count, len(prompt))
        self.metric(telemetry.METRIC_RETRIEVED_PASSAGES, MetricUnit.Count, len(passages))
        if top_score is not None:
            self.metric(telemetry.METRIC_TOP_RETRIEVAL_SCORE, MetricUnit.NoUnit, top_score)
        for name, unit, value in (
            (telemetry.METRIC_INFERENCE_LATENCY, MetricUnit.Milliseconds, inference_ms),
            (telemetry.METRIC_INPUT_TOKENS, MetricUnit.Count, completion.input_tokens),
            (telemetry.METRIC_OUTPUT_TOKENS, MetricUnit.Count, completion.output_tokens),
            (telemetry.METRIC_TOTAL_TOKENS, MetricUnit.Count, completion.total_tokens),
            (telemetry.METRIC_ESTIMATED_COST, MetricUnit.NoUnit, cost),
        ):
            dimensioned_metrics.add(telemetry.DIM_MODEL_ID, model_id, name, unit, value)

        texts, redactions = _loggable_texts(settings.prompt_logging, question=request.question, answer=completion.text)
        if settings.prompt_logging == telemetry.PROMPT_LOGGING_REDACTED:
            self.redactions(redactions)
        logger.info(
            "ask",
            extra={
                "model_id": model_id,
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
                    "end_to_end": round((_now() - started) * 1000, 3),
                },
                "question_chars": len(request.question),
                "answer_chars": len(completion.text),
                "prompt_logging": settings.prompt_logging,
                "pii_redactions": redactions,
                **texts,
            },
        )

    def feedback(self, feedback: FeedbackRequest) -> None:
        """Emit the feedback metrics."""
        self.metric(telemetry.METRIC_FEEDBACK_SCORE, MetricUnit.NoUnit, feedback.score)
        self.metric(telemetry.METRIC_FEEDBACK_COUNT, MetricUnit.Count, 1)

    def redactions(self, count: int) -> None:
        """Count PII spans redacted from logged text."""
        self.metric(telemetry.METRIC_REDACTIONS, MetricUnit.Count, count)


class NullRecorder(Recorder):
    """INSTRUMENTATION=off: no subsegments, metrics or summary logs; responses are unchanged."""

    _stage = nullcontext(_NULL_SEGMENT)

    def stage(self, name: str) -> Any:
        """Run the stage without tracing or timing."""
        return self._stage

    def request_started(self, request_id: str) -> None:
        """Do nothing."""

    def metric(self, name: str, unit: MetricUnit, value: float) -> None:
        """Do nothing."""

    def failure(self, error_class: str) -> None:
        """Do nothing."""

    def ask_succeeded(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing."""

    def feedback(self, feedback: FeedbackRequest) -> None:
        """Do nothing."""

    def redactions(self, count: int) -> None:
        """Do nothing."""


_NULL_RECORDER = NullRecorder()


def _loggable_texts(mode: str, **texts: str) -> tuple[dict[str, str], int]:
    """The texts to put in a log line under PROMPT_LOGGING ``mode``, and the redaction count."""
    if mode == telemetry.PROMPT_LOGGING_FULL:
        return texts, 0
    if mode == telemetry.PROMPT_LOGGING_NONE:
        return {}, 0
    redacted: dict[str, str] = {}
    total = 0
    for key, text in texts.items():
        redacted[key], count = redact(text)
        total += count
    return redacted, total


# --- Routes ---------------------------------------------------------------------------------
Route = Callable[[dict[str, Any], str, Runtime, Recorder, float], dict[str, Any]]


def _ask(event: dict[str, Any], request_id: str, runtime: Runtime, rec: Recorder, started: float) -> dict[str, Any]:
    """POST /ask: run the RAG pipeline; EndToEndLatency covers successes and failures."""
    try:
        return _answer(event, request_id, runtime, rec, started)
    finally:
        rec.metric(telemetry.METRIC_END_TO_END_LATENCY, MetricUnit.Milliseconds, (_now() - started) * 1000)


def _answer(event: dict[str, Any], request_id: str, runtime: Runtime, rec: Recorder, started: float) -> dict[str, Any]:
    settings, cache = runtime

    with rec.stage(telemetry.STAGE_PREPROCESS):
        request = parse_ask(
            parse_json_object(event),
            default_top_k=settings.retrieval_top_k,
            max_question_chars=settings.max_question_chars,
        )

    with rec.stage(telemetry.STAGE_RETRIEVAL) as segment:
        passages = cache.get(request.question, request.top_k) if cache.enabled else None
        cache_hit = passages is not None
        if passages is None:
            passages = pipeline.retrieve(
                pipeline.agent_runtime(), settings.knowledge_base_id, request.question, request.top_k
            )
            cache.put(request.question, request.top_k, passages)
        if cache.enabled:
            rec.metric(
                telemetry.METRIC_RETRIEVAL_CACHE_HIT if cache_hit else telemetry.METRIC_RETRIEVAL_CACHE_MISS,
                MetricUnit.Count,
                1,
            )
        segment.put_annotation(telemetry.METRIC_RETRIEVAL_CACHE_HIT, cache_hit)

    with rec.stage(telemetry.STAGE_PROMPT_ASSEMBLY):
        prompt = pipeline.PROMPT_TEMPLATES[settings.prompt_template_version].render(request.question, passages)

    with rec.stage(telemetry.STAGE_INFERENCE) as segment:
        segment.put_annotation(telemetry.DIM_MODEL_ID, settings.model_id)
        response = pipeline.converse(
            pipeline.bedrock_runtime(),
            model_id=settings.model_id,
            prompt=prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop_sequences=request.stop_sequences,
        )

    with rec.stage(telemetry.STAGE_POSTPROCESS):
        completion = pipeline.parse_completion(response)
        body = {
            "answer": completion.text,
            "sources": pipeline.build_sources(passages),
            "request_id": request_id,
            "model_id": settings.model_id,
            "prompt_version": settings.prompt_template_version,
            "usage": {
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "total_tokens": completion.total_tokens,
            },
        }

    try:
        rec.ask_succeeded(settings, request, passages, cache_hit, prompt, completion, started)
    except Exception:  # telemetry must never turn an answer into an error
        logger.exception("Failed to record telemetry for a successful request")
    return json_response(200, body, request_id)


def _feedback(
    event: dict[str, Any], request_id: str, runtime: Runtime, rec: Recorder, started: float
) -> dict[str, Any]:
    """POST /feedback: record a score so it can be joined to the /ask log line by request id."""
    feedback = parse_feedback(parse_json_object(event))
    rec.feedback(feedback)
    mode = runtime.settings.prompt_logging
    texts, redactions = _loggable_texts(mode, comment=feedback.comment) if feedback.comment else ({}, 0)
    if mode == telemetry.PROMPT_LOGGING_REDACTED:
        rec.redactions(redactions)
    logger.info(
        "feedback",
        extra={
            "feedback_request_id": feedback.request_id,
            "score": feedback.score,
            "comment_chars": len(feedback.comment or ""),
            **texts,
        },
    )
    return json_response(
        202,
        {"status": "recorded", "request_id": request_id, "feedback_request_id": feedback.request_id},
        request_id,
    )


_ROUTES: dict[str, Route] = {"/ask": _ask, "/feedback": _feedback}


def _route(event: dict[str, Any]) -> Route:
    """The handler for the event's resource and method, or a 404/405 ApiError."""
    path = event.get("resource") or event.get("path") or ""
    route = _ROUTES.get(path.rstrip("/") if isinstance(path, str) else "")
    if route is None:
        raise ApiError(404, telemetry.ERROR_VALIDATION, MESSAGE_NOT_FOUND)
    if event.get("httpMethod") != "POST":
        raise ApiError(405, telemetry.ERROR_VALIDATION, MESSAGE_METHOD_NOT_ALLOWED, {"Allow": "POST"})
    return route


def _request_id(event: dict[str, Any], context: Any) -> str:
    """The API Gateway request id, else the Lambda request id."""
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        request_id = request_context.get("requestId")
        if isinstance(request_id, str) and request_id:
            return request_id
    return getattr(context, "aws_request_id", None) or "unknown"


def _log_failure(exc: Exception, error: ApiError, rec: Recorder) -> None:
    """Log a failed request: rejections at INFO, throttling at WARNING, faults at ERROR with the traceback."""
    details = {
        "status": error.status,
        "error_class": error.error_class,
        "stage": rec.current_stage,
        "aws_error_code": aws_error_code(exc),
    }
    if error.error_class == telemetry.ERROR_VALIDATION:
        logger.info("Request rejected", extra={**details, "reason": error.message})
    elif error.error_class == telemetry.ERROR_THROTTLING:
        logger.warning("Request failed", extra=details)
    elif exc is error:
        logger.error("Request failed", extra=details)
    else:
        logger.exception("Request failed", extra=details)


def _handle(event: Any, context: Any, state: Runtime | SettingsError, rec: Recorder) -> dict[str, Any]:
    """Route the event and turn every exception into a JSON error response."""
    started = _now()
    event = event if isinstance(event, dict) else {}
    request_id = _request_id(event, context)
    rec.request_started(request_id)
    try:
        if isinstance(state, SettingsError):
            logger.error("Invalid function configuration", extra={"configuration_problems": state.problems})
            raise ApiError(500, telemetry.ERROR_INTERNAL, MESSAGE_MISCONFIGURED)
        return _route(event)(event, request_id, state, rec, started)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON response; _log_failure logs it
        error = classify_exception(exc)
        _log_failure(exc, error, rec)
        rec.failure(error.error_class)
        return error_response(error, request_id)


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def rag_api_handler(event: Any, context: Any) -> dict[str, Any]:
    """The instrumented handler: root subsegment, correlation id, per-request Recorder."""
    return _handle(event, context, _load_runtime(), Recorder())


def _flush_metrics() -> None:
    """Print this invocation's EMF blobs; an empty main blob is skipped, not warned about."""
    try:
        if metrics.metric_set:
            metrics.flush_metrics()
        else:
            metrics.clear_metrics()
        dimensioned_metrics.flush()
    except Exception:
        logger.exception("Failed to publish metrics")
        metrics.clear_metrics()
        dimensioned_metrics.clear()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point (``handler.lambda_handler``)."""
    state = _load_runtime()
    if isinstance(state, Runtime) and not state.settings.instrumentation:
        return _handle(event, context, state, _NULL_RECORDER)
    try:
        response: dict[str, Any] = rag_api_handler(event, context)
    finally:
        _flush_metrics()
    return response
