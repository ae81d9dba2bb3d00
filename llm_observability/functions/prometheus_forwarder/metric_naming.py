"""How a CloudWatch metric becomes a Prometheus series: the one naming convention of the export.

The forwarder Lambda imports this module as a sibling (``import metric_naming``); the CDK side imports
the very same file as ``llm_observability.functions.prometheus_forwarder.metric_naming`` to write the
recording and alerting rules, so the rules and the ingested series cannot disagree on a name.

Convention
    A CloudWatch metric stream delivers, per metric and dimension set, one value per statistic per
    minute. Each statistic becomes its own gauge::

        <prefix>_<metric_name in snake_case>_<statistic>{<dimensions in snake_case>, namespace, region, account_id}

    - ``prefix``: ``llmobs`` for the application's own namespace (whatever it is called), ``aws_bedrock``
      for ``AWS/Bedrock``; any other namespace: its name in snake_case (``AWS/Lambda`` -> ``aws_lambda``).
    - ``statistic``: ``sum``, ``count`` (SampleCount), ``min``, ``max`` and the additional statistics
      the stream is configured with, lower-cased, other characters replaced by ``_`` (``p99``,
      ``p99.9`` -> ``p99_9``).
    - labels: each dimension in snake_case (``ModelId`` -> ``model_id``, ``service`` stays ``service``),
      plus ``namespace`` (the CloudWatch namespace), ``region`` and ``account_id``. A dimension whose
      name would collide with one of those three is prefixed ``dimension_``. Dimensions whose labels
      coincide (``ModelId`` and ``model_id``) stay apart: in code-point order of the dimension names the
      first keeps the label, the others get the first free ``_2``, ``_3`` ... suffix (``ModelId`` ->
      ``model_id``, ``model_id`` -> ``model_id_2``), whatever order the record lists them in.
    - the sample timestamp is the CloudWatch minute the statistic describes.

    Example: ``EndToEndLatency{service=rag-api}`` p99 -> ``llmobs_end_to_end_latency_p99{service="rag-api"}``;
    ``AWS/Bedrock`` ``Invocations{ModelId=...}`` Sum -> ``aws_bedrock_invocations_sum{model_id="..."}``.

    Every series is a per-minute gauge, never a counter: aggregate it over time with ``sum_over_time``,
    ``max_over_time`` ..., never with ``rate()``.

Keep this module free of third-party imports: it runs inside Lambda and inside ``cdk synth``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

APP_PREFIX = "llmobs"
BEDROCK_NAMESPACE = "AWS/Bedrock"
BEDROCK_PREFIX = "aws_bedrock"

#: Statistics every metric stream record carries (key in the record's ``value`` -> name suffix).
BASE_STATISTICS: dict[str, str] = {"sum": "sum", "count": "count", "min": "min", "max": "max"}

LABEL_NAMESPACE = "namespace"
LABEL_REGION = "region"
LABEL_ACCOUNT_ID = "account_id"
RESERVED_LABELS = frozenset({LABEL_NAMESPACE, LABEL_REGION, LABEL_ACCOUNT_ID})

# Application dimension names (llm_observability/runtime/telemetry.py) as labels.
LABEL_SERVICE = "service"
LABEL_MODEL_ID = "model_id"
LABEL_STAGE = "stage"
LABEL_PROMPT_VERSION = "prompt_version"

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_INVALID = re.compile(r"[^a-zA-Z0-9_]+")
_REPEATED_UNDERSCORE = re.compile(r"_{2,}")


def snake(name: str) -> str:
    """``EndToEndLatency`` -> ``end_to_end_latency``, ``AWS/Bedrock`` -> ``aws_bedrock`` (valid in Prometheus)."""
    text = _CAMEL_BOUNDARY.sub("_", name.strip())
    text = _REPEATED_UNDERSCORE.sub("_", _INVALID.sub("_", text)).strip("_").lower()
    if not text:
        return "_"
    return f"_{text}" if text[0].isdigit() else text


def statistic_suffix(statistic: str) -> str:
    """The name suffix of a statistic key of a metric stream record (``count`` -> ``count``, ``p99.9`` -> ``p99_9``)."""
    return BASE_STATISTICS.get(statistic, snake(statistic))


def namespace_prefix(namespace: str, prefixes: Mapping[str, str] | None = None) -> str:
    """The metric-name prefix of a CloudWatch namespace: ``prefixes`` first, then AWS/Bedrock, then snake_case."""
    if prefixes and namespace in prefixes:
        return prefixes[namespace]
    if namespace == BEDROCK_NAMESPACE:
        return BEDROCK_PREFIX
    return snake(namespace)


def series_name(prefix: str, metric_name: str, statistic: str) -> str:
    """``series_name("llmobs", "EndToEndLatency", "p99")`` -> ``llmobs_end_to_end_latency_p99``."""
    return f"{prefix}_{snake(metric_name)}_{statistic_suffix(statistic)}"


def app_series(metric_name: str, statistic: str) -> str:
    """The series name of one statistic of an application metric (``telemetry.METRIC_*``)."""
    return series_name(APP_PREFIX, metric_name, statistic)


def bedrock_series(metric_name: str, statistic: str) -> str:
    """The series name of one statistic of an ``AWS/Bedrock`` metric."""
    return series_name(BEDROCK_PREFIX, metric_name, statistic)


def label_name(dimension: str) -> str:
    """The label of a CloudWatch dimension (``ModelId`` -> ``model_id``), kept clear of the reserved labels."""
    label = snake(dimension)
    if label in RESERVED_LABELS or label.startswith("__"):
        return f"dimension_{label.lstrip('_')}"
    return label


def dimension_labels(dimensions: Iterable[str]) -> dict[str, str]:
    """Each dimension's label, all distinct: see "Dimensions whose labels coincide" in the module docstring."""
    ordered = sorted(set(dimensions))
    wanted = {dimension: label_name(dimension) for dimension in ordered}
    labels: dict[str, str] = {}
    taken: set[str] = set()
    for dimension in ordered:
        if wanted[dimension] not in taken:
            labels[dimension] = wanted[dimension]
            taken.add(wanted[dimension])
    for dimension in ordered:
        if dimension not in labels:
            base = wanted[dimension].rstrip("_") or "dimension"  # never a reserved ``__`` label
            suffix = 2
            while f"{base}_{suffix}" in taken:
                suffix += 1
            labels[dimension] = f"{base}_{suffix}"
            taken.add(labels[dimension])
    return labels
