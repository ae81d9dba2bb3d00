"""SSM Automation simulated for tests: :func:`simulate` runs a document step by step against fake AWS clients.

A small, honest subset of Automation (see :func:`simulate` for what it supports); API requests are validated
against botocore's service models before the fake client is called, as Automation's own call would be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_observability.automation.api_models import operation_model
from llm_observability.automation.reference_syntax import REFERENCE
from llm_observability.automation.validator import BRANCH_OPERATORS
from tests.support.jsonpath import select


class SimulationError(Exception):
    """The automation could not start (bad parameters) or uses something the simulator does not support."""


class StepFailed(Exception):
    """A step failed; the message is what Automation would show for it."""


def run_python_script(script: str, handler: str, payload: Mapping[str, Any]) -> Any:
    """Run an ``aws:executeScript`` Python script in-process: ``handler(InputPayload, None)``."""
    namespace: dict[str, Any] = {"__name__": "automation_script"}
    exec(compile(script, "<aws:executeScript>", "exec"), namespace)  # noqa: S102 - our own runbook's script
    return namespace[handler](dict(payload), None)


@dataclass
class Execution:
    """The outcome of :func:`simulate`."""

    status: str  # "Success" or "Failed"
    steps: list[str] = field(default_factory=list)  # executed step names, in order
    outputs: dict[str, Any] = field(default_factory=dict)  # "Step.Output" -> value
    failures: dict[str, str] = field(default_factory=dict)  # step -> failure message


#: System and automation variables the simulator substitutes unless ``system`` overrides them.
DEFAULT_SYSTEM_VARIABLES: Mapping[str, str] = {
    "global:ACCOUNT_ID": "123456789012",
    "global:REGION": "us-east-1",
    "global:AWS_PARTITION": "aws",
    "global:DATE": "2025-01-01",
    "global:DATE_TIME": "2025-01-01_00.00.00",
    "automation:EXECUTION_ID": "00000000-0000-4000-8000-000000000000",
}


def _start_parameters(doc: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as StartAutomationExecution checks them (list values of one String are unwrapped)."""
    specs = doc.get("parameters", {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise SimulationError(f"unknown parameters {unknown}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise SimulationError(f"parameter {name!r} is required")
        if spec.get("type") == "String" and isinstance(value, list):
            if len(value) != 1:
                raise SimulationError(f"parameter {name!r} is a String: give one value, not {len(value)}")
            value = value[0]
        if "allowedValues" in spec and value not in spec["allowedValues"]:
            raise SimulationError(f"parameter {name!r} is {value!r}: allowed are {spec['allowedValues']}")
        if "allowedPattern" in spec and not re.search(spec["allowedPattern"], str(value)):
            raise SimulationError(f"parameter {name!r} is {value!r}: it does not match {spec['allowedPattern']}")
        values[name] = value
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _interpolate(value: Any, lookup: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value.strip())
        if whole:
            return lookup(whole.group(1))  # keeps the referenced value's type
        return REFERENCE.sub(lambda match: _text(lookup(match.group(1))), value)
    if isinstance(value, Mapping):
        return {key: _interpolate(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, lookup) for item in value]
    return value


def _convert(value: Any, kind: str) -> Any:
    if kind == "String":
        return _text(value)
    if kind == "Integer":
        return int(value)
    if kind == "Boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "StringList":
        return [_text(item) for item in value]
    return value


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    text = _text(actual)
    if operator == "StringEquals":
        return text == expected
    if operator == "EqualsIgnoreCase":
        return text.lower() == str(expected).lower()
    if operator == "StartsWith":
        return text.startswith(expected)
    if operator == "EndsWith":
        return text.endswith(expected)
    if operator == "Contains":
        return str(expected) in text
    if operator == "BooleanEquals":
        return text.lower() == str(expected).lower()
    number, limit = float(text), float(expected)
    return {
        "NumericEquals": number == limit, "NumericGreater": number > limit, "NumericLesser": number < limit,
        "NumericGreaterOrEquals": number >= limit, "NumericLesserOrEquals": number <= limit,
    }[operator]  # fmt: skip


def _holds(condition: Mapping[str, Any], lookup: Callable[[str], Any]) -> bool:
    if "And" in condition:
        return all(_holds(part, lookup) for part in condition["And"])
    if "Or" in condition:
        return any(_holds(part, lookup) for part in condition["Or"])
    if "Not" in condition:
        return not _holds(condition["Not"][0], lookup)
    (operator,) = [key for key in condition if key in BRANCH_OPERATORS]
    return _compare(operator, _interpolate(condition["Variable"], lookup), condition[operator])


def _call(clients: Mapping[str, Any], service: str, api: str, request: Mapping[str, Any], validate: bool) -> Any:
    if validate:
        from botocore.validate import ParamValidator

        operation = operation_model(service, api)
        if isinstance(operation, str):
            raise StepFailed(operation)
        report = ParamValidator().validate(dict(request), operation.input_shape)
        if report.has_errors():
            raise StepFailed(f"{service} {api} request is invalid: {report.generate_report()}")
    if service not in clients:
        raise SimulationError(f"no fake client for {service!r}")
    from botocore import xform_name

    try:
        return getattr(clients[service], xform_name(api))(**request)
    except Exception as error:  # noqa: BLE001 - any failure of the call fails the step, as in Automation
        raise StepFailed(f"{service} {api} failed: {error}") from None


def simulate(
    doc: Mapping[str, Any],
    parameters: Mapping[str, Any],
    clients: Mapping[str, Any],
    *,
    script_runner: Callable[[str, str, Mapping[str, Any]], Any] = run_python_script,
    system: Mapping[str, str] | None = None,
    validate_requests: bool = True,
) -> Execution:
    """Run an Automation document locally, step by step, as Automation would (a small, honest subset).

    Supported: parameter checks at start (required, allowedValues, allowedPattern, one-element lists for
    String parameters, as EventBridge sends them); ``{{ }}`` interpolation of parameters, system variables
    and step outputs; ``aws:executeAwsApi`` (the request is validated against botocore's model, then
    ``clients[Service].<snake_case Api>(**request)`` is called); ``aws:assertAwsResourceProperty`` and
    ``aws:waitForAwsResourceProperty`` (one call, no waiting); ``aws:executeScript`` through
    ``script_runner(Script, Handler, InputPayload)``, its outputs selected from ``{"Payload": result}``;
    ``aws:branch`` (all operators, ``And``/``Or``/``Not``, ``Default``, fall-through); ``aws:sleep``
    (no wait); output selectors and types; ``nextStep``, ``isEnd``, ``maxAttempts``, ``isCritical`` and
    ``onFailure`` (``Abort``, ``Continue``, ``step:<name>``). Not supported: ``aws:pause``,
    ``aws:approve``, attachments, timeouts and cancellation.
    """
    values = _start_parameters(doc, parameters)
    variables = {**DEFAULT_SYSTEM_VARIABLES, **(system or {})}
    execution = Execution(status="Success")

    def lookup(name: str) -> Any:
        if name in values:
            return values[name]
        if name in variables:
            return variables[name]
        if name in execution.outputs:
            return execution.outputs[name]
        raise StepFailed(f"{{{{ {name} }}}} has no value (its step did not run or did not succeed)")

    steps = doc["mainSteps"]
    index = {step["name"]: position for position, step in enumerate(steps)}
    position: int | None = 0
    for _ in range(10_000):
        if position is None or position >= len(steps):
            break
        step = steps[position]
        name = step["name"]
        execution.steps.append(name)
        attempts = step.get("maxAttempts", 1)
        for attempt in range(1, attempts + 1):
            try:
                jump = _run_step(step, lookup, clients, script_runner, validate_requests, execution)
                break
            except StepFailed as error:
                if attempt == attempts:
                    execution.failures[name] = str(error)
                    jump = error
        if isinstance(jump, StepFailed):
            if step.get("isCritical", True):
                execution.status = "Failed"
            on_failure = step.get("onFailure", "Abort")
            if on_failure == "Abort":
                break
            position = (
                index[on_failure[5:]]
                if on_failure.startswith("step:")
                else index.get(step.get("nextStep"), position + 1)
            )
            continue
        if jump is not None:
            position = index[jump]
        elif step.get("isEnd"):
            break
        elif "nextStep" in step:
            position = index[step["nextStep"]]
        else:
            position += 1
    else:
        raise SimulationError("the automation ran 10,000 steps without ending")
    return execution


def _run_step(
    step: Mapping[str, Any],
    lookup: Callable[[str], Any],
    clients: Mapping[str, Any],
    script_runner: Callable[[str, str, Mapping[str, Any]], Any],
    validate: bool,
    execution: Execution,
) -> str | None:
    """Run one step; return the step a branch jumps to (else None); record outputs."""
    action = step["action"]
    raw = step.get("inputs", {})
    if action == "aws:branch":
        for choice in raw["Choices"]:
            if _holds({k: v for k, v in choice.items() if k != "NextStep"}, lookup):
                return choice["NextStep"]
        return raw.get("Default")
    if action in ("aws:pause", "aws:approve"):
        raise SimulationError(f"{action} is not supported by the simulator")
    if action == "aws:sleep":
        return None
    inputs = _interpolate(raw, lookup)
    if action == "aws:executeScript":
        try:
            result = {"Payload": script_runner(inputs["Script"], inputs["Handler"], inputs.get("InputPayload", {}))}
        except Exception as error:  # noqa: BLE001 - the script's exception fails the step, as in Automation
            raise StepFailed(f"{type(error).__name__}: {error}") from None
    else:
        request = {k: v for k, v in inputs.items() if k not in ("Service", "Api", "PropertySelector", "DesiredValues")}
        result = _call(clients, inputs["Service"], inputs["Api"], request, validate)
        if action in ("aws:assertAwsResourceProperty", "aws:waitForAwsResourceProperty"):
            try:
                actual = select(result, inputs["PropertySelector"])
            except KeyError as error:
                raise StepFailed(str(error)) from None
            if _text(actual) not in [_text(v) for v in inputs["DesiredValues"]]:
                raise StepFailed(f"{inputs['PropertySelector']} is {actual!r}, not one of {inputs['DesiredValues']}")
    for output in step.get("outputs", []):
        try:
            value = select(result, output["Selector"])
        except KeyError as error:
            raise StepFailed(f"output {output['Name']}: {error}") from None
        execution.outputs[f"{step['name']}.{output['Name']}"] = _convert(value, output.get("Type", "String"))
    return None
