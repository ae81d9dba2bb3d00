"""Error classes: the ErrorClass dimension value of an exception raised by a Bedrock call or a handler.

A botocore ``ClientError`` (an ``EventStreamError`` from a stream included) is classified by its error
code; transport errors by their type; anything else is ``Internal``. Codes of stream exception events
arrive in lower camel case (``throttlingException``) and are compared with a capital first letter.
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


def error_class(exc: BaseException) -> str:
    """The ErrorClass of ``exc``: one of ``telemetry.ERROR_CLASSES``."""
    code = error_code(exc)
    if code is not None:
        return _BY_CODE.get(code, t.ERROR_INTERNAL)
    for cls in type(exc).__mro__:
        found = _BY_TYPE.get(cls.__name__)
        if found is not None:
            return found
    if isinstance(exc, TimeoutError):
        return t.ERROR_TIMEOUT
    return t.ERROR_INTERNAL


def status_error_class(status: int) -> str | None:
    """The ErrorClass of an HTTP status a handler returned (API Gateway proxy response), None for success."""
    if status < 400:
        return None
    return {429: t.ERROR_THROTTLING, 503: t.ERROR_UNAVAILABLE, 504: t.ERROR_TIMEOUT}.get(
        status, t.ERROR_VALIDATION if status < 500 else t.ERROR_INTERNAL
    )
