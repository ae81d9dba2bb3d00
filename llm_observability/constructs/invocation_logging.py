"""Amazon Bedrock model invocation logging, an account+region singleton with no CloudFormation type."""

from __future__ import annotations

from aws_cdk import Aws, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from llm_observability.compliance_profile import harden_bucket
from llm_observability.config.bounds import LOG_RETENTION, POWERTOOLS_VERSION
from llm_observability.config.choices import ExistingConfiguration
from llm_observability.constructs._common import (
    access_logs_bucket,
    asset_function,
    bedrock_conditions,
    bedrock_principal,
    encrypted_log_group,
    function_role,
    log_encryption_key,
)
from llm_observability.nag import acknowledge
from llm_observability.singletons import claim
from llm_observability.validation import choice

S3_PREFIX = "bedrock-invocations"


def _flag(value: bool) -> str:
    return "true" if value else "false"


class InvocationLogging(Construct):
    """Turns on Bedrock model invocation logging for this account and region.

    Requests and responses of every model invocation (all applications of the account in this region)
    go to a KMS-encrypted, retained CloudWatch Logs log group and, optionally, to a TLS-only S3 bucket.
    Private by default: without ``text_data`` the records keep the metadata (model, token counts, latency,
    request ids) and no prompt or answer text. Text delivery stores every prompt and answer of the account
    verbatim - the application's own ``prompt_logging`` redaction does not apply to it - so it is an explicit
    opt-in, and with it the log group and the S3 copy are encrypted with a key of their own
    (:attr:`text_key`), so that reading the text can be granted apart from reading other logs.
    A custom resource (``Custom::BedrockInvocationLogging``, code in ``functions/invocation_logging``)
    calls ``PutModelInvocationLoggingConfiguration`` with a role that only ``bedrock.amazonaws.com`` of
    this account may assume.

    It is a singleton: add it once per account and region. When the account already has a
    configuration, ``existing_configuration="keep"`` (the default) leaves it untouched and adopts it;
    ``"replace"`` overwrites it. Deleting the stack removes the configuration only if it is still the
    one this construct wrote; it never switches off a configuration it did not create.

    :param log_key: KMS key of the log group (and, with ``text_data``, of the S3 copy). Default: a new rotating
        key of this construct.
    :param retention_days: retention of the log group (and of the S3 copy). Default: 30.
    :param s3_delivery: also deliver to a new S3 bucket. Default: False.
    :param existing_configuration: ``keep`` or ``replace``. Default: ``keep``.
    :param text_data: deliver the prompt and answer text, verbatim, for every application of the account.
        Default: False (metadata only).
    :param image_data: log image payloads. Default: False.
    :param embedding_data: log embedding payloads. Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        log_key: kms.IKey | None = None,
        retention_days: int = 30,
        s3_delivery: bool = False,
        existing_configuration: ExistingConfiguration = "keep",
        text_data: bool = False,
        image_data: bool = False,
        embedding_data: bool = False,
    ) -> None:
        choice("existing_configuration", existing_configuration, ExistingConfiguration, owner="InvocationLogging")
        LOG_RETENTION.check("retention_days", retention_days, owner="InvocationLogging")
        super().__init__(scope, id)
        # Both modes write a configuration where the account has none: every instance claims the singleton.
        claim(self, "invocation-logging")
        self.text_key: kms.Key | None = None
        if log_key is None:
            log_key = log_encryption_key(
                self,
                "TextKey" if text_data else "LogKey",
                description="Encrypts Bedrock invocation logs"
                + (" with prompt and answer text (only this log group and its S3 copy)." if text_data else "."),
            )
            self.text_key = log_key if text_data else None
        self.log_group = encrypted_log_group(
            self, "Logs", key=log_key, retention_days=retention_days, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "DeliveryRole",
            description="Lets Amazon Bedrock of this account deliver model invocation logs.",
            assumed_by=bedrock_principal(self),
        )
        self.log_group.grant_write(self.role)
        logging_config: dict[str, object] = {
            "cloudWatchConfig": {"logGroupName": self.log_group.log_group_name, "roleArn": self.role.role_arn},
            "textDataDeliveryEnabled": _flag(text_data),
            "imageDataDeliveryEnabled": _flag(image_data),
            "embeddingDataDeliveryEnabled": _flag(embedding_data),
            "videoDataDeliveryEnabled": "false",
        }
        self.bucket: s3.Bucket | None = None
        if s3_delivery:
            self.bucket = self._bucket(retention_days, log_key if text_data else None)
            logging_config["s3Config"] = {"bucketName": self.bucket.bucket_name, "keyPrefix": S3_PREFIX}

        handler_role, handler_logs = function_role(
            self, "Handler", key=log_key, retention_days=retention_days,
            description="Manages the account's Bedrock model invocation logging configuration.",
        )  # fmt: skip
        handler_role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageInvocationLogging",
                actions=[
                    "bedrock:GetModelInvocationLoggingConfiguration",
                    "bedrock:PutModelInvocationLoggingConfiguration",
                    "bedrock:DeleteModelInvocationLoggingConfiguration",
                ],
                resources=["*"],
            )
        )
        handler_role.add_to_policy(
            iam.PolicyStatement(
                sid="PassDeliveryRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        acknowledge(
            handler_role,
            "AwsSolutions-IAM5[Resource::*]",
            "The Bedrock model-invocation-logging APIs act on an account-wide setting and support no resource ARN.",
        )
        handler = asset_function(
            self,
            "Handler",
            folder="invocation_logging",
            handler="handler.on_event",
            description="Custom resource: Bedrock model invocation logging (keeps configurations it did not create).",
            role=handler_role,
            log_group=handler_logs,
            timeout=Duration.minutes(5),
            memory_size=256,
            shared=("cfn_response",),
            powertools_version=POWERTOOLS_VERSION,
        )
        resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function_arn,
            resource_type="Custom::BedrockInvocationLogging",
            properties={"LoggingConfig": logging_config, "ExistingConfiguration": existing_configuration},
        )
        # Bedrock checks at put time that the role can write to the destinations.
        resource.node.add_dependency(self.role)
        if self.bucket is not None:
            resource.node.add_dependency(self.bucket)
        self.managed = resource.get_att_string("Managed")

    def _bucket(self, retention_days: int, key: kms.IKey | None) -> s3.Bucket:
        """The S3 copy: SSE-S3 for metadata only; SSE-KMS with ``key`` when it holds text (Bedrock may use the key
        for this bucket's objects only, for this account)."""
        access_logs = access_logs_bucket(self, "AccessLogs", expiration_days=max(retention_days, 90))
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS if key is not None else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="invocation-logs/",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        harden_bucket(bucket)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BedrockInvocationLogDelivery",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{S3_PREFIX}/*")],
                conditions=bedrock_conditions(self),
            )
        )
        if isinstance(key, kms.Key):
            conditions = bedrock_conditions(self)
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="BedrockInvocationLogDeliveryToS3",
                    principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                    actions=["kms:GenerateDataKey"],
                    resources=["*"],
                    # Through S3 only (naming the bucket here would make the key and the bucket depend on each other).
                    conditions={
                        **conditions,
                        "StringEquals": {**conditions["StringEquals"], "kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"},
                    },
                )
            )
        return bucket
