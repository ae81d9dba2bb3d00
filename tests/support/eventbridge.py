"""EventBridge emulated for tests: matching an event against a rule's pattern, and the rule's input transformer.

Only what the runbook rules use: exact-value matching (no prefix, numeric or ``anything-but`` filters) and
input transformation of :class:`~llm_observability.automation.EventPath` values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llm_observability.automation import EventPath, InputValue
from tests.support.jsonpath import select


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches ``pattern`` (exact-value matching, what alarm_state_pattern builds)."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        else:
            values = value if isinstance(value, list) else [value]
            if not any(v in wanted for v in values):
                return False
    return True


def transform_input(parameters: Mapping[str, Sequence[InputValue]], event: Mapping[str, Any]) -> dict[str, list[str]]:
    """What EventBridge's input transformer sends for ``event``: every :class:`EventPath` replaced by its value."""
    return {
        name: [select(event, value.path) if isinstance(value, EventPath) else value for value in values]
        for name, values in parameters.items()
    }
