"""CloudWatch embedded metric format (EMF): a per-invocation metric buffer and its JSON lines.

``MetricBuffer.add`` keeps each value under its dimension set (for example {service, ModelId}); ``render``
turns what was buffered into EMF objects, one JSON line each, as the EMF specification allows them: one
dimension set per object, at most 100 metric definitions per object, at most 100 values per metric (more
values of a metric go to the next object), at most 30 dimensions, names of 1-255 characters, dimension
values of 1-1024 characters, finite numbers only, and units from the CloudWatch list. Whatever breaks a
rule is dropped and counted (``dropped``) rather than written: a line CloudWatch rejects would lose the
whole object. Nothing here raises on bad input, and the buffer is thread-safe.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any

MAX_METRICS_PER_OBJECT = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSIONS = 30
MAX_NAME_CHARS = 255
MAX_DIMENSION_VALUE_CHARS = 1024
UNIT_NONE = "None"
UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
        "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
        "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
        "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", UNIT_NONE,
    }
)  # fmt: skip
_RESERVED_KEY = "_aws"
#: Checked (metric name, dimension set) pairs kept, so a metric's rules are checked once, not per value.
MAX_CHECKED = 4096
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str).encode
_ENCODE_STRICT = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode

DimensionSet = tuple[tuple[str, str], ...]


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS and name != _RESERVED_KEY


def _valid_key(name: str, dims: DimensionSet) -> bool:
    """A metric name and dimension set EMF accepts (the name not among the dimensions)."""
    return (
        _valid_name(name)
        and len(dims) <= MAX_DIMENSIONS
        and all(
            _valid_name(key) and isinstance(val, str) and 0 < len(val) <= MAX_DIMENSION_VALUE_CHARS for key, val in dims
        )
        and all(key != name for key, _ in dims)
    )


def _valid_value(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 2**53  # JSON numbers CloudWatch reads exactly
    )


class _Metric:
    __slots__ = ("unit", "values")

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.values: list[float] = []


class MetricBuffer:
    """Metric values by dimension set, kept until :meth:`drain`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[DimensionSet, dict[str, _Metric]] = {}
        self._checked: dict[tuple[str, DimensionSet], bool] = {}
        self._count = 0
        self.dropped = 0

    def __len__(self) -> int:
        """The number of values buffered."""
        return self._count

    def add(self, name: str, unit: str, value: float, dimensions: Mapping[str, str]) -> bool:
        """Buffer one ``value`` of metric ``name`` under ``dimensions``; False (and counted) when it breaks a rule.

        An unknown ``unit`` becomes ``None``; a metric keeps the unit it was first added with.
        """
        try:
            dims = tuple(dimensions.items())
            checked = self._checked
            key = (name, dims)
            valid = checked.get(key)
            if valid is None:
                if len(checked) >= MAX_CHECKED:  # many distinct dimension values: keep memory bounded
                    checked.clear()
                valid = checked[key] = _valid_key(name, dims)
            if not (valid and _valid_value(value)):
                self.dropped += 1
                return False
            with self._lock:
                metrics = self._groups.setdefault(dims, {})
                metric = metrics.get(name)
                if metric is None:
                    metric = metrics[name] = _Metric(unit if unit in UNITS else UNIT_NONE)
                metric.values.append(value)
                self._count += 1
            return True
        except Exception:  # unhashable or odd input: never the caller's problem
            self.dropped += 1
            return False

    def drain(self) -> dict[DimensionSet, dict[str, _Metric]]:
        """Everything buffered, removed from the buffer."""
        with self._lock:
            groups, self._groups, self._count = self._groups, {}, 0
        return groups

    def clear(self) -> None:
        """Drop everything buffered."""
        self.drain()


def _pages(metrics: dict[str, _Metric]) -> Iterator[list[tuple[str, str, list[float]]]]:
    """The metrics of one dimension set in slices the EMF limits allow."""
    pending = [(name, m.unit, m.values) for name, m in metrics.items() if m.values]
    if len(pending) <= MAX_METRICS_PER_OBJECT and all(len(v) <= MAX_VALUES_PER_METRIC for _, _, v in pending):
        if pending:  # the usual case: one object
            yield pending
        return
    while pending:
        page = [(name, unit, values[:MAX_VALUES_PER_METRIC]) for name, unit, values in pending]
        pending = [(n, u, v[MAX_VALUES_PER_METRIC:]) for n, u, v in pending if len(v) > MAX_VALUES_PER_METRIC]
        for start in range(0, len(page), MAX_METRICS_PER_OBJECT):
            yield page[start : start + MAX_METRICS_PER_OBJECT]


def render(
    namespace: str,
    groups: Mapping[DimensionSet, dict[str, _Metric]],
    *,
    timestamp_ms: int,
    metadata: Mapping[str, Any] | None = None,
) -> list[str]:
    """The EMF JSON lines of ``groups`` (from :meth:`MetricBuffer.drain`) in ``namespace``.

    ``metadata`` adds properties to every object (for example the request id) unless a dimension or metric
    of the object has the same name; values that are not JSON are written as strings.
    """
    lines: list[str] = []
    for dims, metrics in groups.items():
        dimension_names = [key for key, _ in dims]
        for page in _pages(metrics):
            taken = {_RESERVED_KEY, *dimension_names, *(name for name, _, _ in page)}
            body: dict[str, Any] = {
                _RESERVED_KEY: {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [dimension_names],
                            "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in page],
                        }
                    ],
                }
            }
            body.update(dims)
            for name, _, values in page:
                body[name] = values[0] if len(values) == 1 else values
            extra = {k: v for k, v in (metadata or {}).items() if isinstance(k, str) and k not in taken}
            try:
                line = _ENCODE({**body, **extra} if extra else body)
            except (TypeError, ValueError, RecursionError):  # metadata that is no JSON: the metrics still go out
                line = _ENCODE_STRICT(body)
            lines.append(line)
    return lines
