"""Small building blocks shared by the constructs: encrypted log groups, model ARNs, asset paths."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from llm_observability.config import INFERENCE_PROFILE_PREFIXES, LOG_RETENTION_DAYS, base_model_id

PACKAGE_DIR = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PACKAGE_DIR / "functions"
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".DS_Store", ".pytest_cache"]

# RetentionDays members are declared in ascending order, one per allowed number of days.
_RETENTION = dict(zip(LOG_RETENTION_DAYS, [r for r in logs.RetentionDays if r is not logs.RetentionDays.INFINITE], strict=True))


def retention(days: int) -> logs.RetentionDays:
    """The ``RetentionDays`` member for a number of days CloudWatch Logs accepts."""
    return _RETENTION[days]


def log_encryption_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """A rotating KMS key that CloudWatch Logs in this account and region may use for log groups.

    The grant to the regional Logs service principal is limited by the
    ``aws:logs:arn`` encryption context to log groups of this account and region.
    """
    key = kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    )
    return key


def encrypted_log_group(
    scope: Construct, id: str, *, key: kms.IKey, retention_days: int, removal_policy: RemovalPolicy
) -> logs.LogGroup:
    """A KMS-encrypted log group with explicit retention and a generated (collision-free) name."""
    return logs.LogGroup(
        scope,
        id,
        encryption_key=key,
        retention=retention(retention_days),
        removal_policy=removal_policy,
    )


def model_arns(scope: Construct, model_id: str) -> tuple[list[str], bool]:
    """ARNs ``bedrock:InvokeModel`` must allow for ``model_id``, and whether a region wildcard is among them.

    - a foundation-model id: that model in this region;
    - a cross-region inference-profile id (``us.``, ``eu.``, ``global.`` ...): the profile in this
      account and region, and the foundation model behind it in every region the profile may route to
      (a ``*`` region: the set of destination regions is AWS's to change);
    - an ARN: the ARN itself (for an inference-profile ARN also the foundation model behind it).
    """
    partition, region, account = Aws.PARTITION, Stack.of(scope).region, Stack.of(scope).account
    if model_id.startswith("arn:"):
        arns = [model_id]
        if ":inference-profile/" in model_id:
            arns.append(f"arn:{partition}:bedrock:*::foundation-model/{base_model_id(model_id)}")
        return arns, len(arns) > 1
    prefix = model_id.partition(".")[0]
    if prefix in INFERENCE_PROFILE_PREFIXES:
        return [
            f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}",
            f"arn:{partition}:bedrock:*::foundation-model/{base_model_id(model_id)}",
        ], True
    return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"], False


def function_role(
    scope: Construct, id: str, *, key: kms.IKey, retention_days: int, description: str
) -> tuple[iam.Role, logs.LogGroup]:
    """A Lambda execution role and the encrypted log group it (and nothing else) may write to.

    Used instead of the AWS-managed basic execution role, whose ``logs:*`` grant covers every log
    group of the account. The log group is ``{id}Logs``, the role ``{id}Role``.
    """
    log_group = encrypted_log_group(
        scope, f"{id}Logs", key=key, retention_days=retention_days, removal_policy=RemovalPolicy.DESTROY
    )
    role = iam.Role(scope, f"{id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    log_group.grant_write(role)
    return role, log_group


def bedrock_conditions(scope: Construct, resource: str = "*") -> dict[str, dict[str, str]]:
    """Confused-deputy guard: Amazon Bedrock acting for this account and region (``resource`` narrows it)."""
    stack = Stack.of(scope)
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:bedrock:{stack.region}:{stack.account}:{resource}"},
    }


def bedrock_principal(scope: Construct, resource: str = "*") -> iam.ServicePrincipal:
    """``bedrock.amazonaws.com`` limited by :func:`bedrock_conditions`."""
    return iam.ServicePrincipal("bedrock.amazonaws.com", conditions=bedrock_conditions(scope, resource))
