"""Template hygiene: drop ``DependsOn`` entries that a ``Ref``/``GetAtt`` already enforces.

aws-cdk-lib adds explicit dependencies that duplicate references (a Lambda function
on the role it names, for example); cfn-lint reports each one as W3005.  The aspect
below rewrites ``DependsOn`` at synthesis time, once every construct-level dependency
has been turned into a resource dependency, keeping only entries that add ordering
no reference implies.  It changes no deployment order.
"""

from __future__ import annotations

import re
from typing import Any

import jsii
from aws_cdk import CfnResource, IAspect, IStableListProducer, Lazy, Stack
from constructs import IConstruct

_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def referenced_logical_ids(value: Any) -> set[str]:
    """Logical ids named by ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub`` anywhere inside a resolved value."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("Ref"), str):
                found.add(item["Ref"])
            get_att = item.get("Fn::GetAtt")
            if isinstance(get_att, list) and get_att and isinstance(get_att[0], str):
                found.add(get_att[0])
            sub = item.get("Fn::Sub")
            template = sub[0] if isinstance(sub, list) and sub else sub
            if isinstance(template, str):
                found.update(_SUB_REF.findall(template))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@jsii.implements(IStableListProducer)
class _NeededDependencies:
    def __init__(self, resource: CfnResource) -> None:
        self._resource = resource
        self._needed: list[str] | None = None
        self._done = False

    def produce(self) -> list[str] | None:
        # Resolved during synthesis, after every dependency exists; the answer cannot change after that.
        if not self._done:
            self._needed, self._done = self._compute(), True
        return self._needed

    def _compute(self) -> list[str] | None:
        stack = Stack.of(self._resource)
        referenced = referenced_logical_ids(stack.resolve(self._resource._cfn_properties))  # noqa: SLF001
        needed = sorted(
            {stack.resolve(dep.logical_id) for dep in self._resource.obtain_dependencies()} - referenced
        )
        return needed or None


@jsii.implements(IAspect)
class NoRedundantDependsOn:
    """Aspect: apply with ``Aspects.of(app).add(NoRedundantDependsOn())``."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource):
            node.add_override("DependsOn", Lazy.list(_NeededDependencies(node), omit_empty=True))
