"""A capability is present only if data can reach it: app metrics need a function that emits them, log queries a
function that writes the library's log lines, the quality canary a target that can answer, the profiler an agent
that starts."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm_observability.assess import assess, load
from llm_observability.assess import emitters as e
from llm_observability.assess.model import Status
from tests.assess.conftest import TEMPLATES
from tests.conftest import CDK_CONTEXT, SynthResult

FOREIGN_L1 = json.loads((TEMPLATES / "foreign_level1_no_runtime.json").read_text())
RUNTIME_LAYER = {
    "Type": "AWS::Lambda::LayerVersion",
    "Properties": {
        "Content": {"S3Bucket": "assets", "S3Key": "runtime.zip"},
        "Description": "llm_observability_runtime: LLM metrics (EMF) and logs for boto3 Bedrock calls",
    },
}


def _card(write_template: Callable[..., Path], template: dict[str, Any]) -> Any:
    return assess(load(write_template(template)))


def _foreign(env: dict[str, Any] | None = None, *, runtime: bool = False) -> dict[str, Any]:
    """The foreign Level 1 app, its function with extra environment variables and, with ``runtime``, the layer."""
    template = copy.deepcopy(FOREIGN_L1)
    fn = template["Resources"]["AskFunction"]["Properties"]
    fn["Environment"]["Variables"].update(env or {})
    if runtime:
        template["Resources"]["RuntimeLayer"] = RUNTIME_LAYER
        fn["Layers"] = [{"Ref": "RuntimeLayer"}]
    return template


# ----------------------------------------------------------------------------- llm-metrics


def test_foreign_level1_app_without_the_runtime_has_app_metrics_partial_not_present() -> None:
    card = assess(load(TEMPLATES / "foreign_level1_no_runtime.json"))
    statuses = {r.capability.id: r.status for r in card.results if r.capability.level == 1}
    assert [k for k, v in statuses.items() if v is not Status.PRESENT] == ["llm-metrics"]
    assert card.level == 0
    row = card.result("llm-metrics")
    assert row.status is Status.PARTIAL
    assert row.reason == (
        "Alarms or dashboards read application metrics in LLMObservability, but no function in the templates is shown "
        "to emit them: none is the reference RAG function, carries the library's runtime layer (LlmInstrumentation) "
        "or sets POWERTOOLS_METRICS_NAMESPACE to that namespace."
    )
    assert "LlmInstrumentation" in row.capability.next_step


@pytest.mark.parametrize(
    ("env", "runtime", "status", "phrase"),
    [
        ({}, True, "present", "LLMObservability from AskFunction (the library's runtime layer)"),
        ({"LLMOBS_NAMESPACE": "LLMObservability", "LLMOBS_PROMPT_LOGGING": "redacted"}, True, "present", "runtime layer"),
        ({"LLMOBS_NAMESPACE": "Elsewhere"}, True, "partial", "AskFunction (the library's runtime layer) emits to Elsewhere"),
        ({"LLMOBS_PROMPT_LOGGING": "redacted"}, False, "partial", "AskFunction set LLMOBS_* variables without the runtime layer"),
        ({"POWERTOOLS_METRICS_NAMESPACE": "LLMObservability"}, False, "present", "weaker evidence"),
        ({"POWERTOOLS_METRICS_NAMESPACE": "Other"}, False, "partial", "(its Powertools metrics namespace) emits to Other"),
        ({"POWERTOOLS_METRICS_NAMESPACE": {"Ref": "Namespace"}}, False, "partial", "a namespace known only at deploy"),
    ],
)  # fmt: skip
def test_app_metrics_need_a_function_that_emits_them(
    write_template: Callable[..., Path], env: dict[str, Any], runtime: bool, status: str, phrase: str
) -> None:
    row = _card(write_template, _foreign(env, runtime=runtime)).result("llm-metrics")
    assert (row.status.value, phrase in row.reason) == (status, True), row.reason


def test_the_reference_app_is_its_own_evidence(level3: SynthResult) -> None:
    card = assess(load(level3.outdir))
    assert card.level == 3
    assert "(the reference RAG function)" in card.result("llm-metrics").reason
    assert "weaker evidence" not in card.result("llm-metrics").reason
    assert "(the reference handler)" in card.result("codeguru-profiler").reason


@pytest.fixture(scope="module")
def instrumented_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny app: a Python function with LlmInstrumentation, alarms on AWS/Bedrock and on the runtime's namespace."""
    try:
        from llm_observability.constructs.instrumentation import LlmInstrumentation
    except ImportError as error:  # pragma: no cover - only while the runtime construct is being written
        pytest.skip(f"LlmInstrumentation is not importable yet ({error}): no runtime-layer evidence to synthesize")
    from aws_cdk import App, Stack
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_lambda as lambda_

    outdir = tmp_path_factory.mktemp("instrumented")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = Stack(app, "Bot")
    fn = lambda_.Function(
        stack, "Ask", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )  # fmt: skip
    LlmInstrumentation(stack, "Instrumentation", functions=[fn], service_name="bot", namespace="BotMetrics")
    for alarm_id, namespace, metric_name in (
        ("Latency", "AWS/Bedrock", "InvocationLatency"),
        ("Success", "BotMetrics", "RequestSuccess"),
    ):
        metric = cw.Metric(namespace=namespace, metric_name=metric_name)
        cw.Alarm(stack, alarm_id, metric=metric, threshold=1, evaluation_periods=1)
    app.synth()
    return outdir


def test_llm_instrumentation_is_recognised_as_the_runtime(instrumented_app: Path) -> None:
    card = assess(load(instrumented_app))
    row = card.result("llm-metrics")
    assert row.status is Status.PRESENT, row.reason
    assert re.search(r"BotMetrics from Ask\w+ \(the library's runtime layer\)", row.reason), row.reason


def test_assess_markers_are_the_runtime_and_canary_names() -> None:
    from llm_observability.constructs.aiops import ENV_PROFILING_GROUP
    from llm_observability.functions.quality_canary import canary_telemetry as ct
    from llm_observability.runtime import telemetry as rt

    assert e.RUNTIME_LAYER_MARKER == rt.RUNTIME_PACKAGE
    assert e.RUNTIME_NAMESPACE_ENV == rt.ENV_RUNTIME_NAMESPACE
    assert rt.ENV_RUNTIME_PROMPT_LOGGING.startswith(e.RUNTIME_ENV_PREFIX)
    assert e.RUNTIME_NEXT_WRAPPER_ENV == rt.ENV_RUNTIME_NEXT_WRAPPER
    assert e.EXEC_WRAPPER_ENV == rt.ENV_LAMBDA_EXEC_WRAPPER
    assert e.DEFAULT_NAMESPACE == rt.DEFAULT_NAMESPACE
    assert e.POWERTOOLS_NAMESPACE_ENV == rt.ENV_POWERTOOLS_METRICS_NAMESPACE
    assert {rt.LOG_MESSAGE_CALL, rt.LOG_MESSAGE_FEEDBACK} <= set(e.LIBRARY_LOG_MESSAGES)
    assert e.CANARY_TARGET_ENV == ct.ENV_TARGET_FUNCTION_NAME
    assert ENV_PROFILING_GROUP.startswith("AWS_CODEGURU_PROFILER")


# ----------------------------------------------------------------------------- log-intelligence


def _log_intelligence(query: str, pattern: str, *, runtime: bool) -> dict[str, Any]:
    template = _foreign(runtime=runtime)
    template["Resources"].update({
        "Detector": {"Type": "AWS::Logs::LogAnomalyDetector", "Properties": {
            "LogGroupArnList": [{"Fn::GetAtt": ["AppLogs", "Arn"]}]}},
        "Query": {"Type": "AWS::Logs::QueryDefinition", "Properties": {
            "Name": "bot/q", "QueryString": query, "LogGroupNames": [{"Ref": "AppLogs"}]}},
        "Filter": {"Type": "AWS::Logs::MetricFilter", "Properties": {
            "LogGroupName": {"Ref": "AppLogs"}, "FilterPattern": pattern,
            "MetricTransformations": [{"MetricNamespace": "LLMObservability", "MetricName": "ModelRefusals", "MetricValue": "1"}]}},
    })  # fmt: skip
    return template


ASK_QUERY = 'filter message = "ask"\n| stats count(*) by model_id'
ASK_PATTERN = '{ ($.message = "ask") && ($.answer = "*don\'t know*") }'


def test_log_intelligence_on_a_function_without_the_library_log_schema_is_partial(
    write_template: Callable[..., Path],
) -> None:
    row = _card(write_template, _log_intelligence(ASK_QUERY, ASK_PATTERN, runtime=False)).result("log-intelligence")
    assert row.status is Status.PARTIAL
    assert row.reason.startswith(
        "1 of 1 saved query(ies) (Query) and the metric filter(s) of ModelRefusals select the library's log lines"
    )
    assert "so they stay empty" in row.reason


@pytest.mark.parametrize(
    ("query", "pattern", "runtime"),
    [
        (ASK_QUERY, ASK_PATTERN, True),  # the function writes the library's log lines
        ('filter level = "ERROR"', '{ $.level = "ERROR" }', False),  # the app's own schema
    ],
)
def test_log_intelligence_present_when_its_queries_can_match(
    write_template: Callable[..., Path], query: str, pattern: str, runtime: bool
) -> None:
    row = _card(write_template, _log_intelligence(query, pattern, runtime=runtime)).result("log-intelligence")
    assert row.status is Status.PRESENT, row.reason


def test_every_library_query_on_a_message_is_recognised_as_the_library_schema() -> None:
    from llm_observability.constructs.queries import QUERIES

    on_message = {name: q for name, q in QUERIES.items() if re.search(r"\bmessage\s*=", q)}
    assert on_message and all(e.depends_on_library_schema(q) for q in on_message.values())
    assert not e.depends_on_library_schema('filter level = "ERROR" or status >= 500')


# ----------------------------------------------------------------------------- quality-evaluation


REFERENCE_ENV = {"PRICE_TABLE": "{}", "PROMPT_TEMPLATE_VERSION": "v1", "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability"}


def _canary(canary_env: dict[str, Any], target_env: dict[str, Any] | None = None) -> dict[str, Any]:
    template = _foreign(target_env)
    template["Resources"].update({
        "Canary": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
            "TARGET_FUNCTION_NAME": {"Ref": "AskFunction"}, "POWERTOOLS_METRICS_NAMESPACE": "LLMObservability", **canary_env}}}},
        "Schedule": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "rate(1 hour)", "Targets": [{"Id": "c", "Arn": {"Fn::GetAtt": ["Canary", "Arn"]}}]}},
        "RougeAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "Namespace": "LLMObservability", "MetricName": "QualityRougeL", "AlarmActions": [{"Ref": "AlertTopic"}]}},
    })  # fmt: skip
    return template


def test_quality_canary_asking_a_function_that_cannot_answer_is_partial(write_template: Callable[..., Path]) -> None:
    card = _card(write_template, _canary({}))
    row = card.result("quality-evaluation")
    assert row.status is Status.PARTIAL
    assert row.reason.startswith(
        "Canary sends the reference app's golden questions to AskFunction, which is not the reference RAG function, "
        "and has no request contract (REQUEST_CONTRACT): its quality metrics stay empty or alarm"
    )
    assert card.result("llm-metrics").status is Status.PARTIAL  # the canary's Powertools namespace is no app metric


@pytest.mark.parametrize(
    ("canary_env", "target_env"),
    [({"REQUEST_CONTRACT": '{"method": "POST", "path": "/chat"}'}, None), ({}, REFERENCE_ENV)],
    ids=["request contract", "reference function"],
)
def test_quality_canary_present_when_the_target_can_answer(
    write_template: Callable[..., Path], canary_env: dict[str, Any], target_env: dict[str, Any] | None
) -> None:
    row = _card(write_template, _canary(canary_env, target_env)).result("quality-evaluation")
    assert row.status is Status.PRESENT, row.reason


# ----------------------------------------------------------------------------- codeguru-profiler


AGENT_LAYER = "arn:aws:lambda:us-east-1:157417159150:layer:AWSCodeGuruProfilerPythonAgentLambdaLayer:11"


@pytest.mark.parametrize(
    ("layers", "env", "status", "phrase"),
    [
        ([AGENT_LAYER], {}, "partial", "function(s) AskFunction carry the agent layer but nothing starts it"),
        ([], {}, "partial", "neither carry the agent layer nor start it"),
        ([AGENT_LAYER], {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/codeguru_profiler_lambda_exec"}, "present",
         "AskFunction (AWS_LAMBDA_EXEC_WRAPPER /opt/codeguru_profiler_lambda_exec)"),
        ([AGENT_LAYER], {"LLMOBS_NEXT_WRAPPER": "/opt/codeguru_profiler_lambda_exec"}, "present", "receive profiles"),
        # the chain LlmInstrumentation writes with tracing too: CodeGuru's wrapper, then OpenTelemetry's
        ([AGENT_LAYER], {"LLMOBS_NEXT_WRAPPER": "/opt/codeguru_profiler_lambda_exec /opt/otel-instrument"}, "present",
         "receive profiles"),
        ([], REFERENCE_ENV, "present", "AskFunction (the reference handler)"),
    ],
)  # fmt: skip
def test_profiler_present_only_when_the_agent_starts(
    write_template: Callable[..., Path], layers: list[str], env: dict[str, Any], status: str, phrase: str
) -> None:
    template = _foreign({"AWS_CODEGURU_PROFILER_GROUP_NAME": "bot-profiling", **env})
    template["Resources"]["AskFunction"]["Properties"]["Layers"] = layers
    template["Resources"]["Profiling"] = {
        "Type": "AWS::CodeGuruProfiler::ProfilingGroup", "Properties": {"ProfilingGroupName": "bot-profiling"}
    }
    row = _card(write_template, template).result("codeguru-profiler")
    assert (row.status.value, phrase in row.reason) == (status, True), row.reason
