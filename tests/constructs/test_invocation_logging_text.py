"""Bedrock invocation logging keeps no prompt or answer text unless asked, and text gets a key of its own (#15 item 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Aspects, Stack
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_file

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.invocation_logging import InvocationLogging
from llm_observability.hygiene import NoRedundantDependsOn
from tests.conftest import CDK_CONTEXT


def _template(**kwargs: Any) -> dict[str, Any]:
    app = App(context=CDK_CONTEXT)
    Aspects.of(app).add(NoRedundantDependsOn())  # what the bundled app does
    stack = Stack(app, "Logging", env={"account": "111111111111", "region": "us-east-1"})
    InvocationLogging(stack, "InvocationLogging", **kwargs)
    return Template.from_stack(stack).to_json()


def _of(template: dict[str, Any], cfn_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == cfn_type]


@pytest.fixture(scope="module")
def metadata_only() -> dict[str, Any]:
    return _template(s3_delivery=True)


@pytest.fixture(scope="module")
def with_text() -> dict[str, Any]:
    return _template(s3_delivery=True, text_data=True)


def test_the_setting_defaults_to_no_text() -> None:
    assert ObservabilityConfig().invocation_logging_text is False


def test_by_default_no_text_is_delivered_and_the_copy_is_sse_s3(metadata_only: dict[str, Any]) -> None:
    (resource,) = _of(metadata_only, "Custom::BedrockInvocationLogging")
    assert resource["Properties"]["LoggingConfig"]["textDataDeliveryEnabled"] == "false"
    (bucket,) = [b for b in _of(metadata_only, "AWS::S3::Bucket") if "LifecycleConfiguration" in b["Properties"]
                 and b["Properties"].get("LoggingConfiguration")]  # fmt: skip
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    keys = {k for k, r in metadata_only["Resources"].items() if r["Type"] == "AWS::KMS::Key"}
    assert [k for k in keys if "LogKey" in k] and not [k for k in keys if "TextKey" in k]


def test_text_is_an_opt_in_with_a_dedicated_key_on_the_log_group_and_the_copy(with_text: dict[str, Any]) -> None:
    (resource,) = _of(with_text, "Custom::BedrockInvocationLogging")
    assert resource["Properties"]["LoggingConfig"]["textDataDeliveryEnabled"] == "true"
    keys = {k: r for k, r in with_text["Resources"].items() if r["Type"] == "AWS::KMS::Key"}
    (text_key,) = [k for k in keys if "TextKey" in k]
    assert not [k for k in keys if "LogKey" in k]
    groups = {k: g for k, g in with_text["Resources"].items() if k.startswith("InvocationLoggingLogs")}
    (group,) = [g for g in groups.values() if g["Type"] == "AWS::Logs::LogGroup"]
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [text_key, "Arn"]}
    (bucket,) = [b for b in _of(with_text, "AWS::S3::Bucket") if b["Properties"].get("LoggingConfiguration")]
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [text_key, "Arn"]}
    }  # fmt: skip
    assert rule["BucketKeyEnabled"] is True
    statements = keys[text_key]["Properties"]["KeyPolicy"]["Statement"]
    (bedrock,) = [s for s in statements if s.get("Sid") == "BedrockInvocationLogDeliveryToS3"]
    assert bedrock["Principal"] == {"Service": "bedrock.amazonaws.com"} and bedrock["Action"] == "kms:GenerateDataKey"
    assert bedrock["Condition"]["StringEquals"]["aws:SourceAccount"] == "111111111111"
    assert "s3." in json.dumps(bedrock["Condition"]["StringEquals"]["kms:ViaService"])
    assert "bedrock:us-east-1:111111111111" in json.dumps(bedrock["Condition"]["ArnLike"])


def test_the_text_template_is_cfn_lint_clean(with_text: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "logging.template.json"
    path.write_text(json.dumps(with_text))
    assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == []


def test_a_given_key_is_used_for_text_too() -> None:
    from aws_cdk import aws_kms as kms

    stack = Stack(App(), "Given", env={"account": "111111111111", "region": "us-east-1"})
    key = kms.Key(stack, "Mine", enable_key_rotation=True)
    logging = InvocationLogging(stack, "InvocationLogging", log_key=key, text_data=True)
    assert logging.text_key is None
    template = Template.from_stack(stack).to_json()
    assert len(_of(template, "AWS::KMS::Key")) == 1
