"""CloudFormation custom resource that puts an index template into OpenSearch (managed domain or Serverless).

CloudFormation invokes this function directly (``Custom::OpenSearchIndexTemplate`` whose ServiceToken
is this function's ARN), so the function itself PUTs the result to the pre-signed ``ResponseURL``.

ResourceProperties
    ``Endpoint`` (required): the domain endpoint (``search-...es.amazonaws.com``, scheme optional) or the
        collection endpoint (``https://<id>.<region>.aoss.amazonaws.com``).
    ``Service`` (required): ``es`` (managed domain) or ``aoss`` (OpenSearch Serverless): the SigV4 service.
    ``TemplateName`` (required): 1-255 lower-case characters, no ``/``, ``\\``, ``*``, ``?``, ``"``, ``<``, ``>``,
        ``|``, space, ``,`` or ``#``.
    ``TemplateBody`` (required): the composable index template as a JSON string (a string, because
        CloudFormation would turn numbers and booleans of a nested object into strings).

Create / Update
    ``PUT <endpoint>/_index_template/<TemplateName>`` signed with the function's role. The physical id is
    ``<host>/_index_template/<TemplateName>``: when the endpoint or the name changes, CloudFormation
    deletes the old resource, which removes the old template.
    Retried with backoff: 429, 5xx and network errors, and 401/403 for a few minutes (a new role, domain
    access policy or Serverless data access policy takes a while to apply). Other 4xx fail at once.

Delete
    ``DELETE`` the template; best effort: a missing template, domain or collection, or any error is
    logged and the delete succeeds, so a stack can always be deleted (the template is harmless where it
    stays). The physical id of a failed Create (the request id) deletes nothing.

Every invocation answers CloudFormation exactly once, with FAILED and a one-sentence Reason on error,
including a watchdog answer shortly before the function times out.

Environment: ``AWS_REGION`` (signing region, set by Lambda). Imports only the standard library and
botocore/boto3. Test seams: ``set_session()``, ``sleep``, and ``urllib.request.urlopen`` for both the
OpenSearch calls and the response.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any, Final, Protocol

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

SERVICES: Final = ("es", "aoss")
TEMPLATE_PATH: Final = "/_index_template/"
_NAME = re.compile(r'^[a-z0-9][^A-Z/\\*?"<>| ,#]{0,254}$')

RETRY_DELAYS_S: Final = (2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0, 30.0)
RETRYABLE_STATUS: Final = frozenset({401, 403, 408, 409, 429})
HTTP_TIMEOUT_S: Final = 15.0
RESPONSE_RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0)
RESPONSE_TIMEOUT_S: Final = 5.0
RESPONSE_RESERVE_MS: Final = 10_000
MIN_START_MS: Final = RESPONSE_RESERVE_MS + 5_000
MAX_REASON_CHARS: Final = 500
MAX_ERROR_BODY_CHARS: Final = 300
REDACTED: Final = "<redacted>"

logger = logging.getLogger("opensearch_index_template")
logger.setLevel(logging.INFO)

sleep: Callable[[float], None] = time.sleep
_session: Any = None


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class RequestFailed(Exception):
    """The request cannot be completed; the message is the Reason sent to CloudFormation."""


class ResponseNotDelivered(Exception):
    """The response could not be PUT to the ResponseURL."""


@dataclass(frozen=True)
class Properties:
    base_url: str  # https://host (no trailing slash)
    service: str
    name: str
    body: bytes

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc

    @property
    def physical_id(self) -> str:
        return f"{self.host}{TEMPLATE_PATH}{self.name}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{TEMPLATE_PATH}{urllib.parse.quote(self.name, safe='')}"


@dataclass(frozen=True)
class Outcome:
    status: str
    physical_id: str
    reason: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Deadline:
    context: LambdaContext

    def remaining_ms(self) -> int:
        return int(self.context.get_remaining_time_in_millis())


def set_session(session: Any) -> None:
    """Use ``session`` for credentials (tests); None makes the next call create a fresh one."""
    global _session
    _session = session


def _credentials() -> Any:
    global _session
    if _session is None:
        _session = boto3.Session()
    credentials = _session.get_credentials()
    if credentials is None:
        raise RequestFailed("No AWS credentials are available to sign OpenSearch requests.")
    return credentials.get_frozen_credentials()


def _log(level: int, message: str, **fields: Any) -> None:
    logger.log(level, json.dumps({"message": message, **fields}, default=str))


def _one_sentence(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON_CHARS else flat[: MAX_REASON_CHARS - 3].rstrip() + "..."


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event without the credential-bearing ResponseURL and the (long) template body."""
    redacted = {key: (REDACTED if key == "ResponseURL" else value) for key, value in event.items()}
    for key in ("ResourceProperties", "OldResourceProperties"):
        props = redacted.get(key)
        if isinstance(props, Mapping) and "TemplateBody" in props:
            redacted[key] = {**props, "TemplateBody": f"<{len(str(props['TemplateBody']))} characters>"}
    return redacted


# --- properties ------------------------------------------------------------------------------------------------------


def parse_properties(raw: Any) -> Properties:
    """Validate ResourceProperties."""
    if not isinstance(raw, Mapping):
        raise RequestFailed("ResourceProperties are missing.")
    endpoint, service, name, body = (raw.get(k) for k in ("Endpoint", "Service", "TemplateName", "TemplateBody"))
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise RequestFailed("The Endpoint property is required: the domain or collection endpoint.")
    base = endpoint.strip().rstrip("/")
    if "://" not in base:
        base = f"https://{base}"
    parts = urllib.parse.urlsplit(base)
    if parts.scheme != "https" or not parts.netloc or parts.path or parts.query:
        raise RequestFailed(f"The Endpoint property must be an https host name, got {endpoint!r}.")
    if service not in SERVICES:
        raise RequestFailed(f'The Service property must be "es" or "aoss", got {service!r}.')
    if not isinstance(name, str) or not _NAME.match(name):
        raise RequestFailed(f"The TemplateName property is not a valid index template name: {name!r}.")
    if not isinstance(body, str):
        raise RequestFailed("The TemplateBody property must be the index template as a JSON string.")
    try:
        template = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestFailed(f"The TemplateBody property is not valid JSON ({exc.msg} at position {exc.pos}).") from None
    if not isinstance(template, dict) or not isinstance(template.get("index_patterns"), list):
        raise RequestFailed("The TemplateBody property must be an index template object with index_patterns.")
    return Properties(f"https://{parts.netloc}", service, name, json.dumps(template).encode())


# --- OpenSearch calls --------------------------------------------------------------------------------------------------


def _signed(method: str, url: str, body: bytes | None, service: str) -> urllib.request.Request:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if not region:
        raise RequestFailed("AWS_REGION is not set, so requests cannot be signed.")
    payload = body or b""
    headers = {
        "Content-Type": "application/json",
        # OpenSearch Serverless requires the payload hash header; the managed domain accepts it.
        "X-Amz-Content-SHA256": hashlib.sha256(payload).hexdigest(),
    }
    request = AWSRequest(method=method, url=url, data=payload, headers=headers)
    SigV4Auth(_credentials(), service, region).add_auth(request)
    return urllib.request.Request(url, data=body, headers=dict(request.headers), method=method)


def call(method: str, props: Properties, deadline: Deadline, *, body: bytes | None = None) -> int:
    """Send a signed request; the HTTP status (2xx, or 404 for DELETE). Retries transient errors while time allows.

    :raises RequestFailed: a permanent error, or a transient one that outlived the retries.
    """
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
        try:
            with urllib.request.urlopen(_signed(method, props.url, body, props.service), timeout=HTTP_TIMEOUT_S) as r:
                return int(getattr(r, "status", 200))
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return 404
            detail = _error_body(exc)
            if exc.code not in RETRYABLE_STATUS and exc.code < 500:
                raise RequestFailed(
                    f"{method} {TEMPLATE_PATH}{props.name} was rejected with HTTP {exc.code}: {detail or 'no details'}."
                ) from None
            error = f"HTTP {exc.code}"
        except (OSError, HTTPException) as exc:
            detail, error = "", type(exc).__name__
        if delay is None or deadline.remaining_ms() - delay * 1000 - HTTP_TIMEOUT_S * 1000 < RESPONSE_RESERVE_MS:
            raise RequestFailed(
                f"{method} {TEMPLATE_PATH}{props.name} failed with {error} after {attempt} attempts"
                f"{': ' + detail if detail else ''}."
            )
        _log(logging.WARNING, "request failed, retrying", method=method, error=error, attempt=attempt, delay_s=delay)
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _error_body(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(MAX_ERROR_BODY_CHARS * 4).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - diagnostic only
        return ""
    return " ".join(text.split())[:MAX_ERROR_BODY_CHARS]


# --- request types -----------------------------------------------------------------------------------------------------


def _create_or_update(event: Mapping[str, Any], deadline: Deadline) -> Outcome:
    props = parse_properties(event.get("ResourceProperties"))
    status = call("PUT", props, deadline, body=props.body)
    _log(logging.INFO, "index template put", template=props.name, host=props.host, status=status)
    return Outcome("SUCCESS", props.physical_id, "Index template applied.", {"TemplateName": props.name})


def _delete(event: Mapping[str, Any], physical_id: str, deadline: Deadline) -> Outcome:
    try:
        props = parse_properties(event.get("ResourceProperties"))
    except RequestFailed as exc:
        _log(logging.WARNING, "nothing deleted: the properties are not usable", error=str(exc))
        return Outcome("SUCCESS", physical_id, "Nothing deleted: the resource properties are not usable.")
    if physical_id != props.physical_id:
        _log(logging.INFO, "nothing deleted: this resource never created a template", physical_id=physical_id)
        return Outcome("SUCCESS", physical_id, "Nothing to delete: no template was created.")
    try:
        status = call("DELETE", props, deadline)
    except RequestFailed as exc:
        _log(logging.WARNING, "template not deleted; the stack deletion goes on", error=str(exc))
        return Outcome("SUCCESS", physical_id, "The index template could not be deleted and was left in place.")
    _log(logging.INFO, "index template deleted" if status != 404 else "index template already gone", status=status)
    return Outcome("SUCCESS", physical_id, "Index template deleted.")


def _process(event: Mapping[str, Any], deadline: Deadline, physical_id: str) -> Outcome:
    request_type = event.get("RequestType")
    if request_type == "Delete":
        return _delete(event, physical_id, deadline)
    if request_type in ("Create", "Update"):
        return _create_or_update(event, deadline)
    raise RequestFailed(f"Unsupported RequestType {request_type!r}: expected Create, Update or Delete.")


# --- response ----------------------------------------------------------------------------------------------------------


class _Responder:
    """Sends at most one response per invocation, from the handler or the timeout watchdog."""

    def __init__(self, event: Mapping[str, Any], deadline: Deadline) -> None:
        self._event = event
        self._deadline = deadline
        self._lock = threading.Lock()
        self._sent = False

    def send(self, outcome: Outcome) -> bool:
        with self._lock:
            if self._sent:
                return False
            self._sent = True
            body = {
                "Status": outcome.status,
                "Reason": _one_sentence(outcome.reason),
                "PhysicalResourceId": outcome.physical_id,
                "StackId": self._event.get("StackId", ""),
                "RequestId": self._event.get("RequestId", ""),
                "LogicalResourceId": self._event.get("LogicalResourceId", ""),
                "NoEcho": False,
                "Data": outcome.data,
            }
            _log(logging.INFO, "sending response", response=body)
            _put_response(self._event["ResponseURL"], json.dumps(body).encode(), self._deadline)
            return True


def _put_response(url: str, body: bytes, deadline: Deadline) -> None:
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"content-type": "", "content-length": str(len(body))}
    )
    for attempt, delay in enumerate((*RESPONSE_RETRY_DELAYS_S, None), start=1):
        try:
            with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as response:
                _log(logging.INFO, "response delivered", status=response.status, attempt=attempt)
                return
        except (OSError, HTTPException) as exc:
            error = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else type(exc).__name__
            permanent = isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500 and exc.code not in (408, 429)
            if permanent or delay is None or deadline.remaining_ms() - delay * 1000 < RESPONSE_TIMEOUT_S * 1000:
                _log(logging.ERROR, "response not delivered", error=error, attempts=attempt)
                raise ResponseNotDelivered(f"Response not delivered ({error}, {attempt} attempts).") from None
            _log(logging.WARNING, "response PUT failed, retrying", error=error, attempt=attempt, delay_s=delay)
            sleep(delay)


# --- entry point -------------------------------------------------------------------------------------------------------


def on_event(event: dict[str, Any], context: LambdaContext) -> None:
    """Lambda entry point: handle one CloudFormation custom resource request and answer it."""
    url = event.get("ResponseURL") if isinstance(event, Mapping) else None
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        _log(logging.ERROR, "not a CloudFormation custom resource request: no usable ResponseURL")
        raise ValueError("The event is not a CloudFormation custom resource request (no usable ResponseURL).")
    _log(logging.INFO, "request received", event=redact_event(event))

    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or event.get("RequestId") or "opensearch-index-template:failed"
    deadline = Deadline(context)
    responder = _Responder(event, deadline)

    def on_timeout() -> None:
        _log(logging.ERROR, "about to time out, answering FAILED", remaining_ms=deadline.remaining_ms())
        reason = f"The {request_type} request did not finish within the function's timeout; retry or raise the timeout."
        try:
            responder.send(Outcome("FAILED", physical_id, reason))
        except ResponseNotDelivered:
            pass

    remaining_ms = deadline.remaining_ms()
    if remaining_ms < MIN_START_MS:
        reason = f"Only {remaining_ms} ms were left, too little time to handle the {request_type} request safely."
        responder.send(Outcome("FAILED", physical_id, reason))
        return

    watchdog = threading.Timer((remaining_ms - RESPONSE_RESERVE_MS) / 1000, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            outcome = _process(event, deadline, physical_id)
        except RequestFailed as exc:
            _log(logging.ERROR, "request failed", reason=str(exc))
            outcome = Outcome("FAILED", physical_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - CloudFormation must get an answer whatever happens
            _log(logging.ERROR, "unexpected error", error=type(exc).__name__, traceback=traceback.format_exc())
            outcome = Outcome("FAILED", physical_id, f"Unexpected {type(exc).__name__} while handling the request.")
        if not responder.send(outcome):
            _log(logging.WARNING, "response already sent by the timeout watchdog", status=outcome.status)
    finally:
        watchdog.cancel()
