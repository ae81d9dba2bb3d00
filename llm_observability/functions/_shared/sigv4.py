"""SigV4-signed HTTP requests for AWS APIs that boto3 has no client for (OpenSearch, Prometheus remote write).

One source file, copied into the asset of each function that signs its own HTTP calls (the function
builder's ``shared=("sigv4",)``), where the handler imports it as a sibling: ``import sigv4``.

Credentials come from one boto3 session per container (the function's role, or whatever the standard
boto3 configuration provides); the request is signed by botocore and sent by ``urllib.request``.

Test seam: ``set_session()`` injects a session (anything with ``get_credentials()``).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

_session: Any = None


class NoCredentials(RuntimeError):
    """No AWS credentials are available to sign with."""


def set_session(session: Any) -> None:
    """Use ``session`` for credentials (tests); None makes the next request create a fresh one."""
    global _session
    _session = session


def _credentials() -> Any:
    global _session
    if _session is None:
        _session = boto3.Session()
    credentials = _session.get_credentials()
    if credentials is None:
        raise NoCredentials("No AWS credentials are available to sign requests.")
    return credentials.get_frozen_credentials()


def signed_request(
    method: str, url: str, body: bytes | None, *, headers: Mapping[str, str], service: str, region: str
) -> urllib.request.Request:
    """A ``urllib`` request for ``method url`` with ``headers``, signed for ``service`` in ``region``.

    :raises NoCredentials: no credentials are available.
    """
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    SigV4Auth(_credentials(), service, region).add_auth(request)
    return urllib.request.Request(url, data=body, headers=dict(request.headers), method=method)


def error_body(error: urllib.error.HTTPError, max_chars: int) -> str:
    """The start of an HTTP error's body on one line, for logs and failure reasons ("" if unreadable)."""
    try:
        text = error.read(max_chars * 4).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only diagnostic
        return ""
    return " ".join(text.split())[:max_chars]
