"""Where an OpenSearch destination sits in the network: the user's VPC (imported, never looked up) or nowhere.

:class:`VpcPlacement` names an existing VPC by ids (``vpc_id``, ``vpc_subnet_ids``, ``vpc_availability_zones``,
the settings the compliance profiles share) and imports it with ``ec2.Vpc.from_vpc_attributes``: no lookup, no
credentials at synth. :func:`place_function` puts a function of the pipeline into those subnets; with
:func:`public_endpoint_warning` a destination without a VPC lists in the stack's left-out warning what it
stays instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Annotations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from llm_observability.checkov import skip
from llm_observability.config.rules import (
    AVAILABILITY_ZONE_RE,
    AVAILABILITY_ZONES_ALLOWED,
    SUBNET_ID_RE,
    SUBNET_IDS_ALLOWED,
    VPC_ID_ALLOWED,
    VPC_ID_RE,
)
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.nag import acknowledge

#: What Lambda needs to attach a function to a VPC (the AWS-managed AWSLambdaVPCAccessExecutionRole, written out).
LAMBDA_VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
#: Why a role may manage network interfaces on any resource (cdk-nag IAM5 and checkov CKV_AWS_111 acknowledged).
LAMBDA_VPC_REASON = (
    "Lambda creates and deletes the function's network interfaces, whose ids are not known in advance; these are "
    "the actions of the AWS-managed AWSLambdaVPCAccessExecutionRole, written out."
)
#: What Firehose needs to create its delivery ENIs (Firehose API reference, VpcConfiguration.RoleARN).
FIREHOSE_VPC_ACTIONS = [
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkInterfaces",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
]


def _ids(setting: str, values: Sequence[str], regex: re.Pattern[str], allowed: str, owner: str) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) and regex.match(v) for v in values):
        raise ConfigError(f"{owner} '{setting}' is {values!r}: allowed is {allowed}.")
    if len(set(values)) != len(values):
        raise ConfigError(f"{owner} '{setting}' is {values!r}: allowed is {allowed}.")
    return tuple(values)


@dataclass(frozen=True, kw_only=True)
class VpcPlacement:
    """An existing VPC and the private subnets the OpenSearch destination and its clients use.

    The subnets need a route to Amazon S3 (a gateway endpoint or NAT): the index-template function answers
    CloudFormation through a pre-signed S3 URL.

    :param vpc_id: the VPC, e.g. ``vpc-0123456789abcdef0``.
    :param subnet_ids: one or more private subnets of that VPC (a managed domain uses the first one, or the
        first two with zone awareness; Firehose, the function and a Serverless VPC endpoint use all).
    :param availability_zones: the Availability Zone of each subnet, in the same order.
    """

    vpc_id: str
    subnet_ids: Sequence[str]
    availability_zones: Sequence[str]

    def __post_init__(self) -> None:
        owner = "VpcPlacement"
        if not isinstance(self.vpc_id, str) or not VPC_ID_RE.match(self.vpc_id):
            raise ConfigError(f"{owner} 'vpc_id' is {self.vpc_id!r}: allowed is {VPC_ID_ALLOWED}.")
        subnets = _ids("subnet_ids", self.subnet_ids, SUBNET_ID_RE, SUBNET_IDS_ALLOWED, owner)
        zones = self.availability_zones
        if (
            isinstance(zones, str)
            or not all(isinstance(z, str) and AVAILABILITY_ZONE_RE.match(z) for z in zones)
            or len(zones) != len(subnets)
            or not subnets
        ):
            raise ConfigError(f"{owner} 'availability_zones' is {zones!r}: allowed is {AVAILABILITY_ZONES_ALLOWED}.")
        object.__setattr__(self, "subnet_ids", subnets)
        object.__setattr__(self, "availability_zones", tuple(zones))

    def import_vpc(self, scope: Construct, id: str) -> ec2.IVpc:
        """The VPC as ``ec2.Vpc.from_vpc_attributes`` (no lookup): its subnets are the private subnets."""
        vpc = ec2.Vpc.from_vpc_attributes(
            scope,
            id,
            vpc_id=self.vpc_id,
            availability_zones=list(self.availability_zones),
            private_subnet_ids=list(self.subnet_ids),
        )
        Annotations.of(vpc).acknowledge_warning(
            "@aws-cdk/aws-ec2:noSubnetRouteTableId",
            "Only subnet ids are used (placement of the store, Firehose and the function); no route table is read.",
        )
        return vpc

    def subnets(self, vpc: ec2.IVpc, count: int | None = None) -> ec2.SubnetSelection:
        """The first ``count`` subnets (Default: all of them)."""
        chosen = vpc.private_subnets if count is None else vpc.private_subnets[:count]
        return ec2.SubnetSelection(subnets=chosen)


def https_only_group(scope: Construct, id: str, vpc: ec2.IVpc, *, description: str) -> ec2.SecurityGroup:
    """A security group with no rules: callers add HTTPS ingress/egress from and to named groups only."""
    return ec2.SecurityGroup(scope, id, vpc=vpc, description=description, allow_all_outbound=False)


@dataclass(frozen=True)
class StoreGroups:
    """The security groups of a store in a VPC (the domain, or the collection's VPC endpoint) and of its two
    clients: Firehose's delivery ENIs and the index-template function."""

    store: ec2.SecurityGroup
    delivery: ec2.SecurityGroup
    function: ec2.SecurityGroup


def store_groups(
    scope: Construct, vpc: ec2.IVpc, delivery_role: iam.IRole, *, store_id: str, store: str, target: str
) -> StoreGroups:
    """HTTPS-only groups for a store (construct id ``store_id``, described as ``store``; ``target`` names it in the
    clients' rules) and its clients: the store admits HTTPS from the two clients only, Firehose may reach only the
    store, and the function also the pre-signed S3 URL it answers CloudFormation on (through the VPC's S3 route).
    ``delivery_role`` may manage Firehose's delivery network interfaces."""
    groups = StoreGroups(
        store=https_only_group(scope, store_id, vpc, description=f"{store}: HTTPS from its clients only."),
        delivery=https_only_group(
            scope, "DeliverySecurityGroup", vpc, description=f"Firehose delivery ENIs: HTTPS to {target} only."
        ),
        function=https_only_group(
            scope, "IndexTemplateSecurityGroup", vpc, description="The index-template function: HTTPS out only."
        ),
    )
    https = ec2.Port.tcp(443)
    groups.store.add_ingress_rule(groups.delivery, https, "HTTPS from Firehose delivery")
    groups.store.add_ingress_rule(groups.function, https, "HTTPS from the index-template function")
    groups.delivery.add_egress_rule(groups.store, https, f"HTTPS to {target}")
    groups.function.add_egress_rule(ec2.Peer.any_ipv4(), https, f"HTTPS to {target} and the S3 response URL")
    # A policy of its own (under the role, so the delivery stream's dependency on the role covers it), to carry
    # the acknowledgments of this one statement only.
    vpc_policy = iam.Policy(
        delivery_role,
        "VpcDelivery",
        roles=[delivery_role],
        statements=[iam.PolicyStatement(sid="DeliverIntoVpc", actions=FIREHOSE_VPC_ACTIONS, resources=["*"])],
    )
    why = (
        "Firehose creates, describes and deletes its delivery network interfaces in the VPC (and their "
        "permissions); their ids are not known in advance (the permissions the Firehose VpcConfiguration documents)."
    )
    acknowledge(vpc_policy, "AwsSolutions-IAM5[Resource::*]", why)
    skip(vpc_policy, "CKV_AWS_111", why)
    skip(vpc_policy, "CKV_AWS_109", why)
    return groups


def place_function(function: lambda_.Function, role: iam.Role, vpc: ec2.IVpc, group: ec2.ISecurityGroup) -> None:
    """Run ``function`` (built without a VPC by the shared function builder) in ``vpc``'s subnets with ``group``."""
    cfn: lambda_.CfnFunction = function.node.default_child  # type: ignore[assignment]
    cfn.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
        subnet_ids=[s.subnet_id for s in vpc.private_subnets], security_group_ids=[group.security_group_id]
    )
    statement = iam.PolicyStatement(sid="AttachToVpc", actions=LAMBDA_VPC_ACTIONS, resources=["*"])
    policy = iam.Policy(function, "VpcAccess", roles=[role], statements=[statement])
    # Lambda checks the role's network permissions when the function is created or updated.
    cfn.node.add_dependency(policy)
    acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", LAMBDA_VPC_REASON)
    skip(policy, "CKV_AWS_111", LAMBDA_VPC_REASON)


def public_endpoint_warning(scope: IConstruct, store: str) -> None:
    """List, in the stack's one left-out warning, that the ``store`` stays public: what still protects it, how to
    make it private."""
    leave_out(
        scope,
        f"A private OpenSearch {store} endpoint",
        "vpc_id",
        "set vpc_id, vpc_subnet_ids and vpc_availability_zones (or pass vpc=VpcPlacement(...)); until then the "
        "endpoint is public and every request must be SigV4-signed by an IAM principal the access policy names"
        + (" and pass fine-grained access control" if store == "domain" else ""),
        source="setting",
    )
