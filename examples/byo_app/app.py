#!/usr/bin/env python3
"""Your own LLM application, observed at Levels 1-3 by composing the library through a ``Workload``.

``SupportBotStack`` is "your" app: its own Lambda function (calling Bedrock Converse, emitting the library's
metric names with Powertools) behind its own REST API. The library's constructs and level stacks observe it
without touching it; the app opts in, in its own stack, to what Level 3 needs from it: an SSM parameter naming
the active model, read through the runtime layer's ``active_model_id`` (``LlmInstrumentation.use_model_parameter``),
permission to invoke the fallback model (``grant_model``) and explicit stage throttling. The Workload says what
the app feeds (``with_facts``), so the model failover and API throttle runbooks exist at Level 3; what it does not
feed (a log schema, a canary contract, a managed prompt, profiling) is listed in one synth warning per stack:

    cdk synth --app "python3 examples/byo_app/app.py"     (from the repository root)
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Aspects, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from llm_observability import (
    AiOpsStack,
    AlarmRole,
    AlertTopic,
    InvocationLogging,
    InvocationUsage,
    LlmAlarms,
    LlmDashboard,
    LlmInstrumentation,
    ObservabilityConfig,
    ProactiveStack,
    Severity,
    Workload,
    add_health_alarm,
)
from llm_observability.constructs import encrypted_log_group, log_encryption_key, powertools_layer
from llm_observability.hygiene import NoRedundantDependsOn
from llm_observability.nag import acknowledge
from llm_observability.workload_facts import ThrottleLimits

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK_MODEL_ID = "amazon.nova-micro-v1:0"  # what the failover runbook switches to
STAGE_LIMITS = ThrottleLimits(rate_limit=20, burst_limit=40)  # the stage's normal throttling, restored after a tightening
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
        # Opt-in failover: the function asks llm_observability_runtime.active_model_id(MODEL_ID) for its model.
        self.model_parameter = ssm.StringParameter(
            self, "ActiveModel", string_value=MODEL_ID,
            description="Bedrock model the support bot uses; the Level 3 failover runbook switches it.",
        )  # fmt: skip
        runtime = LlmInstrumentation(self, "Runtime", functions=[self.function], service_name=NAME, namespace=NAMESPACE)
        runtime.use_model_parameter(self.model_parameter)
        runtime.grant_model(FALLBACK_MODEL_ID)
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
                throttling_rate_limit=STAGE_LIMITS.rate_limit,
                throttling_burst_limit=STAGE_LIMITS.burst_limit,
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
    workload = (
        Workload.from_function(
            bot.function, name=NAME, model_ids=(MODEL_ID,), log_group=bot.log_group, rest_api=bot.api,
            metric_namespace=NAMESPACE,
        )
        # What the app feeds: the library's metric names (its own Powertools EMF), the model parameter its
        # function reads, the stage's normal limits. No log schema or canary contract: those are left out.
        .with_facts(telemetry="runtime", model_parameter_name=bot.model_parameter.parameter_name,
                    throttle_limits=STAGE_LIMITS)
        .with_alert_topic(alerts.topic, key=alerts.key)
    )  # fmt: skip
    alarms = LlmAlarms(level1, "Alarms", workload=workload)
    workload = workload.with_alarms(alarms.roled_alarms)  # each alarm with its role and severity
    dashboard = LlmDashboard(level1, "Dashboard", workload=workload, alarms=workload.alarms)
    logging = InvocationLogging(level1, "InvocationLogging")  # keeps an existing account configuration
    # Tokens and cost per model of this app's role, from the invocation log: no code in the function.
    usage = InvocationUsage(level1, "InvocationUsage", workload=workload, log_group=logging.log_group)
    dashboard.dashboard.add_widgets(*usage.widgets())

    # A fresh account: the account-wide singletons (Security Hub, Config recorder, trail, DevOps Guru
    # coverage, cost monitor) are created. In an account that has them, set the `adopt` options instead.
    config = ObservabilityConfig(level=3, workload_name=NAME, model_id=MODEL_ID, fallback_model_id=FALLBACK_MODEL_ID)
    level2 = ProactiveStack(app, "SupportBotLevel2", workload=workload, config=config)
    level3 = AiOpsStack(
        app, "SupportBotLevel3", workload=level2.workload, config=config,
        observed_stacks=[bot.stack_name, level1.stack_name, level2.stack_name],
        # Alarms are selected by role, never by name: throttle the API on the high-severity cost anomaly only
        # (asked for explicitly: without the workload's throttle_limits this would be a ConfigError). The model
        # failover runs on the default MODEL_HEALTH and THROTTLING alarms of Level 1.
        throttle_alarms=level2.workload.alarms_for(AlarmRole.COST, severity=Severity.HIGH),
    )  # fmt: skip
    # One alarm pages: a composite over the workload's high-severity alarms, quiet while a runbook heals. Its
    # members stop paging (they would notify a low-urgency topic given with Workload.with_low_urgency_topic).
    add_health_alarm(level3, config)
    return {"app": bot, "level1": level1, "level2": level2, "level3": level3}


if __name__ == "__main__":
    app = App()
    build(app)
    Aspects.of(app).add(NoRedundantDependsOn())  # templates that cfn-lint reports nothing on
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    print(json.dumps({"stacks": [s.stack_name for s in app.node.children if isinstance(s, Stack)]}))
