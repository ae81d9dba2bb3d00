"""Managed configuration: the active prompt version and the active model, read from SSM.

``ManagedPrompt`` follows an SSM String parameter holding a Bedrock Prompt Management
prompt-version ARN and turns that version's TEXT template into a ``PromptTemplate``;
``ManagedModel`` follows an SSM String parameter holding a model id.  Both cache what they
read for a TTL, so a runbook that changes a parameter takes effect within one TTL without a
deployment, and at most one request per container and TTL pays for a lookup.

A lookup never fails a request: on any failure (missing parameter, AccessDenied, throttling,
timeout, malformed value...) ``resolve`` returns the last good value (else the built-in
default) together with a one-sentence reason, and the lookup is retried after the TTL.
Nothing here logs or emits metrics; ``handler`` does.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from llm_observability_runtime import telemetry
from botocore.exceptions import BotoCoreError, ClientError
from pipeline import TEMPLATE_VARIABLES, PromptTemplate, managed_layout

#: Time the lookups of one request may spend before further lookups are skipped (and count as
#: failures).  One lookup call is bounded by its client's timeouts (connect 2 s + read 3 s), so
#: a refresh adds at most about this budget plus one call to a request.
LOOKUP_BUDGET_SECONDS = 3.0

# arn:aws:bedrock:<region>:<account>:prompt/<prompt id>:<version>
PROMPT_VERSION_ARN = re.compile(
    r"(?P<prompt>arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:prompt/[0-9A-Za-z]{1,64}):(?P<version>[1-9][0-9]{0,4})"
)
# A Bedrock model id, inference profile id (us.anthropic.claude-...) or model / profile ARN.
MODEL_ID = re.compile(
    r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,3}(?::[a-z0-9-]{1,63}){0,2}"
    r"|arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:(?:[0-9]{12})?:"
    r"(?:foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model"
    r"|custom-model-deployment|imported-model|prompt-router|default-prompt-router)/[A-Za-z0-9.:/_-]{1,256}"
)
_TEXT_TEMPLATE = "TEXT"
_MAX_CACHED_PROMPT_VERSIONS = 16

T = TypeVar("T")


class LookupFailure(Exception):
    """A lookup failed; ``reason`` is one sentence for the log, ``code`` the AWS error code if any."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Resolution(Generic[T]):
    """What ``resolve`` returns: the value to use now, the one used before, and a failure if any."""

    __slots__ = ("failure", "previous", "value")

    def __init__(self, value: T, previous: T, failure: LookupFailure | None = None) -> None:
        self.value = value
        self.previous = previous
        self.failure = failure

    @property
    def changed(self) -> bool:
        """Whether this lookup switched to another value."""
        return self.value != self.previous


def _call(operation: str, method: Callable[..., dict[str, Any]], deadline: float, clock: Callable[[], float],
          **params: Any) -> dict[str, Any]:  # fmt: skip
    """Call an AWS API, turning every failure into a ``LookupFailure`` naming the operation."""
    if clock() >= deadline:
        raise LookupFailure(f"{operation} skipped: the request's lookup time budget is spent")
    try:
        return method(**params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code") or "ClientError"
        raise LookupFailure(f"{operation} failed with {code}", code) from None
    except BotoCoreError as exc:
        raise LookupFailure(f"{operation} failed: {type(exc).__name__}") from None


def get_parameter(client: Any, name: str, deadline: float, clock: Callable[[], float]) -> str:
    """The value of an SSM String parameter."""
    response = _call("ssm:GetParameter", client.get_parameter, deadline, clock, Name=name)
    value = (response.get("Parameter") or {}).get("Value")
    if not isinstance(value, str) or not value.strip():
        raise LookupFailure("ssm:GetParameter returned no value")
    return value.strip()


def fetch_prompt_template(
    client: Any, arn: str, base: PromptTemplate, deadline: float, clock: Callable[[], float]
) -> PromptTemplate:
    """The TEXT template of a prompt version as a ``PromptTemplate`` labelled ``managed-<version>``.

    The variant is the prompt's ``defaultVariant``, else its first one; the template must use
    ``{{question}}`` and ``{{passages}}`` and no other variable.  ``base`` supplies the system
    prompt and the passage format.
    """
    match = PROMPT_VERSION_ARN.fullmatch(arn)
    if match is None:
        raise LookupFailure(
            "the parameter value is not a prompt version ARN (arn:aws:bedrock:<region>:<account>:prompt/<id>:<version>)"
        )
    version = match["version"]
    response = _call(
        "bedrock-agent:GetPrompt",
        client.get_prompt,
        deadline,
        clock,
        promptIdentifier=match["prompt"],
        promptVersion=version,
    )
    variants = [variant for variant in response.get("variants") or () if isinstance(variant, dict)]
    if not variants:
        raise LookupFailure("the prompt version has no variants")
    default = response.get("defaultVariant")
    variant = next((item for item in variants if item.get("name") == default), variants[0])
    name = variant.get("name")
    if variant.get("templateType") != _TEXT_TEMPLATE:
        raise LookupFailure(
            f"prompt variant {name!r} is a {variant.get('templateType')} template; only TEXT templates are supported"
        )
    text = ((variant.get("templateConfiguration") or {}).get("text") or {}).get("text")
    if not isinstance(text, str) or not text.strip():
        raise LookupFailure(f"prompt variant {name!r} has an empty template")
    layout = managed_layout(text)
    used = {variable for _, variable in layout if variable is not None}
    missing = [variable for variable in TEMPLATE_VARIABLES if variable not in used]
    if missing:
        raise LookupFailure(
            f"prompt variant {name!r} lacks {', '.join('{{' + variable + '}}' for variable in missing)}"
        )
    unknown = sorted(used.difference(TEMPLATE_VARIABLES))
    if unknown:
        raise LookupFailure(
            f"prompt variant {name!r} uses variables the function cannot fill: "
            + ", ".join("{{" + variable + "}}" for variable in unknown)
        )
    return base.with_user_template(f"{telemetry.PROMPT_VERSION_MANAGED_PREFIX}{version}", text, layout)


class _Cached(Generic[T], ABC):
    """A value read from an SSM parameter, cached for ``ttl_seconds``, with a fallback."""

    def __init__(self, parameter_name: str, ttl_seconds: float, default: T, clock: Callable[[], float]) -> None:
        self.parameter_name = parameter_name
        self.ttl_seconds = ttl_seconds
        self.default = default
        self._clock = clock
        self._good: T | None = None  # the last value read successfully
        self._expires_at = -math.inf

    @property
    def active(self) -> T:
        """The value in use: the last one read successfully, else the default."""
        return self.default if self._good is None else self._good

    def resolve(self, ssm_client: Callable[[], Any], deadline: float) -> Resolution[T]:
        """The value to use now, reading the parameter again when the cached one has expired."""
        now = self._clock()
        previous = self.active
        if now < self._expires_at:
            return Resolution(previous, previous)
        self._expires_at = now + self.ttl_seconds  # failures are retried after the TTL, too
        try:
            value = self._read(get_parameter(ssm_client(), self.parameter_name, deadline, self._clock), deadline)
        except LookupFailure as exc:
            return Resolution(previous, previous, exc)
        except Exception as exc:  # noqa: BLE001 - any failure falls back; the reason is logged
            return Resolution(previous, previous, LookupFailure(f"unexpected {type(exc).__name__}"))
        self._good = value
        return Resolution(value, previous)

    @abstractmethod
    def _read(self, parameter_value: str, deadline: float) -> T:
        """Turn the parameter's value into the cached value, or raise LookupFailure."""


class ManagedPrompt(_Cached[PromptTemplate]):
    """The prompt template named by a prompt-version ARN in an SSM parameter.

    Prompt versions are immutable, so each version's template is fetched once per container;
    a refresh that finds the same ARN costs one GetParameter call.
    """

    def __init__(
        self,
        parameter_name: str,
        ttl_seconds: float,
        builtin: PromptTemplate,
        clock: Callable[[], float],
        agent_client: Callable[[], Any],
    ) -> None:
        super().__init__(parameter_name, ttl_seconds, builtin, clock)
        self._agent_client = agent_client
        self._versions: dict[str, PromptTemplate] = {}

    def _read(self, parameter_value: str, deadline: float) -> PromptTemplate:
        template = self._versions.get(parameter_value)
        if template is None:
            template = fetch_prompt_template(self._agent_client(), parameter_value, self.default, deadline, self._clock)
            if len(self._versions) >= _MAX_CACHED_PROMPT_VERSIONS:
                self._versions.clear()
            self._versions[parameter_value] = template
        return template


class ManagedModel(_Cached[str]):
    """The model id in an SSM parameter (set by failover runbooks); MODEL_ID until one is read."""

    def _read(self, parameter_value: str, deadline: float) -> str:
        if not MODEL_ID.fullmatch(parameter_value):
            raise LookupFailure("the parameter value is not a Bedrock model id, inference profile or model ARN")
        return parameter_value
