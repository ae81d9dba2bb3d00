"""OutputDrift: the daily drift function, its state bucket, alarms by role, and the signals each workload can feed.

One app holds every case (synthesized once per module, cdk-nag's AwsSolutions pack included); a snapshot of the
fully fed case shows the construct's resources.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.constructs.alarm_factory import AlarmRole, Severity
from llm_observability.errors import ConfigError
from llm_observability.functions.output_drift import drift_telemetry as dt
from tests.conftest import CDK_CONTEXT, alarm_metric, scrub

MODEL_ID = "amazon.nova-lite-v1:0"
ACCOUNT = "123456789012"
BASIC_ROLE = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
GUARDRAIL = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:guardrail/abc123"


def _workload(stack: Any, name: str, *, imported: bool = False, **facts: Any) -> Any:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns

    from llm_observability import Workload
    from llm_observability.nag import acknowledge

    if imported:
        log_group = logs.LogGroup.from_log_group_name(stack, "AppLogs", "/aws/lambda/imported-app")
    else:
        log_group = logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
    fn = lambda_.Function(
        stack, "AppFunction", runtime=lambda_.Runtime.PYTHON_3_14, handler="app.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"), log_group=log_group,
    )  # fmt: skip
    acknowledge(fn, f"AwsSolutions-IAM4[Policy::{BASIC_ROLE}]", "The test app's own function, not the construct's.")
    workload = Workload.from_function(fn, name=name, model_ids=(MODEL_ID,), log_group=log_group)
    return workload.with_facts(**facts).with_alert_topic(sns.Topic(stack, "AppTopic", enforce_ssl=True))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Stacks: Full (reference schema, redacted text, a guardrail, the judge, KS), Library (library schema, no text,
    no guardrail, no judge, imported log group)."""
    from aws_cdk import App, Environment, Stack, Validations
    from aws_cdk import aws_logs as logs
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.output_drift import OutputDrift
    from llm_observability.left_out import left_out
    from llm_observability.workload_facts import LogSchema

    outdir = tmp_path_factory.mktemp("output-drift")
    cdk = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    Validations.of(cdk).add_plugins(AwsSolutionsChecks(cdk))
    env = Environment(account=ACCOUNT, region="us-east-1")
    built: dict[str, Any] = {}

    stack = Stack(cdk, "Full", env=env)
    workload = _workload(stack, "snap", log_schema=LogSchema.reference(), prompt_logging="redacted")
    workload = dataclasses.replace(workload, guardrail_arn=GUARDRAIL, guardrail_version="1")
    judge_logs = logs.LogGroup(stack, "JudgeLogs", retention=logs.RetentionDays.ONE_MONTH)
    built["Full"] = (stack, OutputDrift(stack, "Subject", workload=workload, judge_log_group=judge_logs,
                                        statistic="ks", baseline_days=14, near_duplicate_jaccard=0.9))  # fmt: skip

    stack = Stack(cdk, "Library", env=env)
    workload = _workload(stack, "lib", imported=True, log_schema=LogSchema.library(), prompt_logging="none")
    built["Library"] = (stack, OutputDrift(stack, "Subject", workload=workload))
    cdk.synth()  # raises on an unacknowledged cdk-nag finding
    templates = {
        n: json.loads((Path(outdir) / f"{s.artifact_id}.template.json").read_text()) for n, (s, _) in built.items()
    }
    return {
        "templates": templates,
        "constructs": {n: c for n, (_, c) in built.items()},
        "left_out": {n: [item.feature for item in left_out(s)] for n, (s, _) in built.items()},
    }


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _subject(template: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {k: v for k, v in template["Resources"].items() if k.startswith("Subject")}}


def _function_env(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [f for f in _of_type(template, "AWS::Lambda::Function").values()
                   if "DRIFT_BASELINE_DAYS" in f["Properties"].get("Environment", {}).get("Variables", {})]  # fmt: skip
    return function["Properties"]["Environment"]["Variables"]


def test_snapshot(app: dict[str, Any], snapshot: Any) -> None:
    assert _subject(scrub(app["templates"]["Full"])) == snapshot(extension_class=JSONSnapshotExtension)


def test_signals_follow_what_the_workload_feeds(app: dict[str, Any]) -> None:
    full, library = app["constructs"]["Full"], app["constructs"]["Library"]
    assert full.signals == (dt.SIGNAL_ANSWER_LENGTH, dt.SIGNAL_REFUSAL, dt.SIGNAL_GROUNDING, *dt.JUDGE_SIGNALS)
    assert library.signals == (dt.SIGNAL_ANSWER_LENGTH,)
    env = _function_env(app["templates"]["Full"])
    assert json.loads(env[dt.ENV_SIGNALS]) == list(full.signals)
    assert env[dt.ENV_DRIFT_STATISTIC] == "ks" and env[dt.ENV_DRIFT_BASELINE_DAYS] == "14"
    assert env[dt.ENV_DIVERSITY] == "true" and env[dt.ENV_NEAR_DUPLICATE_JACCARD] == "0.9"
    assert env[dt.ENV_DRIFT_MIN_SAMPLES] == "50" and dt.ENV_JUDGE_LOG_GROUP in env
    assert json.loads(env[dt.ENV_LOG_SCHEMA])["grounding_score"] == "guardrail.grounding_score"
    env = _function_env(app["templates"]["Library"])
    assert env[dt.ENV_DIVERSITY] == "false" and dt.ENV_JUDGE_LOG_GROUP not in env
    assert env[dt.ENV_DRIFT_STATISTIC] == "psi"
    assert app["left_out"]["Full"] == []
    assert app["left_out"]["Library"] == [
        "output drift of refusals", "prompt diversity", "output drift of grounding scores",
        "output drift of the judge's scores",
    ]  # fmt: skip


def test_alarms_are_low_quality_and_availability_on_a_daily_maximum(app: dict[str, Any]) -> None:
    for name, threshold in (("Full", 0.2), ("Library", 0.25)):
        construct = app["constructs"][name]
        assert set(construct.alarms) == {"OutputDrift", "DriftNotStarted"}
        roles = {(r.alarm.node.id, r.role, r.severity) for r in construct.roled_alarms}
        assert roles == {("OutputDrift", AlarmRole.QUALITY, Severity.LOW),
                         ("DriftNotStarted", AlarmRole.AVAILABILITY, Severity.LOW)}  # fmt: skip
        alarms = _of_type(app["templates"][name], "AWS::CloudWatch::Alarm")
        (drift,) = [a["Properties"] for a in alarms.values()
                    if alarm_metric(a["Properties"])["MetricName"] == dt.METRIC_OUTPUT_DRIFT_MAX]  # fmt: skip
        metric = alarm_metric(drift)
        assert metric["Period"] == 86400 and metric["Stat"] == "Maximum" and drift["Threshold"] == threshold
        assert metric["Dimensions"] == [{"Name": "service", "Value": "snap" if name == "Full" else "lib"}]
        assert drift["EvaluationPeriods"] == 1 and drift["DatapointsToAlarm"] == 1
        assert drift["TreatMissingData"] == "notBreaching"
        assert drift["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_state_bucket_is_encrypted_and_expires_after_the_baseline(app: dict[str, Any]) -> None:
    for name, days in (("Full", 16), ("Library", 9)):
        buckets = _of_type(app["templates"][name], "AWS::S3::Bucket")
        (state,) = [b["Properties"] for b in buckets.values()
                    if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                    ["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"]  # fmt: skip
        assert state["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == days
        assert state["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
        assert "LoggingConfiguration" in state


def test_schedule_and_permissions(app: dict[str, Any]) -> None:
    template = app["templates"]["Full"]
    (rule,) = _of_type(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "cron(15 1 * * ? *)"
    statements = [s for p in _of_type(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip
    by_sid = {s.get("Sid"): s for s in statements if s.get("Sid")}
    # the app's and the judge's log group, each in both ARN forms
    assert by_sid["QueryLogs"]["Action"] == "logs:StartQuery" and len(by_sid["QueryLogs"]["Resource"]) == 2 * 2
    assert sorted(by_sid["ReadWriteSamples"]["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert by_sid["ListSamples"]["Action"] == "s3:ListBucket"
    assert "kms:ViaService" in json.dumps(by_sid["EncryptSamples"]["Condition"])


def test_widgets(app: dict[str, Any]) -> None:
    from aws_cdk import Stack

    assert len(app["constructs"]["Full"].widgets()) == 2
    (widget,) = app["constructs"]["Library"].widgets()
    rendered = json.dumps(Stack.of(app["constructs"]["Library"]).resolve(widget.to_json()))
    assert "SEARCH(" in rendered and dt.METRIC_OUTPUT_DRIFT in rendered and "alarm threshold" in rendered


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statistic": "mean"}, "'statistic'"),
        ({"baseline_days": 2}, "'baseline_days'"),
        ({"psi_threshold": 0}, "'psi_threshold'"),
        ({"ks_threshold": 1.5}, "'ks_threshold'"),
        ({"min_samples": 5}, "'min_samples'"),
        ({"near_duplicate_jaccard": 0.2}, "'near_duplicate_jaccard'"),
        ({"diversity": "yes"}, "'diversity'"),
    ],
)
def test_bad_settings_fail_with_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.output_drift import OutputDrift
    from llm_observability.workload_facts import LogSchema

    stack = Stack(App(), "Bad")
    workload = _workload(stack, "bad", log_schema=LogSchema.library(), prompt_logging="redacted")
    with pytest.raises(ConfigError, match=message):
        OutputDrift(stack, "Subject", workload=workload, **kwargs)


def test_a_workload_that_feeds_nothing_is_refused() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.output_drift import OutputDrift
    from llm_observability.workload_facts import LogSchema

    stack = Stack(App(), "Bad")
    with pytest.raises(ConfigError, match="'workload.log_schema' is missing"):
        OutputDrift(stack, "NoSchema", workload=_workload(stack, "bad"))
    schema = dataclasses.replace(LogSchema.library(), answer_length=None)
    workload = _workload(Stack(App(), "Bad2"), "bad", log_schema=schema, prompt_logging="none")
    with pytest.raises(ConfigError, match="feeds no drift signal"):
        OutputDrift(Stack.of(workload.functions[0]), "Nothing", workload=workload)
