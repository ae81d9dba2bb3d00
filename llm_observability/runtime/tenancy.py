"""The tenant key of a request: its rules, where an API Gateway event carries it, and the current one.

A tenant key names who a Bedrock call is made for, so usage and cost can be split per tenant (Contributor
Insights rules read it from the model invocation log's ``requestMetadata.tenant`` and from the runtime's
``bedrock_call`` log line). It is sent to Bedrock as a ``requestMetadata`` value, so it keeps to what
``requestMetadata`` accepts (letters, digits, whitespace and ``: _ @ $ # = / + , - .``, at most 256 characters);
a key chosen by a caller (a header) keeps to the narrower tenant-id rule that tags and the library's settings use:
1-64 letters, digits or ``_ . : @ = + / -``.

Standard library only: it runs in Lambda (the runtime layer) and in ``cdk synth``.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Mapping
from typing import Any

from .telemetry import REQUEST_METADATA_TENANT

#: The ``requestMetadata`` key the tenant is sent under.
METADATA_KEY = REQUEST_METADATA_TENANT
#: The tenant of a request that names none and has no IAM caller.
ANONYMOUS = "anonymous"
#: The default request header naming the tenant.
DEFAULT_HEADER = "x-tenant-id"
#: A tenant id a caller may choose (header), as tags and the library's settings accept it.
TENANT_ID_RE = re.compile(r"[A-Za-z0-9_.:@=+/-]{1,64}")
TENANT_ID_ALLOWED = "1-64 letters, digits or _ . : @ = + / -"
#: What Bedrock ``requestMetadata`` accepts as a value (botocore's service model), without whitespace.
MAX_KEY_CHARS = 256
_METADATA_VALUE_RE = re.compile(r"[A-Za-z0-9:_@$#=/+,.-]{1,256}")
_NOT_METADATA = re.compile(r"[^A-Za-z0-9:_@$#=/+,.-]")
#: A header name as the library's settings accept it (lowercase).
HEADER_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

#: The tenant of the current request (``tenant()``); ``observe`` starts every invocation without one.
current_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("llmobs_tenant", default=None)


class InvalidTenant(ValueError):
    """A tenant key that is not allowed; ``header`` names the request header it came from, if any."""

    def __init__(self, message: str, header: str | None = None) -> None:
        super().__init__(message)
        self.header = header


def is_tenant_key(value: object) -> bool:
    """True for a key ``requestMetadata`` accepts (no whitespace): 1-256 of ``A-Z a-z 0-9 : _ @ $ # = / + , - .``."""
    return isinstance(value, str) and _METADATA_VALUE_RE.fullmatch(value) is not None


def check_key(value: object) -> str:
    """``value`` when it is a tenant key, else :class:`InvalidTenant`."""
    if not is_tenant_key(value):
        raise InvalidTenant(
            f"tenant is {value!r}: allowed is 1-{MAX_KEY_CHARS} letters, digits or : _ @ $ # = / + , - . "
            "(what Bedrock requestMetadata accepts)."
        )
    return str(value)


def sanitize(value: str) -> str:
    """``value`` made a tenant key: each other character replaced by ``_``, cut to 256 characters."""
    return _NOT_METADATA.sub("_", value)[:MAX_KEY_CHARS] or ANONYMOUS


def _header_values(event: Mapping[str, Any], header: str) -> list[str]:
    """Every value of ``header`` (case-insensitive) in a proxy event: REST ``multiValueHeaders`` / ``headers``,
    HTTP API ``headers`` (repeated headers joined with commas)."""
    values: list[str] = []
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        for name, found in multi.items():
            if isinstance(name, str) and name.lower() == header and isinstance(found, list):
                values += [v for v in found if isinstance(v, str)]
    if values:
        return values
    single = event.get("headers")
    if isinstance(single, Mapping):
        for name, found in single.items():
            if isinstance(name, str) and name.lower() == header and isinstance(found, str):
                values.append(found)
    return values


def _caller(event: Mapping[str, Any]) -> str | None:
    """The IAM caller of a proxy event: REST ``identity.userArn`` / ``caller``, HTTP API ``authorizer.iam``."""
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    identity = context.get("identity")
    authorizer = context.get("authorizer")
    iam = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    for source, field in ((identity, "userArn"), (iam, "userArn"), (identity, "caller"), (iam, "callerId")):
        value = source.get(field) if isinstance(source, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def tenant_of(event: Any, header: str = DEFAULT_HEADER) -> str:
    """The tenant of an API Gateway proxy event (REST or HTTP API).

    The value of ``header`` (case-insensitive, surrounding whitespace ignored) when the request has it; it must
    be a tenant id (1-64 letters, digits or ``_ . : @ = + / -``), and a request that sends it twice sends one
    value. Without the header, the IAM caller (``userArn``, else ``caller``), made a tenant key; else
    ``anonymous``.

    :raises InvalidTenant: the header is there but its value is not allowed (its ``header`` names it), or
        ``header`` is not a lowercase header name.
    """
    if not isinstance(header, str) or HEADER_RE.fullmatch(header) is None:
        raise InvalidTenant(f"header is {header!r}: allowed is a lowercase HTTP header name (letters, digits, -).")
    if not isinstance(event, Mapping):
        return ANONYMOUS
    values = {v.strip() for v in _header_values(event, header)}
    if values:
        (value,) = values if len(values) == 1 else ("",)
        if TENANT_ID_RE.fullmatch(value) is None:
            raise InvalidTenant(f"The {header} header must be one tenant id of {TENANT_ID_ALLOWED}.", header=header)
        return value
    caller = _caller(event)
    return sanitize(caller) if caller is not None else ANONYMOUS
