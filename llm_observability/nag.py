"""Acknowledging cdk-nag 3 findings on the narrowest construct, with a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
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
