"""Answer a CloudFormation custom resource request: exactly one SUCCESS/FAILED response PUT to its pre-signed URL.

One source file, copied into the asset of every custom-resource function at synth time (the function
builder's ``shared=("cfn_response",)``), where the handler imports it as a sibling: ``import cfn_response``.

:func:`handle` runs a request end to end:

- an event without a usable ``ResponseURL`` is not a custom resource request: it raises ``ValueError``;
- the request is logged with the credential-bearing ``ResponseURL`` redacted;
- with less than :data:`MIN_START_MS` left the request is not started: FAILED at once;
- otherwise the function's ``process`` runs while a watchdog answers FAILED :data:`RESPONSE_RESERVE_MS`
  before the function times out; :class:`RequestFailed` becomes FAILED with its message as the Reason,
  any other exception FAILED with a one-sentence Reason (the traceback goes to the logs only);
- a Delete is never answered FAILED (that would leave the stack in DELETE_FAILED or ROLLBACK_FAILED): where
  another request would fail, a Delete answers SUCCESS with the Reason and leaves what it did not remove;
- once an answer is sent ``Deadline.answered`` is set: ``process`` checks it before every write
  (:meth:`Deadline.ensure_unanswered`), so nothing changes after the watchdog answered;
- the physical id of a failed request is the one CloudFormation sent, else the request id (so the
  Delete that follows a failed Create can recognise it);
- Reasons are one line of at most :data:`MAX_REASON_CHARS` characters;
- the response PUT is retried on network errors and 408/429/5xx while time allows; if it cannot be
  delivered :class:`ResponseNotDelivered` is raised, so Lambda's asynchronous retry runs the (idempotent)
  request again.

Imports only the standard library and the Powertools layer's CloudFormation event class.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import TYPE_CHECKING, Any, Final, Literal

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.typing import LambdaContext

RESPONSE_RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0)
RESPONSE_TIMEOUT_S: Final = 5.0
#: Time kept back for answering CloudFormation; the watchdog answers when it is reached.
RESPONSE_RESERVE_MS: Final = 10_000
#: Below this much remaining time a request is not started.
MIN_START_MS: Final = RESPONSE_RESERVE_MS + 5_000
MAX_REASON_CHARS: Final = 500
REDACTED: Final = "<redacted>"


class RequestFailed(Exception):
    """The request cannot be completed; the message is the Reason sent to CloudFormation."""


class ResponseNotDelivered(Exception):
    """The response could not be PUT to the ResponseURL."""


@dataclass(frozen=True)
class Outcome:
    """What is reported to CloudFormation."""

    status: Literal["SUCCESS", "FAILED"]
    physical_id: str
    reason: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Deadline:
    """Remaining invocation time, read from the Lambda context, and whether CloudFormation was answered already.

    ``answered`` is set as soon as a response is sent (by the handler or the timeout watchdog): a ``process``
    checks it (:meth:`ensure_unanswered`) before every write, so nothing is changed after the watchdog answered.
    """

    context: LambdaContext
    answered: threading.Event = field(default_factory=threading.Event)

    def ensure_unanswered(self, action: str) -> None:
        """Raise :class:`RequestFailed` instead of doing ``action`` once CloudFormation was answered."""
        if self.answered.is_set():
            raise RequestFailed(f"CloudFormation was already answered, so {action} was not done.")

    def remaining_ms(self) -> int:
        return int(self.context.get_remaining_time_in_millis())

    def allows(self, wait_s: float, then_ms: float) -> bool:
        """Whether ``wait_s`` of sleeping followed by ``then_ms`` of work still leaves the response reserve."""
        return self.remaining_ms() - wait_s * 1000 - then_ms >= RESPONSE_RESERVE_MS


def one_sentence(text: str) -> str:
    """Collapse whitespace and cap the length of a Reason."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON_CHARS else flat[: MAX_REASON_CHARS - 3].rstrip() + "..."


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event without the credential-bearing pre-signed ResponseURL."""
    return {key: (REDACTED if key == "ResponseURL" else value) for key, value in event.items()}


Process = Callable[[CloudFormationCustomResourceEvent, Deadline, str], Outcome]


def handle(
    event: Any,
    context: LambdaContext,
    process: Process,
    *,
    logger: Logger,
    failed_id: str,
    sleep: Callable[[float], None] = time.sleep,
    redact: Callable[[Mapping[str, Any]], dict[str, Any]] = redact_event,
) -> None:
    """Run ``process(request, deadline, physical_id)`` for one request and answer CloudFormation exactly once.

    ``failed_id`` is the physical id when the event carries neither a physical nor a request id;
    ``sleep`` waits between response attempts; ``redact`` makes the event fit for the logs.
    """
    url = event.get("ResponseURL") if isinstance(event, Mapping) else None
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        logger.error("not a CloudFormation custom resource request: no usable ResponseURL")
        raise ValueError("The event is not a CloudFormation custom resource request (no usable ResponseURL).")
    logger.info("request received", extra={"event": redact(event)})

    request = CloudFormationCustomResourceEvent(event)
    request_type = request.get("RequestType")
    physical_id = request.physical_resource_id or request.get("RequestId") or failed_id
    deadline = Deadline(context)
    responder = _Responder(request, deadline, logger, sleep)
    # A FAILED Delete would leave the stack in DELETE_FAILED / ROLLBACK_FAILED: give up on it with SUCCESS instead.
    is_delete = request_type == "Delete"
    give_up: Literal["SUCCESS", "FAILED"] = "SUCCESS" if is_delete else "FAILED"
    retry_hint = "what it had not removed was left in place" if is_delete else "retry or raise the timeout"

    remaining_ms = deadline.remaining_ms()
    if remaining_ms < MIN_START_MS:
        logger.error("too little time left to start", extra={"remaining_ms": remaining_ms})
        reason = f"Only {remaining_ms} ms were left, too little time to handle the {request_type} request safely"
        left = "; nothing was deleted, it was left in place." if is_delete else "."
        responder.send(Outcome(give_up, physical_id, reason + left))
        return

    def on_timeout() -> None:
        logger.error("about to time out, answering", extra={"remaining_ms": deadline.remaining_ms(), "status": give_up})
        reason = f"The {request_type} request did not finish within the function's timeout; {retry_hint}."
        try:
            responder.send(Outcome(give_up, physical_id, reason))
        except ResponseNotDelivered:
            pass  # already logged; Lambda retries the invocation after the timeout

    watchdog = threading.Timer((remaining_ms - RESPONSE_RESERVE_MS) / 1000, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            outcome = process(request, deadline, physical_id)
        except RequestFailed as exc:
            logger.error("request failed", extra={"reason": str(exc)})
            outcome = Outcome(give_up, physical_id, str(exc))
        except Exception as exc:  # CloudFormation must get an answer whatever happens
            logger.exception("unexpected error", extra={"error": type(exc).__name__})
            reason = f"Unexpected {type(exc).__name__} while handling the {request_type} request; see the logs."
            outcome = Outcome(give_up, physical_id, reason)
        if not responder.send(outcome):
            logger.warning("response already sent by the timeout watchdog", extra={"status": outcome.status})
    finally:
        watchdog.cancel()


class _Responder:
    """Sends at most one response per invocation, from the handler or the timeout watchdog."""

    def __init__(
        self,
        request: CloudFormationCustomResourceEvent,
        deadline: Deadline,
        logger: Logger,
        sleep: Callable[[float], None],
    ) -> None:
        self._request = request
        self._deadline = deadline
        self._logger = logger
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent = False

    def send(self, outcome: Outcome) -> bool:
        """Send ``outcome`` unless a response was already sent; True if this call sent it."""
        with self._lock:
            if self._sent:
                return False
            self._sent = True
            self._deadline.answered.set()
            body = {
                "Status": outcome.status,
                "Reason": one_sentence(outcome.reason),
                "PhysicalResourceId": outcome.physical_id,
                "StackId": self._request.get("StackId", ""),
                "RequestId": self._request.get("RequestId", ""),
                "LogicalResourceId": self._request.get("LogicalResourceId", ""),
                "NoEcho": False,
                "Data": outcome.data,
            }
            self._logger.info("sending response", extra={"response": body})
            self._put(json.dumps(body).encode())
            return True

    def _put(self, body: bytes) -> None:
        """PUT ``body`` to the pre-signed URL, retrying network errors while time allows."""
        request = urllib.request.Request(
            self._request.response_url,
            data=body,
            method="PUT",
            headers={"content-type": "", "content-length": str(len(body))},
        )
        for attempt, delay in enumerate((*RESPONSE_RETRY_DELAYS_S, None), start=1):
            try:
                with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as response:
                    self._logger.info("response delivered", extra={"status": response.status, "attempt": attempt})
                    return
            except (OSError, HTTPException) as exc:
                status = exc.code if isinstance(exc, urllib.error.HTTPError) else None
                error = f"HTTP {status}" if status is not None else type(exc).__name__
                permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
                no_time = delay is None or self._deadline.remaining_ms() - delay * 1000 < RESPONSE_TIMEOUT_S * 1000
                if permanent or no_time:
                    self._logger.error("response not delivered", extra={"error": error, "attempts": attempt})
                    raise ResponseNotDelivered(f"Response not delivered ({error}, {attempt} attempts).") from None
                self._logger.warning(
                    "response PUT failed, retrying", extra={"error": error, "attempt": attempt, "delay_s": delay}
                )
                self._sleep(delay)
