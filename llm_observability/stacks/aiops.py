"""Level 3, AIOps: machine-learning insights, profiling, self-healing and third-party tooling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.aiops import CodeGuruProfiling, DevOpsGuruCoverage
from llm_observability.constructs.alarm_factory import AlarmRole, Severity
from llm_observability.constructs.log_analytics import (
    LogAnalytics,
    OpenSearchDomainDestination,
    OpenSearchServerlessDestination,
)
from llm_observability.constructs.prometheus import PrometheusExport
from llm_observability.constructs.runbooks import (
    ApiThrottleProps,
    ModelFailoverProps,
    PromptRollbackProps,
    RemediationRunbooks,
)
from llm_observability.errors import ConfigError
from llm_observability.workload import Workload


def _parameter(scope: Construct, id: str, name: str) -> ssm.IStringParameter:
    """A String parameter of another stack by name; generated names are simple (no leading slash)."""
    return ssm.StringParameter.from_string_parameter_attributes(scope, id, parameter_name=name, simple_name=True)


class AiOpsStack(Stack):
    """Level 3: takes any :class:`Workload` and adds AIOps.

    Provisions :class:`DevOpsGuruCoverage` over ``observed_stacks`` (the application's and the
    observability stacks) with insights to the alert topic, :class:`CodeGuruProfiling` for the
    workload's first function, :class:`RemediationRunbooks` for the alarms given,
    :class:`PrometheusExport` (``prometheus_export``) and :class:`LogAnalytics` (``log_analytics``).

    :param workload: the observed application (with an alert topic).
    :param observed_stacks: CloudFormation stack names DevOps Guru analyses. Default: this stack only.
    :param failover_alarms: alarms on the primary model whose ALARM switches to ``fallback_model_id`` and
        whose OK switches back (the failover runbook also needs ``workload.model_parameter_name``). Default: the
        workload's ``MODEL_HEALTH`` and ``THROTTLING`` alarms (Level 1's Bedrock server errors and throttles).
    :param quality_alarms: alarms whose ALARM rolls the prompt back one version. Default: the workload's
        high-severity ``QUALITY`` alarms (the canary's quality drop).
    :param throttle_alarms: cost or traffic alarms whose ALARM tightens the API stage's throttling. Default: the
        workload's ``COST`` alarms (cost and input-token anomalies).
    :param config: validated settings. Default: ``ObservabilityConfig(level=3)``.
    :param stack_props: passed to :class:`aws_cdk.Stack`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        observed_stacks: Sequence[str] = (),
        failover_alarms: Sequence[cw.IAlarm] | None = None,
        quality_alarms: Sequence[cw.IAlarm] | None = None,
        throttle_alarms: Sequence[cw.IAlarm] | None = None,
        config: ObservabilityConfig | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.config = config = config or ObservabilityConfig(level=3)
        if workload.alert_topic is None:
            raise ConfigError("AiOpsStack 'workload.alert_topic' is missing: allowed is a workload with an SNS topic.")
        self.devops_guru = DevOpsGuruCoverage(
            self,
            "DevOpsGuru",
            stack_names=[*observed_stacks, self.stack_name] if self.stack_name not in observed_stacks else list(observed_stacks),
            topic=workload.alert_topic,
            topic_key=workload.alert_topic_key,
            coverage=config.devops_guru_coverage,
        )
        self.profiling: CodeGuruProfiling | None = None
        if config.codeguru_profiler and workload.functions:
            function = workload.functions[0]
            if not isinstance(function, lambda_.Function):
                raise ConfigError(
                    f"Workload function {function.node.path} is imported: allowed is a function defined in this app "
                    "(the profiler agent is added to it), or 'codeguru_profiler' false."
                )
            self.profiling = CodeGuruProfiling(self, "Profiler", function=function, name=f"{workload.name}-rag-api")
        if failover_alarms is None:
            failover_alarms = workload.alarms_for(AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING)
        if quality_alarms is None:
            quality_alarms = workload.alarms_for(AlarmRole.QUALITY, severity=Severity.HIGH)
        if throttle_alarms is None:
            throttle_alarms = workload.alarms_for(AlarmRole.COST)
        self.runbooks: RemediationRunbooks | None = None
        if failover_alarms and workload.model_parameter_name:
            prompt = workload.prompt_parameter_name if quality_alarms and workload.prompt_arn else None
            api = workload.rest_api if throttle_alarms else None
            self.runbooks = RemediationRunbooks(
                self,
                "Runbooks",
                topic=workload.alert_topic,
                topic_key=workload.alert_topic_key,
                model_failover=ModelFailoverProps(
                    alarms=failover_alarms,
                    model_parameter=_parameter(self, "ModelParameter", workload.model_parameter_name),
                    primary_model_id=config.model_id,
                    fallback_model_id=config.fallback_model_id,
                ),
                prompt_rollback=PromptRollbackProps(
                    alarms=quality_alarms,
                    prompt_parameter=_parameter(self, "PromptParameter", prompt),
                    prompt_arn=workload.prompt_arn,
                )
                if prompt
                else None,
                api_throttle=ApiThrottleProps(
                    alarms=throttle_alarms,
                    rest_api=api,
                    stage_name=workload.api_stage_name,
                    normal_rate_limit=config.api_throttle_rate_limit,
                    normal_burst_limit=config.api_throttle_burst_limit,
                    tightened_rate_limit=config.throttled_rate_limit,
                    tightened_burst_limit=config.throttled_burst_limit,
                )
                if api is not None
                else None,
            )
        self.prometheus: PrometheusExport | None = None
        if config.prometheus_export:
            self.prometheus = PrometheusExport(
                self,
                "Prometheus",
                workload=workload,
                topic_key=workload.alert_topic_key,
                objective_percent=config.slo_objective_percent,
                log_retention_days=config.log_retention_days,
            )
        self.log_analytics: LogAnalytics | None = None
        if config.log_analytics != "off" and workload.log_groups:
            self.log_analytics = LogAnalytics(
                self,
                "LogAnalytics",
                workload=workload,
                destination=OpenSearchServerlessDestination()
                if config.log_analytics == "serverless"
                else OpenSearchDomainDestination(),
                log_retention_days=config.log_retention_days,
            )
        self.workload = workload
