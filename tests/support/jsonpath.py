"""The JSONPath subset that Automation output selectors and EventBridge input paths use.

``$.a.b``, ``$.a[0]`` and ``$.a['key with / or *']``; nothing else (no wildcards, filters or slices).
"""

from __future__ import annotations

import re
from typing import Any

_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]")


def _path_parts(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ValueError(f"path {path!r} does not start with $")
    parts: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"path {path!r} is not of the form $.a.b[0]['c']")
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (name if name is not None else quoted))
        position = match.end()
    return parts


def select(document: Any, path: str) -> Any:
    """The value at ``path`` (a JSONPath subset) in ``document``; ``KeyError`` when there is none."""
    value = document
    for part in _path_parts(path):
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{path} selects nothing") from None
    return value
