"""Pieces of an Amazon Data Firehose stream that every pipeline of the library builds the same way.

The Lambda record processor (the function, its invoke grant and ``processingConfiguration``), the
delivery-error log group and stream, the S3 part of a destination and the stream's customer-managed-key
encryption. Used by :mod:`log_analytics` (CloudWatch Logs -> OpenSearch) and :mod:`prometheus` (metric
stream -> remote write).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from llm_observability.config.bounds import POWERTOOLS_VERSION
from llm_observability.constructs._common import SharedModule, asset_function, encrypted_log_group, function_role

#: Firehose buffers records this much before invoking a processor, and retries a failed invocation this often.
PROCESSOR_BUFFER_MIB = 1
PROCESSOR_BUFFER_SECONDS = 60
PROCESSOR_RETRIES = 3
#: A processor's timeout (Firehose allows up to 5 minutes per invocation) and memory.
PROCESSOR_TIMEOUT = Duration.minutes(2)
PROCESSOR_MEMORY_MIB = 512


def processor_function(
    scope: Construct,
    id: str,
    *,
    folder: str,
    description: str,
    role_description: str,
    key: kms.IKey,
    retention_days: int,
    environment: dict[str, str],
    shared: Sequence[SharedModule] = (),
) -> tuple[lambda_.Function, iam.Role]:
    """A Firehose record processor: ``{id}Function`` from ``functions/<folder>``, with its own ``{id}Role`` and
    encrypted ``{id}Logs`` (see :func:`function_role`), on the Powertools layer; returns the function and its role.

    ``shared``: modules of ``functions/_shared`` the processor imports (see :func:`asset_function`). Default: none.
    """
    role, log_group = function_role(scope, id, key=key, retention_days=retention_days, description=role_description)
    function = asset_function(
        scope,
        f"{id}Function",
        folder=folder,
        description=description,
        role=role,
        log_group=log_group,
        timeout=PROCESSOR_TIMEOUT,
        memory_size=PROCESSOR_MEMORY_MIB,
        environment=environment,
        shared=shared,
        powertools_version=POWERTOOLS_VERSION,
    )
    return function, role


def processing_configuration(role: iam.Role, function: lambda_.IFunction, *, sid: str) -> dict[str, Any]:
    """Lets the stream's ``role`` invoke ``function`` (statement ``sid``) and returns the stream's
    ``processingConfiguration`` that runs it on every buffered batch."""
    role.add_to_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
            resources=[function.function_arn],
        )
    )
    parameters = {
        "LambdaArn": function.function_arn,
        "NumberOfRetries": str(PROCESSOR_RETRIES),
        "BufferSizeInMBs": str(PROCESSOR_BUFFER_MIB),
        "BufferIntervalInSeconds": str(PROCESSOR_BUFFER_SECONDS),
    }
    return {
        "enabled": True,
        "processors": [
            {
                "type": "Lambda",
                "parameters": [{"parameterName": k, "parameterValue": v} for k, v in parameters.items()],
            }
        ],
    }


@dataclass(frozen=True)
class DeliveryLogging:
    """The log group and stream a Firehose stream writes its delivery errors to."""

    log_group: logs.LogGroup
    log_stream: logs.LogStream

    @property
    def options(self) -> dict[str, Any]:
        """The stream's ``cloudWatchLoggingOptions``."""
        return {
            "enabled": True,
            "logGroupName": self.log_group.log_group_name,
            "logStreamName": self.log_stream.log_stream_name,
        }


def delivery_logging(scope: Construct, role: iam.Role, *, key: kms.IKey, retention_days: int) -> DeliveryLogging:
    """The encrypted ``DeliveryErrors`` log group and its ``DeliveryErrorStream``; the stream's ``role`` may write."""
    log_group = encrypted_log_group(
        scope, "DeliveryErrors", key=key, retention_days=retention_days, removal_policy=RemovalPolicy.DESTROY
    )
    log_stream = logs.LogStream(scope, "DeliveryErrorStream", log_group=log_group)
    log_group.grant_write(role)
    return DeliveryLogging(log_group, log_stream)


def s3_destination(
    bucket: s3.IBucket, role: iam.IRole, key: kms.IKey, *, prefix: str, logging: DeliveryLogging
) -> dict[str, Any]:
    """The S3 part of a destination: GZIP objects under ``prefix``, encrypted with ``key``, buffered 5 minutes/5 MiB."""
    return {
        "bucketArn": bucket.bucket_arn,
        "roleArn": role.role_arn,
        "prefix": prefix,
        "compressionFormat": "GZIP",
        "encryptionConfiguration": {"kmsEncryptionConfig": {"awskmsKeyArn": key.key_arn}},
        "bufferingHints": {"intervalInSeconds": 300, "sizeInMBs": 5},
        "cloudWatchLoggingOptions": logging.options,
    }


def stream_encryption(key: kms.IKey) -> dict[str, str]:
    """The stream's ``deliveryStreamEncryptionConfigurationInput``: server-side encryption with ``key``."""
    return {"keyType": "CUSTOMER_MANAGED_CMK", "keyArn": key.key_arn}
