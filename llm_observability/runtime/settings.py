"""The runtime's settings: service name, metric namespace, prompt-logging mode and price table.

Each comes from an argument of ``instrument()`` or else from its environment variable (see the package
docstring). A bad argument is the caller's mistake and raises ``ValueError``; a bad environment variable
must not stop the user's function, so it falls back to the default and is reported once in ``problems``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import telemetry as t

DEFAULT_SERVICE_NAME = "llm-app"  # when neither LLMOBS_SERVICE_NAME, POWERTOOLS_SERVICE_NAME nor a function name is set
MAX_NAME_CHARS = 255
#: Geography prefixes of cross-region inference profile ids (``us.anthropic...``); prices are per base model.
_PROFILE_PREFIXES = frozenset({"us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"})
_PRICE_KEYS = (("input_per_1k", "output_per_1k"), ("input", "output"))


@dataclass(frozen=True)
class Price:
    """On-demand price of a model in US dollars per 1,000 tokens."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The estimated cost of a call in US dollars."""
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k


@dataclass(frozen=True)
class Settings:
    """What ``instrument()`` configured."""

    service_name: str
    namespace: str = t.DEFAULT_NAMESPACE
    prompt_logging: str = t.DEFAULT_RUNTIME_PROMPT_LOGGING
    prices: Mapping[str, Price] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # environment variables that were ignored, one sentence each

    def price_of(self, model_id: str | None) -> Price | None:
        """The price of ``model_id``: listed as is, else as its base model (inference profile or ARN)."""
        if not model_id or not self.prices:
            return None
        price = self.prices.get(model_id)
        if price is None:
            base = base_model_id(model_id)
            price = self.prices.get(base) if base != model_id else None
        return price


def base_model_id(model_id: str) -> str:
    """``model_id`` without an ARN prefix or an inference-profile geography (``us.``, ``eu.``, ...)."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    prefix, dot, rest = model_id.partition(".")
    return rest if dot and prefix in _PROFILE_PREFIXES else model_id


def _is_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS


def _is_price(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def parse_prices(table: object) -> tuple[dict[str, Price], list[str]]:
    """The valid entries of a price table and one sentence per invalid one.

    An entry is ``{model id: {"input_per_1k": USD, "output_per_1k": USD}}``; ``{"input": USD, "output": USD}``
    is accepted too.
    """
    if not isinstance(table, Mapping):
        return {}, ["the price table must be a JSON object mapping model ids to prices"]
    prices: dict[str, Price] = {}
    problems: list[str] = []
    for model_id, entry in table.items():
        pair = next(
            (
                (entry[i], entry[o])
                for i, o in _PRICE_KEYS
                if isinstance(entry, Mapping) and _is_price(entry.get(i)) and _is_price(entry.get(o))
            ),
            None,
        )
        if not isinstance(model_id, str) or not model_id or pair is None:
            problems.append(
                f"the price of {model_id!r} must be {{'input_per_1k': USD >= 0, 'output_per_1k': USD >= 0}}"
            )
            continue
        prices[model_id] = Price(float(pair[0]), float(pair[1]))
    return prices, problems


def load(
    *,
    service_name: str | None = None,
    namespace: str | None = None,
    prompt_logging: str | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from the arguments, else the environment, else the defaults.

    :raises ValueError: an argument that is not allowed (one sentence naming it and what is allowed).
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    if service_name is not None and not _is_name(service_name):
        raise ValueError(f"service_name is {service_name!r}: allowed is a string of 1-{MAX_NAME_CHARS} characters.")
    if namespace is not None and not _valid_namespace(namespace):
        raise ValueError(
            f"namespace is {namespace!r}: allowed is 1-{MAX_NAME_CHARS} characters, not starting with 'AWS/' or ':'."
        )
    if prompt_logging is not None and prompt_logging not in t.PROMPT_LOGGING_MODES:
        raise ValueError(f"prompt_logging is {prompt_logging!r}: allowed are {', '.join(t.PROMPT_LOGGING_MODES)}.")
    if prices is not None:
        table, bad = parse_prices(prices)
        if bad:
            raise ValueError(f"prices: {bad[0]}.")
    else:
        table = _env_prices(env, problems)
    if service_name is None:
        candidates = (
            env.get(t.ENV_RUNTIME_SERVICE_NAME),
            env.get(t.ENV_POWERTOOLS_SERVICE_NAME),
            env.get(t.ENV_LAMBDA_FUNCTION_NAME),
        )
        service_name = next((value for value in candidates if value and _is_name(value)), DEFAULT_SERVICE_NAME)
    if namespace is None:
        namespace = env.get(t.ENV_RUNTIME_NAMESPACE) or t.DEFAULT_NAMESPACE
        if not _valid_namespace(namespace):
            problems.append(f"{t.ENV_RUNTIME_NAMESPACE} is not a CloudWatch namespace; using {t.DEFAULT_NAMESPACE}")
            namespace = t.DEFAULT_NAMESPACE
    if prompt_logging is None:
        prompt_logging = env.get(t.ENV_RUNTIME_PROMPT_LOGGING) or t.DEFAULT_RUNTIME_PROMPT_LOGGING
        if prompt_logging not in t.PROMPT_LOGGING_MODES:
            problems.append(
                f"{t.ENV_RUNTIME_PROMPT_LOGGING} must be one of {', '.join(t.PROMPT_LOGGING_MODES)}; "
                f"using {t.DEFAULT_RUNTIME_PROMPT_LOGGING}"
            )
            prompt_logging = t.DEFAULT_RUNTIME_PROMPT_LOGGING
    return Settings(service_name, namespace, prompt_logging, table, tuple(problems))


def _valid_namespace(namespace: object) -> bool:
    return _is_name(namespace) and not str(namespace).startswith(("AWS/", ":"))


def _env_prices(env: Mapping[str, str], problems: list[str]) -> dict[str, Price]:
    raw = env.get(t.ENV_RUNTIME_PRICES)
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        problems.append(f"{t.ENV_RUNTIME_PRICES} is not JSON; no cost is estimated")
        return {}
    table, bad = parse_prices(document)
    problems.extend(f"{t.ENV_RUNTIME_PRICES}: {sentence}; that entry is ignored" for sentence in bad)
    return table
