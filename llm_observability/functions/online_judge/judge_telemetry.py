"""Telemetry vocabulary of the online judge: metric, dimension, failure-reason and environment variable names.

The judge's metrics sit next to the application's in the workload's namespace, so the dimension names equal
those of ``llm_observability/runtime/telemetry.py`` (a test checks it). Keep this module free of third-party
imports: it runs inside Lambda and is imported by the CDK side as
``llm_observability.functions.online_judge.judge_telemetry``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"  # the runtime's default namespace
DEFAULT_SERVICE_NAME = "rag-api"  # the runtime's default service name

# --- Dimensions (identical to the runtime's) ---------------------------------------------------------------------
DIM_SERVICE = "service"
DIM_MODEL_ID = "ModelId"  # the model that ANSWERED (not the judge model)
DIM_PROMPT_VERSION = "PromptVersion"
#: The dimension sets of the score metrics: per answering model and prompt version, and the whole service.
VERSION_DIMENSIONS: tuple[str, ...] = (DIM_SERVICE, DIM_MODEL_ID, DIM_PROMPT_VERSION)
SERVICE_DIMENSIONS: tuple[str, ...] = (DIM_SERVICE,)

# --- Metrics: both dimension sets, one value per judged answer, timestamped at the answer ---------------------------
METRIC_RELEVANCE = "JudgeRelevance"  # None, 0..1 = (score - 1) / 4
METRIC_FAITHFULNESS = "JudgeFaithfulness"  # None, 0..1; only answers with retrieved passages
METRIC_COHERENCE = "JudgeCoherence"  # None, 0..1
METRIC_HARMFUL = "JudgeHarmful"  # Percent: 100 for a harmful answer, 0 otherwise; Average = share
METRIC_JUDGED_ANSWERS = "JudgedAnswers"  # Count of judged answers (one value per blob)
SCORE_METRICS: tuple[str, ...] = (
    METRIC_RELEVANCE,
    METRIC_FAITHFULNESS,
    METRIC_COHERENCE,
    METRIC_HARMFUL,
    METRIC_JUDGED_ANSWERS,
)

# --- Metrics: dimension service only, one value per run (timestamped at the run) -------------------------------------
METRIC_INPUT_TOKENS = "JudgeInputTokens"  # Count: the judge model's input tokens of the run (the monthly cap reads it)
METRIC_OUTPUT_TOKENS = "JudgeOutputTokens"  # Count: its output tokens
METRIC_FAILURES = "JudgeFailures"  # Count of sampled answers left unscored (0 included)
METRIC_CAP_REACHED = "JudgeCapReached"  # 1 when the monthly token cap stopped the run, else 0
RUN_METRICS: tuple[str, ...] = (METRIC_INPUT_TOKENS, METRIC_OUTPUT_TOKENS, METRIC_FAILURES, METRIC_CAP_REACHED)

#: The metric of each rubric criterion that has one (``reason`` has none).
CRITERION_METRICS: dict[str, str] = {
    "relevance": METRIC_RELEVANCE,
    "faithfulness": METRIC_FAITHFULNESS,
    "coherence": METRIC_COHERENCE,
    "harmful": METRIC_HARMFUL,
}

# --- Failure reasons (the ``reason`` field of "Judge call failed" log records) --------------------------------------
FAILURE_MALFORMED_OUTPUT = "MalformedOutput"  # no tool call or JSON, a criterion missing or out of range, max_tokens
FAILURE_THROTTLED = "Throttled"  # Bedrock throttled the call (after the client's retry)
FAILURE_TIMEOUT = "Timeout"  # no response within the client's timeouts
FAILURE_MODEL_ERROR = "ModelError"  # any other Bedrock error (model error, validation, access denied, network)
FAILURE_REASONS: tuple[str, ...] = (FAILURE_MALFORMED_OUTPUT, FAILURE_THROTTLED, FAILURE_TIMEOUT, FAILURE_MODEL_ERROR)

# --- Log lines -----------------------------------------------------------------------------------------------------
LOG_MESSAGE_JUDGE = "judge_result"  # one per judged answer: ids, model, versions, scores, reason, tokens; no text

# --- Environment variables the function reads --------------------------------------------------------------------
ENV_LOG_GROUP_NAMES = "LOG_GROUP_NAMES"  # required: JSON list of the application's log group names (1-50)
ENV_LOG_SCHEMA = "LOG_SCHEMA"  # required: LogSchema.document() (field names of the app's log line)
ENV_SAMPLE_PERCENT = "SAMPLE_PERCENT"  # share of answered requests judged, above 0 to 100; default 10
ENV_MAX_PER_RUN = "MAX_PER_RUN"  # at most this many judge calls per run, 1-500; default 50
ENV_WINDOW_MINUTES = "WINDOW_MINUTES"  # the run's window (its schedule), 5-60 minutes; default 15
ENV_JUDGE_MODEL_ID = "JUDGE_MODEL_ID"  # required: the Bedrock model (or inference profile) that judges
ENV_JUDGE_PRICE = "JUDGE_PRICE"  # JSON {"input_per_1k", "output_per_1k"} in USD, or {} (unpriced); default {}
ENV_MONTHLY_TOKEN_CAP = "MONTHLY_TOKEN_CAP"  # judge input + output tokens per calendar month (UTC); default 2,000,000
ENV_JUDGE_RUBRIC = "JUDGE_RUBRIC"  # JSON rubric; default rubric.json next to the handler
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension (the workload)
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE

#: Correlation-id prefix of quality-canary requests (``canary_telemetry.REQUEST_ID_PREFIX``): never judged.
CANARY_REQUEST_ID_PREFIX = "canary-"
#: The prompt version of an answer whose log line names none (the canary's ``canary_contract.UNVERSIONED``).
UNVERSIONED = "unversioned"
#: The model of an answer whose log line names none.
UNKNOWN_MODEL = "unknown"
