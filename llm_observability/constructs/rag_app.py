"""The instrumented RAG reference application every maturity level observes."""

from __future__ import annotations

import hashlib
import json
import re

from aws_cdk import CfnOutput, Duration, Names, RemovalPolicy, Stack, Tags
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_observability.compliance_profile import is_strict
from llm_observability.config import ObservabilityConfig
from llm_observability.constructs._common import (
    asset_function,
    encrypted_log_group,
    function_role,
    log_encryption_key,
    model_arns,
    powertools_layer,
)
from llm_observability.constructs.guardrail import LlmGuardrail
from llm_observability.constructs.instrumentation import LlmInstrumentation
from llm_observability.constructs.knowledge_base import SampleKnowledgeBase
from llm_observability.constructs.managed_prompt import ManagedPrompt
from llm_observability.constructs.otel import TRACED_RUNTIME
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge
from llm_observability.runtime import telemetry
from llm_observability.singletons import claim
from llm_observability.workload import Workload

#: Same value as the handler's default; the API rejects longer questions before Lambda runs.
MAX_QUESTION_CHARS = 2000
PROMPT_TEMPLATE_VERSION = "v1"
API_STAGE_NAME = "v1"

_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "xrayTraceId": "$context.xrayTraceId",
    "errorMessage": "$context.error.message",
}

ASK_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="AskRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["question"],
    additional_properties=False,
    properties={
        "question": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=MAX_QUESTION_CHARS),
        "max_tokens": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1, maximum=2048),
        "temperature": apigw.JsonSchema(type=apigw.JsonSchemaType.NUMBER, minimum=0, maximum=1),
        "top_p": apigw.JsonSchema(type=apigw.JsonSchemaType.NUMBER, minimum=0, maximum=1),
        "top_k": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1, maximum=20),
        "stop_sequences": apigw.JsonSchema(
            type=apigw.JsonSchemaType.ARRAY,
            max_items=4,
            items=apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=50),
        ),
    },
)
FEEDBACK_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="FeedbackRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["request_id", "score"],
    additional_properties=False,
    properties={
        "request_id": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern="^[A-Za-z0-9-]{1,128}$"),
        "score": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1, maximum=5),
        "comment": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=1000),
    },
)


class RagReferenceApp(Construct):
    """API Gateway -> Lambda -> Bedrock Knowledge Base retrieval -> Bedrock Converse, instrumented.

    ``POST /ask`` answers a question from the knowledge base; ``POST /feedback`` records a
    human score for an earlier answer. Both use IAM (SigV4) authorization.  The result is
    exposed as :attr:`workload` for the observability levels.

    The function is traced with OpenTelemetry (``LlmInstrumentation(tracing=True)``: AWS's ADOT Python layer, its
    ``/opt/otel-instrument`` exec wrapper, active tracing), so API Gateway -> Lambda -> Bedrock is one X-Ray trace.
    It runs Python 3.13 (:data:`~llm_observability.constructs.otel.TRACED_RUNTIME`), not the 3.14 of the library's
    other functions: 3.13 is the newest runtime AWS documents for the ADOT layer versions it lists per region (the
    layer's 3.14 build is not among them yet).

    Tenants: the function reads the tenant of each /ask from the ``tenant_header`` request header (else the IAM
    caller) and passes it to Converse as ``requestMetadata``. Each tenant of ``tenant_inference_profiles`` gets a
    Bedrock application inference profile of its own (a copy of ``model_id``, tagged ``Tenant=<id>`` beside the
    app's cost tags, so Cost Explorer splits the spend once ``Tenant`` is activated as a cost allocation tag); the
    function calls the model through it for that tenant (:attr:`tenant_profiles`).

    :param config: validated settings. Default: ``ObservabilityConfig()`` (all defaults).
    """

    def __init__(self, scope: Construct, id: str, *, config: ObservabilityConfig | None = None) -> None:
        super().__init__(scope, id)
        config = config or ObservabilityConfig()
        self.log_key = log_encryption_key(self, "LogKey", description=f"Encrypts the {config.workload_name} log groups.")

        # --- retrieval source -----------------------------------------------------------
        stack = Stack.of(self)
        self.knowledge_base: SampleKnowledgeBase | None = None
        if config.brings_own_knowledge_base:
            knowledge_base_id = config.knowledge_base_id
            knowledge_base_arn = stack.format_arn(service="bedrock", resource="knowledge-base", resource_name=knowledge_base_id)
        else:
            self.knowledge_base = SampleKnowledgeBase(
                self,
                "KnowledgeBase",
                embedding_model_id=config.embedding_model_id,
                dimensions=config.embedding_dimensions,
                log_key=self.log_key,
                log_retention_days=config.log_retention_days,
            )
            knowledge_base_id = self.knowledge_base.knowledge_base_id
            knowledge_base_arn = self.knowledge_base.knowledge_base_arn

        # --- the function ---------------------------------------------------------------------
        role, self.function_log_group = function_role(
            self, "Function", key=self.log_key, retention_days=config.log_retention_days,
            description=f"Runs the {config.workload_name} RAG API: retrieve from one knowledge base, invoke one model.",
        )  # fmt: skip
        role.add_to_policy(iam.PolicyStatement(sid="Retrieve", actions=["bedrock:Retrieve"], resources=[knowledge_base_arn]))
        invoke_arns: list[str] = []
        wildcard_models: list[str] = []
        for model_id in config.models_in_use:
            arns, any_region = model_arns(self, model_id)
            invoke_arns += arns
            if any_region:
                wildcard_models.append(arns[-1].rsplit("/", 1)[-1])
        # Invoking through an application inference profile needs the profile AND the models it routes to (above).
        self.tenant_profiles = self._tenant_profiles(config)
        invoke_arns += [profile.attr_inference_profile_arn for profile in self.tenant_profiles.values()]
        role.add_to_policy(iam.PolicyStatement(sid="InvokeModel", actions=["bedrock:InvokeModel"], resources=invoke_arns))
        powertools = powertools_layer(self, config.powertools_layer_version, runtime=TRACED_RUNTIME)
        self.function = asset_function(
            self,
            "Function",
            folder="rag_api",
            description=f"{config.workload_name}: RAG question answering on Amazon Bedrock",
            layers=[powertools],
            runtime=TRACED_RUNTIME,
            role=role,
            log_group=self.function_log_group,
            tracing=lambda_.Tracing.ACTIVE,
            memory_size=config.lambda_memory_mb,
            # API Gateway gives up after 29 s; the function's own Bedrock timeouts end earlier.
            timeout=Duration.seconds(29),
            environment={
                "POWERTOOLS_SERVICE_NAME": config.workload_name,
                "POWERTOOLS_METRICS_NAMESPACE": config.metric_namespace,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                telemetry.ENV_MODEL_ID: config.model_id,
                telemetry.ENV_KNOWLEDGE_BASE_ID: knowledge_base_id,
                telemetry.ENV_RETRIEVAL_TOP_K: str(config.retrieval_top_k),
                telemetry.ENV_PROMPT_LOGGING: config.prompt_logging,
                telemetry.ENV_PRICE_TABLE: config.price_table_json(),
                telemetry.ENV_PROMPT_TEMPLATE_VERSION: PROMPT_TEMPLATE_VERSION,
                telemetry.ENV_MAX_QUESTION_CHARS: str(MAX_QUESTION_CHARS),
                telemetry.ENV_TENANT_HEADER: config.tenant_header,
            },
        )
        if self.tenant_profiles:
            self.function.add_environment(
                telemetry.ENV_TENANT_PROFILES,
                stack.to_json_string({t: p.attr_inference_profile_arn for t, p in self.tenant_profiles.items()}),
            )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"The function runs {TRACED_RUNTIME.name}, the newest Python runtime AWS documents for its ADOT "
            "OpenTelemetry layer, which traces it; the library's other functions run the latest.",
        )
        # The handler's metrics and spans are the library's runtime's (one implementation with users' functions): its
        # layer provides ``llm_observability_runtime``; the handler configures it from the variables above. Tracing:
        # AWS's ADOT layer exports the spans through Lambda's X-Ray endpoint (active tracing, set above).
        self.instrumentation = LlmInstrumentation(
            self,
            "Instrumentation",
            functions=[self.function],
            service_name=config.workload_name,
            namespace=config.metric_namespace,
            prompt_logging=config.prompt_logging,
            tracing=True,
            adot_layer_arn=config.adot_layer_arn,
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions.",
        )
        # --- Level 2 upgrades the application itself: a guardrail and a versioned, managed prompt ------
        self.guardrail: LlmGuardrail | None = None
        self.prompt: ManagedPrompt | None = None
        if config.level >= 2 and config.guardrail:
            self.guardrail = LlmGuardrail(self, "Guardrail")
            self.guardrail.grant_apply(role)
            self.function.add_environment(telemetry.ENV_GUARDRAIL_ID, self.guardrail.guardrail_id)
            self.function.add_environment(telemetry.ENV_GUARDRAIL_VERSION, self.guardrail.guardrail_version)
        # --- Level 3: the active model is a parameter the failover runbook switches -------------------
        self.model_parameter: ssm.StringParameter | None = None
        if config.level >= 3:
            self.model_parameter = ssm.StringParameter(
                self,
                "ActiveModel",
                description="Bedrock model the RAG function uses; the failover runbook switches it.",
                string_value=config.model_id,
            )
            self.model_parameter.grant_read(role)
            self.function.add_environment(telemetry.ENV_MODEL_PARAMETER_NAME, self.model_parameter.parameter_name)
        if config.level >= 2 and config.prompt_management:
            self.prompt = ManagedPrompt(self, "Prompt")
            self.prompt.grant_read(role)
            self.function.add_environment(telemetry.ENV_PROMPT_PARAMETER_NAME, self.prompt.parameter_name)
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(self.prompt.prompt)}.Arn>:*]",
                "The function reads whichever immutable version of this one prompt the active-version parameter "
                "names (rollbacks change it at run time); the grant stops at this prompt.",
            )
        for model in wildcard_models:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{model}]",
                "A cross-region inference profile may route to its foundation model in any of its destination "
                "regions, which AWS may extend; the grant names exactly one model.",
            )

        # --- the API -------------------------------------------------------------------------
        self.access_log_group = encrypted_log_group(
            self, "AccessLogs", key=self.log_key, retention_days=config.log_retention_days,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        if config.create_api_gateway_cloudwatch_role:
            claim(self, "api-gateway-account")  # the RestApi sets the account's CloudWatch Logs role
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.workload_name}-rag-api",
            description=f"{config.workload_name}: POST /ask and POST /feedback (IAM auth).",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=config.create_api_gateway_cloudwatch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if config.create_api_gateway_cloudwatch_role else None,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE_NAME,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies may hold personal data
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
            ),
        )
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"Json{response_type.response_type}",
                type=response_type,
                templates={
                    "application/json": '{"error": $context.error.messageString, "request_id": "$context.requestId"}'
                },
            )
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        integration = self._integration()
        for path, schema in (("ask", ASK_SCHEMA), ("feedback", FEEDBACK_SCHEMA)):
            model = self.api.add_model(f"{path.capitalize()}Model", content_type="application/json", schema=schema)
            method = self.api.root.add_resource(path).add_method(
                "POST", integration, request_validator=validator, request_models={"application/json": model}
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "The API uses IAM (SigV4) authorization instead of a Cognito user pool; callers are AWS principals.",
            )
        acknowledge(
            self.api.deployment_stage,
            "AwsSolutions-APIG3",
            "AWS WAF is not attached by default (fixed monthly cost); IAM auth and stage throttling bound abuse.",
        )
        if config.create_api_gateway_cloudwatch_role:
            acknowledge(
                self.api.node.find_child("CloudWatchRole"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "This AWS-managed policy is the documented role API Gateway needs to write execution logs account-wide.",
            )

        self.workload = Workload(
            guardrail_arn=self.guardrail.guardrail_arn if self.guardrail else None,
            guardrail_version=self.guardrail.guardrail_version if self.guardrail else None,
            prompt_parameter_name=self.prompt.parameter_name if self.prompt else None,
            prompt_arn=self.prompt.prompt_arn if self.prompt else None,
            model_parameter_name=self.model_parameter.parameter_name if self.model_parameter else None,
            name=config.workload_name,
            model_ids=(config.model_id,),
            functions=(self.function,),
            rest_api=self.api,
            api_stage_name=API_STAGE_NAME,
            log_groups=(self.function_log_group,),
            metric_namespace=config.metric_namespace,
            knowledge_base_id=knowledge_base_id,
        )
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the RAG API (POST ask, POST feedback).")
        CfnOutput(self, "KnowledgeBaseId", value=knowledge_base_id, description="Knowledge base the API retrieves from.")
        CfnOutput(self, "FunctionName", value=self.function.function_name, description="The RAG Lambda function.")

    def _tenant_profiles(self, config: ObservabilityConfig) -> dict[str, bedrock.CfnApplicationInferenceProfile]:
        """One application inference profile per tenant of ``tenant_inference_profiles``, copying ``model_id``."""
        if not config.tenant_inference_profiles:
            return {}
        if ":application-inference-profile/" in config.model_id:
            raise ConfigError(
                "Setting 'tenant_inference_profiles' is set while 'model_id' is an application inference profile: "
                "allowed is a foundation-model or system inference-profile id (or ARN) to copy per tenant."
            )
        source = model_arns(self, config.model_id)[0][0]  # the model, or the system inference profile, itself
        profiles: dict[str, bedrock.CfnApplicationInferenceProfile] = {}
        for tenant in config.tenant_inference_profiles:
            digest = hashlib.sha256(tenant.encode()).hexdigest()
            profile = bedrock.CfnApplicationInferenceProfile(
                self,
                f"TenantProfile{digest[:8]}",
                inference_profile_name=_profile_name(config.workload_name, tenant, Names.unique_id(self)),
                description=_profile_text(f"Bedrock usage of tenant {tenant} in {config.workload_name}"),
                model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(copy_from=source),
            )
            Tags.of(profile).add("Tenant", tenant)
            Tags.of(profile).add("Workload", config.workload_name)
            for key, value in config.tags.items():
                Tags.of(profile).add(key, value)
            profiles[tenant] = profile
        return profiles

    def _integration(self) -> apigw.Integration:
        """The Lambda proxy integration of both methods.

        Standard profile: API Gateway invokes the function through the function's resource policy (one
        ``AWS::Lambda::Permission`` per method, and one for the console's test invocation). Strict profile: through
        an IAM role API Gateway assumes (integration credentials) that may invoke this function only, so the
        function has no resource policy at all. Control Tower's CT.LAMBDA.PR.2 reads a permission's
        ``SourceAccount`` / ``SourceArn`` as written in the template, and an environment-agnostic stack can write
        neither as the literal it wants; a role passes the control whatever the stack's environment, and a role
        cannot be used by another account's API (``iam:PassRole`` does not cross accounts).
        """
        if not is_strict(self):
            return apigw.LambdaIntegration(self.function, proxy=True)
        role = iam.Role(
            self,
            "ApiInvokeRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway invokes the RAG function with this role (strict compliance profile).",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function.function_arn])
        )
        return apigw.AwsIntegration(
            service="lambda",
            proxy=True,
            path=f"2015-03-31/functions/{self.function.function_arn}/invocations",
            options=apigw.IntegrationOptions(credentials_role=role),
        )


def _profile_name(workload_name: str, tenant: str, scope_id: str) -> str:
    """An application inference profile name (1-64 letters or digits, single ``-`` between them): the workload and
    the tenant, and a hash of the tenant and the construct path that keeps names apart (``a.b`` / ``a-b``, two apps)."""
    digest = hashlib.sha256(f"{scope_id}/{tenant}".encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9]+", "-", f"{workload_name}-{tenant}")[: 64 - len(digest) - 1].strip("-")
    return f"{readable}-{digest}"


def _profile_text(text: str) -> str:
    """``text`` as a profile description accepts it (letters, digits, ``:`` ``.``, single separators), 200 at most."""
    return re.sub(r"[^0-9A-Za-z:.]+", " ", text).strip()[:200].rstrip()
