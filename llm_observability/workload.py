"""The contract between "what is observed" and the maturity levels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns

from llm_observability.constructs.alarm_factory import AlarmRole, RoledAlarm, Severity, select_alarms
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry
from llm_observability.validation import workload_name
from llm_observability.workload_facts import (
    LogSchema,
    PromptLogging,
    RequestContract,
    Telemetry,
    ThrottleLimits,
    check_facts,
)

#: The default metric namespace (a module name: the Workload's ``telemetry`` field hides the module in the class).
DEFAULT_NAMESPACE = telemetry.DEFAULT_NAMESPACE


@dataclass(frozen=True)
class Workload:
    """An immutable description of an LLM application on Amazon Bedrock.

    Level 1 produces one (from the reference app, or from your own resources with
    :meth:`from_function` / :meth:`from_rest_api` / :meth:`from_http_api`); Levels 2 and 3 only ever read
    a Workload, which is what lets them observe applications they did not build.

    :param name: short name, used in resource names and as the ``service`` metric dimension.
    :param model_ids: Bedrock model / inference-profile ids the application calls (at least one).
    :param functions: Lambda functions of the application. Default: none.
    :param rest_api: the application's API Gateway REST API. Default: none.
    :param api_stage_name: stage of ``rest_api`` or ``http_api`` that serves traffic (required for a REST API
        made with ``deploy=False``). Default: the REST API's deployment stage; an HTTP API's ``$default``.
    :param http_api: the application's API Gateway v2 HTTP API, instead of ``rest_api`` (not both). Default: none.
    :param log_groups: log groups holding the application's structured logs. Default: none.
    :param metric_namespace: namespace of the application's own EMF metrics. Default: ``LLMObservability``.
    :param alert_topic: SNS topic alarms notify. Default: none (Level 1 creates one).
    :param alert_topic_key: the topic's KMS key, so higher levels can let AWS services publish. Default: none.
    :param knowledge_base_id: Bedrock knowledge base the application retrieves from. Default: none.
    :param guardrail_arn: ARN of the Bedrock guardrail the application applies. Default: none.
    :param guardrail_version: the guardrail version it applies. Default: none.
    :param prompt_parameter_name: SSM parameter naming the active prompt version. Default: none.
    :param prompt_arn: ARN of the Bedrock Prompt Management prompt behind it. Default: none.
    :param model_parameter_name: SSM parameter naming the active model (Level 3 failover). Default: none.
    :param roled_alarms: the application's alarms so far, each with its role and severity (Level 1's, then
        Level 2's); higher levels select from them with :meth:`alarms_for`. Default: none.
    :param telemetry: ``runtime`` when the functions emit the library's app metrics (the reference app, functions
        instrumented by ``LlmInstrumentation``), else ``none``: app-metric alarms, widgets and anomaly bands are
        then left out. Default: ``none``.
    :param log_schema: the field names of the application's structured log line; log filters and saved queries are
        built from it. Default: none (they are left out).
    :param request_contract: how a canary calls the application; the quality canary is built only with one.
        Default: none (no canary).
    :param primary_model_id: the model the application uses normally (the failover runbook restores it). Default:
        ``model_ids[0]``.
    :param throttle_limits: the API stage's normal rate and burst limits (the throttle runbook restores them).
        Default: none (no throttle runbook).
    :param low_urgency_topic: SNS topic for notifications that must not page (the member alarms of a workload
        health alarm, low-severity alarms). Default: none (they notify nothing once a health alarm pages).
    :param invocation_log_group: the log group Bedrock model invocation logging writes to (the account's, in the
        application's region); per-tenant usage rules read it. Default: none.
    :param prompt_logging: how much question and answer text the log line carries: ``full``, ``redacted`` (PII
        replaced by placeholders) or ``none``. The online judge, the feedback review set, the refusal drift signal
        and prompt diversity read that text; with ``none`` or unset they are left out. Default: none (unknown).

    Levels build only what these facts can feed and list the rest in one synth warning per stack
    (``llm-observability:left-out``); see :meth:`with_facts`.
    """

    name: str
    model_ids: tuple[str, ...]
    functions: tuple[lambda_.IFunction, ...] = ()
    rest_api: apigw.RestApi | None = None
    api_stage_name: str | None = None
    http_api: apigwv2.IHttpApi | None = None
    log_groups: tuple[logs.ILogGroup, ...] = ()
    metric_namespace: str = DEFAULT_NAMESPACE
    alert_topic: sns.ITopic | None = None
    alert_topic_key: kms.IKey | None = None
    knowledge_base_id: str | None = None
    guardrail_arn: str | None = None
    guardrail_version: str | None = None
    prompt_parameter_name: str | None = None
    prompt_arn: str | None = None
    model_parameter_name: str | None = None
    roled_alarms: tuple[RoledAlarm, ...] = ()
    telemetry: Telemetry = "none"
    log_schema: LogSchema | None = None
    request_contract: RequestContract | None = None
    primary_model_id: str | None = None
    throttle_limits: ThrottleLimits | None = None
    low_urgency_topic: sns.ITopic | None = None
    invocation_log_group: logs.ILogGroup | None = None
    prompt_logging: PromptLogging | None = None

    def __post_init__(self) -> None:
        workload_name("name", self.name, owner="Workload")
        if isinstance(self.model_ids, str) or not self.model_ids or not all(self.model_ids):
            raise ConfigError("Workload 'model_ids' is empty: allowed is a tuple of one or more Bedrock model ids.")
        for attr in ("model_ids", "functions", "log_groups", "roled_alarms"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        check_facts(self.telemetry, self.log_schema, self.request_contract, self.throttle_limits, self.prompt_logging)
        if self.primary_model_id is None:
            object.__setattr__(self, "primary_model_id", self.model_ids[0])
        elif self.primary_model_id not in self.model_ids:
            raise ConfigError(
                f"Workload 'primary_model_id' is {self.primary_model_id!r}: allowed is one of 'model_ids' "
                f"({', '.join(self.model_ids)})."
            )
        if self.rest_api is not None and self.http_api is not None:
            raise ConfigError(
                "Workload 'http_api' is set beside 'rest_api': allowed is one API per workload, a REST API or an "
                "HTTP API."
            )
        if self.api_stage_name is None:
            object.__setattr__(self, "api_stage_name", _serving_stage_name(self.rest_api, self.http_api))

    @property
    def logs_prompt_text(self) -> bool:
        """Does the log line carry question and answer text (``prompt_logging`` is ``full`` or ``redacted``)?"""
        return self.prompt_logging in (telemetry.PROMPT_LOGGING_FULL, telemetry.PROMPT_LOGGING_REDACTED)

    # ------------------------------------------------------------------ factories
    @classmethod
    def from_function(
        cls,
        function: lambda_.IFunction,
        *,
        name: str,
        model_ids: tuple[str, ...],
        log_group: logs.ILogGroup | None = None,
        metric_namespace: str = DEFAULT_NAMESPACE,
        rest_api: apigw.RestApi | None = None,
        http_api: apigwv2.IHttpApi | None = None,
        api_stage_name: str | None = None,
    ) -> Workload:
        """Describe an application made of one Lambda function of yours.

        :param log_group: the function's log group. Default: none (log-based features are skipped).
        :param rest_api: the REST API in front of the function. Default: none.
        :param http_api: the HTTP API in front of the function, instead of ``rest_api``. Default: none.
        :param api_stage_name: the API's stage that serves traffic (required for a REST API made with
            ``deploy=False``). Default: the REST API's deployment stage; an HTTP API's ``$default``.
        """
        return cls(
            name=name,
            model_ids=model_ids,
            functions=(function,),
            rest_api=rest_api,
            http_api=http_api,
            api_stage_name=api_stage_name,
            log_groups=(log_group,) if log_group is not None else (),
            metric_namespace=metric_namespace,
        )

    @classmethod
    def from_rest_api(
        cls,
        rest_api: apigw.RestApi,
        *,
        name: str,
        model_ids: tuple[str, ...],
        functions: tuple[lambda_.IFunction, ...] = (),
        log_groups: tuple[logs.ILogGroup, ...] = (),
        metric_namespace: str = DEFAULT_NAMESPACE,
        api_stage_name: str | None = None,
    ) -> Workload:
        """Describe an application served by a REST API of yours (and, optionally, its functions).

        :param api_stage_name: the stage that serves traffic (required for a REST API made with ``deploy=False``).
            Default: the API's deployment stage.
        """
        return cls(
            name=name,
            model_ids=model_ids,
            functions=functions,
            rest_api=rest_api,
            api_stage_name=api_stage_name,
            log_groups=log_groups,
            metric_namespace=metric_namespace,
        )

    @classmethod
    def from_http_api(
        cls,
        http_api: apigwv2.IHttpApi,
        *,
        name: str,
        model_ids: tuple[str, ...],
        functions: tuple[lambda_.IFunction, ...] = (),
        log_groups: tuple[logs.ILogGroup, ...] = (),
        metric_namespace: str = DEFAULT_NAMESPACE,
        api_stage_name: str | None = None,
    ) -> Workload:
        """Describe an application served by an API Gateway v2 HTTP API of yours (and, optionally, its functions).

        :param api_stage_name: the stage that serves traffic. Default: ``$default``.
        """
        return cls(
            name=name,
            model_ids=model_ids,
            functions=functions,
            http_api=http_api,
            api_stage_name=api_stage_name,
            log_groups=log_groups,
            metric_namespace=metric_namespace,
        )

    def with_facts(
        self,
        *,
        telemetry: Telemetry | None = None,
        log_schema: LogSchema | None = None,
        request_contract: RequestContract | None = None,
        primary_model_id: str | None = None,
        model_parameter_name: str | None = None,
        throttle_limits: ThrottleLimits | None = None,
        prompt_logging: PromptLogging | None = None,
    ) -> Workload:
        """A copy of this Workload that says what the application can feed; each fact not given stays as it is.

        For example ``Workload.from_function(...).with_facts(telemetry="runtime", log_schema=LogSchema.library())``
        for a function instrumented by ``LlmInstrumentation`` (``instrumentation.instrumented(workload)`` does that).
        """
        given = {
            "telemetry": telemetry, "log_schema": log_schema, "request_contract": request_contract,
            "primary_model_id": primary_model_id, "model_parameter_name": model_parameter_name,
            "throttle_limits": throttle_limits, "prompt_logging": prompt_logging,
        }  # fmt: skip
        return replace(self, **{name: value for name, value in given.items() if value is not None})  # type: ignore[arg-type]

    def with_alert_topic(self, topic: sns.ITopic, *, key: kms.IKey | None = None) -> Workload:
        """A copy of this Workload whose alarms notify ``topic`` (encrypted with ``key``, if any)."""
        return replace(self, alert_topic=topic, alert_topic_key=key)

    def with_low_urgency_topic(self, topic: sns.ITopic | None) -> Workload:
        """A copy of this Workload whose non-paging notifications go to ``topic``."""
        return replace(self, low_urgency_topic=topic)

    def with_invocation_log_group(self, log_group: logs.ILogGroup | None) -> Workload:
        """A copy of this Workload that names the Bedrock model invocation log group."""
        return replace(self, invocation_log_group=log_group)

    def with_alarms(self, roled_alarms: Sequence[RoledAlarm]) -> Workload:
        """A copy of this Workload that also lists ``roled_alarms`` (an alarm construct's ``roled_alarms``)."""
        for r in roled_alarms:
            if not isinstance(r, RoledAlarm):
                raise ConfigError(
                    f"Workload 'roled_alarms' holds {r!r}: allowed are RoledAlarm values (an alarm construct's "
                    "roled_alarms, or RoledAlarm(alarm, role, severity))."
                )
        return replace(self, roled_alarms=(*self.roled_alarms, *roled_alarms))

    def alarms_for(self, *roles: AlarmRole, severity: Severity | None = None) -> tuple[cw.IAlarm, ...]:
        """The workload's alarms with one of ``roles`` (any role when none is given) and, when given, exactly
        ``severity``, in the order they were added."""
        return select_alarms(self.roled_alarms, *roles, severity=severity)

    @property
    def alarms(self) -> tuple[cw.IAlarm, ...]:
        """Every alarm of the workload."""
        return self.alarms_for()

    @property
    def high_severity_alarms(self) -> tuple[cw.IAlarm, ...]:
        """The alarms that warrant an incident."""
        return self.alarms_for(severity=Severity.HIGH)


#: The stage an HTTP API serves from when it was made with its default stage (``create_default_stage``).
HTTP_API_DEFAULT_STAGE = "$default"


def _serving_stage_name(rest_api: apigw.RestApi | None, http_api: apigwv2.IHttpApi | None) -> str | None:
    """The stage that serves traffic when ``api_stage_name`` is not given (None without an API)."""
    if http_api is not None:
        if isinstance(http_api, apigwv2.HttpApi) and http_api.default_stage is None:
            raise ConfigError(
                "Workload 'api_stage_name' is missing: allowed is the name of the stage of 'http_api' that serves "
                "traffic, required because the HTTP API has no $default stage (create_default_stage=False)."
            )
        return HTTP_API_DEFAULT_STAGE
    if rest_api is None:
        return None
    try:
        return rest_api.deployment_stage.stage_name
    except RuntimeError:  # deploy=False and no deployment_stage assigned: jsii cannot return the missing stage
        raise ConfigError(
            "Workload 'api_stage_name' is missing: allowed is the name of the stage of 'rest_api' that serves "
            "traffic, required because the REST API has no deployment stage (deploy=False)."
        ) from None
