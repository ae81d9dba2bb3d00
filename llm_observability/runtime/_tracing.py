"""The tracing seam of the runtime: OpenTelemetry spans and GenAI metrics where the OpenTelemetry API is importable.

Three kinds of span, each a ``Scope`` (a span made current, ended by ``end``):

- ``start_request``: the invocation's SERVER span. The current recording SERVER span (the Lambda
  instrumentation's) is enriched instead of starting one; else the runtime's own span, whose parent is the
  current span, else the event's ``X-Amzn-Trace-Id`` header (API Gateway), else Lambda's ``_X_AMZN_TRACE_ID``.
- ``start_stage``: an INTERNAL span per ``stage()``.
- ``start_call``: one span per Bedrock call. When the botocore instrumentation made a span for this call (its
  wrapper runs outside the runtime's hook, see ``hook``), that span is enriched; else the runtime starts its
  own CLIENT span, which stays open until the call finishes (a stream when it is consumed) and records the
  ``gen_ai.client.*`` histograms (the botocore bedrock extension records them for its own spans).

Without the OpenTelemetry API every function here is skipped by ``tracing_available()`` (one call). A failure
of the tracing API is the caller's to report (``recorder.guard``): it never reaches the user's call.
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Mapping
from typing import Any

from . import telemetry as t

try:  # the OpenTelemetry API is optional: the ADOT layer or the user's own dependency provides it
    from opentelemetry import context as _otel_context  # type: ignore[import-not-found,unused-ignore]
    from opentelemetry import trace as _otel_trace  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _otel_trace = None  # type: ignore[assignment]
    _otel_context = None  # type: ignore[assignment]

TRACER_NAME = "llm_observability_runtime"
#: Instrumentation scope of the botocore instrumentation's spans (``.<service>`` for a service extension's).
BOTOCORE_SCOPE = "opentelemetry.instrumentation.botocore"
#: The scope whose spans get the gen_ai.client.* histograms from the botocore bedrock extension itself.
BOTOCORE_BEDROCK_RUNTIME_SCOPE = f"{BOTOCORE_SCOPE}.bedrock-runtime"
BOTOCORE_MODULE = "opentelemetry.instrumentation.botocore"
TRACE_HEADER = "x-amzn-trace-id"
TRACE_ENV = "_X_AMZN_TRACE_ID"
#: Bucket boundaries the GenAI metric conventions advise.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = tuple(float(4**n) for n in range(14))  # 1, 4, 16, ... 67,108,864
AttributeValue = str | bool | int | float | list[str]


class NoopSpan:
    """A span that records nothing (no OpenTelemetry API, or the API failed)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Do nothing."""

    def is_recording(self) -> bool:
        """Always False."""
        return False


NOOP_SPAN = NoopSpan()


def tracing_available() -> bool:
    """True when the OpenTelemetry API is importable."""
    return _otel_trace is not None


class Scope:
    """A span made current for a while: the runtime's own (``owned``, ended by ``end``) or another's (enriched)."""

    __slots__ = ("span", "owned", "metrics", "error_set", "_token", "_var", "_var_token")

    def __init__(self, span: Any, owned: bool, metrics: bool = False) -> None:
        self.span = span
        self.owned = owned
        self.metrics = metrics  # record the gen_ai.client.* histograms for this call
        self.error_set = False  # error.type given by record_error: an exception or status does not replace it
        self._token: Any = None
        self._var: contextvars.ContextVar[Scope | None] | None = None
        self._var_token: Any = None

    def attach(self, var: contextvars.ContextVar[Scope | None] | None = None) -> Scope:
        """Make the span current (when owned) and, with ``var``, this scope ``var``'s value."""
        if self.owned:
            self._token = _otel_context.attach(_otel_trace.set_span_in_context(self.span))
        if var is not None:
            self._var, self._var_token = var, var.set(self)
        return self

    def detach(self) -> None:
        """Undo ``attach`` (once)."""
        token, self._token = self._token, None
        var, var_token, self._var = self._var, self._var_token, None
        if var is not None:
            var.reset(var_token)
        if token is not None:
            _otel_context.detach(token)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set ``attributes`` while the span records."""
        span = self.span
        if span.is_recording():
            span.set_attributes(attributes)

    def fail(self, error_type: str, exc: BaseException | None = None, *, given: bool = False) -> None:
        """error.type and ERROR status (and the exception, on an owned span); a ``given`` type is kept."""
        span = self.span
        if not span.is_recording():
            return
        if given or not self.error_set:
            span.set_attribute(t.SPAN_ERROR_TYPE, error_type)
            self.error_set = self.error_set or given
        span.set_status(_otel_trace.Status(_otel_trace.StatusCode.ERROR, error_type))
        if exc is not None and self.owned and isinstance(exc, Exception):
            span.record_exception(exc)

    def end(self) -> None:
        """Detach, then end the span when it is the runtime's own."""
        self.detach()
        if self.owned:
            self.span.end()


_request: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("llmobs_request_span", default=None)
_stage: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("llmobs_stage_span", default=None)
_tracer: Any = None


def _get_tracer() -> Any:
    global _tracer
    tracer = _tracer
    if tracer is None:  # a proxy until a tracer provider is set; then it delegates to that provider's tracer
        tracer = _tracer = _otel_trace.get_tracer(TRACER_NAME)
    return tracer


# --- request -------------------------------------------------------------------------------------------------------
def parse_trace_header(header: Any) -> Any:
    """The remote parent span context of an X-Ray trace header (``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;
    Sampled=1``), or None when the header is not one."""
    if not isinstance(header, str) or len(header) > 1024:
        return None
    fields: dict[str, str] = {}
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        fields[key.lower()] = value.strip()
    root, parent = fields.get("root", "").split("-"), fields.get("parent", "")
    if len(root) != 3 or root[0] != "1" or len(root[1]) != 8 or len(root[2]) != 24 or len(parent) != 16:
        return None
    try:
        trace_id, span_id = int(root[1] + root[2], 16), int(parent, 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    flags = _otel_trace.TraceFlags(_otel_trace.TraceFlags.SAMPLED if fields.get("sampled") == "1" else 0)
    return _otel_trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags)


def _event_trace_header(event: Any) -> Any:
    headers = event.get("headers") if isinstance(event, dict) else None
    if not isinstance(headers, dict):
        return None
    value = headers.get("X-Amzn-Trace-Id")
    if value is None:
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == TRACE_HEADER), None)
    return value


def _parent(event: Any) -> Any:
    """The context to start the request span in: None (the current one) when a span is current, else the
    event's trace header, else Lambda's trace environment variable."""
    if _otel_trace.get_current_span().get_span_context().is_valid:
        return None
    remote = parse_trace_header(_event_trace_header(event)) or parse_trace_header(os.environ.get(TRACE_ENV))
    return _otel_trace.set_span_in_context(_otel_trace.NonRecordingSpan(remote)) if remote is not None else None


def start_request(event: Any, context: Any, fallback_name: str) -> Scope:
    """The invocation's span: the current recording SERVER span (the Lambda instrumentation's), else a new one."""
    current = _otel_trace.get_current_span()
    if current.is_recording() and getattr(current, "kind", None) is _otel_trace.SpanKind.SERVER:
        return Scope(current, owned=False).attach(_request)
    name = getattr(context, "function_name", None)
    attributes: dict[str, AttributeValue] = {}
    invocation_id = getattr(context, "aws_request_id", None)
    if isinstance(invocation_id, str) and invocation_id:
        attributes[t.SPAN_INVOCATION_ID] = invocation_id
    if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
        attributes["faas.trigger"] = "http"
        for key, attribute in (("httpMethod", "http.request.method"), ("resource", "http.route")):
            if isinstance(event.get(key), str):
                attributes[attribute] = event[key]
    span = _get_tracer().start_span(
        name if isinstance(name, str) and name else fallback_name,
        context=_parent(event),
        kind=_otel_trace.SpanKind.SERVER,
        attributes=attributes,
    )
    return Scope(span, owned=True).attach(_request)


def end_request(scope: Scope, error_type: str | None, exc: BaseException | None, status: int | None) -> None:
    """End the invocation's span: error.type and ERROR status for an exception or a failed answer."""
    if status is not None and scope.owned and scope.span.is_recording():
        scope.span.set_attribute(t.SPAN_HTTP_STATUS, status)
    if error_type is not None:
        scope.fail(error_type, exc)
    scope.end()


def record_error(error_type: str) -> None:
    """error.type and ERROR status on the current request span and stage span (kept over later causes)."""
    for scope in (_request.get(), _stage.get()):
        if scope is not None:
            scope.fail(error_type, given=True)


# --- stages --------------------------------------------------------------------------------------------------------
def start_stage(name: str) -> Scope:
    """An INTERNAL span for a stage of the user's code, current until ``end_stage``."""
    span = _get_tracer().start_span(
        f"stage {name}", kind=_otel_trace.SpanKind.INTERNAL, attributes={t.SPAN_STAGE: name}
    )
    return Scope(span, owned=True).attach(_stage)


def end_stage(scope: Scope, error_type: str | None, exc: BaseException | None) -> None:
    """End a stage span; with ``error_type``, the exception that left the stage."""
    if error_type is not None:
        scope.fail(error_type, exc)
    scope.end()


# --- Bedrock calls -------------------------------------------------------------------------------------------------
def _botocore_span(span: Any, rpc_method: str) -> bool:
    """True for the recording span the botocore instrumentation made for this very call."""
    if not span.is_recording():
        return False
    scope = getattr(span, "instrumentation_scope", None)
    name = getattr(scope, "name", None)
    if not isinstance(name, str) or not name.startswith(BOTOCORE_SCOPE):
        return False
    attributes = getattr(span, "attributes", None)
    return attributes is not None and attributes.get(t.SPAN_RPC_METHOD) == rpc_method


def start_call(name: str, attributes: Mapping[str, AttributeValue], rpc_method: str) -> Scope:
    """The call's span: the botocore instrumentation's (enriched), else the runtime's own CLIENT span."""
    current = _otel_trace.get_current_span()
    if _botocore_span(current, rpc_method):
        _keep_error_type()
        scope_name = getattr(getattr(current, "instrumentation_scope", None), "name", None)
        recorded_by_botocore = scope_name == BOTOCORE_BEDROCK_RUNTIME_SCOPE
        scope = Scope(current, owned=False, metrics=not recorded_by_botocore)
        scope.set_attributes(attributes)
        return scope
    span = _get_tracer().start_span(name, kind=_otel_trace.SpanKind.CLIENT, attributes=attributes)
    return Scope(span, owned=True, metrics=True).attach()


def end_call(
    scope: Scope,
    attributes: Mapping[str, AttributeValue],
    error_type: str | None,
    exc: BaseException | None,
) -> None:
    """Finish the call's span: the outcome's attributes, error.type and status; end it when it is ours."""
    scope.set_attributes(attributes)
    if error_type is not None:
        scope.fail(error_type, exc)
        if not scope.owned:
            _pending_error_type.set((scope.span, error_type))
    scope.end()


# The botocore instrumentation's bedrock extension writes error.type = "ClientError" after the runtime's hook has
# returned (its wrapper runs outside); its response hook runs after that, so a response hook of the runtime's,
# chained before the user's own, gives the span back the AWS error code.
_pending_error_type: contextvars.ContextVar[tuple[Any, str] | None] = contextvars.ContextVar(
    "llmobs_pending_error_type", default=None
)
_CHAINED = "_llmobs_previous_response_hook"


def _keep_error_type() -> None:
    """Chain the runtime's response hook into the botocore instrumentor's (once; again after a re-instrument)."""
    module = sys.modules.get(BOTOCORE_MODULE)
    instrumentor = getattr(module, "BotocoreInstrumentor", None)
    if instrumentor is None:
        return
    instance = instrumentor()  # a singleton
    previous = getattr(instance, "response_hook", None)
    if hasattr(previous, _CHAINED):
        return

    def response_hook(span: Any, service_name: str, operation_name: str, result: Any) -> None:
        pending = _pending_error_type.get()
        if pending is not None and pending[0] is span:
            _pending_error_type.set(None)
            try:
                if span.is_recording():
                    span.set_attribute(t.SPAN_ERROR_TYPE, pending[1])
            except Exception:  # noqa: S110 - tracing must not fail the user's call
                pass
        if callable(previous):
            previous(span, service_name, operation_name, result)

    setattr(response_hook, _CHAINED, previous)
    instance.response_hook = response_hook


# --- metrics -------------------------------------------------------------------------------------------------------
_histograms: tuple[Any, Any] | None = None


def _instruments() -> tuple[Any, Any]:
    global _histograms
    if _histograms is None:
        from opentelemetry import metrics  # the API's metrics: a no-op until a meter provider is set

        meter = metrics.get_meter(TRACER_NAME)
        _histograms = (
            meter.create_histogram(
                t.OTEL_METRIC_OPERATION_DURATION,
                unit="s",
                description="GenAI operation duration",
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            ),
            meter.create_histogram(
                t.OTEL_METRIC_TOKEN_USAGE,
                unit="{token}",
                description="Measures number of input and output tokens used",
                explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
            ),
        )
    return _histograms


def record_metrics(
    attributes: Mapping[str, AttributeValue], seconds: float, input_tokens: int | None, output_tokens: int | None
) -> None:
    """gen_ai.client.operation.duration and, when known, gen_ai.client.token.usage of one call."""
    duration, usage = _instruments()
    duration.record(max(seconds, 0.0), attributes=attributes)
    for token_type, tokens in (("input", input_tokens), ("output", output_tokens)):
        if tokens is not None:
            usage.record(tokens, attributes={**attributes, t.OTEL_ATTR_TOKEN_TYPE: token_type})
