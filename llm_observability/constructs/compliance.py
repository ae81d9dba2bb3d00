"""Level 2 security-compliance baseline: AWS Security Hub, AWS Config managed rules and AWS CloudTrail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import jsii
from aws_cdk import Aws, Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_config as config
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_securityhub as securityhub
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.compliance_profile import limit_grants_to_aws_services
from llm_observability.config.bounds import LOG_RETENTION
from llm_observability.config.choices import SecurityStandard, SingletonMode
from llm_observability.constructs._common import (
    access_logs_bucket,
    encrypted_log_group,
    log_encryption_key,
    private_bucket,
)
from llm_observability.constructs.alert_topic import allow_publish
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge
from llm_observability.singletons import claim
from llm_observability.validation import Choice, choice, distinct_choices, whole_number

#: Security Hub standards this construct can enable, by short name: the ARN path after ``standards/``.
STANDARDS: dict[SecurityStandard, str] = {
    "fsbp": "aws-foundational-security-best-practices/v/1.0.0",
    "cis": "cis-aws-foundations-benchmark/v/3.0.0",
    "nist": "nist-800-53/v/5.0.0",
}

#: ``MinRetentionTime`` values the ``cw-loggroup-retention-period-check`` managed rule accepts
#: (a subset of the retention periods CloudWatch Logs offers).
RULE_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
#: Days the trail's and AWS Config's S3 objects may be kept.
AUDIT_RETENTION_DAYS = (90, 3653)

#: Lambda runtimes ``lambda-function-settings-check`` accepts by default: the Python and Node.js
#: runtimes Lambda supports (not deprecated) when this list was written.
DEFAULT_LAMBDA_RUNTIMES: tuple[str, ...] = (
    "python3.11", "python3.12", "python3.13", "python3.14", "nodejs20.x", "nodejs22.x", "nodejs24.x",
)  # fmt: skip
_RUNTIME_RE = re.compile(r"^[a-z][a-z0-9.]*$")

CONFIG_PREFIX = "config"
TRAIL_PREFIX = "cloudtrail"
COMPLIANCE_CHANGE = "Config Rules Compliance Change"


@dataclass(frozen=True)
class RuleSpec:
    """One AWS Config managed rule: its identifier, the resource types it evaluates, its parameters.

    ``periodic`` rules run every 24 hours from API calls and need no recorded configuration items;
    change-triggered rules evaluate recorded configuration items, so their resource types are recorded.
    """

    identifier: str
    description: str
    resource_types: tuple[str, ...]
    periodic: bool = False
    parameters: tuple[tuple[str, str], ...] = ()


_ID = config.ManagedRuleIdentifiers
_STAGE, _STAGE_V2 = "AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"
_TRAIL, _LOG_GROUP, _FUNCTION = "AWS::CloudTrail::Trail", "AWS::Logs::LogGroup", "AWS::Lambda::Function"


def rule_specs(*, min_log_retention_days: int, lambda_runtimes: tuple[str, ...]) -> dict[str, RuleSpec]:
    """The managed rules of the baseline, keyed by their AWS Config rule name."""
    return {
        "api-gw-xray-enabled": RuleSpec(
            _ID.API_GW_XRAY_ENABLED, "API Gateway REST API stages trace with AWS X-Ray.", (_STAGE,)
        ),
        "api-gw-execution-logging-enabled": RuleSpec(
            _ID.API_GW_EXECUTION_LOGGING_ENABLED,
            "API Gateway stages write execution logs at ERROR or INFO level.",
            (_STAGE, _STAGE_V2),
            parameters=(("loggingLevel", "ERROR,INFO"),),
        ),
        "cloudwatch-log-group-encrypted": RuleSpec(
            _ID.CLOUDWATCH_LOG_GROUP_ENCRYPTED,
            "CloudWatch Logs log groups are encrypted with a KMS key.",
            (_LOG_GROUP,),
            periodic=True,
        ),
        "cw-loggroup-retention-period-check": RuleSpec(
            "CW_LOGGROUP_RETENTION_PERIOD_CHECK",
            f"CloudWatch Logs log groups keep events at least {min_log_retention_days} days (or never expire).",
            (_LOG_GROUP,),
            periodic=True,
            parameters=(("MinRetentionTime", str(min_log_retention_days)),),
        ),
        "cloudwatch-alarm-action-check": RuleSpec(
            _ID.CLOUDWATCH_ALARM_ACTION_CHECK,
            "CloudWatch alarms have an ALARM action and an OK action.",
            ("AWS::CloudWatch::Alarm",),
            parameters=(
                ("alarmActionRequired", "true"),
                ("okActionRequired", "true"),
                ("insufficientDataActionRequired", "false"),
            ),
        ),
        "cloudtrail-enabled": RuleSpec(
            _ID.CLOUD_TRAIL_ENABLED, "A CloudTrail trail is logging in this account.", (_TRAIL,), periodic=True
        ),
        "cloud-trail-encryption-enabled": RuleSpec(
            _ID.CLOUD_TRAIL_ENCRYPTION_ENABLED,
            "CloudTrail trails encrypt log files with a KMS key.",
            (_TRAIL,),
            periodic=True,
        ),
        "cloud-trail-cloud-watch-logs-enabled": RuleSpec(
            _ID.CLOUD_TRAIL_CLOUD_WATCH_LOGS_ENABLED,
            "CloudTrail trails send events to CloudWatch Logs.",
            (_TRAIL,),
            periodic=True,
        ),
        "cloud-trail-log-file-validation-enabled": RuleSpec(
            _ID.CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED,
            "CloudTrail trails write signed digest files.",
            (_TRAIL,),
            periodic=True,
        ),
        "lambda-function-settings-check": RuleSpec(
            _ID.LAMBDA_FUNCTION_SETTINGS_CHECK,
            "Lambda functions use a supported runtime.",
            (_FUNCTION,),
            parameters=(("runtime", ",".join(lambda_runtimes)),),
        ),
        "lambda-function-public-access-prohibited": RuleSpec(
            _ID.LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED,
            "Lambda function policies allow no public invocation.",
            (_FUNCTION,),
        ),
        "sns-encrypted-kms": RuleSpec(
            _ID.SNS_ENCRYPTED_KMS, "SNS topics are encrypted with a KMS key.", ("AWS::SNS::Topic",)
        ),
        "s3-bucket-ssl-requests-only": RuleSpec(
            _ID.S3_BUCKET_SSL_REQUESTS_ONLY,
            "S3 bucket policies deny requests that do not use TLS.",
            ("AWS::S3::Bucket",),
        ),
    }


#: Resource types the configuration recorder records: those of the change-triggered rules, nothing else.
RECORDED_RESOURCE_TYPES: tuple[str, ...] = tuple(
    sorted(
        {
            t
            for spec in rule_specs(min_log_retention_days=365, lambda_runtimes=DEFAULT_LAMBDA_RUNTIMES).values()
            if not spec.periodic
            for t in spec.resource_types
        }
    )
)


def _grant_service(
    bucket: s3.Bucket, principal: iam.IPrincipal, *statements: tuple[str, str, str, dict[str, Any]]
) -> iam.AddToResourcePolicyResult:
    """Add AWS's documented delivery statements ``(sid, action, resource, conditions)`` for a service to
    ``bucket``'s policy; returns the result of the last, so the delivering resource can depend on the policy."""
    results = [
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid, principals=[principal], actions=[action], resources=[resource], conditions=conditions
            )
        )
        for sid, action, resource, conditions in statements
    ]
    return results[-1]


@jsii.implements(events.IRuleTarget)
class _PublishTo:
    """EventBridge target that only names the topic: the topic policy is written by ``allow_publish``
    (with source conditions), not by ``aws_events_targets.SnsTopic`` (which grants without any)."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput) -> None:
        self._topic = topic
        self._message = message

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn, input=self._message)


class ComplianceBaseline(Construct):
    """Security compliance for an LLM workload's account and region (maturity Level 2).

    - **AWS Security Hub** (``AWS::SecurityHub::Hub``, an account+region singleton) with consolidated
      control findings, new controls enabled automatically and no default standards; the chosen
      ``standards`` are enabled explicitly (``AWS::SecurityHub::Standard``).
    - **AWS Config** managed rules for what an LLM application on Bedrock is built of (API Gateway,
      Lambda, CloudWatch Logs and alarms, SNS, S3, CloudTrail; see :func:`rule_specs`). With
      ``config_recorder="create"`` also the configuration recorder (an account+region singleton)
      recording only :data:`RECORDED_RESOURCE_TYPES`, its role and a delivery channel to a retained,
      TLS-only bucket. AWS Config rules need a recorder: in ``"adopt"`` mode the account must have one.
    - **AWS CloudTrail**: a multi-region trail of management events with global service events and
      log file validation, encrypted with its own rotating KMS key, delivered to a versioned, retained,
      TLS-only bucket and to a KMS-encrypted CloudWatch Logs log group.
    - Optionally, an EventBridge rule that notifies ``topic`` when one of these Config rules
      finds a resource NON_COMPLIANT.

    Deleting the stack removes only what this construct created: with ``"adopt"`` an existing hub or
    recorder is never touched. Security Hub controls evaluate AWS Config configuration items, so
    controls on resource types outside :data:`RECORDED_RESOURCE_TYPES` report no data unless the
    account already records them (``config_recorder="adopt"`` with a broader recorder).

    :param security_hub: ``create`` a hub, or ``adopt`` the one the account already has. Default: ``create``.
    :param standards: Security Hub standards to enable, any of ``fsbp`` (AWS Foundational Security Best
        Practices v1.0.0), ``cis`` (CIS AWS Foundations Benchmark v3.0.0), ``nist`` (NIST SP 800-53
        Rev. 5). With ``adopt`` list only standards the account has not enabled yet, or ``()``: a
        standard enabled by this stack is disabled when the stack is deleted. Default: ``("fsbp",)``.
    :param config_recorder: ``create`` the configuration recorder and delivery channel, or ``adopt``
        the account's. Default: ``create``.
    :param cloudtrail: create the trail; ``False`` when an (organization) trail already covers the
        account, and in every region but one: the trail is multi-region, and only the first copy of
        management events is free. Default: True.
    :param log_retention_days: retention of the trail's CloudWatch Logs log group and of the S3 server
        access logs, a CloudWatch Logs value. Default: 365.
    :param min_log_retention_days: retention every log group must have for
        ``cw-loggroup-retention-period-check`` (one of :data:`RULE_RETENTION_DAYS`). Default: 365.
    :param lambda_runtimes: runtimes ``lambda-function-settings-check`` accepts.
        Default: :data:`DEFAULT_LAMBDA_RUNTIMES`.
    :param audit_retention_days: days the trail's and AWS Config's S3 objects are kept (90-3653).
        Default: 2557 (7 years).
    :param log_key: KMS key of the trail's log group; its policy must let CloudWatch Logs use it (as
        :func:`~llm_observability.constructs._common.log_encryption_key` does). Default: a new rotating key.
    :param topic: SNS topic told about NON_COMPLIANT evaluations of these rules. Default: none.
    :param topic_key: the KMS key of ``topic``, so EventBridge may use it. Default: none
        (an unencrypted topic or one whose key policy already allows EventBridge).
    """

    trail: cloudtrail.Trail | None  # declared here: in __init__ the name ``cloudtrail`` is the flag

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        security_hub: SingletonMode = "create",
        standards: tuple[SecurityStandard, ...] = ("fsbp",),
        config_recorder: SingletonMode = "create",
        cloudtrail: bool = True,
        log_retention_days: int = 365,
        min_log_retention_days: int = 365,
        lambda_runtimes: tuple[str, ...] = DEFAULT_LAMBDA_RUNTIMES,
        audit_retention_days: int = 2557,
        log_key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        topic_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        owner = "ComplianceBaseline"
        choice("security_hub", security_hub, SingletonMode, owner=owner)
        choice("config_recorder", config_recorder, SingletonMode, owner=owner)
        choice("cloudtrail", cloudtrail, (True, False), owner=owner)
        LOG_RETENTION.check("log_retention_days", log_retention_days, owner=owner)
        Choice(RULE_RETENTION_DAYS).check("min_log_retention_days", min_log_retention_days, owner=owner)
        standards = distinct_choices("standards", standards, SecurityStandard, owner=owner)
        if (
            not isinstance(lambda_runtimes, tuple | list)
            or not lambda_runtimes
            or not all(isinstance(r, str) and _RUNTIME_RE.match(r) for r in lambda_runtimes)
        ):
            raise ConfigError(
                f"ComplianceBaseline 'lambda_runtimes' is {lambda_runtimes!r}: allowed is a non-empty tuple of "
                "Lambda runtime identifiers such as python3.13 or nodejs22.x."
            )
        whole_number("audit_retention_days", audit_retention_days, *AUDIT_RETENTION_DAYS, owner=owner)
        if topic_key is not None and topic is None:
            raise ConfigError(
                "ComplianceBaseline 'topic_key' is set without 'topic': allowed is a key only "
                "together with its topic."
            )
        self._log_retention_days = log_retention_days
        self._audit_retention_days = audit_retention_days
        self._access_logs: s3.Bucket | None = None

        # --- Security Hub --------------------------------------------------------------------
        self.hub: securityhub.CfnHub | None = None
        if security_hub == "create":
            claim(self, "security-hub")
            self.hub = securityhub.CfnHub(
                self,
                "Hub",
                enable_default_standards=False,
                control_finding_generator="SECURITY_CONTROL",
                auto_enable_controls=True,
            )
        self.standards: dict[str, securityhub.CfnStandard] = {}
        for short_name in standards:
            standard = securityhub.CfnStandard(
                self,
                f"Standard-{short_name}",
                standards_arn=f"arn:{Aws.PARTITION}:securityhub:{Aws.REGION}::standards/{STANDARDS[short_name]}",
            )
            if self.hub is not None:
                standard.node.add_dependency(self.hub)
            self.standards[short_name] = standard

        # --- AWS Config ------------------------------------------------------------------------
        self.recorder: config.CfnConfigurationRecorder | None = None
        self.delivery_channel: config.CfnDeliveryChannel | None = None
        self.config_bucket: s3.Bucket | None = None
        self.config_role: iam.Role | None = None
        if config_recorder == "create":
            claim(self, "config-recorder")
            self._config_recorder()
        self.rules: dict[str, config.ManagedRule] = {}
        for name, spec in rule_specs(
            min_log_retention_days=min_log_retention_days, lambda_runtimes=tuple(lambda_runtimes)
        ).items():
            rule = config.ManagedRule(
                self,
                f"Rule-{name}",
                identifier=spec.identifier,
                description=spec.description,
                input_parameters=dict(spec.parameters) or None,
                maximum_execution_frequency=config.MaximumExecutionFrequency.TWENTY_FOUR_HOURS if spec.periodic else None,
                rule_scope=None if spec.periodic else config.RuleScope.from_resources(
                    [config.ResourceType.of(t) for t in spec.resource_types]
                ),
            )  # fmt: skip
            if self.recorder is not None:
                # A Config rule can only be created once the account has a configuration recorder.
                rule.node.add_dependency(self.recorder)
            self.rules[name] = rule

        # --- CloudTrail ------------------------------------------------------------------------
        self.trail = None
        self.trail_bucket: s3.Bucket | None = None
        self.trail_key: kms.Key | None = None
        self.trail_log_group: logs.LogGroup | None = None
        if cloudtrail:
            claim(self, "cloudtrail", account_wide=True)  # a multi-region trail: one per account
            self._trail(log_key)

        # --- notifications ---------------------------------------------------------------------
        self.non_compliance_rule: events.Rule | None = None
        if topic is not None:
            self._notify(topic, topic_key)

    @property
    def access_logs_bucket(self) -> s3.Bucket | None:
        """The bucket receiving S3 server access logs of the Config and trail buckets (None if neither exists)."""
        return self._access_logs

    # -----------------------------------------------------------------------------------------
    def _server_access_logs(self) -> s3.Bucket:
        if self._access_logs is None:
            self._access_logs = access_logs_bucket(self, "AccessLogs", expiration_days=self._log_retention_days)
        return self._access_logs

    def _audit_bucket(self, id: str, prefix: str, *, versioned: bool) -> s3.Bucket:
        lifecycle = s3.LifecycleRule(
            expiration=Duration.days(self._audit_retention_days),
            noncurrent_version_expiration=Duration.days(30) if versioned else None,
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
        return private_bucket(
            self,
            id,
            versioned=versioned,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            access_logs=self._server_access_logs(),
            access_logs_prefix=f"{prefix}/",
            lifecycle=lifecycle,
        )

    def _config_recorder(self) -> None:
        stack = Stack.of(self)
        bucket = self.config_bucket = self._audit_bucket("ConfigBucket", CONFIG_PREFIX, versioned=True)
        delivery_keys = bucket.arn_for_objects(f"{CONFIG_PREFIX}/AWSLogs/{stack.account}/Config/*")
        source_account = {"StringEquals": {"aws:SourceAccount": stack.account}}
        config_principal = iam.ServicePrincipal("config.amazonaws.com")
        bucket_policy = _grant_service(
            bucket,
            config_principal,
            ("AWSConfigBucketPermissionsCheck", "s3:GetBucketAcl", bucket.bucket_arn, source_account),
            ("AWSConfigBucketExistenceCheck", "s3:ListBucket", bucket.bucket_arn, source_account),
            (
                "AWSConfigBucketDelivery",
                "s3:PutObject",
                delivery_keys,
                {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": stack.account}},
            ),
        )

        role = self.config_role = iam.Role(
            self,
            "ConfigRole",
            description="Lets AWS Config of this account record resource configurations and deliver them to S3.",
            assumed_by=iam.ServicePrincipal("config.amazonaws.com", conditions=source_account),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")],
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="CheckBucket", actions=["s3:GetBucketAcl"], resources=[bucket.bucket_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DeliverConfiguration",
                actions=["s3:PutObject"],
                resources=[delivery_keys],
                conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]",
            "AWS_ConfigRole is the policy AWS documents for a Config recorder role; AWS keeps its read-only "
            "Describe/List/Get permissions current as Config supports new resource types.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(bucket.node.default_child)}.Arn>/{CONFIG_PREFIX}"
            # cdk-nag renders the account as the pseudo parameter in an env-agnostic stack, else as the number
            f"/AWSLogs/{'<AWS::AccountId>' if Token.is_unresolved(stack.account) else stack.account}/Config/*]",
            "AWS Config writes configuration history and snapshot files under generated keys; the grant stops at "
            "this account's Config prefix of this one bucket.",
        )

        self.recorder = config.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=False,
                include_global_resource_types=False,
                resource_types=list(RECORDED_RESOURCE_TYPES),
                recording_strategy=config.CfnConfigurationRecorder.RecordingStrategyProperty(
                    use_only="INCLUSION_BY_RESOURCE_TYPES"
                ),
            ),
            recording_mode=config.CfnConfigurationRecorder.RecordingModeProperty(recording_frequency="CONTINUOUS"),
        )
        # The recorder starts with the role's inline policy in place.
        self.recorder.node.add_dependency(role)
        self.delivery_channel = config.CfnDeliveryChannel(
            self,
            "DeliveryChannel",
            s3_bucket_name=bucket.bucket_name,
            s3_key_prefix=CONFIG_PREFIX,
            config_snapshot_delivery_properties=config.CfnDeliveryChannel.ConfigSnapshotDeliveryPropertiesProperty(
                delivery_frequency="TwentyFour_Hours"
            ),
        )
        # Config test-writes to the bucket when the channel is created. The recorder and the channel must
        # not depend on each other: CloudFormation starts the recorder once the channel exists.
        self.delivery_channel.node.add_dependency(bucket_policy.policy_dependable)

    def _trail(self, log_key: kms.IKey | None) -> None:
        stack = Stack.of(self)
        # A known name lets the key policy name the trail without a reference cycle (trail -> key -> trail).
        trail_name = Names.unique_resource_name(self, max_length=120, separator="-") + "-trail"
        trail_arn = stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)
        key = self.trail_key = kms.Key(
            self,
            "TrailKey",
            description="Encrypts the CloudTrail log files of the LLM observability compliance baseline.",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        limit_grants_to_aws_services(key)
        cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        this_trail = {"StringEquals": {"aws:SourceArn": trail_arn, "aws:SourceAccount": stack.account}}
        trail_context = f"arn:{Aws.PARTITION}:cloudtrail:*:{stack.account}:trail/*"
        for sid, action, conditions in (
            ("AllowCloudTrailToEncryptLogs", "kms:GenerateDataKey*",
             {**this_trail, "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context}}),
            ("AllowCloudTrailToDescribeKey", "kms:DescribeKey", this_trail),
        ):  # fmt: skip
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid, principals=[cloudtrail_principal], actions=[action], resources=["*"], conditions=conditions
                )
            )
        log_key = log_key or log_encryption_key(
            self, "TrailLogKey", description="Encrypts the CloudTrail events in CloudWatch Logs."
        )
        self.trail_log_group = encrypted_log_group(
            self, "TrailLogs", key=log_key, retention_days=self._log_retention_days, removal_policy=RemovalPolicy.RETAIN
        )
        bucket = self.trail_bucket = self._audit_bucket("TrailBucket", TRAIL_PREFIX, versioned=True)
        # CDK's Trail grants CloudTrail on the bucket without the confused-deputy condition. It is handed
        # a reference instead (to which it adds nothing), and the bucket gets AWS's documented policy
        # with aws:SourceArn naming this trail.
        bucket_policy = _grant_service(
            bucket,
            cloudtrail_principal,
            (
                "AWSCloudTrailAclCheck",
                "s3:GetBucketAcl",
                bucket.bucket_arn,
                {"StringEquals": {"aws:SourceArn": trail_arn}},
            ),
            (
                "AWSCloudTrailWrite",
                "s3:PutObject",
                bucket.arn_for_objects(f"AWSLogs/{stack.account}/*"),
                {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}},
            ),
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=s3.Bucket.from_bucket_attributes(
                self, "TrailBucketRef", bucket_arn=bucket.bucket_arn, bucket_name=bucket.bucket_name
            ),
            encryption_key=key,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.trail_log_group,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL,
        )
        # CloudTrail checks the bucket policy when the trail is created.
        self.trail.node.add_dependency(bucket_policy.policy_dependable)
        # The role CDK makes for delivery to CloudWatch Logs trusts CloudTrail as a whole: only this trail may assume it.
        logs_role = self.trail.node.try_find_child("LogsRole")
        if isinstance(logs_role, iam.Role):
            cast(iam.CfnRole, logs_role.node.default_child).add_property_override(
                "AssumeRolePolicyDocument.Statement.0.Condition",
                {"StringEquals": {"aws:SourceArn": trail_arn, "aws:SourceAccount": stack.account}},
            )

    def _notify(self, topic: sns.ITopic, key: kms.IKey | None) -> None:
        # A known rule name lets the topic policy name the rule even when the topic lives in another
        # stack (a reference to the rule's ARN would make the two stacks depend on each other).
        rule_name = Names.unique_resource_name(self, max_length=64, separator="-")
        detail = "$.detail"
        message = events.RuleTargetInput.from_text(
            f"AWS Config rule {events.EventField.from_path(f'{detail}.configRuleName')} found "
            f"{events.EventField.from_path(f'{detail}.resourceType')} {events.EventField.from_path(f'{detail}.resourceId')} "
            f"NON_COMPLIANT in account {events.EventField.from_path(f'{detail}.awsAccountId')}, "
            f"region {events.EventField.from_path(f'{detail}.awsRegion')}."
        )
        self.non_compliance_rule = events.Rule(
            self,
            "NonCompliant",
            rule_name=rule_name,
            description="Notifies the alert topic when a compliance-baseline AWS Config rule finds a NON_COMPLIANT resource.",
            event_pattern=events.EventPattern(
                source=["aws.config"],
                detail_type=[COMPLIANCE_CHANGE],
                detail={
                    "configRuleName": [rule.config_rule_name for rule in self.rules.values()],
                    "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
                },
            ),
            targets=[_PublishTo(topic, message)],
        )
        allow_publish(
            topic,
            "events.amazonaws.com",
            key=key,
            source_arn=f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rule_name}",
        )
