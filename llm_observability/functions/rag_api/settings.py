"""Function configuration, read from the environment once per cold start.

``load_settings`` validates every variable and reports all problems at once in
a ``SettingsError`` so a misconfigured deployment produces one clear log line
instead of a crash loop.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

from llm_observability_runtime import telemetry, tenancy

DEFAULT_RETRIEVAL_TOP_K = 4
MAX_RETRIEVAL_TOP_K = 20
DEFAULT_PROMPT_TEMPLATE_VERSION = "v1"
DEFAULT_CACHE_TTL_SECONDS = 300.0
DEFAULT_CACHE_MAX_ENTRIES = 128
DEFAULT_MAX_QUESTION_CHARS = 2000
MAX_QUESTION_CHARS_LIMIT = 100_000
INSTRUMENTATION_ON = "on"
INSTRUMENTATION_OFF = "off"
DEFAULT_PROMPT_CACHE_TTL_SECONDS = 60.0
DEFAULT_MODEL_CACHE_TTL_SECONDS = 60.0

# The request shapes of Converse's guardrailConfig (botocore's GuardrailIdentifier / GuardrailVersion).
_GUARDRAIL_ID = re.compile(r"[a-z0-9]+|arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+")
_GUARDRAIL_VERSION = re.compile(r"[1-9][0-9]{0,7}|DRAFT")
# A Bedrock application inference profile ARN (TENANT_PROFILES values).
_PROFILE_ARN = re.compile(
    r"arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:application-inference-profile/[a-z0-9]{1,64}"
)
# An SSM parameter name (optionally a full parameter ARN, for shared parameters).
_PARAMETER_NAME = re.compile(r"(?:arn:aws(?:-[a-z-]+)?:ssm:[a-z0-9-]+:[0-9]{12}:parameter)?/?[A-Za-z0-9_.\-/]{1,1011}")


class SettingsError(Exception):
    """The function's environment is invalid; ``problems`` lists every issue found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """On-demand price of a model in US dollars per 1,000 tokens."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Estimated cost in US dollars of one call."""
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated function configuration."""

    model_id: str
    knowledge_base_id: str
    retrieval_top_k: int = DEFAULT_RETRIEVAL_TOP_K
    prompt_logging: str = telemetry.PROMPT_LOGGING_REDACTED
    price_table: Mapping[str, ModelPrice] = field(default_factory=dict)
    prompt_template_version: str = DEFAULT_PROMPT_TEMPLATE_VERSION
    cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS
    cache_max_entries: int = DEFAULT_CACHE_MAX_ENTRIES
    max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS
    instrumentation: bool = True
    guardrail_id: str | None = None
    guardrail_version: str | None = None
    prompt_parameter_name: str | None = None
    prompt_cache_ttl_seconds: float = DEFAULT_PROMPT_CACHE_TTL_SECONDS
    model_parameter_name: str | None = None
    model_cache_ttl_seconds: float = DEFAULT_MODEL_CACHE_TTL_SECONDS
    tenant_header: str = tenancy.DEFAULT_HEADER
    tenant_profiles: Mapping[str, str] = field(default_factory=dict)

    @property
    def model_price(self) -> ModelPrice | None:
        """Price of the configured model, or None when PRICE_TABLE has no entry for it."""
        return self.price_table.get(self.model_id)

    def price_of(self, model_id: str) -> ModelPrice | None:
        """Price of ``model_id`` (MODEL_ID or the one MODEL_PARAMETER_NAME names), or None when unlisted."""
        return self.price_table.get(model_id)

    @property
    def guardrail(self) -> bool:
        """Whether Converse calls go through a Bedrock Guardrail."""
        return self.guardrail_id is not None


class _Reader:
    """Collects validation problems while reading variables."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            self.problems.append(f"{name} is required and must not be empty.")
            return ""
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            self.problems.append(f"{name} must be an integer from {low} to {high}, got {value!r}.")
            return default
        return number

    def seconds(self, name: str, default: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            self.problems.append(f"{name} must be a non-negative number of seconds, got {value!r}.")
            return default
        return number

    def matching(self, name: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        value = self.raw(name)
        if value is not None and not pattern.fullmatch(value):
            self.problems.append(f"{name} must be {allowed}, got {value!r}.")
            return None
        return value

    def choice(self, name: str, default: str, allowed: Collection[str]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in allowed:
            self.problems.append(f"{name} must be one of {', '.join(sorted(allowed))}, got {value!r}.")
            return default
        return value.lower()

    def json_object(self, name: str) -> object:
        """The variable parsed as JSON (None when unset or not JSON: the caller says what it wanted)."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return None

    def price_table(self, name: str) -> dict[str, ModelPrice]:
        if self.raw(name) is None:
            return {}
        document = self.json_object(name)
        if not isinstance(document, dict):
            self.problems.append(f"{name} must be a JSON object mapping model ids to prices.")
            return {}
        table: dict[str, ModelPrice] = {}
        for model_id, entry in document.items():
            prices = entry if isinstance(entry, dict) else {}
            input_price, output_price = prices.get("input_per_1k"), prices.get("output_per_1k")
            if not (_is_price(input_price) and _is_price(output_price)):
                self.problems.append(
                    f"{name} entry {model_id!r} must be an object with non-negative numbers "
                    "'input_per_1k' and 'output_per_1k'."
                )
                continue
            table[model_id] = ModelPrice(float(input_price), float(output_price))
        return table

    def tenant_profiles(self, name: str) -> dict[str, str]:
        """A JSON object mapping tenant ids to application inference profile ARNs."""
        if self.raw(name) is None:
            return {}
        document = self.json_object(name)
        if not isinstance(document, dict) or not all(
            tenancy.TENANT_ID_RE.fullmatch(k) and isinstance(v, str) and _PROFILE_ARN.fullmatch(v)
            for k, v in document.items()
        ):
            self.problems.append(
                f"{name} must be a JSON object mapping tenant ids ({tenancy.TENANT_ID_ALLOWED}) to Bedrock "
                "application inference profile ARNs."
            )
            return {}
        return dict(document)


def _is_price(value: object) -> TypeGuard[float]:
    """A finite, non-negative JSON number (booleans excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def load_settings(
    template_versions: Collection[str],
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read and validate the function's environment.

    ``template_versions`` are the prompt template versions the code ships;
    PROMPT_TEMPLATE_VERSION must name one of them.  Raises ``SettingsError``
    listing every problem.
    """
    reader = _Reader(os.environ if environ is None else environ)
    model_id = reader.required(telemetry.ENV_MODEL_ID)
    knowledge_base_id = reader.required(telemetry.ENV_KNOWLEDGE_BASE_ID)
    settings = Settings(
        model_id=model_id,
        knowledge_base_id=knowledge_base_id,
        retrieval_top_k=reader.integer(telemetry.ENV_RETRIEVAL_TOP_K, DEFAULT_RETRIEVAL_TOP_K, 1, MAX_RETRIEVAL_TOP_K),
        prompt_logging=reader.choice(
            telemetry.ENV_PROMPT_LOGGING, telemetry.PROMPT_LOGGING_REDACTED, telemetry.PROMPT_LOGGING_MODES
        ),
        price_table=reader.price_table(telemetry.ENV_PRICE_TABLE),
        prompt_template_version=reader.choice(
            telemetry.ENV_PROMPT_TEMPLATE_VERSION, DEFAULT_PROMPT_TEMPLATE_VERSION, template_versions
        ),
        cache_ttl_seconds=reader.seconds(telemetry.ENV_CACHE_TTL_SECONDS, DEFAULT_CACHE_TTL_SECONDS),
        cache_max_entries=reader.integer(telemetry.ENV_CACHE_MAX_ENTRIES, DEFAULT_CACHE_MAX_ENTRIES, 1, 1_000_000),
        max_question_chars=reader.integer(
            telemetry.ENV_MAX_QUESTION_CHARS, DEFAULT_MAX_QUESTION_CHARS, 1, MAX_QUESTION_CHARS_LIMIT
        ),
        instrumentation=reader.choice(
            telemetry.ENV_INSTRUMENTATION, INSTRUMENTATION_ON, (INSTRUMENTATION_ON, INSTRUMENTATION_OFF)
        )
        == INSTRUMENTATION_ON,
        guardrail_id=reader.matching(
            telemetry.ENV_GUARDRAIL_ID, _GUARDRAIL_ID, "a guardrail id (lowercase letters and digits) or guardrail ARN"
        ),
        guardrail_version=reader.matching(
            telemetry.ENV_GUARDRAIL_VERSION, _GUARDRAIL_VERSION, "a guardrail version number or DRAFT"
        ),
        prompt_parameter_name=reader.matching(
            telemetry.ENV_PROMPT_PARAMETER_NAME, _PARAMETER_NAME, "an SSM parameter name or ARN"
        ),
        prompt_cache_ttl_seconds=reader.seconds(
            telemetry.ENV_PROMPT_CACHE_TTL_SECONDS, DEFAULT_PROMPT_CACHE_TTL_SECONDS
        ),
        model_parameter_name=reader.matching(
            telemetry.ENV_MODEL_PARAMETER_NAME, _PARAMETER_NAME, "an SSM parameter name or ARN"
        ),
        model_cache_ttl_seconds=reader.seconds(telemetry.ENV_MODEL_CACHE_TTL_SECONDS, DEFAULT_MODEL_CACHE_TTL_SECONDS),
        tenant_header=reader.matching(
            telemetry.ENV_TENANT_HEADER, tenancy.HEADER_RE, "a lowercase HTTP header name (letters, digits, -)"
        )
        or tenancy.DEFAULT_HEADER,
        tenant_profiles=reader.tenant_profiles(telemetry.ENV_TENANT_PROFILES),
    )
    if (reader.raw(telemetry.ENV_GUARDRAIL_ID) is None) != (reader.raw(telemetry.ENV_GUARDRAIL_VERSION) is None):
        reader.problems.append(
            f"{telemetry.ENV_GUARDRAIL_ID} and {telemetry.ENV_GUARDRAIL_VERSION} must be set together (or neither)."
        )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings
