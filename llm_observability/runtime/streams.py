"""Wrappers that watch a response while the user consumes it, without buffering it or changing it.

``InstrumentedEventStream`` stands in for the ``EventStream`` of ConverseStream (``response["stream"]``) and
InvokeModelWithResponseStream (``response["body"]``): it yields the very events the original yields, shows
each to an observer, and reports the end of the stream (exhausted, broken by an exception, closed or
abandoned) once. ``TeeBody`` stands in for the ``StreamingBody`` of InvokeModel: reads go to the same
HTTP stream, and a copy of at most ``MAX_CAPTURE_BYTES`` is kept to read the answer from. The user's
exceptions pass through unchanged; the observers' own failures are the caller's to swallow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.response import StreamingBody

from .extract import MAX_PARSE_BYTES

MAX_CAPTURE_BYTES = MAX_PARSE_BYTES

OnEvent = Callable[[Any], None]
OnEnd = Callable[[BaseException | None, bool], None]  # (error, incomplete)


class InstrumentedEventStream:
    """An event stream whose events are observed as they pass; everything else is the original's."""

    def __init__(self, stream: Any, on_event: OnEvent, on_end: OnEnd) -> None:
        self._llmobs_stream = stream
        self._llmobs_on_event = on_event
        self._llmobs_on_end = on_end
        self._llmobs_ended = False

    def _llmobs_end(self, error: BaseException | None, incomplete: bool) -> None:
        if not self._llmobs_ended:
            self._llmobs_ended = True
            self._llmobs_on_end(error, incomplete)

    def __iter__(self) -> Iterator[Any]:
        try:
            for event in self._llmobs_stream:
                self._llmobs_on_event(event)
                yield event
        except GeneratorExit:  # the user stopped iterating
            self._llmobs_end(None, True)
            raise
        except BaseException as exc:
            self._llmobs_end(exc, False)
            raise
        self._llmobs_end(None, False)

    def close(self) -> None:
        """Close the original stream; an unfinished stream is reported as incomplete."""
        try:
            self._llmobs_stream.close()
        finally:
            self._llmobs_end(None, True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llmobs_stream, name)

    def __repr__(self) -> str:
        return repr(self._llmobs_stream)


class TeeBody(StreamingBody):
    """A ``StreamingBody`` over the same HTTP stream that keeps a bounded copy of what the user reads.

    ``on_done(data, error)`` is called once: at the end of the body (``data`` the copy, or None when it was
    larger than ``MAX_CAPTURE_BYTES``), when a read fails (``error``), or on ``close()`` before the end.
    """

    def __init__(self, body: StreamingBody, on_done: Callable[[bytes | None, BaseException | None], None]) -> None:
        super().__init__(body._raw_stream, body._content_length)
        self._llmobs_on_done = on_done
        self._llmobs_parts: list[bytes] | None = []
        self._llmobs_size = 0
        self._llmobs_done = False

    def _llmobs_keep(self, chunk: bytes) -> None:
        parts = self._llmobs_parts
        if parts is not None and chunk:
            self._llmobs_size += len(chunk)
            if self._llmobs_size > MAX_CAPTURE_BYTES:
                self._llmobs_parts = None
            else:
                parts.append(bytes(chunk))

    def _llmobs_finish(self, error: BaseException | None, complete: bool) -> None:
        if not self._llmobs_done:
            self._llmobs_done = True
            parts = self._llmobs_parts
            self._llmobs_parts = None
            self._llmobs_on_done(b"".join(parts) if complete and parts is not None else None, error)

    def read(self, amt: int | None = None) -> bytes:
        """Read like ``StreamingBody.read``, keeping a copy."""
        try:
            chunk = super().read(amt)
        except BaseException as exc:
            self._llmobs_finish(exc, False)
            raise
        self._llmobs_keep(chunk)
        if amt is None or (not chunk and amt > 0):
            self._llmobs_finish(None, True)
        return chunk

    def readinto(self, b: Any) -> int:
        """Read like ``StreamingBody.readinto``, keeping a copy."""
        try:
            amount = super().readinto(b)
        except BaseException as exc:
            self._llmobs_finish(exc, False)
            raise
        self._llmobs_keep(bytes(memoryview(b)[:amount]))
        if amount == 0 and len(b) > 0:
            self._llmobs_finish(None, True)
        return amount

    def close(self) -> None:
        """Close the HTTP stream; a body not read to the end is reported without its text."""
        try:
            super().close()
        finally:
            self._llmobs_finish(None, False)
