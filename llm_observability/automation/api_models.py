"""Checks of a step's ``Service``/``Api`` request against botocore's service models (the API exists, inputs type-check).

botocore is imported on first use only: without it (a deploy without boto3) the validator skips these checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from llm_observability.automation.reference_syntax import REFERENCE, is_reference


def type_name(value: Any) -> str:
    """The JSON type of ``value`` as a message names it (``a list``, ``an integer``)."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


@cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def operation_model(service: str, api: str) -> Any:
    """botocore's operation model, or a one-sentence reason it does not exist."""
    session = _botocore_session()
    if service not in session.get_available_services():
        return f"unknown service {service!r} (use a boto3 service name such as ssm, sns, apigateway, bedrock-agent)"
    model = session.get_service_model(service)
    if api not in model.operation_names:
        from botocore import xform_name

        meant = next((name for name in model.operation_names if xform_name(name) == api), None)
        hint = (
            f"the operation name is {meant}" if meant else "use an operation name such as " + model.operation_names[0]
        )
        return f"{service} has no API {api!r} ({hint})"
    return model.operation_model(api)


def check_request(where: str, service: Any, api: Any, request: Mapping[str, Any]) -> list[str]:
    """Problems of calling ``service`` ``api`` with ``request`` (inputs without ``Service`` and ``Api``)."""
    if is_reference(service) or is_reference(api):
        return []
    operation = operation_model(str(service), str(api))
    if isinstance(operation, str):
        return [f"{where}: {operation}"]
    shape = operation.input_shape
    label = f"{where}: {service} {api}"
    if shape is None:
        return [f"{label} has no input {key!r}" for key in request]
    return _check_members(label, request, shape, request=True)


def _check_members(where: str, value: Mapping[str, Any], shape: Any, *, request: bool) -> list[str]:
    """``value`` against structure ``shape``: unknown and missing required members, then each member's value."""
    noun = "input" if request else "member"
    problems = [f"{where} has no {noun} {key!r}" for key in value if key not in shape.members]
    problems.extend(f"{where} lacks required {noun} {key!r}" for key in shape.required_members if key not in value)
    for key, item in value.items():
        if key in shape.members:
            inner = f"{where} input {key!r}" if request else f"{where}.{key}"
            problems.extend(_check_value(inner, item, shape.members[key]))
    return problems


_SHAPE_TYPES: Mapping[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "a string"), "timestamp": ((str,), "a string"), "blob": ((str,), "a string"),
    "boolean": ((bool,), "a boolean"), "integer": ((int,), "an integer"), "long": ((int,), "an integer"),
    "float": ((int, float), "a number"), "double": ((int, float), "a number"), "list": ((list,), "a list"),
    "structure": ((dict,), "an object"), "map": ((dict,), "an object"),
}  # fmt: skip
_NUMBERS = frozenset({"integer", "long", "float", "double"})


def _check_value(where: str, value: Any, shape: Any) -> list[str]:
    if is_reference(value):
        return []
    kind = shape.type_name
    expected, label = _SHAPE_TYPES.get(kind, ((object,), kind))
    if not isinstance(value, expected) or (kind in _NUMBERS and isinstance(value, bool)):
        return [f"{where} must be {label}, not {type_name(value)}"]
    if kind == "string" and shape.enum and not REFERENCE.search(value) and value not in shape.enum:
        return [f"{where} is {value!r}: allowed are {', '.join(shape.enum)}"]
    if kind == "list":
        return [p for i, item in enumerate(value) for p in _check_value(f"{where}[{i}]", item, shape.member)]
    if kind == "map":
        return [p for k, item in value.items() for p in _check_value(f"{where}[{k!r}]", item, shape.value)]
    if kind == "structure":
        return _check_members(where, value, shape, request=False)
    return []
