"""Reading CloudFormation values before deployment: intrinsic functions, ``Fn::If`` branches, text.

- :func:`render` turns a value into text with ``${...}`` placeholders for what cannot be resolved
  (``Fn::Join`` of ARN pieces becomes ``arn:${AWS::Partition}:ssm:...:opsitem:2``);
- :func:`alternatives` expands ``Fn::If`` into the values a property may take, so a rule can ask
  whether something holds *in every case* (:func:`surely`, the conservative reading of an unresolved
  template) or in at least one (:func:`possibly`);
- :func:`literal` is the text a value surely is, :func:`strings` every string inside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any


class _Unset:
    """``AWS::NoValue``: the property is absent in that branch."""

    def __repr__(self) -> str:
        return "NoValue"


NO_VALUE = _Unset()


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """``(name, argument)`` when ``value`` is one intrinsic function call such as ``{"Ref": "X"}``."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if isinstance(key, str) and (key == "Ref" or key.startswith("Fn::") or key == "Condition"):
            return key, argument
    return None


def is_no_value(value: Any) -> bool:
    return value is NO_VALUE or value is None or value == {"Ref": "AWS::NoValue"}


def render(value: Any) -> str:
    """Text of a value with ``${...}`` placeholders for what a template cannot tell before deployment."""
    call = intrinsic(value)
    if call is None:
        text = literal(value)
        if text is not None:
            return text
        if isinstance(value, list):
            return ",".join(render(v) for v in value)
        if isinstance(value, dict):
            return json.dumps({k: render(v) for k, v in value.items()})
        return ""
    name, argument = call
    if name == "Ref":
        return f"${{{argument}}}" if isinstance(argument, str) else "${?}"
    if name == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else argument
        if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
            return "${" + ".".join(parts) + "}"
        return "${?}"
    if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        delimiter = argument[0] if isinstance(argument[0], str) else ""
        return delimiter.join(render(v) for v in argument[1])
    if name == "Fn::Sub":
        template = argument[0] if isinstance(argument, list) and argument else argument
        return template if isinstance(template, str) else "${?}"
    if name == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        return f"${{If:{render(argument[1])}|{render(argument[2])}}}"
    if name == "Fn::ImportValue":
        return f"${{Import:{render(argument)}}}"
    return f"${{{name}}}"


def strings(value: Any) -> Iterator[str]:
    """Every string inside a value (keys included), intrinsic arguments too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def alternatives(value: Any, *path: str | int) -> list[Any]:
    """The values found at ``path`` inside ``value`` in each ``Fn::If`` branch (``NO_VALUE`` where absent).

    ``alternatives(props, "TracingConfig", "Mode")`` of
    ``{"TracingConfig": {"Fn::If": ["Prod", {"Mode": "Active"}, {"Ref": "AWS::NoValue"}]}}`` is
    ``["Active", NO_VALUE]``: the rule can then require *every* alternative to be acceptable.
    """
    results: list[Any] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack and len(results) < 64:
        current, rest = stack.pop()
        call = intrinsic(current)
        if call is not None and call[0] == "Fn::If" and isinstance(call[1], list) and len(call[1]) == 3:
            stack.append((call[1][2], rest))
            stack.append((call[1][1], rest))
            continue
        if is_no_value(current):
            results.append(NO_VALUE)
            continue
        if not rest:
            results.append(current)
            continue
        key, remaining = rest[0], rest[1:]
        if (isinstance(key, int) and isinstance(current, list) and -len(current) <= key < len(current)) or (
            isinstance(key, str) and isinstance(current, dict) and call is None and key in current
        ):
            stack.append((current[key], remaining))
        elif call is not None:
            results.append(current)  # an unresolved intrinsic stands where a mapping was expected
        else:
            results.append(NO_VALUE)
    return results


def surely(value: Any, *path: str | int, test: Callable[[Any], bool]) -> bool:
    """True when ``test`` holds for every alternative value at ``path`` (see :func:`alternatives`)."""
    options = alternatives(value, *path)
    return bool(options) and all(test(option) for option in options)


def possibly(value: Any, *path: str | int, test: Callable[[Any], bool]) -> bool:
    """True when ``test`` holds for at least one alternative value at ``path``."""
    return any(test(option) for option in alternatives(value, *path))


def is_set(option: Any) -> bool:
    return not is_no_value(option) and option != "" and option != []


def as_bool(option: Any) -> bool:
    return option is True or (isinstance(option, str) and option.lower() == "true")


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else empty: a property that should be a list but is an intrinsic (known
    only at deploy time) or malformed has no elements the rules can read."""
    return value if isinstance(value, list) else []


def as_mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else empty (see :func:`as_list`)."""
    return value if isinstance(value, dict) else {}


def literal(option: Any) -> str | None:
    """The string (or number as string) a value surely is, else None."""
    if isinstance(option, str):
        return option
    if isinstance(option, bool):
        return "true" if option else "false"
    if isinstance(option, int | float):
        return str(option)
    return None
