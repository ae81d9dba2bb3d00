"""The managed OpenSearch domain destination of :class:`LogAnalytics` and its capacity props."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from llm_observability.compliance_profile import is_strict
from llm_observability.constructs._common import encrypted_log_group, physical_name
from llm_observability.constructs.log_analytics.destination import (
    DestinationBindOptions,
    DestinationConfig,
    IndexRotation,
    OpenSearchDestination,
)
from llm_observability.constructs.log_analytics.network import public_endpoint_warning, store_groups
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.validation import choice, pattern, whole_number

#: Allowed data-node instance types: T3 or larger (T2 supports neither encryption at rest nor
#: fine-grained access control, so it cannot host this domain).
_INSTANCE_TYPE = re.compile(r"^(?!t2\.)[a-z0-9]+\.[a-z0-9]+\.search$")
_INSTANCE_TYPE_ALLOWED = (
    "an OpenSearch instance type of T3 or larger such as t3.small.search or m7g.large.search "
    "(T2 supports no encryption at rest)"
)
_ENGINE_VERSION = re.compile(r"^(\d+)\.(\d+)$")
#: The OpenSearch security roles the index-template custom resource (the domain's master user) maps.
WRITER_ROLE, READER_ROLE = "llm-log-writer", "llm-log-reader"


@dataclass(frozen=True, kw_only=True)
class DomainCapacity:
    """The data nodes of a managed domain.

    :param instance_type: data-node instance type, T3 or larger (T2 supports no encryption at rest).
        Default: ``t3.small.search``.
    :param instance_count: data nodes, 1-80 (an even number with ``zone_awareness``). Default: 1.
    :param volume_size_gib: gp3 EBS volume per data node, GiB (10-1024). Default: 10.
    :param zone_awareness: spread the nodes over ``zone_count`` Availability Zones (the index template then keeps
        one replica). Default: False.
    :param zone_count: Availability Zones with ``zone_awareness``, 2 or 3 (``instance_count`` a multiple of it).
        Default: 2.
    """

    instance_type: str = "t3.small.search"
    instance_count: int = 1
    volume_size_gib: int = 10
    zone_awareness: bool = False
    zone_count: Literal[2, 3] = 2

    @classmethod
    def strict(cls) -> DomainCapacity:
        """The smallest capacity CT.OPENSEARCH.PR.14 admits: three ``t3.small.search`` data nodes, one per zone."""
        return cls(instance_count=3, zone_awareness=True, zone_count=3)

    def __post_init__(self) -> None:
        pattern("instance_type", self.instance_type, _INSTANCE_TYPE, _INSTANCE_TYPE_ALLOWED, owner="DomainCapacity")
        whole_number("instance_count", self.instance_count, 1, 80, owner="DomainCapacity")
        whole_number("volume_size_gib", self.volume_size_gib, 10, 1024, owner="DomainCapacity")
        choice("zone_count", self.zone_count, Literal[2, 3], owner="DomainCapacity")
        if self.zone_awareness and self.instance_count % self.zone_count:
            raise ConfigError(
                f"DomainCapacity 'instance_count' is {self.instance_count} with zone_awareness: allowed is "
                + ("an even number of nodes." if self.zone_count == 2 else "a multiple of zone_count (3).")
            )

    @property
    def index_replicas(self) -> int:
        """Replicas per index: one when there is a second node (or zone) to hold it, else none."""
        return 1 if (self.zone_awareness or self.instance_count > 1) else 0


@dataclass(frozen=True, kw_only=True)
class OpenSearchDomainDestination(OpenSearchDestination):
    """Deliver the logs into a managed Amazon OpenSearch Service domain (``aws_opensearchservice.Domain``).

    The domain has KMS encryption at rest with the construct's key, node-to-node encryption, HTTPS only with
    TLS 1.2 (PFS cipher suites), search/index slow logs and error logs in an encrypted log group, and an IAM
    domain access policy that names only the Firehose role, the index-template function and ``readers`` (no
    anonymous or wildcard principal; requests must be SigV4-signed).

    Fine-grained access control is on with an IAM master user and no internal user database (no master
    password): the master is the index-template function's role, which, before it puts the template, creates
    the OpenSearch roles ``llm-log-writer`` (mapped to the Firehose role: write and create the log indices)
    and ``llm-log-reader`` (mapped to ``readers``: read them) and turns the security plugin's audit logging on.
    Audit logs go to their own encrypted log group, retained when the stack is deleted.

    With ``vpc`` the domain sits in its subnets (the first one; two with zone awareness) behind a security group
    that admits HTTPS only from Firehose's delivery ENIs (Firehose VPC delivery) and from the index-template
    function, which then also runs in the VPC. Without it the endpoint stays public, protected by IAM and
    fine-grained access control, and synth says so in a warning.

    :param capacity: the data nodes. Default: ``DomainCapacity()`` (one ``t3.small.search`` node, 10 GiB gp3).
    :param engine_version: OpenSearch version, ``major.minor``. Default: ``2.19``.
    :param index_rotation: how often Firehose starts a new ``<index_prefix>-<date>`` index. Default: ``OneDay``.
    :param readers: ARNs of IAM roles or users that may search the domain (SigV4, ``es:ESHttpGet/Head/Post``).
        Default: none.
    :param delivery: how Firehose delivers the documents. Default: ``OpenSearchDelivery()``.
    :param removal_policy: what happens to the domain when removed from the stack. Default: DESTROY.
    :param vpc: the user's VPC and subnets for a private domain. Default: none (a public, IAM-only endpoint).
    """

    capacity: DomainCapacity = field(default_factory=DomainCapacity)
    engine_version: str = "2.19"
    index_rotation: IndexRotation = "OneDay"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.capacity, DomainCapacity):
            raise ConfigError(
                f"OpenSearchDomainDestination 'capacity' is {self.capacity!r}: allowed is a DomainCapacity."
            )
        owner = "OpenSearchDomainDestination"
        pattern("engine_version", self.engine_version, _ENGINE_VERSION, "an OpenSearch version like 2.19 or 3.1",
                owner=owner)  # fmt: skip
        choice("index_rotation", self.index_rotation, IndexRotation, owner=owner)
        if self.vpc is not None and self.capacity.zone_awareness:
            count = self.capacity.zone_count
            zones = self.vpc.availability_zones[:count]
            if len(set(zones)) < count:
                words = {2: "two", 3: "three"}[count]
                raise ConfigError(
                    f"{owner} 'vpc' starts with {words} subnets in {', '.join(zones)} with zone_awareness: allowed is "
                    f"a VpcPlacement whose first {words} subnets are in {words} different Availability Zones."
                )

    def _check_strict(self) -> None:
        """The strict profile's domain (CT.OPENSEARCH.PR.10 and PR.14): in a VPC, zone-aware, three data nodes."""
        capacity = self.capacity
        if self.vpc is None:
            raise ConfigError(
                "OpenSearchDomainDestination 'vpc' is None in the strict compliance profile: allowed is a VpcPlacement "
                "(settings vpc_id, vpc_subnet_ids and vpc_availability_zones; CT.OPENSEARCH.PR.10)."
            )
        if not capacity.zone_awareness or capacity.instance_count < 3:
            raise ConfigError(
                f"OpenSearchDomainDestination 'capacity' is {capacity!r} in the strict compliance profile: allowed is "
                "zone_awareness with at least three data nodes, e.g. DomainCapacity.strict() (CT.OPENSEARCH.PR.14)."
            )

    def bind(self, scope: Construct, options: DestinationBindOptions) -> DestinationConfig:
        stack = Stack.of(scope)
        strict = is_strict(scope)
        if strict:
            self._check_strict()
        name = physical_name(scope, options.workload_name, max_length=28)
        domain_arn = f"arn:{Aws.PARTITION}:es:{stack.region}:{stack.account}:domain/{name}"
        domain_logs = encrypted_log_group(
            scope, "DomainLogs", key=options.key, retention_days=options.log_retention_days,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        # Audit data: kept when the stack (or the domain) goes.
        audit_logs = encrypted_log_group(
            scope, "DomainAuditLogs", key=options.key, retention_days=options.log_retention_days,
            removal_policy=RemovalPolicy.RETAIN,
        )  # fmt: skip
        # OpenSearch publishes slow, error and audit logs through a CloudWatch Logs resource policy (an account and
        # region resource): this one names only these log groups and this domain.
        logs_policy = logs.CfnResourcePolicy(
            scope,
            "DomainLogsPolicy",
            policy_name=f"opensearch-{name}",
            policy_document=stack.to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OpenSearchLogDelivery",
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                            "Resource": [domain_logs.log_group_arn, audit_logs.log_group_arn],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": stack.account},
                                "ArnLike": {"aws:SourceArn": domain_arn},
                            },
                        }
                    ],
                }
            ),
        )
        network = self._network(scope, options)
        capacity = self.capacity
        domain = opensearch.Domain(
            scope,
            "Domain",
            domain_name=name,
            version=opensearch.EngineVersion.open_search(self.engine_version),
            capacity=opensearch.CapacityConfig(
                data_nodes=capacity.instance_count,
                data_node_instance_type=capacity.instance_type,
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=capacity.volume_size_gib, volume_type=ec2.EbsDeviceVolumeType.GP3),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=True, availability_zone_count=capacity.zone_count)
            if capacity.zone_awareness
            else None,
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True, kms_key=options.key),
            node_to_node_encryption=True,
            enforce_https=True,
            # CT.OPENSEARCH.PR.16 allows Policy-Min-TLS-1-2-2019-07 only (the PFS policy is stricter, not on its list).
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2
            if strict
            else opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
            # An IAM master user (no internal user database, no password): the function that sets the domain up.
            fine_grained_access_control=opensearch.AdvancedSecurityOptions(
                master_user_arn=options.template_role.role_arn
            ),
            logging=opensearch.LoggingOptions(
                slow_search_log_enabled=True,
                slow_search_log_group=domain_logs,
                slow_index_log_enabled=True,
                slow_index_log_group=domain_logs,
                app_log_enabled=True,
                app_log_group=domain_logs,
                audit_log_enabled=True,
                audit_log_group=audit_logs,
            ),
            suppress_logs_resource_policy=True,
            removal_policy=self.removal_policy,
            **network.domain_props,
        )
        domain.node.add_dependency(logs_policy)
        cfn_domain: opensearch.CfnDomain = domain.node.default_child  # type: ignore[assignment]
        # Set on the resource itself (aws-cdk-lib would add an AwsCustomResource to apply ``access_policies``);
        # the ARN is built from the generated name because a resource cannot reference its own ARN.
        cfn_domain.access_policies = iam.PolicyDocument(
            statements=self._access_statements(domain_arn, options)
        ).to_json()
        self._grant(scope, domain_arn, options)
        self._acknowledge(domain)
        stream_destination: dict[str, Any] = {
            "domainArn": domain.domain_arn,
            "indexRotationPeriod": self.index_rotation,
        }
        if network.delivery_group is not None:
            stream_destination["vpcConfiguration"] = {
                "roleArn": options.delivery_role.role_arn,
                "subnetIds": [s.subnet_id for s in network.vpc.private_subnets],  # type: ignore[union-attr]
                "securityGroupIds": [network.delivery_group.security_group_id],
            }
        return DestinationConfig(
            endpoint=domain.domain_endpoint,
            service="es",
            index_replicas=capacity.index_replicas,
            stream_property="amazonopensearchservice_destination_configuration",
            stream_destination=stream_destination,
            domain=domain,
            security=stack.to_json_string(self._security(options)),
            vpc=network.vpc,
            function_security_group=network.function_group,
        )

    def _network(self, scope: Construct, options: DestinationBindOptions) -> _DomainNetwork:
        """Nothing without ``vpc``; else the imported VPC and the security groups of the domain and its clients."""
        if self.vpc is None:
            public_endpoint_warning(scope, "domain")
            return _DomainNetwork()
        vpc = self.vpc.import_vpc(scope, "Vpc")
        groups = store_groups(
            scope, vpc, options.delivery_role, store_id="DomainSecurityGroup", store="The log analytics domain",
            target="the domain",
        )  # fmt: skip
        zones = self.capacity.zone_count if self.capacity.zone_awareness else 1
        return _DomainNetwork(
            vpc=vpc,
            delivery_group=groups.delivery,
            function_group=groups.function,
            domain_props={
                "vpc": vpc,
                "vpc_subnets": [self.vpc.subnets(vpc, zones)],
                "security_groups": [groups.store],
            },
        )

    def _security(self, options: DestinationBindOptions) -> dict[str, Any]:
        """The custom resource's ``Security`` property: OpenSearch roles, their IAM role mappings, audit logging."""
        indices = [f"{self.delivery.index_prefix}*"]
        roles: dict[str, Any] = {
            WRITER_ROLE: {
                "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
                "index_permissions": [
                    {"index_patterns": indices, "allowed_actions": ["create_index", "manage", "crud"]}
                ],
            }
        }
        mappings: dict[str, list[str]] = {WRITER_ROLE: [options.delivery_role.role_arn]}
        if self.readers:
            roles[READER_ROLE] = {
                "cluster_permissions": ["cluster_composite_ops_ro"],
                "index_permissions": [{"index_patterns": indices, "allowed_actions": ["read"]}],
            }
            mappings[READER_ROLE] = list(self.readers)
        return {"roles": roles, "role_mappings": mappings, "audit_logging": True}

    def _access_statements(self, domain_arn: str, options: DestinationBindOptions) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                sid="FirehoseIndexes",
                principals=[iam.ArnPrincipal(options.delivery_role.role_arn)],
                actions=["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                resources=[f"{domain_arn}/*"],
            ),
            iam.PolicyStatement(
                sid="IndexTemplateFunction",
                principals=[iam.ArnPrincipal(options.template_role.role_arn)],
                actions=["es:ESHttpPut", "es:ESHttpGet", "es:ESHttpDelete"],
                resources=[f"{domain_arn}/_index_template/*"],
            ),
            iam.PolicyStatement(
                sid="SecuritySetUp",
                principals=[iam.ArnPrincipal(options.template_role.role_arn)],
                actions=["es:ESHttpPut", "es:ESHttpPatch"],
                resources=[f"{domain_arn}/_plugins/_security/api/*"],
            ),
        ]
        if self.readers:
            statements.append(
                iam.PolicyStatement(
                    sid="Readers",
                    principals=[iam.ArnPrincipal(arn) for arn in self.readers],
                    actions=["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"],
                    resources=[f"{domain_arn}/*"],
                )
            )
        return statements

    @staticmethod
    def _grant(scope: Construct, domain_arn: str, options: DestinationBindOptions) -> None:
        """The identity-side grants matching the access policy: Firehose indexes, the function sets the domain up."""
        options.delivery_role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeDomain",
                actions=["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"],
                resources=[domain_arn],
            )
        )
        options.delivery_role.add_to_policy(
            iam.PolicyStatement(
                sid="IndexDocuments",
                actions=["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                resources=[domain_arn, f"{domain_arn}/*"],
            )
        )
        options.template_role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageIndexTemplate",
                actions=["es:ESHttpPut", "es:ESHttpGet", "es:ESHttpDelete"],
                resources=[f"{domain_arn}/_index_template/*"],
            )
        )
        options.template_role.add_to_policy(
            iam.PolicyStatement(
                sid="SetUpSecurity",
                actions=["es:ESHttpPut", "es:ESHttpPatch"],
                resources=[f"{domain_arn}/_plugins/_security/api/*"],
            )
        )
        acknowledge(
            options.delivery_role,
            f"AwsSolutions-IAM5[Resource::{finding_resource(scope, f'{domain_arn}/*')}]",
            "Firehose calls the domain's bulk, mapping and stats APIs on index paths whose names rotate by date; "
            "the grant is limited to this one domain.",
        )
        acknowledge(
            options.template_role,
            f"AwsSolutions-IAM5[Resource::{finding_resource(scope, f'{domain_arn}/_index_template/*')}]",
            "The function manages index templates of this one domain; the template name is a property of the "
            "custom resource and may change.",
        )
        acknowledge(
            options.template_role,
            f"AwsSolutions-IAM5[Resource::{finding_resource(scope, f'{domain_arn}/_plugins/_security/api/*')}]",
            "As the domain's master user the function writes the OpenSearch roles, role mappings and audit "
            "configuration of this one domain's security plugin.",
        )

    def _acknowledge(self, domain: opensearch.Domain) -> None:
        if self.vpc is None:
            acknowledge(
                domain,
                "AwsSolutions-OS1",
                "No VPC was given (vpc_id, vpc_subnet_ids, vpc_availability_zones): the endpoint is public, and every "
                "request must be SigV4-signed by an IAM principal the access policy names and pass fine-grained "
                "access control; synth warns about it. Pass a VpcPlacement to make the domain private.",
            )
        acknowledge(
            domain,
            "AwsSolutions-OS3",
            "Access is limited to named IAM principals with signed requests, and fine-grained access control maps "
            "each to its own OpenSearch role; Firehose connects from AWS-owned addresses (or, in a VPC, through the "
            "security group), so an IP allowlist would either break delivery or add nothing.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS4",
            "The default is a single small data node for a cost-conscious log-analytics copy of CloudWatch Logs; "
            "dedicated master nodes would triple the instance cost. Use DomainCapacity (instance_count, "
            "zone_awareness) for production.",
        )
        if not self.capacity.zone_awareness:
            acknowledge(
                domain,
                "AwsSolutions-OS7",
                "Single-AZ keeps the default domain cheap; the logs remain in CloudWatch Logs and failed documents in "
                "S3. Use DomainCapacity(zone_awareness=True) with an even instance_count for cross-zone replication.",
            )


@dataclass(frozen=True)
class _DomainNetwork:
    """A domain's network pieces: nothing for a public domain."""

    vpc: ec2.IVpc | None = None
    delivery_group: ec2.ISecurityGroup | None = None
    function_group: ec2.ISecurityGroup | None = None
    domain_props: dict[str, Any] = field(default_factory=dict)
