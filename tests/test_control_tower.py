"""The strict compliance profile against the AWS Control Tower proactive controls (cfn-guard, CfnGuardValidator).

The Level 3 bundled app (its three stacks) is synthesized once per session (``strict_level3`` in tests/conftest.py,
shared with tests/constructs/test_strict_network.py) in the strict profile, in a VPC, with
``CfnGuardValidator(control_tower_rules_enabled=True, disabled_rules=<the documented list>)`` and cdk-nag as policy
validation plugins. The standard profile is counted by ``scripts/control_tower_report.py``, not gated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk.assertions import Annotations, Match, Template
from cfnlint.api import ManualArgs, lint_file

from llm_observability.compliance_profile import (
    CONTEXT_KEY,
    DISABLED_CONTROLS,
    STRICT_MIN_RETENTION_DAYS,
    disabled_rules,
    profile_of,
)
from llm_observability.config import ObservabilityConfig
from llm_observability.constructs._common import (
    access_logs_bucket,
    dead_letter_queue,
    encrypted_log_group,
    failure_bucket,
    log_encryption_key,
)
from llm_observability.errors import ConfigError
from scripts.control_tower_report import plugin_failures, summary, violations


@pytest.fixture(scope="module")
def strict(strict_level3: dict[str, Any]) -> dict[str, Any]:
    """The strict level-3 app of the session (tests/conftest.py), its templates by path."""
    return {**strict_level3, "templates": strict_level3["files"]}


def _resources(strict: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    found = {}
    for name, path in strict["templates"].items():
        template = Template.from_string(path.read_text()).to_json()
        found.update({f"{name}/{k}": v for k, v in template["Resources"].items() if v["Type"] == cfn_type})
    return found


# --- the gate ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_strict_level3_meets_the_control_tower_rules_but_the_documented_list(strict: dict[str, Any]) -> None:
    found = violations(strict["report"])
    remaining = {control for by_control in found.values() for control in by_control}
    assert remaining == set(), found  # nothing beyond DISABLED_CONTROLS
    constructs, controls = summary(found)
    print(f"strict level 1-3: {constructs} violating constructs, {controls} controls: {sorted(remaining)}")


@pytest.mark.slow
def test_strict_level3_is_cdk_nag_and_cloudformation_clean(strict: dict[str, Any]) -> None:
    assert plugin_failures(strict["report"], "AwsSolutions") == 0
    for name, path in strict["templates"].items():
        matches = lint_file(path, ManualArgs(regions=["us-east-1", "eu-west-1"]))
        assert [str(m) for m in matches] == [], name
    assert plugin_failures(strict["report"], "CloudFormation Validate") == 0


def test_disabled_list_names_bundled_rules_each_with_a_reason() -> None:
    import tarfile

    from cdklabs import cdk_validator_cfnguard

    (tgz,) = (Path(cdk_validator_cfnguard.__file__).parent / "_jsii").glob("*.tgz")
    with tarfile.open(tgz) as archive:
        names = {Path(m.name).stem for m in archive.getmembers() if m.name.endswith(".guard")}
    assert set(disabled_rules()) <= names
    assert all(len(reason) > 40 for reason in DISABLED_CONTROLS.values())


# --- what strict writes --------------------------------------------------------------------------


@pytest.mark.slow
def test_every_log_group_kept_a_year(strict: dict[str, Any]) -> None:
    groups = _resources(strict, "AWS::Logs::LogGroup")
    assert groups
    days = {name: group["Properties"].get("RetentionInDays") for name, group in groups.items()}
    short = {name: value for name, value in days.items() if value is not None and value < STRICT_MIN_RETENTION_DAYS}
    assert short == {}


@pytest.mark.slow
def test_every_key_limits_grants_to_aws_services(strict: dict[str, Any]) -> None:
    keys = _resources(strict, "AWS::KMS::Key")
    assert keys
    for name, key in keys.items():
        statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
        deny = statements.get("DenyGrantsNotForAwsServices")
        assert deny is not None, name
        assert deny["Effect"] == "Deny" and deny["Action"] == "kms:CreateGrant" and deny["Principal"] == {"AWS": "*"}
        assert deny["Condition"] == {
            "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
        }


@pytest.mark.slow
def test_every_bucket_versioned_locked_notifying_and_expiring(strict: dict[str, Any]) -> None:
    buckets = _resources(strict, "AWS::S3::Bucket")
    assert buckets
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert props["ObjectLockEnabled"] is True, name
        assert props["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}, name
        assert any(r["Status"] == "Enabled" for r in props["LifecycleConfiguration"]["Rules"]), name
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        # Server-access-log destinations only (S3 supports SSE-S3 there): the documented CT.S3.PR.10 exception.
        assert algorithm == "aws:kms" or "LoggingConfiguration" not in props, name


# --- the profile, construct by construct (no app synth) ------------------------------------------------------


def _stack(profile: str | None) -> Stack:
    app = App(context={} if profile is None else {CONTEXT_KEY: profile})
    return Stack(app, "S")


def test_profile_defaults_to_standard_and_rejects_other_values() -> None:
    assert profile_of(_stack(None)) == "standard"
    assert profile_of(_stack("strict")) == "strict"
    with pytest.raises(ConfigError, match="Setting 'compliance_profile' is 'lax': allowed are standard, strict."):
        profile_of(_stack("lax"))
    with pytest.raises(ConfigError, match="compliance_profile"):
        ObservabilityConfig(compliance_profile="lax")  # type: ignore[arg-type]
    assert ObservabilityConfig.from_mapping({"compliance_profile": "strict"}).compliance_profile == "strict"


def test_strict_raises_retention_to_a_year_with_a_note_standard_keeps_it() -> None:
    for profile, expected in (("standard", 30), ("strict", 365)):
        stack = _stack(profile)
        key = log_encryption_key(stack, "Key", description="test key")
        encrypted_log_group(stack, "Logs", key=key, retention_days=30, removal_policy=RemovalPolicy.DESTROY)
        template = Template.from_stack(stack)
        template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": expected})
        notes = Annotations.from_stack(stack).find_info("*", Match.string_like_regexp("raised from 30 to 365"))
        assert len(notes) == (profile == "strict")


def test_standard_profile_writes_none_of_it() -> None:
    stack = _stack("standard")
    log_encryption_key(stack, "Key", description="test key")
    failure_bucket(stack, "Failures", key=log_encryption_key(stack, "BucketKey", description="k"), retention_days=30)
    access_logs_bucket(stack, "AccessLogs", expiration_days=90)
    dead_letter_queue(stack, "Dlq", purpose="a test rule")
    template = Template.from_stack(stack).to_json()
    text = str(template)
    for absent in ("DenyGrantsNotForAwsServices", "ObjectLockEnabled", "EventBridgeConfiguration", "RedriveAllow"):
        assert absent not in text


def test_strict_dead_letter_queue_declares_itself_one() -> None:
    stack = _stack("strict")
    dead_letter_queue(stack, "Dlq", purpose="a test rule")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue", {"RedriveAllowPolicy": {"redrivePermission": "allowAll"}}
    )


def test_report_script_refuses_a_bad_setting_in_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts.control_tower_report import main

    assert main(["--profile", "strict", "--levels", "1", "-c", "vpc_subnet_ids=subnet-a,,subnet-b"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Configuration error: Setting 'vpc_subnet_ids' is 'subnet-a,,subnet-b'") and "\n" not in err
