"""The daily samples of the output-drift function: seeded per (model, signal, day), stored as JSON in S3.

A day's object ``samples/<service>/<date>.json`` holds, per model and signal, the number of values the day had and a
seeded sample of at most ``SAMPLE_SIZE`` of them: numbers only, never text. Standard library only.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import drift_telemetry as telemetry
import stats

Key = tuple[str, str]  # (model id, signal)
_MAX_LABEL_CHARS = 256
_SAMPLE_VERSION = 1


def is_label(value: Any) -> bool:
    """A usable dimension value: a non-empty string of at most 256 printable characters."""
    return isinstance(value, str) and 0 < len(value.strip()) <= _MAX_LABEL_CHARS and value.isprintable()


def finite(value: Any, lo: float, hi: float) -> float | None:
    """``value`` as a float when it is a number (not a bool) in [lo, hi], else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and lo <= number <= hi else None


def sample_key(service: str, day: date) -> str:
    return telemetry.SAMPLE_KEY.format(service=service, date=day.isoformat())


def day_samples(service: str, day: date, values: Mapping[Key, Sequence[float]]) -> dict[Key, list[float]]:
    """The seeded sample of at most ``SAMPLE_SIZE`` values of each (model, signal) of the day."""
    return {
        (model, signal): stats.seeded_sample(
            vals, telemetry.SAMPLE_SIZE, f"{service}|{model}|{signal}|{day.isoformat()}"
        )
        for (model, signal), vals in values.items()
        if vals
    }


def sample_document(
    service: str, day: date, samples: Mapping[Key, Sequence[float]], counts: Mapping[Key, int]
) -> dict[str, Any]:
    models: dict[str, dict[str, Any]] = defaultdict(dict)
    for (model, signal), values in sorted(samples.items()):
        models[model][signal] = {"count": counts.get((model, signal), len(values)), "values": list(values)}
    return {"version": _SAMPLE_VERSION, "service": service, "date": day.isoformat(), "models": dict(models)}


def parse_sample_document(text: bytes | str) -> dict[Key, list[float]]:
    """The samples of a stored day; ValueError when the object is not one this function wrote."""
    document = json.loads(text)
    if not isinstance(document, dict) or document.get("version") != _SAMPLE_VERSION:
        raise ValueError("not a version-1 sample document")
    models = document.get("models")
    if not isinstance(models, dict):
        raise ValueError("no models object")
    samples: dict[Key, list[float]] = {}
    for model, signals in models.items():
        if not is_label(model) or not isinstance(signals, dict):
            raise ValueError("a model entry is malformed")
        for signal, entry in signals.items():
            values = entry.get("values") if isinstance(entry, dict) else None
            if signal not in telemetry.SIGNALS or not isinstance(values, list):
                raise ValueError("a signal entry is malformed")
            numbers = [finite(v, -math.inf, math.inf) for v in values]
            if any(n is None for n in numbers):
                raise ValueError("a value is not a finite number")
            samples[(model, signal)] = [n for n in numbers if n is not None]
    return samples
