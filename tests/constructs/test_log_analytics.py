"""LogAnalytics: subscription filters -> Firehose (Lambda processor) -> OpenSearch domain or Serverless collection.

One app, synthesized once for the module, with three stacks built from a minimal workload (a Lambda
function and its log group) and an AlertTopic:
- ``Analytics``: the default managed domain, with a reader;
- ``AnalyticsZoned``: two nodes across two Availability Zones, weekly indices, non-default delivery settings;
- ``AnalyticsServerless``: an OpenSearch Serverless collection;
- ``AnalyticsPrivate``: the zoned domain in the user's VPC (``VpcPlacement``, imported by id);
- ``AnalyticsServerlessPrivate``: the collection behind an OpenSearch Serverless VPC endpoint.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.constructs.log_analytics import index_template
from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT

READER = "arn:aws:iam::123456789012:role/log-analyst"
STACKS = ("Analytics", "AnalyticsZoned", "AnalyticsServerless", "AnalyticsPrivate", "AnalyticsServerlessPrivate")
PUBLIC_STACKS = STACKS[:3]
VPC: dict[str, Any] = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
    "availability_zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
}
#: The zoned stack's non-default delivery settings (the others use the defaults).
ZONED_DELIVERY: dict[str, Any] = {
    "index_prefix": "app_logs",
    "buffer_interval_seconds": 120,
    "buffer_size_mib": 10,
    "retry_seconds": 600,
    "backup_retention_days": 30,
}
DEFAULT_DELIVERY: dict[str, Any] = {
    "index_prefix": "llm-logs",
    "buffer_interval_seconds": 60,
    "buffer_size_mib": 5,
    "retry_seconds": 300,
    "backup_retention_days": 90,
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Stack, Validations
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.log_analytics import (
        DomainCapacity,
        LogAnalytics,
        OpenSearchDelivery,
        OpenSearchDomainDestination,
        OpenSearchServerlessDestination,
        VpcPlacement,
    )
    from llm_observability.hygiene import NoRedundantDependsOn
    from llm_observability.workload import Workload

    outdir = tmp_path_factory.mktemp("log-analytics")
    app = App(outdir=str(outdir), context=CDK_CONTEXT)
    from llm_observability.left_out import left_out
    constructs: dict[str, Any] = {}
    options: dict[str, dict[str, Any]] = {
        "Analytics": {"destination": OpenSearchDomainDestination(readers=[READER])},
        "AnalyticsZoned": {
            "destination": OpenSearchDomainDestination(
                capacity=DomainCapacity(zone_awareness=True, instance_count=2),
                index_rotation="OneWeek",
                delivery=OpenSearchDelivery(**ZONED_DELIVERY),
            )
        },
        "AnalyticsServerless": {
            "destination": OpenSearchServerlessDestination(readers=[READER]),
            "filter_pattern": '{ $.level = "*" }',
        },
        "AnalyticsPrivate": {
            "destination": OpenSearchDomainDestination(
                readers=[READER], capacity=DomainCapacity(zone_awareness=True, instance_count=2),
                vpc=VpcPlacement(**VPC),
            )
        },
        "AnalyticsServerlessPrivate": {"destination": OpenSearchServerlessDestination(vpc=VpcPlacement(**VPC))},
    }
    stacks = []
    for name, kwargs in options.items():
        stack = Stack(app, name)
        log_group = logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
        role = iam.Role(stack, "AppRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        fn = lambda_.Function(
            stack, "App", runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler", role=role, log_group=log_group,
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        )  # fmt: skip
        # LogAnalytics reads only the workload's name and log groups (no alert topic).
        workload = Workload.from_function(fn, name="rag-api", model_ids=("amazon.nova-lite-v1:0",), log_group=log_group)
        constructs[name] = LogAnalytics(stack, "LogAnalytics", workload=workload, **kwargs)
        stacks.append(stack)
    left = {s.stack_name: [item.text() for item in left_out(s)] for s in stacks}

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    app.synth()  # raises on any unacknowledged cdk-nag finding
    report = outdir / "validation-report.json"
    files = {s.stack_name: outdir / f"{s.artifact_id}.template.json" for s in stacks}
    return {
        "templates": {name: json.loads(path.read_text()) for name, path in files.items()},
        "files": files,
        "report": json.loads(report.read_text()) if report.exists() else {"pluginReports": []},
        "constructs": constructs,
        "left_out": left,
        "metadata": {
            name: {
                c.node.path: [e.data for e in c.node.metadata]
                for c in constructs[name].node.find_all()
                if c.node.metadata
            }
            for name in constructs
        },
    }


def of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def one(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = of_type(template, cfn_type).items()
    return item


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for p in of_type(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_no_cdk_nag_findings_only_the_public_endpoint_warning(app: dict[str, Any]) -> None:
    findings = [
        (v["ruleName"], c["constructPath"])
        for r in app["report"]["pluginReports"]
        for v in r.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    # The one synth warning (the stack's left-out list) of each store without a VPC; nothing from cdk-nag.
    assert sorted(findings) == sorted(("Annotation::llm-observability:left-out", name) for name in PUBLIC_STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_a_store_without_a_vpc_says_it_stays_public(app: dict[str, Any], stack: str) -> None:
    left = app["left_out"][stack]
    if stack in PUBLIC_STACKS:
        (text,) = left
        store = "Serverless collection" if "Serverless" in stack else "domain"
        assert text.startswith(f"A private OpenSearch {store} endpoint") and "vpc_subnet_ids" in text
        assert "SigV4-signed" in text and ("fine-grained access control" in text) == (store == "domain")
    else:
        assert left == []


@pytest.mark.slow  # cfn-lint over each template, 2-8 s: CI (`make test`) runs it, `make test-fast` does not
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_is_clean(app: dict[str, Any], stack: str) -> None:
    assert [str(m) for m in lint_file(app["files"][stack], ManualArgs(regions=["us-east-1", "eu-west-1"]))] == []


# --- managed domain ---------------------------------------------------------------------------------------------------


def test_domain_is_small_encrypted_and_https_only(app: dict[str, Any]) -> None:
    template = app["templates"]["Analytics"]
    _, domain = one(template, "AWS::OpenSearchService::Domain")
    props = domain["Properties"]
    assert props["ClusterConfig"] == {
        "DedicatedMasterEnabled": False,
        "InstanceCount": 1,
        "InstanceType": "t3.small.search",
        "MultiAZWithStandbyEnabled": False,
        "ZoneAwarenessEnabled": False,
    }
    assert props["EBSOptions"] == {"EBSEnabled": True, "VolumeSize": 10, "VolumeType": "gp3"}
    assert props["EngineVersion"] == "OpenSearch_2.19"
    key_id = props["EncryptionAtRestOptions"]["KmsKeyId"]["Ref"]
    assert props["EncryptionAtRestOptions"]["Enabled"] is True
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert props["DomainEndpointOptions"] == {
        "EnforceHTTPS": True,
        "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10",
    }


def test_slow_and_error_logs_go_to_an_encrypted_group_only_this_domain_may_write(app: dict[str, Any]) -> None:
    template = app["templates"]["Analytics"]
    _, domain = one(template, "AWS::OpenSearchService::Domain")
    options = domain["Properties"]["LogPublishingOptions"]
    assert set(options) == {"SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS"}
    audit_id = options.pop("AUDIT_LOGS")["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]
    (group_id,) = {o["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0] for o in options.values()}
    assert all(o["Enabled"] for o in options.values())
    groups = template["Resources"]
    assert audit_id != group_id and audit_id.startswith("LogAnalyticsDomainAuditLogs")
    for log_group in (group_id, audit_id):  # encrypted with the construct's key, the same retention
        assert groups[log_group]["Properties"]["KmsKeyId"] == groups[group_id]["Properties"]["KmsKeyId"]
        assert groups[log_group]["Properties"]["RetentionInDays"] == 30
    assert groups[audit_id]["DeletionPolicy"] == "Retain" and groups[group_id]["DeletionPolicy"] == "Delete"
    policy_id, policy = one(template, "AWS::Logs::ResourcePolicy")
    document = json.dumps(policy["Properties"]["PolicyDocument"])
    assert group_id in document and audit_id in document
    assert "es.amazonaws.com" in document and "aws:SourceArn" in document
    assert domain["DependsOn"] == [policy_id]


def test_access_policy_names_only_our_principals(app: dict[str, Any]) -> None:
    template = app["templates"]["Analytics"]
    _, domain = one(template, "AWS::OpenSearchService::Domain")
    access = domain["Properties"]["AccessPolicies"]["Statement"]
    principals = [s["Principal"]["AWS"] for s in access]
    roles = of_type(template, "AWS::IAM::Role")
    delivery = next(k for k in roles if "DeliveryRole" in k)
    template_role = next(k for k in roles if "IndexTemplateRole" in k)
    function = {"Fn::GetAtt": [template_role, "Arn"]}
    assert principals == [{"Fn::GetAtt": [delivery, "Arn"]}, function, function, READER]
    assert all(s["Effect"] == "Allow" and "*" not in json.dumps(s["Principal"]) for s in access)
    assert {s["Sid"]: sorted(s["Action"]) for s in access} == {
        "FirehoseIndexes": ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
        "IndexTemplateFunction": ["es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpPut"],
        "SecuritySetUp": ["es:ESHttpPatch", "es:ESHttpPut"],
        "Readers": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"],
    }
    name = domain["Properties"]["DomainName"]
    assert all(s["Resource"]["Fn::Join"][1][-1].startswith(f":domain/{name}/") for s in access)


def test_nag_acknowledgements_are_on_the_domain_with_reasons(app: dict[str, Any]) -> None:
    def acknowledged(stack: str) -> set[str]:
        found = set()
        for path, entries in app["metadata"][stack].items():
            if path.endswith("/Domain"):
                for data in entries:
                    if isinstance(data, dict):
                        found |= {k.rsplit("::", 1)[-1] for k, v in data.items() if isinstance(v, str) and len(v) > 40}
        return found

    default = acknowledged("Analytics")
    assert {"AwsSolutions-OS1", "AwsSolutions-OS3", "AwsSolutions-OS4", "AwsSolutions-OS7"} <= default
    assert "AwsSolutions-OS5" not in default  # no anonymous or unsigned access: nothing to acknowledge
    zoned = acknowledged("AnalyticsZoned")
    assert "AwsSolutions-OS7" not in zoned and "AwsSolutions-OS1" in zoned
    private = acknowledged("AnalyticsPrivate")  # in a VPC: OS1 holds without an acknowledgment
    assert "AwsSolutions-OS1" not in private and "AwsSolutions-OS3" in private


def test_zone_awareness_spreads_two_nodes_and_keeps_a_replica(app: dict[str, Any]) -> None:
    template = app["templates"]["AnalyticsZoned"]
    _, domain = one(template, "AWS::OpenSearchService::Domain")
    cluster = domain["Properties"]["ClusterConfig"]
    assert cluster["ZoneAwarenessEnabled"] is True and cluster["InstanceCount"] == 2
    assert cluster["ZoneAwarenessConfig"] == {"AvailabilityZoneCount": 2}
    _, resource = one(template, "Custom::OpenSearchIndexTemplate")
    body = json.loads(resource["Properties"]["TemplateBody"])
    assert body["template"]["settings"]["index.number_of_replicas"] == 1
    assert resource["Properties"]["TemplateName"] == "app_logs-template" and body["index_patterns"] == ["app_logs*"]
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    assert stream["Properties"]["AmazonopensearchserviceDestinationConfiguration"]["IndexRotationPeriod"] == "OneWeek"


# --- Firehose ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_firehose_is_encrypted_backs_up_failures_and_splits_records(app: dict[str, Any], stack: str) -> None:
    template = app["templates"][stack]
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    assert props["DeliveryStreamType"] == "DirectPut"
    assert props["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "CUSTOMER_MANAGED_CMK"
    key = (
        "AmazonOpenSearchServerlessDestinationConfiguration"
        if "Serverless" in stack
        else "AmazonopensearchserviceDestinationConfiguration"
    )
    destination = props[key]
    delivery = ZONED_DELIVERY if stack == "AnalyticsZoned" else DEFAULT_DELIVERY
    assert destination["S3BackupMode"] == "FailedDocumentsOnly"
    assert destination["IndexName"] == delivery["index_prefix"]
    assert destination["RetryOptions"] == {"DurationInSeconds": delivery["retry_seconds"]}
    assert destination["BufferingHints"] == {
        "IntervalInSeconds": delivery["buffer_interval_seconds"],
        "SizeInMBs": delivery["buffer_size_mib"],
    }
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    function = template["Resources"][params["LambdaArn"]["Fn::GetAtt"][0]]["Properties"]
    assert processor["Type"] == "Lambda" and function["Handler"] == "handler.lambda_handler"
    assert function["Runtime"] == "python3.14" and function["Architectures"] == ["arm64"]
    s3 = destination["S3Configuration"]
    assert "AWSKMSKeyARN" in s3["EncryptionConfiguration"]["KMSEncryptionConfig"]
    bucket = template["Resources"][s3["BucketARN"]["Fn::GetAtt"][0]]
    assert bucket["DeletionPolicy"] == "Retain"
    assert (
        bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "aws:kms"
    )
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert (
        bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"]
        == delivery["backup_retention_days"]
    )
    assert "LoggingConfiguration" in bucket["Properties"]  # server access logs


@pytest.mark.parametrize("stack", STACKS)
def test_log_groups_are_subscribed_through_a_logs_only_role(app: dict[str, Any], stack: str) -> None:
    template = app["templates"][stack]
    stream_id, _ = one(template, "AWS::KinesisFirehose::DeliveryStream")
    log_group_id = next(k for k in of_type(template, "AWS::Logs::LogGroup") if k.startswith("AppLogs"))
    _, subscription = one(template, "AWS::Logs::SubscriptionFilter")
    props = subscription["Properties"]
    assert props["LogGroupName"] == {"Ref": log_group_id}
    assert props["DestinationArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert props["FilterPattern"] == ('{ $.level = "*" }' if stack == "AnalyticsServerless" else "")
    role = template["Resources"][props["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"]["Service"] == {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    puts = [s for s in statements(template) if s["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]]
    assert [s["Resource"] for s in puts] == [{"Fn::GetAtt": [stream_id, "Arn"]}]
    assert len(subscription["DependsOn"]) == 2  # the put policy and the processor's re-ingest policy


def test_only_the_processor_may_reingest_into_its_stream(app: dict[str, Any]) -> None:
    template = app["templates"]["Analytics"]
    stream_id, _ = one(template, "AWS::KinesisFirehose::DeliveryStream")
    reingest = [s for s in statements(template) if s["Action"] == "firehose:PutRecordBatch"]
    assert reingest == [
        {"Action": "firehose:PutRecordBatch", "Effect": "Allow", "Resource": {"Fn::GetAtt": [stream_id, "Arn"]}}
    ]


def test_no_policy_grants_every_resource(app: dict[str, Any]) -> None:
    from llm_observability.constructs.log_analytics.network import FIREHOSE_VPC_ACTIONS

    for stack in STACKS:
        everything = [s for s in statements(app["templates"][stack]) if s.get("Resource") == "*"]
        if stack in PUBLIC_STACKS:
            assert everything == [], stack
        else:  # only the network interfaces Firehose and Lambda create in the VPC (ids unknown in advance)
            assert {s["Sid"] for s in everything} == {"DeliverIntoVpc", "AttachToVpc"}, stack
            assert all(a.startswith("ec2:") for s in everything for a in s["Action"]), stack
            (firehose,) = [s for s in everything if s["Sid"] == "DeliverIntoVpc"]
            assert sorted(firehose["Action"]) == sorted(FIREHOSE_VPC_ACTIONS)


# --- index template ---------------------------------------------------------------------------------------------------


def test_the_index_template_is_put_before_documents_arrive(app: dict[str, Any]) -> None:
    template = app["templates"]["Analytics"]
    resource_id, resource = one(template, "Custom::OpenSearchIndexTemplate")
    domain_id, _ = one(template, "AWS::OpenSearchService::Domain")
    props = resource["Properties"]
    assert props["Endpoint"] == {"Fn::GetAtt": [domain_id, "DomainEndpoint"]} and props["Service"] == "es"
    assert json.loads(props["TemplateBody"]) == index_template("llm-logs", replicas=0)
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    assert resource_id in stream["DependsOn"]


def test_structured_fields_have_the_right_types() -> None:
    body = index_template("llm-logs", replicas=0)
    assert body["index_patterns"] == ["llm-logs*"]
    fields = body["template"]["mappings"]["properties"]
    assert fields["@timestamp"]["type"] == "date"
    assert fields["timestamp"]["format"].startswith("yyyy-MM-dd HH:mm:ss,SSSZ")  # Powertools' format
    assert fields["level"]["type"] == fields["correlation_id"]["type"] == fields["error_class"]["type"] == "keyword"
    assert fields["service"]["type"] == fields["model_id"]["type"] == "keyword"
    assert fields["message"]["type"] == "text"
    assert fields["prompt"]["properties"]["template_version"]["type"] == "keyword"
    assert fields["latency_ms"]["properties"]["end_to_end"]["type"] == "float"
    assert fields["usage"]["properties"]["total_tokens"]["type"] == "long"
    assert fields["cloudwatch"]["properties"]["log_group"]["type"] == "keyword"
    settings = body["template"]["settings"]
    assert settings["index.number_of_replicas"] == 0 and "index.search.slowlog.threshold.query.warn" in settings
    assert "settings" not in index_template("x", replicas=None)["template"]  # Serverless manages shards itself


# --- Serverless -------------------------------------------------------------------------------------------------------


def test_serverless_collection_has_encryption_network_and_data_policies(app: dict[str, Any]) -> None:
    template = app["templates"]["AnalyticsServerless"]
    collection_id, collection = one(template, "AWS::OpenSearchServerless::Collection")
    name = collection["Properties"]["Name"]
    assert (
        collection["Properties"]["Type"] == "TIMESERIES" and collection["Properties"]["StandbyReplicas"] == "DISABLED"
    )
    policies = {
        p["Properties"]["Type"]: (k, p["Properties"])
        for k, p in of_type(template, "AWS::OpenSearchServerless::SecurityPolicy").items()
    }
    encryption_id, encryption = policies["encryption"]
    rendered = json.dumps(encryption["Policy"])
    assert '\\"AWSOwnedKey\\":false' in rendered and "KmsARN" in rendered and f"collection/{name}" in rendered
    network_id, network = policies["network"]
    (rule,) = json.loads(network["Policy"])
    # The collection endpoint is public (no VPC given); the unused dashboards are reachable from nowhere.
    assert rule == {"Rules": [{"ResourceType": "collection", "Resource": [f"collection/{name}"]}],
                    "AllowFromPublic": True}  # fmt: skip
    assert set(collection["DependsOn"]) == {encryption_id, network_id}

    access_id, access = one(template, "AWS::OpenSearchServerless::AccessPolicy")
    assert access["Properties"]["Type"] == "data"
    text = json.dumps(access["Properties"]["Policy"])
    assert "aoss:WriteDocument" in text and READER in text and '"*"' not in text
    _, resource = one(template, "Custom::OpenSearchIndexTemplate")
    assert resource["Properties"]["Service"] == "aoss"
    assert resource["Properties"]["Endpoint"] == {"Fn::GetAtt": [collection_id, "CollectionEndpoint"]}
    assert access_id in resource["DependsOn"]
    assert json.loads(resource["Properties"]["TemplateBody"]) == index_template("llm-logs", replicas=None)
    data_plane = [s for s in statements(template) if s["Action"] == "aoss:APIAccessAll"]
    assert len(data_plane) == 2 and all(s["Resource"] == {"Fn::GetAtt": [collection_id, "Arn"]} for s in data_plane)
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    destination = stream["Properties"]["AmazonOpenSearchServerlessDestinationConfiguration"]
    assert destination["CollectionEndpoint"] == {"Fn::GetAtt": [collection_id, "CollectionEndpoint"]}


# --- props and bad input ---------------------------------------------------------------------------------------------


def test_destinations_are_immutable_props_with_documented_defaults() -> None:
    from dataclasses import FrozenInstanceError

    from aws_cdk import RemovalPolicy

    from llm_observability.constructs.log_analytics import (
        DomainCapacity,
        OpenSearchDelivery,
        OpenSearchDomainDestination,
        OpenSearchServerlessDestination,
    )

    domain = OpenSearchDomainDestination(readers=[READER])
    assert domain.readers == (READER,)  # a list is taken as a tuple
    assert domain.capacity == DomainCapacity(
        instance_type="t3.small.search", instance_count=1, volume_size_gib=10, zone_awareness=False
    )
    assert (domain.engine_version, domain.index_rotation, domain.removal_policy) == (
        "2.19",
        "OneDay",
        RemovalPolicy.DESTROY,
    )
    assert domain.delivery == OpenSearchDelivery(**DEFAULT_DELIVERY)
    assert OpenSearchServerlessDestination().standby_replicas is False
    with pytest.raises(FrozenInstanceError):
        domain.engine_version = "3.1"  # type: ignore[misc]
    # A collection has no index rotation: the setting does not exist, so it cannot be combined by mistake.
    with pytest.raises(TypeError, match="index_rotation"):
        OpenSearchServerlessDestination(index_rotation="OneDay")  # type: ignore[call-arg]
    # One replica when a second node or zone can hold it.
    assert [
        DomainCapacity(**c).index_replicas
        for c in ({}, {"instance_count": 3}, {"zone_awareness": True, "instance_count": 2})
    ] == [0, 1, 1]


def test_the_construct_exposes_the_store_it_bound(app: dict[str, Any]) -> None:
    from aws_cdk import aws_opensearchserverless as aoss
    from aws_cdk import aws_opensearchservice as opensearch

    domain, serverless = app["constructs"]["Analytics"], app["constructs"]["AnalyticsServerless"]
    assert isinstance(domain.domain, opensearch.Domain) and domain.collection is None
    assert domain.destination_config.service == "es" and domain.destination_config.index_replicas == 0
    assert isinstance(serverless.collection, aoss.CfnCollection) and serverless.domain is None
    assert serverless.destination_config.service == "aoss" and serverless.destination_config.index_replicas is None
    assert app["constructs"]["AnalyticsZoned"].index_prefix == "app_logs"


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        ("DomainCapacity", {"instance_type": "t2.small.search"},
         r"^DomainCapacity 'instance_type' is 't2.small.search': allowed is an OpenSearch instance type of T3"),
        ("DomainCapacity", {"instance_count": 0},
         r"^DomainCapacity 'instance_count' is 0: allowed is a whole number from 1 to 80.$"),
        ("DomainCapacity", {"instance_count": True},
         r"^DomainCapacity 'instance_count' is True: allowed is a whole number from 1 to 80.$"),
        ("DomainCapacity", {"zone_awareness": True, "instance_count": 3},
         r"^DomainCapacity 'instance_count' is 3 with zone_awareness: allowed is an even number of nodes.$"),
        ("DomainCapacity", {"volume_size_gib": 5},
         r"^DomainCapacity 'volume_size_gib' is 5: allowed is a whole number from 10 to 1,024.$"),
        ("OpenSearchDomainDestination", {"engine_version": "OpenSearch_2.19"},
         r"^OpenSearchDomainDestination 'engine_version' is 'OpenSearch_2.19': allowed is an OpenSearch version"),
        ("OpenSearchDomainDestination", {"index_rotation": "Daily"},
         r"^OpenSearchDomainDestination 'index_rotation' is 'Daily': allowed are NoRotation, OneHour, OneDay,"),
        ("OpenSearchDomainDestination", {"capacity": {"instance_count": 2}},
         r"^OpenSearchDomainDestination 'capacity' is .*: allowed is a DomainCapacity.$"),
        ("OpenSearchDomainDestination", {"readers": ["arn:aws:iam::123456789012:role/*"]},
         r"^OpenSearchDomainDestination 'readers' is .*: allowed is a list of IAM role or user ARNs without"),
        ("OpenSearchServerlessDestination", {"readers": "arn:aws:iam::123456789012:role/x"},
         r"^OpenSearchServerlessDestination 'readers' is .*: allowed is a list of IAM role or user ARNs"),
        ("OpenSearchServerlessDestination", {"delivery": {"index_prefix": "x"}},
         r"^OpenSearchServerlessDestination 'delivery' is .*: allowed is an OpenSearchDelivery.$"),
        ("OpenSearchServerlessDestination", {"standby_replicas": "yes"},
         r"^OpenSearchServerlessDestination 'standby_replicas' is 'yes': allowed is True or False.$"),
        ("OpenSearchDelivery", {"index_prefix": "Logs"},
         r"^OpenSearchDelivery 'index_prefix' is 'Logs': allowed is 1-80 lower-case letters"),
        ("OpenSearchDelivery", {"buffer_interval_seconds": 901},
         r"^OpenSearchDelivery 'buffer_interval_seconds' is 901: allowed is a whole number from 0 to 900.$"),
        ("OpenSearchDelivery", {"buffer_size_mib": 0},
         r"^OpenSearchDelivery 'buffer_size_mib' is 0: allowed is a whole number from 1 to 100.$"),
        ("OpenSearchDelivery", {"retry_seconds": -1},
         r"^OpenSearchDelivery 'retry_seconds' is -1: allowed is a whole number from 0 to 7,200.$"),
        ("OpenSearchDelivery", {"backup_retention_days": 0},
         r"^OpenSearchDelivery 'backup_retention_days' is 0: allowed is a whole number from 1 to 3,650.$"),
    ],
)  # fmt: skip
def test_bad_props_fail_with_one_sentence(factory: str, kwargs: dict[str, Any], message: str) -> None:
    from llm_observability.constructs import log_analytics

    with pytest.raises(ConfigError, match=message):
        getattr(log_analytics, factory)(**kwargs)


def test_bad_construct_input_fails_with_one_sentence() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_logs as logs

    from llm_observability.constructs.log_analytics import LogAnalytics
    from llm_observability.workload import Workload

    stack = Stack(App(), "S")
    bare = Workload(name="x", model_ids=("amazon.nova-lite-v1:0",))
    with pytest.raises(ConfigError, match=r"^LogAnalytics 'workload.log_groups' is empty: allowed is a workload"):
        LogAnalytics(stack, "A", workload=bare)
    workload = Workload(name="x", model_ids=("m.x",), log_groups=(logs.LogGroup(stack, "G"),))
    cases = [
        ({"destination": "serverless"},
         r"^LogAnalytics 'destination' is 'serverless': allowed is an OpenSearchDomainDestination or an OpenSearch"),
        ({"filter_pattern": None}, r"^LogAnalytics 'filter_pattern' is None: allowed is a CloudWatch Logs filter"),
        ({"log_retention_days": 2}, r"^LogAnalytics 'log_retention_days' is 2: allowed are 1, 3, 5"),
    ]  # fmt: skip
    for index, (kwargs, message) in enumerate(cases):
        with pytest.raises(ConfigError, match=message):
            LogAnalytics(stack, f"B{index}", workload=workload, **kwargs)


# --- fine-grained access control, audit logs ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["Analytics", "AnalyticsPrivate"])
def test_fine_grained_access_control_has_an_iam_master_and_no_internal_users(app: dict[str, Any], stack: str) -> None:
    template = app["templates"][stack]
    _, domain = one(template, "AWS::OpenSearchService::Domain")
    template_role = next(k for k in of_type(template, "AWS::IAM::Role") if "IndexTemplateRole" in k)
    assert domain["Properties"]["AdvancedSecurityOptions"] == {
        "Enabled": True,
        "InternalUserDatabaseEnabled": False,
        "MasterUserOptions": {"MasterUserARN": {"Fn::GetAtt": [template_role, "Arn"]}},
    }
    assert not of_type(template, "AWS::SecretsManager::Secret")  # no master password anywhere
    props = domain["Properties"]  # what fine-grained access control builds on stays on
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert props["EncryptionAtRestOptions"]["Enabled"] is True
    assert props["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert props["DomainEndpointOptions"]["TLSSecurityPolicy"] == "Policy-Min-TLS-1-2-PFS-2023-10"


def _security(template: dict[str, Any]) -> dict[str, Any]:
    """The custom resource's Security property with the role ARNs as logical ids."""
    _, resource = one(template, "Custom::OpenSearchIndexTemplate")
    parts = resource["Properties"]["Security"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else f"<{p['Fn::GetAtt'][0]}>" for p in parts)
    return json.loads(text)


def test_the_master_maps_firehose_to_a_writer_and_readers_to_a_reader_and_turns_audit_logging_on(
    app: dict[str, Any],
) -> None:
    template = app["templates"]["Analytics"]
    roles = of_type(template, "AWS::IAM::Role")
    delivery = next(k for k in roles if "DeliveryRole" in k)
    security = _security(template)
    assert security["role_mappings"] == {"llm-log-writer": [f"<{delivery}>"], "llm-log-reader": [READER]}
    writer, reader = security["roles"]["llm-log-writer"], security["roles"]["llm-log-reader"]
    assert writer["index_permissions"] == [
        {"index_patterns": ["llm-logs*"], "allowed_actions": ["create_index", "manage", "crud"]}
    ]
    assert reader["index_permissions"] == [{"index_patterns": ["llm-logs*"], "allowed_actions": ["read"]}]
    assert security["audit_logging"] is True
    # The zoned stack has no readers and its own index prefix.
    zoned = _security(app["templates"]["AnalyticsZoned"])
    assert set(zoned["roles"]) == {"llm-log-writer"} and set(zoned["role_mappings"]) == {"llm-log-writer"}
    assert zoned["roles"]["llm-log-writer"]["index_permissions"][0]["index_patterns"] == ["app_logs*"]
    # The function may call the security API of this domain only; Serverless has no such property.
    grants = [s for s in statements(template) if s.get("Sid") == "SetUpSecurity"]
    assert len(grants) == 1 and sorted(grants[0]["Action"]) == ["es:ESHttpPatch", "es:ESHttpPut"]
    assert json.dumps(grants[0]["Resource"]).endswith('/_plugins/_security/api/*"]]}')
    _, serverless = one(app["templates"]["AnalyticsServerless"], "Custom::OpenSearchIndexTemplate")
    assert "Security" not in serverless["Properties"]


def test_the_security_property_is_what_the_function_accepts(
    app: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler parses the synthesized property into PUT roles, PUT role mappings and PATCH audit."""
    from tests.conftest import ROOT
    from tests.support.loader import load_file

    monkeypatch.syspath_prepend(str(ROOT / "llm_observability" / "functions" / "_shared"))  # its shared siblings
    handler = load_file(
        "opensearch_index_template_security", ROOT / "llm_observability/functions/opensearch_index_template/handler.py"
    )
    security = _security(app["templates"]["Analytics"])
    arn = "arn:aws:iam::123456789012:role/delivery"
    security["role_mappings"]["llm-log-writer"] = [arn]
    requests = handler.parse_security(json.dumps(security), "es")
    assert [(m, p) for m, p, _ in requests] == [
        ("PUT", "/_plugins/_security/api/roles/llm-log-writer"),
        ("PUT", "/_plugins/_security/api/roles/llm-log-reader"),
        ("PUT", "/_plugins/_security/api/rolesmapping/llm-log-writer"),
        ("PUT", "/_plugins/_security/api/rolesmapping/llm-log-reader"),
        ("PATCH", "/_plugins/_security/api/audit"),
    ]
    assert json.loads(requests[2][2]) == {"backend_roles": [arn]}
    assert json.loads(requests[4][2]) == [{"op": "add", "path": "/config/enabled", "value": True}]


# --- VPC placement -----------------------------------------------------------------------------------------------


def _ingress_sources(template: dict[str, Any], group: str) -> list[tuple[Any, int, int]]:
    rules = [r["Properties"] for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()]
    return sorted(
        (r["SourceSecurityGroupId"]["Fn::GetAtt"][0], r["FromPort"], r["ToPort"])
        for r in rules
        if r["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    )


def test_a_private_domain_sits_in_the_subnets_behind_an_https_only_group(app: dict[str, Any]) -> None:
    template = app["templates"]["AnalyticsPrivate"]
    _, domain = one(template, "AWS::OpenSearchService::Domain")
    groups = of_type(template, "AWS::EC2::SecurityGroup")
    domain_group = next(k for k in groups if "DomainSecurityGroup" in k)
    delivery_group = next(k for k in groups if "DeliverySecurityGroup" in k)
    function_group = next(k for k in groups if "IndexTemplateSecurityGroup" in k)
    assert all(g["Properties"]["VpcId"] == VPC["vpc_id"] for g in groups.values())
    # Zone awareness: the first two subnets (two Availability Zones).
    assert domain["Properties"]["VPCOptions"] == {
        "SubnetIds": VPC["subnet_ids"][:2],
        "SecurityGroupIds": [{"Fn::GetAtt": [domain_group, "GroupId"]}],
    }
    assert _ingress_sources(template, domain_group) == sorted([(delivery_group, 443, 443), (function_group, 443, 443)])
    domain_egress = groups[domain_group]["Properties"]["SecurityGroupEgress"]
    assert len(domain_egress) == 1 and domain_egress[0]["CidrIp"] == "255.255.255.255/32"  # nothing out
    assert "SecurityGroupIngress" not in groups[domain_group]["Properties"]  # no CIDR ingress at all
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    vpc_config = stream["Properties"]["AmazonopensearchserviceDestinationConfiguration"]["VpcConfiguration"]
    delivery_role = next(k for k in of_type(template, "AWS::IAM::Role") if "DeliveryRole" in k)
    assert vpc_config == {
        "RoleARN": {"Fn::GetAtt": [delivery_role, "Arn"]},
        "SubnetIds": VPC["subnet_ids"],
        "SecurityGroupIds": [{"Fn::GetAtt": [delivery_group, "GroupId"]}],
    }
    delivery_egress = [r["Properties"] for r in of_type(template, "AWS::EC2::SecurityGroupEgress").values()
                       if r["Properties"]["GroupId"] == {"Fn::GetAtt": [delivery_group, "GroupId"]}]  # fmt: skip
    assert [(e["DestinationSecurityGroupId"]["Fn::GetAtt"][0], e["FromPort"]) for e in delivery_egress] == [
        (domain_group, 443)
    ]
    function_egress = groups[function_group]["Properties"]["SecurityGroupEgress"]
    assert function_egress == [
        {"CidrIp": "0.0.0.0/0", "Description": "HTTPS to the domain and the S3 response URL", "FromPort": 443,
         "IpProtocol": "tcp", "ToPort": 443}
    ]  # fmt: skip


@pytest.mark.parametrize("stack", ["AnalyticsPrivate", "AnalyticsServerlessPrivate"])
def test_the_index_template_function_runs_in_the_vpc_only_when_the_store_is_private(
    app: dict[str, Any], stack: str
) -> None:
    for name, private in ((stack, True), ("Analytics", False), ("AnalyticsServerless", False)):
        template = app["templates"][name]
        _, resource = one(template, "Custom::OpenSearchIndexTemplate")
        function_id = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        function = template["Resources"][function_id]
        if not private:
            assert "VpcConfig" not in function["Properties"], name
            continue
        group = next(k for k in of_type(template, "AWS::EC2::SecurityGroup") if "IndexTemplateSecurityGroup" in k)
        assert function["Properties"]["VpcConfig"] == {
            "SubnetIds": VPC["subnet_ids"], "SecurityGroupIds": [{"Fn::GetAtt": [group, "GroupId"]}]
        }
        (policy_id,) = [k for k, p in of_type(template, "AWS::IAM::Policy").items()
                        if any(s.get("Sid") == "AttachToVpc" for s in p["Properties"]["PolicyDocument"]["Statement"])]  # fmt: skip
        assert policy_id in function["DependsOn"]  # Lambda checks the ENI permissions on create


def test_a_private_collection_is_reached_only_through_its_vpc_endpoint(app: dict[str, Any]) -> None:
    template = app["templates"]["AnalyticsServerlessPrivate"]
    endpoint_id, endpoint = one(template, "AWS::OpenSearchServerless::VpcEndpoint")
    groups = of_type(template, "AWS::EC2::SecurityGroup")
    endpoint_group = next(k for k in groups if "EndpointSecurityGroup" in k)
    delivery_group = next(k for k in groups if "DeliverySecurityGroup" in k)
    function_group = next(k for k in groups if "IndexTemplateSecurityGroup" in k)
    assert endpoint["Properties"]["VpcId"] == VPC["vpc_id"] and endpoint["Properties"]["SubnetIds"] == VPC["subnet_ids"]
    assert endpoint["Properties"]["SecurityGroupIds"] == [{"Fn::GetAtt": [endpoint_group, "GroupId"]}]
    assert len(endpoint["Properties"]["Name"]) <= 32
    assert _ingress_sources(template, endpoint_group) == sorted([(delivery_group, 443, 443), (function_group, 443, 443)])
    (network,) = [p["Properties"] for p in of_type(template, "AWS::OpenSearchServerless::SecurityPolicy").values()
                  if p["Properties"]["Type"] == "network"]  # fmt: skip
    parts = network["Policy"]["Fn::Join"][1]
    rule = json.loads("".join(p if isinstance(p, str) else "VPCE" for p in parts))
    assert rule == [{"Rules": [{"ResourceType": "collection", "Resource": [rule[0]["Rules"][0]["Resource"][0]]}],
                     "AllowFromPublic": False, "SourceVPCEs": ["VPCE"]}]  # fmt: skip
    assert {"Fn::GetAtt": [endpoint_id, "Id"]} in parts
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    destination = stream["Properties"]["AmazonOpenSearchServerlessDestinationConfiguration"]
    assert destination["VpcConfiguration"]["SubnetIds"] == VPC["subnet_ids"]
    assert destination["VpcConfiguration"]["SecurityGroupIds"] == [{"Fn::GetAtt": [delivery_group, "GroupId"]}]
    _, resource = one(template, "Custom::OpenSearchIndexTemplate")
    assert endpoint_id in resource["DependsOn"]  # the template goes over the endpoint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vpc_id": "vpc-123"}, r"^VpcPlacement 'vpc_id' is 'vpc-123': allowed is a VPC id such as vpc-0123"),
        ({"subnet_ids": "subnet-0123456789abcdef0"}, r"^VpcPlacement 'subnet_ids' is 'subnet-0123456789abcdef0': "),
        ({"subnet_ids": ["subnet-0123456789abcdef0"] * 3}, r"^VpcPlacement 'subnet_ids' is .*: allowed is a list of distinct"),
        ({"availability_zones": ["us-east-1a"]}, r"^VpcPlacement 'availability_zones' is \['us-east-1a'\]: allowed is a list"),
        ({"availability_zones": ["useast1a", "b", "c"]}, r"^VpcPlacement 'availability_zones' is .*one per subnet"),
    ],
)  # fmt: skip
def test_bad_vpc_placement_fails_with_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    from llm_observability.constructs.log_analytics import VpcPlacement

    with pytest.raises(ConfigError, match=message):
        VpcPlacement(**{**VPC, **kwargs})


def test_zone_awareness_in_a_vpc_needs_two_zones_first() -> None:
    from llm_observability.constructs.log_analytics import DomainCapacity, OpenSearchDomainDestination, VpcPlacement

    same_zone = VpcPlacement(**{**VPC, "availability_zones": ["us-east-1a", "us-east-1a", "us-east-1b"]})
    with pytest.raises(ConfigError, match=r"^OpenSearchDomainDestination 'vpc' starts with two subnets in us-east-1a"):
        OpenSearchDomainDestination(capacity=DomainCapacity(zone_awareness=True, instance_count=2), vpc=same_zone)
    assert OpenSearchDomainDestination(vpc=same_zone).vpc is same_zone  # one node: the first subnet is enough
    with pytest.raises(ConfigError, match=r"^OpenSearchServerlessDestination 'vpc' is 'vpc-1': allowed is a VpcPlacement"):
        from llm_observability.constructs.log_analytics import OpenSearchServerlessDestination

        OpenSearchServerlessDestination(vpc="vpc-1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"vpc_id": "vpc-0123456789abcdef0"},
         r"^Setting 'vpc_subnet_ids' is \(\): allowed is a value as well, since vpc_id is set \(the VPC settings go all"),
        ({"vpc_subnet_ids": ["subnet-0123456789abcdef0"], "vpc_availability_zones": ["us-east-1a"]},
         r"^Setting 'vpc_id' is '': allowed is a value as well, since vpc_subnet_ids and vpc_availability_zones are set"),
        ({"vpc_id": "vpc-0123456789abcdef0", "vpc_subnet_ids": ["subnet-0123456789abcdef0"]},
         r"^Setting 'vpc_availability_zones' is \(\): allowed is a value as well"),
        ({"vpc_id": "vpc-0123456789abcdef0", "vpc_subnet_ids": ["subnet-0123456789abcdef0"],
          "vpc_availability_zones": ["us-east-1a", "us-east-1b"]},
         r"^Setting 'vpc_availability_zones' is .*: allowed is one zone per subnet of 'vpc_subnet_ids' \(1\).$"),
        ({"vpc_id": "vpc-x"}, r"^Setting 'vpc_id' is 'vpc-x': allowed is empty \(no VPC\) or a VPC id"),
        ({"vpc_subnet_ids": ["sn-1"]}, r"^Setting 'vpc_subnet_ids' is \['sn-1'\]: allowed is empty or a list of distinct"),
    ],
)  # fmt: skip
def test_the_vpc_settings_go_all_three_or_none(values: dict[str, Any], message: str) -> None:
    from llm_observability.config import ObservabilityConfig

    with pytest.raises(ConfigError, match=message):
        ObservabilityConfig.from_mapping(values)
    config = ObservabilityConfig.from_mapping(
        {"vpc_id": VPC["vpc_id"], "vpc_subnet_ids": VPC["subnet_ids"], "vpc_availability_zones": VPC["availability_zones"]}
    )
    assert config.vpc_subnet_ids == tuple(VPC["subnet_ids"])
