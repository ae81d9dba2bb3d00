"""Reading settings from CDK context: misspelled keys, and ``-c key=value`` strings converted to the setting's type."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from llm_observability.config.fields import Shape
from llm_observability.errors import ConfigError

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def settings_in_context(context: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """The values of the ``known`` settings that ``context`` sets (not null), after rejecting misspelled keys.

    Keys of CDK itself and of feature flags (``@aws-cdk/...``, ``aws:cdk:...``) and keys that resemble no
    setting are left alone: an app may keep context of its own beside ours.
    """
    reject_unknown_keys(context, known)
    return {k: context[k] for k in known if context.get(k) is not None}


def reject_unknown_keys(values: Mapping[str, Any], known: Sequence[str], *, strict: bool = False) -> None:
    """Raise for a key that looks like a misspelled setting (with ``strict``: for any key not in ``known``)."""
    for key in values:
        if key in known:
            continue
        if not strict and (key.startswith("@") or ":" in key or "/" in key):
            continue  # feature flags and CDK's own context keys
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            raise ConfigError(f"Unknown setting '{key}': did you mean '{close[0]}'?")
        if strict:
            raise ConfigError(f"Unknown setting '{key}': allowed settings are {', '.join(known)}.")


def coerce(name: str, shape: Shape, raw: Any) -> Any:
    """Convert a raw context value (JSON from cdk.json, or a string from ``-c``) to the setting's ``shape``.

    Values that cannot be converted are returned as they are, for the type check to reject. JSON lists stay
    lists (so messages show them as given); the setting's rule makes them tuples.
    """
    if isinstance(raw, str) and shape != "str":
        return _from_string(name, shape, raw)
    if shape == "int" and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if shape == "float" and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return raw


def _from_string(name: str, shape: Shape, raw: str) -> Any:
    text = raw.strip()
    if shape == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ConfigError(f"Setting '{name}' is {raw!r}: allowed are true or false.")
    if shape in ("int", "float"):
        try:
            return int(text) if shape == "int" else float(text)
        except ValueError:
            wanted = "a whole number" if shape == "int" else "a number"
            raise ConfigError(f"Setting '{name}' is {raw!r}: allowed is {wanted}.") from None
    if shape == "list" and not text.startswith("["):
        # ``-c vpc_subnet_ids=subnet-a,subnet-b``: a comma-separated list of strings (the setting's rule checks them).
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise ConfigError(
                f"Setting '{name}' is {raw!r}: allowed is a JSON list or comma-separated values without empty items."
            )
        return items
    wanted = "list" if shape == "list" else "object"
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"Setting '{name}' is not valid JSON: allowed is a JSON {wanted}.") from None
    return value
