"""Bounds and formats that settings and construct props share, each written once.

Each is a rule from :mod:`llm_observability.validation`: the check, the sentence a bad value gets and the
"allowed" text of the configuration reference all come from the one constant.
"""

from __future__ import annotations

import re
from typing import get_args

from llm_observability.config.choices import EmbeddingDimensions
from llm_observability.validation import Choice, NameList, Pattern, Range

#: Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_RETENTION = Choice(LOG_RETENTION_DAYS)

EMBEDDING_DIMENSIONS: tuple[int, ...] = get_args(EmbeddingDimensions)
RETRIEVAL_TOP_K = Range(1, 20, whole=True)
LAMBDA_MEMORY_MB = Range(128, 10_240, whole=True)
#: API Gateway stage throttling: steady-state requests per second, and burst size.
API_RATE_LIMIT = Range(1, 10_000, whole=True)
API_BURST_LIMIT = Range(1, 5_000, whole=True)

#: Width of CloudWatch anomaly-detection bands, in standard deviations.
ANOMALY_BAND_WIDTH = Range(0.1, 10)

#: The SERVICE value under which Cost Explorer and AWS Budgets bill Amazon Bedrock's own usage.
BEDROCK_SERVICE = "Amazon Bedrock"
MAX_BUDGET_USD = 1_000_000_000  # the largest notification threshold AWS::Budgets::Budget accepts
MAX_ANOMALY_THRESHOLD_USD = 10_000_000_000  # the largest ThresholdExpression value Cost Explorer accepts
MIN_WARNING_PERCENT = 0.1  # the smallest notification threshold AWS::Budgets::Budget accepts
BUDGET_USD = Range(0, MAX_BUDGET_USD, lo_open=True)
WARNING_PERCENT = Range(MIN_WARNING_PERCENT, 100, hi_open=True)
ANOMALY_THRESHOLD_USD = Range(0, MAX_ANOMALY_THRESHOLD_USD, lo_open=True)
BUDGET_SERVICES = NameList(f"Cost Explorer service names such as {BEDROCK_SERVICE!r}")
ANOMALY_MONITOR_ARN = Pattern(
    re.compile(r"^(?:arn:aws[a-z-]*:ce::\d{12}:anomalymonitor/[0-9a-f-]+)?$"),
    "empty (create a monitor) or an anomaly monitor ARN such as "
    "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
)

#: Minutes between quality-canary runs (EventBridge schedule: 5 minutes to 1 day).
QUALITY_CANARY_MINUTES = Range(5, 1440, whole=True)
#: The quality alarm's ROUGE-L floor: 0 would never alarm, 1 would alarm on every imperfect answer.
ROUGE_L_FLOOR = Range(0, 1, lo_open=True, hi_open=True)
#: The online judge (issue 19): share of answers judged (0 turns it off), schedule, monthly token cap, calls per run.
JUDGE_SAMPLE_PERCENT = Range(0, 100)
JUDGE_MINUTES = Range(5, 60, whole=True)
JUDGE_MONTHLY_TOKEN_CAP = Range(10_000, 1_000_000_000, whole=True)
JUDGE_MAX_PER_RUN = Range(1, 500, whole=True)
#: The feedback join: schedule, how far back a rated answer is looked up, the negative-share alarm, review-set expiry.
FEEDBACK_JOIN_MINUTES = Range(15, 1440, whole=True)
FEEDBACK_LOOKBACK_HOURS = Range(1, 168, whole=True)
NEGATIVE_CEILING_PERCENT = Range(0, 100, lo_open=True)
REVIEW_DAYS = Range(1, 365, whole=True)
#: Output drift: trailing baseline in days, the alarm thresholds of each statistic, the smallest sample compared.
DRIFT_BASELINE_DAYS = Range(3, 28, whole=True)
DRIFT_PSI_THRESHOLD = Range(0, 10, lo_open=True)
DRIFT_KS_THRESHOLD = Range(0, 1, lo_open=True)
DRIFT_MIN_SAMPLES = Range(10, 10_000, whole=True)
#: Prompt diversity: the Jaccard similarity of word 3-shingles from which two questions are near-duplicates.
NEAR_DUPLICATE_JACCARD = Range(0.5, 1)
#: Availability objective of the Prometheus burn-rate alerts, in percent.
SLO_OBJECTIVE_PERCENT = Range(90, 99.99)

KNOWLEDGE_BASE_ID = Pattern(
    re.compile(r"^(?:[0-9A-Za-z]{10})?$"), "empty (create one) or a 10-character knowledge base id such as ABCDEFGHIJ"
)
METRIC_NAMESPACE = Pattern(
    re.compile(r"^(?!AWS/)[A-Za-z0-9._/#:-]{1,255}$"),
    "1-255 letters, digits or . _ / # : - characters, not starting with AWS/",
)
POWERTOOLS_LAYER_VERSION = Pattern(
    re.compile(r"^(latest|\d+\.\d+\.\d+)$"), "'latest' or a release number such as 3.23.0"
)
#: The Powertools release every function of the library runs on: the one the tests import (pyproject's pin), so a
#: deploy never resolves a newer layer than was tested ('latest' is an explicit opt-in).
POWERTOOLS_VERSION = "3.37.0"

#: Cost-allocation tags (the AWS tagging rules, without the reserved aws: prefix).
TAG_KEY_RE = re.compile(r"^(?!aws:)[\w .:/=+\-@]{1,128}$")
TAG_VALUE_RE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
TAGS_ALLOWED = (
    "keys of 1-128 and values of 0-256 letters, digits, spaces or _ . : / = + - @, and no key starting with aws:"
)
