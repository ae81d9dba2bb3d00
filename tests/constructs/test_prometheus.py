"""PrometheusExport: the AMP workspace, its ingestion path, rules and alert manager; rules checked by promtool/amtool.

One app, synthesized once for the module, holds two stacks:
- ``Observed``: a minimal workload (Lambda function + log group) with an AlertTopic and PrometheusExport;
- ``Alerts`` + ``Prometheus``: the topic in one stack, the export in another (the bundled app's layout).

The rule file and the Alertmanager configuration are validated with the real tools (``promtool check
rules``, ``promtool test rules``, ``amtool check-config``). Without the tools the tests skip, except in CI
(``CI=true``), where ``scripts/install_prometheus_tools.sh`` installs them and their absence fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint_file

from llm_observability import prometheus_rules
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry
from tests.conftest import CDK_CONTEXT
from tests.support.loader import load_file

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:llm-alerts"
FUNCTIONS = Path(__file__).resolve().parents[2] / "llm_observability" / "functions"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Stack, Validations
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.alert_topic import AlertTopic
    from llm_observability.constructs.prometheus import PrometheusExport
    from llm_observability.hygiene import NoRedundantDependsOn
    from llm_observability.workload import Workload

    outdir = tmp_path_factory.mktemp("prometheus")
    app = App(outdir=str(outdir), context=CDK_CONTEXT)

    def workload_in(stack: Stack, topic: Any = None, key: Any = None) -> Workload:
        log_group = logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
        role = iam.Role(stack, "AppRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        fn = lambda_.Function(
            stack, "App", runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler", role=role, log_group=log_group,
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        )  # fmt: skip
        workload = Workload.from_function(fn, name="rag-api", model_ids=("amazon.nova-lite-v1:0",), log_group=log_group)
        return workload.with_alert_topic(topic, key=key) if topic is not None else workload

    observed = Stack(app, "Observed")
    alerts = AlertTopic(observed, "Alerts")
    export = PrometheusExport(
        observed, "Prometheus", workload=workload_in(observed, alerts.topic, alerts.key), daily_cost_threshold_usd=50
    )

    foundation = Stack(app, "Alerts")
    shared = AlertTopic(foundation, "Alerts")
    workload = workload_in(foundation, shared.topic, shared.key)
    aiops = Stack(app, "Prometheus")
    PrometheusExport(aiops, "Prometheus", workload=workload, include_bedrock_metrics=False)

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    app.synth()  # raises RuntimeError("ValidationFailed ...") on any unacknowledged cdk-nag finding
    report = outdir / "validation-report.json"
    files = {s.stack_name: outdir / f"{s.artifact_id}.template.json" for s in (observed, foundation, aiops)}
    return {
        "templates": {name: json.loads(path.read_text()) for name, path in files.items()},
        "files": files,
        "report": json.loads(report.read_text()) if report.exists() else {"pluginReports": []},
        "export": export,
        "stack": observed,
    }


def of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def one(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = of_type(template, cfn_type).items()
    return item


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """A template value with ``Fn::Join``/``Ref`` of known logical ids and pseudo parameters resolved."""
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(resolve(p, refs) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return refs[value["Ref"]]
    return value


# --- template ---------------------------------------------------------------------------------------------------------


def test_no_cdk_nag_findings(app: dict[str, Any]) -> None:
    findings = [
        (v["ruleName"], c["constructPath"])
        for r in app["report"]["pluginReports"]
        for v in r.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    assert findings == []


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
@pytest.mark.parametrize("stack", ["Observed", "Alerts", "Prometheus"])
def test_cfn_lint_is_clean(app: dict[str, Any], stack: str) -> None:
    assert [str(m) for m in lint_file(app["files"][stack], ManualArgs(regions=["us-east-1", "eu-west-1"]))] == []


def test_workspace_is_encrypted_with_a_rotating_key_and_logs_to_an_encrypted_group(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    _, workspace = one(template, "AWS::APS::Workspace")
    props = workspace["Properties"]
    key_id = props["KmsKeyArn"]["Fn::GetAtt"][0]
    key = template["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    aps = next(s for s in statements if s.get("Sid") == "AllowManagedPrometheusOfThisAccount")
    assert aps["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Join": ["", ["aps.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
    }
    log_group = template["Resources"][props["LoggingConfiguration"]["LogGroupArn"]["Fn::GetAtt"][0]]
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert props["WorkspaceConfiguration"] == {
        "OutOfOrderTimeWindowInSeconds": 900,
        "RetentionPeriodInDays": 150,
        "RuleQueryOffsetInSeconds": 300,
    }


def test_rule_groups_namespace_holds_exactly_the_validated_rules(app: dict[str, Any]) -> None:
    _, rules = one(app["templates"]["Observed"], "AWS::APS::RuleGroupsNamespace")
    expected = prometheus_rules.rules_yaml(prometheus_rules.RuleSettings(daily_cost_threshold_usd=50))
    assert rules["Properties"]["Data"] == expected == app["export"].rules_yaml
    groups = yaml.safe_load(expected)["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert alerts == {"LlmAvailabilityFastBurn", "LlmAvailabilitySlowBurn", "LlmLatencyP99High", "LlmCostBurnHigh"}
    _, other = one(app["templates"]["Prometheus"], "AWS::APS::RuleGroupsNamespace")
    assert "LlmCostBurnHigh" not in other["Properties"]["Data"] and "aws_bedrock" not in other["Properties"]["Data"]


def test_alert_manager_routes_every_alert_to_the_topic(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    topic_id, _ = one(template, "AWS::SNS::Topic")
    _, workspace = one(template, "AWS::APS::Workspace")
    definition = resolve(
        workspace["Properties"]["AlertManagerDefinition"], {topic_id: TOPIC_ARN, "AWS::Region": "us-east-1"}
    )
    assert definition == prometheus_rules.alertmanager_definition(TOPIC_ARN, "us-east-1")
    config = yaml.safe_load(yaml.safe_load(definition)["alertmanager_config"])
    assert config["route"]["receiver"] == "sns" and "routes" not in config["route"]
    (receiver,) = config["receivers"]
    assert receiver["sns_configs"] == [
        {
            "topic_arn": TOPIC_ARN,
            "sigv4": {"region": "us-east-1"},
            "subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}",
            "attributes": {"source": "amazon-managed-prometheus", "severity": "{{ .CommonLabels.severity }}"},
        }
    ]


def test_the_topic_lets_this_workspace_publish_and_use_its_key(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    workspace_id, _ = one(template, "AWS::APS::Workspace")
    _, policy = one(template, "AWS::SNS::TopicPolicy")
    aps = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "aps.amazonaws.com"}
    ]
    assert len(aps) == 1 and aps[0]["Action"] == "sns:Publish"
    assert aps[0]["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": [workspace_id, "Arn"]}
    topic_key = next(
        k for k in of_type(template, "AWS::KMS::Key").values() if "notifications" in k["Properties"]["Description"]
    )
    assert any(
        "aps.amazonaws.com" in json.dumps(s["Principal"]) and "kms:GenerateDataKey*" in s["Action"]
        for s in topic_key["Properties"]["KeyPolicy"]["Statement"]
    )


def test_a_topic_of_another_stack_gets_no_reference_back(app: dict[str, Any]) -> None:
    alerts = app["templates"]["Alerts"]
    assert "Fn::ImportValue" not in json.dumps(alerts) and "Fn::GetStackOutput" not in json.dumps(alerts)
    _, policy = one(alerts, "AWS::SNS::TopicPolicy")
    aps = next(
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "aps.amazonaws.com"}
    )
    source = resolve(
        aps["Condition"]["ArnLike"]["aws:SourceArn"],
        {"AWS::Partition": "aws", "AWS::Region": "r", "AWS::AccountId": "1"},
    )
    assert source == "arn:aws:aps:r:1:workspace/*"
    assert '"StackName": "Alerts"' in json.dumps(app["templates"]["Prometheus"])  # the export reads the topic ARN


def test_metric_stream_feeds_firehose_in_json_with_percentiles(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    stream_id, _ = one(template, "AWS::KinesisFirehose::DeliveryStream")
    _, metric_stream = one(template, "AWS::CloudWatch::MetricStream")
    props = metric_stream["Properties"]
    assert props["FirehoseArn"] == {"Fn::GetAtt": [stream_id, "Arn"]} and props["OutputFormat"] == "json"
    assert props["IncludeFilters"] == [{"Namespace": "LLMObservability"}, {"Namespace": "AWS/Bedrock"}]
    (stats,) = props["StatisticsConfigurations"]
    assert stats["AdditionalStatistics"] == ["p50", "p90", "p99"]
    assert {(m["Namespace"], m["MetricName"]) for m in stats["IncludeMetrics"]} == {
        ("LLMObservability", "EndToEndLatency"),
        ("LLMObservability", "StageLatency"),
        ("AWS/Bedrock", "InvocationLatency"),
    }
    role = template["Resources"][props["RoleArn"]["Fn::GetAtt"][0]]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "streams.metrics.cloudwatch.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


def test_firehose_runs_the_forwarder_and_keeps_failures_encrypted(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    _, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    assert props["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "CUSTOMER_MANAGED_CMK"
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert s3["ErrorOutputPrefix"].startswith("failed/!{firehose:error-output-type}/")
    assert "AWSKMSKeyARN" in s3["EncryptionConfiguration"]["KMSEncryptionConfig"]
    (processor,) = s3["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    forwarder_id = params["LambdaArn"]["Fn::GetAtt"][0]
    assert processor["Type"] == "Lambda" and params["NumberOfRetries"] == "3"
    forwarder = template["Resources"][forwarder_id]["Properties"]
    assert forwarder["Handler"] == "handler.lambda_handler" and forwarder["Runtime"] == "python3.14"
    env = forwarder["Environment"]["Variables"]
    workspace_id, _ = one(template, "AWS::APS::Workspace")
    assert env["REMOTE_WRITE_URL"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [workspace_id, "PrometheusEndpoint"]}, "api/v1/remote_write"]]
    }
    assert json.loads(env["NAMESPACE_PREFIXES"]) == {"LLMObservability": "llmobs"}
    bucket = template["Resources"][s3["BucketARN"]["Fn::GetAtt"][0]]
    assert bucket["DeletionPolicy"] == "Retain"
    encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True
    }  # fmt: skip
    assert bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    tls = [
        s for p in of_type(template, "AWS::S3::BucketPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]  # fmt: skip
    assert tls and all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in tls)


def test_the_forwarder_may_only_remote_write_to_its_workspace(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    workspace_id, _ = one(template, "AWS::APS::Workspace")
    statements = [
        s
        for p in of_type(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    aps = [
        s
        for s in statements
        if any(str(a).startswith("aps:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert aps == [
        {
            "Action": "aps:RemoteWrite",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [workspace_id, "Arn"]},
            "Sid": "RemoteWrite",
        }
    ]
    assert not [s for s in statements if s.get("Resource") == "*"]


def test_forwarder_failures_alarm_on_the_topic(app: dict[str, Any]) -> None:
    template = app["templates"]["Observed"]
    topic_id, _ = one(template, "AWS::SNS::Topic")
    _, alarm = one(template, "AWS::CloudWatch::Alarm")
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert "RecordsFailed" in json.dumps(alarm["Properties"]["Metrics"])


# --- names: the rules read only series the forwarder produces -----------------------------------------------------


def _forwarder() -> Any:
    folder = FUNCTIONS / "prometheus_forwarder"
    # the shared modules sit beside the handler in the asset
    return load_file("prometheus_forwarder_handler_names", folder / "handler.py", search=[folder, FUNCTIONS / "_shared"],
                     keep_search=True)


def test_every_series_the_rules_read_is_produced_by_the_forwarder() -> None:
    forwarder = _forwarder()
    stats = {"sum": 1.0, "count": 1.0, "min": 1.0, "max": 1.0, "p50": 1.0, "p90": 1.0, "p99": 1.0}
    app_metrics = {
        name: {"service": "rag-api", **extra}
        for name, extra in [
            (telemetry.METRIC_REQUEST_SUCCESS, {}),
            (telemetry.METRIC_REQUEST_FAILURE, {}),
            (telemetry.METRIC_END_TO_END_LATENCY, {}),
            (telemetry.METRIC_STAGE_LATENCY, {telemetry.DIM_STAGE: telemetry.STAGE_RETRIEVAL}),
            (telemetry.METRIC_INPUT_TOKENS, {telemetry.DIM_MODEL_ID: "m"}),
            (telemetry.METRIC_OUTPUT_TOKENS, {telemetry.DIM_MODEL_ID: "m"}),
        ]
    }
    produced: dict[str, set[str]] = {}
    lines = [("LLMObservability", name, dims) for name, dims in app_metrics.items()]
    lines.append(("AWS/Bedrock", "InvocationLatency", {"ModelId": "m"}))
    for namespace, name, dims in lines:
        item = {"namespace": namespace, "metric_name": name, "dimensions": dims, "timestamp": 0, "value": stats}
        for labels, _, _ in forwarder.parse_line(item, {"LLMObservability": "llmobs"}):
            label_map = dict(labels)
            produced[label_map.pop("__name__")] = set(label_map)
    settings = prometheus_rules.RuleSettings(daily_cost_threshold_usd=1)
    assert prometheus_rules.source_series(settings) <= set(produced)
    # and the labels the rules group by or match on exist on those series
    assert "service" in produced["llmobs_request_failure_sum"]
    assert {"service", "stage"} <= produced["llmobs_stage_latency_p99"]
    assert {"service", "model_id"} <= produced["llmobs_input_tokens_sum"] & produced["llmobs_output_tokens_sum"]
    assert "model_id" in produced["aws_bedrock_invocation_latency_p99"]


# --- promtool / amtool ------------------------------------------------------------------------------------------------


def tool(name: str) -> str:
    """Path of ``name``; skip when missing locally, fail when missing in CI."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{name} is not installed; CI must run scripts/install_prometheus_tools.sh first.")
    pytest.skip(f"{name} is not installed (run scripts/install_prometheus_tools.sh to validate the rules with it).")


def run(*args: str, cwd: Path | None = None) -> str:
    completed = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


@pytest.mark.parametrize(
    "settings",
    [
        prometheus_rules.RuleSettings(),
        prometheus_rules.RuleSettings(
            objective_percent=99.9,
            daily_cost_threshold_usd=12.5,
            percentiles=("p95", "p99", "p99.9"),
            bedrock_metrics=False,
        ),
    ],
    ids=["defaults", "custom"],
)
def test_promtool_accepts_the_rules(tmp_path: Path, settings: prometheus_rules.RuleSettings) -> None:
    promtool = tool("promtool")
    rules = tmp_path / "rules.yml"
    rules.write_text(prometheus_rules.rules_yaml(settings))
    assert "SUCCESS" in run(promtool, "check", "rules", str(rules))


def test_amtool_accepts_the_alertmanager_configuration(tmp_path: Path) -> None:
    amtool = tool("amtool")
    config = tmp_path / "alertmanager.yml"
    config.write_text(prometheus_rules.alertmanager_config_yaml(TOPIC_ARN, "us-east-1"))
    output = run(amtool, "check-config", str(config))
    assert "SUCCESS" in output and "1 receivers" in output


def test_the_workspace_definition_wraps_the_checked_configuration() -> None:
    definition = yaml.safe_load(prometheus_rules.alertmanager_definition(TOPIC_ARN, "us-east-1"))
    assert set(definition) == {"alertmanager_config"}
    assert definition["alertmanager_config"] == prometheus_rules.alertmanager_config_yaml(TOPIC_ARN, "us-east-1")


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    rendered = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


HAIKU = "us.anthropic.claude-3-haiku-20240307-v1:0"
SUCCESS = "llmobs_request_success_sum"
FAILURE = "llmobs_request_failure_sum"
BASE = {"namespace": "LLMObservability", "region": "us-east-1", "account_id": "123456789012"}

#: promtool unit tests: input series as the forwarder writes them (one sample per minute), expected
#: recording-rule values and alerts.
UNIT_TESTS: dict[str, Any] = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            # "failing": 5 failures per minute against 10 successes: a 33% error ratio, far above 14.4 x 1%.
            # Per-prompt-version copies of the success metric must not change the ratio (the function
            # counts no Validation error as a failure); "healthy" fails 0.5% of requests.
            "interval": "1m",
            "input_series": [
                _series(SUCCESS, {**BASE, "service": "failing"}, "10x130"),
                _series(SUCCESS, {**BASE, "service": "failing", "prompt_version": "v1"}, "10x130"),
                _series(FAILURE, {**BASE, "service": "failing"}, "5x130"),
                _series(SUCCESS, {**BASE, "service": "healthy"}, "199x130"),
                _series(FAILURE, {**BASE, "service": "healthy"}, "1x130"),
                _series(SUCCESS, {**BASE, "service": "clean"}, "50x130"),
                _series(
                    "llmobs_end_to_end_latency_p99", {**BASE, "service": "failing"}, "800 900 20000 700 600 500x30"
                ),
                _series("llmobs_end_to_end_latency_sum", {**BASE, "service": "failing"}, "3000x30"),
                _series("llmobs_end_to_end_latency_count", {**BASE, "service": "failing"}, "4x30"),
                # Claude 3 Haiku (0.00025 / 0.00125 USD per 1k tokens) through an inference profile, priced as
                # its foundation model: 25,000 input + 35,000 output tokens a minute cost 0.05 USD, 72 USD a day.
                # The per-prompt-version copies and an unpriced model add tokens but no cost.
                _series("llmobs_input_tokens_sum", {**BASE, "service": "failing", "model_id": HAIKU}, "25000x90"),
                _series("llmobs_output_tokens_sum", {**BASE, "service": "failing", "model_id": HAIKU}, "35000x90"),
                _series("llmobs_input_tokens_sum", {**BASE, "service": "failing", "prompt_version": "v1"}, "25000x90"),
                _series("llmobs_output_tokens_sum", {**BASE, "service": "failing", "prompt_version": "v1"}, "35000x90"),
                _series("llmobs_input_tokens_sum", {**BASE, "service": "failing", "model_id": "x.unpriced"}, "600x90"),
                _series("llmobs_output_tokens_sum", {**BASE, "service": "failing", "model_id": "x.unpriced"}, "0x90"),
            ],
            "promql_expr_test": [
                {
                    "expr": "service:llmobs_request_error_ratio:5m",
                    "eval_time": "10m",
                    "exp_samples": [
                        {"labels": 'service:llmobs_request_error_ratio:5m{service="failing"}', "value": 1 / 3},
                        {"labels": 'service:llmobs_request_error_ratio:5m{service="healthy"}', "value": 0.005},
                        {"labels": 'service:llmobs_request_error_ratio:5m{service="clean"}', "value": 0},
                    ],
                },
                {
                    "expr": "service:llmobs_end_to_end_latency_p99:max5m",
                    "eval_time": "4m",
                    "exp_samples": [
                        {"labels": 'service:llmobs_end_to_end_latency_p99:max5m{service="failing"}', "value": 20000}
                    ],
                },
                {
                    "expr": "service:llmobs_end_to_end_latency_mean:5m",
                    "eval_time": "10m",
                    "exp_samples": [
                        {"labels": 'service:llmobs_end_to_end_latency_mean:5m{service="failing"}', "value": 750}
                    ],
                },
                {
                    "expr": "service_model_id:llmobs_total_tokens:rate5m",
                    "eval_time": "10m",
                    "exp_samples": [
                        {
                            "labels": f'service_model_id:llmobs_total_tokens:rate5m{{service="failing", model_id="{HAIKU}"}}',
                            "value": 1000,
                        },
                        {
                            "labels": 'service_model_id:llmobs_total_tokens:rate5m{service="failing", model_id="x.unpriced"}',
                            "value": 10,
                        },
                    ],
                },
                {
                    "expr": "service_model_id:llmobs_estimated_cost_usd:rate5m * 60",
                    "eval_time": "10m",
                    "exp_samples": [{"labels": f'{{service="failing", model_id="{HAIKU}"}}', "value": 0.05}],
                },
                {
                    "expr": "service:llmobs_estimated_cost_usd:rate1h * 86400",
                    "eval_time": "75m",
                    "exp_samples": [{"labels": '{service="failing"}', "value": 72}],
                },
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "LlmAvailabilityFastBurn", "exp_alerts": []},  # pending: for 2m
                {
                    "eval_time": "70m",
                    "alertname": "LlmAvailabilityFastBurn",
                    "exp_alerts": [
                        {
                            "exp_labels": {"service": "failing", "severity": "critical", "slo": "availability"},
                            "exp_annotations": {
                                "summary": "failing is burning its 99% availability error budget 14.4x too fast",
                                "description": "33.33% of /ask requests failed over the last 1h (and over the last "
                                "5m); the objective allows 1%.",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "125m",
                    "alertname": "LlmAvailabilitySlowBurn",
                    "exp_alerts": [
                        {
                            "exp_labels": {"service": "failing", "severity": "warning", "slo": "availability"},
                            "exp_annotations": {
                                "summary": "failing is burning its 99% availability error budget 6x too fast",
                                "description": "33.33% of /ask requests failed over the last 6h (and over the last "
                                "30m); the objective allows 1%.",
                            },
                        }
                    ],
                },
                {"eval_time": "15m", "alertname": "LlmLatencyP99High", "exp_alerts": []},  # one bad minute only
                {
                    "eval_time": "80m",
                    "alertname": "LlmCostBurnHigh",
                    "exp_alerts": [
                        {
                            "exp_labels": {"service": "failing", "severity": "warning", "slo": "cost"},
                            "exp_annotations": {
                                "summary": "failing is spending on models faster than its daily threshold",
                                "description": "At the last hour's rate, model spend is 72 USD per day (threshold 50 USD).",
                            },
                        }
                    ],
                },
            ],
        },
        {
            # Latency: p99 above 10 s for 15 minutes fires after the 10-minute "for".
            "interval": "1m",
            "input_series": [_series("llmobs_end_to_end_latency_p99", {**BASE, "service": "slow"}, "12000x30")],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": "LlmLatencyP99High", "exp_alerts": []},
                {
                    "eval_time": "12m",
                    "alertname": "LlmLatencyP99High",
                    "exp_alerts": [
                        {
                            "exp_labels": {"service": "slow", "severity": "warning", "slo": "latency"},
                            "exp_annotations": {
                                "summary": "slow p99 end-to-end latency is high",
                                "description": "The worst per-minute p99 latency of the last 5 minutes is 12k ms "
                                "(threshold 10000 ms).",
                            },
                        }
                    ],
                },
            ],
        },
    ],
}


def test_promtool_unit_tests_prove_the_recording_rules_and_alerts(tmp_path: Path) -> None:
    promtool = tool("promtool")
    (tmp_path / "rules.yml").write_text(
        prometheus_rules.rules_yaml(prometheus_rules.RuleSettings(daily_cost_threshold_usd=50))
    )
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(UNIT_TESTS, sort_keys=False))
    assert "SUCCESS" in run(promtool, "test", "rules", "tests.yml", cwd=tmp_path)


def test_the_yaml_writer_round_trips() -> None:
    document = {
        "a": [1, 2.5, True, None, "yes", "5m", "x: y", "multi\nline\n", "", "{{ $labels.x }}"],
        "b": {"nested": [{"k": "v", "l": ["p", "q"]}, {"only": {}}], "empty": []},
        "c": "line one\n\nline three",
    }
    assert yaml.safe_load(prometheus_rules.to_yaml(document)) == document


# --- bad input ------------------------------------------------------------------------------------------------------


def test_bad_input_fails_with_one_sentence() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sns as sns

    from llm_observability.constructs.prometheus import PrometheusExport
    from llm_observability.workload import Workload

    stack = Stack(App(), "S")
    bare = Workload(name="x", model_ids=("amazon.nova-lite-v1:0",))
    topic = sns.Topic(stack, "Topic")
    with pytest.raises(ConfigError, match=r"^PrometheusExport 'topic' is missing: allowed is an SNS topic"):
        PrometheusExport(stack, "A", workload=bare)
    cases = [
        ({"objective_percent": 100}, r"^PrometheusExport 'objective_percent' is 100: allowed is a number from 90 to 99.99.$"),
        (
            {"latency_p99_threshold_ms": 0},
            r"^PrometheusExport 'latency_p99_threshold_ms' is 0: allowed is a number above 0.$",
        ),
        ({"daily_cost_threshold_usd": -1}, r"^PrometheusExport 'daily_cost_threshold_usd' is -1: allowed is empty or"),
        (
            {"percentiles": ["p50", "p90"]},
            r"^PrometheusExport 'percentiles' is \['p50', 'p90'\]: allowed is .* includes p99.$",
        ),
        ({"percentiles": ["p99", "max"]}, r"^PrometheusExport 'percentiles'"),
        (
            {"metrics_retention_days": 0},
            r"^PrometheusExport 'metrics_retention_days' is 0: allowed is a whole number from 1 to 1,095.$",
        ),
        ({"rule_query_offset_seconds": 7200}, r"^PrometheusExport 'rule_query_offset_seconds' is 7200: allowed is"),
        ({"failed_record_retention_days": True}, r"^PrometheusExport 'failed_record_retention_days' is True"),
        ({"log_retention_days": 31}, r"^PrometheusExport 'log_retention_days' is 31: allowed are 1, 3, 5"),
    ]
    for index, (kwargs, message) in enumerate(cases):
        with pytest.raises(ConfigError, match=message):
            PrometheusExport(stack, f"B{index}", workload=bare, topic=topic, **kwargs)
    assert re.fullmatch(r"[^\n]+", str(ConfigError("x")))
