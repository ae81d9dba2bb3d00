"""The compliance profile: how the library shapes its own keys, log groups and buckets for AWS Control Tower.

``standard`` is the library's everyday design. ``strict`` meets every Control Tower proactive control the
library's resources can meet (one-year log retention, KMS grants limited to AWS services, audit buckets
versioned, KMS-encrypted, logged, expiring, object-locked and notifying EventBridge); the controls a resource
cannot meet are in :data:`DISABLED_CONTROLS`, each with its reason, like a cdk-nag acknowledgment.

Why CDK context (the key ``compliance_profile``) and not a construct prop: the profile is a property of the
whole deployment (of the Control Tower OU it lands in), like a feature flag, and it changes the shared building
blocks (``log_encryption_key``, ``encrypted_log_group``, ``private_bucket``...) that two dozen constructs call.
A prop would have to be threaded through every construct's signature and could differ between two constructs of
one app, which Control Tower would then refuse. :func:`profile_of` reads it from the nearest scope that sets it:
the bundled app sets it from the ``compliance_profile`` setting; in your own app call
``app.node.set_context("compliance_profile", "strict")`` before adding stacks (or on one stack before its
children). The profile shapes the library's constructs only, never the other resources of your stacks.
"""

from __future__ import annotations

from typing import get_args

from aws_cdk import Annotations, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from llm_observability.config.choices import ComplianceProfile
from llm_observability.errors import ConfigError

#: The CDK context key (and setting) that selects the profile.
CONTEXT_KEY = "compliance_profile"
#: CT.CLOUDWATCH.PR.2: the shortest retention a log group may have in the strict profile.
STRICT_MIN_RETENTION_DAYS = 365
#: How long a strict audit bucket keeps an overwritten or deleted object version (S3 lifecycle).
STRICT_NONCURRENT_DAYS = 30

#: Control Tower proactive controls the strict profile does NOT meet, by control id, with the reason. Disable
#: these (and only these) for the OU the stacks deploy to; the test suite runs ``CfnGuardValidator`` with exactly
#: this list (:func:`disabled_rules`). Controls owned by the network work (Lambda in a VPC, OpenSearch) are listed
#: once they are met or given a reason there.
DISABLED_CONTROLS: dict[str, str] = {
    "CT.S3.PR.2": (
        "The buckets that receive the other buckets' S3 server access logs cannot log into themselves (every log "
        "object would log again, without end) nor into each other; every other bucket of the library is logged."
    ),
    "CT.S3.PR.10": (
        "S3 server access logs can be delivered only to a bucket whose default encryption is SSE-S3 (S3 does not "
        "support SSE-KMS on a log destination); every other bucket of the library is SSE-KMS encrypted."
    ),
}


def rule_name(control_id: str) -> str:
    """The bundled cfn-guard rule name of a Control Tower control id: ``CT.S3.PR.10`` -> ``ct-s3-pr-10``."""
    return control_id.lower().replace(".", "-")


def disabled_rules() -> list[str]:
    """``CfnGuardValidator(disabled_rules=...)`` for :data:`DISABLED_CONTROLS`."""
    return sorted(rule_name(control) for control in DISABLED_CONTROLS)


def profile_of(scope: IConstruct) -> ComplianceProfile:
    """The compliance profile in force at ``scope`` (CDK context ``compliance_profile``). Default: ``standard``.

    :raises ConfigError: the context value is not one of the profiles.
    """
    value = scope.node.try_get_context(CONTEXT_KEY)
    if value is None:
        return "standard"
    if value not in get_args(ComplianceProfile):
        raise ConfigError(
            f"Setting '{CONTEXT_KEY}' is {value!r}: allowed are {', '.join(get_args(ComplianceProfile))}."
        )
    return value


def is_strict(scope: IConstruct) -> bool:
    """True when the strict profile is in force at ``scope``."""
    return profile_of(scope) == "strict"


def log_retention_days(scope: IConstruct, days: int) -> int:
    """``days``, raised to one year in the strict profile (CT.CLOUDWATCH.PR.2), with a synth info note saying so.

    Raised rather than refused: the setting's default (30 days) suits the standard profile, and a user who switches
    profiles should not have to change a second setting to get a deployable app; the note shows the new value.
    """
    if days >= STRICT_MIN_RETENTION_DAYS or not is_strict(scope):
        return days
    Annotations.of(scope).add_info(
        f"Compliance profile 'strict': log retention raised from {days} to {STRICT_MIN_RETENTION_DAYS} days "
        "(CT.CLOUDWATCH.PR.2; setting 'log_retention_days')."
    )
    return STRICT_MIN_RETENTION_DAYS


def limit_grants_to_aws_services(key: kms.Key) -> None:
    """In the strict profile, the key-policy statement CT.KMS.PR.3 requires: ``kms:CreateGrant`` is denied unless
    the grant is for an AWS resource or the caller is an AWS service (``BoolIfExists``, both false)."""
    if not is_strict(key):
        return
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsNotForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            },
        )
    )


def harden_bucket(bucket: s3.Bucket, *, access_log_destination: bool = False) -> None:
    """In the strict profile, what the S3 controls demand of a bucket holding audit data, on its CloudFormation
    resource: versioning (CT.S3.PR.11), S3 Object Lock enabled without a default retention (CT.S3.PR.9: objects
    still expire by lifecycle), EventBridge notifications (CT.S3.PR.4), a lifecycle rule expiring old versions
    (CT.S3.PR.6) and, unless the bucket is a server-access-log destination, SSE-KMS default encryption
    (CT.S3.PR.10: the ``aws/s3`` key where the bucket has no key of its own). Access logging (CT.S3.PR.2) is the
    caller's (``server_access_logs_bucket``). Object Lock can only be set when a bucket is created: switching
    profiles replaces the bucket.

    :param access_log_destination: the bucket receives S3 server access logs (kept SSE-S3, see
        :data:`DISABLED_CONTROLS`). Default: false.
    """
    if not is_strict(bucket):
        return
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
    cfn.object_lock_enabled = True
    cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
    bucket.add_lifecycle_rule(
        id="ExpireOldVersions",
        noncurrent_version_expiration=Duration.days(STRICT_NONCURRENT_DAYS),
        abort_incomplete_multipart_upload_after=Duration.days(7),
    )
    if not access_log_destination and bucket.encryption_key is None:
        cfn.add_property_override(
            "BucketEncryption.ServerSideEncryptionConfiguration",
            [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}],
        )
