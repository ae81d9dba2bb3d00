"""The OpenSearch Serverless collection destination of :class:`LogAnalytics`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

from llm_observability.constructs._common import physical_name
from llm_observability.constructs.log_analytics.destination import (
    DestinationBindOptions,
    DestinationConfig,
    OpenSearchDestination,
)
from llm_observability.constructs.log_analytics.network import public_endpoint_warning, store_groups
from llm_observability.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class OpenSearchServerlessDestination(OpenSearchDestination):
    """Deliver the logs into an OpenSearch Serverless ``TIMESERIES`` collection.

    The collection comes with its encryption policy (the construct's customer-managed key), a network
    policy and a data access policy naming only the Firehose role, the index-template function and
    ``readers``. A collection has no index rotation: documents go to the one index ``delivery.index_prefix``.

    The network policy never opens the collection's OpenSearch Dashboards (unused: no rule names them, so
    they are reachable from nowhere). Without ``vpc`` the collection endpoint is public (Firehose delivers over
    it; every request still needs IAM and data access; synth warns). With ``vpc`` it is reachable only through
    an OpenSearch Serverless VPC endpoint (``AWS::OpenSearchServerless::VpcEndpoint``) in the subnets, which
    Firehose (VPC delivery) and the index-template function (in the VPC) use.

    :param standby_replicas: keep standby replicas in another Availability Zone (redundancy; doubles the
        minimum OCUs). Default: False.
    :param readers: ARNs of IAM roles or users with read-only data access to the collection. Default: none.
    :param delivery: how Firehose delivers the documents. Default: ``OpenSearchDelivery()``.
    :param removal_policy: what happens to the collection when removed from the stack. Default: DESTROY.
    """

    standby_replicas: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.standby_replicas, bool):
            raise ConfigError(
                f"OpenSearchServerlessDestination 'standby_replicas' is {self.standby_replicas!r}: allowed is True or "
                "False."
            )

    def bind(self, scope: Construct, options: DestinationBindOptions) -> DestinationConfig:
        name = physical_name(scope, options.workload_name, max_length=28)
        resource = [f"collection/{name}"]
        encryption = aoss.CfnSecurityPolicy(
            scope,
            "EncryptionPolicy",
            name=f"{name}-enc",
            type="encryption",
            description="Encrypts the LLM log collection with the construct's customer-managed key.",
            policy=Stack.of(scope).to_json_string(
                {
                    "Rules": [{"ResourceType": "collection", "Resource": resource}],
                    "AWSOwnedKey": False,
                    "KmsARN": options.key.key_arn,
                }
            ),
        )
        net = self._network(scope, name, options)
        endpoint = net.endpoint
        rule: dict[str, Any] = {"Rules": [{"ResourceType": "collection", "Resource": resource}]}
        if endpoint is None:
            public_endpoint_warning(scope, "Serverless collection")
            rule["AllowFromPublic"] = True
            description = "Public collection endpoint (IAM and data access still apply); no dashboards access."
        else:
            rule |= {"AllowFromPublic": False, "SourceVPCEs": [endpoint.attr_id]}
            description = "The collection only through the VPC endpoint; no dashboards access."
        network = aoss.CfnSecurityPolicy(
            scope,
            "NetworkPolicy",
            name=f"{name}-net",
            type="network",
            description=description,
            policy=Stack.of(scope).to_json_string([rule]),
        )
        collection = aoss.CfnCollection(
            scope,
            "Collection",
            name=name,
            type="TIMESERIES",
            description=f"Structured logs of {options.workload_name}.",
            standby_replicas="ENABLED" if self.standby_replicas else "DISABLED",
        )
        collection.apply_removal_policy(self.removal_policy)
        collection.node.add_dependency(encryption)
        collection.node.add_dependency(network)
        access = aoss.CfnAccessPolicy(
            scope,
            "DataAccessPolicy",
            name=f"{name}-data",
            type="data",
            description="Who may write, template and read the LLM log collection.",
            policy=Stack.of(scope).to_json_string(self._access_rules(name, options)),
        )
        for role in (options.delivery_role, options.template_role):
            role.add_to_policy(
                iam.PolicyStatement(sid="CollectionDataPlane", actions=["aoss:APIAccessAll"],
                                    resources=[collection.attr_arn])
            )  # fmt: skip
        stream_destination: dict[str, Any] = {"collectionEndpoint": collection.attr_collection_endpoint}
        if net.vpc is not None and net.delivery_group is not None:
            stream_destination["vpcConfiguration"] = {
                "roleArn": options.delivery_role.role_arn,
                "subnetIds": [s.subnet_id for s in net.vpc.private_subnets],
                "securityGroupIds": [net.delivery_group.security_group_id],
            }
        return DestinationConfig(
            endpoint=collection.attr_collection_endpoint,
            service="aoss",
            index_replicas=None,
            stream_property="amazon_open_search_serverless_destination_configuration",
            stream_destination=stream_destination,
            dependables=(access, network, encryption) + ((endpoint,) if endpoint is not None else ()),
            collection=collection,
            vpc=net.vpc,
            function_security_group=net.function_group,
        )

    def _network(self, scope: Construct, name: str, options: DestinationBindOptions) -> _CollectionNetwork:
        """Without ``vpc``: nothing. Else the collection's VPC endpoint and the groups of Firehose and the function."""
        if self.vpc is None:
            return _CollectionNetwork()
        vpc = self.vpc.import_vpc(scope, "Vpc")
        groups = store_groups(
            scope, vpc, options.delivery_role, store_id="EndpointSecurityGroup",
            store="The log collection VPC endpoint", target="the collection endpoint",
        )  # fmt: skip
        endpoint = aoss.CfnVpcEndpoint(
            scope,
            "VpcEndpoint",
            name=f"{name}-vpce"[:32],
            vpc_id=self.vpc.vpc_id,
            subnet_ids=list(self.vpc.subnet_ids),
            security_group_ids=[groups.store.security_group_id],
        )
        return _CollectionNetwork(endpoint, vpc, groups.delivery, groups.function)

    def _access_rules(self, name: str, options: DestinationBindOptions) -> list[dict[str, Any]]:
        resource, index = [f"collection/{name}"], [f"index/{name}/*"]
        rules: list[dict[str, Any]] = [
            {
                "Description": "Firehose writes the log documents.",
                "Rules": [
                    {"ResourceType": "index", "Resource": index,
                     "Permission": ["aoss:CreateIndex", "aoss:UpdateIndex", "aoss:DescribeIndex",
                                    "aoss:WriteDocument"]},
                ],
                "Principal": [options.delivery_role.role_arn],
            },
            {
                "Description": "The custom resource manages the index template.",
                "Rules": [
                    {"ResourceType": "collection", "Resource": resource,
                     "Permission": ["aoss:CreateCollectionItems", "aoss:UpdateCollectionItems",
                                    "aoss:DescribeCollectionItems", "aoss:DeleteCollectionItems"]},
                    {"ResourceType": "index", "Resource": index,
                     "Permission": ["aoss:CreateIndex", "aoss:UpdateIndex", "aoss:DescribeIndex"]},
                ],
                "Principal": [options.template_role.role_arn],
            },
        ]  # fmt: skip
        if self.readers:
            rules.append(
                {
                    "Description": "Readers search the logs.",
                    "Rules": [
                        {"ResourceType": "collection", "Resource": resource,
                         "Permission": ["aoss:DescribeCollectionItems"]},
                        {"ResourceType": "index", "Resource": index,
                         "Permission": ["aoss:DescribeIndex", "aoss:ReadDocument"]},
                    ],
                    "Principal": list(self.readers),
                }
            )  # fmt: skip
        return rules


@dataclass(frozen=True)
class _CollectionNetwork:
    """A collection's network pieces: nothing for a public collection."""

    endpoint: aoss.CfnVpcEndpoint | None = None
    vpc: ec2.IVpc | None = None
    delivery_group: ec2.ISecurityGroup | None = None
    function_group: ec2.ISecurityGroup | None = None
