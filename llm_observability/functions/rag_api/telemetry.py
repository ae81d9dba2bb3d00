"""Telemetry vocabulary shared by the RAG Lambda and the CDK constructs.

This file is the single source of truth for metric names, dimension names and
stage names.  The Lambda imports it as a sibling module (``import telemetry``);
the CDK side imports the very same file as
``llm_observability.functions.rag_api.telemetry``.  Dashboards, alarms and the
handler therefore cannot disagree on a name.

Keep this module free of third-party imports: it runs inside Lambda and inside
``cdk synth``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"

# --- Dimensions (low cardinality only) -------------------------------------
DIM_SERVICE = "service"  # Powertools adds it to every metric
DIM_MODEL_ID = "ModelId"
DIM_STAGE = "Stage"
DIM_ERROR_CLASS = "ErrorClass"
DIM_PROMPT_VERSION = "PromptVersion"

# --- Pipeline stages (the seed's RAG flow), each one an X-Ray subsegment ----
STAGE_PREPROCESS = "QueryPreprocessing"
STAGE_RETRIEVAL = "Retrieval"
STAGE_PROMPT_ASSEMBLY = "PromptAssembly"
STAGE_INFERENCE = "Inference"
STAGE_POSTPROCESS = "PostProcessing"
STAGES: tuple[str, ...] = (
    STAGE_PREPROCESS,
    STAGE_RETRIEVAL,
    STAGE_PROMPT_ASSEMBLY,
    STAGE_INFERENCE,
    STAGE_POSTPROCESS,
)

# --- Metric names ------------------------------------------------------------
# Latency: one metric name, the stage as a dimension (Stage=<one of STAGES>).
METRIC_STAGE_LATENCY = "StageLatency"  # Milliseconds, dims: service, Stage
METRIC_END_TO_END_LATENCY = "EndToEndLatency"  # Milliseconds, dims: service
METRIC_INFERENCE_LATENCY = "InferenceLatency"  # Milliseconds, dims: service, ModelId

# Outcome
METRIC_REQUEST_SUCCESS = "RequestSuccess"  # Count (1 per successful /ask), dims: service
METRIC_REQUEST_FAILURE = "RequestFailure"  # Count, dims: service, ErrorClass

# Tokens and cost (dims: service, ModelId)
METRIC_INPUT_TOKENS = "InputTokens"
METRIC_OUTPUT_TOKENS = "OutputTokens"
METRIC_TOTAL_TOKENS = "TotalTokens"
METRIC_ESTIMATED_COST = "EstimatedCostUSD"  # None unit, US dollars

# Prompt properties and retrieval quality (dims: service)
METRIC_PROMPT_LENGTH = "PromptLength"  # Count of characters of the assembled prompt
METRIC_RETRIEVED_PASSAGES = "RetrievedPassages"  # Count
METRIC_TOP_RETRIEVAL_SCORE = "TopRetrievalScore"  # None, 0..1
METRIC_RETRIEVAL_CACHE_HIT = "RetrievalCacheHit"  # Count
METRIC_RETRIEVAL_CACHE_MISS = "RetrievalCacheMiss"  # Count

# Human feedback (dims: service)
METRIC_FEEDBACK_SCORE = "FeedbackScore"  # None, 1..5
METRIC_FEEDBACK_COUNT = "FeedbackCount"  # Count

# Redaction (dims: service)
METRIC_REDACTIONS = "PiiRedactions"  # Count of redacted spans in logged text

# --- Error classes (value of the ErrorClass dimension) -----------------------
ERROR_VALIDATION = "Validation"  # 400: malformed JSON, missing or bad fields
ERROR_THROTTLING = "Throttling"  # 429: Bedrock throttled us
ERROR_TIMEOUT = "Timeout"  # 504 from us: model or retrieval timed out
ERROR_MODEL = "ModelError"  # 502: model or service error
ERROR_UNAVAILABLE = "ServiceUnavailable"  # 503
ERROR_ACCESS_DENIED = "AccessDenied"  # 500 generic: our permissions are wrong
ERROR_INTERNAL = "Internal"  # 500 generic: anything else
ERROR_CLASSES: tuple[str, ...] = (
    ERROR_VALIDATION,
    ERROR_THROTTLING,
    ERROR_TIMEOUT,
    ERROR_MODEL,
    ERROR_UNAVAILABLE,
    ERROR_ACCESS_DENIED,
    ERROR_INTERNAL,
)

# --- Logging modes for prompt / response text --------------------------------
PROMPT_LOGGING_FULL = "full"
PROMPT_LOGGING_REDACTED = "redacted"
PROMPT_LOGGING_NONE = "none"
PROMPT_LOGGING_MODES: tuple[str, ...] = (
    PROMPT_LOGGING_FULL,
    PROMPT_LOGGING_REDACTED,
    PROMPT_LOGGING_NONE,
)

# --- Environment variables the function reads --------------------------------
ENV_MODEL_ID = "MODEL_ID"
ENV_KNOWLEDGE_BASE_ID = "KNOWLEDGE_BASE_ID"
ENV_RETRIEVAL_TOP_K = "RETRIEVAL_TOP_K"
ENV_PROMPT_LOGGING = "PROMPT_LOGGING"
ENV_PRICE_TABLE = "PRICE_TABLE"
ENV_PROMPT_TEMPLATE_VERSION = "PROMPT_TEMPLATE_VERSION"
ENV_CACHE_TTL_SECONDS = "RETRIEVAL_CACHE_TTL_SECONDS"
ENV_CACHE_MAX_ENTRIES = "RETRIEVAL_CACHE_MAX_ENTRIES"
ENV_MAX_QUESTION_CHARS = "MAX_QUESTION_CHARS"
ENV_INSTRUMENTATION = "INSTRUMENTATION"  # "on" (default) or "off" (benchmarks only)

# --- Powertools' own environment variables (read by the function) ------------
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE
DEFAULT_SERVICE_NAME = "rag-api"  # used when POWERTOOLS_SERVICE_NAME is unset
