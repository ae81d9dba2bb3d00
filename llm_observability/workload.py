"""The contract between "what is observed" and the maturity levels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns

from llm_observability.constructs.alarm_factory import AlarmRole, RoledAlarm, Severity, select_alarms
from llm_observability.errors import ConfigError
from llm_observability.functions.rag_api import telemetry
from llm_observability.validation import workload_name


@dataclass(frozen=True)
class Workload:
    """An immutable description of an LLM application on Amazon Bedrock.

    Level 1 produces one (from the reference app, or from your own resources with
    :meth:`from_function` / :meth:`from_rest_api`); Levels 2 and 3 only ever read
    a Workload, which is what lets them observe applications they did not build.

    :param name: short name, used in resource names and as the ``service`` metric dimension.
    :param model_ids: Bedrock model / inference-profile ids the application calls (at least one).
    :param functions: Lambda functions of the application. Default: none.
    :param rest_api: the application's API Gateway REST API. Default: none.
    :param api_stage_name: stage of ``rest_api`` that serves traffic. Default: the API's deployment stage.
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
    """

    name: str
    model_ids: tuple[str, ...]
    functions: tuple[lambda_.IFunction, ...] = ()
    rest_api: apigw.RestApi | None = None
    api_stage_name: str | None = None
    log_groups: tuple[logs.ILogGroup, ...] = ()
    metric_namespace: str = telemetry.DEFAULT_NAMESPACE
    alert_topic: sns.ITopic | None = None
    alert_topic_key: kms.IKey | None = None
    knowledge_base_id: str | None = None
    guardrail_arn: str | None = None
    guardrail_version: str | None = None
    prompt_parameter_name: str | None = None
    prompt_arn: str | None = None
    model_parameter_name: str | None = None
    roled_alarms: tuple[RoledAlarm, ...] = ()

    def __post_init__(self) -> None:
        workload_name("name", self.name, owner="Workload")
        if isinstance(self.model_ids, str) or not self.model_ids or not all(self.model_ids):
            raise ConfigError("Workload 'model_ids' is empty: allowed is a tuple of one or more Bedrock model ids.")
        for attr in ("model_ids", "functions", "log_groups", "roled_alarms"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        if self.api_stage_name is None and self.rest_api is not None:
            object.__setattr__(self, "api_stage_name", self.rest_api.deployment_stage.stage_name)

    # ------------------------------------------------------------------ factories
    @classmethod
    def from_function(
        cls,
        function: lambda_.IFunction,
        *,
        name: str,
        model_ids: tuple[str, ...],
        log_group: logs.ILogGroup | None = None,
        metric_namespace: str = telemetry.DEFAULT_NAMESPACE,
        rest_api: apigw.RestApi | None = None,
    ) -> Workload:
        """Describe an application made of one Lambda function of yours.

        :param log_group: the function's log group. Default: none (log-based features are skipped).
        :param rest_api: the REST API in front of the function. Default: none.
        """
        return cls(
            name=name,
            model_ids=model_ids,
            functions=(function,),
            rest_api=rest_api,
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
        metric_namespace: str = telemetry.DEFAULT_NAMESPACE,
    ) -> Workload:
        """Describe an application served by a REST API of yours (and, optionally, its functions)."""
        return cls(
            name=name,
            model_ids=model_ids,
            functions=functions,
            rest_api=rest_api,
            log_groups=log_groups,
            metric_namespace=metric_namespace,
        )

    def with_alert_topic(self, topic: sns.ITopic, *, key: kms.IKey | None = None) -> Workload:
        """A copy of this Workload whose alarms notify ``topic`` (encrypted with ``key``, if any)."""
        return replace(self, alert_topic=topic, alert_topic_key=key)

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
