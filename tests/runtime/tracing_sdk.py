"""The OpenTelemetry SDK for the tracing tests: one tracer provider and one meter provider for the whole session.

``set_tracer_provider`` and ``set_meter_provider`` are global and take effect once per process, so the providers
(an in-memory span exporter behind a SimpleSpanProcessor, an InMemoryMetricReader) are set the first time
``otel_sdk()`` is called and shared by every test after it; the session fixture ``otel`` clears what an earlier
test left. Spans are read back as a tree: ``children(span)``, ``named(prefix)``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class OtelSdk:
    """The session's span exporter and metric reader, with readers for the tests."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def clear(self) -> None:
        """Forget finished spans and collected metrics (the histograms' cumulative state is read as a delta)."""
        self.exporter.clear()
        self._baseline = self._points()

    @property
    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        """Finished spans whose name starts with ``prefix``."""
        return [span for span in self.spans if span.name.startswith(prefix)]

    def one(self, prefix: str) -> ReadableSpan:
        """The single finished span whose name starts with ``prefix``."""
        found = self.named(prefix)
        assert len(found) == 1, f"expected one span {prefix!r}, got {[s.name for s in self.spans]}"
        return found[0]

    def stage(self, name: str) -> ReadableSpan:
        """The last finished span of ``stage(name)``."""
        found = self.named(f"stage {name}")
        assert found, f"no span of stage {name!r} among {[s.name for s in self.spans]}"
        return found[-1]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        """The finished spans whose parent is ``parent``, by start time."""
        span_id = parent.context.span_id
        found = [s for s in self.spans if s.parent is not None and s.parent.span_id == span_id]
        return sorted(found, key=lambda s: s.start_time or 0)

    def _points(self) -> dict[tuple[str, frozenset[tuple[str, Any]]], tuple[int, float]]:
        data = self.reader.get_metrics_data()
        points: dict[tuple[str, frozenset[tuple[str, Any]]], tuple[int, float]] = {}
        for resource_metrics in data.resource_metrics if data is not None else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        key = (f"{scope_metrics.scope.name}|{metric.name}", frozenset(point.attributes.items()))
                        points[key] = (point.count, point.sum)
        return points

    def histograms(self, scope: str, name: str) -> list[tuple[dict[str, Any], int, float]]:
        """(attributes, count, sum) of each data point of histogram ``name`` of ``scope`` since ``clear``."""
        baseline = getattr(self, "_baseline", {})
        found = []
        for (key, attributes), (count, total) in self._points().items():
            if key != f"{scope}|{name}":
                continue
            before_count, before_sum = baseline.get((key, attributes), (0, 0.0))
            if count > before_count:
                found.append((dict(attributes), count - before_count, total - before_sum))
        return found


@functools.cache
def otel_sdk() -> OtelSdk:
    """Set the process's tracer and meter providers (once) and return their exporter and reader."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    assert trace.get_tracer_provider() is provider, "another tracer provider was set before the tracing tests"
    return OtelSdk(exporter, reader)


@pytest.fixture(scope="session")
def otel_session() -> OtelSdk:
    """The session's OpenTelemetry SDK (set once)."""
    return otel_sdk()


@pytest.fixture
def otel(otel_session: OtelSdk) -> Iterator[OtelSdk]:
    """The session's OpenTelemetry SDK, without the spans and metric points of earlier tests."""
    otel_session.clear()
    yield otel_session
    otel_session.clear()
