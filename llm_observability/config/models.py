"""Bedrock model ids: the defaults, the id format, inference-profile prefixes and the built-in price table."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from llm_observability.errors import ConfigError
from llm_observability.validation import pattern

DEFAULT_MODEL_ID = "amazon.nova-lite-v1:0"
DEFAULT_EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
DEFAULT_FALLBACK_MODEL_ID = "amazon.nova-micro-v1:0"

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
MODEL_PRICE_ALLOWED = '{"input_per_1k": <number >= 0>, "output_per_1k": <number >= 0>} per model id'

#: Geography prefixes of cross-region inference-profile ids (``us.amazon.nova-lite-v1:0``).
INFERENCE_PROFILE_PREFIXES: tuple[str, ...] = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")
_GEO = "|".join(re.escape(p) for p in INFERENCE_PROFILE_PREFIXES)
#: A model id, an inference-profile id, or the ARN of a foundation model or (application) inference profile.
MODEL_ID_RE = re.compile(
    rf"^(?:(?:{_GEO})\.)?[a-z0-9-]+\.[A-Za-z0-9._:-]+$"
    r"|^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{0,12}:(?:foundation-model|inference-profile|application-inference-profile)/[A-Za-z0-9._:/-]+$"
)


def is_token(value: object) -> bool:
    """True for a string holding an unresolved CDK token (a ``CfnParameter``'s value, a reference): a value known only
    at deploy time. aws-cdk-lib is asked only when it is loaded; without it no token can exist."""
    cdk = sys.modules.get("aws_cdk")
    return isinstance(value, str) and cdk is not None and bool(cdk.Token.is_unresolved(value))


@dataclass(frozen=True)
class ModelId:
    """The model-id rule: a string :data:`MODEL_ID_RE` matches, described by ``text``, or a token (a ``CfnParameter``'s
    value), which passes unchecked: its model is known only at deploy time."""

    text: str

    @property
    def allowed(self) -> str:
        return self.text

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        if is_token(value):
            return value
        return pattern(setting, value, MODEL_ID_RE, self.text, owner=owner)


def base_model_id(model_id: str) -> str:
    """The foundation-model id behind a model id or inference-profile id (``us.x.y`` -> ``x.y``)."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    head, _, rest = model_id.partition(".")
    return rest if head in INFERENCE_PROFILE_PREFIXES and rest else model_id


def merged_prices(setting: str, custom: Mapping[str, Any]) -> Mapping[str, Mapping[str, float]]:
    """The built-in price table with ``custom`` (``{model id: {input_per_1k, output_per_1k}}``) merged over it."""
    merged: dict[str, Mapping[str, float]] = dict(DEFAULT_MODEL_PRICES)
    for model, price in custom.items():
        ok = (
            isinstance(price, Mapping)
            and set(price) == {"input_per_1k", "output_per_1k"}
            and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in price.values())
        )
        if not ok:
            raise ConfigError(f"Setting '{setting}' has {model!r}: {price!r}: allowed is {MODEL_PRICE_ALLOWED}.")
        merged[model] = MappingProxyType({k: float(v) for k, v in price.items()})
    return MappingProxyType(merged)


def price_in(table: Mapping[str, Mapping[str, float]], model_id: str) -> Mapping[str, float] | None:
    """The price of ``model_id`` in ``table`` (its own entry, else its foundation model's); None when unpriced.

    A model id given as a token (a ``CfnParameter``'s value, unknown at synth) has a price only when the table has
    an entry keyed by that same token."""
    if model_id in table:
        return table[model_id]
    if is_token(model_id):
        return None
    return table.get(base_model_id(model_id))
