"""Validator of SSM Automation documents (schema 0.3): :func:`validate_document` lists what is wrong with one.

A product feature, not a test helper: :class:`~llm_observability.constructs.runbooks.RemediationRunbooks`
runs it on every document at synth, and users can check their own runbooks with it before deploying
(``validate_document(json.load(f)) == []``). It knows the Automation actions listed in :data:`ACTIONS`;
``Service``/``Api`` requests are checked against botocore's service models (:mod:`.api_models`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm_observability.automation.api_models import check_request, type_name
from llm_observability.automation.documents import SCHEMA_VERSION
from llm_observability.automation.reference_syntax import is_reference, references


@dataclass(frozen=True)
class ActionSpec:
    """Inputs an Automation action takes; ``api_inputs``: also the members of ``Service``/``Api``'s request."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    api_inputs: bool = False


def _spec(required: Sequence[str], optional: Sequence[str] = (), api_inputs: bool = False) -> ActionSpec:
    return ActionSpec(frozenset(required), frozenset(optional), api_inputs)


#: Automation actions of schema 0.3 the validator knows, with their inputs. Source: AWS Systems Manager User
#: Guide, "Systems Manager Automation actions reference" (automation-actions.html) and its per-action pages
#: (automation-action-executeAwsApi.html, -executeScript, -branch, -sleep, -assertAwsResourceProperty,
#: -waitForAwsResourceProperty, -pause, -approve); shared step properties from "Properties shared by all
#: actions"; system variables from "Automation system variables" (automation-variables.html).
ACTIONS: Mapping[str, ActionSpec] = {
    "aws:executeAwsApi": _spec(("Service", "Api"), api_inputs=True),
    "aws:assertAwsResourceProperty": _spec(("Service", "Api", "PropertySelector", "DesiredValues"), api_inputs=True),
    "aws:waitForAwsResourceProperty": _spec(("Service", "Api", "PropertySelector", "DesiredValues"), api_inputs=True),
    "aws:executeScript": _spec(("Runtime", "Handler"), ("Script", "InputPayload", "Attachment")),
    "aws:branch": _spec(("Choices",), ("Default",)),
    "aws:sleep": _spec((), ("Duration", "Timestamp")),
    "aws:pause": _spec(()),
    "aws:approve": _spec(("Approvers",), ("Message", "NotificationArn", "MinRequiredApprovals")),
}
#: Runtimes aws:executeScript accepts for new runbooks (Python 3.6-3.8 were retired in 2024/2025).
SCRIPT_RUNTIMES = ("python3.11", "PowerShell 7.4")
STEP_PROPERTIES = frozenset(
    {"name", "action", "inputs", "outputs", "description", "maxAttempts", "timeoutSeconds", "onFailure", "onCancel",
     "isEnd", "isCritical", "nextStep"}
)  # fmt: skip
DOCUMENT_PROPERTIES = frozenset(
    {"schemaVersion", "description", "assumeRole", "parameters", "mainSteps", "outputs", "files"}
)
PARAMETER_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
PARAMETER_PROPERTIES = frozenset(
    {"type", "description", "default", "allowedValues", "allowedPattern", "displayType", "minItems", "maxItems",
     "minChars", "maxChars"}
)  # fmt: skip
OUTPUT_TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")
SYSTEM_VARIABLES = frozenset(
    {"global:ACCOUNT_ID", "global:DATE", "global:DATE_TIME", "global:AWS_PARTITION", "global:REGION",
     "automation:EXECUTION_ID"}
)  # fmt: skip
BRANCH_OPERATORS = frozenset(
    {"StringEquals", "EqualsIgnoreCase", "StartsWith", "EndsWith", "Contains", "NumericEquals", "NumericGreater",
     "NumericLesser", "NumericGreaterOrEquals", "NumericLesserOrEquals", "BooleanEquals"}
)  # fmt: skip
BRANCH_COMPOSITES = frozenset({"And", "Or", "Not"})

_STEP_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")
_DURATION = re.compile(r"^P(?!$)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")


def validate_document(doc: Any, *, api_models: bool = True) -> list[str]:
    """Problems of an Automation document (schema 0.3); an empty list means valid.

    Rules: schema version; document, parameter and step properties; parameter types, descriptions,
    allowed values and patterns; unique step names of ``[A-Za-z0-9_]{1,128}``; known actions with their
    required and allowed inputs (:data:`ACTIONS`); ``onFailure``/``onCancel``/``nextStep``/branch targets
    that exist; every ``{{ Parameter }}``, system variable and ``{{ Step.Output }}`` reference resolving
    (a step output only where that step has succeeded on every path to the reference); output selectors
    starting with ``$.`` (``$.Payload`` for scripts); steps that are never reached; Python handlers that
    exist in their script; and, with ``api_models`` (needs botocore), ``Service``/``Api`` pairs that exist
    in botocore's service models, with inputs that are members of the request, required members present
    and literal values of the right JSON type (a ``{{ }}`` reference is accepted for any type).
    """
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        return [f"the document is {type_name(doc)}, not an object"]
    if doc.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(f"schemaVersion is {doc.get('schemaVersion')!r}: allowed is '0.3' (Automation runbooks)")
    problems.extend(f"unknown document property {key!r}" for key in doc if key not in DOCUMENT_PROPERTIES)
    parameters = doc.get("parameters", {})
    if not isinstance(parameters, Mapping):
        problems.append("parameters must be an object")
        parameters = {}
    for name, spec in parameters.items():
        problems.extend(_check_parameter(name, spec))
    steps = doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        problems.append("mainSteps is missing or empty")
        return problems
    names: list[str] = []
    for position, step in enumerate(steps):
        name = step.get("name") if isinstance(step, Mapping) else None
        if not isinstance(name, str):
            problems.append(f"mainSteps[{position}] has no name")
        elif not _STEP_NAME.fullmatch(name):
            problems.append(f"step name {name!r} does not match [A-Za-z0-9_]{{1,128}}")
        elif name in names:
            problems.append(f"step name {name!r} is used twice")
        names.append(name if isinstance(name, str) else f"#{position}")
    if problems and any("mainSteps[" in p or "used twice" in p for p in problems):
        return problems  # the graph below needs unique names
    by_name = dict(zip(names, steps, strict=True))
    outputs: dict[str, set[str]] = {}
    for name, step in by_name.items():
        problems.extend(_check_step(name, step, by_name, api_models))
        outputs[name] = {o.get("Name") for o in step.get("outputs", []) if isinstance(o, Mapping)}

    available, reachable = _available_outputs(steps, names)
    problems.extend(f"step {name!r} is never reached" for name in names if name not in reachable)
    known = set(parameters) | SYSTEM_VARIABLES
    assume_role = doc.get("assumeRole")
    if assume_role is not None:
        problems.extend(_check_references("assumeRole", assume_role, known, outputs, None))
    for name, step in by_name.items():
        if name in reachable:
            problems.extend(
                _check_references(f"step {name!r}", step.get("inputs", {}), known, outputs, available[name])
            )
    doc_outputs = doc.get("outputs", [])
    if not isinstance(doc_outputs, list):
        problems.append("outputs must be a list of 'Step.Output' names")
    else:
        for item in doc_outputs:
            step_name, _, output = str(item).partition(".")
            if output not in outputs.get(step_name, ()):
                problems.append(f"outputs: {item!r} names no step output")
    return problems


def _check_parameter(name: str, spec: Any) -> list[str]:
    where = f"parameter {name!r}"
    if not _PARAMETER_NAME.fullmatch(str(name)):
        return [f"{where}: the name does not match [A-Za-z0-9_]{{1,128}}"]
    if not isinstance(spec, Mapping):
        return [f"{where} must be an object"]
    problems = [f"{where}: unknown property {key!r}" for key in spec if key not in PARAMETER_PROPERTIES]
    if spec.get("type") not in PARAMETER_TYPES:
        problems.append(f"{where}: type is {spec.get('type')!r}: allowed are {', '.join(PARAMETER_TYPES)}")
    if not isinstance(spec.get("description"), str) or not spec["description"].strip():
        problems.append(f"{where} has no description")
    allowed = spec.get("allowedValues")
    if allowed is not None and (not isinstance(allowed, list) or not allowed):
        problems.append(f"{where}: allowedValues must be a non-empty list")
        allowed = None
    pattern = spec.get("allowedPattern")
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except (re.error, TypeError) as error:
            problems.append(f"{where}: allowedPattern does not compile ({error})")
    if "default" in spec:
        default = spec["default"]
        if allowed is not None and default not in allowed:
            problems.append(f"{where}: default {default!r} is not among allowedValues")
        if compiled is not None and isinstance(default, str) and not compiled.search(default):
            problems.append(f"{where}: default {default!r} does not match allowedPattern")
    return problems


def _step_target(where: str, label: str, target: Any, steps: Mapping[str, Any]) -> list[str]:
    if not isinstance(target, str) or target not in steps:
        return [f"{where}: {label} {target!r} names no step"]
    return []


def _check_step(name: str, step: Mapping[str, Any], steps: Mapping[str, Any], api_models: bool) -> list[str]:
    where = f"step {name!r}"
    problems = [f"{where}: unknown property {key!r}" for key in step if key not in STEP_PROPERTIES]
    action = step.get("action")
    spec = ACTIONS.get(action) if isinstance(action, str) else None
    if spec is None:
        problems.append(f"{where}: unknown action {action!r}: allowed are {', '.join(sorted(ACTIONS))}")
    inputs = step.get("inputs", {})
    if not isinstance(inputs, Mapping):
        problems.append(f"{where}: inputs must be an object")
        inputs = {}
    # shared properties
    on_failure = step.get("onFailure", "Abort")
    if on_failure not in ("Abort", "Continue"):
        if isinstance(on_failure, str) and on_failure.startswith("step:"):
            problems.extend(_step_target(where, "onFailure", on_failure[5:], steps))
        else:
            problems.append(f"{where}: onFailure is {on_failure!r}: allowed are Abort, Continue, step:<name>")
    on_cancel = step.get("onCancel", "Abort")
    if on_cancel != "Abort":
        if isinstance(on_cancel, str) and on_cancel.startswith("step:"):
            problems.extend(_step_target(where, "onCancel", on_cancel[5:], steps))
        else:
            problems.append(f"{where}: onCancel is {on_cancel!r}: allowed are Abort, step:<name>")
    if "nextStep" in step:
        problems.extend(_step_target(where, "nextStep", step["nextStep"], steps))
    for flag in ("isEnd", "isCritical"):
        if flag in step and not isinstance(step[flag], bool):
            problems.append(f"{where}: {flag} must be true or false")
    for number in ("maxAttempts", "timeoutSeconds"):
        value = step.get(number, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{where}: {number} must be a whole number of at least 1")
    problems.extend(_check_outputs(where, action, step.get("outputs", [])))
    if spec is None:
        return problems
    # inputs
    problems.extend(f"{where}: {action} lacks required input {key!r}" for key in sorted(spec.required - set(inputs)))
    if not spec.api_inputs:
        allowed = spec.required | spec.optional
        problems.extend(f"{where}: {action} does not take input {key!r}" for key in inputs if key not in allowed)
    if action == "aws:branch":
        problems.extend(_check_branch(where, inputs, steps))
    elif action == "aws:executeScript":
        problems.extend(_check_script(where, inputs))
    elif action == "aws:sleep":
        given = [key for key in ("Duration", "Timestamp") if key in inputs]
        if len(given) != 1:
            problems.append(f"{where}: aws:sleep needs exactly one of Duration, Timestamp")
        elif (
            given == ["Duration"]
            and not is_reference(inputs["Duration"])
            and not _DURATION.fullmatch(str(inputs["Duration"]))
        ):
            problems.append(f"{where}: Duration {inputs['Duration']!r} is not an ISO 8601 duration such as PT5M")
    elif action == "aws:approve":
        approvers = inputs.get("Approvers")
        if (
            "Approvers" in inputs
            and not is_reference(approvers)
            and (not isinstance(approvers, list) or not approvers)
        ):
            problems.append(f"{where}: Approvers must be a non-empty list")
    if spec.api_inputs and not ({"Service", "Api"} - set(inputs)):
        extra = {"PropertySelector", "DesiredValues"} if action != "aws:executeAwsApi" else set()
        if extra:
            selector = inputs.get("PropertySelector")
            if not isinstance(selector, str) or not selector.startswith("$."):
                problems.append(f"{where}: PropertySelector {selector!r} must start with '$.'")
            if not isinstance(inputs.get("DesiredValues"), list) or not inputs["DesiredValues"]:
                problems.append(f"{where}: DesiredValues must be a non-empty list")
        if api_models:
            request = {key: value for key, value in inputs.items() if key not in {"Service", "Api"} | extra}
            problems.extend(check_request(where, inputs["Service"], inputs["Api"], request))
    return problems


def _check_outputs(where: str, action: Any, outputs: Any) -> list[str]:
    if not isinstance(outputs, list):
        return [f"{where}: outputs must be a list"]
    problems: list[str] = []
    seen: set[str] = set()
    for output in outputs:
        if not isinstance(output, Mapping) or not isinstance(output.get("Name"), str):
            problems.append(f"{where}: every output needs a Name")
            continue
        name, selector = output["Name"], output.get("Selector")
        if name in seen:
            problems.append(f"{where}: output {name!r} is declared twice")
        seen.add(name)
        if not isinstance(selector, str) or not selector.startswith("$."):
            problems.append(f"{where}: output {name!r} selector {selector!r} must start with '$.'")
        elif action == "aws:executeScript" and not selector.startswith("$.Payload"):
            problems.append(
                f"{where}: output {name!r} selector {selector!r} must start with '$.Payload' (the script's return value)"
            )
        if output.get("Type", "String") not in OUTPUT_TYPES:
            problems.append(
                f"{where}: output {name!r} type {output.get('Type')!r}: allowed are {', '.join(OUTPUT_TYPES)}"
            )
    return problems


def _check_branch(where: str, inputs: Mapping[str, Any], steps: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    choices = inputs.get("Choices")
    if not isinstance(choices, list) or not choices:
        return [f"{where}: Choices must be a non-empty list"]
    for number, choice in enumerate(choices, 1):
        label = f"{where}: choice {number}"
        if not isinstance(choice, Mapping):
            problems.append(f"{label} must be an object")
            continue
        problems.extend(_step_target(label, "NextStep", choice.get("NextStep"), steps))
        problems.extend(_check_condition(label, {k: v for k, v in choice.items() if k != "NextStep"}))
    if "Default" in inputs:
        problems.extend(_step_target(where, "Default", inputs["Default"], steps))
    return problems


def _check_condition(label: str, condition: Mapping[str, Any]) -> list[str]:
    composites = [key for key in condition if key in BRANCH_COMPOSITES]
    if composites:
        if len(condition) != 1:
            return [f"{label}: {composites[0]} must stand alone"]
        parts = condition[composites[0]]
        if not isinstance(parts, list) or not parts or (composites[0] == "Not" and len(parts) != 1):
            return [
                f"{label}: {composites[0]} needs a list of {'one condition' if composites[0] == 'Not' else 'conditions'}"
            ]
        return [p for part in parts for p in _check_condition(label, part if isinstance(part, Mapping) else {})]
    operators = [key for key in condition if key in BRANCH_OPERATORS]
    unknown = [key for key in condition if key not in BRANCH_OPERATORS and key != "Variable"]
    problems = [f"{label}: unknown operator {key!r}" for key in unknown]
    if len(operators) != 1:
        problems.append(f"{label} needs exactly one operator of {', '.join(sorted(BRANCH_OPERATORS))}")
    if not is_reference(condition.get("Variable")):
        problems.append(f"{label}: Variable {condition.get('Variable')!r} must be one {{{{ }}}} reference")
    return problems


def _check_script(where: str, inputs: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    runtime = inputs.get("Runtime")
    if runtime not in SCRIPT_RUNTIMES:
        problems.append(f"{where}: Runtime {runtime!r} is not supported: allowed are {', '.join(SCRIPT_RUNTIMES)}")
    if "Script" not in inputs and "Attachment" not in inputs:
        problems.append(f"{where}: aws:executeScript needs Script or Attachment")
    if "InputPayload" in inputs and not isinstance(inputs["InputPayload"], Mapping):
        problems.append(f"{where}: InputPayload must be an object")
    script, handler = inputs.get("Script"), inputs.get("Handler")
    if (
        isinstance(script, str)
        and isinstance(handler, str)
        and isinstance(runtime, str)
        and runtime.startswith("python")
    ):
        try:
            tree = ast.parse(script)
        except SyntaxError as error:
            return [*problems, f"{where}: Script does not parse: {error.msg} (line {error.lineno})"]
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        function = functions.get(handler)
        if function is None:
            problems.append(f"{where}: Script defines no function {handler!r} (the Handler)")
        elif len(function.args.args) != 2:
            problems.append(f"{where}: handler {handler!r} must take (events, context)")
    return problems


def _edges(steps: Sequence[Mapping[str, Any]], names: Sequence[str]) -> Iterator[tuple[str, str, bool]]:
    """Control-flow edges ``(from, to, on_success)`` between steps."""
    known = set(names)
    for position, (name, step) in enumerate(zip(names, steps, strict=True)):
        following = names[position + 1] if position + 1 < len(names) else None
        inputs = step.get("inputs", {}) if isinstance(step.get("inputs", {}), Mapping) else {}
        if step.get("action") == "aws:branch":
            choices = inputs.get("Choices") if isinstance(inputs.get("Choices"), list) else []
            targets = [c.get("NextStep") for c in choices if isinstance(c, Mapping)]
            targets.append(inputs.get("Default", following))
        elif step.get("isEnd") is True:
            targets = []
        else:
            targets = [step.get("nextStep", following)]
        for target in targets:
            if target in known:
                yield name, target, True
        on_failure = step.get("onFailure", "Abort")
        failure_target = step.get("nextStep", following) if on_failure == "Continue" else None
        if isinstance(on_failure, str) and on_failure.startswith("step:"):
            failure_target = on_failure[5:]
        if failure_target in known:
            yield name, failure_target, False


def _available_outputs(
    steps: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> tuple[dict[str, set[str]], set[str]]:
    """For each step, the steps that have succeeded on every path to it; and the reachable steps."""
    edges = list(_edges(steps, names))
    reachable = {names[0]}
    frontier = [names[0]]
    while frontier:
        current = frontier.pop()
        for source, target, _ in edges:
            if source == current and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    everything = set(names)
    available = {name: set(everything) for name in names}
    available[names[0]] = set()
    changed = True
    while changed:
        changed = False
        for name in names[1:]:
            incoming = [
                available[source] | ({source} if success else set())
                for source, target, success in edges
                if target == name and source in reachable
            ]
            new = set.intersection(*incoming) if incoming else set()
            if new != available[name]:
                available[name] = new
                changed = True
    return available, reachable


def _check_references(
    where: str, value: Any, known: set[str], outputs: Mapping[str, set[str]], available: set[str] | None
) -> list[str]:
    problems: list[str] = []
    for reference in dict.fromkeys(references(value)):
        if reference in known:
            continue
        step, dot, output = reference.partition(".")
        if not dot or ":" in reference:
            problems.append(f"{where}: reference {{{{ {reference} }}}} names no parameter")
        elif output not in outputs.get(step, ()):
            problems.append(f"{where}: reference {{{{ {reference} }}}} names no output of step {step!r}")
        elif available is not None and step not in available:
            problems.append(f"{where}: reference {{{{ {reference} }}}} is not set on every path to this step")
    return problems
