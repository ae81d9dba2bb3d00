"""Levels 1-3 on someone else's app: each level builds only what the Workload can feed and says what it left out.

Two apps of the same user-shaped application (a REST API + a Python function calling InvokeModel, no EMF, no log
schema, no request contract) are synthesized once each for the module:

- ``bare``: the Workload as ``Workload.from_function`` sees it (telemetry ``none``), observed at Levels 1-3, and
  the same user stack alone, to prove that no level changes the user's resources;
- ``fed``: the function instrumented by ``LlmInstrumentation`` (opt-ins: CodeGuru Profiler, the model parameter,
  the fallback model) and a Workload with the runtime's telemetry and log schema, a model parameter and throttle
  limits: the app-metric alarms, widgets, filters and the runbooks appear.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_observability.errors import ConfigError
from llm_observability.left_out import WARNING_ID

THEIR_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK = "amazon.nova-micro-v1:0"
ANOMALY_MONITOR = "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
USER_CODE = (
    "import json, boto3\n"
    "client = boto3.client('bedrock-runtime')\n"
    "def handler(event, context):\n"
    f"    out = client.invoke_model(modelId='{THEIR_MODEL}', body=json.dumps({{'prompt': event['body']}}))\n"
    "    return {'statusCode': 200, 'body': out['body'].read().decode()}\n"
)


def _user_app(app: Any) -> Any:
    """The user's stack: a function calling InvokeModel behind a LambdaRestApi, with its own log group."""
    from aws_cdk import Stack
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    stack = Stack(app, "TheirApp")
    stack.log_group = logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.ONE_MONTH)
    stack.function = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", log_group=stack.log_group,
        code=lambda_.Code.from_inline(USER_CODE),
    )  # fmt: skip
    stack.function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["bedrock:InvokeModel"], resources=[f"arn:aws:bedrock:us-east-1::foundation-model/{THEIR_MODEL}"]
        )
    )
    stack.api = apigw.LambdaRestApi(stack, "Api", handler=stack.function, cloud_watch_role=False)
    return stack


def _config() -> Any:
    from llm_observability import ObservabilityConfig

    return ObservabilityConfig(
        level=3, workload_name="their-bot", model_id=THEIR_MODEL, fallback_model_id=FALLBACK, security_hub="adopt",
        config_recorder="adopt", cloudtrail=False, security_standards=(), cost_anomaly_monitor_arn=ANOMALY_MONITOR,
        devops_guru_coverage="adopt", prometheus_export=False, log_analytics="domain",
    )  # fmt: skip


def _levels(app: Any, theirs: Any, workload: Any) -> dict[str, Any]:
    """Levels 1-3 over ``workload`` as separate stacks (Level 1 composed from constructs, as a user would)."""
    from aws_cdk import Stack

    from llm_observability import AiOpsStack, AlertTopic, LlmAlarms, LlmDashboard, ProactiveStack

    level1 = Stack(app, "TheirLevel1")
    alerts = AlertTopic(level1, "Alerts")
    workload = workload.with_alert_topic(alerts.topic, key=alerts.key)
    workload = workload.with_alarms(LlmAlarms(level1, "Alarms", workload=workload).roled_alarms)
    LlmDashboard(level1, "Dashboard", workload=workload, alarms=workload.alarms)
    level2 = ProactiveStack(app, "TheirLevel2", workload=workload, config=_config())
    level3 = AiOpsStack(
        app, "TheirLevel3", workload=level2.workload, config=_config(), observed_stacks=[theirs.stack_name]
    )
    return {"app": theirs, "level1": level1, "level2": level2, "level3": level3}


def _synth(app: Any, stacks: dict[str, Any]) -> dict[str, Any]:
    from aws_cdk.assertions import Annotations, Match, Template

    templates = {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}
    warnings = {
        name: [m.entry.data for m in Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(WARNING_ID))]
        for name, stack in stacks.items()
    }
    return {"templates": templates, "warnings": warnings, "stacks": stacks}


@pytest.fixture(scope="module")
def bare() -> dict[str, Any]:
    from aws_cdk import App

    from llm_observability import Workload

    alone = App()
    user_alone = _user_app(alone)
    app = App()
    theirs = _user_app(app)
    workload = Workload.from_function(
        theirs.function, name="their-bot", model_ids=(THEIR_MODEL,), log_group=theirs.log_group, rest_api=theirs.api,
        metric_namespace="TheirApp",
    )  # fmt: skip
    result = _synth(app, _levels(app, theirs, workload))
    result["alone"] = _synth(alone, {"app": user_alone})["templates"]["app"]
    return result


@pytest.fixture(scope="module")
def fed() -> dict[str, Any]:
    from aws_cdk import App
    from aws_cdk import aws_ssm as ssm

    from llm_observability import LlmInstrumentation, Workload
    from llm_observability.workload_facts import ThrottleLimits

    app = App()
    theirs = _user_app(app)
    parameter = ssm.StringParameter(theirs, "ActiveModel", string_value=THEIR_MODEL)
    instrumentation = LlmInstrumentation(
        theirs, "Llm", functions=[theirs.function], service_name="their-bot", namespace="TheirApp",
        codeguru_profiling=True,
    )  # fmt: skip
    instrumentation.use_model_parameter(parameter)
    instrumentation.grant_model(FALLBACK)
    workload = instrumentation.instrumented(
        Workload.from_function(
            theirs.function, name="their-bot", model_ids=(THEIR_MODEL,), log_group=theirs.log_group,
            rest_api=theirs.api, metric_namespace="TheirApp",
        ).with_facts(
            model_parameter_name=parameter.parameter_name, throttle_limits=ThrottleLimits(rate_limit=50, burst_limit=100)
        )
    )  # fmt: skip
    return _synth(app, _levels(app, theirs, workload))


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _alarm_names(template: dict[str, Any]) -> set[str]:
    return {k.rstrip("0123456789ABCDEF") for k in _of_type(template, "AWS::CloudWatch::Alarm")}


# --------------------------------------------------------------------------------------- the bare app
def test_no_level_changes_the_users_resources(bare: dict[str, Any]) -> None:
    assert bare["templates"]["app"]["Resources"] == bare["alone"]["Resources"]


def test_level1_reads_only_what_the_app_emits(bare: dict[str, Any]) -> None:
    template = bare["templates"]["level1"]
    alarms = _alarm_names(template)
    assert "AlarmsSuccessRate" not in alarms
    assert {"AlarmsBedrockLatency", "AlarmsBedrockServerErrors", "AlarmsLambdaErrors", "AlarmsApi5xx"} <= alarms
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "AWS/Bedrock" in body and "AWS/Lambda" in body and "AWS/ApiGateway" in body
    for app_metric in ("RequestSuccess", "StageLatency", "EndToEndLatency", "InputTokens", "FeedbackScore", "message = "):
        assert app_metric not in body, app_metric


def test_level2_builds_no_canary_no_schema_bound_filter_and_no_app_metric_band(bare: dict[str, Any]) -> None:
    template = bare["templates"]["level2"]
    assert not _of_type(template, "AWS::Logs::MetricFilter")
    assert not _of_type(template, "AWS::Logs::QueryDefinition")
    assert len(_of_type(template, "AWS::Logs::LogAnomalyDetector")) == 1  # needs no schema
    # No canary, judge, feedback join or drift (they need a contract or a log schema); incident outcomes need only the
    # alarms, so their function is the one built.
    assert [k.rstrip("0123456789ABCDEF") for k in _of_type(template, "AWS::Lambda::Function")] == ["OutcomesFunction"]
    assert not [r for r in _of_type(template, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]]
    alarms = _alarm_names(template)
    assert not {"AnomaliesCostAnomaly", "AnomaliesErrorRateAnomaly"} & alarms
    assert {"AnomaliesLatencyAnomaly", "AnomaliesInputTokensAnomaly", "AnomaliesVolumeAnomaly"} <= alarms


def test_level3_builds_no_runbook_no_profiler_for_an_unfed_workload(bare: dict[str, Any]) -> None:
    types = {r["Type"] for r in bare["templates"]["level3"]["Resources"].values()}
    assert "AWS::SSM::Document" not in types and "AWS::CodeGuruProfiler::ProfilingGroup" not in types
    assert "AWS::DevOpsGuru::NotificationChannel" in types


def test_one_warning_per_stack_lists_what_was_left_out(bare: dict[str, Any]) -> None:
    warnings = bare["warnings"]
    assert warnings["app"] == []
    for name, expected in {
        "level1": ("SuccessRate alarm", "'telemetry'", "Logs Insights dashboard widgets", "'log_schema'"),
        "level2": ("quality canary", "'request_contract'", "Saved Logs Insights queries", "CostAnomaly",
                   "prompt effectiveness", "The online judge", "The feedback loop", "Output drift and prompt diversity"),
        "level3": ("CodeGuru Profiler", "codeguru_profiling=True", "model failover runbook", "'model_parameter_name'",
                   "API throttle runbook", "'throttle_limits'", "prompt rollback runbook"),
    }.items():  # fmt: skip
        (warning,) = warnings[name]
        for text in expected:
            assert text in warning, (name, text, warning)


# --------------------------------------------------------------------------------------- the fed app
def test_the_runtime_workload_gets_the_app_alarms_widgets_and_filters(fed: dict[str, Any]) -> None:
    level1, level2 = fed["templates"]["level1"], fed["templates"]["level2"]
    assert "AlarmsSuccessRate" in _alarm_names(level1)
    body = json.dumps(_of_type(level1, "AWS::CloudWatch::Dashboard"))
    for text in ("StageLatency", "RequestSuccess", "InputTokens", "bedrock_call", "Requests by model"):
        assert text in body, text
    assert {"AnomaliesCostAnomaly", "AnomaliesErrorRateAnomaly"} <= _alarm_names(level2)
    filters = _of_type(level2, "AWS::Logs::MetricFilter").values()
    patterns = {f["Properties"]["FilterPattern"] for f in filters}
    assert len(patterns) == 2 and all('($.message = "bedrock_call")' in p for p in patterns)
    queries = {q["Properties"]["Name"] for q in _of_type(level2, "AWS::Logs::QueryDefinition").values()}
    assert queries == {"their-bot/errors-by-class", "their-bot/recent-errors", "their-bot/requests-by-model"}


def test_the_fed_workload_gets_the_evaluation_of_its_real_traffic(fed: dict[str, Any]) -> None:
    # LogSchema.library() names the runtime's bedrock_call and feedback lines; instrumented() says the text is
    # redacted, so the judge, the feedback join, output drift and incident outcomes are all built for their function.
    level2 = fed["templates"]["level2"]
    functions = _of_type(level2, "AWS::Lambda::Function")
    assert {k.rstrip("0123456789ABCDEF") for k in functions} == {
        "OnlineJudgeFunction", "FeedbackLoopFunction", "OutputDriftFunction", "OutcomesFunction"}  # fmt: skip
    environments = {k.rstrip("0123456789ABCDEF"): f["Properties"]["Environment"]["Variables"] for k, f in functions.items()}
    schema = json.loads(environments["OnlineJudgeFunction"]["LOG_SCHEMA"])
    assert (schema["marker_value"], schema["passages"], schema["prompt_version"]) == (
        "bedrock_call", "retrieval.passages", "prompt_version")  # fmt: skip
    assert THEIR_MODEL not in environments["OnlineJudgeFunction"]["JUDGE_MODEL_ID"]  # judged by the judge model
    assert json.loads(environments["OutputDriftFunction"]["SIGNALS"]) == [  # no guardrail, so no grounding
        "AnswerLength", "Refusal", "JudgeRelevance", "JudgeFaithfulness", "JudgeCoherence"]  # fmt: skip
    (warning,) = fed["warnings"]["level2"]
    for built in ("online judge", "feedback loop", "Output drift and prompt diversity", "answer length"):
        assert built not in warning, built
    assert "output drift of grounding scores" in warning  # their app applies no guardrail


def test_the_fed_workload_gets_its_runbooks_from_the_workload(fed: dict[str, Any]) -> None:
    level3 = fed["templates"]["level3"]
    documents = _of_type(level3, "AWS::SSM::Document")
    assert {k.split("Document")[0] for k in documents} == {"RunbooksModelFailover", "RunbooksApiThrottle"}
    targets = json.dumps(_of_type(level3, "AWS::Events::Rule"))
    assert THEIR_MODEL in targets and FALLBACK in targets  # primary from the Workload, fallback from the config
    assert '\\"50\\"' in targets and '\\"100\\"' in targets  # the normal limits restored on OK
    (warning,) = fed["warnings"]["level3"]
    assert "prompt rollback runbook (needs Workload 'prompt_parameter_name'" in warning
    assert "CodeGuru" not in warning  # the user opted in on their function


def test_opt_ins_change_the_users_function_as_asked(fed: dict[str, Any]) -> None:
    template = fed["templates"]["app"]
    (fn,) = [r for k, r in _of_type(template, "AWS::Lambda::Function").items() if k.startswith("Fn")]
    variables = fn["Properties"]["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/codeguru_profiler_lambda_exec"
    assert "AWS_CODEGURU_PROFILER_GROUP_NAME" in variables and "LLMOBS_MODEL_PARAMETER_NAME" in variables
    assert "AWSCodeGuruProfilerPythonAgentLambdaLayer" in json.dumps(fn["Properties"]["Layers"])
    assert len(_of_type(template, "AWS::CodeGuruProfiler::ProfilingGroup")) == 1
    policies = json.dumps(_of_type(template, "AWS::IAM::Policy"))
    for action in ("codeguru-profiler:PostAgentProfile", "ssm:GetParameter", "bedrock:InvokeModelWithResponseStream"):
        assert action in policies, action
    assert f"foundation-model/{FALLBACK}" in policies
    assert "AWS::CodeGuruProfiler::ProfilingGroup" not in {r["Type"] for r in fed["templates"]["level3"]["Resources"].values()}


# --------------------------------------------------------------------------------------- asked for, not fed
def test_a_runbook_asked_for_but_not_fed_is_a_config_error() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_sns as sns

    from llm_observability import AiOpsStack, Workload

    app = App()
    theirs = _user_app(app)
    topic = sns.Topic(Stack(app, "Topics"), "Topic")
    workload = Workload.from_function(
        theirs.function, name="their-bot", model_ids=(THEIR_MODEL,), rest_api=theirs.api
    ).with_alert_topic(topic)
    alarm = cw.Alarm(theirs, "Alarm", metric=theirs.function.metric_errors(), threshold=1, evaluation_periods=1)
    for index, (kwargs, field) in enumerate(
        [({"throttle_alarms": [alarm]}, "throttle_limits"), ({"failover_alarms": [alarm]}, "model_parameter_name"),
         ({"quality_alarms": [alarm]}, "prompt_parameter_name")]
    ):  # fmt: skip
        with pytest.raises(ConfigError, match=rf"^AiOpsStack '\w+_alarms' asks for .*Workload '{field}' is missing: "):
            AiOpsStack(app, f"Level3x{index}", workload=workload, config=_config(), **kwargs)
    from aws_cdk import aws_apigatewayv2 as apigwv2

    from llm_observability.workload_facts import ThrottleLimits

    http = Workload.from_http_api(
        apigwv2.HttpApi(theirs, "HttpApi"), name="their-bot", model_ids=(THEIR_MODEL,), functions=(theirs.function,)
    ).with_facts(throttle_limits=ThrottleLimits(rate_limit=5, burst_limit=10)).with_alert_topic(topic)
    with pytest.raises(ConfigError, match=r"^AiOpsStack 'throttle_alarms' asks for .*'rest_api' is missing: .*'http_api'"):
        AiOpsStack(app, "Level3Http", workload=http, config=_config(), throttle_alarms=[alarm])
    with pytest.raises(ConfigError, match=r"^QualityCanary 'workload.request_contract' is missing"):
        from llm_observability import QualityCanary

        QualityCanary(Stack(app, "Canary"), "Canary", workload=workload)


def test_workload_facts_are_validated_in_one_sentence() -> None:
    from llm_observability import Workload
    from llm_observability.workload_facts import LogSchema, RequestContract, ThrottleLimits

    base = {"name": "x", "model_ids": ("amazon.nova-lite-v1:0",)}
    cases = [
        (lambda: Workload(**base, telemetry="emf"), r"^Workload 'telemetry' is 'emf': allowed are runtime, none\.$"),
        (lambda: Workload(**base, primary_model_id="other"), r"^Workload 'primary_model_id' is 'other': allowed is one"),
        (lambda: Workload(**base, request_contract="POST /ask"), r"^Workload 'request_contract' is 'POST /ask'"),
        (lambda: ThrottleLimits(rate_limit=0, burst_limit=1), r"^ThrottleLimits 'rate_limit' is 0: allowed is"),
        (lambda: ThrottleLimits(rate_limit=1, burst_limit=1.5), r"^ThrottleLimits 'burst_limit' is 1\.5: allowed"),
        (lambda: RequestContract(path="ask", body_template="{}", answer_path="$.a"), r"^RequestContract 'path' is"),
        (lambda: RequestContract(path="/ask", body_template='{"q": "x"}', answer_path="$.a"),
         r"^RequestContract 'body_template' is .*\"\{question\}\" as a string value\.$"),
        (lambda: RequestContract(path="/ask", body_template='{"q": "{question}"}', answer_path="answer"),
         r"^RequestContract 'answer_path' is 'answer': allowed is a JSON path"),
        (lambda: LogSchema(marker_value='a"b', question="q", answer="a", model="m", error_class="e", request_id="r"),
         r"^LogSchema 'marker_value' is"),
        (lambda: LogSchema(marker_value="ask", question="q a", answer="a", model="m", error_class="e", request_id="r"),
         r"^LogSchema 'question' is 'q a': allowed is a JSON field name"),
    ]  # fmt: skip
    for make, message in cases:
        with pytest.raises(ConfigError, match=message):
            make()
    workload = Workload(**base)
    assert workload.telemetry == "none" and workload.primary_model_id == "amazon.nova-lite-v1:0"
    assert workload.log_schema is None and workload.request_contract is None and workload.throttle_limits is None
    assert LogSchema.reference().is_reference and not LogSchema.library().is_reference
    assert LogSchema.library().marker_value == "bedrock_call"


def test_instrumented_refuses_a_workload_whose_metrics_it_does_not_emit() -> None:
    from aws_cdk import App

    from llm_observability import LlmInstrumentation, Workload

    theirs = _user_app(App())
    workload = Workload.from_function(theirs.function, name="their-bot", model_ids=(THEIR_MODEL,))
    unnamed = LlmInstrumentation(theirs, "Unnamed", functions=[theirs.function])
    with pytest.raises(ConfigError, match=r"^LlmInstrumentation 'service_name' is None: allowed is the Workload's name"):
        unnamed.instrumented(workload)
    named = LlmInstrumentation(theirs, "Named", functions=[theirs.function], service_name="their-bot", namespace="X")
    with pytest.raises(ConfigError, match=r"^LlmInstrumentation 'namespace' is 'X': allowed is the Workload's"):
        named.instrumented(workload)


def test_codeguru_opt_in_starts_the_agent_through_a_free_exec_wrapper_slot() -> None:
    """Zero-code: ours runs first, then the agent's (LLMOBS_NEXT_WRAPPER); a function with a wrapper of its own keeps
    it and is told (a synth warning) to start the agent in its handler. Layers: ours + the agent's count."""
    from aws_cdk import App
    from aws_cdk import aws_lambda as lambda_

    from llm_observability import LlmInstrumentation
    from llm_observability.constructs.instrumentation import CODEGURU_EXEC_WRAPPER, environment_of, layer_count

    theirs = _user_app(App())
    LlmInstrumentation(theirs, "ZeroCode", functions=[theirs.function], zero_code=True, codeguru_profiling=True)
    env = environment_of(theirs.function)
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/llmobs-instrument"
    assert env["LLMOBS_NEXT_WRAPPER"] == CODEGURU_EXEC_WRAPPER and layer_count(theirs.function) == 2

    otel = lambda_.Function(
        theirs, "Otel", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline(USER_CODE), environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument"},
        layers=[lambda_.LayerVersion.from_layer_version_arn(theirs, f"L{i}", f"arn:aws:lambda:us-east-1:1:layer:l{i}:1")
                for i in range(4)],
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"has 4 layers already and would get 2 more: Lambda allows 5"):
        LlmInstrumentation(theirs, "TooMany", functions=[otel], codeguru_profiling=True)
    assert layer_count(otel) == 4  # nothing added
    otel_b = lambda_.Function(
        theirs, "OtelB", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline(USER_CODE), environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument"},
    )  # fmt: skip
    LlmInstrumentation(theirs, "Own", functions=[otel_b], codeguru_profiling=True)
    # Their OpenTelemetry wrapper is kept and chained after CodeGuru's (issue 14): ours only chains, the handler
    # stays theirs, and an invocation runs OpenTelemetry's handler -> CodeGuru's -> theirs.
    env_b = environment_of(otel_b)
    assert env_b["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/llmobs-instrument"
    assert env_b["LLMOBS_NEXT_WRAPPER"] == f"{CODEGURU_EXEC_WRAPPER} /opt/otel-instrument"
    assert env_b["LLMOBS_ZERO_CODE"] == "false"
    assert not [m.data for m in otel_b.node.metadata if m.type == "aws:cdk:warning"]
