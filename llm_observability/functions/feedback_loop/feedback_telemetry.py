"""Telemetry vocabulary of the feedback join: metric, dimension, environment variable and review-object names.

The join's metrics sit next to the application's in the workload's namespace, so the dimension names equal
those of ``llm_observability/runtime/telemetry.py`` (a test checks it). Keep this module free of third-party
imports: it runs inside Lambda and is imported by the CDK side as
``llm_observability.functions.feedback_loop.feedback_telemetry``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"  # the RAG API's default namespace
DEFAULT_SERVICE_NAME = "rag-api"  # the RAG API's default service name

# --- Dimensions (identical to the application's) -----------------------------------------------
DIM_SERVICE = "service"
DIM_MODEL_ID = "ModelId"
DIM_PROMPT_VERSION = "PromptVersion"
#: PromptVersion of an answer whose line names no prompt version (or whose schema has no such field).
UNVERSIONED = "unversioned"
#: ModelId of an answer whose line names no usable model id.
UNKNOWN_MODEL = "unknown"

# --- Metrics, one value per joined rating, timestamped at the rating -----------------------------
# Dims {service, ModelId, PromptVersion}: the rated answer's model and prompt version.
METRIC_FEEDBACK_SCORE = "FeedbackScore"  # None, 1..5 (the runtime's own FeedbackScore has {service} only)
METRIC_NEGATIVE_FEEDBACK = "NegativeFeedback"  # Percent: 100 for score <= NEGATIVE_SCORE, else 0; Average = share
# Dims {service}: NegativeFeedback again (every joined rating, whatever the version), which the alarm reads.

# --- Metrics, dims {service}, one value per run (0 included) ----------------------------------
METRIC_FEEDBACK_UNMATCHED = "FeedbackUnmatched"  # Count of ratings whose answer line was not found
METRIC_REVIEW_WRITE_FAILURES = "ReviewWriteFailures"  # Count of review objects not written (review set on only)

#: (metric, dimension names) of every value the join emits.
EMITTED: tuple[tuple[str, frozenset[str]], ...] = (
    (METRIC_FEEDBACK_SCORE, frozenset({DIM_SERVICE, DIM_MODEL_ID, DIM_PROMPT_VERSION})),
    (METRIC_NEGATIVE_FEEDBACK, frozenset({DIM_SERVICE, DIM_MODEL_ID, DIM_PROMPT_VERSION})),
    (METRIC_NEGATIVE_FEEDBACK, frozenset({DIM_SERVICE})),
    (METRIC_FEEDBACK_UNMATCHED, frozenset({DIM_SERVICE})),
    (METRIC_REVIEW_WRITE_FAILURES, frozenset({DIM_SERVICE})),
)

#: A score at or below this is negative feedback (on the 1-5 scale).
NEGATIVE_SCORE = 2
MIN_SCORE = 1
MAX_SCORE = 5

# --- Fields of the feedback line the schema does not name -------------------------------------
FEEDBACK_COMMENT_FIELD = "comment"  # the runtime's and the reference app's (redacted) comment
PROMPT_LOGGING_FIELD = "prompt_logging"  # the reference ask line says how it logged its text

# --- Review set ---------------------------------------------------------------------------------
REVIEW_PREFIX = "feedback/"  # objects at feedback/YYYY/MM/DD/<request id>.json
REVIEW_SCHEMA = 1
#: Text fields of a review object (left out when the prompt-logging mode is ``none``).
REVIEW_TEXT_FIELDS = ("question", "answer", "comment")

# --- Environment variables the function reads ---------------------------------------------------
ENV_LOG_GROUP_NAMES = "LOG_GROUP_NAMES"  # required: JSON list of 1-50 log group names
ENV_LOG_SCHEMA = "LOG_SCHEMA"  # required: LogSchema.document() of the application's log line
ENV_LOOKBACK_HOURS = "FEEDBACK_LOOKBACK_HOURS"  # how far back answers are looked up: 1-168, default 24
ENV_WINDOW_MINUTES = "FEEDBACK_WINDOW_MINUTES"  # the window of ratings each run reads: 15-1440, default 60
ENV_REVIEW_BUCKET = "REVIEW_BUCKET"  # optional: the review set's bucket (unset: no review set)
ENV_PROMPT_LOGGING = "PROMPT_LOGGING"  # the workload's prompt-logging mode: full, redacted or none (default none)
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension (the workload)
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE

DEFAULT_LOOKBACK_HOURS = 24
DEFAULT_WINDOW_MINUTES = 60
LOOKBACK_HOURS_RANGE = (1, 168)
WINDOW_MINUTES_RANGE = (15, 1440)

#: Correlation-id prefix of the quality canary's requests (``canary_telemetry.REQUEST_ID_PREFIX``): never joined.
CANARY_REQUEST_PREFIX = "canary-"
