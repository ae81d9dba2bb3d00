"""llm_observability_runtime: the library's app-level metrics and logs for any Python Lambda that calls Bedrock.

Shipped as a Lambda layer (``python/llm_observability_runtime``, built by the ``LlmInstrumentation``
construct); the source is ``llm_observability/runtime``. Standard library and boto3 only; OpenTelemetry
spans when the OpenTelemetry API is importable. Metrics are CloudWatch EMF lines the runtime writes itself
(no Powertools needed), with the names of :mod:`.telemetry`; logs are JSON lines.

Explicit use::

    import llm_observability_runtime as llmobs
    llmobs.instrument()                      # idempotent; every boto3 client, created before or after

    @llmobs.observe                          # EndToEndLatency, RequestSuccess/RequestFailure, one flush
    def handler(event, context):
        with llmobs.stage("Retrieval"):      # StageLatency{Stage=Retrieval} for any code of yours
            ...
        llmobs.feedback(request_id, 5, comment="great")   # FeedbackScore, FeedbackCount, a log line

Every ``bedrock-runtime`` Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream call and
every ``bedrock-agent-runtime`` Retrieve and RetrieveAndGenerate call then emits StageLatency{Stage}
(Inference or Retrieval), InferenceLatency, InputTokens, OutputTokens, TotalTokens and EstimatedCostUSD
per ModelId (tokens of InvokeModel from the ``X-Amzn-Bedrock-*-Token-Count`` headers, of streams from
their final metadata event), PromptLength, RetrievedPassages, TopRetrievalScore, RequestFailure{ErrorClass}
on failure (and RequestSuccess when no ``observe``d handler counts requests), and one ``bedrock_call``
log line: model, tokens, cost, latency, error class, request ids and - per the prompt-logging mode - the
question and answer. Streams are watched as the user consumes them, never buffered. A failure of the
instrumentation is counted (InstrumentationErrors) and logged once; the user's call, result and
exceptions are never changed. Without ``observe``, call ``flush()`` or let each call flush its own
metrics (it does when no invocation is open).

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
  accepted too); inference-profile ids and ARNs find the price of their base model. Default: no cost.
- ``LLMOBS_ORIGINAL_HANDLER`` / ``LLMOBS_NEXT_WRAPPER``: zero-code use, set by or for the exec wrapper.

A bad environment variable falls back to its default and is logged once; a bad argument raises ValueError.
Inside the package only relative imports are used, so it works as ``llm_observability_runtime`` (layer)
and as ``llm_observability.runtime`` (the CDK side imports :mod:`.telemetry` from it). The functions are
loaded on first use, so importing the package for its names costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import feedback, flush, instrument, instrumented, observe, stage, uninstrument

_EXPORTS = {
    "instrument": "api",
    "uninstrument": "api",
    "instrumented": "api",
    "observe": "api",
    "stage": "api",
    "feedback": "api",
    "flush": "api",
}

__all__ = ["feedback", "flush", "instrument", "instrumented", "observe", "stage", "uninstrument"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
