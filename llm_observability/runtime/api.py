"""The public functions of the runtime: instrument, observe, stage, feedback, flush (see the package docstring)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from . import _tracing, hook
from . import telemetry as t
from .classify import error_class, status_error_class
from .recorder import UNIT_COUNT, UNIT_MS, UNIT_NONE, Recorder, current, current_stage, existing, guard, replace
from .settings import load

PromptLogging = Literal["full", "redacted", "none"]
Handler = TypeVar("Handler", bound=Callable[..., Any])
_now = time.perf_counter


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
    :param prices: ``{model id: {"input_per_1k": USD, "output_per_1k": USD}}`` for EstimatedCostUSD.
        Default: LLMOBS_PRICES (the same, as JSON), else no cost metric.
    :raises ValueError: an argument that is not allowed.
    """
    settings = load(service_name=service_name, namespace=namespace, prompt_logging=prompt_logging, prices=prices)
    rec = existing()
    if rec is None or rec.settings != settings:
        replace(Recorder(settings)).report_problems()
    hook.install()


def uninstrument() -> None:
    """Stop instrumenting boto3 calls and print what is buffered."""
    hook.uninstall()
    current().flush()


def instrumented() -> bool:
    """True when boto3 Bedrock calls are instrumented."""
    return hook.installed()


def flush() -> None:
    """Print the buffered metrics now (``observe`` does it at the end of each invocation)."""
    rec = current()
    guard(rec, "flush", rec.flush)


@contextmanager
def stage(name: str) -> Iterator[Any]:
    """Time a stage of the user's own code: StageLatency{Stage=name}, and a span when tracing is on.

    A Bedrock call inside ``stage("Inference")`` (or ``stage("Retrieval")`` for Retrieve calls) is timed by
    the stage only, so the stage is not counted twice. The user's exception goes through unchanged.
    """
    rec = current()
    token = current_stage.set(name)
    started = _now()
    span_cm = guard(rec, "stage.span", _tracing.start_span, f"stage {name}", {"llmobs.stage": str(name)})
    try:
        with span_cm if span_cm is not None else _tracing.noop_span() as span:
            yield span
    finally:
        guard(rec, "stage.reset", current_stage.reset, token)
        guard(rec, "stage.metric", _stage_done, rec, str(name), (_now() - started) * 1000)


def _stage_done(rec: Recorder, name: str, elapsed_ms: float) -> None:
    rec.metric(t.METRIC_STAGE_LATENCY, UNIT_MS, elapsed_ms, t.DIM_STAGE, name)
    if rec.invocation is None:
        rec.flush_metrics()


def feedback(request_id: str, score: float, comment: str | None = None) -> None:
    """Record a user's 1-5 score of an answer: FeedbackScore, FeedbackCount and a ``feedback`` log line.

    The log line joins the answer's ``bedrock_call`` lines by ``feedback_request_id`` = their
    ``correlation_id``; the comment is logged per the prompt-logging mode.

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
    rec.metric(t.METRIC_FEEDBACK_COUNT, UNIT_COUNT, 1)
    texts, redactions = rec.loggable_texts(comment=comment)
    if comment is not None and rec.settings.prompt_logging == t.PROMPT_LOGGING_REDACTED:
        rec.metric(t.METRIC_REDACTIONS, UNIT_COUNT, redactions)
    rec.log(
        "INFO",
        t.LOG_MESSAGE_FEEDBACK,
        {"feedback_request_id": request_id, "score": score, "comment_chars": len(comment or ""), **texts},
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


def _already_counted(rec: Recorder, exc: BaseException) -> bool:
    """True when ``exc`` (or the exception it was raised from) was counted by a failed Bedrock call."""
    invocation = rec.invocation
    if invocation is None:
        return False
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if any(seen is counted for counted in invocation.counted_failures):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _invocation_failed(rec: Recorder, exc: BaseException) -> None:
    if not _already_counted(rec, exc):
        rec.count_failure(error_class(exc))


def _invocation_returned(rec: Recorder, result: Any) -> None:
    """RequestSuccess, or RequestFailure for an API Gateway error response not counted yet."""
    status = result.get("statusCode") if isinstance(result, dict) else None
    failed = status_error_class(status) if isinstance(status, int) and not isinstance(status, bool) else None
    if failed is None:
        rec.metric(t.METRIC_REQUEST_SUCCESS, UNIT_COUNT, 1)
    elif rec.invocation is None or not rec.invocation.counted_failures:
        rec.count_failure(failed)


def observe(handler: Handler) -> Handler:
    """Decorate a Lambda handler: EndToEndLatency, RequestSuccess or RequestFailure{ErrorClass}, one flush.

    Bedrock calls of the invocation are batched into its EMF lines and their log lines carry its request id
    (the API Gateway request id of a proxy event, else the Lambda request id). A failure is counted once: an
    exception that a failed Bedrock call counted already, or an error response (``statusCode`` >= 400)
    after one, is not counted again. The handler's result and exceptions go through unchanged; a handler
    called inside another observed one is not observed twice.
    """

    @functools.wraps(handler)
    def observed(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        rec = current()
        if rec.invocation is not None:
            return handler(event, context, *args, **kwargs)
        started = _now()
        ids = guard(rec, "observe.ids", _request_ids, event, context) or (None, None)
        rec.begin(*ids)
        try:
            result = handler(event, context, *args, **kwargs)
        except BaseException as exc:
            guard(rec, "observe.failed", _invocation_failed, rec, exc)
            raise
        else:
            guard(rec, "observe.returned", _invocation_returned, rec, result)
            return result
        finally:
            elapsed_ms = (_now() - started) * 1000
            guard(rec, "observe.latency", rec.metric, t.METRIC_END_TO_END_LATENCY, UNIT_MS, elapsed_ms)
            guard(rec, "observe.end", rec.end)

    return observed  # type: ignore[return-value]
