"""The OpenSearch Serverless collection destination of :class:`LogAnalytics`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

from llm_observability.constructs._common import physical_name
from llm_observability.constructs.log_analytics.destination import (
    DestinationBindOptions,
    DestinationConfig,
    OpenSearchDestination,
)
from llm_observability.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class OpenSearchServerlessDestination(OpenSearchDestination):
    """Deliver the logs into an OpenSearch Serverless ``TIMESERIES`` collection.

    The collection comes with its encryption policy (the construct's customer-managed key), a network
    policy (public endpoint: Firehose delivers over it, and every request still needs IAM and data access)
    and a data access policy naming only the Firehose role, the index-template function and ``readers``.
    A collection has no index rotation: documents go to the one index ``delivery.index_prefix``.

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
        network = aoss.CfnSecurityPolicy(
            scope,
            "NetworkPolicy",
            name=f"{name}-net",
            type="network",
            description="Firehose delivers over the public endpoint; every request still needs IAM and data access.",
            policy=json.dumps(
                [
                    {
                        "Rules": [
                            {"ResourceType": "collection", "Resource": resource},
                            {"ResourceType": "dashboard", "Resource": resource},
                        ],
                        "AllowFromPublic": True,
                    }
                ]
            ),
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
        return DestinationConfig(
            endpoint=collection.attr_collection_endpoint,
            service="aoss",
            index_replicas=None,
            stream_property="amazon_open_search_serverless_destination_configuration",
            stream_destination={"collectionEndpoint": collection.attr_collection_endpoint},
            dependables=(access, network, encryption),
            collection=collection,
        )

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
