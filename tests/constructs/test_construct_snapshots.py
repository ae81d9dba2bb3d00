"""One snapshot per construct, each on a minimal Workload in a stack of its own.

Beside the whole-stack snapshots: a change to one construct shows as a change to its own snapshot, small
enough to read. One app holds every stack and is synthesized once per module; asset hashes are scrubbed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import CDK_CONTEXT, scrub

MODEL_ID = "amazon.nova-lite-v1:0"
FALLBACK_ID = "amazon.nova-micro-v1:0"


def _base(stack: Any) -> dict[str, Any]:
    """A user-shaped application in ``stack``: a function, its log group, a REST API, an alert topic."""
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_ssm as ssm

    from llm_observability import Workload
    from llm_observability.workload_facts import LogSchema, RequestContract, ThrottleLimits

    log_group = logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
    fn = lambda_.Function(
        stack, "AppFunction", runtime=lambda_.Runtime.PYTHON_3_14, handler="app.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"), log_group=log_group,
    )  # fmt: skip
    api = apigw.LambdaRestApi(stack, "AppApi", handler=fn, cloud_watch_role=False)
    topic = sns.Topic(stack, "AppTopic")
    model = ssm.StringParameter(stack, "ActiveModel", string_value=MODEL_ID)
    workload = Workload.from_function(
        fn, name="snap", model_ids=(MODEL_ID,), log_group=log_group, rest_api=api
    ).with_facts(
        telemetry="runtime", log_schema=LogSchema.library(), request_contract=RequestContract.reference(),
        model_parameter_name=model.parameter_name, throttle_limits=ThrottleLimits(rate_limit=10, burst_limit=20),
    ).with_alert_topic(topic)  # fmt: skip
    return {"fn": fn, "api": api, "topic": topic, "log_group": log_group, "model": model, "workload": workload}


def _alert_topic(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import AlertTopic

    AlertTopic(stack, "Subject", email="oncall@example.com")


def _alarms(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LlmAlarms

    LlmAlarms(stack, "Subject", workload=b["workload"])


def _dashboard(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LlmDashboard

    LlmDashboard(stack, "Subject", workload=b["workload"], dashboard_name="snap")


def _invocation_logging(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import InvocationLogging

    InvocationLogging(stack, "Subject")


def _invocation_usage(stack: Any, b: dict[str, Any]) -> None:
    from aws_cdk import aws_logs as logs

    from llm_observability import InvocationUsage

    InvocationUsage(stack, "Subject", workload=b["workload"], log_group=logs.LogGroup(stack, "InvocationLogs"))


def _anomalies(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import AnomalyAlarms

    AnomalyAlarms(stack, "Subject", workload=b["workload"])


def _log_intelligence(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LogIntelligence

    LogIntelligence(stack, "Subject", workload=b["workload"])


def _compliance(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import ComplianceBaseline

    ComplianceBaseline(stack, "Subject", topic=b["topic"])


def _cost_guard(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import CostGuard

    CostGuard(stack, "Subject", topic=b["topic"], monthly_budget_usd=100)


def _guardrail(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LlmGuardrail

    LlmGuardrail(stack, "Subject")


def _managed_prompt(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import ManagedPrompt

    ManagedPrompt(stack, "Subject")


def _quality_canary(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import QualityCanary

    QualityCanary(stack, "Subject", workload=b["workload"])


def _runbooks(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import ApiThrottleProps, ModelFailoverProps, RemediationRunbooks
    from llm_observability.constructs import AlarmRole

    alarms = b["workload"].alarms_for(AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING)
    RemediationRunbooks(
        stack, "Subject", topic=b["topic"],
        model_failover=ModelFailoverProps(alarms=alarms, model_parameter=b["model"], primary_model_id=MODEL_ID,
                                          fallback_model_id=FALLBACK_ID),
        api_throttle=ApiThrottleProps(alarms=alarms, rest_api=b["api"], stage_name=b["workload"].api_stage_name,
                                      normal_rate_limit=10, normal_burst_limit=20, tightened_rate_limit=2,
                                      tightened_burst_limit=5),
    )  # fmt: skip


def _devops_guru(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import DevOpsGuruCoverage

    DevOpsGuruCoverage(stack, "Subject", stack_names=["snap-app"], topic=b["topic"])


def _codeguru(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import CodeGuruProfiling

    CodeGuruProfiling(stack, "Subject", function=b["fn"], name="snap-profile")


def _prometheus(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import PrometheusExport

    PrometheusExport(stack, "Subject", workload=b["workload"])


def _log_analytics_domain(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LogAnalytics

    LogAnalytics(stack, "Subject", workload=b["workload"])


def _log_analytics_serverless(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LogAnalytics, OpenSearchServerlessDestination

    LogAnalytics(stack, "Subject", workload=b["workload"], destination=OpenSearchServerlessDestination())


def _instrumentation(stack: Any, b: dict[str, Any]) -> None:
    from llm_observability import LlmInstrumentation

    LlmInstrumentation(stack, "Subject", functions=[b["fn"]], zero_code=True)


BUILDERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "AlertTopic": _alert_topic,
    "LlmAlarms": _alarms,
    "LlmDashboard": _dashboard,
    "InvocationLogging": _invocation_logging,
    "InvocationUsage": _invocation_usage,
    "AnomalyAlarms": _anomalies,
    "LogIntelligence": _log_intelligence,
    "ComplianceBaseline": _compliance,
    "CostGuard": _cost_guard,
    "LlmGuardrail": _guardrail,
    "ManagedPrompt": _managed_prompt,
    "QualityCanary": _quality_canary,
    "RemediationRunbooks": _runbooks,
    "DevOpsGuruCoverage": _devops_guru,
    "CodeGuruProfiling": _codeguru,
    "PrometheusExport": _prometheus,
    "LogAnalyticsDomain": _log_analytics_domain,
    "LogAnalyticsServerless": _log_analytics_serverless,
    "LlmInstrumentation": _instrumentation,
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each construct alone in its stack (with the minimal app beside it), all in one app synthesized once."""
    from aws_cdk import App, Environment, Stack

    from llm_observability.constructs import AlarmRole, LlmAlarms

    outdir = tmp_path_factory.mktemp("construct-snapshots")
    app = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    stacks = {}
    for i, (name, build) in enumerate(BUILDERS.items()):
        # Each stack its own account: the account singletons (hub, recorder, ...) never meet.
        stack = Stack(app, name, env=Environment(account=f"1111111111{i:02d}", region="us-east-1"))
        base = _base(stack)
        if name == "RemediationRunbooks":  # the runbooks start on the Level 1 alarms
            alarms = LlmAlarms(stack, "Level1", workload=base["workload"])
            base["workload"] = base["workload"].with_alarms(alarms.roled_alarms)
            assert base["workload"].alarms_for(AlarmRole.MODEL_HEALTH)
        build(stack, base)
        stacks[name] = stack
    app.synth()
    return {n: scrub(json.loads((Path(outdir) / f"{s.artifact_id}.template.json").read_text())) for n, s in stacks.items()}


def _subject(template: dict[str, Any]) -> dict[str, Any]:
    """The construct's own resources (logical ids starting with ``Subject``), the minimal app left out."""
    resources = {k: v for k, v in template["Resources"].items() if k.startswith("Subject")}
    return {"Resources": resources, "Outputs": template.get("Outputs", {})}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_construct_snapshot(name: str, templates: dict[str, dict[str, Any]], snapshot: Any) -> None:
    subject = _subject(templates[name])
    assert subject["Resources"], name
    assert subject == snapshot(extension_class=JSONSnapshotExtension)
