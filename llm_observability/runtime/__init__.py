"""llm_observability_runtime: the library's app-level metrics and logs for any Python Lambda that calls Bedrock.

Shipped as a Lambda layer (``python/llm_observability_runtime``, built by the ``LlmInstrumentation``
construct); the source is ``llm_observability/runtime``. Standard library and boto3 only; OpenTelemetry
spans when the OpenTelemetry API is importable. Metrics are CloudWatch EMF lines the runtime writes itself
(no Powertools needed), with the names of :mod:`.telemetry`; logs are JSON lines.

Explicit use::

    import llm_observability_runtime as llmobs
    llmobs.instrument()                      # idempotent; every boto3 client, created before or after

    @llmobs.observe                          # EndToEndLatency, RequestSuccess or RequestFailure, one flush
    def handler(event, context):
        with llmobs.stage("Retrieval") as span:   # StageLatency{Stage=Retrieval} for any code of yours
            span.set_attribute("app.cache_hit", False)   # an attribute of the stage's span (tracing on)
            ...
        llmobs.tenant(llmobs.tenant_of(event, "x-tenant-id"))   # header, else IAM caller, else "anonymous"
        llmobs.prompt_version("v3")          # the prompt version answering: on the call and feedback lines
        llmobs.record_error("Throttling")    # error.type of the request span, for an error you answer with
        llmobs.cache_lookup(hit=True)        # RetrievalCacheHit 1 (0 for a miss), for a cache of yours
        llmobs.metric("Refusals", 1, "Count", ModelId=model)   # a metric of your own, with dimensions
        llmobs.feedback(request_id, 5, comment="great")   # FeedbackScore and a log line

The metrics are the library's contract (:mod:`.telemetry`), which the Level 1 dashboards and alarms read:
every ``bedrock-runtime`` Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream call and
every ``bedrock-agent-runtime`` Retrieve and RetrieveAndGenerate call emits StageLatency{service, Stage}
(Inference or Retrieval) and, for model invocations, InputTokens and OutputTokens{service, ModelId} (of
InvokeModel from the ``X-Amzn-Bedrock-*-Token-Count`` headers, of streams from their final metadata event);
each observed invocation emits EndToEndLatency and RequestSuccess or RequestFailure{service} (server-side
failures only: a Validation error or a 4xx answer other than 429 is neither). Everything else goes into the
one ``bedrock_call`` log line per call, which Logs Insights reads: model, tokens, estimated cost, latencies,
error class, prompt properties and length, the prompt version, the retrieved passages (``retrieval.passages``: at
most 10, each its id and score and - unless prompt logging is ``none`` - a 300-character excerpt, redacted under
``redacted``), PII redactions, request ids and - per the prompt-logging mode - the question and answer. Streams
are watched as the user consumes them, never buffered. A failure of the instrumentation is counted (InstrumentationErrors, written only then) and logged
once; the user's call, result and exceptions are never changed. Without ``observe``, each call counts its
own RequestSuccess or RequestFailure and flushes its own metrics; ``flush()`` prints what is buffered.

Usage per tenant: ``tenant(key)`` names who the request's calls are for (``tenant_of(event, header)`` reads it from
an API Gateway event: the header, else the IAM caller, else ``anonymous``; a bad header value raises
``InvalidTenant``, a ValueError). Converse calls without ``requestMetadata`` then carry ``{"tenant": key}`` (the
model invocation log records it; InvokeModel calls the same as the ``X-Amzn-Bedrock-Request-Metadata`` header,
where the client's botocore has it) and every ``bedrock_call`` line carries ``tenant``. A tenant's application
inference profile is reported as the model it copies after ``alias_model(profile_arn, model_id)``.

Traces, when the OpenTelemetry API is importable and a tracer provider is set (the ADOT layer's, or the user's
own): a request span per observed invocation (the Lambda instrumentation's SERVER span, enriched, else the
runtime's own, whose parent is the event's ``X-Amzn-Trace-Id``), an INTERNAL span per ``stage()`` and ONE span
per Bedrock call (the botocore instrumentation's, enriched, when it is on; else the runtime's own CLIENT span,
which also records the ``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration`` histograms). Call
spans carry the OpenTelemetry GenAI attributes (``telemetry.SPAN_*``); message content only when prompt logging
is ``full``. Without the API all of it is skipped at the cost of a function call.

Zero-code use: set ``AWS_LAMBDA_EXEC_WRAPPER=/opt/llmobs-instrument`` (``LlmInstrumentation(zero_code=True)``
does): the unmodified handler runs observed and instrumented (see ``exec_wrapper`` for chaining with
``/opt/otel-instrument`` through ``LLMOBS_NEXT_WRAPPER``).

Environment variables (``instrument()`` arguments win over them):

- ``LLMOBS_SERVICE_NAME``: the ``service`` dimension. Default: POWERTOOLS_SERVICE_NAME, else the
  function name (AWS_LAMBDA_FUNCTION_NAME), else ``llm-app``.
- ``LLMOBS_NAMESPACE``: the CloudWatch namespace. Default: ``LLMObservability``.
- ``LLMOBS_PROMPT_LOGGING``: ``full``, ``redacted`` (PII replaced by tokens) or ``none`` (no text).
  Default: ``redacted``.
- ``LLMOBS_PRICES``: JSON ``{model id: {"input_per_1k": USD, "output_per_1k": USD}}`` (``input``/``output``
  accepted too) for the log lines' estimated cost; inference-profile ids and ARNs find the price of their
  base model. Default: no cost.
- ``LLMOBS_ORIGINAL_HANDLER`` / ``LLMOBS_NEXT_WRAPPER``: zero-code use, set by or for the exec wrapper.

A bad environment variable falls back to its default and is logged once; a bad argument raises ValueError.
Inside the package only relative imports are used, so it works as ``llm_observability_runtime`` (layer)
and as ``llm_observability.runtime`` (the CDK side imports :mod:`.telemetry` from it). The functions, and the
``telemetry``, ``redaction`` and ``extract`` modules (``from llm_observability_runtime import telemetry``), are
loaded on first use, so importing the package for its names costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import extract, redaction, telemetry
    from .api import (
        alias_model, cache_lookup, feedback, flush, instrument, instrumented, metric, observe, prompt_version,
        record_error, stage, tenant, uninstrument,
    )  # fmt: skip
    from .tenancy import InvalidTenant, tenant_of

_EXPORTS = {
    "instrument": "api",
    "uninstrument": "api",
    "instrumented": "api",
    "observe": "api",
    "stage": "api",
    "record_error": "api",
    "metric": "api",
    "cache_lookup": "api",
    "feedback": "api",
    "flush": "api",
    "tenant": "api",
    "prompt_version": "api",
    "alias_model": "api",
    "tenant_of": "tenancy",
    "InvalidTenant": "tenancy",
    "active_model_id": "models",  # opt-in failover: the Workload's model parameter, cached (models.py)
}

#: Modules of the package reachable as attributes (the vocabulary, the redaction of the log lines, and the readers of
#: Bedrock responses, whose passage rules the reference app's log line shares).
_MODULES = frozenset({"telemetry", "redaction", "extract"})

__all__ = [
    "InvalidTenant", "alias_model", "cache_lookup", "extract", "feedback", "flush", "instrument", "instrumented",
    "metric", "observe", "prompt_version", "record_error", "redaction", "stage", "telemetry", "tenant", "tenant_of",
    "uninstrument",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_MODULES})
