"""The ``{{ name }}`` references of Automation documents: their syntax, and finding them in a value."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: One ``{{ name }}`` reference: a parameter, a system variable or a ``Step.Output``; group 1 is the name.
REFERENCE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def references(value: Any) -> Iterator[str]:
    """Every ``{{ name }}`` referenced anywhere inside ``value`` (strings, lists and dicts)."""
    if isinstance(value, str):
        yield from REFERENCE.findall(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def is_reference(value: Any) -> bool:
    """Whether ``value`` is one reference and nothing else (Automation substitutes it whatever the type)."""
    return isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is not None
