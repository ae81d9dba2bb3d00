"""Level 1 constructs composed into a separate app that owns its own Lambda function and REST API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_observability.errors import ConfigError

THEIR_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Stack, Validations
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from cdk_nag import AwsSolutionsChecks
    from constructs import Construct

    from llm_observability import AlertTopic, InvocationLogging, LlmAlarms, LlmDashboard, Workload

    outdir = tmp_path_factory.mktemp("foreign")
    app = App(outdir=str(outdir))
    stack = Stack(app, "TheirApp")
    log_group = logs.LogGroup(stack, "TheirLogs", retention=logs.RetentionDays.ONE_WEEK)
    fn = lambda_.Function(
        stack,
        "TheirFunction",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        log_group=log_group,
        code=lambda_.Code.from_inline(
            "import boto3, json\n"
            "def handler(event, context):\n"
            f"    out = boto3.client('bedrock-runtime').converse(modelId='{THEIR_MODEL}',"
            " messages=[{'role': 'user', 'content': [{'text': json.loads(event['body'])['q']}]}])\n"
            "    return {'statusCode': 200, 'body': out['output']['message']['content'][0]['text']}\n"
        ),
    )
    api = apigw.LambdaRestApi(stack, "TheirApi", handler=fn)

    observability = Construct(stack, "Observability")
    alerts = AlertTopic(observability, "Alerts", email="team@example.com")
    workload = Workload.from_function(
        fn, name="their-bot", model_ids=(THEIR_MODEL,), log_group=log_group, rest_api=api, metric_namespace="TheirApp"
    ).with_alert_topic(alerts.topic)
    alarms = LlmAlarms(observability, "Alarms", workload=workload)
    LlmDashboard(observability, "Dashboard", workload=workload, alarms=list(alarms.alarms.values()))
    LlmDashboard(observability, "SecondDashboard", workload=workload)
    InvocationLogging(observability, "InvocationLogging", s3_delivery=True, existing_configuration="replace")

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:  # their own resources are not nag-clean; ours must be
        assert "ValidationFailed" in str(error)
    report = json.loads((outdir / "validation-report.json").read_text())
    template = json.loads((outdir / "TheirApp.template.json").read_text())
    return {"template": template, "report": report, "alarms": alarms}


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def test_our_constructs_have_no_nag_finding_in_a_foreign_app(foreign: dict[str, Any]) -> None:
    paths = [
        c["constructPath"]
        for r in foreign["report"]["pluginReports"]
        for v in r["violations"]
        for c in v["violatingConstructs"]
    ]
    assert paths, "the foreign resources were expected to have findings of their own"
    assert [p for p in paths if "/Observability/" in p] == []


def test_alarms_watch_their_function_api_and_model(foreign: dict[str, Any]) -> None:
    alarms = _of_type(foreign["template"], "AWS::CloudWatch::Alarm")
    assert len(alarms) == 8  # no SuccessRate: the app emits no app metrics (telemetry "none")
    text = json.dumps(alarms)
    assert THEIR_MODEL in text and '"Ref": "TheirFunction' in text and '"Value": "TheirApi"' in text
    assert '"Namespace": "TheirApp"' not in text and not any("SuccessRate" in k for k in alarms)


def test_two_dashboards_never_collide(foreign: dict[str, Any]) -> None:
    dashboards = _of_type(foreign["template"], "AWS::CloudWatch::Dashboard")
    names = [json.dumps(d["Properties"]["DashboardName"]) for d in dashboards.values()]
    assert len(names) == 2 and names[0] != names[1]


def test_s3_delivery_bucket_is_retained_and_only_bedrock_of_this_account_writes(foreign: dict[str, Any]) -> None:
    (resource,) = _of_type(foreign["template"], "Custom::BedrockInvocationLogging").values()
    assert resource["Properties"]["ExistingConfiguration"] == "replace"
    assert resource["Properties"]["LoggingConfig"]["s3Config"]["keyPrefix"] == "bedrock-invocations"
    policies = json.dumps(_of_type(foreign["template"], "AWS::S3::BucketPolicy"))
    assert "BedrockInvocationLogDelivery" in policies and "aws:SourceAccount" in policies
    buckets = _of_type(foreign["template"], "AWS::S3::Bucket")
    assert buckets and all(b["DeletionPolicy"] == "Retain" for b in buckets.values())


def test_bad_construct_input_fails_with_one_sentence() -> None:
    from aws_cdk import App, Stack

    from llm_observability import AlarmThresholds, AlertTopic, InvocationLogging, LlmAlarms, Workload

    stack = Stack(App(), "S")
    with pytest.raises(ConfigError, match="^AlertTopic 'email' is 'nope': allowed is empty or one e-mail address"):
        AlertTopic(stack, "T", email="nope")
    with pytest.raises(ConfigError, match="^InvocationLogging 'existing_configuration' is 'merge': allowed are keep, replace.$"):
        InvocationLogging(stack, "I", existing_configuration="merge")
    with pytest.raises(ConfigError, match="^Alarm threshold 'api_5xx' is -1: allowed is a number above 0.$"):
        AlarmThresholds(api_5xx=-1)
    with pytest.raises(ConfigError, match="^Workload 'model_ids' is empty"):
        Workload(name="x", model_ids=())
    with pytest.raises(ConfigError, match="^LlmAlarms 'topic' is missing"):
        LlmAlarms(stack, "A", workload=Workload(name="x", model_ids=("amazon.nova-lite-v1:0",)))

    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns

    from llm_observability import AnomalyAlarms, LogIntelligence

    topic = sns.Topic(stack, "Topic")
    bare = Workload(name="x", model_ids=("amazon.nova-lite-v1:0",), alert_topic=topic)
    with pytest.raises(ConfigError, match=r"^AnomalyAlarms 'band_width' is 0: allowed is a number from 0.1 to 10.$"):
        AnomalyAlarms(stack, "B", workload=bare, band_width=0)
    with pytest.raises(ConfigError, match=r"^AnomalyAlarms 'datapoints_to_alarm' is 4"):
        AnomalyAlarms(stack, "C", workload=bare, datapoints_to_alarm=4)
    with pytest.raises(ConfigError, match=r"^LogIntelligence 'workload.log_groups' is empty"):
        LogIntelligence(stack, "D", workload=bare)
    with_logs = Workload(name="x", model_ids=("m.x",), alert_topic=topic, log_groups=(logs.LogGroup(stack, "G"),))
    with pytest.raises(ConfigError, match=r"^LogIntelligence 'evaluation_frequency' is 'HOURLY': allowed are ONE_MIN"):
        LogIntelligence(stack, "E", workload=with_logs, evaluation_frequency="HOURLY")
    with pytest.raises(ConfigError, match=r"^LogIntelligence 'refusal_threshold' is -1: allowed is a number above 0.$"):
        LogIntelligence(stack, "F", workload=with_logs, refusal_threshold=-1)


@pytest.fixture(scope="module")
def foreign_level2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Level 2 alone (no Level 1 stack) applied to a workload made of someone else's resources."""
    from aws_cdk import App, Stack, Validations
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from cdk_nag import AwsSolutionsChecks

    from llm_observability import AlertTopic, ObservabilityConfig, ProactiveStack, Workload

    outdir = tmp_path_factory.mktemp("foreign-l2")
    app = App(outdir=str(outdir))
    theirs = Stack(app, "TheirApp")
    log_group = logs.LogGroup(theirs, "Logs", retention=logs.RetentionDays.ONE_MONTH)
    fn = lambda_.Function(
        theirs, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", log_group=log_group,
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )  # fmt: skip
    alerts = AlertTopic(theirs, "Alerts")
    workload = Workload.from_function(
        fn, name="their-bot", model_ids=(THEIR_MODEL,), log_group=log_group, metric_namespace="TheirApp"
    ).with_alert_topic(alerts.topic, key=alerts.key)
    config = ObservabilityConfig(
        level=2, security_hub="adopt", config_recorder="adopt", cloudtrail=False, security_standards=(),
        cost_anomaly_monitor_arn="arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    )  # fmt: skip
    ProactiveStack(app, "TheirLevel2", workload=workload, config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:
        assert "ValidationFailed" in str(error)
    return {
        "report": json.loads((outdir / "validation-report.json").read_text()),
        "template": json.loads((outdir / "TheirLevel2.template.json").read_text()),
    }


def test_level2_alone_on_a_foreign_workload_is_nag_clean(foreign_level2: dict[str, Any]) -> None:
    paths = [
        c["constructPath"]
        for r in foreign_level2["report"]["pluginReports"]
        for v in r["violations"]
        for c in v["violatingConstructs"]
    ]
    assert [p for p in paths if p.startswith("TheirLevel2/")] == []


def test_level2_alone_observes_their_model_and_logs_and_adopts_singletons(foreign_level2: dict[str, Any]) -> None:
    template = foreign_level2["template"]
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & {"AWS::SecurityHub::Hub", "AWS::Config::ConfigurationRecorder", "AWS::CloudTrail::Trail",
                        "AWS::CE::AnomalyMonitor", "AWS::SecurityHub::Standard"}  # fmt: skip
    assert {"AWS::CE::AnomalySubscription", "AWS::Budgets::Budget", "AWS::Logs::LogAnomalyDetector"} <= types
    # AWS/Bedrock bands only (no app metrics); the library's own incident-outcome metrics go to their namespace
    outcome = {"Key": "AlarmRole", "Value": "outcome"}
    alarms = json.dumps({k: r for k, r in _of_type(template, "AWS::CloudWatch::Alarm").items()
                         if outcome not in r["Properties"].get("Tags", [])})  # fmt: skip
    assert THEIR_MODEL in alarms and '"Namespace": "TheirApp"' not in alarms
    rules = _of_type(template, "AWS::Config::ConfigRule")
    assert len(rules) == 13
