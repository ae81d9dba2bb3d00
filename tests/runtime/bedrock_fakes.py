"""Fake Bedrock for the runtime tests: real boto3 clients whose HTTP responses are made here, on the wire format.

``FakeBedrock.client(service)`` builds a real client (dummy credentials, one attempt, no retries) whose
``before-send`` event answers every request with the next queued response, so botocore parses real
status codes, headers, JSON bodies and binary event streams, and nothing leaves the process. Event
streams are encoded with the AWS event stream framing (prelude, headers, payload, CRC32s). A response
can break after a number of chunks, the way a dropped connection does.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

REGION = "us-east-1"
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
KNOWLEDGE_BASE_ID = "KB12345678"
PRICE = {"input_per_1k": 0.25, "output_per_1k": 1.25}


class FakeRaw:
    """The urllib3 response botocore reads: ``stream()``, ``read(amt)``, ``close()``; may fail part-way."""

    def __init__(self, chunks: list[bytes], fail_after: int | None = None, error: BaseException | None = None) -> None:
        self._chunks = chunks
        self._fail_after = fail_after
        self._error = error
        self._buffer = io.BytesIO(b"".join(chunks if fail_after is None else chunks[:fail_after]))
        self.closed = False

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Iterator[bytes]:
        for index, chunk in enumerate(self._chunks):
            if self._fail_after is not None and index == self._fail_after:
                assert self._error is not None
                raise self._error
            yield chunk
        if self._fail_after is not None and self._fail_after >= len(self._chunks):
            assert self._error is not None
            raise self._error

    def read(self, amt: int | None = None) -> bytes:
        data = self._buffer.read(amt) if amt is not None else self._buffer.read()
        if self._fail_after is not None and (amt is None or not data):
            assert self._error is not None
            raise self._error
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


@dataclass
class Reply:
    """One HTTP response (or an exception raised instead of sending)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    fail_after: int | None = None
    error: BaseException | None = None
    raise_instead: BaseException | None = None


def json_reply(document: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON response."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return Reply(
        status,
        {
            "content-type": "application/json",
            "x-amzn-requestid": "req-1",
            **(headers or {}),
            "content-length": str(len(body)),
        },
        [body],
    )


def error_reply(code: str, status: int, message: str = "it failed") -> Reply:
    """An AWS JSON error response with ``code``."""
    return json_reply({"__type": code, "message": message}, status=status, headers={"x-amzn-ErrorType": f"{code}:"})


def invoke_reply(document: Any, *, input_tokens: int | None, output_tokens: int | None, latency: int = 321) -> Reply:
    """An InvokeModel response: a body and the X-Amzn-Bedrock-* headers every model family has."""
    headers = {"X-Amzn-Bedrock-Invocation-Latency": str(latency)}
    if input_tokens is not None:
        headers["X-Amzn-Bedrock-Input-Token-Count"] = str(input_tokens)
    if output_tokens is not None:
        headers["X-Amzn-Bedrock-Output-Token-Count"] = str(output_tokens)
    return json_reply(document, headers=headers)


def _header(name: str, value: str) -> bytes:
    encoded = value.encode()
    return bytes([len(name)]) + name.encode() + bytes([7]) + struct.pack(">H", len(encoded)) + encoded


def event_message(event_type: str, payload: Any, *, message_type: str = "event") -> bytes:
    """One AWS event stream message (``:message-type`` event or exception)."""
    kind = ":event-type" if message_type == "event" else ":exception-type"
    headers = _header(":message-type", message_type) + _header(kind, event_type)
    headers += _header(":content-type", "application/json")
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def stream_reply(messages: list[bytes], *, fail_after: int | None = None, error: BaseException | None = None) -> Reply:
    """An event stream response, one message per chunk."""
    return Reply(
        200,
        {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-1"},
        messages,
        fail_after,
        error,
    )


def converse_stream_messages(text_parts: list[str], *, input_tokens: int = 11, output_tokens: int = 7) -> list[bytes]:
    """The events of a ConverseStream answer: start, deltas, stops, and the metadata event with usage."""
    return [
        event_message("messageStart", {"role": "assistant"}),
        *(event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in text_parts),
        event_message("contentBlockStop", {"contentBlockIndex": 0}),
        event_message("messageStop", {"stopReason": "end_turn"}),
        event_message(
            "metadata",
            {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": 250},
            },
        ),
    ]


def chunk_message(document: Any) -> bytes:
    """One InvokeModelWithResponseStream ``chunk`` event carrying ``document`` as JSON bytes."""
    return event_message("chunk", {"bytes": base64.b64encode(json.dumps(document).encode()).decode()})


def anthropic_stream_chunks(text_parts: list[str], *, input_tokens: int = 13, output_tokens: int = 5) -> list[bytes]:
    """An Anthropic Messages stream through InvokeModelWithResponseStream, ending with Bedrock's invocation metrics."""
    return [
        chunk_message({"type": "message_start", "message": {"role": "assistant"}}),
        *(
            chunk_message({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
            for p in text_parts
        ),
        chunk_message(
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output_tokens}}
        ),
        chunk_message(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": input_tokens,
                    "outputTokenCount": output_tokens,
                    "invocationLatency": 400,
                    "firstByteLatency": 90,
                },
            }
        ),
    ]


class FakeBedrock:
    """Queued HTTP responses for real boto3 clients."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Any] = []

    def queue(self, *replies: Reply) -> FakeBedrock:
        self.replies.extend(replies)
        return self

    def _send(self, request: Any, **_: Any) -> AWSResponse:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if reply.raise_instead is not None:
            raise reply.raise_instead
        return AWSResponse(
            request.url, reply.status, reply.headers, FakeRaw(reply.chunks, reply.fail_after, reply.error)
        )

    def client(self, service: str) -> Any:
        """A real client of ``service`` answered by this fake (one attempt: no retries)."""
        client = boto3.session.Session().client(
            service,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        client.meta.events.register("before-send", self._send)
        return client
