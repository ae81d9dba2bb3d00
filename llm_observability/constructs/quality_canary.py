"""A scheduled canary that scores the RAG answers of a golden question set (quality and drift)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.config.bounds import POWERTOOLS_VERSION, QUALITY_CANARY_MINUTES, ROUGE_L_FLOOR
from llm_observability.constructs._common import (
    dead_letter_metric,
    function_role,
    log_encryption_key,
)
from llm_observability.constructs._scheduled import scheduled_function
from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory, AlarmRole, Severity
from llm_observability.errors import ConfigError
from llm_observability.functions.quality_canary import canary_telemetry as ct
from llm_observability.workload import Workload


class QualityCanary(Construct):
    """Runs the golden question set (``functions/quality_canary/golden_set.json``) through the workload's
    function on a schedule and publishes ROUGE-L, BLEU, token F1, answer length and refusal rate per
    model and prompt version, plus the same scores for the whole service, which the alarms watch:

    - quality drop: the run's average ROUGE-L below ``rouge_l_floor``;
    - drift: ROUGE-L below its anomaly band (CloudWatch learns the normal level);
    - refusals: more than ``refusal_ceiling_percent`` of golden questions refused;
    - canary broken: no scored question for two schedule periods, or failed questions.

    The quality drop is the one high-severity ``QUALITY`` alarm (the Level 3 prompt rollback's trigger);
    drift and refusals are low-severity ``QUALITY``, the two canary-broken alarms ``AVAILABILITY``.

    The canary invokes the function directly (Lambda Invoke with an API Gateway proxy event made from the
    workload's ``request_contract``: method, path, body with the question, the answer's JSON path; passed to
    the function as ``REQUEST_CONTRACT``), so the whole handler path runs without needing API credentials.

    :param workload: the observed application, with a ``request_contract``: its first function is invoked.
    :param schedule: how often the canary runs (each run costs one Bedrock call per golden question).
        Default: 1 hour.
    :param rouge_l_floor: alarm below this average ROUGE-L (0-1). Default: 0.2.
    :param refusal_ceiling_percent: alarm above this refusal rate. Default: 50.
    :param band_width: width of the drift band in standard deviations. Default: 2.
    :param log_key: KMS key of the canary's log group. Default: a new rotating key.
    :param log_retention_days: retention of its log group. Default: 30.
    :param powertools_layer_version: version of the Powertools layer. Default: the tested release
        (``POWERTOOLS_VERSION``).
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the workload's
        topic or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``function``, ``rule``, ``metrics`` and ``alarms`` (by name), ``roled_alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        schedule: Duration = Duration.hours(1),
        rouge_l_floor: float = 0.2,
        refusal_ceiling_percent: float = 50,
        band_width: float = 2.0,
        log_key: kms.IKey | None = None,
        log_retention_days: int = 30,
        powertools_layer_version: str = POWERTOOLS_VERSION,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        factory = AlarmFactory.notifying(
            self, owner="QualityCanary", action=action, topic=topic or workload.alert_topic, evaluation_periods=2
        )
        if not workload.functions:
            raise ConfigError("QualityCanary 'workload.functions' is empty: allowed is a workload with its RAG function.")
        if workload.request_contract is None:
            raise ConfigError(
                "QualityCanary 'workload.request_contract' is missing: allowed is a workload with a RequestContract "
                "saying how the canary calls the app (RequestContract.reference() for the reference RAG API)."
            )
        ROUGE_L_FLOOR.check("rouge_l_floor", rouge_l_floor, owner="QualityCanary")
        if not 0 < refusal_ceiling_percent <= 100:
            raise ConfigError(
                f"QualityCanary 'refusal_ceiling_percent' is {refusal_ceiling_percent!r}: allowed is a number above 0, at most 100."
            )
        if not QUALITY_CANARY_MINUTES.lo * 60 <= schedule.to_seconds() <= QUALITY_CANARY_MINUTES.hi * 60:
            raise ConfigError(
                f"QualityCanary 'schedule' is {schedule.to_human_string()}: allowed is {QUALITY_CANARY_MINUTES.allowed} minutes."
            )
        target = workload.functions[0]
        key = log_key or log_encryption_key(self, "LogKey", description="Encrypts the quality canary's logs.")
        role, log_group = function_role(
            self, "Canary", key=key, retention_days=log_retention_days,
            description=f"Runs the {workload.name} golden questions through its RAG function.",
        )  # fmt: skip
        # The unqualified function only (grant_invoke would add every version and alias, ":*").
        role.add_to_policy(
            iam.PolicyStatement(sid="InvokeRagFunction", actions=["lambda:InvokeFunction"], resources=[target.function_arn])
        )
        # A run EventBridge could not start, or that failed every attempt in Lambda, waits in the dead-letter queue
        # (alarmed below); no EventBridge retry, the next run comes soon.
        scheduled = scheduled_function(
            self, workload=workload, folder="quality_canary", shared=("textstats",),
            description=f"{workload.name}: quality canary (ROUGE-L, BLEU, token F1 on a golden set)",
            schedule=events.Schedule.rate(schedule), run_description=f"Runs the {workload.name} quality canary.",
            role=role, log_group=log_group, timeout=Duration.minutes(5), memory_size=256,
            environment={
                ct.ENV_TARGET_FUNCTION_NAME: target.function_name,
                ct.ENV_REQUEST_CONTRACT: workload.request_contract.document(
                    default_model_id=workload.primary_model_id or workload.model_ids[0]
                ),
            },
            powertools_layer_version=powertools_layer_version,
            queue_purpose="the canary's schedule and of its function's asynchronous runs",
        )  # fmt: skip
        self.function, self.rule = scheduled.function, scheduled.rule
        self.dead_letter_queue = scheduled.dead_letter_queue

        def metric(name: str, statistic: str = "Average") -> cw.Metric:
            return cw.Metric(
                namespace=workload.metric_namespace,
                metric_name=name,
                dimensions_map={ct.DIM_SERVICE: workload.name},
                statistic=statistic,
                period=schedule,
                label=name,
            )

        self.metrics = {name: metric(name) for name in (ct.METRIC_ROUGE_L, ct.METRIC_BLEU, ct.METRIC_TOKEN_F1,
                                                        ct.METRIC_ANSWER_LENGTH, ct.METRIC_REFUSAL_RATE)}  # fmt: skip
        self.metrics[ct.METRIC_CANARY_QUESTIONS] = metric(ct.METRIC_CANARY_QUESTIONS, "Sum")
        self.metrics[ct.METRIC_CANARY_FAILURES] = metric(ct.METRIC_CANARY_FAILURES, "Sum")
        below = cw.ComparisonOperator.LESS_THAN_THRESHOLD
        above = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        high, low = Severity.HIGH, Severity.LOW
        quality, availability = AlarmRole.QUALITY, AlarmRole.AVAILABILITY
        self.alarms: dict[str, cw.Alarm | cw.AnomalyDetectionAlarm] = {}
        for name, alarm_metric, threshold, comparison, missing, severity, alarm_role, description in (
            ("QualityDrop", self.metrics[ct.METRIC_ROUGE_L], rouge_l_floor, below, cw.TreatMissingData.NOT_BREACHING,
             high, quality, f"Golden-set ROUGE-L below {rouge_l_floor:g}: answers no longer match the references."),
            ("Refusals", self.metrics[ct.METRIC_REFUSAL_RATE], refusal_ceiling_percent, above,
             cw.TreatMissingData.NOT_BREACHING, low, quality,
             f"More than {refusal_ceiling_percent:g}% of golden questions refused."),
            ("CanaryFailures", self.metrics[ct.METRIC_CANARY_FAILURES], 0, above, cw.TreatMissingData.NOT_BREACHING,
             low, availability, "Golden questions got no scorable answer (errors, throttling, timeouts)."),
            ("CanaryNotRunning", self.metrics[ct.METRIC_CANARY_QUESTIONS], 1, below, cw.TreatMissingData.BREACHING,
             low, availability, "The quality canary scored no question: it is not running or every question failed."),
            ("CanaryNotStarted", dead_letter_metric(self.dead_letter_queue), 0, above,
             cw.TreatMissingData.NOT_BREACHING, low, availability,
             "EventBridge could not start a canary run: its event is in the canary's dead-letter queue."),
        ):  # fmt: skip
            self.alarms[name] = factory.add_alarm(
                name, metric=alarm_metric, threshold=threshold, comparison=comparison, treat_missing_data=missing,
                severity=severity, role=alarm_role, description=description,
            )  # fmt: skip
        self.alarms["QualityDrift"] = factory.add_anomaly_alarm(
            "QualityDrift",
            metric=self.metrics[ct.METRIC_ROUGE_L],
            std_devs=band_width,
            comparison=cw.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
            evaluation_periods=3,
            severity=low,
            role=quality,
            description="Golden-set ROUGE-L below its expected band: the model or prompt drifted.",
        )
        self.function_log_group = log_group
        self.band_width = band_width
        self.workload = workload
        self.roled_alarms = tuple(factory.alarms)  # each alarm with its role and severity, for Workload.with_alarms

    def by_version(self, name: str) -> cw.MathExpression:
        """``name`` per model and prompt version (a SEARCH over the canary's metrics), for dashboards."""
        return search_by_version(self.workload, name, int(self.metrics[ct.METRIC_ROUGE_L].period.to_seconds()))


def search_by_version(workload: Workload, name: str, period_seconds: int, statistic: str = "Average") -> cw.MathExpression:
    """A metric of the workload's namespace per model and prompt version, as a SEARCH expression."""
    schema = f"{{{workload.metric_namespace},{ct.DIM_SERVICE},{ct.DIM_MODEL_ID},{ct.DIM_PROMPT_VERSION}}}"
    query = f'{schema} MetricName="{name}" {ct.DIM_SERVICE}="{workload.name}"'
    return cw.MathExpression(
        expression=f"SEARCH('{query}', '{statistic}', {period_seconds})",
        label=f"{name} by model and prompt version",
        using_metrics={},
    )
