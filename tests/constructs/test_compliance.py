"""ComplianceBaseline: Security Hub, AWS Config rules and CloudTrail, in three parameter combinations.

One app with three stacks, each holding only the baseline, plus a fourth with the alert topic the
defaults notify (as in the bundled app, where Level 1 owns the topic and Level 2 the baseline: the
cross-stack wiring must not make the stacks depend on each other). Synthesized once for the module,
with cdk-nag AwsSolutions as a validation plugin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT

DEFAULTS, ADOPT, MIXED, ALERTS = "ComplianceDefaults", "ComplianceAdopt", "ComplianceMixed", "ComplianceAlerts"

#: rule name -> (managed rule identifier, input parameters)
EXPECTED_RULES: dict[str, tuple[str, dict[str, str] | None]] = {
    "api-gw-xray-enabled": ("API_GW_XRAY_ENABLED", None),
    "api-gw-execution-logging-enabled": ("API_GW_EXECUTION_LOGGING_ENABLED", {"loggingLevel": "ERROR,INFO"}),
    "cloudwatch-log-group-encrypted": ("CLOUDWATCH_LOG_GROUP_ENCRYPTED", None),
    "cw-loggroup-retention-period-check": ("CW_LOGGROUP_RETENTION_PERIOD_CHECK", {"MinRetentionTime": "365"}),
    "cloudwatch-alarm-action-check": (
        "CLOUDWATCH_ALARM_ACTION_CHECK",
        {"alarmActionRequired": "true", "okActionRequired": "true", "insufficientDataActionRequired": "false"},
    ),
    "cloudtrail-enabled": ("CLOUD_TRAIL_ENABLED", None),
    "cloud-trail-encryption-enabled": ("CLOUD_TRAIL_ENCRYPTION_ENABLED", None),
    "cloud-trail-cloud-watch-logs-enabled": ("CLOUD_TRAIL_CLOUD_WATCH_LOGS_ENABLED", None),
    "cloud-trail-log-file-validation-enabled": ("CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", None),
    "lambda-function-settings-check": (
        "LAMBDA_FUNCTION_SETTINGS_CHECK",
        {"runtime": "python3.11,python3.12,python3.13,python3.14,nodejs20.x,nodejs22.x,nodejs24.x"},
    ),
    "lambda-function-public-access-prohibited": ("LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED", None),
    "sns-encrypted-kms": ("SNS_ENCRYPTED_KMS", None),
    "s3-bucket-ssl-requests-only": ("S3_BUCKET_SSL_REQUESTS_ONLY", None),
}
RECORDED = [
    "AWS::ApiGateway::Stage",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Function",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Environment, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.alert_topic import AlertTopic
    from llm_observability.constructs.compliance import ComplianceBaseline
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("compliance")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    alerts = AlertTopic(Stack(app, ALERTS), "Alerts")
    baselines = {
        DEFAULTS: ComplianceBaseline(
            Stack(app, DEFAULTS), "Baseline", topic=alerts.topic, topic_key=alerts.key
        ),
        ADOPT: ComplianceBaseline(
            Stack(app, ADOPT), "Baseline",
            security_hub="adopt", config_recorder="adopt", standards=("cis", "nist"), cloudtrail=False,
        ),
        MIXED: ComplianceBaseline(
            # Its own environment: a second hub and trail beside DEFAULTS' in one environment would be refused.
            Stack(app, MIXED, env=Environment(account="111111111111", region="us-east-1")), "Baseline",
            standards=("fsbp", "cis", "nist"), config_recorder="adopt",
        ),
    }  # fmt: skip
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises RuntimeError("ValidationFailed ...") on any unacknowledged cdk-nag finding
    templates = {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in [*baselines, ALERTS]}
    return {"outdir": outdir, "templates": templates, "baselines": baselines, "alerts": alerts}


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _one(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = _of_type(template, cfn_type).items()
    return item


def _logical_id(construct: Any) -> str:
    from aws_cdk import Stack

    return Stack.of(construct).get_logical_id(construct.node.default_child)


def _join(value: Any) -> str:
    """A ``Fn::Join`` rendered as text (``${AWS::Region}`` for pseudo parameters, ``${Id}`` for Refs)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    separator, parts = value["Fn::Join"]
    return separator.join(_join(p) for p in parts)


# --- gates ------------------------------------------------------------------------------------


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
def test_no_cdk_nag_finding_and_cfn_lint_clean(synth: dict[str, Any]) -> None:
    outdir: Path = synth["outdir"]
    assert json.loads((outdir / "validation-report.json").read_text())["pluginReports"] == []
    for name in synth["templates"]:
        matches = lint_file(outdir / f"{name}.template.json", ManualArgs(regions=["us-east-1", "eu-west-1"]))
        assert [str(m) for m in matches] == [], name


# --- Security Hub -----------------------------------------------------------------------------


def test_hub_manages_standards_explicitly(synth: dict[str, Any]) -> None:
    template = synth["templates"][DEFAULTS]
    hub_id, hub = _one(template, "AWS::SecurityHub::Hub")
    assert hub["Properties"] == {
        "AutoEnableControls": True,
        "ControlFindingGenerator": "SECURITY_CONTROL",
        "EnableDefaultStandards": False,
    }
    (standard,) = _of_type(template, "AWS::SecurityHub::Standard").values()
    assert _join(standard["Properties"]["StandardsArn"]) == (
        "arn:${AWS::Partition}:securityhub:${AWS::Region}::standards/aws-foundational-security-best-practices/v/1.0.0"
    )
    assert standard["DependsOn"] == [hub_id]
    assert synth["baselines"][DEFAULTS].hub is not None


def test_standards_arns_of_all_three(synth: dict[str, Any]) -> None:
    standards = _of_type(synth["templates"][MIXED], "AWS::SecurityHub::Standard").values()
    arns = sorted(_join(s["Properties"]["StandardsArn"]).rpartition("::standards/")[2] for s in standards)
    assert arns == [
        "aws-foundational-security-best-practices/v/1.0.0",
        "cis-aws-foundations-benchmark/v/3.0.0",
        "nist-800-53/v/5.0.0",
    ]
    assert sorted(synth["baselines"][MIXED].standards) == ["cis", "fsbp", "nist"]


def test_adopt_creates_no_singleton_but_enables_the_standards(synth: dict[str, Any]) -> None:
    template = synth["templates"][ADOPT]
    for cfn_type in (
        "AWS::SecurityHub::Hub",
        "AWS::Config::ConfigurationRecorder",
        "AWS::Config::DeliveryChannel",
        "AWS::S3::Bucket",
        "AWS::CloudTrail::Trail",
        "AWS::KMS::Key",
        "AWS::IAM::Role",
        "AWS::Events::Rule",
    ):
        assert _of_type(template, cfn_type) == {}, cfn_type
    standards = _of_type(template, "AWS::SecurityHub::Standard").values()
    arns = sorted(_join(s["Properties"]["StandardsArn"]).rpartition("::standards/")[2] for s in standards)
    assert arns == ["cis-aws-foundations-benchmark/v/3.0.0", "nist-800-53/v/5.0.0"]
    assert all("DependsOn" not in s for s in standards)
    baseline = synth["baselines"][ADOPT]
    assert (baseline.hub, baseline.recorder, baseline.trail, baseline.access_logs_bucket) == (None, None, None, None)
    assert sorted(baseline.rules) == sorted(EXPECTED_RULES)


# --- AWS Config -------------------------------------------------------------------------------


def test_recorder_records_only_what_the_change_triggered_rules_evaluate(synth: dict[str, Any]) -> None:
    from llm_observability.constructs.compliance import RECORDED_RESOURCE_TYPES

    template = synth["templates"][DEFAULTS]
    recorder_id, recorder = _one(template, "AWS::Config::ConfigurationRecorder")
    assert recorder["Properties"]["RecordingGroup"] == {
        "AllSupported": False,
        "IncludeGlobalResourceTypes": False,
        "RecordingStrategy": {"UseOnly": "INCLUSION_BY_RESOURCE_TYPES"},
        "ResourceTypes": RECORDED,
    }
    assert list(RECORDED_RESOURCE_TYPES) == RECORDED
    assert recorder["Properties"]["RecordingMode"] == {"RecordingFrequency": "CONTINUOUS"}
    role_id = recorder["Properties"]["RoleARN"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    assert _join(role["ManagedPolicyArns"][0]) == "arn:${AWS::Partition}:iam::aws:policy/service-role/AWS_ConfigRole"
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "config.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}

    channel_id, channel = _one(template, "AWS::Config::DeliveryChannel")
    assert channel["Properties"]["S3KeyPrefix"] == "config"
    # Recorder and channel must not depend on each other (CloudFormation starts the recorder once the
    # channel exists); the channel waits for the bucket policy Config checks.
    assert recorder_id not in channel.get("DependsOn", []) and channel_id not in recorder.get("DependsOn", [])
    (policy_id,) = _of_type(template, "AWS::S3::BucketPolicy").keys() & set(channel["DependsOn"])
    bucket_id = channel["Properties"]["S3BucketName"]["Ref"]
    assert template["Resources"][policy_id]["Properties"]["Bucket"] == {"Ref": bucket_id}


def test_config_bucket_policy_lets_only_config_of_this_account_deliver(synth: dict[str, Any]) -> None:
    template = synth["templates"][DEFAULTS]
    channel = _one(template, "AWS::Config::DeliveryChannel")[1]
    bucket_id = channel["Properties"]["S3BucketName"]["Ref"]
    (policy,) = (
        p
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    )
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s}
    assert sorted(statements) == [
        "AWSConfigBucketDelivery",
        "AWSConfigBucketExistenceCheck",
        "AWSConfigBucketPermissionsCheck",
    ]
    for statement in statements.values():
        assert statement["Principal"] == {"Service": "config.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    delivery = statements["AWSConfigBucketDelivery"]
    assert delivery["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert _join(delivery["Resource"]) == f"${{{bucket_id}.Arn}}/config/AWSLogs/${{AWS::AccountId}}/Config/*"


@pytest.mark.parametrize("stack", [DEFAULTS, ADOPT])
def test_every_managed_rule_with_its_parameters(synth: dict[str, Any], stack: str) -> None:
    baseline = synth["baselines"][stack]
    template = synth["templates"][stack]
    rules = _of_type(template, "AWS::Config::ConfigRule")
    assert len(rules) == len(EXPECTED_RULES)
    by_name = {name: template["Resources"][_logical_id(rule)] for name, rule in baseline.rules.items()}
    assert sorted(by_name) == sorted(EXPECTED_RULES)
    for name, (identifier, parameters) in EXPECTED_RULES.items():
        props = by_name[name]["Properties"]
        assert props["Source"] == {"Owner": "AWS", "SourceIdentifier": identifier}, name
        assert props.get("InputParameters") == parameters, name
        periodic = "MaximumExecutionFrequency" in props
        assert periodic != ("Scope" in props), name
        if periodic:
            assert props["MaximumExecutionFrequency"] == "TwentyFour_Hours", name
        else:
            assert set(props["Scope"]["ComplianceResourceTypes"]) <= set(RECORDED), name


def test_rules_depend_on_the_recorder_only_when_it_is_created(synth: dict[str, Any]) -> None:
    template = synth["templates"][DEFAULTS]
    recorder_id = _one(template, "AWS::Config::ConfigurationRecorder")[0]
    rules = _of_type(template, "AWS::Config::ConfigRule").values()
    assert all(r["DependsOn"] == [recorder_id] for r in rules)
    for stack in (ADOPT, MIXED):
        assert all(
            "DependsOn" not in r for r in _of_type(synth["templates"][stack], "AWS::Config::ConfigRule").values()
        )


# --- CloudTrail -------------------------------------------------------------------------------


def test_trail_is_multi_region_validated_encrypted_and_sent_to_cloudwatch_logs(synth: dict[str, Any]) -> None:
    template = synth["templates"][DEFAULTS]
    trail = _one(template, "AWS::CloudTrail::Trail")[1]["Properties"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsLogging"] is True
    assert trail["EventSelectors"] == [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]
    assert trail["TrailName"].startswith(f"{DEFAULTS}-Baseline-") and trail["TrailName"].endswith("-trail")

    key_id = trail["KMSKeyId"]["Fn::GetAtt"][0]
    key = template["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    trail_arn = f"arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{trail['TrailName']}"
    grants = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Sid" in s}
    assert grants["AllowCloudTrailToEncryptLogs"]["Action"] == "kms:GenerateDataKey*"
    assert grants["AllowCloudTrailToDescribeKey"]["Action"] == "kms:DescribeKey"
    for grant in grants.values():
        assert grant["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert _join(grant["Condition"]["StringEquals"]["aws:SourceArn"]) == trail_arn
        assert grant["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}  # #15 item 12

    group_id = trail["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]
    group = template["Resources"][group_id]
    assert group["Properties"]["RetentionInDays"] == 365 and group["DeletionPolicy"] == "Retain"
    log_key = template["Resources"][group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]]
    assert log_key["Properties"]["EnableKeyRotation"] is True
    assert any(
        s.get("Principal") == {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}
        for s in log_key["Properties"]["KeyPolicy"]["Statement"]
    )
    logs_role = template["Resources"][trail["CloudWatchLogsRoleArn"]["Fn::GetAtt"][0]]
    assert logs_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudtrail.amazonaws.com"
    }
    # Only this trail may assume its CloudWatch Logs role (#15 item 12).
    trust = logs_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
    assert _join(trust["aws:SourceArn"]) == trail_arn and trust["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_trail_bucket_policy_names_the_trail(synth: dict[str, Any]) -> None:
    template = synth["templates"][DEFAULTS]
    trail = _one(template, "AWS::CloudTrail::Trail")[1]
    bucket_id = trail["Properties"]["S3BucketName"]["Ref"]
    (policy_id, policy), = (
        (k, p) for k, p in _of_type(template, "AWS::S3::BucketPolicy").items() if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    )  # fmt: skip
    assert policy_id in trail["DependsOn"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    cloudtrail = [s for s in statements if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}]
    assert sorted(s["Sid"] for s in cloudtrail) == ["AWSCloudTrailAclCheck", "AWSCloudTrailWrite"]
    for statement in cloudtrail:
        assert _join(statement["Condition"]["StringEquals"]["aws:SourceArn"]).endswith(
            f":trail/{trail['Properties']['TrailName']}"
        )


def test_audit_buckets_are_tls_only_private_encrypted_logged_and_retained(synth: dict[str, Any]) -> None:
    for stack in (DEFAULTS, MIXED):
        template = synth["templates"][stack]
        buckets = _of_type(template, "AWS::S3::Bucket")
        assert len(buckets) == (3 if stack == DEFAULTS else 2)
        access_logs_id = _logical_id(synth["baselines"][stack].access_logs_bucket)
        policies = {p["Properties"]["Bucket"]["Ref"]: p for p in _of_type(template, "AWS::S3::BucketPolicy").values()}
        for bucket_id, bucket in buckets.items():
            props = bucket["Properties"]
            assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain", bucket_id
            assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
                ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
            )
            assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] in (365, 2557)
            deny = policies[bucket_id]["Properties"]["PolicyDocument"]["Statement"][0]
            assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            if bucket_id != access_logs_id:
                assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": access_logs_id}
    for audit in (synth["baselines"][DEFAULTS].trail_bucket, synth["baselines"][DEFAULTS].config_bucket):
        props = synth["templates"][DEFAULTS]["Resources"][_logical_id(audit)]["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}  # the Config bucket too (#15 item 12)
        assert props["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


# --- notifications ----------------------------------------------------------------------------


def test_non_compliance_goes_to_the_alert_topic(synth: dict[str, Any]) -> None:
    template = synth["templates"][DEFAULTS]
    rule = _one(template, "AWS::Events::Rule")[1]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.config"]
    assert pattern["detail-type"] == ["Config Rules Compliance Change"]
    assert pattern["detail"]["newEvaluationResult"] == {"complianceType": ["NON_COMPLIANT"]}
    config_rules = set(_of_type(template, "AWS::Config::ConfigRule"))
    assert {r["Ref"] for r in pattern["detail"]["configRuleName"]} == config_rules
    (target,) = rule["Targets"]
    assert ALERTS in json.dumps(target["Arn"]) and "AlertsTopic" in json.dumps(target["Arn"])  # the other stack's
    assert "<detail-configRuleName>" in target["InputTransformer"]["InputTemplate"]
    # The alert stack only grants; it references nothing of the baseline's stack.
    alerts = synth["templates"][ALERTS]
    assert "Fn::ImportValue" not in json.dumps(alerts) and DEFAULTS not in json.dumps(alerts).replace(rule["Name"], "")

    policy = _one(alerts, "AWS::SNS::TopicPolicy")[1]["Properties"]["PolicyDocument"]["Statement"]
    (events_grant,) = (s for s in policy if s.get("Principal") == {"Service": "events.amazonaws.com"})
    assert events_grant["Action"] == "sns:Publish" and events_grant["Effect"] == "Allow"
    assert events_grant["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert _join(events_grant["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{rule['Name']}"
    )
    alert_key = _logical_id(synth["alerts"].key)
    grants = alerts["Resources"][alert_key]["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        "events.amazonaws.com" in json.dumps(g["Principal"]) and g["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        for g in grants
    )


# --- bad input --------------------------------------------------------------------------------

_A_KEY = object()  # stands for a KMS key, created inside the test


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"security_hub": "enable"}, "ComplianceBaseline 'security_hub' is 'enable': allowed are create, adopt."),
        ({"config_recorder": "keep"}, "ComplianceBaseline 'config_recorder' is 'keep': allowed are create, adopt."),
        (
            {"standards": ("fsbp", "pci")},
            "ComplianceBaseline 'standards' is ('fsbp', 'pci'): allowed is a list of distinct names from fsbp, cis, nist.",
        ),
        (
            {"standards": "cis"},
            "ComplianceBaseline 'standards' is 'cis': allowed is a list of distinct names from fsbp, cis, nist.",
        ),
        ({"cloudtrail": "yes"}, "ComplianceBaseline 'cloudtrail' is 'yes': allowed are True, False."),
        ({"cloudtrail": 1}, "ComplianceBaseline 'cloudtrail' is 1: allowed are True, False."),
        ({"security_hub": True}, "ComplianceBaseline 'security_hub' is True: allowed are create, adopt."),
        (
            {"log_retention_days": 100},
            (
                "ComplianceBaseline 'log_retention_days' is 100: allowed are 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
                "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
            ),
        ),
        (
            {"min_log_retention_days": 1096},
            (
                "ComplianceBaseline 'min_log_retention_days' is 1096: allowed are 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, "
                "180, 365, 400, 545, 731, 1827, 3653."
            ),
        ),
        (
            {"lambda_runtimes": ()},
            (
                "ComplianceBaseline 'lambda_runtimes' is (): allowed is a non-empty tuple of Lambda runtime identifiers "
                "such as python3.13 or nodejs22.x."
            ),
        ),
        (
            {"audit_retention_days": 30},
            "ComplianceBaseline 'audit_retention_days' is 30: allowed is a whole number from 90 to 3,653.",
        ),
        (
            {"topic_key": _A_KEY},
            (
                "ComplianceBaseline 'topic_key' is set without 'topic': allowed is a key only together "
                "with its topic."
            ),
        ),
    ],
)
def test_bad_input_fails_with_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_kms as kms

    from llm_observability.constructs.compliance import ComplianceBaseline

    stack = Stack(App(), "S")
    if kwargs.get("alert_topic_key") is _A_KEY:
        kwargs = {"alert_topic_key": kms.Key(stack, "Key", enable_key_rotation=True)}
    with pytest.raises(ConfigError) as error:
        ComplianceBaseline(stack, "Baseline", **kwargs)
    assert str(error.value) == message
