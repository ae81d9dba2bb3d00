"""Telemetry vocabulary of the output-drift function: metric, dimension, signal, log and environment names.

Its metrics sit next to the application's in the same namespace, so the dimension names equal those of
``llm_observability/runtime/telemetry.py`` (a test checks it). Keep this module free of third-party imports: it
runs inside Lambda and is imported by the CDK side as ``llm_observability.functions.output_drift.drift_telemetry``.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "LLMObservability"
DEFAULT_SERVICE_NAME = "rag-api"

# --- Dimensions (identical to the runtime's) ------------------------------------------------------------------------
DIM_SERVICE = "service"
DIM_MODEL_ID = "ModelId"
DIM_SIGNAL = "Signal"

# --- Metrics --------------------------------------------------------------------------------------------------------
#: dims service, ModelId, Signal: the day's drift statistic (DRIFT_STATISTIC) of one signal of one model. None.
METRIC_OUTPUT_DRIFT = "OutputDrift"
#: dims service: the largest OutputDrift of the day over models and signals (what the alarm watches). None.
METRIC_OUTPUT_DRIFT_MAX = "OutputDriftMax"
#: dims service: questions with text read for the diversity figures of the day. Count.
METRIC_QUESTIONS_ANALYZED = "QuestionsAnalyzed"
#: dims service: distinct normalised questions of the day. Count.
METRIC_DISTINCT_QUESTIONS = "DistinctQuestions"
#: dims service: percent of the (sampled) questions with at least one near-duplicate among the day's others. Percent.
METRIC_NEAR_DUPLICATE_SHARE = "NearDuplicateShare"
DIVERSITY_METRICS: tuple[str, ...] = (METRIC_QUESTIONS_ANALYZED, METRIC_DISTINCT_QUESTIONS, METRIC_NEAR_DUPLICATE_SHARE)

# --- Signals (values of the Signal dimension) ----------------------------------------------------------------------
SIGNAL_ANSWER_LENGTH = "AnswerLength"  # characters of the answer (LogSchema.answer_length)
SIGNAL_REFUSAL = "Refusal"  # 1 when the answer is a refusal (textstats.is_refusal), else 0; needs answer text
SIGNAL_GROUNDING = "Grounding"  # the guardrail's 0-1 contextual-grounding score (LogSchema.grounding_score)
SIGNAL_JUDGE_RELEVANCE = "JudgeRelevance"  # the online judge's 1-5 scores (judge_result lines)
SIGNAL_JUDGE_FAITHFULNESS = "JudgeFaithfulness"
SIGNAL_JUDGE_COHERENCE = "JudgeCoherence"
APP_SIGNALS: tuple[str, ...] = (SIGNAL_ANSWER_LENGTH, SIGNAL_REFUSAL, SIGNAL_GROUNDING)
#: Judge signal -> its key in a judge_result line's ``scores``.
JUDGE_SIGNALS: dict[str, str] = {
    SIGNAL_JUDGE_RELEVANCE: "relevance",
    SIGNAL_JUDGE_FAITHFULNESS: "faithfulness",
    SIGNAL_JUDGE_COHERENCE: "coherence",
}
SIGNALS: tuple[str, ...] = (*APP_SIGNALS, *JUDGE_SIGNALS)

# --- Statistics (DRIFT_STATISTIC) -----------------------------------------------------------------------------------
STATISTIC_PSI = "psi"
STATISTIC_KS = "ks"
STATISTICS: tuple[str, ...] = (STATISTIC_PSI, STATISTIC_KS)

# --- The judge's log line (helper contract with the online judge) -------------------------------------------------
JUDGE_MARKER_FIELD = "message"
JUDGE_MARKER_VALUE = "judge_result"  # runtime telemetry LOG_MESSAGE_JUDGE
JUDGE_FIELD_REQUEST_ID = "request_id"
JUDGE_FIELDS_MODEL = ("model_id", "model")  # the answering model: the judge writes model_id (model also read)
JUDGE_FIELD_SCORES = "scores"

# --- Log lines this function writes ---------------------------------------------------------------------------------
LOG_MESSAGE_DRIFT_RESULT = "drift_result"  # one per (model, signal) compared: both statistics, sizes, means
LOG_MESSAGE_DRIFT_SKIPPED = "drift_skipped"  # one per (model, signal) not compared, with ``reason``
LOG_MESSAGE_DIVERSITY = "prompt_diversity"  # the day's diversity figures
SKIP_INSUFFICIENT = "insufficient"  # fewer baseline days or values than required
SKIP_NO_CURRENT = "no_current_values"  # the model had baseline values but none today

# --- Environment variables the function reads -----------------------------------------------------------------------
ENV_LOG_GROUP_NAMES = "LOG_GROUP_NAMES"  # required: JSON list of the application's log group names (1-50)
ENV_LOG_SCHEMA = "LOG_SCHEMA"  # required: LogSchema.document()
ENV_STATE_BUCKET = "STATE_BUCKET"  # required: bucket of the daily samples
ENV_SIGNALS = "SIGNALS"  # JSON list of the signals to compute. Default: every signal the schema and judge allow
ENV_JUDGE_LOG_GROUP = "JUDGE_LOG_GROUP"  # the online judge's log group name. Default: no judge signals
ENV_DRIFT_BASELINE_DAYS = "DRIFT_BASELINE_DAYS"  # 3-28. Default 7
ENV_DRIFT_STATISTIC = "DRIFT_STATISTIC"  # psi | ks. Default psi
ENV_DRIFT_MIN_SAMPLES = "DRIFT_MIN_SAMPLES"  # 10-10,000 values on each side. Default 50
ENV_DIVERSITY = "DIVERSITY"  # true | false. Default true (needs the question text)
ENV_NEAR_DUPLICATE_JACCARD = "NEAR_DUPLICATE_JACCARD"  # 0.5-1. Default 0.8
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"  # value of the service dimension (the workload)
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # default DEFAULT_NAMESPACE

DEFAULT_BASELINE_DAYS = 7
MIN_BASELINE_DAYS = 3  # also the fewest baseline days with samples before a signal is compared
MAX_BASELINE_DAYS = 28
DEFAULT_MIN_SAMPLES = 50
MIN_MIN_SAMPLES = 10
MAX_MIN_SAMPLES = 10_000
DEFAULT_NEAR_DUPLICATE_JACCARD = 0.8
MIN_NEAR_DUPLICATE_JACCARD = 0.5

#: Values kept per (model, signal, day) in the state bucket.
SAMPLE_SIZE = 2_000
#: Questions the near-duplicate share is computed over at most (a seeded sample of the day's questions).
MAX_DIVERSITY_QUESTIONS = 10_000
#: Key of a day's samples in the state bucket.
SAMPLE_KEY = "samples/{service}/{date}.json"
#: requestContext.requestId prefix of the quality canary's requests (excluded everywhere).
CANARY_REQUEST_ID_PREFIX = "canary-"
