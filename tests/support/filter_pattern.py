"""A CloudWatch Logs JSON filter-pattern matcher for the tests: ``matches(pattern, log_line)``.

It implements the part of the filter-pattern syntax the library writes: ``{ expression }`` where an
expression is a comparison ``$.a.b <op> value`` (``=``/``!=`` against a double-quoted string in which ``*`` is a
wildcard, or ``=``/``!=``/``<``/``<=``/``>``/``>=`` against a number), combined with ``&&`` and ``||``
(``&&`` binds tighter) and parentheses, as the CloudWatch Logs documentation describes. A selector that is
missing from the event, or of another type than the value, does not match. Anything else is a ValueError,
so a pattern the library starts writing in a new form fails the test instead of passing it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<and>&&)|(?P<or>\|\|)"
    r"|(?P<selector>\$(?:\.[A-Za-z0-9_-]+)+)\s*(?P<op>!=|>=|<=|=|>|<)\s*"
    r'(?:"(?P<string>(?:[^"\\]|\\.)*)"|(?P<number>-?\d+(?:\.\d+)?)))'
)


def _tokens(body: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    body = body.rstrip()
    while position < len(body):
        found = _TOKEN.match(body, position)
        if found is None:
            raise ValueError(f"unsupported filter pattern syntax at {body[position:position + 30]!r}")
        kind = found.lastgroup if found.group("selector") is None else "cmp"
        if kind == "cmp":
            value: Any = (
                json.loads(f'"{found.group("string")}"') if found.group("string") is not None
                else float(found.group("number"))
            )  # fmt: skip
            tokens.append(("cmp", (found.group("selector")[2:].split("."), found.group("op"), value)))
        else:
            tokens.append((kind or "", None))
        position = found.end()
    return tokens


def _compare(event: Any, path: list[str], op: str, value: Any) -> bool:
    for part in path:
        if not isinstance(event, dict) or part not in event:
            return False
        event = event[part]
    if isinstance(value, str):
        if not isinstance(event, str) or op not in ("=", "!="):
            return False
        hit = fnmatch.fnmatchcase(event, value.replace("[", "[[]"))
        return hit if op == "=" else not hit
    if isinstance(event, bool) or not isinstance(event, (int, float)):
        return False
    return {
        "=": event == value, "!=": event != value, ">": event > value, "<": event < value,
        ">=": event >= value, "<=": event <= value,
    }[op]  # fmt: skip


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], event: Any) -> None:
        self.tokens, self.event, self.at = tokens, event, 0

    def peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def take(self, kind: str) -> Any:
        if self.peek() != kind:
            raise ValueError(f"expected {kind} in the filter pattern, found {self.peek()}")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def disjunction(self) -> bool:
        result = self.conjunction()
        while self.peek() == "or":
            self.take("or")
            result = self.conjunction() or result
        return result

    def conjunction(self) -> bool:
        result = self.operand()
        while self.peek() == "and":
            self.take("and")
            result = self.operand() and result
        return result

    def operand(self) -> bool:
        if self.peek() == "open":
            self.take("open")
            result = self.disjunction()
            self.take("close")
            return result
        path, op, value = self.take("cmp")
        return _compare(self.event, path, op, value)


def matches(pattern: str, line: str | dict[str, Any]) -> bool:
    """Whether CloudWatch Logs would count ``line`` (a JSON log line or its parsed object) for ``pattern``."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    event = json.loads(line) if isinstance(line, str) else line
    parser = _Parser(_tokens(text[1:-1]), event)
    result = parser.disjunction()
    if parser.peek() is not None:
        raise ValueError(f"unexpected {parser.peek()} in the filter pattern {pattern!r}")
    return result
