"""Level 3 log analytics: the application's log groups -> Amazon Data Firehose -> Amazon OpenSearch.

The Firehose helpers it shares with :mod:`prometheus` live in ``_common``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from llm_observability.config import LOG_RETENTION_DAYS
from llm_observability.constructs._common import (
    allow_s3_delivery,
    asset_function,
    encrypted_log_group,
    failure_bucket,
    firehose_role,
    function_role,
    log_encryption_key,
    physical_name,
)
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.workload import Workload

INDEX_ROTATIONS = ("NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth")
#: Allowed data-node instance types: T3 or larger (T2 supports neither encryption at rest nor
#: fine-grained access control, so it cannot host this domain).
_INSTANCE_TYPE = re.compile(r"^(?!t2\.)[a-z0-9]+\.[a-z0-9]+\.search$")
_ENGINE_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_INDEX_PREFIX = re.compile(r"^[a-z][a-z0-9_-]{0,79}$")
#: Powertools' timestamp ("2024-05-01 12:00:00,123+0000"), ISO 8601, or epoch milliseconds.
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss,SSSZ||strict_date_optional_time||epoch_millis"
#: Default subscription filter: every log event (plain-text lines become ``{"message": ...}`` documents).
DEFAULT_FILTER_PATTERN = ""
#: Firehose buffers the (gzip-compressed) CloudWatch Logs records this much before invoking the processor.
PROCESSOR_BUFFER_MIB = 1
PROCESSOR_BUFFER_SECONDS = 60
PROCESSOR_RETRIES = 3
TEMPLATE_RESOURCE_TYPE = "Custom::OpenSearchIndexTemplate"
#: Namespace of the processor's own metrics.
LOG_METRICS_NAMESPACE = "LLMObservability/LogAnalytics"


# --- index template ----------------------------------------------------------------------------------------------------


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 1024}


def index_mappings() -> dict[str, Any]:
    """Mappings of the application's structured log fields (Powertools records of ``functions/rag_api``)."""
    integer, long_, float_ = {"type": "integer"}, {"type": "long"}, {"type": "float"}
    text = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    return {
        "dynamic": True,
        "date_detection": False,
        "dynamic_templates": [
            {"stage_latencies": {"path_match": "latency_ms.stages.*", "mapping": {"type": "float"}}},
            {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _keyword()}},
        ],
        "properties": {
            "@timestamp": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
            "timestamp": {"type": "date", "format": TIMESTAMP_FORMAT},  # Powertools' own time stamp
            "time": {"type": "date", "format": TIMESTAMP_FORMAT},  # Lambda's JSON log format
            "level": _keyword(),
            "message": text,
            "location": _keyword(),
            "service": _keyword(),
            "correlation_id": _keyword(),
            "xray_trace_id": _keyword(),
            "function_name": _keyword(),
            "function_request_id": _keyword(),
            "cold_start": {"type": "boolean"},
            "model_id": _keyword(),
            "prompt_version": _keyword(),
            "prompt": {
                "properties": {
                    "template_version": _keyword(),
                    "temperature": float_,
                    "top_p": float_,
                    "top_k": integer,
                    "max_tokens": integer,
                    "length": integer,
                    "stop_sequences": _keyword(),
                }
            },
            "retrieval": {"properties": {"count": integer, "top_score": float_, "cache_hit": {"type": "boolean"}}},
            "usage": {"properties": {"input_tokens": long_, "output_tokens": long_, "total_tokens": long_}},
            "estimated_cost_usd": {"type": "double"},
            "stop_reason": _keyword(),
            "latency_ms": {
                "properties": {"end_to_end": float_, "inference_model": float_, "stages": {"type": "object"}}
            },
            "question_chars": integer,
            "answer_chars": integer,
            "pii_redactions": integer,
            "question": {"type": "text"},
            "answer": {"type": "text"},
            "status": integer,
            "error_class": _keyword(),
            "stage": _keyword(),
            "aws_error_code": _keyword(),
            "reason": text,
            "exception_name": _keyword(),
            "exception": {"type": "text"},
            "truncated": {"type": "boolean"},
            "cloudwatch": {
                "properties": {
                    "log_group": _keyword(),
                    "log_stream": _keyword(),
                    "event_id": _keyword(),
                    "owner": _keyword(),
                }
            },
            "feedback_request_id": _keyword(),
            "score": integer,
            "guardrail": {
                "properties": {
                    "intervened": {"type": "boolean"},
                    "policies": _keyword(),
                    "grounding_score": float_,
                    "relevance_score": float_,
                }
            },
        },
    }


def index_template(index_prefix: str, *, replicas: int | None) -> dict[str, Any]:
    """The composable index template for ``<index_prefix>*``.

    ``replicas`` (a managed domain) also sets shard/replica counts and search/index slow-log thresholds;
    None (OpenSearch Serverless, which manages shards itself and accepts no such settings) sets mappings only.
    """
    template: dict[str, Any] = {"mappings": index_mappings()}
    if replicas is not None:
        template["settings"] = {
            "index.number_of_shards": 1,
            "index.number_of_replicas": replicas,
            "index.search.slowlog.threshold.query.warn": "5s",
            "index.search.slowlog.threshold.query.info": "2s",
            "index.search.slowlog.threshold.fetch.warn": "1s",
            "index.indexing.slowlog.threshold.index.warn": "5s",
            "index.indexing.slowlog.threshold.index.info": "2s",
        }
    return {
        "index_patterns": [f"{index_prefix}*"],
        "priority": 100,
        "template": template,
        "_meta": {"managed_by": "cdk-llm-observability"},
    }


# --- the construct -----------------------------------------------------------------------------------------------------


class LogAnalytics(Construct):
    """Streams the workload's log groups into OpenSearch for search and dashboards.

    Each log group of ``workload.log_groups`` gets a subscription filter (``AWS::Logs::SubscriptionFilter``,
    with a role only CloudWatch Logs of this account may assume) to a KMS-encrypted Amazon Data Firehose
    stream. CloudWatch Logs packs many log events into one gzip record, which an OpenSearch destination
    would index as one document (Firehose's built-in decompression and message extraction do not support
    OpenSearch destinations), so the stream's Lambda processor (``functions/log_records_processor``)
    turns each log event into its own JSON document: the first one replaces the record, the others are
    put back into the stream as single-document records. Firehose bulk-indexes the documents into
    ``<index_prefix>-<date>`` (daily indices by default). Documents OpenSearch rejects, and everything
    that cannot be delivered within the retry window, go to a retained, KMS-encrypted S3 bucket
    (``S3BackupMode: FailedDocumentsOnly``); records the processor cannot read go there too
    (``processing-failed/``), so no record is lost.

    The destination is, by default, a small managed domain (``aws_opensearchservice.Domain``): one
    ``t3.small.search`` data node (the cheapest type that supports encryption at rest; T2 does not) with
    a 10 GiB gp3 volume, KMS encryption at rest, node-to-node encryption, HTTPS only with TLS 1.2 (PFS
    cipher suites), search/index slow logs and error logs in an encrypted log group, and an IAM domain
    access policy that names only the Firehose role, the index-template function and ``readers`` (no
    anonymous or wildcard principal; requests must be SigV4-signed). ``serverless=True`` uses an
    OpenSearch Serverless ``TIMESERIES`` collection instead, with its encryption (customer-managed key),
    network and data access policies.

    An index template for the structured log fields (``@timestamp`` (the event time), ``level``,
    ``correlation_id``, ``model_id``, ``prompt.template_version``, ``latency_ms.end_to_end`` (float),
    ``usage.total_tokens`` (long), ``error_class`` (keyword), ...) is put by a custom resource
    (``Custom::OpenSearchIndexTemplate``, code in ``functions/opensearch_index_template``) before any
    document arrives, so every rotated index gets the same mappings.

    :param workload: the application; its ``log_groups`` are streamed (at least one).
    :param serverless: use an OpenSearch Serverless collection instead of a managed domain. Default: False.
    :param instance_type: data-node instance type of the domain (T3 or larger). Default: ``t3.small.search``.
    :param instance_count: data nodes of the domain. Default: 1.
    :param volume_size_gib: gp3 EBS volume per data node, GiB (10-1024). Default: 10.
    :param zone_awareness: spread the domain's nodes over two Availability Zones (needs an even
        ``instance_count``; the index template then keeps one replica). Default: False.
    :param engine_version: OpenSearch version of the domain, ``major.minor``. Default: ``2.19``.
    :param readers: ARNs of IAM roles or users that may search the domain (SigV4, ``es:ESHttpGet/Head/Post``)
        or the collection (read-only data access). Default: none.
    :param index_prefix: index name (serverless) or prefix of the rotated index names. Default: ``llm-logs``.
    :param index_rotation: ``NoRotation``, ``OneHour``, ``OneDay``, ``OneWeek`` or ``OneMonth``; a collection
        has no rotation (``NoRotation`` only). Default: ``OneDay`` for a domain.
    :param filter_pattern: subscription filter pattern, e.g. ``{ $.level = "*" }`` for structured records
        only. Default: ``""`` (every event; plain-text lines are indexed as ``message``).
    :param buffer_interval_seconds: Firehose buffering interval, 0-900. Default: 60.
    :param buffer_size_mib: Firehose buffering size, 1-100 MiB. Default: 5.
    :param retry_seconds: how long Firehose retries a failed bulk request before backing it up, 0-7200. Default: 300.
    :param backup_retention_days: days failed documents stay in the backup bucket. Default: 90.
    :param log_retention_days: retention of the slow/error log, delivery-error and function log groups. Default: 30.
    :param standby_replicas: OpenSearch Serverless standby replicas (redundancy, doubles the minimum
        OCUs). Default: False.
    :param removal_policy: what happens to the domain or collection when removed from the stack; the
        logs stay in CloudWatch Logs and failed documents in the retained bucket. Default: DESTROY.
    :param key: KMS key for the domain/collection, stream, bucket and log groups. Default: a new rotating key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        serverless: bool = False,
        instance_type: str = "t3.small.search",
        instance_count: int = 1,
        volume_size_gib: int = 10,
        zone_awareness: bool = False,
        engine_version: str = "2.19",
        readers: Sequence[str] = (),
        index_prefix: str = "llm-logs",
        index_rotation: str | None = None,
        filter_pattern: str | None = None,
        buffer_interval_seconds: int = 60,
        buffer_size_mib: int = 5,
        retry_seconds: int = 300,
        backup_retention_days: int = 90,
        log_retention_days: int = 30,
        standby_replicas: bool = False,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        _validate(
            workload=workload, serverless=serverless, instance_type=instance_type, instance_count=instance_count,
            volume_size_gib=volume_size_gib, zone_awareness=zone_awareness, engine_version=engine_version,
            readers=readers, index_prefix=index_prefix, index_rotation=index_rotation,
            buffer_interval_seconds=buffer_interval_seconds, buffer_size_mib=buffer_size_mib,
            retry_seconds=retry_seconds, backup_retention_days=backup_retention_days,
            log_retention_days=log_retention_days,
        )  # fmt: skip
        self.workload = workload
        self.serverless = serverless
        self.index_prefix = index_prefix
        self.readers = tuple(readers)
        self.key = key or log_encryption_key(
            self, "Key", description=f"Encrypts the {workload.name} log analytics (OpenSearch, Firehose, S3, logs)."
        )
        self.backup_bucket = failure_bucket(
            self, "FailedDocuments", key=self.key, retention_days=backup_retention_days
        )
        self.delivery_role = firehose_role(
            self, "DeliveryRole", description="Lets Amazon Data Firehose index the application's logs into OpenSearch."
        )
        allow_s3_delivery(self.delivery_role, self.backup_bucket, self.key)
        self.delivery_log_group = encrypted_log_group(
            self,
            "DeliveryErrors",
            key=self.key,
            retention_days=log_retention_days,
            removal_policy=RemovalPolicy.DESTROY,
        )
        delivery_log_stream = logs.LogStream(self, "DeliveryErrorStream", log_group=self.delivery_log_group)
        self.delivery_log_group.grant_write(self.delivery_role)

        # The index-template custom resource's function (its role is a principal of the access policies).
        self.template_role, template_logs = function_role(
            self, "IndexTemplate", key=self.key, retention_days=log_retention_days,
            description="Puts the log index template into OpenSearch (custom resource).",
        )  # fmt: skip

        self.domain: opensearch.Domain | None = None
        self.collection: aoss.CfnCollection | None = None
        if serverless:
            endpoint, service, replicas = self._collection(standby_replicas, removal_policy), "aoss", None
        else:
            index_rotation = index_rotation or "OneDay"
            endpoint, service = self._domain(
                instance_type, instance_count, volume_size_gib, zone_awareness, engine_version,
                log_retention_days, removal_policy,
            ), "es"  # fmt: skip
            replicas = 1 if (zone_awareness or instance_count > 1) else 0
        self.template_body = index_template(index_prefix, replicas=replicas)

        template_function = asset_function(
            self,
            "IndexTemplateFunction",
            folder="opensearch_index_template",
            handler="handler.on_event",
            description="Custom resource: puts the LLM log index template into OpenSearch (SigV4).",
            role=self.template_role,
            log_group=template_logs,
            timeout=Duration.minutes(5),
            memory_size=256,
        )
        self.index_template_resource = CustomResource(
            self,
            "IndexTemplateResource",
            service_token=template_function.function_arn,
            resource_type=TEMPLATE_RESOURCE_TYPE,
            properties={
                "Endpoint": endpoint,
                "Service": service,
                "TemplateName": f"{index_prefix}-template",
                "TemplateBody": json.dumps(self.template_body, sort_keys=True),
            },
        )

        if serverless:
            self.index_template_resource.node.add_dependency(*self._collection_dependencies)

        processor_role, processor_logs = function_role(
            self, "Processor", key=self.key, retention_days=log_retention_days,
            description="Splits CloudWatch Logs records into one OpenSearch document per log event.",
        )  # fmt: skip
        self.processor = asset_function(
            self,
            "ProcessorFunction",
            folder="log_records_processor",
            description="Firehose processor: CloudWatch Logs records -> one JSON document per log event.",
            role=processor_role,
            log_group=processor_logs,
            timeout=Duration.minutes(2),
            memory_size=512,
            environment={"METRICS_NAMESPACE": LOG_METRICS_NAMESPACE, "SERVICE_NAME": workload.name},
        )
        self.delivery_role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeProcessor",
                actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                resources=[self.processor.function_arn],
            )
        )

        self.delivery_stream = self._delivery_stream(
            endpoint, index_rotation, buffer_interval_seconds, buffer_size_mib, retry_seconds, delivery_log_stream
        )
        # Documents must not arrive before the template that maps them.
        self.delivery_stream.node.add_dependency(self.index_template_resource)
        self.delivery_stream.node.add_dependency(self.delivery_role)
        # A separate policy (not the role's default one, which the function depends on) avoids a cycle:
        # function -> policy -> stream -> function.
        reingest = iam.Policy(
            self,
            "ReingestPolicy",
            roles=[processor_role],
            statements=[
                iam.PolicyStatement(actions=["firehose:PutRecordBatch"], resources=[self.delivery_stream.attr_arn])
            ],
        )
        self._subscriptions(DEFAULT_FILTER_PATTERN if filter_pattern is None else filter_pattern, reingest)

    # -- destinations -----------------------------------------------------------------------------------------------

    def _domain(
        self,
        instance_type: str,
        instance_count: int,
        volume_size_gib: int,
        zone_awareness: bool,
        engine_version: str,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> str:
        stack = Stack.of(self)
        self.domain_name = physical_name(self, self.workload.name, max_length=28)
        domain_arn = f"arn:{Aws.PARTITION}:es:{stack.region}:{stack.account}:domain/{self.domain_name}"
        self.domain_log_group = encrypted_log_group(
            self, "DomainLogs", key=self.key, retention_days=log_retention_days, removal_policy=RemovalPolicy.DESTROY
        )
        # OpenSearch publishes slow and error logs through a CloudWatch Logs resource policy (an account and
        # region resource): this one names only this log group and this domain.
        logs_policy = logs.CfnResourcePolicy(
            self,
            "DomainLogsPolicy",
            policy_name=f"opensearch-{self.domain_name}",
            policy_document=stack.to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OpenSearchLogDelivery",
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                            "Resource": self.domain_log_group.log_group_arn,
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": stack.account},
                                "ArnLike": {"aws:SourceArn": domain_arn},
                            },
                        }
                    ],
                }
            ),
        )
        domain = opensearch.Domain(
            self,
            "Domain",
            domain_name=self.domain_name,
            version=opensearch.EngineVersion.open_search(engine_version),
            capacity=opensearch.CapacityConfig(
                data_nodes=instance_count,
                data_node_instance_type=instance_type,
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=volume_size_gib, volume_type=ec2.EbsDeviceVolumeType.GP3),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=zone_awareness, availability_zone_count=2)
            if zone_awareness
            else None,
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True, kms_key=self.key),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
            logging=opensearch.LoggingOptions(
                slow_search_log_enabled=True,
                slow_search_log_group=self.domain_log_group,
                slow_index_log_enabled=True,
                slow_index_log_group=self.domain_log_group,
                app_log_enabled=True,
                app_log_group=self.domain_log_group,
            ),
            suppress_logs_resource_policy=True,
            removal_policy=removal_policy,
        )
        domain.node.add_dependency(logs_policy)
        self.domain = domain
        cfn_domain: opensearch.CfnDomain = domain.node.default_child  # type: ignore[assignment]
        # Set on the resource itself (aws-cdk-lib would add an AwsCustomResource to apply ``access_policies``);
        # the ARN is built from the generated name because a resource cannot reference its own ARN.
        cfn_domain.access_policies = iam.PolicyDocument(statements=self._domain_access_statements(domain_arn)).to_json()

        self.delivery_role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeDomain",
                actions=["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"],
                resources=[domain_arn],
            )
        )
        self.delivery_role.add_to_policy(
            iam.PolicyStatement(
                sid="IndexDocuments",
                actions=["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                resources=[domain_arn, f"{domain_arn}/*"],
            )
        )
        self.template_role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageIndexTemplate",
                actions=["es:ESHttpPut", "es:ESHttpGet", "es:ESHttpDelete"],
                resources=[f"{domain_arn}/_index_template/*"],
            )
        )
        acknowledge(
            self.delivery_role,
            f"AwsSolutions-IAM5[Resource::{finding_resource(self, f'{domain_arn}/*')}]",
            "Firehose calls the domain's bulk, mapping and stats APIs on index paths whose names rotate by date; "
            "the grant is limited to this one domain.",
        )
        acknowledge(
            self.template_role,
            f"AwsSolutions-IAM5[Resource::{finding_resource(self, f'{domain_arn}/_index_template/*')}]",
            "The function manages index templates of this one domain; the template name is a property of the "
            "custom resource and may change.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS1",
            "Firehose delivers to the public HTTPS endpoint, and every request must be SigV4-signed by one of the "
            "IAM principals named in the access policy; a VPC would add subnets, endpoints and NAT cost to a small "
            "log-analytics domain without narrowing who can call it.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS3",
            "Access is limited to named IAM principals with signed requests; Firehose connects from AWS-owned "
            "addresses, so an IP allowlist would either break delivery or add nothing.",
        )
        acknowledge(
            domain,
            "AwsSolutions-OS4",
            "The default is a single small data node for a cost-conscious log-analytics copy of CloudWatch Logs; "
            "dedicated master nodes would triple the instance cost. Use instance_count/zone_awareness for production.",
        )
        if not zone_awareness:
            acknowledge(
                domain,
                "AwsSolutions-OS7",
                "Single-AZ keeps the default domain cheap; the logs remain in CloudWatch Logs and failed documents in "
                "S3. Pass zone_awareness=True with an even instance_count for cross-zone replication.",
            )
        return domain.domain_endpoint

    def _domain_access_statements(self, domain_arn: str) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                sid="FirehoseIndexes",
                principals=[iam.ArnPrincipal(self.delivery_role.role_arn)],
                actions=["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                resources=[f"{domain_arn}/*"],
            ),
            iam.PolicyStatement(
                sid="IndexTemplateFunction",
                principals=[iam.ArnPrincipal(self.template_role.role_arn)],
                actions=["es:ESHttpPut", "es:ESHttpGet", "es:ESHttpDelete"],
                resources=[f"{domain_arn}/_index_template/*"],
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

    def _collection(self, standby_replicas: bool, removal_policy: RemovalPolicy) -> str:
        name = physical_name(self, self.workload.name, max_length=28)
        self.collection_name = name
        resource = [f"collection/{name}"]
        encryption = aoss.CfnSecurityPolicy(
            self,
            "EncryptionPolicy",
            name=f"{name}-enc",
            type="encryption",
            description="Encrypts the LLM log collection with the construct's customer-managed key.",
            policy=Stack.of(self).to_json_string(
                {
                    "Rules": [{"ResourceType": "collection", "Resource": resource}],
                    "AWSOwnedKey": False,
                    "KmsARN": self.key.key_arn,
                }
            ),
        )
        network = aoss.CfnSecurityPolicy(
            self,
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
            self,
            "Collection",
            name=name,
            type="TIMESERIES",
            description=f"Structured logs of {self.workload.name}.",
            standby_replicas="ENABLED" if standby_replicas else "DISABLED",
        )
        collection.apply_removal_policy(removal_policy)
        collection.node.add_dependency(encryption)
        collection.node.add_dependency(network)
        self.collection = collection

        index = [f"index/{name}/*"]
        rules: list[dict[str, Any]] = [
            {
                "Description": "Firehose writes the log documents.",
                "Rules": [
                    {"ResourceType": "index", "Resource": index,
                     "Permission": ["aoss:CreateIndex", "aoss:UpdateIndex", "aoss:DescribeIndex", "aoss:WriteDocument"]},
                ],
                "Principal": [self.delivery_role.role_arn],
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
                "Principal": [self.template_role.role_arn],
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
        access = aoss.CfnAccessPolicy(
            self,
            "DataAccessPolicy",
            name=f"{name}-data",
            type="data",
            description="Who may write, template and read the LLM log collection.",
            policy=Stack.of(self).to_json_string(rules),
        )
        for role in (self.delivery_role, self.template_role):
            role.add_to_policy(
                iam.PolicyStatement(sid="CollectionDataPlane", actions=["aoss:APIAccessAll"],
                                    resources=[collection.attr_arn])
            )  # fmt: skip
        self.data_access_policy = access
        self.collection_endpoint = collection.attr_collection_endpoint
        self.dashboards_endpoint = collection.attr_dashboard_endpoint
        self._collection_dependencies = (access, network, encryption)
        return collection.attr_collection_endpoint

    def _delivery_stream(
        self,
        endpoint: str,
        index_rotation: str | None,
        buffer_interval_seconds: int,
        buffer_size_mib: int,
        retry_seconds: int,
        log_stream: logs.LogStream,
    ) -> firehose.CfnDeliveryStream:
        logging_options = {
            "enabled": True,
            "logGroupName": self.delivery_log_group.log_group_name,
            "logStreamName": log_stream.log_stream_name,
        }
        s3_configuration = {
            "bucketArn": self.backup_bucket.bucket_arn,
            "roleArn": self.delivery_role.role_arn,
            "prefix": "failed-documents/",
            "compressionFormat": "GZIP",
            "encryptionConfiguration": {"kmsEncryptionConfig": {"awskmsKeyArn": self.key.key_arn}},
            "bufferingHints": {"intervalInSeconds": 300, "sizeInMBs": 5},
            "cloudWatchLoggingOptions": logging_options,
        }
        processing = {
            "enabled": True,
            "processors": [
                {
                    "type": "Lambda",
                    "parameters": [
                        {"parameterName": "LambdaArn", "parameterValue": self.processor.function_arn},
                        {"parameterName": "NumberOfRetries", "parameterValue": str(PROCESSOR_RETRIES)},
                        {"parameterName": "BufferSizeInMBs", "parameterValue": str(PROCESSOR_BUFFER_MIB)},
                        {"parameterName": "BufferIntervalInSeconds", "parameterValue": str(PROCESSOR_BUFFER_SECONDS)},
                    ],
                }
            ],
        }
        common = {
            "indexName": self.index_prefix,
            "roleArn": self.delivery_role.role_arn,
            "bufferingHints": {"intervalInSeconds": buffer_interval_seconds, "sizeInMBs": buffer_size_mib},
            "retryOptions": {"durationInSeconds": retry_seconds},
            "s3BackupMode": "FailedDocumentsOnly",
            "s3Configuration": s3_configuration,
            "processingConfiguration": processing,
            "cloudWatchLoggingOptions": logging_options,
        }
        encryption = {"keyType": "CUSTOMER_MANAGED_CMK", "keyArn": self.key.key_arn}
        if self.serverless:
            stream = firehose.CfnDeliveryStream(
                self,
                "DeliveryStream",
                delivery_stream_type="DirectPut",
                delivery_stream_encryption_configuration_input=encryption,
                amazon_open_search_serverless_destination_configuration={**common, "collectionEndpoint": endpoint},
            )
            for dependency in self._collection_dependencies:
                stream.node.add_dependency(dependency)
        else:
            assert self.domain is not None
            stream = firehose.CfnDeliveryStream(
                self,
                "DeliveryStream",
                delivery_stream_type="DirectPut",
                delivery_stream_encryption_configuration_input=encryption,
                amazonopensearchservice_destination_configuration={
                    **common,
                    "domainArn": self.domain.domain_arn,
                    "indexRotationPeriod": index_rotation or "OneDay",
                },
            )
        return stream

    def _subscriptions(self, filter_pattern: str, reingest: iam.Policy) -> None:
        stack = Stack.of(self)
        self.subscription_role = iam.Role(
            self,
            "SubscriptionRole",
            description="Lets CloudWatch Logs of this account put the application's log events into Firehose.",
            assumed_by=iam.ServicePrincipal(
                f"logs.{stack.region}.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:logs:{stack.region}:{stack.account}:*"},
                },
            ),
        )
        policy = iam.Policy(
            self,
            "SubscriptionPolicy",
            roles=[self.subscription_role],
            statements=[
                iam.PolicyStatement(
                    actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                    resources=[self.delivery_stream.attr_arn],
                )
            ],
        )
        self.subscription_filters: list[logs.CfnSubscriptionFilter] = []
        for index, log_group in enumerate(self.workload.log_groups):
            subscription = logs.CfnSubscriptionFilter(
                self,
                f"Subscription{index}",
                log_group_name=log_group.log_group_name,
                destination_arn=self.delivery_stream.attr_arn,
                role_arn=self.subscription_role.role_arn,
                filter_pattern=filter_pattern,
            )
            # CloudWatch Logs test-puts a record when the filter is created: the policy must exist by then,
            # and so must the processor's permission to re-ingest what it splits.
            subscription.node.add_dependency(policy, reingest)
            self.subscription_filters.append(subscription)


def _validate(
    *,
    workload: Workload,
    serverless: bool,
    instance_type: str,
    instance_count: int,
    volume_size_gib: int,
    zone_awareness: bool,
    engine_version: str,
    readers: Sequence[str],
    index_prefix: str,
    index_rotation: str | None,
    buffer_interval_seconds: int,
    buffer_size_mib: int,
    retry_seconds: int,
    backup_retention_days: int,
    log_retention_days: int,
) -> None:
    def whole(value: Any, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    if not workload.log_groups:
        raise ConfigError(
            "LogAnalytics 'workload.log_groups' is empty: allowed is a workload with one or more log groups."
        )
    if not isinstance(instance_type, str) or not _INSTANCE_TYPE.match(instance_type):
        raise ConfigError(
            f"LogAnalytics 'instance_type' is {instance_type!r}: allowed is an OpenSearch instance type of T3 or larger "
            "such as t3.small.search or m7g.large.search (T2 supports no encryption at rest)."
        )
    if not whole(instance_count, 1, 80):
        raise ConfigError(
            f"LogAnalytics 'instance_count' is {instance_count!r}: allowed is a whole number from 1 to 80."
        )
    if not whole(volume_size_gib, 10, 1024):
        raise ConfigError(
            f"LogAnalytics 'volume_size_gib' is {volume_size_gib!r}: allowed is a whole number from 10 to 1024."
        )
    if zone_awareness and instance_count % 2:
        raise ConfigError(
            f"LogAnalytics 'instance_count' is {instance_count} with zone_awareness: allowed is an even number of nodes."
        )
    if not isinstance(engine_version, str) or not _ENGINE_VERSION.match(engine_version):
        raise ConfigError(
            f"LogAnalytics 'engine_version' is {engine_version!r}: allowed is an OpenSearch version like 2.19 or 3.1."
        )
    if isinstance(readers, str) or not all(
        isinstance(arn, str) and (Token.is_unresolved(arn) or (_PRINCIPAL_ARN.match(arn) and "*" not in arn))
        for arn in readers
    ):
        raise ConfigError(
            f"LogAnalytics 'readers' is {readers!r}: allowed is a list of IAM role or user ARNs without wildcards."
        )
    if not isinstance(index_prefix, str) or not _INDEX_PREFIX.match(index_prefix):
        raise ConfigError(
            f"LogAnalytics 'index_prefix' is {index_prefix!r}: allowed is 1-80 lower-case letters, digits, '-' or '_', "
            "starting with a letter."
        )
    if index_rotation is not None and index_rotation not in INDEX_ROTATIONS:
        raise ConfigError(
            f"LogAnalytics 'index_rotation' is {index_rotation!r}: allowed are {', '.join(INDEX_ROTATIONS)}."
        )
    if serverless and index_rotation not in (None, "NoRotation"):
        raise ConfigError(
            f"LogAnalytics 'index_rotation' is {index_rotation!r} with serverless: allowed is NoRotation (a collection "
            "has no index rotation)."
        )
    if not whole(buffer_interval_seconds, 0, 900):
        raise ConfigError(
            f"LogAnalytics 'buffer_interval_seconds' is {buffer_interval_seconds!r}: allowed is a whole number from 0 to 900."
        )
    if not whole(buffer_size_mib, 1, 100):
        raise ConfigError(
            f"LogAnalytics 'buffer_size_mib' is {buffer_size_mib!r}: allowed is a whole number from 1 to 100."
        )
    if not whole(retry_seconds, 0, 7200):
        raise ConfigError(
            f"LogAnalytics 'retry_seconds' is {retry_seconds!r}: allowed is a whole number from 0 to 7200."
        )
    if not whole(backup_retention_days, 1, 3650):
        raise ConfigError(
            f"LogAnalytics 'backup_retention_days' is {backup_retention_days!r}: allowed is a whole number from 1 to 3650."
        )
    if log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"LogAnalytics 'log_retention_days' is {log_retention_days!r}: allowed are "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}."
        )
