"""Checkov suppressions on the narrowest resource, each with its reason (``Metadata.checkov.skip``).

The bundled app passes checkov's CloudFormation checks with no failure (``tests/test_checkov.py``). Where a
check does not apply to one resource, the resource says so itself, like a cdk-nag acknowledgment; checks
that do not apply to the library's design as a whole are skipped in ``.checkov.yaml`` at the repository root,
each with its reason.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct

from llm_observability.errors import ConfigError


def skip(construct: IConstruct, check_id: str, reason: str) -> None:
    """Suppress checkov's ``check_id`` on ``construct``'s CloudFormation resource (itself or its default child).

    :raises ConfigError: ``reason`` is shorter than a sentence, or ``construct`` has no CloudFormation resource.
    """
    if not isinstance(reason, str) or len(reason.strip()) < 20:
        raise ConfigError(f"checkov skip of {check_id}: the reason is {reason!r}: allowed is a sentence a reviewer accepts.")
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise ConfigError(f"checkov skip of {check_id}: {construct.node.path} has no CloudFormation resource to carry it.")
    metadata = resource.get_metadata("checkov")
    skips = list(metadata.get("skip", [])) if isinstance(metadata, dict) else []
    if not any(entry.get("id") == check_id for entry in skips):
        skips.append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", {"skip": skips})
