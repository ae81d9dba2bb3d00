"""Level 3 log analytics: the application's log groups -> Amazon Data Firehose -> an OpenSearch destination."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from llm_observability.config import LOG_RETENTION_DAYS
from llm_observability.config.bounds import POWERTOOLS_VERSION
from llm_observability.constructs import _delivery
from llm_observability.constructs._common import (
    allow_s3_delivery,
    asset_function,
    failure_bucket,
    firehose_role,
    function_role,
    log_encryption_key,
)
from llm_observability.constructs.log_analytics.destination import (
    DestinationBindOptions,
    DestinationConfig,
    OpenSearchDestination,
)
from llm_observability.constructs.log_analytics.domain import OpenSearchDomainDestination
from llm_observability.constructs.log_analytics.index_template import index_template
from llm_observability.constructs.log_analytics.network import place_function
from llm_observability.errors import ConfigError
from llm_observability.validation import choice
from llm_observability.workload import Workload

#: Default subscription filter: every log event (plain-text lines become ``{"message": ...}`` documents).
DEFAULT_FILTER_PATTERN = ""
TEMPLATE_RESOURCE_TYPE = "Custom::OpenSearchIndexTemplate"
#: Namespace of the processor's own metrics.
LOG_METRICS_NAMESPACE = "LLMObservability/LogAnalytics"


class LogAnalytics(Construct):
    """Streams the workload's log groups into OpenSearch for search and dashboards.

    Each log group of ``workload.log_groups`` gets a subscription filter (``AWS::Logs::SubscriptionFilter``,
    with a role only CloudWatch Logs of this account may assume) to a KMS-encrypted Amazon Data Firehose
    stream. CloudWatch Logs packs many log events into one gzip record, which an OpenSearch destination
    would index as one document (Firehose's built-in decompression and message extraction do not support
    OpenSearch destinations), so the stream's Lambda processor (``functions/log_records_processor``)
    turns each log event into its own JSON document: the first one replaces the record, the others are
    put back into the stream as single-document records. Firehose bulk-indexes the documents into the
    ``destination``. Documents OpenSearch rejects, and everything that cannot be delivered within the retry
    window, go to a retained, KMS-encrypted S3 bucket (``S3BackupMode: FailedDocumentsOnly``); records the
    processor cannot read go there too (``processing-failed/``), so no record is lost.

    The destination is :class:`OpenSearchDomainDestination` (a managed domain; the default is one
    ``t3.small.search`` node) or :class:`OpenSearchServerlessDestination` (a ``TIMESERIES`` collection).
    Either one creates its store in this construct and names only the Firehose role, the index-template
    function and its ``readers`` as principals. A domain has fine-grained access control with the
    index-template function's role as IAM master user (it maps the Firehose role and ``readers`` to OpenSearch
    roles and turns audit logging on) and audit logs. With the destination's ``vpc`` the store is private:
    Firehose delivers through ENIs in the subnets and the index-template function runs there too.

    An index template for the structured log fields (``@timestamp`` (the event time), ``level``,
    ``correlation_id``, ``model_id``, ``prompt.template_version``, ``latency_ms.end_to_end`` (float),
    ``usage.total_tokens`` (long), ``error_class`` (keyword), ...) is put by a custom resource
    (``Custom::OpenSearchIndexTemplate``, code in ``functions/opensearch_index_template``) before any
    document arrives, so every rotated index gets the same mappings.

    :param workload: the application; its ``log_groups`` are streamed (at least one).
    :param destination: where the documents go, with its delivery settings. Default:
        ``OpenSearchDomainDestination()``.
    :param filter_pattern: subscription filter pattern, e.g. ``{ $.level = "*" }`` for structured records
        only. Default: ``""`` (every event; plain-text lines are indexed as ``message``).
    :param log_retention_days: retention of the domain's slow/error log, delivery-error and function log
        groups. Default: 30.
    :param key: KMS key for the domain/collection, stream, bucket and log groups. Default: a new rotating key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        destination: OpenSearchDestination | None = None,
        filter_pattern: str = DEFAULT_FILTER_PATTERN,
        log_retention_days: int = 30,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not workload.log_groups:
            raise ConfigError(
                "LogAnalytics 'workload.log_groups' is empty: allowed is a workload with one or more log groups."
            )
        destination = OpenSearchDomainDestination() if destination is None else destination
        if not isinstance(destination, OpenSearchDestination):
            raise ConfigError(
                f"LogAnalytics 'destination' is {destination!r}: allowed is an OpenSearchDomainDestination or an "
                "OpenSearchServerlessDestination."
            )
        if not isinstance(filter_pattern, str):
            raise ConfigError(
                f"LogAnalytics 'filter_pattern' is {filter_pattern!r}: allowed is a CloudWatch Logs filter pattern "
                "string ('' for every event)."
            )
        choice("log_retention_days", log_retention_days, LOG_RETENTION_DAYS, owner="LogAnalytics")
        self.workload = workload
        self.destination = destination
        delivery = destination.delivery
        self.index_prefix = delivery.index_prefix
        self.key = key or log_encryption_key(
            self, "Key", description=f"Encrypts the {workload.name} log analytics (OpenSearch, Firehose, S3, logs)."
        )
        self.backup_bucket = failure_bucket(
            self, "FailedDocuments", key=self.key, retention_days=delivery.backup_retention_days
        )
        self.delivery_role = firehose_role(
            self, "DeliveryRole", description="Lets Amazon Data Firehose index the application's logs into OpenSearch."
        )
        allow_s3_delivery(self.delivery_role, self.backup_bucket, self.key)
        self.delivery_logging = _delivery.delivery_logging(
            self, self.delivery_role, key=self.key, retention_days=log_retention_days
        )
        # The index-template custom resource's function (its role is a principal of the access policies).
        self.template_role, template_logs = function_role(
            self, "IndexTemplate", key=self.key, retention_days=log_retention_days,
            description="Puts the log index template into OpenSearch (custom resource).",
        )  # fmt: skip

        self.destination_config = destination.bind(
            self,
            DestinationBindOptions(
                workload_name=workload.name,
                key=self.key,
                delivery_role=self.delivery_role,
                template_role=self.template_role,
                log_retention_days=log_retention_days,
            ),
        )
        config = self.destination_config
        self.domain, self.collection, self.endpoint = config.domain, config.collection, config.endpoint
        self.template_body = index_template(delivery.index_prefix, replicas=config.index_replicas)
        self.index_template_resource = self._index_template(config, template_logs)

        self.processor, processor_role = _delivery.processor_function(
            self, "Processor", folder="log_records_processor",
            description="Firehose processor: CloudWatch Logs records -> one JSON document per log event.",
            role_description="Splits CloudWatch Logs records into one OpenSearch document per log event.",
            key=self.key, retention_days=log_retention_days,
            environment={"METRICS_NAMESPACE": LOG_METRICS_NAMESPACE, "SERVICE_NAME": workload.name},
        )  # fmt: skip
        processing = _delivery.processing_configuration(self.delivery_role, self.processor, sid="InvokeProcessor")
        self.delivery_stream = self._delivery_stream(config, processing)
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
        self._subscriptions(filter_pattern, reingest)

    def _index_template(self, config: DestinationConfig, log_group: logs.ILogGroup) -> CustomResource:
        """The custom resource (and its function) that puts :attr:`template_body` into the destination."""
        function = asset_function(
            self,
            "IndexTemplateFunction",
            folder="opensearch_index_template",
            handler="handler.on_event",
            description="Custom resource: puts the LLM log index template into OpenSearch (SigV4).",
            role=self.template_role,
            log_group=log_group,
            timeout=Duration.minutes(5),
            memory_size=256,
            shared=("cfn_response", "sigv4"),
            powertools_version=POWERTOOLS_VERSION,
        )
        if config.vpc is not None and config.function_security_group is not None:
            place_function(function, self.template_role, config.vpc, config.function_security_group)
        properties = {
            "Endpoint": config.endpoint,
            "Service": config.service,
            "TemplateName": f"{self.index_prefix}-template",
            "TemplateBody": json.dumps(self.template_body, sort_keys=True),
        }
        if config.security is not None:
            properties["Security"] = config.security
        resource = CustomResource(
            self,
            "IndexTemplateResource",
            service_token=function.function_arn,
            resource_type=TEMPLATE_RESOURCE_TYPE,
            properties=properties,
        )
        if config.dependables:
            resource.node.add_dependency(*config.dependables)
        return resource

    def _delivery_stream(self, config: DestinationConfig, processing: dict[str, Any]) -> firehose.CfnDeliveryStream:
        delivery = self.destination.delivery
        logging = self.delivery_logging
        backup = _delivery.s3_destination(self.backup_bucket, self.delivery_role, self.key, prefix="failed-documents/",
                                logging=logging)  # fmt: skip
        destination = {
            "indexName": delivery.index_prefix,
            "roleArn": self.delivery_role.role_arn,
            "bufferingHints": {
                "intervalInSeconds": delivery.buffer_interval_seconds,
                "sizeInMBs": delivery.buffer_size_mib,
            },
            "retryOptions": {"durationInSeconds": delivery.retry_seconds},
            "s3BackupMode": "FailedDocumentsOnly",
            "s3Configuration": backup,
            "processingConfiguration": processing,
            "cloudWatchLoggingOptions": logging.options,
            **config.stream_destination,
        }
        # The destination names its configuration property (domain or Serverless collection).
        destination_property: dict[str, Any] = {config.stream_property: destination}
        stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=_delivery.stream_encryption(self.key),
            **destination_property,
        )
        for dependency in config.dependables:
            stream.node.add_dependency(dependency)
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
