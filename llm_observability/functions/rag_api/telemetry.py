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
DIM_PROMPT_VERSION = "PromptVersion"
DIM_GUARDRAIL_POLICY = "GuardrailPolicy"  # one of GUARDRAIL_POLICIES

# X-Ray annotation of a failed request (one of ERROR_CLASSES). Not a metric dimension: the error class of a
# failure is in its log line (``error_class``), which Logs Insights groups by.
ANNOTATION_ERROR_CLASS = "ErrorClass"

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
# Every custom metric series costs money each month, so only what an alarm needs or what splits this
# application from others sharing the account is a metric. Model latency is AWS/Bedrock's free
# InvocationLatency (and StageLatency{Stage=Inference}); total tokens and cost are metric math over the
# token metrics; prompt length, retrieved passages, top retrieval score, PII redactions and error classes
# are fields of the structured log lines, read by Logs Insights.

# Latency: one metric name, the stage as a dimension (Stage=<one of STAGES>).
METRIC_STAGE_LATENCY = "StageLatency"  # Milliseconds, dims: service, Stage
METRIC_END_TO_END_LATENCY = "EndToEndLatency"  # Milliseconds, dims: service

# Outcome
METRIC_REQUEST_SUCCESS = "RequestSuccess"  # Count (1 per successful /ask), dims: service
METRIC_REQUEST_FAILURE = "RequestFailure"  # Count (1 per request failed by one of FAILURE_ERROR_CLASSES), dims: service

# Tokens (dims: service, ModelId): they split applications per model, which AWS/Bedrock's per-account
# InputTokenCount/OutputTokenCount cannot. Cost is metric math over them with the model's price.
METRIC_INPUT_TOKENS = "InputTokens"
METRIC_OUTPUT_TOKENS = "OutputTokens"

# Retrieval (dims: service)
METRIC_RETRIEVAL_CACHE_HIT = "RetrievalCacheHit"  # Count, 1 (hit) or 0 (miss) per lookup: Average = hit rate

# Human feedback (dims: service)
METRIC_FEEDBACK_SCORE = "FeedbackScore"  # None, 1..5 (SampleCount = feedback received)

# Bedrock Guardrail (only when GUARDRAIL_ID/GUARDRAIL_VERSION are set)
METRIC_GUARDRAIL_INTERVENED = "GuardrailIntervened"  # Count, 1 or 0 per answered /ask (Average = rate), dims: service
METRIC_GUARDRAIL_POLICY_INTERVENED = "GuardrailPolicyIntervened"  # Count, dims: service, GuardrailPolicy
METRIC_GUARDRAIL_GROUNDING_SCORE = "GuardrailGroundingScore"  # None, 0..1, dims: service
METRIC_GUARDRAIL_RELEVANCE_SCORE = "GuardrailRelevanceScore"  # None, 0..1, dims: service

# Managed configuration lookups (dims: service); one per failed lookup, retried after the cache TTL
METRIC_PROMPT_LOOKUP_FAILURE = "PromptLookupFailure"  # Count (PROMPT_PARAMETER_NAME)
METRIC_MODEL_LOOKUP_FAILURE = "ModelLookupFailure"  # Count (MODEL_PARAMETER_NAME)

# Per prompt version (dims: service, PromptVersion; only when PROMPT_PARAMETER_NAME is set): the same
# metric names as above, so prompt versions can be compared side by side.
PROMPT_VERSION_METRICS: tuple[str, ...] = (
    METRIC_REQUEST_SUCCESS,
    METRIC_END_TO_END_LATENCY,
    METRIC_INPUT_TOKENS,
    METRIC_OUTPUT_TOKENS,
    METRIC_GUARDRAIL_INTERVENED,  # only when a guardrail is configured
)

# --- Guardrail policies (value of the GuardrailPolicy dimension) --------------
# The policy keys of a Converse guardrail trace assessment (GuardrailAssessment).
GUARDRAIL_POLICY_CONTENT = "contentPolicy"
GUARDRAIL_POLICY_TOPIC = "topicPolicy"
GUARDRAIL_POLICY_WORD = "wordPolicy"
GUARDRAIL_POLICY_SENSITIVE_INFORMATION = "sensitiveInformationPolicy"
GUARDRAIL_POLICY_CONTEXTUAL_GROUNDING = "contextualGroundingPolicy"
GUARDRAIL_POLICIES: tuple[str, ...] = (
    GUARDRAIL_POLICY_CONTENT,
    GUARDRAIL_POLICY_TOPIC,
    GUARDRAIL_POLICY_WORD,
    GUARDRAIL_POLICY_SENSITIVE_INFORMATION,
    GUARDRAIL_POLICY_CONTEXTUAL_GROUNDING,
)

# --- Prompt versions (value of the PromptVersion dimension) ------------------
# Built-in templates are "v1", ...; a Prompt Management version N is "managed-N".
PROMPT_VERSION_MANAGED_PREFIX = "managed-"

# --- Error classes (``error_class`` of a failure's log line, the ErrorClass X-Ray annotation) ---------
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
# The classes counted as RequestFailure: the service's own failures. Validation errors (the caller's input,
# HTTP 400/404/405) are not failures of the service and must not page; API Gateway's free 4XXError shows them.
FAILURE_ERROR_CLASSES: tuple[str, ...] = tuple(c for c in ERROR_CLASSES if c != ERROR_VALIDATION)

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
# Optional (Level 2 / Level 3); unset means off.
ENV_GUARDRAIL_ID = "GUARDRAIL_ID"  # guardrail id or ARN; set together with GUARDRAIL_VERSION
ENV_GUARDRAIL_VERSION = "GUARDRAIL_VERSION"  # a version number or DRAFT
ENV_PROMPT_PARAMETER_NAME = "PROMPT_PARAMETER_NAME"  # SSM String parameter: a prompt version ARN
ENV_PROMPT_CACHE_TTL_SECONDS = "PROMPT_CACHE_TTL_SECONDS"  # default 60
ENV_MODEL_PARAMETER_NAME = "MODEL_PARAMETER_NAME"  # SSM String parameter: the model id to use
ENV_MODEL_CACHE_TTL_SECONDS = "MODEL_CACHE_TTL_SECONDS"  # default 60

# --- Powertools' own environment variables (read by the function) ------------
ENV_CODEGURU_PROFILING_GROUP = "AWS_CODEGURU_PROFILER_GROUP_NAME"  # Level 3: start the CodeGuru Profiler agent
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE
DEFAULT_SERVICE_NAME = "rag-api"  # used when POWERTOOLS_SERVICE_NAME is unset
