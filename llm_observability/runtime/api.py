"""The runtime's public functions: instrument, observe, stage, tenant, prompt_version, record_error, metric,
cache_lookup, feedback, flush."""

from __future__ import annotations

import contextvars
import functools
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from . import _tracing
from . import telemetry as t
from .classify import chain_error_class, error_code, status_error_class
from .emf import MAX_DIMENSIONS, MAX_NAME_CHARS, UNITS
from .recorder import UNIT_COUNT, UNIT_MS, UNIT_NONE, Recorder, current, current_stage, existing, guard, replace
from .settings import load
from .tenancy import check_key, current_tenant

PromptLogging = Literal["full", "redacted", "none"]
Handler = TypeVar("Handler", bound=Callable[..., Any])
_now = time.perf_counter

#: The longest prompt version ``prompt_version()`` accepts.
MAX_PROMPT_VERSION_CHARS = 256
#: The prompt version of the current request (``prompt_version()``); ``observe`` starts every invocation without one.
current_prompt_version: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "llmobs_prompt_version", default=None
)


def instrument(
    *,
    service_name: str | None = None,
    namespace: str | None = None,
    prompt_logging: PromptLogging | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
) -> None:
    """Instrument every boto3 Bedrock call of this process, from now on (idempotent).

    Clients created before the call are instrumented too. Calling it again with other settings changes
    the settings; with the same ones it does nothing.

    :param service_name: the ``service`` dimension. Default: LLMOBS_SERVICE_NAME, else POWERTOOLS_SERVICE_NAME,
        else AWS_LAMBDA_FUNCTION_NAME, else ``llm-app``.
    :param namespace: the CloudWatch namespace. Default: LLMOBS_NAMESPACE, else ``LLMObservability``.
    :param prompt_logging: ``full``, ``redacted`` or ``none``: what the log lines keep of questions and answers.
        Default: LLMOBS_PROMPT_LOGGING, else ``redacted``.
    :param prices: ``{model id: {"input_per_1k": USD, "output_per_1k": USD}}`` for the estimated cost in the
        ``bedrock_call`` log lines (cost is metric math over the token metrics, not a metric of its own).
        Default: LLMOBS_PRICES (the same, as JSON), else no cost in the log lines.
    :raises ValueError: an argument that is not allowed.
    """
    settings = load(service_name=service_name, namespace=namespace, prompt_logging=prompt_logging, prices=prices)
    rec = existing()
    if rec is None or rec.settings != settings:
        replace(Recorder(settings)).report_problems()
    from . import hook  # the boto3 hook and the call readers load with the first instrument(), not with observe

    hook.install()


def uninstrument() -> None:
    """Stop instrumenting boto3 calls and print what is buffered."""
    from . import hook

    hook.uninstall()
    current().flush()


def instrumented() -> bool:
    """True when boto3 Bedrock calls are instrumented."""
    hook = sys.modules.get(f"{__package__}.hook")
    return hook is not None and hook.installed()


def flush() -> None:
    """Print the buffered metrics now (``observe`` does it at the end of each invocation)."""
    rec = current()
    guard(rec, "flush", rec.flush)


class StageSpan:
    """The span of a ``stage()``: ``set_attribute(key, value)`` adds to it; a tracing failure is only reported."""

    __slots__ = ("_rec", "_span")

    def __init__(self, rec: Recorder, span: Any) -> None:
        self._rec = rec
        self._span = span

    def set_attribute(self, key: str, value: str | bool | int | float | list[str]) -> None:
        """Set an attribute of the stage's span (nothing when tracing is off)."""
        guard(self._rec, "stage.attribute", self._span.set_attribute, key, value)

    def is_recording(self) -> bool:
        """True when the span records (tracing on and the trace sampled)."""
        return bool(guard(self._rec, "stage.recording", self._span.is_recording))


def _exception_type(exc: BaseException) -> str:
    """error.type of an exception: its AWS error code (``ThrottlingException``), else its class name."""
    return error_code(exc) or type(exc).__name__


@contextmanager
def stage(name: str) -> Iterator[StageSpan]:
    """Time a stage of the user's own code: StageLatency{Stage=name}, and an INTERNAL span when tracing is on.

    Yields an object with ``set_attribute(key, value)`` for the stage's span. A Bedrock call inside
    ``stage("Inference")`` (or ``stage("Retrieval")`` for Retrieve calls) is timed by the stage only, so the
    stage is not counted twice; its span is a child of the stage's. The user's exception goes through unchanged
    (the span gets its error.type and ERROR status).
    """
    rec = current()
    token = current_stage.set(name)
    started = _now()
    scope = guard(rec, "stage.span", _tracing.start_stage, str(name)) if _tracing.tracing_available() else None
    error: BaseException | None = None
    try:
        yield StageSpan(rec, scope.span if scope is not None else _tracing.NOOP_SPAN)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if scope is not None:
            error_type = _exception_type(error) if isinstance(error, Exception) else None
            guard(rec, "stage.span_end", _tracing.end_stage, scope, error_type, error)
        guard(rec, "stage.reset", current_stage.reset, token)
        guard(rec, "stage.metric", _stage_done, rec, str(name), (_now() - started) * 1000)


def tenant(key: str | None) -> None:
    """Name the tenant (or caller) the current request's Bedrock calls are made for; None forgets it.

    Inside an ``observe``d invocation it holds until the invocation ends (each invocation starts without one);
    outside one, until it is changed. While a tenant is set, a Converse or ConverseStream call without
    ``requestMetadata`` is sent with ``requestMetadata={"tenant": key}`` (an InvokeModel call with the
    ``X-Amzn-Bedrock-Request-Metadata`` header, where the client's botocore knows it), which the model invocation
    log records, and every ``bedrock_call`` log line carries ``tenant``: Contributor Insights rules count tokens,
    requests and errors per tenant from either. ``tenant_of(event, header)`` reads it from an API Gateway event.

    The key is an identifier, not personal data by itself, but an IAM caller's ARN names a role session, which can
    name a person: it is logged whatever the prompt-logging mode (it is no prompt text).

    :raises ValueError: ``key`` is neither None nor 1-256 letters, digits or ``: _ @ $ # = / + , - .``.
    """
    current_tenant.set(None if key is None else check_key(key))


def prompt_version(version: str | None) -> None:
    """Name the prompt version that answers the current request (``v3``, a Prompt Management version); None forgets it.

    Like ``tenant``: inside an ``observe``d invocation it holds until the invocation ends (each invocation starts
    without one); outside one, until it is changed. While it is set, every ``bedrock_call`` line and the ``feedback``
    line of ``feedback()`` carry it as ``prompt_version`` (and the call spans as ``llmobs.prompt.version``), so the
    online judge, the feedback join and drift compare prompt versions. It is logged whatever the prompt-logging mode
    (a version name is no prompt text). For a metric per version, pass it as a dimension of ``metric()``.

    :raises ValueError: ``version`` is neither None nor 1-256 printable characters.
    """
    if version is not None and (
        not isinstance(version, str) or not 0 < len(version) <= MAX_PROMPT_VERSION_CHARS or not version.isprintable()
    ):
        raise ValueError(
            f"prompt_version is {version!r}: allowed is None or 1-{MAX_PROMPT_VERSION_CHARS} printable characters."
        )
    current_prompt_version.set(version)


def alias_model(invoked_id: str, model_id: str) -> None:
    """Report calls that name ``invoked_id`` (an application inference profile ARN, such as a tenant's) as calls of
    ``model_id``, the model the profile copies: their ModelId dimension, price and ``model_id`` log field (the line
    keeps ``invoked_model_id``), so per-model metrics, alarms and cost see them. Process-wide, until changed.

    :raises ValueError: either is not a non-empty string.
    """
    for name, value in (("invoked_id", invoked_id), ("model_id", model_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} is {value!r}: allowed is a non-empty model id or ARN.")
    from .calls import MODEL_ALIASES

    MODEL_ALIASES[invoked_id] = model_id


def record_error(error_type: str) -> None:
    """Mark the current request as failed: ``error.type`` = ``error_type`` and ERROR status on the request span
    of ``observe`` (and on the current stage's span), kept over what the answer's status would give.

    For an error the handler turns into an answer (an API Gateway 5xx or 429) that should carry the
    application's own error class. Nothing happens when tracing is off.

    :raises ValueError: ``error_type`` is not a non-empty string.
    """
    if not isinstance(error_type, str) or not error_type:
        raise ValueError(f"error_type is {error_type!r}: allowed is a non-empty string.")
    if _tracing.tracing_available():
        guard(current(), "record_error", _tracing.record_error, error_type)


def _stage_done(rec: Recorder, name: str, elapsed_ms: float) -> None:
    rec.metric(t.METRIC_STAGE_LATENCY, UNIT_MS, elapsed_ms, t.DIM_STAGE, name)
    if rec.invocation is None:
        rec.flush_metrics()


def metric(name: str, value: float, unit: str = UNIT_NONE, **dimensions: str) -> None:
    """Emit one value of a metric of your own with the ``service`` dimension and ``dimensions``.

    Batched into the observed invocation's EMF lines (printed at once outside one). Every distinct set of
    dimension values is a metric series billed each month: keep the values few (a model, a prompt version,
    a policy), never a request id or a user.

    :param unit: one of CloudWatch's units (``Count``, ``Milliseconds``, ``None``, ...). Default: ``None``.
    :raises ValueError: a name that is not 1-255 characters, a value that is not a finite number, an unknown
        unit, more than 29 dimensions, a dimension named ``service`` or a dimension value that is not a
        non-empty string.
    """
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
        raise ValueError(f"name is {name!r}: allowed is a string of 1-{MAX_NAME_CHARS} characters.")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"value of {name} is {value!r}: allowed is a finite number.")
    if unit not in UNITS:
        raise ValueError(f"unit of {name} is {unit!r}: allowed is one of CloudWatch's units, such as Count or None.")
    if len(dimensions) >= MAX_DIMENSIONS or t.DIM_SERVICE in dimensions:
        raise ValueError(
            f"dimensions of {name} are {sorted(dimensions)}: allowed are at most {MAX_DIMENSIONS - 1}, "
            f"not '{t.DIM_SERVICE}' (the runtime adds it)."
        )
    for key, dim_value in dimensions.items():
        if not isinstance(dim_value, str) or not dim_value:
            raise ValueError(f"dimension {key} of {name} is {dim_value!r}: allowed is a non-empty string.")
    rec = current()
    guard(rec, "metric", _metric, rec, name, value, unit, dimensions)


def _metric(rec: Recorder, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    rec.metric_with(name, unit, value, dimensions)
    if rec.invocation is None:
        rec.flush_metrics()


def cache_lookup(hit: bool) -> None:
    """Count one lookup of your retrieval cache: RetrievalCacheHit 1 for a hit, 0 for a miss (Average = hit rate).

    :raises ValueError: ``hit`` is not a bool.
    """
    if not isinstance(hit, bool):
        raise ValueError(f"hit is {hit!r}: allowed is True or False.")
    rec = current()
    guard(rec, "cache_lookup", _metric, rec, t.METRIC_RETRIEVAL_CACHE_HIT, int(hit), UNIT_COUNT, {})


def feedback(request_id: str, score: float, comment: str | None = None) -> None:
    """Record a user's 1-5 score of an answer: FeedbackScore (its SampleCount counts them) and a ``feedback`` line.

    The log line joins the answer's ``bedrock_call`` lines by ``feedback_request_id`` = their
    ``correlation_id``; the comment is logged per the prompt-logging mode, its PII replacements counted in
    ``pii_redactions``; the line carries ``prompt_version`` when one is set (``prompt_version()``).

    :raises ValueError: ``request_id`` is not a non-empty string, ``score`` not a number from 1 to 5, or
        ``comment`` neither a string nor None.
    """
    if not isinstance(request_id, str) or not request_id:
        raise ValueError(f"request_id is {request_id!r}: allowed is a non-empty string.")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 1 <= score <= 5:
        raise ValueError(f"score is {score!r}: allowed is a number from 1 to 5.")
    if comment is not None and not isinstance(comment, str):
        raise ValueError(f"comment is {comment!r}: allowed is a string or None.")
    rec = current()
    guard(rec, "feedback", _feedback, rec, request_id, score, comment)


def _feedback(rec: Recorder, request_id: str, score: float, comment: str | None) -> None:
    rec.metric(t.METRIC_FEEDBACK_SCORE, UNIT_NONE, score)
    texts, redactions = rec.loggable_texts(comment=comment or None)
    version = current_prompt_version.get()
    rec.log(
        "INFO",
        t.LOG_MESSAGE_FEEDBACK,
        {
            "feedback_request_id": request_id,
            "score": score,
            **({t.LOG_FIELD_PROMPT_VERSION: version} if version is not None else {}),
            "comment_chars": len(comment or ""),
            "pii_redactions": redactions,
            **texts,
        },
    )
    if rec.invocation is None:
        rec.flush_metrics()


def _request_ids(event: Any, context: Any) -> tuple[str | None, str | None]:
    """(correlation id, Lambda request id): the API Gateway request id when the event has one."""
    function_request_id = getattr(context, "aws_request_id", None)
    function_request_id = function_request_id if isinstance(function_request_id, str) else None
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    api_request_id = request_context.get("requestId") if isinstance(request_context, dict) else None
    correlation_id = api_request_id if isinstance(api_request_id, str) and api_request_id else function_request_id
    return correlation_id, function_request_id


def _invocation_failed(rec: Recorder, exc: BaseException) -> None:
    rec.count_outcome(chain_error_class(exc))


def _status(result: Any) -> int | None:
    """The status of an API Gateway proxy answer, else None."""
    status = result.get("statusCode") if isinstance(result, dict) else None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _invocation_returned(rec: Recorder, result: Any) -> None:
    """The outcome of a returned invocation: an API Gateway error response is classified by its status."""
    status = _status(result)
    rec.count_outcome(status_error_class(status) if status is not None else None)


def _end_request(scope: _tracing.Scope, result: Any, exc: BaseException | None) -> None:
    """End the request span: error.type for an exception (its AWS error code in the chain, else its class) or
    for a 5xx / 429 answer (the status)."""
    status = _status(result) if exc is None else None
    if exc is not None:
        error_type: str | None = _chain_code(exc) or type(exc).__name__
    elif status is not None and (status >= 500 or status == 429):
        error_type = str(status)
    else:
        error_type = None
    _tracing.end_request(scope, error_type, exc, status)


def _chain_code(exc: BaseException, depth: int = 8) -> str | None:
    """The first AWS error code in ``exc``'s chain (a handler that re-raises a Bedrock error as its own)."""
    seen: BaseException | None = exc
    for _ in range(depth):
        if seen is None:
            return None
        code = error_code(seen)
        if code is not None:
            return code
        seen = seen.__cause__ or seen.__context__
    return None


def observe(handler: Handler) -> Handler:
    """Decorate a Lambda handler: EndToEndLatency, then RequestSuccess or RequestFailure{service}; one flush.

    The invocation's outcome is counted once, by the invocation, whatever its Bedrock calls did: an exception
    is a RequestFailure unless its chain holds a Validation error (the caller's fault); a returned API Gateway
    response is a RequestFailure for a 5xx status or 429, neither metric for another 4xx (the caller's fault)
    and a RequestSuccess otherwise. Bedrock calls of the invocation are batched into its EMF lines and their
    log lines carry its request id (the API Gateway request id of a proxy event, else the Lambda request id).
    With tracing on, the invocation has one request span: the Lambda instrumentation's SERVER span when one is
    current (enriched), else the runtime's own SERVER span, a child of the event's ``X-Amzn-Trace-Id`` header
    (API Gateway) or of Lambda's ``_X_AMZN_TRACE_ID``; ``error.type`` and ERROR status for an exception or a
    5xx / 429 answer (``record_error`` gives its own error type). Stages and Bedrock calls are its children.
    The handler's result and exceptions go through unchanged; a handler called inside another observed one is
    not observed twice.
    """
    fallback_name = getattr(handler, "__qualname__", None) or "handler"

    @functools.wraps(handler)
    def observed(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        rec = current()
        if rec.invocation is not None:
            return handler(event, context, *args, **kwargs)
        started = _now()
        tenant_token = current_tenant.set(None)  # each invocation starts without a tenant
        version_token = current_prompt_version.set(None)  # and without a prompt version
        ids = guard(rec, "observe.ids", _request_ids, event, context) or (None, None)
        rec.begin(*ids)
        scope = (
            guard(rec, "observe.span", _tracing.start_request, event, context, fallback_name)
            if _tracing.tracing_available()
            else None
        )
        result: Any = None
        error: BaseException | None = None
        try:
            result = handler(event, context, *args, **kwargs)
        except BaseException as exc:
            error = exc
            guard(rec, "observe.failed", _invocation_failed, rec, exc)
            raise
        else:
            guard(rec, "observe.returned", _invocation_returned, rec, result)
            return result
        finally:
            elapsed_ms = (_now() - started) * 1000
            guard(rec, "observe.latency", rec.metric, t.METRIC_END_TO_END_LATENCY, UNIT_MS, elapsed_ms)
            guard(rec, "observe.end", rec.end)
            if scope is not None:
                guard(rec, "observe.span_end", _end_request, scope, result, error)
            guard(rec, "observe.tenant", current_tenant.reset, tenant_token)
            guard(rec, "observe.prompt_version", current_prompt_version.reset, version_token)

    return observed  # type: ignore[return-value]
