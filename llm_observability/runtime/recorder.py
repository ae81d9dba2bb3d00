"""The runtime's state and output: settings, the EMF buffer, the current invocation, log lines and errors.

One ``Recorder`` per process (``current()``). Metrics are buffered per invocation (``begin``/``end``, used by
``observe``) and printed as EMF lines by ``flush``; outside an invocation every call flushes its own
metrics, so nothing waits for a flush that never comes. Log lines are printed at once, one JSON object per
line, in the library's log schema (``level``, ``message``, ``timestamp``, ``service``, ``correlation_id``).
Calls whose output waits for the user (a stream not yet consumed, an InvokeModel body not yet read) are
kept as pending and finished by ``flush``. Instrumentation failures go through ``error``: counted as
InstrumentationErrors and logged once per place and exception type, without the user's data.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import emf
from . import telemetry as t
from .redaction import redact
from .settings import Settings, load

LOCATION = "llm_observability_runtime"
UNIT_MS = "Milliseconds"
UNIT_COUNT = "Count"
UNIT_NONE = "None"
#: Buffered values after which an invocation's metrics are printed early (bounded memory, EMF line size).
AUTO_FLUSH_VALUES = 1000
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False).encode

#: The user's stage() the code is in (a Bedrock call inside stage("Inference") is timed by the stage only).
current_stage: contextvars.ContextVar[str | None] = contextvars.ContextVar("llmobs_stage", default=None)


def _stdout_write(line: str) -> None:
    sys.stdout.write(line + "\n")


class Pending(Protocol):
    """A call whose output waits for the user (see ``Recorder.defer``)."""

    def finish(self, *, incomplete: bool = False) -> None:
        """Emit what the call has, now."""


@dataclass
class Invocation:
    """One handler invocation (``observe``): its request ids."""

    correlation_id: str | None = None
    function_request_id: str | None = None


class Recorder:
    """Settings, buffered metrics and the current invocation of this process."""

    def __init__(self, settings: Settings, write: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.write = write or _stdout_write
        self.buffer = emf.MetricBuffer()
        self.invocation: Invocation | None = None
        self._pending: dict[int, Pending] = {}
        self._reported: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._service = {t.DIM_SERVICE: settings.service_name}

    # --- metrics -------------------------------------------------------------------------
    def metric(self, name: str, unit: str, value: float, dimension: str | None = None, dim_value: str = "") -> None:
        """Buffer one value of ``name`` with the service dimension and, when given, ``dimension=dim_value``."""
        dims = self._service if dimension is None else {**self._service, dimension: dim_value}
        self.buffer.add(name, unit, value, dims)
        if len(self.buffer) >= AUTO_FLUSH_VALUES:
            self.flush_metrics()

    def metric_with(self, name: str, unit: str, value: float, dimensions: Mapping[str, str]) -> None:
        """Buffer one value of ``name`` with the service dimension and ``dimensions``."""
        self.buffer.add(name, unit, value, {**self._service, **dimensions})
        if len(self.buffer) >= AUTO_FLUSH_VALUES:
            self.flush_metrics()

    def count_outcome(self, error_class: str | None) -> None:
        """RequestSuccess (``error_class`` None), else RequestFailure for a server-side class (not Validation)."""
        if error_class is None:
            self.metric(t.METRIC_REQUEST_SUCCESS, UNIT_COUNT, 1)
        elif error_class in t.FAILURE_ERROR_CLASSES:
            self.metric(t.METRIC_REQUEST_FAILURE, UNIT_COUNT, 1)

    def flush_metrics(self) -> None:
        """Print the buffered metrics as EMF lines."""
        groups = self.buffer.drain()
        if not groups:
            return
        invocation = self.invocation
        metadata = {"request_id": invocation.correlation_id} if invocation and invocation.correlation_id else None
        for line in emf.render(
            self.settings.namespace, groups, timestamp_ms=int(time.time() * 1000), metadata=metadata
        ):
            self.write(line)

    # --- pending calls and invocations -----------------------------------------------------------------
    def defer(self, call: Pending) -> None:
        """Keep ``call`` until it finishes by itself or ``flush`` finishes it."""
        with self._lock:
            self._pending[id(call)] = call

    def settle(self, call: Pending) -> None:
        """``call`` has finished."""
        with self._lock:
            self._pending.pop(id(call), None)

    def flush(self) -> None:
        """Finish pending calls (as incomplete) and print every buffered metric."""
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for call in pending:
            guard(self, "flush.pending", call.finish, incomplete=True)
        self.flush_metrics()

    def begin(self, correlation_id: str | None, function_request_id: str | None) -> Invocation:
        """Start an invocation: metrics are buffered until ``end``."""
        self.invocation = Invocation(correlation_id, function_request_id)
        return self.invocation

    def end(self) -> None:
        """End the invocation: flush, then forget it."""
        try:
            self.flush()
        finally:
            self.invocation = None

    # --- logs ---------------------------------------------------------------------------------
    def ids(self) -> dict[str, str | None]:
        """The request ids of the current invocation, for a log line."""
        invocation = self.invocation
        if invocation is None:
            return {t.LOG_FIELD_REQUEST_ID: None}
        ids: dict[str, str | None] = {t.LOG_FIELD_REQUEST_ID: invocation.correlation_id}
        if invocation.function_request_id and invocation.function_request_id != invocation.correlation_id:
            ids["function_request_id"] = invocation.function_request_id
        return ids

    def log(self, level: str, message: str, fields: Mapping[str, Any], ids: Mapping[str, Any] | None = None) -> None:
        """Print one structured log line."""
        now = time.time()
        record = {
            "level": level,
            "location": LOCATION,
            t.LOG_FIELD_MESSAGE: message,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
            "service": self.settings.service_name,
            **(self.ids() if ids is None else ids),
            **fields,
        }
        self.write(_ENCODE(record))

    def loggable_texts(self, **texts: str | None) -> tuple[dict[str, str], int]:
        """The texts a log line may carry under the prompt-logging mode, and the number of redactions."""
        mode = self.settings.prompt_logging
        present = {key: text for key, text in texts.items() if text is not None}
        if mode == t.PROMPT_LOGGING_NONE:
            return {}, 0
        if mode == t.PROMPT_LOGGING_FULL:
            return present, 0
        redacted: dict[str, str] = {}
        total = 0
        for key, text in present.items():
            redacted[key], found = redact(text)
            total += found
        return redacted, total

    # --- instrumentation errors ------------------------------------------------------------------
    def error(self, where: str, exc: BaseException) -> None:
        """Count an instrumentation failure; log it the first time this place fails with this type."""
        try:
            self.metric(t.METRIC_INSTRUMENTATION_ERRORS, UNIT_COUNT, 1)
            if self.invocation is None:
                self.flush_metrics()
            key = (where, type(exc).__name__)
            if key in self._reported:
                return
            self._reported.add(key)
            frames = traceback.extract_tb(exc.__traceback__)
            origin = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else None
            self.log(
                "WARNING",
                "llm_observability_runtime instrumentation failed; the call itself was not affected",
                {"where": where, "error_type": type(exc).__name__, "origin": origin},
            )
        except Exception:  # noqa: S110 - reporting must not fail the user's call either
            pass

    def report_problems(self) -> None:
        """Log the settings problems (ignored environment variables) once."""
        for problem in self.settings.problems:
            self.log("WARNING", "llm_observability_runtime configuration ignored", {"problem": problem}, ids={})


def guard(rec: Recorder, where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; an exception is reported as an instrumentation error and None returned."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        rec.error(where, exc)
        return None


_current: Recorder | None = None
_current_lock = threading.Lock()


def current() -> Recorder:
    """The process's recorder: the one ``instrument()`` configured, else one from the environment."""
    global _current
    rec = _current
    if rec is None:
        with _current_lock:
            if _current is None:
                _current = Recorder(load())
                _current.report_problems()
            rec = _current
    return rec


def existing() -> Recorder | None:
    """The process's recorder if one was made already."""
    return _current


def replace(rec: Recorder) -> Recorder:
    """Make ``rec`` the process's recorder (its pending calls and metrics carry over from the old one)."""
    global _current
    with _current_lock:
        old, _current = _current, rec
    if old is not None and old is not rec:
        old.flush()
        rec.invocation = old.invocation
    return rec
