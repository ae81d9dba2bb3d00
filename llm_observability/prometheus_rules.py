"""Prometheus recording/alerting rules and the Alertmanager definition of the Level 3 Prometheus export.

Pure Python (no CDK import), so the exact text the workspace receives can be written to a file and
checked with ``promtool`` and ``amtool`` in the tests.

Series names come from ``functions/prometheus_forwarder/metric_naming.py``, the module the forwarder
Lambda uses to name what it ingests; see that module for the convention. Every ingested series is a
per-minute gauge (one CloudWatch statistic per minute, stamped on the minute), so the rules aggregate
with ``*_over_time``. Range selectors are one second short of the nominal window (``[4m59s]`` for 5m):
an N-minute window then holds exactly N per-minute samples whether the engine includes the window's
left edge (Prometheus 2) or not (Prometheus 3), so sums divided by the window length are true rates.

Recording rules (group ``llmobs-recording``, every minute)
    ``service:llmobs_request_error_ratio:<w>`` for w in 5m, 30m, 1h, 6h
        failed / (succeeded + failed) requests over the window. ``RequestFailure`` counts only the
        service's own failures: the function leaves out class ``Validation`` (the caller's fault).
    ``service:llmobs_end_to_end_latency_<q>:max5m`` (q in the configured percentiles, ms)
        the worst per-minute percentile of the last 5 minutes (an upper bound of the 5-minute percentile).
    ``service:llmobs_end_to_end_latency_mean:5m`` exact mean latency (sum / count) over 5 minutes.
    ``service_stage:llmobs_stage_latency_<q>:max5m`` (the model's share is ``stage="Inference"``).
    ``model_id:aws_bedrock_invocation_latency_<q>:max5m`` (only with the AWS/Bedrock metrics).
    ``service_model_id:llmobs_{input,output,total}_tokens:rate5m`` tokens per second (total = input + output).
    ``service_model_id:llmobs_estimated_cost_usd:rate5m`` and ``service:llmobs_estimated_cost_usd:rate1h``
        US dollars per second (multiply by 86400 for a daily burn): the input and output tokens times
        the model's price (:attr:`RuleSettings.prices`; an inference-profile id is priced as its
        foundation model); models without a price are left out.

Alerting rules (group ``llmobs-alerts``; multi-window, multi-burn-rate on the availability SLO)
    ``LlmAvailabilityFastBurn`` (severity critical): error ratio above 14.4 x the error budget over 1h
        and over 5m (2% of a 30-day budget spent in one hour).
    ``LlmAvailabilitySlowBurn`` (severity warning): above 6 x the budget over 6h and over 30m.
    ``LlmLatencyP99High`` (warning): worst per-minute p99 end-to-end latency above the threshold for 10 min.
    ``LlmCostBurnHigh`` (warning, only with a daily cost threshold): the last hour's spend rate,
        projected to a day, above the threshold for 15 min.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_observability.config.bounds import SLO_OBJECTIVE_PERCENT
from llm_observability.config.models import INFERENCE_PROFILE_PREFIXES, MODEL_PRICE_ALLOWED, merged_prices
from llm_observability.errors import ConfigError
from llm_observability.functions.prometheus_forwarder import metric_naming as naming
from llm_observability.runtime import telemetry

RECORDING_GROUP = "llmobs-recording"
ALERTING_GROUP = "llmobs-alerts"
EVALUATION_INTERVAL = "1m"
SLO_WINDOWS = ("5m", "30m", "1h", "6h")
#: (alert, severity, long window, short window, burn-rate factor, for)
BURN_RATE_ALERTS = (
    ("LlmAvailabilityFastBurn", "critical", "1h", "5m", 14.4, "2m"),
    ("LlmAvailabilitySlowBurn", "warning", "6h", "30m", 6.0, "15m"),
)
DEFAULT_PERCENTILES = ("p50", "p90", "p99")
#: Application latency metrics (and AWS/Bedrock InvocationLatency) streamed with percentiles.
APP_LATENCY_METRICS = (
    telemetry.METRIC_END_TO_END_LATENCY,
    telemetry.METRIC_STAGE_LATENCY,
)
BEDROCK_LATENCY_METRIC = "InvocationLatency"
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,3})?)$")

RECEIVER = "sns"

# Series of the ingestion path the rules read (all of them produced by the forwarder).
SUCCESS = naming.app_series(telemetry.METRIC_REQUEST_SUCCESS, "sum")
FAILURE = naming.app_series(telemetry.METRIC_REQUEST_FAILURE, "sum")
LATENCY_SUM = naming.app_series(telemetry.METRIC_END_TO_END_LATENCY, "sum")
LATENCY_COUNT = naming.app_series(telemetry.METRIC_END_TO_END_LATENCY, "count")
INPUT_TOKENS = naming.app_series(telemetry.METRIC_INPUT_TOKENS, "sum")
OUTPUT_TOKENS = naming.app_series(telemetry.METRIC_OUTPUT_TOKENS, "sum")

# Label matchers: the service-level outcome series (not the per-prompt-version copies) and the per-model
# token series (not the per-prompt-version copies either).
_SERVICE_LEVEL = f'{naming.LABEL_PROMPT_VERSION}=""'
_PER_MODEL = f'{naming.LABEL_MODEL_ID}!="", {naming.LABEL_PROMPT_VERSION}=""'


@dataclass(frozen=True)
class RuleSettings:
    """What the rules depend on.

    :param objective_percent: availability objective of ``/ask`` (successful share of requests). Default: 99.
    :param latency_p99_threshold_ms: ``LlmLatencyP99High`` threshold. Default: 10000.
    :param daily_cost_threshold_usd: ``LlmCostBurnHigh`` threshold; None leaves the alert out. Default: None.
    :param percentiles: percentiles streamed for the latency metrics. Default: p50, p90, p99 (p99 required).
    :param bedrock_metrics: AWS/Bedrock metrics are ingested too. Default: True.
    :param prices: US dollars per 1,000 input and output tokens by model id, merged over the built-in table
        (``config.models.DEFAULT_MODEL_PRICES``), for the cost rules. Default: the built-in table.
    """

    objective_percent: float = 99.0
    latency_p99_threshold_ms: float = 10_000
    daily_cost_threshold_usd: float | None = None
    percentiles: tuple[str, ...] = DEFAULT_PERCENTILES
    bedrock_metrics: bool = True
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "percentiles", tuple(self.percentiles))
        if not isinstance(self.prices, Mapping):
            raise ConfigError(f"PrometheusExport 'prices' is {self.prices!r}: allowed is {MODEL_PRICE_ALLOWED}.")
        object.__setattr__(self, "prices", merged_prices("prices", self.prices))
        SLO_OBJECTIVE_PERCENT.check("objective_percent", self.objective_percent, owner="PrometheusExport")
        if not _number(self.latency_p99_threshold_ms) or self.latency_p99_threshold_ms <= 0:
            raise ConfigError(
                f"PrometheusExport 'latency_p99_threshold_ms' is {self.latency_p99_threshold_ms!r}: allowed is a "
                "number above 0."
            )
        if self.daily_cost_threshold_usd is not None and (
            not _number(self.daily_cost_threshold_usd) or self.daily_cost_threshold_usd <= 0
        ):
            raise ConfigError(
                f"PrometheusExport 'daily_cost_threshold_usd' is {self.daily_cost_threshold_usd!r}: allowed is "
                "empty or a number above 0."
            )
        if (
            not self.percentiles
            or len(set(self.percentiles)) != len(self.percentiles)
            or not all(isinstance(p, str) and _PERCENTILE.match(p) for p in self.percentiles)
            or "p99" not in self.percentiles
        ):
            raise ConfigError(
                f"PrometheusExport 'percentiles' is {list(self.percentiles)!r}: allowed is a list of distinct "
                "percentile statistics like p50, p90, p99.9 that includes p99."
            )

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective_percent / 100, 10)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: float) -> str:
    """A number as PromQL text, without float noise (0.144, 10000)."""
    text = f"{value:.10g}"
    return text


# --- rules ------------------------------------------------------------------------------------------------------------


_WINDOW = re.compile(r"^(\d+)([mh])$")
_REGEX_META = re.compile(r"([.^$*+?()\[\]{}|\\])")


def range_of(window: str) -> str:
    """The range selector of a nominal window: ``5m`` -> ``4m59s``, ``1h`` -> ``59m59s``, ``6h`` -> ``5h59m59s``."""
    match = _WINDOW.match(window)
    if not match:
        raise ValueError(f"unsupported window {window!r}")
    seconds = int(match[1]) * (60 if match[2] == "m" else 3600) - 1
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value)


def window_seconds(window: str) -> int:
    match = _WINDOW.match(window)
    if not match:
        raise ValueError(f"unsupported window {window!r}")
    return int(match[1]) * (60 if match[2] == "m" else 3600)


def error_ratio_expr(window: str) -> str:
    """PromQL: share of failed requests over ``window`` per service (absent when there were none)."""
    span = range_of(window)
    failed = f"sum by (service) (sum_over_time({FAILURE}[{span}]))"
    succeeded = f"sum by (service) (sum_over_time({SUCCESS}{{{_SERVICE_LEVEL}}}[{span}]))"
    requests = _either_or_both(succeeded, failed)
    return f"(\n  {failed}\n  or\n  0 * {requests}\n)\n/\n{requests}"


def _either_or_both(left: str, right: str) -> str:
    """PromQL: ``left + right`` for the label sets both have, else whichever of the two has the label set.
    (Two metric names in one selector cannot be summed over time: the result drops the names, and two series
    with the same labels would collide.)"""
    return f"(\n  ({left} + {right})\n  or {left}\n  or {right}\n)"


def _model_matcher(model_id: str) -> str:
    """The ``model_id`` label matcher of a priced model: a foundation-model id also matches its inference
    profiles (``us.<id>``, ...), as ``BedrockMetrics.price_of`` prices them; any other id matches itself.
    Regular expressions are PromQL raw strings (backticks: no escaping of the backslashes)."""
    if model_id.partition(".")[0] in INFERENCE_PROFILE_PREFIXES or model_id.startswith("arn:"):
        return f'{naming.LABEL_MODEL_ID}="{model_id}"'
    prefixes = "|".join(_literal(p) for p in INFERENCE_PROFILE_PREFIXES)
    return f"{naming.LABEL_MODEL_ID}=~`(?:(?:{prefixes})\\.)?{_literal(model_id)}`"


def _literal(text: str) -> str:
    """``text`` as a regular expression that matches it literally (RE2 metacharacters escaped)."""
    return _REGEX_META.sub(r"\\\1", text)


def cost_expr(prices: Mapping[str, Mapping[str, float]], window: str) -> str:
    """PromQL: US dollars spent over ``window`` per service and model: the input and output token series times
    each model's price. Exactly matched ids come first, so ``or`` (which keeps the left side) prefers them."""
    span = range_of(window)
    terms = []
    for model_id in sorted(prices, key=lambda m: (_model_matcher(m).startswith("model_id=~"), m)):
        price, matcher = prices[model_id], _model_matcher(model_id)
        tokens = [
            f"sum by (service, model_id) (sum_over_time({series}{{{matcher}, {_SERVICE_LEVEL}}}[{span}]))"
            f" * {_fmt(price[key] / 1000)}"
            for series, key in ((INPUT_TOKENS, "input_per_1k"), (OUTPUT_TOKENS, "output_per_1k"))
        ]
        terms.append(f"(\n  {tokens[0]}\n  + on (service, model_id)\n  {tokens[1]}\n)")
    return "\nor\n".join(terms)


def _tokens_per_second(series: str) -> str:
    return f"sum by (service, model_id) (sum_over_time({series}{{{_PER_MODEL}}}[{range_of('5m')}])) / 300"


def _max_percentile(by: str, series: str, matchers: str = "") -> str:
    selector = f"{series}{{{matchers}}}" if matchers else series
    return f"max by ({by}) (max_over_time({selector}[{range_of('5m')}]))"


def recording_rules(settings: RuleSettings) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {"record": f"service:llmobs_request_error_ratio:{w}", "expr": error_ratio_expr(w)} for w in SLO_WINDOWS
    ]
    for p in settings.percentiles:
        suffix = naming.statistic_suffix(p)
        rules.append(
            {
                "record": f"service:llmobs_end_to_end_latency_{suffix}:max5m",
                "expr": _max_percentile(
                    "service", naming.app_series(telemetry.METRIC_END_TO_END_LATENCY, p), _SERVICE_LEVEL
                ),
            }
        )
        rules.append(
            {
                "record": f"service_stage:llmobs_stage_latency_{suffix}:max5m",
                "expr": _max_percentile("service, stage", naming.app_series(telemetry.METRIC_STAGE_LATENCY, p)),
            }
        )
        if settings.bedrock_metrics:
            rules.append(
                {
                    "record": f"model_id:aws_bedrock_invocation_latency_{suffix}:max5m",
                    "expr": _max_percentile(
                        "model_id", naming.bedrock_series(BEDROCK_LATENCY_METRIC, p), f'{naming.LABEL_MODEL_ID}!=""'
                    ),
                }
            )
    rules.append(
        {
            "record": "service:llmobs_end_to_end_latency_mean:5m",
            "expr": (
                f"sum by (service) (sum_over_time({LATENCY_SUM}{{{_SERVICE_LEVEL}}}[{range_of('5m')}]))\n/\n"
                f"sum by (service) (sum_over_time({LATENCY_COUNT}{{{_SERVICE_LEVEL}}}[{range_of('5m')}]))"
            ),
        }
    )
    per_second = {"input": _tokens_per_second(INPUT_TOKENS), "output": _tokens_per_second(OUTPUT_TOKENS)}
    per_second["total"] = _either_or_both(per_second["input"], per_second["output"])
    for name, expr in per_second.items():
        rules.append({"record": f"service_model_id:llmobs_{name}_tokens:rate5m", "expr": expr})
    rules.append(
        {
            "record": "service_model_id:llmobs_estimated_cost_usd:rate5m",
            "expr": f"(\n{cost_expr(settings.prices, '5m')}\n)\n/ 300",
        }
    )
    rules.append(
        {
            "record": "service:llmobs_estimated_cost_usd:rate1h",
            "expr": f"sum by (service) (\n{cost_expr(settings.prices, '1h')}\n)\n/ 3600",
        }
    )
    return rules


def alerting_rules(settings: RuleSettings) -> list[dict[str, Any]]:
    objective = _fmt(settings.objective_percent)
    rules: list[dict[str, Any]] = []
    for alert, severity, long_window, short_window, factor, for_ in BURN_RATE_ALERTS:
        threshold = _fmt(factor * settings.error_budget)
        rules.append(
            {
                "alert": alert,
                "expr": (
                    f"service:llmobs_request_error_ratio:{long_window} > {threshold}\n"
                    f"and\nservice:llmobs_request_error_ratio:{short_window} > {threshold}"
                ),
                "for": for_,
                "labels": {"severity": severity, "slo": "availability"},
                "annotations": {
                    "summary": f"{{{{ $labels.service }}}} is burning its {objective}% availability error budget "
                    f"{_fmt(factor)}x too fast",
                    "description": f"{{{{ $value | humanizePercentage }}}} of /ask requests failed over the last "
                    f"{long_window} (and over the last {short_window}); the objective allows "
                    f"{_fmt(settings.error_budget * 100)}%.",
                },
            }
        )
    rules.append(
        {
            "alert": "LlmLatencyP99High",
            "expr": f"service:llmobs_end_to_end_latency_p99:max5m > {_fmt(settings.latency_p99_threshold_ms)}",
            "for": "10m",
            "labels": {"severity": "warning", "slo": "latency"},
            "annotations": {
                "summary": "{{ $labels.service }} p99 end-to-end latency is high",
                "description": "The worst per-minute p99 latency of the last 5 minutes is {{ $value | humanize }} ms "
                f"(threshold {_fmt(settings.latency_p99_threshold_ms)} ms).",
            },
        }
    )
    if settings.daily_cost_threshold_usd is not None:
        rules.append(
            {
                "alert": "LlmCostBurnHigh",
                "expr": f"service:llmobs_estimated_cost_usd:rate1h * 86400 > {_fmt(settings.daily_cost_threshold_usd)}",
                "for": "15m",
                "labels": {"severity": "warning", "slo": "cost"},
                "annotations": {
                    "summary": "{{ $labels.service }} is spending on models faster than its daily threshold",
                    "description": "At the last hour's rate, model spend is {{ $value | humanize }} USD per day "
                    f"(threshold {_fmt(settings.daily_cost_threshold_usd)} USD).",
                },
            }
        )
    return rules


def rule_groups(settings: RuleSettings | None = None) -> dict[str, Any]:
    """The rule file as a mapping (``groups:``)."""
    settings = settings or RuleSettings()
    return {
        "groups": [
            {"name": RECORDING_GROUP, "interval": EVALUATION_INTERVAL, "rules": recording_rules(settings)},
            {"name": ALERTING_GROUP, "interval": EVALUATION_INTERVAL, "rules": alerting_rules(settings)},
        ]
    }


def rules_yaml(settings: RuleSettings | None = None) -> str:
    """The rule file exactly as the workspace's rule groups namespace receives it."""
    return to_yaml(rule_groups(settings))


def source_series(settings: RuleSettings | None = None) -> set[str]:
    """Names of the ingested series the rules read (each one produced by the forwarder)."""
    return set(re.findall(r"(?<![:\w])((?:llmobs|aws_bedrock)_[a-z0-9_]+)", rules_yaml(settings)))


# --- Alertmanager -----------------------------------------------------------------------------------------------------


def alertmanager_config(topic_arn: str, region: str) -> dict[str, Any]:
    """The Alertmanager configuration: every alert to the SNS topic, signed with the workspace's SigV4 identity."""
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": RECEIVER,
                "sns_configs": [
                    {
                        # Quoted whatever their text, so the deployed text (CDK tokens resolved) equals this.
                        "topic_arn": Quoted(topic_arn),
                        "sigv4": {"region": Quoted(region)},
                        "subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}",
                        "attributes": {
                            "source": "amazon-managed-prometheus",
                            "severity": "{{ .CommonLabels.severity }}",
                        },
                    }
                ],
            }
        ],
    }


def alertmanager_config_yaml(topic_arn: str, region: str) -> str:
    """The Alertmanager configuration file (what ``amtool check-config`` reads)."""
    return to_yaml(alertmanager_config(topic_arn, region))


def alertmanager_definition(topic_arn: str, region: str) -> str:
    """The workspace's ``AlertManagerDefinition``: the configuration wrapped in ``alertmanager_config: |``."""
    return to_yaml({"alertmanager_config": alertmanager_config_yaml(topic_arn, region)})


# --- a small YAML emitter (block style; output is valid YAML 1.1 and 1.2) ----------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


class Quoted(str):
    """A string the YAML writer always double-quotes."""


_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("YAML output takes finite numbers only")
        return repr(value)
    if isinstance(value, str):
        if not isinstance(value, Quoted) and _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block_string(value: str) -> bool:
    lines = value.split("\n")
    return (
        "\n" in value.rstrip("\n")
        and not value.endswith("\n\n")
        and not value.startswith((" ", "\n"))
        and "\r" not in value
        and "\t" not in value
        and all(line == line.rstrip() for line in lines)
    )


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise ValueError(f"unsupported YAML key {key!r}")
            _emit_entry(f"{pad}{key}:", item, indent, out)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            if isinstance(item, Mapping) and item:
                first = True
                for key, sub in item.items():
                    if not isinstance(key, str) or not _KEY.match(key):
                        raise ValueError(f"unsupported YAML key {key!r}")
                    prefix = f"{pad}- {key}:" if first else f"{pad}  {key}:"
                    _emit_entry(prefix, sub, indent + 2, out)
                    first = False
            else:
                _emit_entry(f"{pad}-", item, indent + 2, out, sequence=True)
    else:
        raise TypeError("the YAML document must be a mapping or a list")


def _emit_entry(prefix: str, value: Any, indent: int, out: list[str], *, sequence: bool = False) -> None:
    child = indent if sequence else indent + 2
    if isinstance(value, Mapping):
        if not value:
            out.append(f"{prefix} {{}}")
        else:
            out.append(prefix)
            _emit(value, child, out)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            out.append(f"{prefix} []")
        elif all(not isinstance(v, (Mapping, Sequence)) or isinstance(v, str) for v in value) and not any(
            isinstance(v, str) and "\n" in v for v in value
        ):
            out.append(f"{prefix} [{', '.join(_scalar(v) for v in value)}]")
        else:
            out.append(prefix)
            _emit(value, child, out)
    elif isinstance(value, str) and _block_string(value):
        chomp = "|" if value.endswith("\n") and not value.endswith("\n\n") else "|-"
        out.append(f"{prefix} {chomp}")
        body = value[:-1] if chomp == "|" else value
        out.extend(f"{' ' * child}{line}" if line else "" for line in body.split("\n"))
    else:
        out.append(f"{prefix} {_scalar(value)}")


def to_yaml(document: Mapping[str, Any] | Sequence[Any]) -> str:
    """``document`` (mappings, lists, strings, numbers, booleans) as block-style YAML, ending in a newline."""
    out: list[str] = []
    _emit(document, 0, out)
    return "\n".join(out) + "\n"
