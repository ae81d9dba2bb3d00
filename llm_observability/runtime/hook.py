"""The hook into boto3: ``BaseClient._make_api_call`` wrapped so that Bedrock calls are instrumented.

Why this hook and not botocore's event system: handlers registered on a botocore session reach only the
clients that session creates afterwards (each client copies the session's emitter when it is created),
and every ``boto3.Session()`` builds a new botocore session, so a user's client created at import time
or from a session of their own would escape. ``BaseClient._make_api_call`` is the one method every
operation of every client goes through, whenever and however the client was created. It sees the
parameters, the parsed response (with its HTTP headers) or the exception, after botocore's retries, which
is the latency the user's code experiences.

OpenTelemetry's botocore instrumentation (the ADOT layer turns it on) wraps the same method with a wrapt
``FunctionWrapper`` and makes a span per AWS call. One span per Bedrock call needs the runtime's wrapper
INSIDE that one, so the runtime enriches the current botocore span instead of starting a second: when the
botocore instrumentation is there first, ``install`` re-layers (a new ``FunctionWrapper`` with the same
wrapper around the runtime's); when it comes later it wraps the runtime's by itself. ``uninstall`` and the
instrumentation's own ``unwrap`` each leave a working chain. Any other wrapper chains in either order.

Calls of other services and operations pass straight through (one dictionary lookup). While a tenant is set
(``tenant()``), a model invocation without ``requestMetadata`` is sent with ``{"tenant": ...}``
(``calls.with_tenant``; the user's parameters are copied, never changed). For the instrumented ones the user's
exception is re-raised unchanged, the response is the one botocore returned (with watching wrappers in place of
the streams), and any failure of the instrumentation is reported and swallowed.
"""

from __future__ import annotations

import sys
import threading
from types import FunctionType
from typing import Any

from botocore.client import BaseClient

from . import _tracing
from .calls import OPERATIONS, Call, with_tenant
from .recorder import current, guard
from .tenancy import current_tenant

_MARK = "__llmobs_original__"
_lock = threading.Lock()


def _call_with(original: Any) -> Any:
    def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        try:
            op = OPERATIONS.get((self.meta.service_model.service_name, operation_name))
        except Exception:  # a client we cannot read: not ours to instrument
            op = None
        if op is None:
            return original(self, operation_name, api_params)
        rec = current()
        tenant = current_tenant.get()
        if tenant is not None:  # requestMetadata for the model invocation log; the user's own is kept
            api_params = guard(rec, "call.tenant", with_tenant, op, self, api_params, tenant) or api_params
        call = guard(rec, "call.start", Call, rec, op, api_params)
        if call is None:
            return original(self, operation_name, api_params)
        if _tracing.tracing_available():
            guard(rec, "call.span", call.start_span)
        try:
            response = original(self, operation_name, api_params)
        except BaseException as exc:
            if call.scope is not None:
                guard(rec, "call.detach", call.scope.detach)
            guard(rec, "call.failed", call.failed, exc)
            raise
        if call.scope is not None:
            guard(rec, "call.detach", call.scope.detach)
        guard(rec, "call.succeeded", call.succeeded, response)
        return response

    setattr(_make_api_call, _MARK, original)
    _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
    return _make_api_call


def _is_ours(method: Any) -> bool:
    """True for the runtime's wrapper itself (a wrapt proxy forwards attribute reads, so its type is checked)."""
    return type(method) is FunctionType and _MARK in method.__dict__


def _is_botocore_wrapper(method: Any) -> bool:
    """True for the botocore instrumentation's wrapt ``FunctionWrapper`` (wrapper ``_patched_api_call``)."""
    module = sys.modules.get(_tracing.BOTOCORE_MODULE)
    instrumentor = getattr(module, "BotocoreInstrumentor", None)
    patched = getattr(instrumentor, "_patched_api_call", None)
    if patched is None or type(method) is FunctionType:
        return False
    wrapper = getattr(method, "_self_wrapper", None)
    return getattr(wrapper, "__func__", None) is patched and hasattr(method, "__wrapped__")


def installed() -> bool:
    """True when the hook is in place."""
    method = BaseClient.__dict__.get("_make_api_call")
    for _ in range(16):  # a chain of wrappers, each naming the next in ``__wrapped__``
        if method is None or _is_ours(method):
            return method is not None
        method = getattr(method, "__wrapped__", None)
    return False


def install() -> None:
    """Wrap ``BaseClient._make_api_call`` (idempotent), inside the botocore instrumentation's wrapper if present."""
    with _lock:
        if installed():
            return
        method = BaseClient.__dict__["_make_api_call"]
        if _is_botocore_wrapper(method):
            method = type(method)(_call_with(method.__wrapped__), method._self_wrapper)
        else:
            method = _call_with(method)
        BaseClient._make_api_call = method  # type: ignore[method-assign]


def uninstall() -> bool:
    """Remove the wrapper when it is the outermost one or right inside the botocore instrumentation's; True when
    removed.

    When another library wrapped it after us, removing ours would remove theirs too, so it stays (and
    keeps instrumenting).
    """
    with _lock:
        method = BaseClient.__dict__.get("_make_api_call")
        if _is_ours(method):
            BaseClient._make_api_call = getattr(method, _MARK)  # type: ignore[method-assign]
            return True
        if _is_botocore_wrapper(method) and _is_ours(method.__wrapped__):
            original = getattr(method.__wrapped__, _MARK)
            BaseClient._make_api_call = type(method)(original, method._self_wrapper)  # type: ignore[method-assign]
            return True
        return False
