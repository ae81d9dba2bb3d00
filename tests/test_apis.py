"""The APIs users have: a REST API made with ``deploy=False`` and an explicit stage, an API Gateway v2 HTTP API, and
Bedrock model ids given as tokens (a ``CfnParameter``'s value), observed at Levels 1 and 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.assess.intrinsics import render
from llm_observability.errors import ConfigError
from llm_observability.hygiene import NoRedundantDependsOn
from tests.conftest import CDK_CONTEXT, alarm_metric

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PRICE = {"input_per_1k": 0.00025, "output_per_1k": 0.00125}
FLAGS = {k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")}  # cdk.json's feature flags
OURS = ("RestLevel1", "RestLevel2", "HttpLevel1", "HttpLevel2")
API_WIDGETS = ("API Gateway requests and errors", "API Gateway latency, p90 (ms)")


def _function(scope: Any, id: str) -> Any:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    log_group = logs.LogGroup(scope, f"{id}Logs", retention=logs.RetentionDays.ONE_MONTH)
    return lambda_.Function(
        scope, id, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", log_group=log_group,
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"),
    ), log_group  # fmt: skip


def _level2_config() -> Any:
    from llm_observability import ObservabilityConfig

    return ObservabilityConfig(
        level=2, security_hub="adopt", config_recorder="adopt", cloudtrail=False, security_standards=(),
        cost_anomaly_monitor_arn="arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    )  # fmt: skip


@pytest.fixture(scope="module")
def apis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Their REST API (deploy=False, stage ``live`` made by hand) and their HTTP API, each observed at Levels 1, 2."""
    from aws_cdk import App, Aspects, Stack, Validations
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability import AlertTopic, LlmAlarms, LlmDashboard, ProactiveStack, Workload

    outdir = tmp_path_factory.mktemp("apis")
    app = App(outdir=str(outdir), context=FLAGS)
    rest_app = Stack(app, "TheirRestApp")
    rest_fn, rest_logs = _function(rest_app, "Fn")
    rest_api = apigw.RestApi(rest_app, "Api", deploy=False, cloud_watch_role=False)
    rest_api.root.add_method("POST", apigw.LambdaIntegration(rest_fn))
    apigw.Stage(rest_app, "Live", deployment=apigw.Deployment(rest_app, "Deployment", api=rest_api), stage_name="live")
    http_app = Stack(app, "TheirHttpApp")
    http_fn, http_logs = _function(http_app, "Fn")
    http_api = apigwv2.HttpApi(http_app, "Api", default_integration=integrations.HttpLambdaIntegration("Fn", http_fn))

    workloads = {
        "Rest": Workload.from_function(
            rest_fn, name="rest-bot", model_ids=(MODEL,), log_group=rest_logs, rest_api=rest_api, api_stage_name="live"
        ),
        "Http": Workload.from_http_api(http_api, name="http-bot", model_ids=(MODEL,), functions=(http_fn,),
                                       log_groups=(http_logs,)),
    }  # fmt: skip
    stacks: dict[str, Stack] = {}
    for kind, workload in workloads.items():
        level1 = stacks[f"{kind}Level1"] = Stack(app, f"{kind}Level1")
        alerts = AlertTopic(level1, "Alerts")
        workload = workload.with_alert_topic(alerts.topic, key=alerts.key)
        alarms = LlmAlarms(level1, "Alarms", workload=workload)
        workload = workload.with_alarms(alarms.roled_alarms)
        LlmDashboard(level1, "Dashboard", workload=workload, alarms=workload.alarms)
        stacks[f"{kind}Level2"] = ProactiveStack(app, f"{kind}Level2", workload=workload, config=_level2_config())
    Aspects.of(app).add(NoRedundantDependsOn())  # what the bundled app does, so cfn-lint reports nothing
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:  # their own resources are not nag-clean; ours must be
        assert "ValidationFailed" in str(error)
    files = {name: outdir / f"{stack.artifact_id}.template.json" for name, stack in stacks.items()}
    files |= {s.stack_name: outdir / f"{s.artifact_id}.template.json" for s in (rest_app, http_app)}
    return {
        "files": files,
        "templates": {name: json.loads(path.read_text()) for name, path in files.items()},
        "report": json.loads((outdir / "validation-report.json").read_text()),
        "workloads": workloads,
    }


def _template(apis: dict[str, Any], name: str) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(apis["templates"][name])


def _api_alarms(apis: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    alarms = _template(apis, name).find_resources("AWS::CloudWatch::Alarm")
    return {
        key: alarm["Properties"] for logical_id, alarm in alarms.items()
        for key in ("Api5xx", "ApiLatency") if logical_id.startswith(f"Alarms{key}")
    }  # fmt: skip


def _api_widget_rows(apis: dict[str, Any], name: str) -> dict[str, list[list[Any]]]:
    (dashboard,) = _template(apis, name).find_resources("AWS::CloudWatch::Dashboard").values()
    widgets = json.loads(render(dashboard["Properties"]["DashboardBody"]))["widgets"]
    titled = {w["properties"].get("title"): w["properties"] for w in widgets}
    return {title: titled[title]["metrics"] for title in API_WIDGETS if title in titled}


# --- REST API made with deploy=False ----------------------------------------------------------------------------------
def test_rest_api_without_deployment_needs_the_stage_name() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigateway as apigw

    from llm_observability import Workload

    stack = Stack(App(), "S")
    fn, _ = _function(stack, "Fn")
    api = apigw.RestApi(stack, "Api", deploy=False)
    api.root.add_method("GET", apigw.LambdaIntegration(fn))
    message = (
        r"^Workload 'api_stage_name' is missing: allowed is the name of the stage of 'rest_api' that serves traffic, "
        r"required because the REST API has no deployment stage \(deploy=False\)\.$"
    )
    with pytest.raises(ConfigError, match=message):
        Workload.from_function(fn, name="x", model_ids=(MODEL,), rest_api=api)
    with pytest.raises(ConfigError, match=message):
        Workload.from_rest_api(api, name="x", model_ids=(MODEL,))
    assert Workload.from_rest_api(api, name="x", model_ids=(MODEL,), api_stage_name="v1").api_stage_name == "v1"


def test_rest_api_alarms_and_widgets_name_the_explicit_stage(apis: dict[str, Any]) -> None:
    dimensions = [{"Name": "ApiName", "Value": "Api"}, {"Name": "Stage", "Value": "live"}]
    alarms = {key: alarm_metric(props) for key, props in _api_alarms(apis, "RestLevel1").items()}
    assert alarms == {
        "Api5xx": {"Namespace": "AWS/ApiGateway", "MetricName": "5XXError", "Dimensions": dimensions, "Stat": "Sum",
                   "Period": 300},
        "ApiLatency": {"Namespace": "AWS/ApiGateway", "MetricName": "Latency", "Dimensions": dimensions, "Stat": "p90",
                       "Period": 300},
    }  # fmt: skip
    rows = _api_widget_rows(apis, "RestLevel1")
    assert [row[:6] for row in rows[API_WIDGETS[0]]] == [
        ["AWS/ApiGateway", name, "ApiName", "Api", "Stage", "live"] for name in ("Count", "4XXError", "5XXError")
    ]
    assert [row[1] for row in rows[API_WIDGETS[1]]] == ["Latency", "IntegrationLatency"]


# --- API Gateway v2 HTTP API ------------------------------------------------------------------------------------------
def test_http_api_alarms_read_the_http_metrics_of_its_stage(apis: dict[str, Any]) -> None:
    from aws_cdk.assertions import Match

    dimensions = Match.exact([{"Name": "ApiId", "Value": Match.any_value()}, {"Name": "Stage", "Value": "$default"}])
    alarms = {key: alarm_metric(props) for key, props in _api_alarms(apis, "HttpLevel1").items()}
    assert set(alarms) == {"Api5xx", "ApiLatency"}
    for key, name, stat in (("Api5xx", "5xx", "Sum"), ("ApiLatency", "Latency", "p90")):
        expected = {"Namespace": "AWS/ApiGateway", "MetricName": name, "Dimensions": dimensions, "Stat": stat}
        assert Match.object_like(expected).test(alarms[key]).is_success, alarms[key]
        assert "RefApiF70053CD" in json.dumps(alarms[key]["Dimensions"][0])  # the id of their API, from their stack
    assert "5XXError" not in json.dumps(apis["templates"]["HttpLevel1"])  # the REST API's names are not read


def test_http_api_widgets_read_count_4xx_5xx_and_latencies_by_api_id_and_stage(apis: dict[str, Any]) -> None:
    rows = _api_widget_rows(apis, "HttpLevel1")
    requests, latency = rows[API_WIDGETS[0]], rows[API_WIDGETS[1]]
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in requests + latency] == [
        ("AWS/ApiGateway", name, "ApiId", "Stage", "$default")
        for name in ("Count", "4xx", "5xx", "Latency", "IntegrationLatency")
    ]
    assert all(r[3].startswith("${") for r in requests + latency)  # the API's id, a reference to the app's stack
    assert [r[-1]["stat"] for r in requests + latency] == ["Sum", "Sum", "Sum", "p90", "p90"]


def test_http_api_workload_stage_defaults_and_checks() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_apigatewayv2 as apigwv2

    from llm_observability import Workload

    stack = Stack(App(), "S")
    imported = apigwv2.HttpApi.from_http_api_attributes(stack, "Imported", http_api_id="a1b2c3")
    assert Workload.from_http_api(imported, name="x", model_ids=(MODEL,)).api_stage_name == "$default"
    named = Workload.from_http_api(imported, name="x", model_ids=(MODEL,), api_stage_name="prod")
    assert named.api_stage_name == "prod"
    staged = apigwv2.HttpApi(stack, "NoDefaultStage", create_default_stage=False)
    missing = r"^Workload 'api_stage_name' is missing: .* 'http_api' .*\(create_default_stage=False\)\.$"
    with pytest.raises(ConfigError, match=missing):
        Workload.from_http_api(staged, name="x", model_ids=(MODEL,))
    rest = apigw.RestApi(stack, "Rest")
    rest.root.add_method("GET")
    with pytest.raises(ConfigError, match=r"^Workload 'http_api' is set beside 'rest_api': allowed is one API per"):
        Workload(name="x", model_ids=(MODEL,), rest_api=rest, http_api=imported)
    fn, _ = _function(stack, "Fn")
    with pytest.raises(ConfigError, match=r"^Workload 'http_api' is set beside 'rest_api'"):
        Workload.from_function(fn, name="x", model_ids=(MODEL,), rest_api=rest, http_api=imported)


# --- both: Level 2 on top, cdk-nag and cfn-lint -----------------------------------------------------------------------
def test_level2_builds_on_both_apis(apis: dict[str, Any]) -> None:
    for kind in ("Rest", "Http"):
        template = _template(apis, f"{kind}Level2")
        template.resource_count_is("AWS::Budgets::Budget", 1)
        assert template.find_resources("AWS::CloudWatch::Alarm")  # anomaly bands, log intelligence, ...
        assert apis["workloads"][kind].api_stage_name == {"Rest": "live", "Http": "$default"}[kind]


def test_our_stacks_have_no_nag_finding(apis: dict[str, Any]) -> None:
    paths = [
        c["constructPath"]
        for r in apis["report"]["pluginReports"]
        for v in r["violations"]
        for c in v["violatingConstructs"]
    ]
    assert [p for p in paths if p.startswith(tuple(f"{name}/" for name in OURS))] == []


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
@pytest.mark.parametrize("stack", OURS)
def test_cfn_lint_is_clean(apis: dict[str, Any], stack: str) -> None:
    path: Path = apis["files"][stack]
    assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == []


# --- model ids as tokens ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def token_app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference app built from a config whose model id is a CfnParameter, priced by that token, with Level 1's
    alarms and dashboard; and a bare workload on the same token without a price."""
    from aws_cdk import App, Aspects, CfnParameter, Stack, Validations
    from aws_cdk.assertions import Annotations, Match
    from cdk_nag import AwsSolutionsChecks

    from llm_observability import (
        AlertTopic,
        BedrockMetrics,
        LlmAlarms,
        LlmDashboard,
        ObservabilityConfig,
        RagReferenceApp,
        Workload,
    )

    outdir = tmp_path_factory.mktemp("token")
    app = App(outdir=str(outdir), context=FLAGS)
    stack = Stack(app, "TokenBot")
    model_id = CfnParameter(stack, "ModelId", default="amazon.nova-lite-v1:0").value_as_string
    config = ObservabilityConfig(workload_name="token-bot", model_id=model_id, model_prices={model_id: PRICE},
                                 create_api_gateway_cloudwatch_role=False)  # fmt: skip
    rag = RagReferenceApp(stack, "RagApp", config=config)
    alerts = AlertTopic(stack, "Alerts")
    workload = rag.workload.with_facts(telemetry="runtime").with_alert_topic(alerts.topic, key=alerts.key)
    metrics = BedrockMetrics(workload, prices=config.model_prices)
    alarms = LlmAlarms(stack, "Alarms", workload=workload, metrics=metrics)
    LlmDashboard(stack, "Dashboard", workload=workload.with_alarms(alarms.roled_alarms), metrics=metrics)
    unpriced = Stack(app, "Unpriced")
    bare = Workload(name="bare", model_ids=(CfnParameter(unpriced, "ModelId").value_as_string,), telemetry="runtime")
    LlmDashboard(unpriced, "Dashboard", workload=bare)
    Aspects.of(app).add(NoRedundantDependsOn())  # what the bundled app does, so cfn-lint reports nothing
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return {
        "template": json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()),
        "unpriced": json.loads((outdir / f"{unpriced.artifact_id}.template.json").read_text()),
        "warnings": [m.entry.data for m in Annotations.from_stack(unpriced).find_warning("*", Match.any_value())],
        "file": outdir / f"{stack.artifact_id}.template.json",
    }


def test_token_model_id_reaches_iam_environment_parameter_and_alarms(token_app: dict[str, Any]) -> None:
    from aws_cdk.assertions import Match, Template

    ref = {"Ref": "ModelId"}
    template = Template.from_json(token_app["template"])
    arn = {"Fn::Join": ["", Match.array_with([":bedrock:", "::foundation-model/", ref])]}
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "InvokeModel", "Action": "bedrock:InvokeModel", "Resource": arn})
    ])}})  # fmt: skip
    variables = next(
        f["Properties"]["Environment"]["Variables"] for f in template.find_resources("AWS::Lambda::Function").values()
        if "PRICE_TABLE" in json.dumps(f)
    )  # fmt: skip
    assert variables["MODEL_ID"] == ref
    assert render(variables["PRICE_TABLE"]) == '{"${ModelId}":{"input_per_1k":0.00025,"output_per_1k":0.00125}}'
    read = [alarm_metric(a["Properties"]) for a in template.find_resources("AWS::CloudWatch::Alarm").values()]
    for name in ("InvocationLatency", "InvocationServerErrors", "InvocationThrottles"):
        expected = {"Namespace": "AWS/Bedrock", "MetricName": name, "Dimensions": [{"Name": "ModelId", "Value": ref}]}
        assert expected.items() <= next(r for r in read if r["MetricName"] == name).items()


def test_token_model_id_priced_by_its_token_gets_a_cost_line(token_app: dict[str, Any]) -> None:
    (dashboard,) = [r for r in token_app["template"]["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = render(dashboard["Properties"]["DashboardBody"])
    assert "Estimated cost (USD per period)" in body and '"label":"USD ${ModelId}"' in body
    assert "FILL(in0, 0) * 0.00025 + FILL(out0, 0) * 0.00125" in body


def test_token_model_id_without_a_price_warns_and_draws_no_cost(token_app: dict[str, Any]) -> None:
    (dashboard,) = [r for r in token_app["unpriced"]["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert "Estimated cost" not in render(dashboard["Properties"]["DashboardBody"])
    (warning,) = [w for w in token_app["warnings"] if "estimated cost" in w]
    assert "'model_prices' setting" in warning and "by that same token" in warning


def test_token_model_id_whose_price_the_function_needs_is_a_config_error() -> None:
    from aws_cdk import App, CfnParameter, Stack

    from llm_observability import ObservabilityConfig, RagReferenceApp

    stack = Stack(App(), "S")
    config = ObservabilityConfig(model_id=CfnParameter(stack, "ModelId").value_as_string)
    with pytest.raises(ConfigError, match=r"^Setting 'model_prices' has no price for 'model_id', a token .*as_string"):
        RagReferenceApp(stack, "RagApp", config=config)


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
def test_token_template_is_cfn_lint_clean(token_app: dict[str, Any]) -> None:
    assert [str(m) for m in lint_file(token_app["file"], ManualArgs(regions=["us-east-1"]))] == []


def test_throttle_runbook_asked_for_an_http_api_is_a_config_error() -> None:
    """The throttle runbook changes a REST API stage; asked for on an HTTP API, Level 3 says so in one sentence."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_sns as sns

    from llm_observability import AiOpsStack, ObservabilityConfig, Workload

    app = App(context=FLAGS)
    theirs = Stack(app, "Theirs")
    api = apigwv2.HttpApi(theirs, "Api")
    workload = Workload.from_http_api(api, name="http-bot", model_ids=(MODEL,)).with_alert_topic(sns.Topic(theirs, "T"))
    alarm = cw.Alarm(theirs, "Cost", metric=cw.Metric(namespace="N", metric_name="M"), threshold=1, evaluation_periods=1)
    config = ObservabilityConfig(level=3, prometheus_export=False, log_analytics="off", codeguru_profiler=False)
    with pytest.raises(ConfigError, match=r"^AiOpsStack 'throttle_alarms' asks for the API throttle runbook.*'http_api'"):
        AiOpsStack(app, "Level3", workload=workload, config=config, throttle_alarms=[alarm])
