"""Lambda entry point of the RAG API (API Gateway REST API, Lambda proxy integration).

Routes
    POST /ask       answer a question from the Knowledge Base with a Bedrock model
    POST /feedback  record a 1..5 score for an earlier answer

Each /ask stage (telemetry.STAGES) runs in its own X-Ray subsegment and emits
its latency as StageLatency{Stage=<stage>}.  Metrics are CloudWatch EMF lines
written by Powertools and flushed once per invocation; logs are Powertools
JSON lines whose correlation id is the API Gateway request id, and every line
of a request carries the active ``prompt_version``.

Optional (off unless their environment variables are set): a Bedrock Guardrail
on Converse (GUARDRAIL_ID + GUARDRAIL_VERSION), the user-message template from
Prompt Management (PROMPT_PARAMETER_NAME) and the model id from SSM
(MODEL_PARAMETER_NAME).  The two lookups run in the PromptAssembly stage, are
cached per container (``managed``) and never fail a request.

Test and benchmark seams: ``reset_state()``, ``pipeline.set_clients()``, the
module-level ``tracer.provider`` / ``logger`` / ``metrics`` objects, and
``_ttl_clock`` (the clock of the lookup caches).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple

import managed
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
_ttl_clock = time.monotonic  # lookup cache expiry; replaced in tests


def _lookup_clock() -> float:
    return _ttl_clock()


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
        """Add one value of metric ``name`` under dimensions {service, ``dimension``=``value``}.

        Keep ``value`` low-cardinality: each distinct value keeps a provider for the container's life.
        """
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
    """What a container builds once: its settings, retrieval cache and managed-configuration caches."""

    settings: Settings
    cache: pipeline.RetrievalCache
    template: pipeline.PromptTemplate  # the built-in template (PROMPT_TEMPLATE_VERSION)
    guardrail: dict[str, str] | None = None  # Converse guardrailConfig
    prompts: managed.ManagedPrompt | None = None  # PROMPT_PARAMETER_NAME
    models: managed.ManagedModel | None = None  # MODEL_PARAMETER_NAME
    unpriced: set[str] | None = None  # model ids already warned about for a missing price

    @property
    def prompt_version(self) -> str:
        """The prompt version in use now (before this request's lookup, if any)."""
        return self.prompts.active.version if self.prompts is not None else self.template.version


_runtime: Runtime | SettingsError | None = None


def _warn_unpriced(model_id: str) -> None:
    logger.warning("No price for the model in PRICE_TABLE; EstimatedCostUSD will be 0", extra={"model_id": model_id})


def _load_runtime() -> Runtime | SettingsError:
    """Parse the environment on the first invocation of a container and keep the result."""
    global _runtime
    if _runtime is None:
        try:
            settings = load_settings(pipeline.PROMPT_TEMPLATES)
        except SettingsError as exc:
            _runtime = exc
            return exc
        unpriced: set[str] = set()
        if settings.model_price is None:
            _warn_unpriced(settings.model_id)
            unpriced.add(settings.model_id)
        if not settings.instrumentation:
            global_sdk_config.set_sdk_enabled(False)
        template = pipeline.PROMPT_TEMPLATES[settings.prompt_template_version]
        _runtime = Runtime(
            settings,
            pipeline.RetrievalCache(settings.cache_ttl_seconds, settings.cache_max_entries),
            template,
            guardrail=(
                pipeline.guardrail_config(settings.guardrail_id, settings.guardrail_version)
                if settings.guardrail_id is not None and settings.guardrail_version is not None
                else None
            ),
            prompts=(
                managed.ManagedPrompt(
                    settings.prompt_parameter_name,
                    settings.prompt_cache_ttl_seconds,
                    template,
                    _lookup_clock,
                    pipeline.bedrock_agent,
                )
                if settings.prompt_parameter_name is not None
                else None
            ),
            models=(
                managed.ManagedModel(
                    settings.model_parameter_name, settings.model_cache_ttl_seconds, settings.model_id, _lookup_clock
                )
                if settings.model_parameter_name is not None
                else None
            ),
            unpriced=unpriced,
        )
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

    def request_started(self, request_id: str, prompt_version: str | None) -> None:
        """Attach the request id and prompt version to this invocation's main EMF blob as metadata."""
        metrics.add_metadata(key="request_id", value=request_id)
        if prompt_version is not None:
            metrics.add_metadata(key="prompt_version", value=prompt_version)

    def prompt_resolved(self, prompt_version: str) -> None:
        """Record the prompt version this /ask uses (EMF metadata; the log key is set by the caller)."""
        metrics.add_metadata(key="prompt_version", value=prompt_version)

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
        model_id: str | None = None,
        guardrail: pipeline.GuardrailOutcome | None = None,
        per_prompt_version: bool = False,
    ) -> None:
        """Emit the success metrics of an /ask and its structured summary log line.

        ``model_id`` is the model Converse used (default MODEL_ID); ``guardrail`` the guardrail's
        outcome when one is configured; ``per_prompt_version`` adds the {service, PromptVersion} blob.
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
        if guardrail is not None:
            self.guardrail(guardrail)
        if per_prompt_version:
            version = prompt.version
            for name, unit, value in (
                (telemetry.METRIC_REQUEST_SUCCESS, MetricUnit.Count, 1),
                (telemetry.METRIC_END_TO_END_LATENCY, MetricUnit.Milliseconds, end_to_end_ms),
                (telemetry.METRIC_TOTAL_TOKENS, MetricUnit.Count, completion.total_tokens),
                (telemetry.METRIC_ESTIMATED_COST, MetricUnit.NoUnit, cost),
            ):
                dimensioned_metrics.add(telemetry.DIM_PROMPT_VERSION, version, name, unit, value)
            if guardrail is not None:
                dimensioned_metrics.add(
                    telemetry.DIM_PROMPT_VERSION,
                    version,
                    telemetry.METRIC_GUARDRAIL_INTERVENED,
                    MetricUnit.Count,
                    int(guardrail.intervened),
                )

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
                    "end_to_end": round(end_to_end_ms, 3),
                },
                "question_chars": len(request.question),
                "answer_chars": len(completion.text),
                "prompt_logging": settings.prompt_logging,
                "pii_redactions": redactions,
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
        self.metric(telemetry.METRIC_GUARDRAIL_INTERVENED, MetricUnit.Count, int(outcome.intervened))
        for policy in outcome.policies:
            dimensioned_metrics.add(
                telemetry.DIM_GUARDRAIL_POLICY,
                policy,
                telemetry.METRIC_GUARDRAIL_POLICY_INTERVENED,
                MetricUnit.Count,
                1,
            )
        if outcome.grounding_score is not None:
            self.metric(telemetry.METRIC_GUARDRAIL_GROUNDING_SCORE, MetricUnit.NoUnit, outcome.grounding_score)
        if outcome.relevance_score is not None:
            self.metric(telemetry.METRIC_GUARDRAIL_RELEVANCE_SCORE, MetricUnit.NoUnit, outcome.relevance_score)

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

    def request_started(self, request_id: str, prompt_version: str | None) -> None:
        """Do nothing."""

    def prompt_resolved(self, prompt_version: str) -> None:
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


def _resolve_managed(runtime: Runtime, rec: Recorder) -> tuple[pipeline.PromptTemplate, str]:
    """The prompt template and model id for this /ask: from SSM when configured (cached), else built in."""
    template, model_id = runtime.template, runtime.settings.model_id
    if runtime.prompts is None and runtime.models is None:
        return template, model_id
    deadline = _lookup_clock() + managed.LOOKUP_BUDGET_SECONDS
    if runtime.prompts is not None:
        prompts = runtime.prompts
        resolved = prompts.resolve(pipeline.ssm, deadline)
        template = resolved.value
        logger.append_keys(prompt_version=template.version)
        rec.prompt_resolved(template.version)
        if resolved.failure is not None:
            rec.metric(telemetry.METRIC_PROMPT_LOOKUP_FAILURE, MetricUnit.Count, 1)
            logger.warning(
                "Prompt lookup failed; serving the last good prompt",
                extra={
                    "parameter_name": prompts.parameter_name,
                    "reason": resolved.failure.reason,
                    "aws_error_code": resolved.failure.code,
                    "retry_in_seconds": prompts.ttl_seconds,
                },
            )
        elif resolved.changed:
            logger.info(
                "Active prompt version changed",
                extra={"parameter_name": prompts.parameter_name, "previous_prompt_version": resolved.previous.version},
            )
    if runtime.models is not None:
        models = runtime.models
        resolved_model = models.resolve(pipeline.ssm, deadline)
        model_id = resolved_model.value
        if resolved_model.failure is not None:
            rec.metric(telemetry.METRIC_MODEL_LOOKUP_FAILURE, MetricUnit.Count, 1)
            logger.warning(
                "Model lookup failed; serving the last good model",
                extra={
                    "parameter_name": models.parameter_name,
                    "reason": resolved_model.failure.reason,
                    "aws_error_code": resolved_model.failure.code,
                    "model_id": model_id,
                    "retry_in_seconds": models.ttl_seconds,
                },
            )
        elif resolved_model.changed:
            logger.info(
                "Active model changed",
                extra={
                    "parameter_name": models.parameter_name,
                    "model_id": model_id,
                    "previous_model_id": resolved_model.previous,
                },
            )
        if (
            runtime.unpriced is not None
            and model_id not in runtime.unpriced
            and runtime.settings.price_of(model_id) is None
        ):
            runtime.unpriced.add(model_id)
            _warn_unpriced(model_id)
    return template, model_id


def _answer(event: dict[str, Any], request_id: str, runtime: Runtime, rec: Recorder, started: float) -> dict[str, Any]:
    settings, cache = runtime.settings, runtime.cache

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

    with rec.stage(telemetry.STAGE_PROMPT_ASSEMBLY) as segment:
        template, model_id = _resolve_managed(runtime, rec)
        prompt = template.render(request.question, passages)
        if runtime.prompts is not None:
            segment.put_annotation(telemetry.DIM_PROMPT_VERSION, prompt.version)

    with rec.stage(telemetry.STAGE_INFERENCE) as segment:
        segment.put_annotation(telemetry.DIM_MODEL_ID, model_id)
        response = pipeline.converse(
            pipeline.bedrock_runtime(),
            model_id=model_id,
            prompt=prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop_sequences=request.stop_sequences,
            guardrail=runtime.guardrail,
        )

    with rec.stage(telemetry.STAGE_POSTPROCESS) as segment:
        completion = pipeline.parse_completion(response)
        guardrail = pipeline.parse_guardrail(response) if runtime.guardrail is not None else None
        body: dict[str, Any] = {
            "answer": completion.text,
            # A blocked answer keeps the passages to itself: their excerpts could carry what was blocked.
            "sources": [] if guardrail is not None and guardrail.intervened else pipeline.build_sources(passages),
            "request_id": request_id,
            "model_id": model_id,
            "prompt_version": prompt.version,
            "usage": {
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "total_tokens": completion.total_tokens,
            },
        }
        if guardrail is not None:
            body["guardrail"] = {"intervened": guardrail.intervened, "policies": list(guardrail.policies)}
            segment.put_annotation(telemetry.METRIC_GUARDRAIL_INTERVENED, guardrail.intervened)

    try:
        rec.ask_succeeded(
            settings,
            request,
            passages,
            cache_hit,
            prompt,
            completion,
            started,
            model_id=model_id,
            guardrail=guardrail,
            per_prompt_version=runtime.prompts is not None,
        )
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
    prompt_version = state.prompt_version if isinstance(state, Runtime) else None
    if prompt_version is not None:
        logger.append_keys(prompt_version=prompt_version)  # updated by /ask once its prompt is resolved
    rec.request_started(request_id, prompt_version)
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
    finally:
        if prompt_version is not None:
            logger.remove_keys(["prompt_version"])


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


def _handle_event(event: Any, context: Any) -> dict[str, Any]:
    """The handler proper, with or without the CodeGuru Profiler agent around it."""
    state = _load_runtime()
    if isinstance(state, Runtime) and not state.settings.instrumentation:
        return _handle(event, context, state, _NULL_RECORDER)
    try:
        response: dict[str, Any] = rag_api_handler(event, context)
    finally:
        _flush_metrics()
    return response


def _with_profiler(handler: Callable[[Any, Any], dict[str, Any]]) -> Callable[[Any, Any], dict[str, Any]]:
    """Start the CodeGuru Profiler agent around ``handler`` when a profiling group is configured.

    Level 3 sets ``AWS_CODEGURU_PROFILER_GROUP_NAME`` and adds the agent's layer; the agent reads the
    group (and ``AWS_CODEGURU_PROFILER_TARGET_REGION``) from the environment. If the agent cannot be
    imported or started, the function runs unprofiled and says so once: profiling must never break
    answering questions.
    """
    if not os.getenv(telemetry.ENV_CODEGURU_PROFILING_GROUP):
        return handler
    try:
        from codeguru_profiler_agent import with_lambda_profiler  # the agent's Lambda layer

        return with_lambda_profiler()(handler)
    except Exception as exc:  # ImportError, or an agent that fails to start on this runtime
        logger.warning("CodeGuru Profiler agent not started; running unprofiled", extra={"reason": type(exc).__name__})
        return handler


lambda_handler = _with_profiler(_handle_event)
"""Lambda entry point (``handler.lambda_handler``)."""
