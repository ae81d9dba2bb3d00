"""Telemetry vocabulary of the quality canary: metric, dimension and environment variable names.

The canary's metrics sit next to the RAG API's in the same namespace, so the
dimension names equal those of ``llm_observability/runtime/telemetry.py`` (a test
checks it).  Keep this module free of third-party imports: it runs inside
Lambda and can be imported by the CDK side as
``llm_observability.functions.quality_canary.canary_telemetry``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"  # the RAG API's default namespace
DEFAULT_SERVICE_NAME = "rag-api"  # the RAG API's default service name

# --- Dimensions (identical to the RAG API's) -----------------------------------------
DIM_SERVICE = "service"
DIM_MODEL_ID = "ModelId"
DIM_PROMPT_VERSION = "PromptVersion"

# --- Metrics: dims service, ModelId, PromptVersion; one value per scored question ------
METRIC_ROUGE_L = "QualityRougeL"  # None, 0..1 (ROUGE-L F-measure)
METRIC_BLEU = "QualityBleu"  # None, 0..100 (sentence BLEU)
METRIC_TOKEN_F1 = "QualityTokenF1"  # None, 0..1 (SQuAD token F1)
METRIC_ANSWER_LENGTH = "AnswerLength"  # Count of words
METRIC_REFUSAL_RATE = "RefusalRate"  # Percent: 100 for a refusal, 0 otherwise; Average = rate
METRIC_CANARY_QUESTIONS = "CanaryQuestions"  # Count of scored questions of the run (one value)

# --- Metrics: dims service only, one value per run --------------------------------------
METRIC_CANARY_FAILURES = "CanaryFailures"  # Count of questions that got no scorable answer (0 included)

VERSION_METRICS: tuple[str, ...] = (
    METRIC_ROUGE_L,
    METRIC_BLEU,
    METRIC_TOKEN_F1,
    METRIC_ANSWER_LENGTH,
    METRIC_REFUSAL_RATE,
    METRIC_CANARY_QUESTIONS,
)

# --- Failure reasons (the ``reason`` field of "Canary question failed" log records) ----
FAILURE_FUNCTION_ERROR = "FunctionError"  # the RAG function raised or timed out (Invoke FunctionError)
FAILURE_HTTP_STATUS = "HttpStatus"  # the RAG API answered with a status other than 200
FAILURE_MALFORMED_RESPONSE = "MalformedResponse"  # payload or body not the expected JSON
FAILURE_THROTTLED = "Throttled"  # Lambda Invoke was throttled
FAILURE_TIMEOUT = "Timeout"  # no Invoke response within the client's timeouts
FAILURE_INVOKE_ERROR = "InvokeError"  # any other Invoke error (permissions, missing function, network)
FAILURE_REASONS: tuple[str, ...] = (
    FAILURE_FUNCTION_ERROR,
    FAILURE_HTTP_STATUS,
    FAILURE_MALFORMED_RESPONSE,
    FAILURE_THROTTLED,
    FAILURE_TIMEOUT,
    FAILURE_INVOKE_ERROR,
)

# --- Environment variables the function reads ----------------------------------------
ENV_TARGET_FUNCTION_NAME = "TARGET_FUNCTION_NAME"  # required: RAG function name, ARN or alias ARN
ENV_GOLDEN_SET_PATH = "GOLDEN_SET_PATH"  # default: golden_set.json next to the handler
ENV_MAX_QUESTIONS = "MAX_QUESTIONS"  # default: every question of the golden set
ENV_PER_QUESTION_TIMEOUT = "PER_QUESTION_TIMEOUT"  # seconds, the Invoke read timeout; default 30
ENV_REQUEST_CONTRACT = "REQUEST_CONTRACT"  # JSON: how to ask the target (canary_contract); default POST /ask
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension (the workload)
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE

#: requestContext.requestId prefix of canary requests: the RAG API's correlation id.
REQUEST_ID_PREFIX = "canary"
