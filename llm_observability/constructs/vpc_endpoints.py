"""The strict profile's network for the library's functions: the user's VPC, one HTTPS-out security group, and the
interface endpoints the functions call (only when ``vpc_endpoints`` asks for them).

:func:`strict_network` is what each bundled stack calls once: in the ``standard`` profile it does nothing; in
``strict`` it adds an aspect that puts every Lambda function of the stack (the library's own, the AwsCustomResource
provider, custom-resource providers) into the user's subnets (CT.LAMBDA.PR.3) and gives every Lambda permission
the stack's account as ``SourceAccount`` beside its ``SourceArn`` (CT.LAMBDA.PR.2). One :class:`FunctionNetwork`
per app (in the first stack that asks, the level 1 stack) holds the security group every function uses and the
endpoints, so later stacks never create a second set (a second endpoint with private DNS would clash).
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Aspects, CfnResource, IAspect, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from llm_observability.checkov import skip
from llm_observability.compliance_profile import profile_of
from llm_observability.config.rules import ENDPOINT_SERVICES, VPC_ENDPOINTS_ALLOWED
from llm_observability.config.settings import ObservabilityConfig
from llm_observability.constructs.log_analytics.network import (
    LAMBDA_VPC_ACTIONS,
    LAMBDA_VPC_REASON,
    VpcPlacement,
    https_only_group,
    place_function,
)
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge

#: Construct id of the one network per app.
_NETWORK_ID = "FunctionNetwork"
_STRICT_VPC_SETTINGS = "vpc_id, vpc_subnet_ids and vpc_availability_zones"


def endpoint_services(value: Sequence[str]) -> tuple[str, ...]:
    """The services ``vpc_endpoints`` asks for: every one of :data:`ENDPOINT_SERVICES` for ``["all"]``.

    :raises ConfigError: a name not in :data:`ENDPOINT_SERVICES`, a repeated name, or a string.
    """
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"Setting 'vpc_endpoints' is {value!r}: allowed is {VPC_ENDPOINTS_ALLOWED}.")
    if tuple(value) == ("all",):
        return ENDPOINT_SERVICES
    if not all(v in ENDPOINT_SERVICES for v in value) or len(set(value)) != len(value):
        raise ConfigError(f"Setting 'vpc_endpoints' is {value!r}: allowed is {VPC_ENDPOINTS_ALLOWED}.")
    return tuple(value)


class FunctionNetwork(Construct):
    """One stack's part of the network: the imported VPC and the security group of every function of the stack
    (HTTPS out only; a group of the stack's own, since CT.LAMBDA.PR.3 accepts only ids or local references). The
    first stack's network also holds the interface endpoints named by ``services`` (private DNS, a security group
    admitting HTTPS from the functions); a later stack's network admits its own group there (``endpoints_of``).

    :param placement: the user's VPC and private subnets.
    :param services: endpoint services, a subset of :data:`ENDPOINT_SERVICES`. Default: none (the VPC already
        reaches AWS APIs through its own endpoints or NAT).
    :param endpoints_of: the first stack's network, whose endpoints this stack's functions use. Default: none (this
        is the first stack's network).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        placement: VpcPlacement,
        services: Sequence[str] = (),
        endpoints_of: FunctionNetwork | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.placement = placement
        self.vpc = placement.import_vpc(self, "Vpc")
        self.security_group = https_only_group(
            self, "FunctionSecurityGroup", self.vpc,
            description="Lambda functions of the LLM observability stacks: HTTPS out only (AWS APIs and endpoints).",
        )  # fmt: skip
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
        self.endpoint_group: ec2.SecurityGroup | None = None
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        #: The endpoints' security group, whichever stack holds it (None: no endpoints).
        self.endpoints_group = endpoints_of.endpoint_group if endpoints_of is not None else None
        if endpoints_of is not None:
            if endpoints_of.endpoint_group is not None:
                # Written in this stack (remote rule): the first stack never references a later one.
                endpoints_of.endpoint_group.add_ingress_rule(
                    self.security_group, ec2.Port.tcp(443), "HTTPS from the functions", True
                )
            return
        if services:
            self.endpoint_group = https_only_group(
                self, "EndpointSecurityGroup", self.vpc,
                description="Interface endpoints of the LLM observability functions: HTTPS from those functions only.",
            )  # fmt: skip
            self.endpoint_group.add_ingress_rule(self.security_group, ec2.Port.tcp(443), "HTTPS from the functions")
            self.endpoints_group = self.endpoint_group
            for service in endpoint_services(services):
                self.endpoints[service] = ec2.InterfaceVpcEndpoint(
                    self,
                    "".join(part.capitalize() for part in service.split("-")) + "Endpoint",
                    vpc=self.vpc,
                    service=ec2.InterfaceVpcEndpointAwsService(service),
                    private_dns_enabled=True,
                    security_groups=[self.endpoint_group],
                    subnets=placement.subnets(self.vpc),
                    open=False,
                )


    def admit(self, function: IConstruct, group_ids: Sequence[str]) -> None:
        """Let a function placed in the VPC by its own construct (with its own ``group_ids``) reach the endpoints."""
        if self.endpoints_group is None:
            return
        for index, group_id in enumerate(group_ids):
            ec2.CfnSecurityGroupIngress(
                self,
                f"Admit{function.node.addr[:8]}{index}",
                group_id=self.endpoints_group.security_group_id,
                source_security_group_id=group_id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="HTTPS to the endpoints from a function with a security group of its own",
            )


def function_network(stack: Stack, placement: VpcPlacement, services: Sequence[str] = ()) -> FunctionNetwork:
    """``stack``'s :class:`FunctionNetwork`; the endpoints are created in the app's first stack that asks only."""
    first = None
    for other in stack.node.root.node.children:
        found = other.node.try_find_child(_NETWORK_ID) if isinstance(other, Stack) else None
        if isinstance(found, FunctionNetwork):
            if other is stack:
                return found
            first = first or found
    return FunctionNetwork(stack, _NETWORK_ID, placement=placement, services=services, endpoints_of=first)


@jsii.implements(IAspect)
class StrictFunctions:
    """Puts every Lambda function under the scope it is added to into ``network``'s subnets and security group
    (with the role permissions Lambda needs for that), and sets ``SourceAccount`` on every Lambda permission."""

    def __init__(self, network: FunctionNetwork) -> None:
        self._network = network

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, lambda_.CfnPermission):
            if node.source_account is None:
                node.source_account = Stack.of(node).account
        elif isinstance(node, lambda_.CfnFunction):
            parent = node.node.scope
            if node.vpc_config is not None:
                self._network.admit(node, getattr(node.vpc_config, "security_group_ids", None) or [])
            elif isinstance(parent, lambda_.Function) and isinstance(parent.role, iam.Role):
                place_function(parent, parent.role, self._network.vpc, self._network.security_group)
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            self._place_provider(node)

    def _place_provider(self, function: CfnResource) -> None:
        """A custom-resource provider written as a raw ``AWS::Lambda::Function`` with a sibling ``Role``."""
        parent = function.node.scope
        if not isinstance(parent, Construct) or parent.node.try_find_child("VpcAccess") is not None:
            return
        function.add_property_override(
            "VpcConfig",
            {
                "SubnetIds": [s.subnet_id for s in self._network.vpc.private_subnets],
                "SecurityGroupIds": [self._network.security_group.security_group_id],
            },
        )
        role = parent.node.try_find_child("Role")
        role_ref = role.ref if isinstance(role, CfnResource) else role.role_name if isinstance(role, iam.Role) else None
        if role_ref is None:
            raise ConfigError(
                f"Setting 'compliance_profile' is 'strict' but the function {function.node.path} has no role this "
                "library can give VPC access: allowed is the standard profile for a stack with such a function."
            )
        policy = iam.CfnPolicy(
            parent,
            "VpcAccess",
            policy_name="AttachToVpc",
            roles=[role_ref],
            policy_document=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="AttachToVpc",
                        actions=LAMBDA_VPC_ACTIONS,
                        resources=["*"],
                    )
                ]
            ),
        )
        function.add_dependency(policy)
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", LAMBDA_VPC_REASON)
        skip(policy, "CKV_AWS_111", LAMBDA_VPC_REASON)


def vpc_placement(config: ObservabilityConfig) -> VpcPlacement | None:
    """The VPC settings (``vpc_id``, ``vpc_subnet_ids``, ``vpc_availability_zones``) as a :class:`VpcPlacement`, or
    None when they are empty."""
    if not config.vpc_id:
        return None
    return VpcPlacement(
        vpc_id=config.vpc_id, subnet_ids=config.vpc_subnet_ids, availability_zones=config.vpc_availability_zones
    )


def strict_network(stack: Stack, config: ObservabilityConfig) -> FunctionNetwork | None:
    """In the strict profile (:func:`profile_of` ``stack``), run every function of ``stack`` in the VPC of the
    settings (see :class:`StrictFunctions`) and create the ``vpc_endpoints`` once per app; in the standard profile,
    nothing. Returns the network (None in standard).

    :raises ConfigError: strict without the VPC settings.
    """
    services = endpoint_services(config.vpc_endpoints)
    if profile_of(stack) != "strict":
        return None
    placement = vpc_placement(config)
    if placement is None:
        raise ConfigError(
            f"Setting 'compliance_profile' is 'strict' without a VPC: allowed is strict with {_STRICT_VPC_SETTINGS} "
            "set (every function and the OpenSearch domain run in your VPC, CT.LAMBDA.PR.3 and CT.OPENSEARCH.PR.10)."
        )
    network = function_network(stack, placement, services)
    Aspects.of(stack).add(StrictFunctions(network))
    return network
