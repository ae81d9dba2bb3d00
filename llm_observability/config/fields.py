"""How a setting is declared: ``setting(default, rule, doc)`` on a dataclass field, its JSON shape, its checks.

A setting is declared once, as a field of :class:`~llm_observability.config.settings.ObservabilityConfig`:
name and type (the annotation), default, rule (bound or choices) and doc (the field's metadata). Everything
else is derived from that declaration: the type and value checks, the conversion of ``-c`` strings, the
defaults ``cdk.json`` must hold and the rows of the generated configuration reference.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, get_args, get_origin, get_type_hints

from llm_observability.validation import Rule, fail

#: The concerns settings are grouped by: the app as a whole, then what each level adds.
Concern = Literal["app", "level1", "level2", "level3", "organization"]
#: The JSON shape of a setting's value in cdk.json.
Shape = Literal["int", "float", "bool", "str", "list", "object"]

_SPEC = "llm_observability.setting"
_SHAPE_NAMES: Mapping[Shape, str] = {
    "int": "integer", "float": "number", "bool": "boolean", "str": "string", "list": "list", "object": "object",
}  # fmt: skip
_SHAPE_ALLOWED: Mapping[Shape, str] = {
    "int": "a whole number", "float": "a number", "bool": "true or false", "str": "a string",
    "list": "a JSON list", "object": "a JSON object",
}  # fmt: skip


@dataclass(frozen=True)
class Custom:
    """A rule with its own check (``check(setting, value)`` returns the accepted, normalised value)."""

    allowed: str
    run: Callable[[str, Any], Any]

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        return self.run(setting, value)


@dataclass(frozen=True)
class SettingSpec:
    """What a setting's field metadata holds besides its name, type and default."""

    concern: Concern
    doc: str
    rule: Rule | None = None


def setting(concern: Concern, default: Any, rule: Rule | None, doc: str) -> Any:
    """A dataclass field for one setting. Mutable defaults (dicts) become a factory."""
    metadata = {_SPEC: SettingSpec(concern=concern, doc=doc, rule=rule)}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Declared(NamedTuple):
    """One declared setting: its field, JSON shape and spec."""

    name: str
    shape: Shape
    spec: SettingSpec
    field: dataclasses.Field[Any]


_DECLARED: dict[type, tuple[Declared, ...]] = {}


def declared(cls: type) -> tuple[Declared, ...]:
    """The settings of the dataclass ``cls``, in declaration order (worked out once per class)."""
    if cls not in _DECLARED:
        hints = get_type_hints(cls)
        _DECLARED[cls] = tuple(
            Declared(f.name, shape_of(hints[f.name]), f.metadata[_SPEC], f) for f in dataclasses.fields(cls)
        )
    return _DECLARED[cls]


def shape_of(kind: Any) -> Shape:
    """The JSON shape of values of the annotation ``kind`` (``Literal`` types by their values)."""
    origin = get_origin(kind)
    if origin is Literal:
        return "int" if all(isinstance(a, int) and not isinstance(a, bool) for a in get_args(kind)) else "str"
    if origin is tuple:
        return "list"
    if origin is not None and issubclass(origin, Mapping):
        return "object"
    if kind in (int, float, bool, str):
        return kind.__name__  # type: ignore[no-any-return]
    raise TypeError(f"settings of type {kind!r} are not supported")


def check_type(name: str, shape: Shape, value: Any) -> None:
    """Raise a one-sentence :class:`ConfigError` unless ``value`` has the JSON ``shape``."""
    types: dict[Shape, type | tuple[type, ...]] = {
        "int": int, "float": (int, float), "bool": bool, "str": str, "list": (tuple, list), "object": Mapping,
    }  # fmt: skip
    expected = types[shape]
    if not isinstance(value, expected) or (shape in ("int", "float") and isinstance(value, bool)):
        raise fail(name, value, _SHAPE_ALLOWED[shape])


def context_value(value: Any) -> Any:
    """A setting's value as cdk.json holds it: tuples as lists, mappings as objects."""
    if isinstance(value, tuple):
        return [context_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: context_value(v) for k, v in value.items()}
    return value


def context_defaults(cls: type) -> dict[str, Any]:
    """Every setting's default as cdk.json holds it, keyed by setting name."""
    defaults = {}
    for item in declared(cls):
        f = item.field
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        defaults[item.name] = context_value(default)
    return defaults


class ReferenceRow(NamedTuple):
    """One row of the configuration reference."""

    key: str
    type: str  #: JSON type: integer, number, boolean, string, list or object
    default: str  #: the default as JSON text, as in cdk.json
    allowed: str  #: what values are accepted (from the setting's rule)
    doc: str
    concern: Concern


def reference_rows(cls: type) -> tuple[ReferenceRow, ...]:
    """The configuration reference of the settings dataclass ``cls``, one row per setting."""
    defaults = context_defaults(cls)
    return tuple(
        ReferenceRow(
            key=item.name,
            type=_SHAPE_NAMES[item.shape],
            default=json.dumps(defaults[item.name]),
            allowed=item.spec.rule.allowed if item.spec.rule is not None else _SHAPE_ALLOWED[item.shape],
            doc=item.spec.doc,
            concern=item.spec.concern,
        )
        for item in declared(cls)
    )
