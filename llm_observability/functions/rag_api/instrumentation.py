"""The RAG function's telemetry: its Powertools logger, metrics and tracer, and the per-invocation Recorder.

``Recorder`` turns what one request did into X-Ray subsegments, EMF metrics (names and dimensions from
``telemetry``) and the structured summary log line; ``NullRecorder`` (INSTRUMENTATION=off) does none of
it. Metrics with one dimension besides ``service`` (Stage, ModelId, PromptVersion, GuardrailPolicy) go to
``dimensioned_metrics``, one EMF blob per dimension value; the rest to the Powertools ``metrics`` blob.
``flush()`` prints both once per invocation. What a question needs no alarm for (prompt length, retrieved
passages, top score, cost, PII redactions, error classes) is a field of the summary log line, not a metric.

Test and benchmark seams: the module-level ``tracer.provider`` / ``logger`` / ``metrics`` objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import telemetry
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from redaction import redact

if TYPE_CHECKING:
    import pipeline
    from settings import Settings
    from validation import AskRequest, FeedbackRequest

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE_NAME, patch_modules=("botocore",))

_now = time.perf_counter


class DimensionedMetrics:
    """EMF blobs for metrics with one dimension besides ``service`` (Stage, ModelId, PromptVersion, ...).

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


class _NullSegment:
    """Stands in for an X-Ray subsegment when tracing is off."""

    def put_annotation(self, key: str, value: Any) -> None:
        """Do nothing."""


NULL_SEGMENT = _NullSegment()


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
                yield subsegment if subsegment is not None else NULL_SEGMENT
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
        """Annotate a failed request with its error class; count it as RequestFailure unless the caller's fault."""
        if error_class in telemetry.FAILURE_ERROR_CLASSES:
            self.metric(telemetry.METRIC_REQUEST_FAILURE, MetricUnit.Count, 1)
        tracer.put_annotation(telemetry.ANNOTATION_ERROR_CLASS, error_class)

    def cache_lookup(self, hit: bool) -> None:
        """Count one retrieval-cache lookup: RetrievalCacheHit 1 for a hit, 0 for a miss."""
        self.metric(telemetry.METRIC_RETRIEVAL_CACHE_HIT, MetricUnit.Count, int(hit))

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
        The log line carries what is no metric: prompt length, retrieval count and top score, the
        estimated cost (PRICE_TABLE) and the PII redactions.
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
        tokens = (
            (telemetry.METRIC_INPUT_TOKENS, MetricUnit.Count, completion.input_tokens),
            (telemetry.METRIC_OUTPUT_TOKENS, MetricUnit.Count, completion.output_tokens),
        )
        for name, unit, value in tokens:
            dimensioned_metrics.add(telemetry.DIM_MODEL_ID, model_id, name, unit, value)
        if guardrail is not None:
            self.guardrail(guardrail)
        if per_prompt_version:
            version = prompt.version
            for name, unit, value in (
                (telemetry.METRIC_REQUEST_SUCCESS, MetricUnit.Count, 1),
                (telemetry.METRIC_END_TO_END_LATENCY, MetricUnit.Milliseconds, end_to_end_ms),
                *tokens,
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

        texts, redactions = loggable_texts(settings.prompt_logging, question=request.question, answer=completion.text)
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
        """Emit the feedback score (its SampleCount is the number of answers scored)."""
        self.metric(telemetry.METRIC_FEEDBACK_SCORE, MetricUnit.NoUnit, feedback.score)


class NullRecorder(Recorder):
    """INSTRUMENTATION=off: no subsegments, metrics or summary logs; responses are unchanged."""

    _stage = nullcontext(NULL_SEGMENT)

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

    def cache_lookup(self, hit: bool) -> None:
        """Do nothing."""

    def ask_succeeded(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing."""

    def feedback(self, feedback: FeedbackRequest) -> None:
        """Do nothing."""


NULL_RECORDER = NullRecorder()


def loggable_texts(mode: str, **texts: str) -> tuple[dict[str, str], int]:
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


def flush() -> None:
    """Print this invocation's EMF blobs; an empty main blob is skipped, not warned about."""
    try:
        if metrics.metric_set:
            metrics.flush_metrics()
        else:
            metrics.clear_metrics()
        dimensioned_metrics.flush()
    except Exception:
        logger.exception("Failed to publish metrics")
        clear()


def clear() -> None:
    """Drop unflushed metrics."""
    metrics.clear_metrics()
    dimensioned_metrics.clear()
