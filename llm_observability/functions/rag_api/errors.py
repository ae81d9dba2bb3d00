"""HTTP error model: exception classification and JSON responses (Powertools ``Response`` objects).

Client-facing messages are fixed sentences; exception text from AWS or Python
never reaches a response body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from llm_observability_runtime import telemetry

_RETRY_AFTER_THROTTLED = {"Retry-After": "2"}
_RETRY_AFTER_UNAVAILABLE = {"Retry-After": "5"}

MESSAGE_THROTTLED = "The model service is busy; retry after the delay given in the Retry-After header."
MESSAGE_TIMEOUT = "The model service did not respond in time; try again."
MESSAGE_UNAVAILABLE = "The model service is temporarily unavailable; retry after the delay given in Retry-After."
MESSAGE_MODEL_ERROR = "The model service returned an error; try again later."
MESSAGE_MISCONFIGURED = "The service is not configured correctly; the operators have been alerted."
MESSAGE_INTERNAL = "An internal error occurred; the operators have been alerted."
MESSAGE_NOT_FOUND = "Not found: this API serves POST /ask and POST /feedback."
MESSAGE_METHOD_NOT_ALLOWED = "Method not allowed: this resource accepts POST only."

_THROTTLING_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
_TIMEOUT_CODES = frozenset({"ModelTimeoutException"})
_UNAVAILABLE_CODES = frozenset({"ServiceUnavailableException", "ModelNotReadyException"})
_ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "InvalidSignatureException",
    }
)

_JSON = "application/json"


class ApiError(Exception):
    """A failure with its HTTP status, error class (log line and the request span's error.type) and client-safe
    message."""

    def __init__(
        self,
        status: int,
        error_class: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_class = error_class
        self.message = message
        self.headers: Mapping[str, str] = headers or {}


class RequestValidationError(ApiError):
    """The client sent a request we cannot accept (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, telemetry.ERROR_VALIDATION, message)


def classify_exception(exc: BaseException) -> ApiError:
    """Map an exception raised while serving a request to the error returned to the client."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _THROTTLING_CODES:
            return ApiError(429, telemetry.ERROR_THROTTLING, MESSAGE_THROTTLED, _RETRY_AFTER_THROTTLED)
        if code in _TIMEOUT_CODES:
            return ApiError(504, telemetry.ERROR_TIMEOUT, MESSAGE_TIMEOUT)
        if code in _UNAVAILABLE_CODES:
            return ApiError(503, telemetry.ERROR_UNAVAILABLE, MESSAGE_UNAVAILABLE, _RETRY_AFTER_UNAVAILABLE)
        if code in _ACCESS_CODES:
            return ApiError(500, telemetry.ERROR_ACCESS_DENIED, MESSAGE_MISCONFIGURED)
        return ApiError(502, telemetry.ERROR_MODEL, MESSAGE_MODEL_ERROR)
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return ApiError(504, telemetry.ERROR_TIMEOUT, MESSAGE_TIMEOUT)
    if isinstance(exc, EndpointConnectionError):
        return ApiError(503, telemetry.ERROR_UNAVAILABLE, MESSAGE_UNAVAILABLE, _RETRY_AFTER_UNAVAILABLE)
    if isinstance(exc, NoCredentialsError):
        return ApiError(500, telemetry.ERROR_ACCESS_DENIED, MESSAGE_MISCONFIGURED)
    return ApiError(500, telemetry.ERROR_INTERNAL, MESSAGE_INTERNAL)


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, for server-side logs."""
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return code if isinstance(code, str) else None


def json_response(
    status: int,
    body: Mapping[str, Any],
    request_id: str,
    extra_headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response (compact, UTF-8 as is) with the X-Request-Id header."""
    return Response(
        status_code=status,
        content_type=_JSON,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        headers={"X-Request-Id": request_id, **(extra_headers or {})},
    )


def error_response(error: ApiError, request_id: str) -> Response:
    """The JSON error response for ``error``: a client-safe message and the request id."""
    return json_response(error.status, {"error": error.message, "request_id": request_id}, request_id, error.headers)
