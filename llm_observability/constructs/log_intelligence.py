"""Log intelligence for an LLM workload: log anomaly detection, saved queries, log-pattern metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from aws_cdk import ArnFormat, Duration, Names, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.validation import choice
from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory, AlarmRole, RoledAlarm, Severity
from llm_observability.constructs.queries import saved_queries
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.runtime import telemetry as t
from llm_observability.workload import Workload
from llm_observability.workload_facts import LogSchema

#: Fragments of well-known prompt-injection phrasings, matched in the logged question (case as written:
#: CloudWatch filter patterns are case-sensitive, so fragments skip the first letter).
INJECTION_MARKERS: tuple[str, ...] = (
    "gnore previous instructions",
    "gnore all previous",
    "gnore the above",
    "isregard the above",
    "isregard previous",
    "ystem prompt",
    "ou are now",
    "eveloper mode",
    "ailbreak",
)
#: Fragments of refusals and "I don't know" answers, matched in the logged answer.
REFUSAL_MARKERS: tuple[str, ...] = (
    "don't know",
    "do not know",
    "cannot help",
    "can't help",
    "unable to answer",
    "not able to answer",
    "cannot answer",
    "no information",
)

#: How often the log anomaly detector evaluates (CloudFormation AWS::Logs::LogAnomalyDetector).
EvaluationFrequency = Literal["ONE_MIN", "FIVE_MIN", "TEN_MIN", "FIFTEEN_MIN", "THIRTY_MIN", "ONE_HOUR"]


@dataclass(frozen=True)
class LogSignal:
    """A log pattern turned into a metric (one per matching log line) and an alarm about ``role``."""

    metric_name: str
    field: str
    markers: tuple[str, ...]
    description: str
    role: AlarmRole

    def pattern(self, schema: LogSchema) -> logs.IFilterPattern:
        """JSON filter: the schema's answered-request line whose ``field`` (``question`` or ``answer``, named by the
        schema) contains any marker."""
        field = getattr(schema, self.field)
        alternatives = " || ".join(f'($.{field} = "*{m}*")' for m in self.markers)
        return logs.FilterPattern.literal(
            f'{{ ($.{schema.marker_field} = "{schema.marker_value}") && ({alternatives}) }}'
        )


PROMPT_INJECTION = LogSignal(
    "PromptInjectionMarkers", "question", INJECTION_MARKERS, "Questions carrying prompt-injection phrasing.",
    AlarmRole.SECURITY,
)  # fmt: skip
REFUSALS = LogSignal(
    "ModelRefusals", "answer", REFUSAL_MARKERS, "Answers where the model refused or did not know.", AlarmRole.QUALITY
)


class LogIntelligence(Construct):
    """CloudWatch Logs anomaly detector, saved Logs Insights queries and log-pattern metrics with alarms.

    - A log anomaly detector over the workload's log groups learns their normal patterns and flags new
      ones (new error messages, unusual volumes) in the CloudWatch Logs console and API. It needs no log schema.
    - Saved query definitions (Logs Insights > Saved queries, in a ``<workload>/`` folder), built from the
      workload's ``log_schema``: for the reference line errors by class, slowest requests by stage, token
      usage by prompt version, guardrail interventions, PII-redaction hits, slowest requests, recent errors;
      for another schema errors by class, recent errors and requests by model.
    - Metric filters on the schema's fields count prompt-injection phrasing in questions and refusals in
      answers (the ``service`` dimension comes from the log line) and alarm on them. They read the logged
      text, so they need ``prompt_logging`` ``redacted`` or ``full``. Both alarms are low severity; the
      injection alarm's role is ``SECURITY``, the refusal alarm's ``QUALITY``.

    Without a ``log_schema`` the queries, filters and alarms are left out (listed in the stack's
    ``llm-observability:left-out`` warning).

    :param workload: the observed application (at least one log group).
    :param anomaly_key: KMS key the log anomaly detector encrypts its findings with. Default: AWS-owned key.
    :param injection_threshold: prompt-injection matches per 5 minutes that raise the alarm. Default: 1.
    :param refusal_threshold: refusals per 15 minutes that raise the alarm. Default: 10.
    :param evaluation_frequency: how often the anomaly detector runs. Default: ``FIFTEEN_MIN``.
    :param topic: where alarm notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the
        workload's topic or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``anomaly_detector``, ``queries``, ``metrics`` and ``alarms`` (by metric name), ``roled_alarms``.
    """

    EVALUATION_FREQUENCIES: tuple[EvaluationFrequency, ...] = get_args(EvaluationFrequency)

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        anomaly_key: kms.IKey | None = None,
        injection_threshold: float = 1,
        refusal_threshold: float = 10,
        evaluation_frequency: EvaluationFrequency = "FIFTEEN_MIN",
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not workload.log_groups:
            raise ConfigError("LogIntelligence 'workload.log_groups' is empty: allowed is a workload with at least one log group.")
        factory = AlarmFactory.notifying(self, owner="LogIntelligence", action=action, topic=topic or workload.alert_topic)
        choice("evaluation_frequency", evaluation_frequency, EvaluationFrequency, owner="LogIntelligence")
        for name, value in (("injection_threshold", injection_threshold), ("refusal_threshold", refusal_threshold)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"LogIntelligence '{name}' is {value!r}: allowed is a number above 0.")
        stack = Stack.of(self)

        self.anomaly_detector = logs.CfnLogAnomalyDetector(
            self,
            "AnomalyDetector",
            detector_name=Names.unique_resource_name(self, max_length=60, separator="-"),
            log_group_arn_list=[
                stack.format_arn(
                    service="logs", resource="log-group", resource_name=g.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
                for g in workload.log_groups
            ],
            evaluation_frequency=evaluation_frequency,
            anomaly_visibility_time=21,
            kms_key_id=anomaly_key.key_arn if anomaly_key else None,
        )

        self.queries: list[logs.CfnQueryDefinition] = []
        self.metrics: dict[str, cw.Metric] = {}
        self.alarms: dict[str, cw.Alarm] = {}
        self.roled_alarms: tuple[RoledAlarm, ...] = ()
        schema = workload.log_schema
        if schema is None:
            for feature in ("Saved Logs Insights queries", "Prompt-injection and refusal log metrics and their alarms"):
                leave_out(self, feature, "log_schema")
            return
        # The L1 resource: QueryDefinition (L2) builds queries from parts, these are written whole.
        self.queries = [
            logs.CfnQueryDefinition(
                self,
                f"Query-{name}",
                name=f"{workload.name}/{name}",
                query_string=text,
                log_group_names=[g.log_group_name for g in workload.log_groups],
            )
            for name, text in saved_queries(schema).items()
        ]

        for signal, threshold, period in (
            (PROMPT_INJECTION, injection_threshold, Duration.minutes(5)),
            (REFUSALS, refusal_threshold, Duration.minutes(15)),
        ):
            filters = [
                logs.MetricFilter(
                    self,
                    f"{signal.metric_name}Filter{i}",
                    log_group=group,
                    filter_pattern=signal.pattern(schema),
                    metric_namespace=workload.metric_namespace,
                    metric_name=signal.metric_name,
                    metric_value="1",
                    dimensions={t.DIM_SERVICE: f"$.{schema.service}"},
                    unit=cw.Unit.COUNT,
                )
                for i, group in enumerate(workload.log_groups)
            ]
            # Every filter writes the same metric; one accessor reads them all.
            metric = filters[0].metric(
                statistic="Sum", period=period, dimensions_map={t.DIM_SERVICE: workload.name}, label=signal.metric_name
            )
            self.metrics[signal.metric_name] = metric
            self.alarms[signal.metric_name] = factory.add_alarm(
                f"{signal.metric_name}Alarm",
                name=signal.metric_name,
                metric=metric,
                threshold=threshold,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                severity=Severity.LOW,
                role=signal.role,
                description=signal.description,
            )
        self.roled_alarms = tuple(factory.alarms)  # each alarm with its role and severity, for Workload.with_alarms
