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
    ``Security`` (optional, ``es`` only): the fine-grained access control set-up as a JSON string,
        ``{"roles": {name: role}, "role_mappings": {name: [IAM role ARN, ...]}, "audit_logging": true}``; needs
        the function's role to be the domain's master user.

Create / Update
    With ``Security``: ``PUT _plugins/_security/api/roles/<name>`` and ``.../rolesmapping/<name>`` (backend roles:
    the IAM role ARNs) for each role, then (``audit_logging``) ``PATCH _plugins/_security/api/audit`` turning
    audit logging on, since publishing audit logs to CloudWatch Logs records nothing until the security plugin
    logs. The roles and mappings stay on Delete (they live and go with the domain).
    ``PUT <endpoint>/_index_template/<TemplateName>`` signed with the function's role. The physical id is
    ``<host>/_index_template/<TemplateName>`` with the host in lower case and without a default ``:443``, so
    respelling the endpoint keeps the id; when the endpoint or the name really changes, CloudFormation
    deletes the old resource, which removes the old template.
    Retried with backoff: 429, 5xx and network errors, and 401/403 for a few minutes (a new role, domain
    access policy or Serverless data access policy takes a while to apply). Other 4xx fail at once.

Delete
    ``DELETE`` the template; best effort: a missing template, domain or collection, unusable properties
    (an endpoint like ``https://[::1``, a body nested too deeply) or any error at all is logged and the
    delete succeeds, so a stack can always be deleted (the template is harmless where it
    stays). The physical id of a failed Create (the request id) deletes nothing.

Every invocation answers CloudFormation exactly once (the shared ``cfn_response`` module), with FAILED
and a one-sentence Reason on error, including a watchdog answer shortly before the function times out.

Environment: ``AWS_REGION`` (signing region, set by Lambda); ``POWERTOOLS_SERVICE_NAME`` (the log
records' ``service``; default ``opensearch-index-template``). Imports the standard library, boto3, the
Powertools layer and its siblings ``cfn_response`` and ``sigv4``. Test seams: ``sigv4.set_session()``,
``sleep``, and ``urllib.request.urlopen`` for both the OpenSearch calls and the response.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Final

import cfn_response
import sigv4
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from cfn_response import Deadline, Outcome, RequestFailed

SERVICES: Final = ("es", "aoss")
TEMPLATE_PATH: Final = "/_index_template/"
_NAME = re.compile(r'^[a-z0-9][^A-Z/\\*?"<>| ,#]{0,254}$')
SECURITY_API: Final = "/_plugins/_security/api/"
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
AUDIT_ON: Final = [{"op": "add", "path": "/config/enabled", "value": True}]

RETRY_DELAYS_S: Final = (2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0, 30.0)
RETRYABLE_STATUS: Final = frozenset({401, 403, 408, 409, 429})
HTTP_TIMEOUT_S: Final = 15.0
MAX_ERROR_BODY_CHARS: Final = 300
PHYSICAL_ID_FAILED: Final = "opensearch-index-template:failed"
DEFAULT_SERVICE_NAME: Final = "opensearch-index-template"

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME)

sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Properties:
    base_url: str  # https://host (no trailing slash)
    service: str
    name: str
    body: bytes
    #: fine-grained access control requests sent before the template: (method, path, JSON body)
    security: tuple[tuple[str, str, bytes], ...] = ()

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc

    @property
    def physical_id(self) -> str:
        return f"{self.host}{TEMPLATE_PATH}{self.name}"

    @property
    def path(self) -> str:
        return f"{TEMPLATE_PATH}{urllib.parse.quote(self.name, safe='')}"


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event without the credential-bearing ResponseURL and the (long) template body."""
    redacted = cfn_response.redact_event(event)
    for key in ("ResourceProperties", "OldResourceProperties"):
        props = redacted.get(key)
        if isinstance(props, Mapping) and "TemplateBody" in props:
            redacted[key] = {**props, "TemplateBody": f"<{len(str(props['TemplateBody']))} characters>"}
    return redacted


# --- properties -------------------------------------------------------------------------------------------------------


def normalize_host(netloc: str) -> str:
    """``netloc`` as the physical id spells it: lower case, without the default ``:443``."""
    host = netloc.lower()
    return host.removesuffix(":443")


def normalize_endpoint(endpoint: str) -> str:
    """The normalized ``host[:port]`` of an https endpoint (scheme optional, a trailing ``/`` tolerated).

    :raises RequestFailed: not an https host name (no path, query, user information or invalid port).
    """
    base = endpoint.strip().rstrip("/")
    if "://" not in base:
        base = f"https://{base}"
    problem = RequestFailed(f"The Endpoint property must be an https host name, got {endpoint!r}.")
    if not base.isprintable():  # control characters, lone surrogates
        raise problem
    try:
        parts = urllib.parse.urlsplit(base)
        port = parts.port
    except ValueError:
        raise problem from None
    if parts.scheme.lower() != "https" or not parts.hostname or parts.path or parts.query:
        raise problem
    if parts.username is not None or parts.password is not None:
        raise problem
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return normalize_host(host if port is None else f"{host}:{port}")


def normalize_physical_id(physical_id: str) -> str:
    """A physical id with its host normalized (ids written before normalization still match)."""
    host, separator, name = physical_id.partition(TEMPLATE_PATH)
    return f"{normalize_host(host)}{separator}{name}" if separator else physical_id


def parse_properties(raw: Any) -> Properties:
    """Validate ResourceProperties."""
    if not isinstance(raw, Mapping):
        raise RequestFailed("ResourceProperties are missing.")
    endpoint, service, name, body = (raw.get(k) for k in ("Endpoint", "Service", "TemplateName", "TemplateBody"))
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise RequestFailed("The Endpoint property is required: the domain or collection endpoint.")
    host = normalize_endpoint(endpoint)
    if service not in SERVICES:
        raise RequestFailed(f'The Service property must be "es" or "aoss", got {service!r}.')
    if not isinstance(name, str) or not _NAME.match(name) or not name.isprintable():
        raise RequestFailed(f"The TemplateName property is not a valid index template name: {name!r}.")
    if not isinstance(body, str):
        raise RequestFailed("The TemplateBody property must be the index template as a JSON string.")
    try:
        template = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestFailed(f"The TemplateBody property is not valid JSON ({exc.msg} at position {exc.pos}).") from None
    except RecursionError:
        raise RequestFailed("The TemplateBody property is nested too deeply to be an index template.") from None
    except ValueError:  # an integer of more than 4,300 digits
        raise RequestFailed("The TemplateBody property holds a number too long to be read.") from None
    if not isinstance(template, dict) or not isinstance(template.get("index_patterns"), list):
        raise RequestFailed("The TemplateBody property must be an index template object with index_patterns.")
    try:
        encoded = json.dumps(template).encode()
    except RecursionError:
        raise RequestFailed("The TemplateBody property is nested too deeply to be an index template.") from None
    security = parse_security(raw.get("Security"), service)
    return Properties(f"https://{host}", service, name, encoded, security)


def parse_security(raw: Any, service: str) -> tuple[tuple[str, str, bytes], ...]:
    """The fine-grained access control requests of the ``Security`` property (none when it is absent)."""
    if raw is None or raw == "":
        return ()
    problem = RequestFailed(
        'The Security property must be a JSON object {"roles": {name: role}, "role_mappings": {name: [role ARN]}, '
        '"audit_logging": true|false} for a managed domain (Service "es").'
    )
    if service != "es" or not isinstance(raw, str):
        raise problem
    try:
        security = json.loads(raw)
    except (ValueError, RecursionError):
        raise problem from None
    if not isinstance(security, dict) or set(security) - {"roles", "role_mappings", "audit_logging"}:
        raise problem
    roles, mappings = security.get("roles", {}), security.get("role_mappings", {})
    audit = security.get("audit_logging", False)
    if not (isinstance(roles, dict) and isinstance(mappings, dict) and isinstance(audit, bool)):
        raise problem
    if not all(_ROLE_NAME.match(str(n)) and isinstance(r, dict) for n, r in roles.items()):
        raise problem
    for name, arns in mappings.items():
        if not (_ROLE_NAME.match(str(name)) and isinstance(arns, list) and arns):
            raise problem
        if not all(isinstance(a, str) and _ROLE_ARN.match(a) for a in arns):
            raise problem
    requests = [("PUT", f"{SECURITY_API}roles/{n}", json.dumps(r).encode()) for n, r in roles.items()]
    requests += [
        ("PUT", f"{SECURITY_API}rolesmapping/{n}", json.dumps({"backend_roles": a}).encode())
        for n, a in mappings.items()
    ]
    if audit:
        requests.append(("PATCH", f"{SECURITY_API}audit", json.dumps(AUDIT_ON).encode()))
    return tuple(requests)


# --- OpenSearch calls -------------------------------------------------------------------------------------------------


def _signed(method: str, url: str, body: bytes | None, service: str) -> urllib.request.Request:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if not region:
        raise RequestFailed("AWS_REGION is not set, so requests cannot be signed.")
    headers = {
        "Content-Type": "application/json",
        # OpenSearch Serverless requires the payload hash header; the managed domain accepts it.
        "X-Amz-Content-SHA256": hashlib.sha256(body or b"").hexdigest(),
    }
    try:
        return sigv4.signed_request(method, url, body, headers=headers, service=service, region=region)
    except sigv4.NoCredentials:
        raise RequestFailed("No AWS credentials are available to sign OpenSearch requests.") from None


def call(
    method: str, props: Properties, deadline: Deadline, *, body: bytes | None = None, path: str | None = None
) -> int:
    """Send a signed request to ``path`` (Default: the template's); the HTTP status (2xx, or 404 for DELETE).
    Retries transient errors while time allows.

    :raises RequestFailed: a permanent error, or a transient one that outlived the retries.
    """
    path = props.path if path is None else path
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
        try:
            request = _signed(method, f"{props.base_url}{path}", body, props.service)
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as r:
                return int(getattr(r, "status", 200))
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return 404
            detail = sigv4.error_body(exc, MAX_ERROR_BODY_CHARS)
            if exc.code not in RETRYABLE_STATUS and exc.code < 500:
                shown = urllib.parse.unquote(path)
                raise RequestFailed(
                    f"{method} {shown} was rejected with HTTP {exc.code}: {detail or 'no details'}."
                ) from None
            error = f"HTTP {exc.code}"
        except (OSError, HTTPException) as exc:
            detail, error = "", type(exc).__name__
        if delay is None or not deadline.allows(delay, HTTP_TIMEOUT_S * 1000):
            raise RequestFailed(
                f"{method} {urllib.parse.unquote(path)} failed with {error} after {attempt} attempts"
                f"{': ' + detail if detail else ''}."
            )
        logger.warning(
            "request failed, retrying", extra={"method": method, "error": error, "attempt": attempt, "delay_s": delay}
        )
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --- request types ----------------------------------------------------------------------------------------------------


def _create_or_update(request: CloudFormationCustomResourceEvent, deadline: Deadline) -> Outcome:
    props = parse_properties(request.get("ResourceProperties"))
    for method, path, body in props.security:
        call(method, props, deadline, body=body, path=path)
    if props.security:
        logger.info("security set up", extra={"requests": [f"{m} {p}" for m, p, _ in props.security]})
    status = call("PUT", props, deadline, body=props.body)
    logger.info("index template put", extra={"template": props.name, "host": props.host, "status": status})
    return Outcome("SUCCESS", props.physical_id, "Index template applied.", {"TemplateName": props.name})


def _delete(request: CloudFormationCustomResourceEvent, physical_id: str, deadline: Deadline) -> Outcome:
    """Best effort: any error is logged and answers SUCCESS, so a Delete never blocks a rollback or a deletion."""
    try:
        return _delete_template(request, physical_id, deadline)
    except Exception as exc:  # a Delete must never answer FAILED
        logger.exception("template not deleted after an unexpected error", extra={"error": type(exc).__name__})
        reason = f"The index template was left in place after an unexpected {type(exc).__name__}; see the logs."
        return Outcome("SUCCESS", physical_id, reason)


def _delete_template(request: CloudFormationCustomResourceEvent, physical_id: str, deadline: Deadline) -> Outcome:
    try:
        props = parse_properties(request.get("ResourceProperties"))
    except RequestFailed as exc:
        logger.warning("nothing deleted: the properties are not usable", extra={"error": str(exc)})
        return Outcome("SUCCESS", physical_id, "Nothing deleted: the resource properties are not usable.")
    if normalize_physical_id(physical_id) != props.physical_id:
        logger.info("nothing deleted: this resource never created a template", extra={"physical_id": physical_id})
        return Outcome("SUCCESS", physical_id, "Nothing to delete: no template was created.")
    try:
        status = call("DELETE", props, deadline)
    except RequestFailed as exc:
        logger.warning("template not deleted; the stack deletion goes on", extra={"error": str(exc)})
        return Outcome("SUCCESS", physical_id, "The index template could not be deleted and was left in place.")
    logger.info("index template deleted" if status != 404 else "index template already gone", extra={"status": status})
    return Outcome("SUCCESS", physical_id, "Index template deleted.")


def _process(request: CloudFormationCustomResourceEvent, deadline: Deadline, physical_id: str) -> Outcome:
    request_type = request.get("RequestType")
    if request_type == "Delete":
        return _delete(request, physical_id, deadline)
    if request_type in ("Create", "Update"):
        return _create_or_update(request, deadline)
    raise RequestFailed(f"Unsupported RequestType {request_type!r}: expected Create, Update or Delete.")


# --- entry point ------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(log_event=False, clear_state=True)
def on_event(event: dict[str, Any], context: LambdaContext) -> None:
    """Lambda entry point: handle one CloudFormation custom resource request and answer it (``cfn_response``)."""
    cfn_response.handle(
        event, context, _process, logger=logger, failed_id=PHYSICAL_ID_FAILED, sleep=sleep, redact=redact_event
    )
