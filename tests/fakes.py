"""Fakes shared by the Lambda function tests: a Lambda context whose clock moves only when the code
sleeps, and urllib responses and errors."""

from __future__ import annotations

import io
import sys
import urllib.error
from dataclasses import dataclass, field
from typing import Self


@dataclass
class FakeClock:
    """Lambda context (``get_remaining_time_in_millis`` and the fields Powertools' Logger reads) and ``sleep`` in
    one: time passes only by sleeping."""

    remaining_ms: int = 300_000
    sleeps: list[float] = field(default_factory=list)
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "lambda-request-id-0001"

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining_ms -= int(seconds * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class FakeHttpResponse:
    """What ``urllib.request.urlopen`` returns, as a context manager."""

    def __init__(self, status: int = 200) -> None:
        self.status = status

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def http_error(
    code: int, body: bytes = b"", headers: dict[str, str] | None = None, url: str = "https://example.invalid"
) -> urllib.error.HTTPError:
    """The ``HTTPError`` urllib raises for status ``code``."""
    return urllib.error.HTTPError(url, code, "error", headers or {}, io.BytesIO(body))  # type: ignore[arg-type]


class CurrentStdout:
    """Writes to whatever ``sys.stdout`` is now (pytest swaps it per test); Powertools binds its stream at import."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()
