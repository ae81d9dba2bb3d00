"""The hook into boto3: ``BaseClient._make_api_call`` wrapped so that Bedrock calls are instrumented.

Why this hook and not botocore's event system: handlers registered on a botocore session reach only the
clients that session creates afterwards (each client copies the session's emitter when it is created),
and every ``boto3.Session()`` builds a new botocore session, so a user's client created at import time
or from a session of their own would escape. ``BaseClient._make_api_call`` is the one method every
operation of every client goes through, whenever and however the client was created; the AWS X-Ray SDK
and OpenTelemetry's botocore instrumentation hook the same method, and the wrappers chain in either order.
It sees the parameters, the parsed response (with its HTTP headers) or the exception, after botocore's
retries, which is the latency the user's code experiences.

Calls of other services and operations pass straight through (one dictionary lookup). For the
instrumented ones the user's exception is re-raised unchanged, the response is the one botocore returned
(with watching wrappers in place of the streams), and any failure of the instrumentation is reported and
swallowed.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.client import BaseClient

from . import _tracing
from .calls import OPERATIONS, Call
from .recorder import current, guard

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
        call = guard(rec, "call.start", Call, rec, op, api_params)
        if call is None:
            return original(self, operation_name, api_params)
        span_cm = guard(rec, "call.span", _start_span, call) if _tracing.tracing_available() else None
        if span_cm is None:
            span_cm = _tracing.noop_span()
        with span_cm as span:
            try:
                response = original(self, operation_name, api_params)
            except BaseException as exc:
                guard(rec, "call.failed", call.failed, exc)
                raise
            guard(rec, "call.succeeded", call.succeeded, response)
            if span is not _tracing.NOOP_SPAN:
                guard(rec, "call.span_usage", _span_usage, span, call)
        return response

    setattr(_make_api_call, _MARK, original)
    _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
    return _make_api_call


def _start_span(call: Call) -> Any:
    return _tracing.start_span(call.span_name, call.span_attributes())


def _span_usage(span: Any, call: Call) -> None:
    completion = call.completion
    if completion.input_tokens is not None:
        span.set_attribute("gen_ai.usage.input_tokens", completion.input_tokens)
    if completion.output_tokens is not None:
        span.set_attribute("gen_ai.usage.output_tokens", completion.output_tokens)
    if call.bedrock_request_id:
        span.set_attribute("aws.request_id", call.bedrock_request_id)


def installed() -> bool:
    """True when the hook is in place."""
    return _find_ours(BaseClient.__dict__.get("_make_api_call")) is not None


def _find_ours(method: Any) -> Any:
    """Our wrapper in a chain of wrappers (``__wrapped__``), or None."""
    seen = 0
    while method is not None and seen < 16:
        if hasattr(method, _MARK):
            return method
        method = getattr(method, "__wrapped__", None)
        seen += 1
    return None


def install() -> None:
    """Wrap ``BaseClient._make_api_call`` (idempotent)."""
    with _lock:
        if not installed():
            BaseClient._make_api_call = _call_with(BaseClient.__dict__["_make_api_call"])  # type: ignore[method-assign]


def uninstall() -> bool:
    """Remove the wrapper when it is the outermost one; True when removed.

    When another library wrapped it after us, removing ours would remove theirs too, so it stays (and
    keeps instrumenting).
    """
    with _lock:
        current_method = BaseClient.__dict__.get("_make_api_call")
        if current_method is not None and hasattr(current_method, _MARK):
            BaseClient._make_api_call = getattr(current_method, _MARK)  # type: ignore[method-assign]
            return True
        return False
