"""The contract between :class:`LogAnalytics` and its OpenSearch destinations, and the props they share.

Modelled on aws-cdk-lib's Firehose destinations: a destination is a small immutable props object whose
``bind(scope, options)`` creates the store (a domain or a collection) in the construct's scope, grants the
construct's roles, and returns a :class:`DestinationConfig` with what the delivery stream and the index
template need.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from aws_cdk import RemovalPolicy, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct, IDependable

from llm_observability.constructs.log_analytics.network import VpcPlacement
from llm_observability.errors import ConfigError
from llm_observability.validation import pattern, whole_number

#: How often a domain destination starts a new index (``<index_prefix>-<date>``).
IndexRotation = Literal["NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"]
INDEX_ROTATIONS: tuple[str, ...] = get_args(IndexRotation)
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_INDEX_PREFIX = re.compile(r"^[a-z][a-z0-9_-]{0,79}$")
_INDEX_PREFIX_ALLOWED = "1-80 lower-case letters, digits, '-' or '_', starting with a letter"


@dataclass(frozen=True, kw_only=True)
class OpenSearchDelivery:
    """How Amazon Data Firehose delivers the log documents; the same settings for a domain and a collection.

    :param index_prefix: index name (collection) or prefix of the rotated index names (domain); 1-80
        lower-case letters, digits, ``-`` or ``_``, starting with a letter. Default: ``llm-logs``.
    :param buffer_interval_seconds: Firehose buffering interval, 0-900. Default: 60.
    :param buffer_size_mib: Firehose buffering size, 1-100 MiB. Default: 5.
    :param retry_seconds: how long Firehose retries a failed bulk request before backing it up, 0-7200. Default: 300.
    :param backup_retention_days: days failed documents stay in the backup bucket, 1-3650. Default: 90.
    """

    index_prefix: str = "llm-logs"
    buffer_interval_seconds: int = 60
    buffer_size_mib: int = 5
    retry_seconds: int = 300
    backup_retention_days: int = 90

    def __post_init__(self) -> None:
        owner = type(self).__name__
        pattern("index_prefix", self.index_prefix, _INDEX_PREFIX, _INDEX_PREFIX_ALLOWED, owner=owner)
        whole_number("buffer_interval_seconds", self.buffer_interval_seconds, 0, 900, owner=owner)
        whole_number("buffer_size_mib", self.buffer_size_mib, 1, 100, owner=owner)
        whole_number("retry_seconds", self.retry_seconds, 0, 7200, owner=owner)
        whole_number("backup_retention_days", self.backup_retention_days, 1, 3650, owner=owner)


@dataclass(frozen=True)
class DestinationBindOptions:
    """What :class:`LogAnalytics` hands a destination's ``bind``.

    :param workload_name: the workload's name, for the store's physical name and description.
    :param key: the construct's KMS key (store encryption, log groups).
    :param delivery_role: the Firehose role, to be allowed to index documents.
    :param template_role: the index-template function's role, to be allowed to put the index template.
    :param log_retention_days: retention of log groups the destination creates.
    """

    workload_name: str
    key: kms.IKey
    delivery_role: iam.Role
    template_role: iam.Role
    log_retention_days: int


@dataclass(frozen=True)
class DestinationConfig:
    """What a destination's ``bind`` returns.

    :param endpoint: the store's endpoint, where the index template is put.
    :param service: the SigV4 service name of the store's data plane (``es`` or ``aoss``).
    :param index_replicas: replicas the index template sets; None leaves shards to the store (Serverless).
    :param stream_property: the ``CfnDeliveryStream`` keyword argument of the destination configuration.
    :param stream_destination: the destination's own keys of that configuration (domain ARN or collection endpoint).
    :param dependables: what the index template and the stream must wait for besides the store itself.
    :param domain: the managed domain, for a domain destination.
    :param collection: the Serverless collection, for a Serverless destination.
    :param security: the index-template resource's ``Security`` property (roles, mappings, audit), if any.
    :param vpc: the VPC the store is reached in; the index-template function then runs there too.
    :param function_security_group: the index-template function's security group in ``vpc``.
    """

    endpoint: str
    service: Literal["es", "aoss"]
    index_replicas: int | None
    stream_property: Literal[
        "amazonopensearchservice_destination_configuration", "amazon_open_search_serverless_destination_configuration"
    ]
    stream_destination: dict[str, Any]
    dependables: tuple[IDependable, ...] = ()
    domain: opensearch.Domain | None = None
    collection: aoss.CfnCollection | None = None
    security: str | None = None
    vpc: ec2.IVpc | None = None
    function_security_group: ec2.ISecurityGroup | None = None


@dataclass(frozen=True, kw_only=True)
class OpenSearchDestination(ABC):
    """Props every OpenSearch destination has; subclasses add the store's own and implement ``bind``.

    :param readers: ARNs of IAM roles or users that may search the logs (no wildcards). Default: none.
    :param delivery: how Firehose delivers the documents. Default: ``OpenSearchDelivery()``.
    :param removal_policy: what happens to the domain or collection when removed from the stack; the logs
        stay in CloudWatch Logs and failed documents in the retained bucket. Default: DESTROY.
    :param vpc: the user's VPC and subnets: the store is reached only from there (Firehose delivers through
        ENIs in the subnets, the index-template function runs there). Default: none (a public endpoint that
        still needs IAM; synth warns).
    """

    readers: Sequence[str] = ()
    delivery: OpenSearchDelivery = field(default_factory=OpenSearchDelivery)
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    vpc: VpcPlacement | None = None

    def __post_init__(self) -> None:
        readers = self.readers
        if isinstance(readers, str) or not all(
            isinstance(arn, str) and (Token.is_unresolved(arn) or (_PRINCIPAL_ARN.match(arn) and "*" not in arn))
            for arn in readers
        ):
            raise ConfigError(
                f"{type(self).__name__} 'readers' is {readers!r}: allowed is a list of IAM role or user ARNs "
                "without wildcards."
            )
        object.__setattr__(self, "readers", tuple(readers))
        if not isinstance(self.delivery, OpenSearchDelivery):
            raise ConfigError(
                f"{type(self).__name__} 'delivery' is {self.delivery!r}: allowed is an OpenSearchDelivery."
            )
        if self.vpc is not None and not isinstance(self.vpc, VpcPlacement):
            raise ConfigError(f"{type(self).__name__} 'vpc' is {self.vpc!r}: allowed is a VpcPlacement or None.")

    @abstractmethod
    def bind(self, scope: Construct, options: DestinationBindOptions) -> DestinationConfig:
        """Create the store in ``scope``, grant ``options``' roles on it, and say how to deliver to it."""
