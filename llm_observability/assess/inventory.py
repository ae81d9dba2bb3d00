"""The resources of all loaded stacks as one read-only index, with references followed across stacks.

:meth:`Inventory.refs` / :meth:`Inventory.targets` follow ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` variables
and cross-stack ``Fn::GetStackOutput`` / ``Fn::ImportValue`` to the resources they name;
:meth:`Inventory.referrers` answers the reverse question (who uses this guardrail?).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from llm_observability.assess.intrinsics import intrinsic, render
from llm_observability.assess.loader import StackTemplate

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


@dataclass(frozen=True, eq=False)
class Resource:
    """A resource of one stack (equal and hashed by stack and logical id)."""

    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None
    metadata: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack, self.logical_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def path(self) -> str:
        path = self.metadata.get("aws:cdk:path") if isinstance(self.metadata, dict) else None
        return path if isinstance(path, str) else f"{self.stack}/{self.logical_id}"


@dataclass
class Inventory:
    """The resources of all loaded stacks, indexed, with reference resolution across stacks."""

    stacks: list[StackTemplate]
    include_conditional: bool = True
    resources: list[Resource] = field(init=False)
    _by_key: dict[tuple[str, str], Resource] = field(init=False)
    _templates: dict[str, dict[str, Any]] = field(init=False)
    _exports: dict[tuple[str, str], tuple[str, Any]] = field(init=False)  # (stage, export name) -> (stack, value)
    _names: dict[tuple[str, str], str] = field(init=False)  # (stage, CloudFormation stack name) -> stack
    _stages: dict[str, str] = field(init=False)  # stack -> its stage
    _refs_cache: dict[tuple[str, str], set[tuple[str, str]]] = field(init=False)

    def __post_init__(self) -> None:
        self.resources = []
        self._refs_cache = {}
        self._templates = {s.name: s.template for s in self.stacks}
        self._names = {(s.stage, s.cloudformation_name): s.name for s in self.stacks}
        self._stages = {s.name: s.stage for s in self.stacks}
        self._exports = {}
        for stack in self.stacks:
            for logical_id, raw in stack.resources.items():
                props = raw.get("Properties")
                condition = raw.get("Condition") if isinstance(raw.get("Condition"), str) else None
                if condition is not None and not self.include_conditional:
                    continue
                metadata = raw.get("Metadata") if isinstance(raw.get("Metadata"), dict) else {}
                self.resources.append(
                    Resource(stack.name, str(logical_id), raw["Type"], props if isinstance(props, dict) else {},
                             condition, metadata)
                )  # fmt: skip
            outputs = stack.template.get("Outputs")
            for output in outputs.values() if isinstance(outputs, dict) else ():
                if isinstance(output, dict) and isinstance(output.get("Export"), dict):
                    name = output["Export"].get("Name")
                    if isinstance(name, str):
                        self._exports[(stack.stage, name)] = (stack.name, output.get("Value"))
        self._by_key = {r.key: r for r in self.resources}

    def without_conditional(self) -> Inventory:
        return Inventory(self.stacks, include_conditional=False)

    # ---- lookups ----
    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def get(self, stack: str, logical_id: str) -> Resource | None:
        return self._by_key.get((stack, logical_id))

    def stack_tags(self) -> dict[str, dict[str, str]]:
        return {s.name: s.tags for s in self.stacks if s.tags}

    # ---- references ----
    def refs(self, stack: str, value: Any, *, _depth: int = 0) -> set[tuple[str, str]]:
        """Resources (stack, logical id) that ``value`` references, following cross-stack outputs."""
        found: set[tuple[str, str]] = set()
        if _depth > 8:
            return found
        call = intrinsic(value)
        if call is not None:
            name, argument = call
            if name == "Ref" and isinstance(argument, str):
                found |= self._local(stack, argument)
                return found
            if name == "Fn::GetAtt":
                target = (
                    argument.split(".", 1)[0]
                    if isinstance(argument, str)
                    else (argument[0] if isinstance(argument, list) and argument else None)
                )
                if isinstance(target, str):
                    found |= self._local(stack, target)
                return found
            if name == "Fn::Sub":
                template = argument[0] if isinstance(argument, list) and argument else argument
                variables = (
                    argument[1]
                    if isinstance(argument, list) and len(argument) > 1 and isinstance(argument[1], dict)
                    else {}
                )
                if isinstance(template, str):
                    for variable in _SUB_VARIABLE.findall(template):
                        target = variable.split(".", 1)[0]
                        if target in variables:
                            found |= self.refs(stack, variables[target], _depth=_depth + 1)
                        else:
                            found |= self._local(stack, target)
                for item in variables.values():
                    found |= self.refs(stack, item, _depth=_depth + 1)
                return found
            if name == "Fn::GetStackOutput" and isinstance(argument, dict):
                other, output = argument.get("StackName"), argument.get("OutputName")
                if isinstance(other, str):  # the CloudFormation name, within the referring stack's stage
                    other = self._names.get((self._stages.get(stack, ""), other), other)
                template = self._templates.get(other) if isinstance(other, str) else None
                outputs = template.get("Outputs") if isinstance(template, dict) else None
                if isinstance(outputs, dict) and isinstance(output, str) and isinstance(outputs.get(output), dict):
                    found |= self.refs(str(other), outputs[output].get("Value"), _depth=_depth + 1)
                return found
            if name == "Fn::ImportValue":
                export = argument if isinstance(argument, str) else None
                if export is None:
                    rendered = render(argument)
                    export = rendered if "${" not in rendered else None
                key = (self._stages.get(stack, ""), export)
                if export is not None and key in self._exports:  # exports are per account and region: the stage's
                    other, exported = self._exports[key]
                    found |= self.refs(other, exported, _depth=_depth + 1)
                return found
            # any other function: look inside its arguments
            return self.refs(stack, argument, _depth=_depth + 1)
        if isinstance(value, dict):
            for item in value.values():
                found |= self.refs(stack, item, _depth=_depth + 1)
        elif isinstance(value, list):
            for item in value:
                found |= self.refs(stack, item, _depth=_depth + 1)
        return found

    def targets(self, stack: str, value: Any, *types: str) -> list[Resource]:
        """Referenced resources of the given types."""
        hits = [self._by_key[k] for k in sorted(self.refs(stack, value)) if k in self._by_key]
        return [r for r in hits if not types or r.type in types]

    def _local(self, stack: str, name: str) -> set[tuple[str, str]]:
        return {(stack, name)} if (stack, name) in self._by_key else set()

    def resource_refs(self, resource: Resource) -> set[tuple[str, str]]:
        """Everything ``resource``'s properties reference (cached)."""
        if resource.key not in self._refs_cache:
            self._refs_cache[resource.key] = self.refs(resource.stack, resource.properties)
        return self._refs_cache[resource.key]

    def referrers(self, target: Resource, *types: str) -> list[Resource]:
        """Resources (of the given types) whose properties reference ``target``."""
        return [
            r for r in self.resources
            if (not types or r.type in types) and r is not target and target.key in self.resource_refs(r)
        ]  # fmt: skip
