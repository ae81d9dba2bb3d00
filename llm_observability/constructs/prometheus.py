"""Level 3 third-party tooling: the application's LLM metrics in Amazon Managed Service for Prometheus."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_aps as aps
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability import prometheus_rules
from llm_observability.config import LOG_RETENTION_DAYS
from llm_observability.constructs import _delivery
from llm_observability.constructs._common import (
    allow_s3_delivery,
    encrypted_log_group,
    failure_bucket,
    firehose_role,
    log_encryption_key,
)
from llm_observability.constructs.alarm_factory import AlarmFactory, AlarmRole, Severity, sns_alarm_action
from llm_observability.constructs.alert_topic import allow_publish
from llm_observability.errors import ConfigError
from llm_observability.functions.prometheus_forwarder import metric_naming
from llm_observability.validation import choice, whole_number
from llm_observability.workload import Workload

APS_PRINCIPAL = "aps.amazonaws.com"
RULE_NAMESPACE = "llm-observability"
#: Namespace of the forwarder's own metrics (not streamed: metric stream filters match namespaces exactly).
FORWARDER_METRICS_NAMESPACE = "LLMObservability/PrometheusExport"
#: Samples may arrive out of order (concurrent Firehose invocations, retries); the workspace accepts them
#: within this window.
OUT_OF_ORDER_WINDOW_SECONDS = 900


class PrometheusExport(Construct):
    """The workload's CloudWatch metrics in an Amazon Managed Service for Prometheus workspace, with SLO rules.

    Ingestion (no change to the application): a CloudWatch metric stream (JSON output) of the workload's
    metric namespace and, by default, ``AWS/Bedrock``, with p50/p90/p99 for the latency metrics -> a
    KMS-encrypted Amazon Data Firehose stream whose Lambda processor (``functions/prometheus_forwarder``)
    converts each minute's statistics into a Prometheus remote-write request (protobuf + snappy, in pure
    Python) and POSTs it, SigV4-signed, to the workspace's ``api/v1/remote_write``. Delivered records
    are dropped from the stream; malformed or rejected ones land under ``failed/`` in a retained,
    KMS-encrypted bucket, and a transient failure makes Firehose retry the batch. Series names follow
    ``metric_naming``: ``llmobs_<metric>_<stat>`` (``llmobs_end_to_end_latency_p99``,
    ``llmobs_request_success_sum``, ``aws_bedrock_invocations_sum``) with labels ``service``,
    ``model_id``, ``stage``, ... from the CloudWatch dimensions.

    The workspace is encrypted with a customer-managed KMS key and logs rule and alerting errors to an
    encrypted log group. Its rule groups namespace holds the rules of :mod:`llm_observability.prometheus_rules`
    (latency percentiles, error ratios, token and cost burn rates, multi-window multi-burn-rate SLO
    alerts); its alert manager sends every alert to the SNS topic (SigV4, ``sns_configs``), which
    ``aps.amazonaws.com`` of this account is allowed to publish to. A CloudWatch alarm on the same topic
    fires when the forwarder fails records or errors.

    :param workload: the application; its ``metric_namespace`` is streamed.
    :param topic: SNS topic for alerts. Default: ``workload.alert_topic`` (one of the two is required).
    :param topic_key: KMS key of the topic, when it is encrypted with a customer-managed key. Default:
        ``workload.alert_topic_key`` when the topic is the workload's, else none.
    :param objective_percent: availability objective of ``/ask`` for the burn-rate alerts. Default: 99.
    :param latency_p99_threshold_ms: p99 end-to-end latency alert threshold. Default: 10000.
    :param daily_cost_threshold_usd: alert when the last hour's model spend, projected to a day, exceeds
        this. Default: none (no cost alert).
    :param percentiles: percentiles streamed for the latency metrics (must include p99). Default: p50, p90, p99.
    :param include_bedrock_metrics: also stream ``AWS/Bedrock`` (all models of the account and region).
        Default: True.
    :param metrics_retention_days: how long the workspace keeps samples, 1-1095. Default: 150.
    :param rule_query_offset_seconds: how far in the past rules evaluate, so the 2-4 minutes a metric
        stream and Firehose buffering take do not read as missing data, 0-3600. Default: 300.
    :param failed_record_retention_days: days failed records stay in the bucket. Default: 90.
    :param log_retention_days: retention of the workspace, delivery and function log groups. Default: 30.
    :param key: KMS key for the workspace, stream, bucket and log groups. Default: a new rotating key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        topic: sns.ITopic | None = None,
        topic_key: kms.IKey | None = None,
        objective_percent: float = 99.0,
        latency_p99_threshold_ms: float = 10_000,
        daily_cost_threshold_usd: float | None = None,
        percentiles: Sequence[str] = prometheus_rules.DEFAULT_PERCENTILES,
        include_bedrock_metrics: bool = True,
        metrics_retention_days: int = 150,
        rule_query_offset_seconds: int = 300,
        failed_record_retention_days: int = 90,
        log_retention_days: int = 30,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        if topic is None:
            topic, topic_key = workload.alert_topic, topic_key or workload.alert_topic_key
        if topic is None:
            raise ConfigError(
                "PrometheusExport 'topic' is missing: allowed is an SNS topic, passed as topic or as the "
                "workload's alert_topic."
            )
        self.rule_settings = prometheus_rules.RuleSettings(
            objective_percent=objective_percent,
            latency_p99_threshold_ms=latency_p99_threshold_ms,
            daily_cost_threshold_usd=daily_cost_threshold_usd,
            percentiles=tuple(percentiles),
            bedrock_metrics=include_bedrock_metrics,
        )
        owner = "PrometheusExport"
        whole_number("metrics_retention_days", metrics_retention_days, 1, 1095, owner=owner)
        whole_number("rule_query_offset_seconds", rule_query_offset_seconds, 0, 3600, owner=owner)
        whole_number("failed_record_retention_days", failed_record_retention_days, 1, 3650, owner=owner)
        choice("log_retention_days", log_retention_days, LOG_RETENTION_DAYS, owner=owner)
        stack = Stack.of(self)
        self.workload = workload
        self.topic = topic

        # --- workspace ---------------------------------------------------------------------------------------
        self.key = key or log_encryption_key(
            self, "Key", description=f"Encrypts the {workload.name} Prometheus workspace, metric stream and logs."
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowManagedPrometheusOfThisAccount",
                principals=[iam.AccountRootPrincipal()],
                actions=["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"aps.{Aws.REGION}.amazonaws.com",
                        "kms:CallerAccount": Aws.ACCOUNT_ID,
                    }
                },
            )
        )
        self.workspace_log_group = encrypted_log_group(
            self, "WorkspaceLogs", key=self.key, retention_days=log_retention_days, removal_policy=RemovalPolicy.DESTROY
        )
        self.rules_yaml = prometheus_rules.rules_yaml(self.rule_settings)
        self.alertmanager_definition = prometheus_rules.alertmanager_definition(topic.topic_arn, topic.env.region)
        self.workspace = aps.CfnWorkspace(
            self,
            "Workspace",
            alias=f"{workload.name}-llm-observability",
            kms_key_arn=self.key.key_arn,
            logging_configuration=aps.CfnWorkspace.LoggingConfigurationProperty(
                log_group_arn=self.workspace_log_group.log_group_arn
            ),
            alert_manager_definition=self.alertmanager_definition,
            workspace_configuration=aps.CfnWorkspace.WorkspaceConfigurationProperty(
                retention_period_in_days=metrics_retention_days,
                out_of_order_time_window_in_seconds=OUT_OF_ORDER_WINDOW_SECONDS,
                rule_query_offset_in_seconds=rule_query_offset_seconds,
            ),
        )
        self.rule_groups = aps.CfnRuleGroupsNamespace(
            self, "Rules", workspace=self.workspace.attr_arn, name=RULE_NAMESPACE, data=self.rules_yaml
        )
        self.remote_write_url = f"{self.workspace.attr_prometheus_endpoint}api/v1/remote_write"
        self.query_url = f"{self.workspace.attr_prometheus_endpoint}api/v1/query"
        # The topic policy names this workspace; a topic of another stack gets this account's workspaces, so
        # that stack does not come to depend on this one.
        same_stack = Stack.of(topic) is stack if isinstance(topic, Construct) else False
        allow_publish(
            topic,
            APS_PRINCIPAL,
            key=topic_key,
            source_arn=self.workspace.attr_arn
            if same_stack
            else f"arn:{Aws.PARTITION}:aps:{stack.region}:{stack.account}:workspace/*",
        )

        # --- ingestion: metric stream -> Firehose -> forwarder -> remote write -----------------------------------
        self.forwarder, forwarder_role = _delivery.processor_function(
            self, "Forwarder", folder="prometheus_forwarder",
            description="Firehose processor: CloudWatch metric stream records -> Prometheus remote write (SigV4).",
            role_description="Writes the application's streamed CloudWatch metrics to the Prometheus workspace.",
            key=self.key, retention_days=log_retention_days,
            environment={
                "REMOTE_WRITE_URL": self.remote_write_url,
                "NAMESPACE_PREFIXES": json.dumps({workload.metric_namespace: metric_naming.APP_PREFIX}),
                "METRICS_NAMESPACE": FORWARDER_METRICS_NAMESPACE,
                "SERVICE_NAME": workload.name,
            },
            shared=("sigv4",),
        )  # fmt: skip
        forwarder_role.add_to_policy(
            iam.PolicyStatement(sid="RemoteWrite", actions=["aps:RemoteWrite"], resources=[self.workspace.attr_arn])
        )
        forwarder_role.add_to_policy(
            iam.PolicyStatement(
                sid="UseWorkspaceKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"aps.{Aws.REGION}.amazonaws.com"}},
            )
        )

        self.failed_records = failure_bucket(
            self, "FailedRecords", key=self.key, retention_days=failed_record_retention_days
        )
        delivery_role = firehose_role(
            self, "DeliveryRole", description="Lets Amazon Data Firehose run the metric forwarder and keep what fails."
        )
        allow_s3_delivery(delivery_role, self.failed_records, self.key)
        processing = _delivery.processing_configuration(delivery_role, self.forwarder, sid="InvokeForwarder")
        delivery_logs = _delivery.delivery_logging(self, delivery_role, key=self.key, retention_days=log_retention_days)
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=_delivery.stream_encryption(self.key),
            extended_s3_destination_configuration={
                **_delivery.s3_destination(
                    self.failed_records, delivery_role, self.key, prefix="delivered/", logging=delivery_logs
                ),
                "errorOutputPrefix": "failed/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
                "processingConfiguration": processing,
            },
        )
        self.delivery_stream.node.add_dependency(delivery_role)

        stream_role = iam.Role(
            self,
            "MetricStreamRole",
            description="Lets CloudWatch metric streams of this account put records into the metric Firehose stream.",
            assumed_by=iam.ServicePrincipal(
                "streams.metrics.cloudwatch.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        stream_role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[self.delivery_stream.attr_arn]
            )
        )
        namespaces = [workload.metric_namespace]
        latency_metrics = [(workload.metric_namespace, m) for m in prometheus_rules.APP_LATENCY_METRICS]
        if include_bedrock_metrics:
            namespaces.append(metric_naming.BEDROCK_NAMESPACE)
            latency_metrics.append((metric_naming.BEDROCK_NAMESPACE, prometheus_rules.BEDROCK_LATENCY_METRIC))
        self.metric_stream = cw.CfnMetricStream(
            self,
            "MetricStream",
            firehose_arn=self.delivery_stream.attr_arn,
            role_arn=stream_role.role_arn,
            output_format="json",
            include_filters=[cw.CfnMetricStream.MetricStreamFilterProperty(namespace=ns) for ns in namespaces],
            statistics_configurations=[
                cw.CfnMetricStream.MetricStreamStatisticsConfigurationProperty(
                    additional_statistics=list(self.rule_settings.percentiles),
                    include_metrics=[
                        cw.CfnMetricStream.MetricStreamStatisticsMetricProperty(namespace=ns, metric_name=name)
                        for ns, name in latency_metrics
                    ],
                )
            ],
        )
        self.metric_stream.node.add_dependency(stream_role)

        # --- the pipeline's own health -----------------------------------------------------------------------------
        failed = cw.Metric(
            namespace=FORWARDER_METRICS_NAMESPACE,
            metric_name="RecordsFailed",
            dimensions_map={"service": workload.name},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        errors = self.forwarder.metric_errors(period=Duration.minutes(5), statistic="Sum")
        self.forwarder_alarm = AlarmFactory(self, action=sns_alarm_action(topic)).add_alarm(
            "ForwarderFailures",
            severity=Severity.LOW,
            role=AlarmRole.AVAILABILITY,
            description=(
                f"{workload.name}: the Prometheus metric forwarder failed records (kept in the failed-record bucket) "
                "or errored (Firehose retries)."
            ),
            metric=cw.MathExpression(
                expression="FILL(failed, 0) + FILL(errors, 0)",
                using_metrics={"failed": failed, "errors": errors},
                period=Duration.minutes(5),
                label="Failed records and forwarder errors",
            ),
            threshold=1,
            evaluation_periods=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
