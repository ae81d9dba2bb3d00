"""Telemetry vocabulary of the library: metric, dimension, stage, error-class and log names, and prompt-logging modes.

The single definition of every name the library emits or reads. The runtime (``llm_observability_runtime``,
this package) emits these metrics; the reference RAG function imports this module from the runtime layer
(``from llm_observability_runtime import telemetry``); the CDK side (dashboards, alarms, filters, queries)
imports it as ``llm_observability.runtime.telemetry``. Dashboards, alarms and the code that emits can therefore
never disagree on a name.

Keep this module free of third-party imports: it runs inside Lambda and inside ``cdk synth``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"

# --- Dimensions (low cardinality only) -------------------------------------
DIM_SERVICE = "service"  # every metric has it (the runtime adds it; value: the service name)
DIM_MODEL_ID = "ModelId"
DIM_STAGE = "Stage"
DIM_PROMPT_VERSION = "PromptVersion"
DIM_GUARDRAIL_POLICY = "GuardrailPolicy"  # one of GUARDRAIL_POLICIES

# --- Pipeline stages (the seed's RAG flow), each one a span (SPAN_STAGE) ----
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
# application from others sharing the account is a metric (the runtime emits nothing else). Model latency is
# AWS/Bedrock's free InvocationLatency (and StageLatency{Stage=Inference}); total tokens and cost are metric
# math over the token metrics; prompt length, retrieved passages, top retrieval score, PII redactions and error
# classes are fields of the structured log lines, read by Logs Insights.

# Latency: one metric name, the stage as a dimension (Stage=<one of STAGES>).
METRIC_STAGE_LATENCY = "StageLatency"  # Milliseconds, dims: service, Stage
METRIC_END_TO_END_LATENCY = "EndToEndLatency"  # Milliseconds, dims: service

# Outcome
METRIC_REQUEST_SUCCESS = "RequestSuccess"  # Count (1 per observed invocation without a failure), dims: service
METRIC_REQUEST_FAILURE = "RequestFailure"  # Count (1 per invocation failed by a FAILURE_ERROR_CLASSES), dims: service

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

# --- Error classes (``error_class`` of a failure's log line, ``error.type`` of a failed request's span) ---------
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
# HTTP 400/404/405, any 4xx answer but 429) are not failures of the service and must not page; API Gateway's
# free 4XXError shows them.
FAILURE_ERROR_CLASSES: tuple[str, ...] = tuple(c for c in ERROR_CLASSES if c != ERROR_VALIDATION)

# --- Span attributes (OpenTelemetry) -------------------------------------------------------------------------------
# One request span per invocation (``observe``), one INTERNAL span per stage, one span per Bedrock call (the runtime's
# own CLIENT span, or the botocore instrumentation's span enriched). Names of the OpenTelemetry GenAI semantic
# conventions where they have one; ``llmobs.*`` for what only this library knows (low cardinality, no content).
SPAN_GEN_AI_OPERATION = "gen_ai.operation.name"  # chat | text_completion | retrieval (GEN_AI_OPERATION_*)
SPAN_GEN_AI_PROVIDER = "gen_ai.provider.name"  # GEN_AI_PROVIDER_BEDROCK
SPAN_GEN_AI_SYSTEM = "gen_ai.system"  # the deprecated name of the provider, still read by ADOT's GenAI views
SPAN_GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
SPAN_GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
SPAN_GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
SPAN_GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
SPAN_GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
SPAN_GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
SPAN_GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"  # a list of strings
# Message content (JSON strings in the conventions' format), only when prompt logging is PROMPT_LOGGING_FULL
SPAN_GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
SPAN_GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
SPAN_ERROR_TYPE = "error.type"  # an AWS error code, an exception class, an ERROR_CLASSES value or an HTTP status
SPAN_AWS_REQUEST_ID = "aws.request_id"  # the name the botocore instrumentation uses
SPAN_RPC_METHOD = "rpc.method"  # the Bedrock operation (Converse, Retrieve, ...), as the botocore instrumentation
SPAN_KNOWLEDGE_BASE_ID = "aws.bedrock.knowledge_base.id"  # the name ADOT's bedrock-agent-runtime extension uses
SPAN_RETRIEVAL_PASSAGES = "llmobs.retrieval.passages"  # passages a Retrieve returned / references RAG cited
SPAN_RETRIEVAL_TOP_SCORE = "llmobs.retrieval.top_score"
SPAN_STAGE = "llmobs.stage"  # the stage name (one of STAGES for the reference app) on a stage span
SPAN_CACHE_HIT = "llmobs.retrieval.cache_hit"  # bool, on the Retrieval stage span
SPAN_PROMPT_VERSION = "llmobs.prompt.version"  # on the PromptAssembly stage span (managed prompts)
SPAN_MODEL_ID = "llmobs.model.id"  # the model the Inference stage calls (managed model included)
SPAN_GUARDRAIL_INTERVENED = "llmobs.guardrail.intervened"  # bool, on the PostProcessing stage span
SPAN_INVOCATION_ID = "faas.invocation_id"  # the Lambda request id, on the runtime's own request span
SPAN_HTTP_STATUS = "http.response.status_code"  # of an API Gateway proxy answer, on the runtime's own request span
GEN_AI_PROVIDER_BEDROCK = "aws.bedrock"
GEN_AI_OPERATION_CHAT = "chat"
GEN_AI_OPERATION_TEXT_COMPLETION = "text_completion"
GEN_AI_OPERATION_RETRIEVAL = "retrieval"
# OpenTelemetry metrics of the GenAI conventions (histograms), recorded for the runtime's own call spans
OTEL_METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"  # {token}, by gen_ai.token.type (input | output)
OTEL_METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"  # s
OTEL_ATTR_TOKEN_TYPE = "gen_ai.token.type"

# --- Logging modes for prompt / response text --------------------------------
PROMPT_LOGGING_FULL = "full"
PROMPT_LOGGING_REDACTED = "redacted"
PROMPT_LOGGING_NONE = "none"
PROMPT_LOGGING_MODES: tuple[str, ...] = (
    PROMPT_LOGGING_FULL,
    PROMPT_LOGGING_REDACTED,
    PROMPT_LOGGING_NONE,
)

# --- Environment variables the reference RAG function reads -----------------
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
# Usage per tenant (Level 1)
ENV_TENANT_HEADER = "TENANT_HEADER"  # request header naming the tenant, lowercase; default x-tenant-id
ENV_TENANT_PROFILES = "TENANT_PROFILES"  # JSON {tenant id: application inference profile ARN}; default none

# --- Powertools' own environment variables (read by the function) ------------
ENV_CODEGURU_PROFILING_GROUP = "AWS_CODEGURU_PROFILER_GROUP_NAME"  # Level 3: start the CodeGuru Profiler agent
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE
DEFAULT_SERVICE_NAME = "rag-api"  # used when POWERTOOLS_SERVICE_NAME is unset

# --- Runtime for users' functions (llm_observability_runtime) ------------------
# The runtime's own health (dims: service): 1 per failure of the instrumentation itself (a response it could not
# read, a broken tracer), never of the user's call, which goes on unchanged. Written only when that happens, so it
# costs a series only then; no dashboard or alarm reads it: search the namespace for it, the warning log line
# ("llm_observability_runtime instrumentation failed") says where.
METRIC_INSTRUMENTATION_ERRORS = "InstrumentationErrors"

# Environment variables the runtime reads (documented in the package docstring)
ENV_RUNTIME_SERVICE_NAME = "LLMOBS_SERVICE_NAME"  # value of the service dimension
ENV_RUNTIME_NAMESPACE = "LLMOBS_NAMESPACE"  # default DEFAULT_NAMESPACE
ENV_RUNTIME_PROMPT_LOGGING = "LLMOBS_PROMPT_LOGGING"  # one of PROMPT_LOGGING_MODES, default redacted
ENV_RUNTIME_PRICES = "LLMOBS_PRICES"  # JSON {model id: {"input_per_1k": USD, "output_per_1k": USD}}: log line cost
ENV_RUNTIME_ORIGINAL_HANDLER = "LLMOBS_ORIGINAL_HANDLER"  # zero-code: the handler the exec wrapper replaced
ENV_RUNTIME_NEXT_WRAPPER = "LLMOBS_NEXT_WRAPPER"  # zero-code: the exec wrapper to run next (e.g. /opt/otel-instrument)
ENV_LAMBDA_EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"  # set by the construct for zero-code use
ENV_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"  # service name fallback
DEFAULT_RUNTIME_PROMPT_LOGGING = PROMPT_LOGGING_REDACTED

# Zero-code use: where the layer puts the exec wrapper, and the handler it points _HANDLER at
RUNTIME_PACKAGE = "llm_observability_runtime"
EXEC_WRAPPER_PATH = "/opt/llmobs-instrument"
WRAPPER_HANDLER = "llm_observability_runtime.wrapper.handler"

# Structured log lines of the runtime: one per Bedrock call, one per feedback() call.
LOG_MESSAGE_CALL = "bedrock_call"
LOG_MESSAGE_FEEDBACK = "feedback"  # also the reference app's POST /feedback line
LOG_FIELD_MESSAGE = "message"
LOG_FIELD_QUESTION = "question"  # the last user message (full or redacted; absent when prompt logging is none)
LOG_FIELD_ANSWER = "answer"  # the model's text (full or redacted; absent when prompt logging is none)
LOG_FIELD_MODEL = "model_id"
LOG_FIELD_ERROR_CLASS = "error_class"  # one of ERROR_CLASSES, null on success
LOG_FIELD_REQUEST_ID = "correlation_id"  # API Gateway request id, else Lambda request id, else null
REQUEST_METADATA_TENANT = "tenant"  # Bedrock requestMetadata key of the tenant (invocation log: requestMetadata.tenant)
LOG_FIELD_TENANT = "tenant"  # the request's tenant key (llmobs.tenant / the RAG function's TENANT_HEADER), when set
LOG_FIELD_OPERATION = "operation"  # the Bedrock operation of a bedrock_call line (Converse, InvokeModel, ...)
LOG_FIELD_OUTCOME = "outcome"  # success | failure | incomplete, on a bedrock_call line
LOG_OUTCOME_FAILURE = "failure"
LOG_FIELD_INPUT_TOKENS = "usage.input_tokens"  # dotted path in a bedrock_call line (and the RAG ask line)
LOG_FIELD_OUTPUT_TOKENS = "usage.output_tokens"

# Retrieval and prompt fields of the request log (the runtime's bedrock_call line and the RAG ask line), read by
# the Level 2 scheduled functions (online judge, feedback join, output drift) through Logs Insights.
LOG_FIELD_PASSAGES = "retrieval.passages"  # [{"id", "score", "excerpt"?}] in ranking order; ids are document locations
LOG_FIELD_PROMPT_VERSION = "prompt_version"  # the prompt version that answered (llmobs.prompt_version / PROMPT_VERSION)
LOG_FIELD_ANSWER_CHARS = "answer_chars"  # length of the answer in characters (logged in every prompt-logging mode)
MAX_LOGGED_PASSAGES = 10  # passages per line, the best first
PASSAGE_EXCERPT_CHARS = 300  # excerpt length per passage (redacted or full; absent when prompt logging is none)
MAX_PASSAGE_ID_CHARS = 2048  # a passage id (chunk id, document id or location) is cut to this length
LOG_MESSAGE_JUDGE = "judge_result"  # one line per answer the online judge scored (scores only, no text)
DIM_SEVERITY = "Severity"  # high | low | unclassified: the alarm severity of an incident-outcome metric
DIM_SIGNAL = "Signal"  # the output signal of a drift metric (AnswerLength, Refusal, Grounding, Judge*)
