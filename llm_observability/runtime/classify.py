"""Error classes: the ``error_class`` (one of ``telemetry.ERROR_CLASSES``) of an exception, a chain or a status.

A botocore ``ClientError`` (an ``EventStreamError`` from a stream included) is classified by its error
code; transport errors by their type; anything else is ``Internal``. Codes of stream exception events
arrive in lower camel case (``throttlingException``) and are compared with a capital first letter. The class
goes into log lines; whether it counts as a RequestFailure is ``telemetry.FAILURE_ERROR_CLASSES``.
"""

from __future__ import annotations

from typing import Any

from . import telemetry as t

_BY_CODE: dict[str, str] = {
    **dict.fromkeys(
        ("ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"), t.ERROR_THROTTLING
    ),
    **dict.fromkeys(("ModelTimeoutException", "RequestTimeout", "RequestTimeoutException"), t.ERROR_TIMEOUT),
    **dict.fromkeys(
        ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException", "InvalidSignatureException",
         "ResourceNotFoundException"),
        t.ERROR_ACCESS_DENIED,
    ),
    **dict.fromkeys(("ValidationException",), t.ERROR_VALIDATION),
    **dict.fromkeys(
        ("ServiceUnavailableException", "ServiceUnavailable", "ModelNotReadyException"), t.ERROR_UNAVAILABLE
    ),
    **dict.fromkeys(
        ("ModelErrorException", "InternalServerException", "ModelStreamErrorException", "DependencyFailedException",
         "BadGatewayException"),
        t.ERROR_MODEL,
    ),
}  # fmt: skip

# Transport errors by class name (botocore and urllib3), so this module imports neither.
_BY_TYPE: dict[str, str] = {
    "ReadTimeoutError": t.ERROR_TIMEOUT,
    "ConnectTimeoutError": t.ERROR_TIMEOUT,
    "EndpointConnectionError": t.ERROR_UNAVAILABLE,
    "ConnectionClosedError": t.ERROR_UNAVAILABLE,
    "ResponseStreamingError": t.ERROR_UNAVAILABLE,
    "ProtocolError": t.ERROR_UNAVAILABLE,
    "IncompleteReadError": t.ERROR_UNAVAILABLE,
    "NoCredentialsError": t.ERROR_ACCESS_DENIED,
    "PartialCredentialsError": t.ERROR_ACCESS_DENIED,
    "ParamValidationError": t.ERROR_VALIDATION,
}


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (capital first letter), else None."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    code = error.get("Code") if isinstance(error, dict) else None
    if not isinstance(code, str) or not code:
        return None
    return code[0].upper() + code[1:]


def _known_class(exc: BaseException) -> str | None:
    """The class of an AWS error or a known transport error, else None."""
    code = error_code(exc)
    if code is not None:
        return _BY_CODE.get(code, t.ERROR_INTERNAL)
    for cls in type(exc).__mro__:
        found = _BY_TYPE.get(cls.__name__)
        if found is not None:
            return found
    if isinstance(exc, TimeoutError):
        return t.ERROR_TIMEOUT
    return None


def error_class(exc: BaseException) -> str:
    """The error class of ``exc``: one of ``telemetry.ERROR_CLASSES``."""
    return _known_class(exc) or t.ERROR_INTERNAL


def chain_error_class(exc: BaseException, depth: int = 8) -> str:
    """The error class of the first AWS or transport error in ``exc``'s chain (``__cause__``, else
    ``__context__``, at most ``depth`` deep): a handler that re-raises a Bedrock throttling as its own
    exception failed by throttling. ``Internal`` when the chain has none."""
    seen: BaseException | None = exc
    for _ in range(depth):
        if seen is None:
            break
        found = _known_class(seen)
        if found is not None:
            return found
        seen = seen.__cause__ or seen.__context__
    return t.ERROR_INTERNAL


def status_error_class(status: int) -> str | None:
    """The error class of an HTTP status a handler returned (API Gateway proxy response), None for success.

    429 is Throttling, 503 ServiceUnavailable, 504 Timeout, any other 4xx Validation (the caller's fault) and
    any other 5xx Internal.
    """
    if status < 400:
        return None
    return {429: t.ERROR_THROTTLING, 503: t.ERROR_UNAVAILABLE, 504: t.ERROR_TIMEOUT}.get(
        status, t.ERROR_VALIDATION if status < 500 else t.ERROR_INTERNAL
    )
