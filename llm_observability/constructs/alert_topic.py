"""A KMS-encrypted, TLS-only SNS topic that alarms and AWS services can notify."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from llm_observability.compliance_profile import limit_grants_to_aws_services
from llm_observability.errors import ConfigError
from llm_observability.validation import email as check_email

CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlertTopic(Construct):
    """SNS topic for notifications, encrypted with its own KMS key, publishing over TLS only.

    CloudWatch alarms of this account may publish to it; call :meth:`allow_service` for other AWS
    services (EventBridge, Budgets, DevOps Guru, ...) the levels above wire to it.

    :param email: address to subscribe (the recipient must confirm). Default: no subscription.
    :param display_name: shown as the sender of e-mails. Default: ``LLM observability alerts``.
    """

    def __init__(
        self, scope: Construct, id: str, *, email: str | None = None, display_name: str = "LLM observability alerts"
    ) -> None:
        check_email("email", email, owner="AlertTopic")
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts LLM observability alert notifications.",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        limit_grants_to_aws_services(self.key)
        self.topic = sns.Topic(self, "Topic", display_name=display_name, master_key=self.key, enforce_ssl=True)
        self.allow_service(CLOUDWATCH, source_arn=f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*")
        if email:
            self.topic.add_subscription(subs.EmailSubscription(email))

    def allow_service(self, service_principal: str, *, source_arn: str | None = None) -> None:
        """Let an AWS service of this account publish here (see :func:`allow_publish`)."""
        allow_publish(self.topic, service_principal, key=self.key, source_arn=source_arn)


def allow_publish(
    topic: sns.ITopic, service_principal: str, *, key: kms.IKey | None = None, source_arn: str | None = None
) -> None:
    """Let an AWS service of this account publish to ``topic``: a topic-policy statement and, for an
    encrypted topic, use of its KMS key.

    :param key: the topic's KMS key. Default: none (an unencrypted or AWS-managed-key topic).
    :param source_arn: ARN pattern of the publishing resources. Default: any of this account.
    :raises ConfigError: when ``topic`` is an imported topic whose policy this app cannot change.
    """
    conditions: dict[str, dict[str, str]] = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
    if source_arn:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    principal = iam.ServicePrincipal(service_principal)
    added = topic.add_to_resource_policy(
        iam.PolicyStatement(actions=["sns:Publish"], principals=[principal], resources=[topic.topic_arn], conditions=conditions)
    )
    if not added.statement_added:
        raise ConfigError(
            f"The alert topic is imported, so {service_principal} cannot be allowed to publish: allowed is a topic "
            "defined in this app, or one whose policy already allows that service."
        )
    if key is not None:
        # The documented key-policy form for services publishing to encrypted topics, limited to publishers of this
        # account (the topic policy above names the publishing resources; naming them or the topic here could make
        # the key, the topic and the publisher depend on each other).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"], principals=[principal], resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )  # fmt: skip
        )
