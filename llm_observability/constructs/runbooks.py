"""Self-healing (Level 3): SSM Automation runbooks started by EventBridge when alarms change state.

The runbooks themselves (documents, EventBridge patterns and inputs) are plain data in
:mod:`llm_observability.automation`; this module deploys them: one ``AWS::SSM::Document`` per runbook,
one least-privilege role Automation assumes to run them, and per runbook two EventBridge rules (the
alarms entering ALARM, and entering OK) whose target starts the document. aws-cdk-lib has no SSM
Automation rule target, so :class:`SsmAutomationTarget` provides one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import ArnFormat, Aws, Names, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct, IValidation

from llm_observability import automation
from llm_observability.automation import EventPath
from llm_observability.constructs._common import dead_letter_metric, dead_letter_queue
from llm_observability.constructs.alarm_factory import Severity, sns_alarm_action
from llm_observability.constructs.health_alarm import healing_alarm
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.runtime.telemetry import DEFAULT_NAMESPACE

try:  # botocore's service models let the synth-time check verify every API call of the documents
    import botocore  # noqa: F401

    _API_MODELS = True
except ImportError:  # pragma: no cover - botocore comes with boto3, which the dev extras install
    _API_MODELS = False

SSM_SERVICE = "ssm.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
_PROMPT_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]{1,20}:\d{12}:prompt/[0-9A-Za-z]{1,64}$")

ParameterValue = str | EventPath


def automation_definition_arn(scope: IConstruct, document_name: str) -> str:
    """ARN of the default version of an Automation document, as EventBridge and IAM name it."""
    return Stack.of(scope).format_arn(
        service="ssm",
        resource="automation-definition",
        resource_name=f"{document_name}:$DEFAULT",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def _events_principal(scope: IConstruct) -> iam.ServicePrincipal:
    """EventBridge acting for a rule of this account and region (the rule ARN itself would be a cycle)."""
    stack = Stack.of(scope)
    return iam.ServicePrincipal(
        EVENTS_SERVICE,
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:events:{stack.region}:{stack.account}:rule/*"},
        },
    )


@jsii.implements(events.IRuleTarget)
class SsmAutomationTarget:
    """EventBridge rule target that starts an SSM Automation document (aws-cdk-lib has none).

    The target is the document's default version (``automation-definition/<name>:$DEFAULT``); the
    input is the document's parameters as JSON, each value a list of strings, as Automation expects.
    A value that is an :class:`~llm_observability.automation.EventPath` (such as
    ``automation.ALARM_NAME``) is taken from the event with an input transformer.

    :param document_name: name of the Automation document (a ``CfnDocument``'s ``ref``).
    :param parameters: the document parameters. ``AutomationAssumeRole`` is added when ``assume_role``
        is given and the parameters do not name one.
    :param role: role EventBridge uses to start the automation; it is granted
        ``ssm:StartAutomationExecution`` on exactly this document and ``iam:PassRole`` on
        ``assume_role``. Default: a new role per target, trusted by EventBridge rules of this account.
    :param assume_role: the role the automation runs as. Default: none (then the caller passes its
        ARN as ``AutomationAssumeRole`` and grants ``iam:PassRole`` on it itself).
    :param dead_letter_queue: where EventBridge puts an event it could not start the automation for (after its
        retries), with a queue policy for exactly the rule it is bound to. Default: none (such an event is lost).
    :param retry_attempts: EventBridge's retries of a failed start. Default: 2.
    """

    def __init__(
        self,
        document_name: str,
        *,
        parameters: Mapping[str, ParameterValue | Sequence[ParameterValue]],
        role: iam.IRole | None = None,
        assume_role: iam.IRole | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        retry_attempts: int = 2,
    ) -> None:
        if not isinstance(retry_attempts, int) or isinstance(retry_attempts, bool) or not 0 <= retry_attempts <= 185:
            raise ConfigError(
                f"SsmAutomationTarget 'retry_attempts' is {retry_attempts!r}: allowed is a whole number from 0 to 185."
            )
        self.dead_letter_queue = dead_letter_queue
        self.retry_attempts = retry_attempts
        self.document_name = document_name
        self.parameters = {
            name: [value] if isinstance(value, (str, EventPath)) else list(value) for name, value in parameters.items()
        }
        if assume_role is not None:
            self.parameters.setdefault("AutomationAssumeRole", [assume_role.role_arn])
        self.assume_role = assume_role
        self.role = role

    def bind(self, rule: Any, id: str | None = None) -> events.RuleTargetConfig:
        """Grant the EventBridge role what it needs and describe the target."""
        arn = automation_definition_arn(rule, self.document_name)
        if self.role is None:  # once per target, also when it is bound to several rules
            self.role = iam.Role(
                rule,
                f"{id or 'Target'}AutomationRole",
                assumed_by=_events_principal(rule),
                description="Lets EventBridge start one SSM Automation document.",
            )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="StartAutomation", actions=["ssm:StartAutomationExecution"], resources=[arn])
        )
        if self.assume_role is not None:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="PassAutomationRole",
                    actions=["iam:PassRole"],
                    resources=[self.assume_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": SSM_SERVICE}},
                )
            )
        payload = {
            name: [events.EventField.from_path(v.path) if isinstance(v, EventPath) else v for v in values]
            for name, values in self.parameters.items()
        }
        dead_letter_config = None
        if self.dead_letter_queue is not None:
            self.dead_letter_queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"EventBridgeDeadLetters{Names.unique_id(rule)}"[:100],
                    principals=[iam.ServicePrincipal(EVENTS_SERVICE)],
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letter_queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
                )
            )
            dead_letter_config = events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn)
        return events.RuleTargetConfig(
            arn=arn,
            role=self.role,
            input=events.RuleTargetInput.from_object(payload),
            dead_letter_config=dead_letter_config,
            retry_policy=events.CfnRule.RetryPolicyProperty(maximum_retry_attempts=self.retry_attempts),
        )


def start_automation(
    document_name: str,
    *,
    parameters: Mapping[str, ParameterValue | Sequence[ParameterValue]],
    role: iam.IRole | None = None,
    assume_role: iam.IRole | None = None,
    dead_letter_queue: sqs.IQueue | None = None,
) -> SsmAutomationTarget:
    """An EventBridge target that starts ``document_name`` (see :class:`SsmAutomationTarget`)."""
    return SsmAutomationTarget(
        document_name, parameters=parameters, role=role, assume_role=assume_role, dead_letter_queue=dead_letter_queue
    )


@jsii.implements(IValidation)
class _AcknowledgeWildcardAtSynthesis:
    """Acknowledges one ``AwsSolutions-IAM5`` resource finding whose text depends on references.

    A cross-stack reference becomes ``Fn::ImportValue`` only when the app is prepared for synthesis,
    which is after constructs are built but before validations run; the finding id is computed here.
    """

    def __init__(self, scope: IConstruct, resource: str, reason: str) -> None:
        self._scope = scope
        self._resource = resource
        self._reason = reason

    def validate(self) -> list[str]:
        rendered = finding_resource(self._scope, self._resource)
        acknowledge(self._scope, f"AwsSolutions-IAM5[Resource::{rendered}]", self._reason)
        return []


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, kw_only=True)
class ModelFailoverProps:
    """The model failover: while one of ``alarms`` is in ALARM, ``model_parameter`` holds ``fallback_model_id``;
    when it returns to OK, ``primary_model_id`` again.

    :param alarms: alarms that start the failover (one or more), typically
        ``workload.alarms_for(AlarmRole.MODEL_HEALTH, AlarmRole.THROTTLING)``.
    :param model_parameter: SSM String parameter the function reads its model id from (``MODEL_PARAMETER_NAME``).
    :param primary_model_id: model restored on OK.
    :param fallback_model_id: model used while a failover alarm is in ALARM; the function's role must be
        allowed to invoke it.
    """

    alarms: Sequence[cw.IAlarm]
    model_parameter: ssm.IStringParameter
    primary_model_id: str
    fallback_model_id: str

    def __post_init__(self) -> None:
        _check_models(self.primary_model_id, self.fallback_model_id)
        object.__setattr__(self, "alarms", _alarms("ModelFailoverProps", self.alarms, "the model failover"))


@dataclass(frozen=True, kw_only=True)
class PromptRollbackProps:
    """The prompt rollback: when one of ``alarms`` fires, ``prompt_parameter`` moves to the previous version of
    ``prompt_arn`` (never below version 1). The OK transition is only recorded: the rolled-back version is the
    known-good one, rolling forward is a human decision.

    :param alarms: alarms that start the rollback (one or more), typically
        ``workload.alarms_for(AlarmRole.QUALITY, severity=Severity.HIGH)``.
    :param prompt_parameter: SSM String parameter holding the active prompt version ARN (``PROMPT_PARAMETER_NAME``).
    :param prompt_arn: ARN of the prompt, without a version.
    """

    alarms: Sequence[cw.IAlarm]
    prompt_parameter: ssm.IStringParameter
    prompt_arn: str

    def __post_init__(self) -> None:
        if not isinstance(self.prompt_arn, str) or (
            _literal(self.prompt_arn) and not _PROMPT_ARN.fullmatch(self.prompt_arn)
        ):
            raise ConfigError(
                f"PromptRollbackProps 'prompt_arn' is {self.prompt_arn!r}: allowed is a prompt ARN without a version, "
                "such as arn:aws:bedrock:us-east-1:123456789012:prompt/PROMPT1234."
            )
        object.__setattr__(self, "alarms", _alarms("PromptRollbackProps", self.alarms, "the prompt rollback"))


@dataclass(frozen=True, kw_only=True)
class ApiThrottleProps:
    """The API throttle: while one of ``alarms`` is in ALARM, the stage's rate and burst limits are tightened;
    on OK the normal limits come back.

    :param alarms: alarms that start the throttling (one or more), typically ``workload.alarms_for(AlarmRole.COST)``.
    :param rest_api: the API whose stage is throttled.
    :param stage_name: the stage to throttle.
    :param normal_rate_limit: the stage's rate limit, requests per second, restored on OK.
    :param normal_burst_limit: the stage's burst limit, restored on OK.
    :param tightened_rate_limit: rate limit while in ALARM, below ``normal_rate_limit``. Default: 2.
    :param tightened_burst_limit: burst limit while in ALARM, at most ``normal_burst_limit``. Default: 5.
    """

    alarms: Sequence[cw.IAlarm]
    rest_api: apigw.IRestApi
    stage_name: str
    normal_rate_limit: float
    normal_burst_limit: int
    tightened_rate_limit: float = 2
    tightened_burst_limit: int = 5

    def __post_init__(self) -> None:
        _check_throttle(self)
        object.__setattr__(self, "alarms", _alarms("ApiThrottleProps", self.alarms, "the API throttle"))


class RemediationRunbooks(Construct):
    """Self-healing for an LLM application: up to three SSM Automation runbooks wired to alarms by EventBridge.

    - **Model failover** (with ``model_failover``, :class:`ModelFailoverProps`): switches the model parameter to
      the fallback model while a failover alarm is in ALARM, back to the primary on OK.
    - **Prompt rollback** (with ``prompt_rollback``, :class:`PromptRollbackProps`): moves the prompt parameter
      to the previous prompt version when a quality alarm fires.
    - **API throttle** (with ``api_throttle``, :class:`ApiThrottleProps`): tightens the stage's throttling
      while a cost alarm is in ALARM, restores it on OK.

    The RAG function reads both parameters with a one-minute cache (a function of yours reads the model
    parameter with ``llm_observability_runtime.active_model_id``), so a runbook heals it without a
    deployment. Every run publishes one message to ``topic`` (alarm, mode, value before and after).
    Publishing goes through the automation role's IAM policy, so the topic's policy is not changed. Every run
    also puts ``HealingInProgress`` (1 first, 0 last) in ``metric_namespace`` with dimension ``service``;
    ``healing_alarm`` is in ALARM while it is 1, to suppress the workload's health alarm (``WorkloadHealth``).

    :param topic: where every run is recorded.
    :param topic_key: the topic's KMS key. Default: none (an unencrypted or AWS-managed-key topic).
    :param model_failover: the model failover runbook. Default: none (no model failover).
    :param prompt_rollback: the prompt rollback runbook. Default: none (no prompt rollback).
    :param api_throttle: the API throttle runbook. Default: none (no API throttle).
    :param metric_namespace: namespace of ``HealingInProgress`` (the workload's). Default: ``LLMObservability``.
    :param service: its ``service`` dimension (the workload's name). Default: this construct's unique name.
    :raises ConfigError: a props object of another type, no runbook at all, or a bad namespace or service.

    Attributes: ``documents`` (runbook -> ``CfnDocument``), ``role`` (the automation role), ``rules``
    (runbook -> {``ALARM``/``OK`` -> rule}), ``target_roles`` (runbook -> EventBridge role), ``dead_letter_queue``
    (every start EventBridge could not make, after 2 retries), ``dead_letter_alarm`` (on ``topic``, high) and
    ``healing_alarm`` (self-healing in progress, no actions).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        topic_key: kms.IKey | None = None,
        model_failover: ModelFailoverProps | None = None,
        prompt_rollback: PromptRollbackProps | None = None,
        api_throttle: ApiThrottleProps | None = None,
        metric_namespace: str = DEFAULT_NAMESPACE,
        service: str | None = None,
    ) -> None:
        for name, props, kind in (
            ("model_failover", model_failover, ModelFailoverProps),
            ("prompt_rollback", prompt_rollback, PromptRollbackProps),
            ("api_throttle", api_throttle, ApiThrottleProps),
        ):
            if props is not None and not isinstance(props, kind):
                raise ConfigError(
                    f"RemediationRunbooks '{name}' is a {type(props).__name__}: allowed is a {kind.__name__}, or None."
                )
        if model_failover is None and prompt_rollback is None and api_throttle is None:
            raise ConfigError(
                "RemediationRunbooks has no runbook: allowed is at least one of 'model_failover', 'prompt_rollback' "
                "and 'api_throttle'."
            )
        wanted = [automation.MODEL_FAILOVER] if model_failover is not None else []
        wanted += [automation.PROMPT_ROLLBACK] if prompt_rollback is not None else []
        wanted += [automation.API_THROTTLE] if api_throttle is not None else []
        contents = {runbook: _document(runbook) for runbook in wanted}  # before anything is built
        _check_healing(metric_namespace, service)
        super().__init__(scope, id)
        service = service or Names.unique_resource_name(self, max_length=64, separator="-")
        self._contents = contents
        stack = Stack.of(self)
        self.documents: dict[str, ssm.CfnDocument] = {}
        self.rules: dict[str, dict[str, events.Rule]] = {}
        self.target_roles: dict[str, iam.Role] = {}
        self.role = iam.Role(
            self,
            "AutomationRole",
            assumed_by=iam.ServicePrincipal(
                SSM_SERVICE,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:ssm:{stack.region}:{stack.account}:automation-execution/*"
                    },
                },
            ),
            description="Runs the self-healing runbooks: changes the model and prompt parameters and the API throttling.",
        )
        # A start EventBridge could not make (throttled, the document or role broken) waits here, and pages.
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetters", purpose="the runbooks' EventBridge targets")
        self.dead_letter_alarm = cw.Alarm(
            self,
            "RunbookNotStarted",
            metric=dead_letter_metric(self.dead_letter_queue),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description="EventBridge could not start a self-healing runbook: the alarm's event is in the "
            "runbooks' dead-letter queue (its body is the event).",
        )
        sns_alarm_action(topic).bind(self.dead_letter_alarm, Severity.HIGH)
        self._allow("RecordRuns", ["sns:Publish"], [topic.topic_arn])
        # PutMetricData has no resource-level permissions; the namespace condition is the scope.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishHealing", actions=["cloudwatch:PutMetricData"], resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": metric_namespace}},
            )  # fmt: skip
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions; the grant is limited to the workload's "
            "metric namespace by the cloudwatch:namespace condition.",
        )
        self.healing_alarm = healing_alarm(
            self, "HealingInProgress", metric_namespace=metric_namespace, service=service, record_topic=topic
        )
        healing = {"metric_namespace": metric_namespace, "service_name": service}
        if topic_key is not None:
            self._allow("EncryptRecords", ["kms:Decrypt", "kms:GenerateDataKey"], [topic_key.key_arn])
        role_arn, topic_arn = self.role.role_arn, topic.topic_arn

        if model_failover is not None:
            failover = model_failover
            self._allow("SwitchModel", ["ssm:GetParameter", "ssm:PutParameter"], [failover.model_parameter.parameter_arn])
            self._runbook(
                automation.MODEL_FAILOVER, "ModelFailover", failover.alarms,
                lambda mode: automation.model_failover_input(
                    mode, assume_role_arn=role_arn, model_parameter_name=failover.model_parameter.parameter_name,
                    primary_model_id=failover.primary_model_id, fallback_model_id=failover.fallback_model_id,
                    topic_arn=topic_arn, **healing,
                ),
            )  # fmt: skip

        if prompt_rollback is not None:
            rollback = prompt_rollback
            self._allow(
                "RollBackPrompt", ["ssm:GetParameter", "ssm:PutParameter"], [rollback.prompt_parameter.parameter_arn]
            )
            versions = f"{rollback.prompt_arn}:*"
            self._allow("ReadPromptVersions", ["bedrock:GetPrompt"], [rollback.prompt_arn, versions])
            self.role.node.add_validation(
                _AcknowledgeWildcardAtSynthesis(
                    self.role,
                    versions,
                    "The rollback checks the version before the active one, known only at run time; the grant "
                    "is GetPrompt on the versions of this one prompt.",
                )
            )
            self._runbook(
                automation.PROMPT_ROLLBACK, "PromptRollback", rollback.alarms,
                lambda mode: automation.prompt_rollback_input(
                    mode, assume_role_arn=role_arn, prompt_parameter_name=rollback.prompt_parameter.parameter_name,
                    topic_arn=topic_arn, **healing,
                ),
            )  # fmt: skip

        if api_throttle is not None:
            throttle = api_throttle
            stage_arn = (
                f"arn:{Aws.PARTITION}:apigateway:{stack.region}::/restapis/{throttle.rest_api.rest_api_id}"
                f"/stages/{throttle.stage_name}"
            )
            self._allow("ThrottleStage", ["apigateway:PATCH"], [stage_arn])
            self._runbook(
                automation.API_THROTTLE, "ApiThrottle", throttle.alarms,
                lambda mode: automation.api_throttle_input(
                    mode, assume_role_arn=role_arn, rest_api_id=throttle.rest_api.rest_api_id,
                    stage_name=throttle.stage_name, normal_rate_limit=throttle.normal_rate_limit,
                    normal_burst_limit=throttle.normal_burst_limit, tightened_rate_limit=throttle.tightened_rate_limit,
                    tightened_burst_limit=throttle.tightened_burst_limit, topic_arn=topic_arn, **healing,
                ),
            )  # fmt: skip

    def _allow(self, sid: str, actions: list[str], resources: list[str]) -> None:
        self.role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))

    def _runbook(
        self,
        runbook: str,
        id: str,
        alarms: Sequence[cw.IAlarm],
        parameters: Callable[[str], Mapping[str, Sequence[ParameterValue]]],
    ) -> None:
        scope = Construct(self, id)
        document = ssm.CfnDocument(
            scope, "Document", content=self._contents[runbook], document_type="Automation", document_format="JSON"
        )
        # Known rule names let the events role trust exactly its rules (their ARNs as references would be a cycle:
        # rule -> role -> rule).
        stack = Stack.of(self)
        states = automation.STATE_MODES[runbook]
        rule_names = {state: Names.unique_resource_name(scope, max_length=56, separator="-") + f"-{state.lower()}"
                      for state in states}  # fmt: skip
        events_role = iam.Role(
            scope,
            "EventsRole",
            assumed_by=iam.ServicePrincipal(
                EVENTS_SERVICE,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {
                        "aws:SourceArn": [
                            stack.format_arn(service="events", resource="rule", resource_name=name)
                            for name in rule_names.values()
                        ]
                    },
                },
            ),
            description=f"Lets EventBridge start the {runbook.replace('_', ' ')} runbook.",
        )
        arns = [alarm.alarm_arn for alarm in alarms]
        self.rules[runbook] = {}
        for state, mode in states.items():
            pattern = automation.alarm_state_pattern(arns, state)
            rule = events.Rule(
                scope,
                f"On{state.capitalize()}",
                rule_name=rule_names[state],
                description=f"Starts the {runbook.replace('_', ' ')} runbook (Mode={mode}) when one of its "
                f"{len(arns)} alarm(s) enters {state}.",
                event_pattern=events.EventPattern(
                    source=pattern["source"],
                    detail_type=pattern["detail-type"],
                    resources=pattern["resources"],
                    detail=pattern["detail"],
                ),
            )
            rule.add_target(
                SsmAutomationTarget(
                    document.ref, parameters=parameters(mode), role=events_role, assume_role=self.role,
                    dead_letter_queue=self.dead_letter_queue,
                )  # fmt: skip
            )
            self.rules[runbook][state] = rule
        self.documents[runbook] = document
        self.target_roles[runbook] = events_role


# --- Input checks (one sentence each, naming the setting and what is allowed) -------------------------------
def _document(runbook: str) -> dict[str, Any]:
    """The runbook's document, validated (with botocore's API models when botocore is installed)."""
    content = automation.DOCUMENTS[runbook]()
    problems = automation.validate_document(content, api_models=_API_MODELS)
    if problems:
        raise ConfigError(
            f"RemediationRunbooks document {runbook!r} is invalid ({problems[0]}): allowed is a document that "
            "passes llm_observability.automation.validate_document."
        )
    return content


def _check_healing(namespace: str, service: str | None) -> None:
    for name, value, pattern, allowed in (
        ("metric_namespace", namespace, automation.METRIC_NAMESPACE_PATTERN, "a custom CloudWatch namespace (not AWS/)"),
        ("service", service, automation.SERVICE_NAME_PATTERN, "1-255 letters, digits, '.', '_' or '-'"),
    ):
        if value is not None and (not isinstance(value, str) or (_literal(value) and not re.fullmatch(pattern, value))):
            raise ConfigError(f"RemediationRunbooks '{name}' is {value!r}: allowed is {allowed}, or leave it out.")


def _literal(value: Any) -> bool:
    return isinstance(value, str) and not Token.is_unresolved(value)


def _check_models(primary: str, fallback: str) -> None:
    pattern = re.compile(automation.MODEL_ID_PATTERN)
    for name, value in (("primary_model_id", primary), ("fallback_model_id", fallback)):
        if not isinstance(value, str) or (_literal(value) and not pattern.fullmatch(value)):
            raise ConfigError(
                f"ModelFailoverProps '{name}' is {value!r}: allowed is a Bedrock model id, inference-profile id or "
                "model ARN that the RAG function accepts, such as amazon.nova-lite-v1:0."
            )
    if primary == fallback:
        raise ConfigError(
            f"ModelFailoverProps 'fallback_model_id' is {fallback!r}: allowed is a model other than 'primary_model_id'."
        )


def _alarms(owner: str, alarms: Sequence[cw.IAlarm], runbook: str) -> tuple[cw.IAlarm, ...]:
    if isinstance(alarms, str) or not alarms or not all(hasattr(a, "alarm_arn") for a in alarms):
        raise ConfigError(
            f"{owner} 'alarms' is {'empty' if not alarms else repr(alarms)}: allowed is one or more CloudWatch "
            f"alarms that start {runbook}."
        )
    return tuple(alarms)


def _check_throttle(props: ApiThrottleProps) -> None:
    stage_name = props.stage_name
    if not isinstance(stage_name, str) or (
        _literal(stage_name) and not re.fullmatch(automation.STAGE_NAME_PATTERN, stage_name)
    ):
        raise ConfigError(
            f"ApiThrottleProps 'stage_name' is {stage_name!r}: allowed is the name of a stage of 'rest_api' "
            "(1-128 letters, digits, _ or -)."
        )
    rate_pattern = re.compile(automation.RATE_LIMIT_PATTERN)
    for name in ("normal_rate_limit", "tightened_rate_limit"):
        value = getattr(props, name)
        if not _number(value) or value <= 0 or not rate_pattern.fullmatch(automation.format_limit(value)):
            raise ConfigError(
                f"ApiThrottleProps '{name}' is {value!r}: allowed is a number of requests per second above 0 "
                "(at most 99999, three decimals)."
            )
    for name in ("normal_burst_limit", "tightened_burst_limit"):
        value = getattr(props, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 9999:
            raise ConfigError(f"ApiThrottleProps '{name}' is {value!r}: allowed is a whole number from 1 to 9999.")
    if props.tightened_rate_limit >= props.normal_rate_limit:
        raise ConfigError(
            f"ApiThrottleProps 'tightened_rate_limit' is {props.tightened_rate_limit:g}: allowed is a limit below "
            f"'normal_rate_limit' ({props.normal_rate_limit:g})."
        )
    if props.tightened_burst_limit > props.normal_burst_limit:
        raise ConfigError(
            f"ApiThrottleProps 'tightened_burst_limit' is {props.tightened_burst_limit}: allowed is at most "
            f"'normal_burst_limit' ({props.normal_burst_limit})."
        )
