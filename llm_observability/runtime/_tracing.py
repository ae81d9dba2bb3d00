"""The tracing seam of the runtime: OpenTelemetry spans where the OpenTelemetry API is importable, else nothing.

``start_span(name, attributes)`` is a context manager around one Bedrock call or one ``stage()``. With the
OpenTelemetry API installed (the ADOT layer, or the user's own dependency) it starts a CLIENT span on the
global tracer provider, with GenAI semantic-convention attributes; the span records the user's exception
and lets it through unchanged. Without the API it yields a span that ignores everything, at the cost of one
function call. A failure of the tracing API never reaches the user's call: the span becomes a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

try:  # the OpenTelemetry API is optional: the ADOT layer or the user's own dependency provides it
    from opentelemetry import trace as _otel_trace  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _otel_trace = None  # type: ignore[assignment]

TRACER_NAME = "llm_observability_runtime"
AttributeValue = str | bool | int | float


class NoopSpan:
    """A span that records nothing (no OpenTelemetry API, or the API failed)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Do nothing."""

    def is_recording(self) -> bool:
        """Always False."""
        return False


NOOP_SPAN = NoopSpan()
_NOOP_CONTEXT = nullcontext(NOOP_SPAN)  # reusable: entering it yields the no-op span and does nothing else


def tracing_available() -> bool:
    """True when the OpenTelemetry API is importable."""
    return _otel_trace is not None


@contextmanager
def _otel_span(name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[Any]:
    try:
        tracer = _otel_trace.get_tracer(TRACER_NAME)
        manager = tracer.start_as_current_span(
            name, kind=_otel_trace.SpanKind.CLIENT, attributes=dict(attributes), record_exception=True
        )
        span = manager.__enter__()
    except Exception:  # the tracing API failed: run the call untraced
        yield NOOP_SPAN
        return
    try:
        yield span
    except BaseException as exc:
        _end(manager, exc)
        raise
    _end(manager, None)


def _end(manager: Any, exc: BaseException | None) -> None:
    """End the span; the user's exception (re-raised by the span) and tracing failures stop here."""
    try:
        if exc is None:
            manager.__exit__(None, None, None)
        else:
            manager.__exit__(type(exc), exc, exc.__traceback__)
    except BaseException as raised:
        if raised is not exc and not isinstance(raised, Exception):
            raise


def noop_span() -> AbstractContextManager[NoopSpan]:
    """A context manager yielding the no-op span (one shared instance: it costs nothing to enter)."""
    return _NOOP_CONTEXT


def start_span(name: str, attributes: Mapping[str, AttributeValue]) -> Any:
    """A context manager yielding a span (``set_attribute(key, value)``) named ``name`` with ``attributes``."""
    if _otel_trace is None:
        return noop_span()
    return _otel_span(name, attributes)
