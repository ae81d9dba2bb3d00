"""Level 3, AIOps: machine-learning insights, profiling, self-healing and third-party tooling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.aiops import ENV_PROFILING_GROUP, CodeGuruProfiling, DevOpsGuruCoverage
from llm_observability.constructs.alarm_factory import AlarmRole, Severity
from llm_observability.constructs.fallback_watch import FallbackModelWatch
from llm_observability.constructs.instrumentation import environment_of
from llm_observability.constructs.log_analytics import (
    DomainCapacity,
    LogAnalytics,
    OpenSearchDomainDestination,
    OpenSearchServerlessDestination,
)
from llm_observability.constructs.prometheus import PrometheusExport
from llm_observability.constructs.rag_app import RagReferenceApp
from llm_observability.constructs.runbooks import (
    ApiThrottleProps,
    ModelFailoverProps,
    PromptRollbackProps,
    RemediationRunbooks,
)
from llm_observability.constructs.vpc_endpoints import strict_network, vpc_placement
from llm_observability.errors import ConfigError
from llm_observability.left_out import HOW, leave_out
from llm_observability.workload import Workload


def _parameter(scope: Construct, id: str, name: str) -> ssm.IStringParameter:
    """A String parameter of another stack by name; generated names are simple (no leading slash)."""
    simple = Token.is_unresolved(name) or not name.startswith("/")
    return ssm.StringParameter.from_string_parameter_attributes(scope, id, parameter_name=name, simple_name=simple)


class AiOpsStack(Stack):
    """Level 3: takes any :class:`Workload` and adds AIOps.

    Provisions :class:`DevOpsGuruCoverage` over ``observed_stacks`` (the application's and the
    observability stacks) with insights to the alert topic, :class:`CodeGuruProfiling` for the reference
    app's function (the library's own; no level changes a function of yours: opt in with
    ``LlmInstrumentation(codeguru_profiling=...)``), :class:`RemediationRunbooks` for the alarms given,
    :class:`PrometheusExport` (``prometheus_export``) and :class:`LogAnalytics` (``log_analytics``).
    :attr:`healing_alarm` (the runbooks', None without runbooks) is in ALARM while a runbook heals.

    The runbooks take their facts from the Workload: the failover switches ``model_parameter_name`` between
    ``primary_model_id`` and the ``fallback_model_id`` setting; the rollback moves ``prompt_parameter_name``
    back one version of ``prompt_arn``; the throttle tightens the ``rest_api`` stage ``api_stage_name`` and
    restores ``throttle_limits``. A runbook whose alarms are passed explicitly and that the workload cannot feed
    is a :class:`ConfigError` naming the missing field; with the default alarms it is left out, and everything
    left out is listed in one synth warning on this stack (``llm-observability:left-out``).

    :param workload: the observed application (with an alert topic).
    :param observed_stacks: CloudFormation stack names DevOps Guru analyses. Default: this stack only.
    :param failover_alarms: alarms on the primary model whose ALARM switches to ``fallback_model_id`` and
        whose OK switches back (needs ``workload.model_parameter_name``). Default: the workload's ``MODEL_HEALTH``
        and ``THROTTLING`` alarms (Level 1's Bedrock server errors and throttles).
    :param quality_alarms: alarms whose ALARM rolls the prompt back one version (needs
        ``workload.prompt_parameter_name`` and ``prompt_arn``). Default: the workload's high-severity ``QUALITY``
        alarms (the canary's quality drop).
    :param throttle_alarms: cost or traffic alarms whose ALARM tightens the API stage's throttling (needs
        ``workload.rest_api`` and ``throttle_limits``). Default: the workload's ``COST`` alarms (cost and
        input-token anomalies).
    :param config: validated settings (``fallback_model_id``, the tightened throttle limits, which services to
        add). Default: ``ObservabilityConfig(level=3)``.
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
        # Strict profile: every function of the stack in the VPC of the settings (standard: nothing).
        self.network = strict_network(self, config)
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
        if config.codeguru_profiler:
            owned = [fn for fn in workload.functions if _owned_by_library(fn)]
            if owned:  # the reference app's function: the library's own, profiled as it always was
                self.profiling = CodeGuruProfiling(
                    self, "Profiler", function=cast(lambda_.Function, owned[0]), name=f"{workload.name}-rag-api"
                )
            elif not any(_profiled(fn) for fn in workload.functions):  # nor did the user opt in on theirs
                leave_out(self, "CodeGuru Profiler", "functions", PROFILING_HOW)
        self.runbooks: RemediationRunbooks | None = None
        failover = self._failover(workload, config, failover_alarms)
        rollback = self._rollback(workload, quality_alarms)
        throttle = self._throttle(workload, config, throttle_alarms)
        if failover or rollback or throttle:
            self.runbooks = RemediationRunbooks(
                self,
                "Runbooks",
                topic=workload.alert_topic,
                topic_key=workload.alert_topic_key,
                model_failover=failover,
                prompt_rollback=rollback,
                api_throttle=throttle,
                metric_namespace=workload.metric_namespace,
                service=workload.name,
            )
        # Self-healing in progress: suppresses the workload's health alarm (stacks.health.add_health_alarm).
        self.healing_alarm: cw.Alarm | None = self.runbooks.healing_alarm if self.runbooks is not None else None
        self.fallback_watch: FallbackModelWatch | None = None
        if failover is not None:  # after a failover the app calls a model the Level 1 alarms do not name
            self.fallback_watch = FallbackModelWatch(
                self, "FallbackWatch", workload=workload, fallback_model_id=failover.fallback_model_id,
                thresholds=config.thresholds,
            )  # fmt: skip
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
        if config.log_analytics != "off" and not workload.log_groups:
            leave_out(self, "Log analytics in OpenSearch", "log_groups")
        elif config.log_analytics != "off":
            vpc = vpc_placement(config)
            self.log_analytics = LogAnalytics(
                self,
                "LogAnalytics",
                workload=workload,
                destination=OpenSearchServerlessDestination(vpc=vpc)
                if config.log_analytics == "serverless"
                # Strict profile: three zone-aware data nodes (CT.OPENSEARCH.PR.14).
                else OpenSearchDomainDestination(vpc=vpc, capacity=DomainCapacity.strict())
                if self.network is not None
                else OpenSearchDomainDestination(vpc=vpc),
                log_retention_days=config.log_retention_days,
            )
        self.workload = workload

    # ------------------------------------------------------------------------------ runbooks
    # A runbook whose alarms are passed (non-empty) is asked for: a missing Workload field is a ConfigError. With the
    # default alarms (selected by role) it is optional: left out and listed in the stack's warning. An empty list
    # turns it off.
    def _failover(
        self, workload: Workload, config: ObservabilityConfig, alarms: Sequence[cw.IAlarm] | None
    ) -> ModelFailoverProps | None:
        feature = "The model failover runbook"
        if alarms is not None and not alarms:
            return None
        if not workload.model_parameter_name:
            _missing(bool(alarms), self, "failover_alarms", feature, "model_parameter_name")
            return None
        chosen = list(alarms or workload.alarms_for(AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING))
        if not chosen:
            _missing(False, self, "failover_alarms", feature, "roled_alarms")
            return None
        return ModelFailoverProps(
            alarms=chosen,
            model_parameter=_parameter(self, "ModelParameter", workload.model_parameter_name),
            primary_model_id=workload.primary_model_id or workload.model_ids[0],
            fallback_model_id=config.fallback_model_id,
        )

    def _rollback(self, workload: Workload, alarms: Sequence[cw.IAlarm] | None) -> PromptRollbackProps | None:
        feature = "The prompt rollback runbook"
        if alarms is not None and not alarms:
            return None
        if not (workload.prompt_parameter_name and workload.prompt_arn):
            _missing(bool(alarms), self, "quality_alarms", feature, "prompt_parameter_name")
            return None
        chosen = list(alarms or workload.alarms_for(AlarmRole.QUALITY, severity=Severity.HIGH))
        if not chosen:  # the high-severity QUALITY alarm is the quality canary's
            _missing(False, self, "quality_alarms", f"{feature} (it starts on the canary's quality drop)",
                     "request_contract")  # fmt: skip
            return None
        return PromptRollbackProps(
            alarms=chosen,
            prompt_parameter=_parameter(self, "PromptParameter", workload.prompt_parameter_name),
            prompt_arn=workload.prompt_arn,
        )

    def _throttle(
        self, workload: Workload, config: ObservabilityConfig, alarms: Sequence[cw.IAlarm] | None
    ) -> ApiThrottleProps | None:
        feature = "The API throttle runbook"
        if alarms is not None and not alarms:
            return None
        if workload.rest_api is None or not workload.api_stage_name:
            how = HTTP_API_HOW if workload.http_api is not None else None
            _missing(bool(alarms), self, "throttle_alarms", feature, "rest_api", how)
            return None
        if workload.throttle_limits is None:
            _missing(bool(alarms), self, "throttle_alarms", feature, "throttle_limits")
            return None
        chosen = list(alarms or workload.alarms_for(AlarmRole.COST))
        if not chosen:
            _missing(False, self, "throttle_alarms", feature, "roled_alarms")
            return None
        return ApiThrottleProps(
            alarms=chosen,
            rest_api=workload.rest_api,
            stage_name=workload.api_stage_name,
            normal_rate_limit=workload.throttle_limits.rate_limit,
            normal_burst_limit=workload.throttle_limits.burst_limit,
            tightened_rate_limit=config.throttled_rate_limit,
            tightened_burst_limit=config.throttled_burst_limit,
        )


#: How profiling reaches a function the library does not own (the left-out warning says it).
PROFILING_HOW = (
    "no level changes a function of your stacks: opt in with LlmInstrumentation(functions=[...], "
    "codeguru_profiling=True) in your own stack"
)
#: Why an HTTP API gets no throttle runbook.
HTTP_API_HOW = (
    "the runbook changes the throttling of a REST API stage, and the Workload's 'http_api' is an API Gateway v2 HTTP "
    "API; set its route throttling yourself"
)


def _owned_by_library(fn: lambda_.IFunction) -> bool:
    """``fn`` is the reference app's function (built by :class:`RagReferenceApp`), which the library may change."""
    return isinstance(fn, lambda_.Function) and any(isinstance(scope, RagReferenceApp) for scope in fn.node.scopes)


def _profiled(fn: lambda_.IFunction) -> bool:
    """``fn`` posts profiles already (``LlmInstrumentation(codeguru_profiling=...)`` in the user's own stack)."""
    return isinstance(fn, lambda_.Function) and bool(environment_of(fn).get(ENV_PROFILING_GROUP))


def _missing(asked: bool, scope: Construct, setting: str, feature: str, field: str, how: str | None = None) -> None:
    """A runbook the workload cannot feed: a ConfigError when ``setting`` asked for it, else left out (None)."""
    if asked:
        raise ConfigError(
            f"AiOpsStack '{setting}' asks for {feature[0].lower()}{feature[1:]}, but Workload '{field}' is missing: "
            f"{how or HOW[field]}, or leave '{setting}' out."
        )
    leave_out(scope, feature, field, how)
