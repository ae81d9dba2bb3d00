"""Acknowledging cdk-nag 3 findings on the narrowest construct, with a reason."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (``"AwsSolutions-IAM5[Resource::*]"``) on ``scope`` and its children.

    Finding ids that contain ``::`` inside the brackets (managed-policy ARNs such as
    ``Policy::arn:<AWS::Partition>:iam::aws:policy/...``) are rejected by
    ``Validations.acknowledge`` (cdk-nag issue 2351), so those go through the same
    construct metadata that ``Validations`` itself writes.
    """
    if not reason or len(reason) < 20:
        raise ValueError(f"Acknowledging {finding} needs a reason a reviewer can accept, not {reason!r}.")
    if "::" in finding.partition("[")[2]:
        scope.node.add_metadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, {finding: reason}, stack_trace=False)
    else:
        Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def render_resource(resolved: Any) -> str:
    """A resolved IAM resource as cdk-nag 3 prints it in finding ids (its ``flattenCfnReference``):
    ``arn:<AWS::Partition>:...``, ``<Logical.Arn>/*``, imports by their export."""
    if resolved is None:
        return ""
    if isinstance(resolved, str):
        return resolved.replace("${", "<").replace("}", ">")
    if isinstance(resolved, dict):
        if resolved.get("Fn::Join"):
            delimiter, items = resolved["Fn::Join"]
            return delimiter.join(render_resource(item) for item in items)
        if resolved.get("Fn::Sub"):
            return render_resource(resolved["Fn::Sub"])
        if resolved.get("Fn::GetAtt"):
            resource, attribute = resolved["Fn::GetAtt"]
            return f"<{render_resource(resource)}.{render_resource(attribute)}>"
        if resolved.get("Fn::ImportValue"):
            return render_resource(resolved["Fn::ImportValue"])
        if resolved.get("Ref"):
            return f"<{render_resource(resolved['Ref'])}>"
    return json.dumps(resolved, separators=(",", ":"))


def finding_resource(scope: IConstruct, value: str) -> str:
    """:func:`render_resource` of ``value`` (literals, pseudo parameters, same-stack references) in ``scope``'s stack."""
    return render_resource(Stack.of(scope).resolve(value))
