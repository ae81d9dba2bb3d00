"""The EMF writer: examples and properties (hypothesis) of what CloudWatch accepts."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_observability.runtime import emf

DIMS = {"service": "svc", "ModelId": "m"}


def _render(buffer: emf.MetricBuffer, metadata: Any = None) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in emf.render("NS", buffer.drain(), timestamp_ms=1_700_000_000_000, metadata=metadata)
    ]


def test_one_object_per_dimension_set_with_arrays_for_repeated_values() -> None:
    buffer = emf.MetricBuffer()
    buffer.add("InputTokens", "Count", 10, DIMS)
    buffer.add("InputTokens", "Count", 12, DIMS)
    buffer.add("StageLatency", "Milliseconds", 3.5, {"service": "svc", "Stage": "Inference"})
    first, second = _render(buffer, metadata={"request_id": "r-1"})
    assert first == {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "NS",
                    "Dimensions": [["service", "ModelId"]],
                    "Metrics": [{"Name": "InputTokens", "Unit": "Count"}],
                }
            ],
        },
        "service": "svc",
        "ModelId": "m",
        "InputTokens": [10, 12],
        "request_id": "r-1",
    }
    assert second["Stage"] == "Inference" and second["StageLatency"] == 3.5
    assert len(buffer) == 0 and _render(buffer) == []


def test_rule_breakers_are_dropped_and_counted() -> None:
    buffer = emf.MetricBuffer()
    assert not buffer.add("x", "Count", math.nan, DIMS)
    assert not buffer.add("x", "Count", True, DIMS)
    assert not buffer.add("", "Count", 1, DIMS)
    assert not buffer.add("service", "Count", 1, DIMS)  # a metric named like a dimension
    assert not buffer.add("x", "Count", 1, {f"d{i}": "v" for i in range(31)})
    assert not buffer.add("x", "Count", 1, {"service": ""})
    assert not buffer.add("x", "Count", 1, {"service": "v" * 1025})
    assert buffer.add("x", "Furlongs", 1, DIMS)  # an unknown unit becomes None
    assert buffer.dropped == 7

    (blob,) = _render(buffer)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "x", "Unit": "None"}]


def test_rules_are_checked_once_per_metric_and_dimension_set_with_bounded_memory(monkeypatch: Any) -> None:
    monkeypatch.setattr(emf, "MAX_CHECKED", 3)
    buffer = emf.MetricBuffer()
    for _ in range(2):
        assert not buffer.add("service", "Count", 1, DIMS)  # remembered as breaking a rule: dropped again
        assert not buffer.add("x", "Count", math.inf, DIMS)  # a checked key still has its value checked
        assert buffer.add("x", "Count", 1, DIMS)
    assert buffer.dropped == 4 and len(buffer) == 2
    for version in range(10):  # many dimension values: the checked keys never exceed the bound
        assert buffer.add("x", "Count", 1, {"service": "svc", "PromptVersion": f"v{version}"})
        assert len(buffer._checked) <= 3


def test_metadata_never_hides_a_metric_or_dimension_and_non_json_metadata_is_left_out() -> None:
    buffer = emf.MetricBuffer()
    buffer.add("RequestSuccess", "Count", 1, {"service": "svc"})
    (blob,) = _render(buffer, metadata={"service": "other", "RequestSuccess": 9, "_aws": 1, "ok": "yes"})
    assert blob["service"] == "svc" and blob["RequestSuccess"] == 1 and blob["ok"] == "yes"
    buffer.add("RequestSuccess", "Count", 1, {"service": "svc"})
    (blob,) = _render(buffer, metadata={"bad": math.inf})
    assert "bad" not in blob and blob["RequestSuccess"] == 1


# --- properties ------------------------------------------------------------------------------------------------------
names = st.text(min_size=0, max_size=300)
values = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
dimension_sets = st.dictionaries(names, st.text(max_size=1100), max_size=33)
units = st.sampled_from(["Count", "Milliseconds", "None", "Seconds", "Bogus", ""])
additions = st.lists(st.tuples(names, units, values, dimension_sets), max_size=60)
# Few names, so the same metric gets many values and spills over the 100-value and 100-metric limits.
crowded = st.lists(
    st.tuples(st.sampled_from([f"M{i}" for i in range(130)]), st.integers(min_value=0, max_value=1000)),
    min_size=0,
    max_size=700,
)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(additions, st.dictionaries(st.text(max_size=10), st.one_of(st.text(), st.floats(), st.none()), max_size=4))
def test_render_never_raises_and_writes_only_valid_emf(adds: list[Any], metadata: dict[str, Any]) -> None:
    buffer = emf.MetricBuffer()
    accepted = sum(bool(buffer.add(n, u, v, d)) for n, u, v, d in adds)  # type: ignore[arg-type]
    assert accepted + buffer.dropped == len(adds)
    lines = emf.render("NS", buffer.drain(), timestamp_ms=0, metadata=metadata)
    written = 0
    for line in lines:
        assert "\n" not in line
        blob = json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # no NaN/Infinity
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        (dimension_names,) = directive["Dimensions"]
        assert len(directive["Metrics"]) <= emf.MAX_METRICS_PER_OBJECT and len(dimension_names) <= emf.MAX_DIMENSIONS
        for name in dimension_names:
            assert isinstance(blob[name], str) and 0 < len(blob[name]) <= emf.MAX_DIMENSION_VALUE_CHARS
        for metric in directive["Metrics"]:
            assert 0 < len(metric["Name"]) <= emf.MAX_NAME_CHARS and metric["Unit"] in emf.UNITS
            value = blob[metric["Name"]]
            value = value if isinstance(value, list) else [value]
            assert 0 < len(value) <= emf.MAX_VALUES_PER_METRIC
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            written += len(value)
    assert written == accepted  # every accepted value is written exactly once


@settings(max_examples=200, deadline=None, database=None)
@given(crowded)
def test_large_invocations_split_within_the_limits_and_keep_every_value(adds: list[tuple[str, int]]) -> None:
    buffer = emf.MetricBuffer()
    for name, value in adds:
        buffer.add(name, "Count", value, {"service": "svc"})
    blobs = [json.loads(line) for line in emf.render("NS", buffer.drain(), timestamp_ms=0)]
    seen: Counter[tuple[str, int]] = Counter()
    for blob in blobs:
        metrics = blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        assert len(metrics) <= 100
        for metric in metrics:
            written = blob[metric["Name"]]
            written = written if isinstance(written, list) else [written]
            assert len(written) <= 100
            seen.update((metric["Name"], v) for v in written)
    assert seen == Counter(adds)
