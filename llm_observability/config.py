"""Typed, validated settings for the bundled app and the constructs.

Settings come from ``cdk.json`` context or ``cdk synth -c key=value`` overrides
(``ObservabilityConfig.from_context(app.node)``) or from keyword arguments
(``ObservabilityConfig(level=2, ...)``).  Every bad value stops synth with a
:class:`~llm_observability.errors.ConfigError` whose message is one sentence
naming the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from constructs import Node

from llm_observability.errors import ConfigError
from llm_observability.functions.rag_api import telemetry
from llm_observability.thresholds import AlarmThresholds

DEFAULT_MODEL_ID = "amazon.nova-lite-v1:0"
DEFAULT_EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"

#: On-demand list prices in US dollars per 1,000 tokens (us-east-1), as
#: published on the Amazon Bedrock pricing page when this table was written.
#: Override or extend with the ``model_prices`` setting.
PRICE_TABLE_DATE = "2026-11-01"
DEFAULT_MODEL_PRICES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "amazon.nova-micro-v1:0": {"input_per_1k": 0.000035, "output_per_1k": 0.00014},
        "amazon.nova-lite-v1:0": {"input_per_1k": 0.00006, "output_per_1k": 0.00024},
        "amazon.nova-pro-v1:0": {"input_per_1k": 0.0008, "output_per_1k": 0.0032},
        "anthropic.claude-3-haiku-20240307-v1:0": {"input_per_1k": 0.00025, "output_per_1k": 0.00125},
        "anthropic.claude-3-5-haiku-20241022-v1:0": {"input_per_1k": 0.0008, "output_per_1k": 0.004},
        "amazon.titan-embed-text-v2:0": {"input_per_1k": 0.00002, "output_per_1k": 0.0},
    }
)

#: Retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

#: Output sizes Titan Text Embeddings V2 supports (the vector index must match).
EMBEDDING_DIMENSIONS: tuple[int, ...] = (256, 512, 1024)

INFERENCE_PROFILE_PREFIXES: tuple[str, ...] = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")
_GEO = "|".join(re.escape(p) for p in INFERENCE_PROFILE_PREFIXES)
_MODEL_ID_RE = re.compile(
    rf"^(?:(?:{_GEO})\.)?[a-z0-9-]+\.[A-Za-z0-9._:-]+$"
    r"|^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{0,12}:(?:foundation-model|inference-profile|application-inference-profile)/[A-Za-z0-9._:/-]+$"
)
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_KB_ID_RE = re.compile(r"^[0-9A-Za-z]{10}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")
_LAYER_VERSION_RE = re.compile(r"^(latest|\d+\.\d+\.\d+)$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_TAG_VALUE_RE = re.compile(r"^[\w .:/=+\-@]{0,256}$")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class ObservabilityConfig:
    """All settings of the bundled app.  Every field is a context key of the same name."""

    level: int = field(default=1, metadata=_doc("Maturity level to synthesize: stacks 1..level are built (1, 2 or 3)."))
    workload_name: str = field(
        default="rag-demo",
        metadata=_doc("Short name of the observed application, used in resource names and as the `service` dimension."),
    )
    model_id: str = field(
        default=DEFAULT_MODEL_ID,
        metadata=_doc("Bedrock model id, inference-profile id (e.g. `us.amazon.nova-lite-v1:0`) or ARN used for answers."),
    )
    embedding_model_id: str = field(
        default=DEFAULT_EMBEDDING_MODEL_ID,
        metadata=_doc("Bedrock embedding model of the knowledge base the stack creates."),
    )
    embedding_dimensions: int = field(
        default=1024, metadata=_doc("Vector size of the embedding model and the S3 Vectors index (256, 512 or 1024).")
    )
    knowledge_base_id: str = field(
        default="",
        metadata=_doc("Id of your own Bedrock knowledge base; when set, none is created and IAM is scoped to it."),
    )
    retrieval_top_k: int = field(default=4, metadata=_doc("Default number of passages retrieved per question (1-20)."))
    prompt_logging: str = field(
        default=telemetry.PROMPT_LOGGING_REDACTED,
        metadata=_doc("How prompt and answer text is logged: `full`, `redacted` (PII removed) or `none`."),
    )
    invocation_logging: bool = field(
        default=True, metadata=_doc("Turn on Bedrock model invocation logging in the bundled app (Level 1).")
    )
    invocation_logging_existing: str = field(
        default="keep",
        metadata=_doc(
            "What invocation logging does with a configuration the account already has: `keep` it (adopt) or `replace` it."
        ),
    )
    invocation_logging_s3: bool = field(
        default=False, metadata=_doc("Also deliver Bedrock invocation logs to a new, retained S3 bucket.")
    )
    alarm_email: str = field(default="", metadata=_doc("E-mail address subscribed to the alert topic (optional)."))
    alarm_thresholds: Mapping[str, float] = field(
        default_factory=dict,
        metadata=_doc("Overrides of the Level 1 alarm thresholds, e.g. `{\"bedrock_latency_p90_ms\": 5000}`."),
    )
    log_retention_days: int = field(
        default=30, metadata=_doc("Retention of every log group the stacks create, in days (a CloudWatch Logs value).")
    )
    api_throttle_rate_limit: int = field(
        default=10, metadata=_doc("API Gateway stage steady-state request limit, requests per second (1-10000).")
    )
    api_throttle_burst_limit: int = field(
        default=20, metadata=_doc("API Gateway stage burst limit, requests (1-5000, at least the rate limit).")
    )
    lambda_memory_mb: int = field(default=512, metadata=_doc("Memory of the RAG Lambda function in MB (128-10240)."))
    anomaly_band_width: float = field(
        default=2.0, metadata=_doc("Level 2: width of the anomaly-detection bands in standard deviations (0.1-10).")
    )
    monthly_budget_usd: float = field(
        default=100.0, metadata=_doc("Level 2: monthly AWS Budgets limit for Amazon Bedrock spend, in US dollars.")
    )
    budget_warning_percent: float = field(
        default=80.0, metadata=_doc("Level 2: early budget warning on actual spend, in percent of the limit.")
    )
    budget_services: tuple[str, ...] = field(
        default=("Amazon Bedrock",),
        metadata=_doc(
            "Level 2: Cost Explorer service names the budget counts (add Marketplace model names such as "
            "`Claude 3.5 Sonnet (Amazon Bedrock Edition)`)."
        ),
    )
    cost_anomaly_threshold_usd: float = field(
        default=10.0, metadata=_doc("Level 2: smallest total impact of a cost anomaly that is notified, in US dollars.")
    )
    cost_anomaly_monitor_arn: str = field(
        default="",
        metadata=_doc("Level 2: ARN of the account's existing AWS-services anomaly monitor to adopt; empty creates one."),
    )
    guardrail: bool = field(
        default=True,
        metadata=_doc("Level 2: give the reference app a Bedrock Guardrail (grounding, relevance, content, PII)."),
    )
    prompt_management: bool = field(
        default=True,
        metadata=_doc("Level 2: keep the RAG prompt in Bedrock Prompt Management with versions and an active-version pointer."),
    )
    quality_canary_minutes: int = field(
        default=60, metadata=_doc("Level 2: minutes between quality-canary runs over the golden set (5-1440).")
    )
    quality_rouge_l_floor: float = field(
        default=0.2, metadata=_doc("Level 2: alarm when the golden set's average ROUGE-L falls below this (0-1).")
    )
    security_hub: str = field(
        default="create",
        metadata=_doc("Level 2: `create` the account's Security Hub hub, or `adopt` the one already enabled."),
    )
    security_standards: tuple[str, ...] = field(
        default=("fsbp",),
        metadata=_doc(
            "Level 2: Security Hub standards to enable: `fsbp` (AWS Foundational Security Best Practices), `cis`, `nist`."
        ),
    )
    config_recorder: str = field(
        default="create",
        metadata=_doc("Level 2: `create` an AWS Config recorder (this workload's resource types), or `adopt` the account's."),
    )
    cloudtrail: bool = field(
        default=True,
        metadata=_doc("Level 2: create a multi-region CloudTrail trail (turn off where an organization trail exists)."),
    )
    fallback_model_id: str = field(
        default="amazon.nova-micro-v1:0",
        metadata=_doc("Level 3: model the failover runbook switches to while the primary is throttled or failing."),
    )
    throttled_rate_limit: int = field(
        default=2, metadata=_doc("Level 3: API stage rate limit (requests/s) while a cost or traffic anomaly lasts.")
    )
    throttled_burst_limit: int = field(
        default=5, metadata=_doc("Level 3: API stage burst limit while a cost or traffic anomaly lasts.")
    )
    devops_guru_coverage: str = field(
        default="create",
        metadata=_doc("Level 3: `create` DevOps Guru's stack coverage (the account's singleton) or `adopt` the account's."),
    )
    codeguru_profiler: bool = field(
        default=True, metadata=_doc("Level 3: profile the RAG function with CodeGuru Profiler.")
    )
    prometheus_export: bool = field(
        default=True,
        metadata=_doc("Level 3: export the LLM metrics to Amazon Managed Service for Prometheus with SLO rules and alerts."),
    )
    slo_objective_percent: float = field(
        default=99.0, metadata=_doc("Level 3: availability objective of the Prometheus burn-rate alerts, percent (90-99.99).")
    )
    log_analytics: str = field(
        default="domain",
        metadata=_doc("Level 3: stream the app's logs to OpenSearch: `domain` (small managed domain), `serverless` or `off`."),
    )
    metric_namespace: str = field(
        default=telemetry.DEFAULT_NAMESPACE, metadata=_doc("CloudWatch namespace of the application's EMF metrics.")
    )
    model_prices: Mapping[str, Mapping[str, float]] = field(
        default_factory=dict,
        metadata=_doc(
            "Price table for the estimated-cost metric: `{model id: {input_per_1k, output_per_1k}}` in USD; "
            "merged over the built-in table."
        ),
    )
    powertools_layer_version: str = field(
        default="latest",
        metadata=_doc("Powertools for AWS Lambda (Python) layer version (`latest` or a release like `3.23.0`)."),
    )
    create_api_gateway_cloudwatch_role: bool = field(
        default=True,
        metadata=_doc(
            "Create the account-wide API Gateway CloudWatch Logs role (retained on delete); "
            "`false` adopts the one the account already has."
        ),
    )
    tags: Mapping[str, str] = field(
        default_factory=dict, metadata=_doc("Extra cost-allocation tags put on every resource (`{key: value}`).")
    )

    # ------------------------------------------------------------------ build
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every setting name (= context key)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_context(cls, node: Node) -> ObservabilityConfig:
        """Read settings from CDK context (cdk.json and ``-c key=value``), validating each one."""
        context = node.get_all_context()
        _reject_misspelled_keys(context)
        values = {k: context[k] for k in cls.keys() if context.get(k) is not None}
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ObservabilityConfig:
        """Build from a mapping of raw values (strings from ``-c`` are converted)."""
        _reject_misspelled_keys(values, strict=True)
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        return cls(**{k: _coerce(k, kinds[k], v) for k, v in values.items()})

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, f.type, getattr(self, f.name))
        _check_choice("level", self.level, (1, 2, 3))
        _check_pattern("workload_name", self.workload_name, _NAME_RE,
                       "3-32 lowercase letters, digits or hyphens, starting with a letter")  # fmt: skip
        _check_pattern("model_id", self.model_id, _MODEL_ID_RE,
                       "a Bedrock model id such as amazon.nova-lite-v1:0, an inference-profile id or an ARN")  # fmt: skip
        _check_pattern("embedding_model_id", self.embedding_model_id, _MODEL_ID_RE,
                       "a Bedrock embedding model id such as amazon.titan-embed-text-v2:0")  # fmt: skip
        _check_choice("embedding_dimensions", self.embedding_dimensions, EMBEDDING_DIMENSIONS)
        if self.knowledge_base_id:
            _check_pattern("knowledge_base_id", self.knowledge_base_id, _KB_ID_RE,
                           "empty (create one) or a 10-character knowledge base id such as ABCDEFGHIJ")  # fmt: skip
        _check_range("retrieval_top_k", self.retrieval_top_k, 1, 20)
        _check_choice("prompt_logging", self.prompt_logging, telemetry.PROMPT_LOGGING_MODES)
        _check_choice("invocation_logging_existing", self.invocation_logging_existing, ("keep", "replace"))
        if self.alarm_email:
            _check_pattern("alarm_email", self.alarm_email, _EMAIL_RE,
                           "empty or one e-mail address such as oncall@example.com")  # fmt: skip
        _check_choice("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        _check_range("api_throttle_rate_limit", self.api_throttle_rate_limit, 1, 10000)
        _check_range("api_throttle_burst_limit", self.api_throttle_burst_limit, 1, 5000)
        if self.api_throttle_burst_limit < self.api_throttle_rate_limit:
            raise ConfigError(
                f"Setting 'api_throttle_burst_limit' is {self.api_throttle_burst_limit}: allowed is a value "
                f"at least 'api_throttle_rate_limit' ({self.api_throttle_rate_limit})."
            )
        _check_range("lambda_memory_mb", self.lambda_memory_mb, 128, 10240)
        _check_range("anomaly_band_width", self.anomaly_band_width, 0.1, 10)
        _check_range("monthly_budget_usd", self.monthly_budget_usd, 0.01, 1e9)
        _check_range("budget_warning_percent", self.budget_warning_percent, 0.1, 99.9)
        _check_range("cost_anomaly_threshold_usd", self.cost_anomaly_threshold_usd, 0.01, 1e10)
        if not self.budget_services or not all(isinstance(x, str) and x.strip() for x in self.budget_services):
            raise ConfigError(
                f"Setting 'budget_services' is {list(self.budget_services)!r}: allowed is a list of one or more "
                "Cost Explorer service names."
            )
        object.__setattr__(self, "budget_services", tuple(self.budget_services))
        _check_range("quality_canary_minutes", self.quality_canary_minutes, 5, 1440)
        _check_range("quality_rouge_l_floor", self.quality_rouge_l_floor, 0.01, 0.99)
        _check_choice("security_hub", self.security_hub, ("create", "adopt"))
        _check_choice("devops_guru_coverage", self.devops_guru_coverage, ("create", "adopt"))
        _check_choice("log_analytics", self.log_analytics, ("domain", "serverless", "off"))
        _check_range("slo_objective_percent", self.slo_objective_percent, 90.0, 99.99)
        _check_pattern("fallback_model_id", self.fallback_model_id, _MODEL_ID_RE,
                       "a Bedrock model id, inference-profile id or ARN other than 'model_id'")  # fmt: skip
        if self.fallback_model_id == self.model_id:
            raise ConfigError(
                f"Setting 'fallback_model_id' is {self.fallback_model_id!r}: allowed is a model other than 'model_id'."
            )
        _check_range("throttled_rate_limit", self.throttled_rate_limit, 1, 10000)
        _check_range("throttled_burst_limit", self.throttled_burst_limit, 1, 5000)
        if self.throttled_rate_limit >= self.api_throttle_rate_limit or self.throttled_burst_limit > self.api_throttle_burst_limit:
            raise ConfigError(
                f"Setting 'throttled_rate_limit' is {self.throttled_rate_limit}: allowed is a limit below "
                f"'api_throttle_rate_limit' ({self.api_throttle_rate_limit}), with 'throttled_burst_limit' at most "
                f"'api_throttle_burst_limit' ({self.api_throttle_burst_limit})."
            )
        _check_choice("config_recorder", self.config_recorder, ("create", "adopt"))
        standards = tuple(self.security_standards)
        if len(set(standards)) != len(standards) or not set(standards) <= {"fsbp", "cis", "nist"}:
            raise ConfigError(
                f"Setting 'security_standards' is {list(standards)!r}: allowed is a list of distinct fsbp, cis, nist."
            )
        object.__setattr__(self, "security_standards", standards)
        _check_pattern("metric_namespace", self.metric_namespace, _NAMESPACE_RE,
                       "1-255 letters, digits or . _ / # : - characters, not starting with AWS/")  # fmt: skip
        if self.metric_namespace.startswith("AWS/"):
            raise ConfigError("Setting 'metric_namespace' starts with 'AWS/': allowed is a namespace of your own.")
        _check_pattern("powertools_layer_version", self.powertools_layer_version, _LAYER_VERSION_RE,
                       "'latest' or a release number such as 3.23.0")  # fmt: skip
        object.__setattr__(self, "model_prices", _merged_prices(self.model_prices))
        AlarmThresholds.from_overrides(self.alarm_thresholds)
        object.__setattr__(self, "alarm_thresholds", MappingProxyType(dict(self.alarm_thresholds)))
        for key, value in self.tags.items():
            if not _TAG_KEY_RE.match(key) or key.startswith("aws:") or not _TAG_VALUE_RE.match(value):
                raise ConfigError(
                    f"Setting 'tags' has the pair {key!r}: {value!r}: allowed are keys of 1-128 and values of "
                    "0-256 letters, digits, spaces or _ . : / = + - @, and no key starting with aws:."
                )
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

    # ------------------------------------------------------------- derived
    @property
    def brings_own_knowledge_base(self) -> bool:
        """True when ``knowledge_base_id`` names an existing knowledge base."""
        return bool(self.knowledge_base_id)

    @property
    def thresholds(self) -> AlarmThresholds:
        """The Level 1 alarm thresholds: defaults with ``alarm_thresholds`` applied."""
        return AlarmThresholds.from_overrides(self.alarm_thresholds)

    @property
    def models_in_use(self) -> tuple[str, ...]:
        """The model and, at Level 3, the fallback model the failover runbook may switch to."""
        return (self.model_id, self.fallback_model_id) if self.level >= 3 else (self.model_id,)

    def price_table_json(self) -> str:
        """Prices of :attr:`models_in_use` as compact JSON for the Lambda environment, keyed by model id.

        An inference-profile id is priced as the foundation model behind it.
        """
        table = {}
        for model_id in self.models_in_use:
            price = self.model_prices.get(model_id) or self.model_prices.get(base_model_id(model_id))
            if price:
                table[model_id] = dict(price)
        return json.dumps(table, separators=(",", ":"), sort_keys=True)


def base_model_id(model_id: str) -> str:
    """The foundation-model id behind a model id or inference-profile id (``us.x.y`` -> ``x.y``)."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    head, _, rest = model_id.partition(".")
    return rest if head in INFERENCE_PROFILE_PREFIXES and rest else model_id


# ---------------------------------------------------------------- helpers
def _reject_misspelled_keys(values: Mapping[str, Any], *, strict: bool = False) -> None:
    known = ObservabilityConfig.keys()
    for key in values:
        if key in known:
            continue
        if not strict and (key.startswith("@") or ":" in key or "/" in key):
            continue  # feature flags and CDK's own context keys
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            raise ConfigError(f"Unknown setting '{key}': did you mean '{close[0]}'?")
        if strict:
            raise ConfigError(f"Unknown setting '{key}': allowed settings are {', '.join(known)}.")


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    """Convert a raw context value (JSON from cdk.json, or a string from ``-c``) to the field's type."""
    kind = str(kind)
    if kind == "bool" and isinstance(raw, str):
        low = raw.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ConfigError(f"Setting '{name}' is {raw!r}: allowed are true or false.")
    if kind == "int" and isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(f"Setting '{name}' is {raw!r}: allowed is a whole number.") from None
    if kind == "int" and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if kind == "float" and isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            raise ConfigError(f"Setting '{name}' is {raw!r}: allowed is a number.") from None
    if kind == "float" and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if kind.startswith("tuple") and isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(f"Setting '{name}' is not valid JSON: allowed is a JSON list.") from None
    if kind.startswith("tuple") and isinstance(raw, list):
        return tuple(raw)
    if kind.startswith("Mapping") and isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(f"Setting '{name}' is not valid JSON: allowed is a JSON object.") from None
    return raw


def _check_type(name: str, kind: Any, value: Any) -> None:
    kind = str(kind)
    expected: type | tuple[type, ...] = {"int": int, "float": (int, float), "bool": bool, "str": str}.get(
        kind, tuple if kind.startswith("tuple") else Mapping
    )
    ok = isinstance(value, expected) and not (kind in ("int", "float") and isinstance(value, bool))
    if not ok:
        wanted = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "a string"}.get(
            kind, "a JSON list" if kind.startswith("tuple") else "a JSON object"
        )
        raise ConfigError(f"Setting '{name}' is {value!r}: allowed is {wanted}.")


def _check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"Setting '{name}' is {value!r}: allowed are {', '.join(map(str, allowed))}.")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        kind = "a whole number" if isinstance(low, int) and isinstance(high, int) else "a number"
        raise ConfigError(f"Setting '{name}' is {value!r}: allowed is {kind} from {_num(low)} to {_num(high)}.")


def _num(value: float) -> str:
    """1000000000 -> '1,000,000,000'; 0.1 -> '0.1'."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _check_pattern(name: str, value: str, pattern: re.Pattern[str], allowed: str) -> None:
    if not pattern.match(value):
        raise ConfigError(f"Setting '{name}' is {value!r}: allowed is {allowed}.")


def _merged_prices(custom: Mapping[str, Any]) -> Mapping[str, Mapping[str, float]]:
    merged: dict[str, Mapping[str, float]] = dict(DEFAULT_MODEL_PRICES)
    for model, price in custom.items():
        ok = (
            isinstance(price, Mapping)
            and set(price) == {"input_per_1k", "output_per_1k"}
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in price.values())
        )
        if not ok:
            raise ConfigError(
                f"Setting 'model_prices' has {model!r}: {price!r}: allowed is "
                '{"input_per_1k": <number >= 0>, "output_per_1k": <number >= 0>} per model id.'
            )
        merged[model] = MappingProxyType({k: float(v) for k, v in price.items()})
    return MappingProxyType(merged)
