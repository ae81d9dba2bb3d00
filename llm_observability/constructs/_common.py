"""Small building blocks shared by the constructs: encrypted log groups, model ARNs, asset paths."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_observability import checkov
from llm_observability.compliance_profile import (
    harden_bucket,
    is_strict,
    limit_grants_to_aws_services,
    log_retention_days,
)
from llm_observability.config import INFERENCE_PROFILE_PREFIXES, LOG_RETENTION_DAYS, base_model_id
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge, finding_resource

PACKAGE_DIR = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PACKAGE_DIR / "functions"
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".DS_Store", ".pytest_cache"]
#: Lambda code that more than one function uses: one source file each, copied into an asset at synth time.
SHARED_DIR = FUNCTIONS_DIR / "_shared"
SharedModule = Literal["cfn_response", "logs_query", "sigv4", "textstats"]
#: Where assets with shared modules are staged, one directory per content hash.
STAGING_DIR = Path(tempfile.gettempdir()) / "llm-observability-assets"
_SHARED_IMPORT = re.compile(rf"^\s*(?:import|from)\s+({'|'.join(get_args(SharedModule))})\b", re.MULTILINE)
#: Every function of the library: the latest Python runtime in aws-cdk-lib, on Graviton (cheaper).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

# RetentionDays members are declared in ascending order, one per allowed number of days.
_RETENTION = dict(zip(LOG_RETENTION_DAYS, [r for r in logs.RetentionDays if r is not logs.RetentionDays.INFINITE], strict=True))


def retention(days: int) -> logs.RetentionDays:
    """The ``RetentionDays`` member for a number of days CloudWatch Logs accepts."""
    return _RETENTION[days]


def log_encryption_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """A rotating KMS key that CloudWatch Logs in this account and region may use for log groups.

    The grant to the regional Logs service principal is limited by the
    ``aws:logs:arn`` encryption context to log groups of this account and region. In the strict compliance
    profile the policy also limits grants to AWS services (CT.KMS.PR.3).
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
    limit_grants_to_aws_services(key)
    return key


def encrypted_log_group(
    scope: Construct, id: str, *, key: kms.IKey, retention_days: int, removal_policy: RemovalPolicy
) -> logs.LogGroup:
    """A KMS-encrypted log group with explicit retention and a generated (collision-free) name.

    In the strict compliance profile a retention under one year is raised to one year (CT.CLOUDWATCH.PR.2).
    """
    return logs.LogGroup(
        scope,
        id,
        encryption_key=key,
        retention=retention(log_retention_days(scope, retention_days)),
        removal_policy=removal_policy,
    )


def model_arns(scope: Construct, model_id: str) -> tuple[list[str], bool]:
    """ARNs ``bedrock:InvokeModel`` must allow for ``model_id``, and whether a region wildcard is among them.

    - a foundation-model id: that model in this region;
    - a cross-region inference-profile id (``us.``, ``eu.``, ``global.`` ...): the profile in this
      account and region, and the foundation model behind it in every region the profile may route to
      (a ``*`` region: the set of destination regions is AWS's to change);
    - an ARN: the ARN itself (for an inference-profile ARN also the foundation model behind it);
    - a token (a ``CfnParameter``'s value): that model in this region, as a foundation-model id (whether the value
      will be an inference profile or an ARN is not known at synth; give those literally).
    """
    partition, region, account = Aws.PARTITION, Stack.of(scope).region, Stack.of(scope).account
    if Token.is_unresolved(model_id):
        return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"], False
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


def powertools_layer(
    scope: Construct, version: str, *, id: str = "Powertools", runtime: lambda_.Runtime = RUNTIME
) -> lambda_.ILayerVersion:
    """Powertools for AWS Lambda (Python) v3 from its official public layer for ``runtime`` on arm64.

    The ARN comes from Powertools' public SSM parameter, resolved by CloudFormation at deploy time in
    the stack's region, so no region or account is hard-coded (one template parameter per version, runtime and
    stack, however many functions use it). ``id``: the construct id of the imported layer in ``scope``.
    ``runtime``: Default: :data:`RUNTIME`.
    """
    return lambda_.LayerVersion.from_layer_version_arn(
        scope,
        id,
        ssm.StringParameter.value_for_string_parameter(
            scope, f"/aws/service/powertools/python/arm64/{runtime.name}/{version}"
        ),
    )


def _asset_files(folder: Path) -> dict[str, Path]:
    """The files of ``folder`` an asset ships (ASSET_EXCLUDES left out), by POSIX path relative to it."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(fnmatch.fnmatch(part, p) for part in relative.parts for p in ASSET_EXCLUDES):
            files[relative.as_posix()] = path
    return files


def stage_files(name: str, files: dict[str, Path], *, executable: frozenset[str] = frozenset()) -> Path:
    """A directory holding ``files`` (path in the directory -> source file), staged once under
    :data:`STAGING_DIR` in ``<name>-<hash of the contents>``: the same sources give the same directory and
    the same asset hash on every run and machine.

    Files are readable by everyone (0644; those named in ``executable`` 0755) and directories 0755: Lambda
    keeps the modes of an asset's files, and its runtime user must read them.
    """
    digest = hashlib.sha256()
    for relative, path in sorted(files.items()):
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    target = STAGING_DIR / f"{name}-{digest.hexdigest()[:32]}"
    if target.is_dir():
        return target
    STAGING_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=STAGING_DIR))
    for relative, path in files.items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staging / relative)
        os.chmod(staging / relative, 0o755 if relative in executable else 0o644)
    for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
        os.chmod(directory, 0o755)
    try:
        staging.rename(target)  # atomic: a concurrent synth finds either nothing or the complete directory
    except OSError:
        shutil.rmtree(staging)  # another process staged the same contents first
        if not target.is_dir():
            raise
    return target


def staged_asset(folder: str, shared: Sequence[SharedModule] = ()) -> Path:
    """The directory deployed as the code of ``functions/<folder>``.

    Without ``shared`` modules that is the folder itself. With them, it is a copy of the folder with each
    ``functions/_shared/<name>.py`` beside the function's own modules (the handler imports it as a
    sibling), staged once under :data:`STAGING_DIR` in a directory named by a hash of the contents: the
    same sources give the same directory and the same asset hash on every run and machine.

    :raises ConfigError: a shared module that does not exist, whose name a file of the folder already has, or
        that the function imports but ``shared`` does not name.
    """
    source = FUNCTIONS_DIR / folder
    files = _asset_files(source)
    for relative, path in files.items():
        if relative.endswith(".py"):
            for name in _SHARED_IMPORT.findall(path.read_text(encoding="utf-8")):
                if name not in shared:
                    raise ConfigError(
                        f"Function '{folder}' imports the shared module '{name}', so shared= must include '{name}'."
                    )
    if not shared:
        return source
    for name in shared:
        if name not in get_args(SharedModule) or not (SHARED_DIR / f"{name}.py").is_file():
            raise ConfigError(
                f"Shared Lambda module '{name}' of function '{folder}' does not exist; "
                f"allowed: {', '.join(get_args(SharedModule))}."
            )
        if f"{name}.py" in files:
            raise ConfigError(
                f"Function '{folder}' has its own {name}.py, so the shared module '{name}' cannot be added to it."
            )
        files[f"{name}.py"] = SHARED_DIR / f"{name}.py"
    return stage_files(folder, files)


def asset_function(
    scope: Construct,
    id: str,
    *,
    folder: str,
    description: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    timeout: Duration,
    memory_size: int,
    handler: str = "handler.lambda_handler",
    environment: dict[str, str] | None = None,
    layers: list[lambda_.ILayerVersion] | None = None,
    tracing: lambda_.Tracing | None = None,
    shared: Sequence[SharedModule] = (),
    powertools_version: str | None = None,
    runtime: lambda_.Runtime = RUNTIME,
    dead_letter_queue: sqs.IQueue | None = None,
) -> lambda_.Function:
    """A function whose code is the self-contained folder ``functions/<folder>`` (see DESIGN: everything it
    imports is in that folder, its layers or the runtime), with its own role and log group.

    ``shared``: modules of ``functions/_shared`` copied into the asset beside the handler (see
    :func:`staged_asset`). Default: none. ``powertools_version``: attach the public Powertools for AWS
    Lambda (Python) layer of this version (``latest`` or ``3.x.y``) before ``layers``. Default: no
    Powertools layer. ``dead_letter_queue``: where Lambda keeps an asynchronous invocation that failed every
    attempt. Default: none (the function is invoked synchronously). ``runtime``: Default: :data:`RUNTIME` (a
    traced function takes the newest one the ADOT layer supports instead).
    """
    if powertools_version is not None:
        layers = [powertools_layer(scope, powertools_version, id=f"{id}Powertools", runtime=runtime), *(layers or [])]
    function = lambda_.Function(
        scope,
        id,
        description=description,
        runtime=runtime,
        architecture=ARCHITECTURE,
        handler=handler,
        code=lambda_.Code.from_asset(str(staged_asset(folder, shared)), exclude=ASSET_EXCLUDES),
        role=role,
        log_group=log_group,
        timeout=timeout,
        memory_size=memory_size,
        environment=environment,
        layers=layers,
        tracing=tracing,
        dead_letter_queue=dead_letter_queue,
    )
    if dead_letter_queue is None:
        checkov.skip(
            function, "CKV_AWS_116",
            "Invoked synchronously (API Gateway, CloudFormation, Firehose, or Lambda by the canary): the caller sees "
            "each failure and retries or reports it; a dead-letter queue applies to asynchronous invocations only.",
        )  # fmt: skip
    checkov.skip(
        function, "CKV_AWS_173",
        "The environment holds names, ids, settings and list prices, never a secret; Lambda encrypts it at rest.",
    )  # fmt: skip
    return function


# --- shared Firehose helpers -------------------------------------------------------------------------------------------


def private_bucket(
    scope: Construct,
    id: str,
    *,
    lifecycle: s3.LifecycleRule,
    key: kms.IKey | None = None,
    versioned: bool = False,
    object_ownership: s3.ObjectOwnership | None = None,
    access_logs: s3.IBucket | None = None,
    access_logs_prefix: str | None = None,
) -> s3.Bucket:
    """A retained, private (all public access blocked), TLS-only bucket: every bucket the library makes.

    :param lifecycle: the bucket's one lifecycle rule (expiration).
    :param key: KMS key for default encryption (with an S3 bucket key). Default: S3-managed keys.
    :param versioned: Default: false.
    :param object_ownership: Default: S3's default.
    :param access_logs: bucket receiving its server access logs, under ``access_logs_prefix``. Default: none.

    In the strict compliance profile the bucket is hardened for audit data (:func:`harden_bucket`); a bucket
    without ``access_logs`` is taken for a server-access-log destination (kept SSE-S3).
    """
    bucket = s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.KMS if key is not None else s3.BucketEncryption.S3_MANAGED,
        encryption_key=key,
        bucket_key_enabled=True if key is not None else None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=versioned or None,
        object_ownership=object_ownership,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=[lifecycle],
        removal_policy=RemovalPolicy.RETAIN,
    )
    harden_bucket(bucket, access_log_destination=access_logs is None and key is None)
    return bucket


def access_logs_bucket(scope: Construct, id: str, *, expiration_days: int) -> s3.Bucket:
    """A retained, private, TLS-only bucket that receives other buckets' server access logs.

    It needs no access logging of its own: cdk-nag recognises a server-access-log destination (logging
    it into itself would loop), so AwsSolutions-S1 does not fire for it; checkov is told the same, and why it is
    not versioned.
    """
    bucket = private_bucket(scope, id, lifecycle=s3.LifecycleRule(expiration=Duration.days(expiration_days)))
    checkov.skip(
        bucket, "CKV_AWS_18",
        "This bucket is the server-access-log destination of the others; logging it into itself would loop.",
    )  # fmt: skip
    checkov.skip(
        bucket, "CKV_AWS_21",
        "Server access logs are written once by S3 and expire; versions would only keep expired log objects longer.",
    )  # fmt: skip
    return bucket


def failure_bucket(scope: Construct, id: str, *, key: kms.IKey, retention_days: int) -> s3.Bucket:
    """A retained, KMS-encrypted, TLS-only, private bucket for what a Firehose stream could not deliver.

    Server access logs go to a second (S3-managed-key) bucket ``{id}AccessLogs``; both expire objects
    after ``retention_days`` (access logs: at least 90 days).
    """
    access_logs = access_logs_bucket(scope, f"{id}AccessLogs", expiration_days=max(retention_days, 90))
    return private_bucket(
        scope,
        id,
        key=key,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        access_logs=access_logs,
        access_logs_prefix=f"{id.lower()}/",
        versioned=True,  # an object overwritten or deleted by mistake stays recoverable until it expires
        lifecycle=s3.LifecycleRule(
            expiration=Duration.days(retention_days),
            noncurrent_version_expiration=Duration.days(retention_days),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        ),
    )


def firehose_role(scope: Construct, id: str, *, description: str) -> iam.Role:
    """A role only Amazon Data Firehose acting for this account may assume (the documented external-id guard)."""
    return iam.Role(
        scope,
        id,
        description=description,
        assumed_by=iam.ServicePrincipal(
            "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}}
        ),
    )


def allow_s3_delivery(role: iam.Role, bucket: s3.IBucket, key: kms.IKey) -> None:
    """The S3 and KMS permissions Firehose documents for delivering to ``bucket`` (encrypted with ``key``)."""
    role.add_to_policy(
        iam.PolicyStatement(
            sid="DeliverToBucket",
            actions=[
                "s3:AbortMultipartUpload",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
            ],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
        )
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{finding_resource(role, bucket.arn_for_objects('*'))}]",
        "Firehose writes objects under generated, time-based keys; the grant covers objects of this one bucket.",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="EncryptDeliveredObjects",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
        )
    )


def physical_name(scope: Construct, base: str, *, max_length: int) -> str:
    """A lower-case name ``<base>-<8 hex>`` unique to ``scope``'s construct path (for services that need a name)."""
    digest = hashlib.sha256(scope.node.path.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "llm"
    return f"{slug[: max_length - 9].rstrip('-')}-{digest}"


#: How long an undeliverable EventBridge event waits in a dead-letter queue (SQS's maximum).
DEAD_LETTER_RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, id: str, *, purpose: str) -> sqs.Queue:
    """An encrypted, TLS-only SQS queue that keeps what an EventBridge target could not deliver for 14 days.

    In the strict compliance profile it declares itself a dead-letter queue (``RedriveAllowPolicy``, CT.SQS.PR.1).

    ``purpose`` completes the cdk-nag reason ("the dead-letter queue of <purpose>").
    """
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        # Strict profile: say it is a dead-letter queue (SQS's default, allowAll), which CT.SQS.PR.1 reads.
        redrive_allow_policy=(
            sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.ALLOW_ALL) if is_strict(scope) else None
        ),
    )
    checkov.skip(
        queue, "CKV_AWS_27",
        "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled); EventBridge cannot write to a queue encrypted "
        "with the AWS-managed KMS key, and a key of its own would cost more than the queue.",
    )  # fmt: skip
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is the dead-letter queue of {purpose}; a dead-letter queue of its own would only move the same "
        "events again. Its depth is alarmed.",
    )
    return queue


def dead_letter_metric(queue: sqs.IQueue) -> cw.Metric:
    """The events waiting in ``queue`` (maximum over 5 minutes): above 0 means a target was not started."""
    return queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")
