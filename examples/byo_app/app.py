#!/usr/bin/env python3
"""Your own LLM application, observed at Levels 1-3 by composing the library through a ``Workload``.

``SupportBotStack`` is "your" app: its own Lambda function (calling Bedrock Converse, instrumented with
Powertools) behind its own REST API. The library's constructs and level stacks observe it without
touching its code:

    cdk synth --app "python3 examples/byo_app/app.py"     (from the repository root)
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Aspects, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from llm_observability import (
    AiOpsStack,
    AlarmRole,
    AlertTopic,
    InvocationLogging,
    LlmAlarms,
    LlmDashboard,
    ObservabilityConfig,
    ProactiveStack,
    Severity,
    Workload,
)
from llm_observability.constructs import encrypted_log_group, log_encryption_key, powertools_layer
from llm_observability.hygiene import NoRedundantDependsOn
from llm_observability.nag import acknowledge

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
NAME = "support-bot"
NAMESPACE = "SupportBot"


class SupportBotStack(Stack):
    """The application: a function and an IAM-authorized REST API."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        key = log_encryption_key(self, "LogKey", description="Encrypts the support bot's logs.")
        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=30, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel"],
                resources=[f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{MODEL_ID}"],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="app.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "function"), exclude=["__pycache__"]),
            layers=[powertools_layer(self, "latest")],
            role=role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=Duration.seconds(29),
            environment={
                "MODEL_ID": MODEL_ID,
                "POWERTOOLS_SERVICE_NAME": NAME,
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            },
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "X-Ray trace writes (active tracing) support no resource-level permissions.")
        access_logs = encrypted_log_group(self, "AccessLogs", key=key, retention_days=30, removal_policy=RemovalPolicy.DESTROY)
        self.api = apigw.RestApi(
            self,
            "Api",
            cloud_watch_role=False,  # the account's API Gateway logging role already exists (the bundled app creates one)
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
            ),
        )  # fmt: skip
        model = self.api.add_model(
            "Question", content_type="application/json",
            schema=apigw.JsonSchema(type=apigw.JsonSchemaType.OBJECT, required=["question"],
                                    properties={"question": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING)}),
        )  # fmt: skip
        validator = self.api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
        method = self.api.root.add_resource("ask").add_method(
            "POST", apigw.LambdaIntegration(self.function), request_validator=validator,
            request_models={"application/json": model},
        )  # fmt: skip
        acknowledge(method, "AwsSolutions-COG4", "The API uses IAM (SigV4) authorization; callers are AWS principals.")
        acknowledge(self.api.deployment_stage, "AwsSolutions-APIG3",
                    "No WAF in this example (fixed monthly cost); IAM auth and stage throttling bound abuse.")  # fmt: skip


def build(app: App) -> dict[str, Stack]:
    """Your app plus Levels 1-3 of observability over it, as separate stacks."""
    Tags.of(app).add("Workload", NAME)  # cost allocation across the app and its observability
    bot = SupportBotStack(app, "SupportBot")

    level1 = Stack(app, "SupportBotObservability")
    alerts = AlertTopic(level1, "Alerts", email="oncall@example.com")
    workload = Workload.from_function(
        bot.function, name=NAME, model_ids=(MODEL_ID,), log_group=bot.log_group, rest_api=bot.api,
        metric_namespace=NAMESPACE,
    ).with_alert_topic(alerts.topic, key=alerts.key)  # fmt: skip
    alarms = LlmAlarms(level1, "Alarms", workload=workload)
    workload = workload.with_alarms(alarms.roled_alarms)  # each alarm with its role and severity
    LlmDashboard(level1, "Dashboard", workload=workload, alarms=workload.alarms)
    InvocationLogging(level1, "InvocationLogging")  # keeps an existing account configuration

    # A fresh account: the account-wide singletons (Security Hub, Config recorder, trail, DevOps Guru
    # coverage, cost monitor) are created. In an account that has them, set the `adopt` options instead.
    config = ObservabilityConfig(level=3, workload_name=NAME, model_id=MODEL_ID)
    level2 = ProactiveStack(app, "SupportBotLevel2", workload=workload, config=config)
    level3 = AiOpsStack(
        app, "SupportBotLevel3", workload=level2.workload, config=config,
        observed_stacks=[bot.stack_name, level1.stack_name, level2.stack_name],
        # Alarms are selected by role, never by name: throttle the API on the high-severity cost anomaly only.
        throttle_alarms=level2.workload.alarms_for(AlarmRole.COST, severity=Severity.HIGH),
    )  # fmt: skip
    return {"app": bot, "level1": level1, "level2": level2, "level3": level3}


if __name__ == "__main__":
    app = App()
    build(app)
    Aspects.of(app).add(NoRedundantDependsOn())  # templates that cfn-lint reports nothing on
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    print(json.dumps({"stacks": [s.stack_name for s in app.node.children if isinstance(s, Stack)]}))
