"""The active model of a user's function: the Workload's model parameter (switched by the failover runbook), cached.

Opt-in failover for your own function::

    import llm_observability_runtime as llmobs
    model_id = llmobs.active_model_id("anthropic.claude-3-haiku-20240307-v1:0")

``active_model_id(default)`` returns the value of the SSM String parameter named by ``LLMOBS_MODEL_PARAMETER_NAME``
(``LlmInstrumentation.use_model_parameter`` sets it), read at most once per ``ttl_seconds`` (60) per parameter,
and ``default`` when no parameter is configured or on any error (access denied, missing parameter, timeout, an
empty value): a failed lookup is logged once per error type and retried after the TTL, never raised. The
function must also be allowed to invoke the fallback model (``LlmInstrumentation.grant_model``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

#: Environment variable naming the SSM String parameter that holds the active model id.
ENV_MODEL_PARAMETER_NAME = "LLMOBS_MODEL_PARAMETER_NAME"
DEFAULT_TTL_SECONDS = 60.0
MAX_MODEL_ID_CHARS = 2048

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_cache: dict[str, tuple[str | None, float]] = {}  # parameter name -> (value or None after a failure, expiry)
_reported: set[str] = set()
_client: Any = None


def set_client(client: Any) -> None:
    """Use ``client`` as the SSM client (tests); None makes the next lookup create one."""
    global _client
    _client = client


def reset() -> None:
    """Forget cached values, reported errors and the client (a new container)."""
    with _lock:
        _cache.clear()
        _reported.clear()
    set_client(None)


def _ssm() -> Any:
    global _client
    if _client is None:
        import boto3  # the Lambda runtime's; imported on first lookup only
        from botocore.config import Config

        _client = boto3.client(
            "ssm", config=Config(connect_timeout=2, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2})
        )
    return _client


def _lookup(name: str) -> str | None:
    """The parameter's value, or None (logged once per error type) when it cannot be used."""
    try:
        value = _ssm().get_parameter(Name=name)["Parameter"]["Value"]
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_MODEL_ID_CHARS:
            raise ValueError("the parameter holds no model id")
        return value.strip()
    except Exception as exc:  # noqa: BLE001 - any failure falls back to the default model
        kind = type(exc).__name__
        if kind not in _reported:
            _reported.add(kind)
            _logger.warning("llm_observability_runtime: model parameter %s unusable (%s); using the default", name, kind)
        return None


def active_model_id(default: str, *, parameter_name: str | None = None, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> str:
    """The model id to call: the model parameter's value, else ``default``.

    :param default: the model used without a parameter or when it cannot be read (the primary model).
    :param parameter_name: the SSM String parameter. Default: ``LLMOBS_MODEL_PARAMETER_NAME``, else none.
    :param ttl_seconds: how long a value (or a failure) is reused before the parameter is read again. Default: 60.
    :raises ValueError: ``default`` is not a non-empty string, or ``ttl_seconds`` is negative.
    """
    if not isinstance(default, str) or not default:
        raise ValueError(f"active_model_id 'default' is {default!r}: allowed is a model id.")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float) or not ttl_seconds >= 0:
        raise ValueError(f"active_model_id 'ttl_seconds' is {ttl_seconds!r}: allowed is a number of seconds >= 0.")
    name = parameter_name if parameter_name is not None else os.environ.get(ENV_MODEL_PARAMETER_NAME, "").strip()
    if not name:
        return default
    now = time.monotonic()
    with _lock:
        cached = _cache.get(name)
        if cached is not None and cached[1] > now:
            return cached[0] or default
        value = _lookup(name)
        _cache[name] = (value, now + ttl_seconds)
    return value or default
