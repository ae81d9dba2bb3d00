#!/usr/bin/env python3
"""A typical public Bedrock sample, observed at Levels 1-2 with no change to its handler.

``InvokeModelStack`` is the sample as such projects write it: one Python function calling ``InvokeModel``
behind a ``LambdaRestApi``, no EMF, no log schema. Observing it takes one line in its stack, the library's
runtime layer (``LlmInstrumentation(..., zero_code=True)``: the unmodified handler runs instrumented through the
Lambda exec wrapper), and a ``Workload`` that says so (``instrumented(...)``). Level 1 then has the app
metrics and their alarms; Level 2 the anomaly bands on them. What the sample cannot feed (a request contract
for a canary, a managed prompt, a guardrail) is listed in one synth warning per stack:

    cdk synth --app "python3 examples/invoke_model_app/app.py"     (from the repository root)
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Aspects, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from llm_observability import (
    AlertTopic,
    LlmAlarms,
    LlmDashboard,
    LlmInstrumentation,
    ObservabilityConfig,
    ProactiveStack,
    Workload,
)
from llm_observability.constructs import encrypted_log_group, log_encryption_key
from llm_observability.hygiene import NoRedundantDependsOn
from llm_observability.nag import acknowledge

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
NAME = "invoke-sample"


class InvokeModelStack(Stack):
    """The sample: a function calling InvokeModel behind a LambdaRestApi (IAM-authorized)."""

    def __init__(self, scope: Construct, id: str, *, observe: bool = True) -> None:
        super().__init__(scope, id)
        key = log_encryption_key(self, "LogKey", description="Encrypts the sample's logs.")
        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=30, removal_policy=RemovalPolicy.DESTROY)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="app.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "function"), exclude=["__pycache__"]),
            log_group=self.log_group,
            timeout=Duration.seconds(29),
            environment={"MODEL_ID": MODEL_ID},
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel"],
                resources=[f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{MODEL_ID}"],
            )
        )
        role = self.function.role
        assert role is not None
        acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "The sample keeps the Lambda default execution role, as such samples do.")  # fmt: skip
        access_logs = encrypted_log_group(self, "AccessLogs", key=key, retention_days=30, removal_policy=RemovalPolicy.DESTROY)
        self.api = apigw.LambdaRestApi(
            self,
            "Api",
            handler=self.function,
            cloud_watch_role=False,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
            ),
        )  # fmt: skip
        acknowledge(self.api, "AwsSolutions-APIG2", "A proxy integration: the function validates its JSON body (400).")
        acknowledge(self.api, "AwsSolutions-COG4", "The API uses IAM (SigV4) authorization; callers are AWS principals.")
        acknowledge(self.api.deployment_stage, "AwsSolutions-APIG3", "No WAF in this sample (fixed monthly cost); IAM auth.")
        if observe:
            # The one line of observability in the app's stack: the runtime layer, zero code.
            self.instrumentation = LlmInstrumentation(self, "Llmobs", functions=[self.function], service_name=NAME,
                                                      zero_code=True)  # fmt: skip


def build(app: App) -> dict[str, Stack]:
    """The sample plus Levels 1-2 over it, in separate stacks."""
    sample = InvokeModelStack(app, "InvokeSample")
    level1 = Stack(app, "InvokeSampleObservability")
    alerts = AlertTopic(level1, "Alerts", email="oncall@example.com")
    workload = sample.instrumentation.instrumented(
        Workload.from_function(sample.function, name=NAME, model_ids=(MODEL_ID,), log_group=sample.log_group,
                               rest_api=sample.api)
    ).with_alert_topic(alerts.topic, key=alerts.key)  # fmt: skip
    alarms = LlmAlarms(level1, "Alarms", workload=workload)
    workload = workload.with_alarms(alarms.roled_alarms)
    LlmDashboard(level1, "Dashboard", workload=workload, alarms=workload.alarms)
    config = ObservabilityConfig(level=2, workload_name=NAME, model_id=MODEL_ID)
    level2 = ProactiveStack(app, "InvokeSampleLevel2", workload=workload, config=config)
    return {"app": sample, "level1": level1, "level2": level2}


if __name__ == "__main__":
    app = App()
    build(app)
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    print(json.dumps({"stacks": [s.stack_name for s in app.node.children if isinstance(s, Stack)]}))
