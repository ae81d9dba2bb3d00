"""Daily drift of the production output (answer length, refusals, grounding, judge scores) and prompt diversity."""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability import checkov
from llm_observability.compliance_profile import limit_grants_to_aws_services
from llm_observability.config.bounds import (
    DRIFT_BASELINE_DAYS,
    DRIFT_KS_THRESHOLD,
    DRIFT_MIN_SAMPLES,
    DRIFT_PSI_THRESHOLD,
    NEAR_DUPLICATE_JACCARD,
    POWERTOOLS_VERSION,
)
from llm_observability.config.choices import DriftStatistic
from llm_observability.constructs._common import (
    access_logs_bucket,
    dead_letter_metric,
    function_role,
    log_encryption_key,
    private_bucket,
)
from llm_observability.constructs._scheduled import grant_log_queries, log_group_names, log_line, scheduled_function
from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory, AlarmRole, Severity
from llm_observability.errors import ConfigError
from llm_observability.functions.output_drift import drift_telemetry as dt
from llm_observability.left_out import leave_out
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.validation import choice
from llm_observability.workload import Workload

#: The period of the drift metrics and alarm: one value a day.
DAY = Duration.days(1)
#: Access logs of the state bucket are kept at least this long.
MIN_ACCESS_LOG_DAYS = 90
#: The state bucket keeps a day's samples this many days beyond the baseline (a late or retried run still finds it).
STATE_SLACK_DAYS = 2


class OutputDrift(Construct):
    """Compares each UTC day of production answers with the days before it, per model and signal, and measures
    how varied the day's questions were. A function runs daily at 01:15 UTC for the previous day (24 hourly Logs
    Insights queries of the workload's log groups, plus the online judge's ``judge_result`` lines when
    ``judge_log_group`` is given) and publishes:

    - ``OutputDrift`` {service, ModelId, Signal}: the day's ``statistic`` (PSI over the baseline's deciles, or the
      two-sample KS distance) of ``AnswerLength``, ``Refusal``, ``Grounding``, ``JudgeRelevance``,
      ``JudgeFaithfulness`` and ``JudgeCoherence`` against the union of the ``baseline_days`` days before
      (seeded samples of at most 2,000 values per model, signal and day, kept in an encrypted, expiring S3 bucket);
      ``OutputDriftMax`` {service}, the largest of them;
    - with ``diversity``: ``QuestionsAnalyzed``, ``DistinctQuestions`` and ``NearDuplicateShare`` {service} (MinHash
      over word 3-shingles, exact Jaccard at least ``near_duplicate_jaccard``).

    Alarms: ``OutputDrift`` (``QUALITY``, low: drift must not roll a prompt back), ``OutputDriftMax`` above the
    statistic's threshold for one day; ``DriftNotStarted`` (``AVAILABILITY``, low), a run that did not start or
    failed every attempt is in the dead-letter queue.

    Signals the workload cannot feed are left out (one entry each in the stack's left-out warning): answer length
    without ``log_schema.answer_length``; refusals and diversity without question and answer text
    (``prompt_logging`` ``full`` or ``redacted``); grounding without ``log_schema.grounding_score`` and a guardrail
    (``guardrail_arn``); the judge's scores without ``judge_log_group``.

    :param workload: the observed application: ``log_groups`` (1-50) and a ``log_schema`` are required.
    :param judge_log_group: the online judge's log group (``OnlineJudge.function_log_group``). Default: none (no
        judge signals).
    :param baseline_days: days before the analysed day that form the baseline (3-28). Default: 7.
    :param statistic: ``psi`` or ``ks``: the value of ``OutputDrift`` and what the alarm compares. Default: ``psi``.
    :param psi_threshold: alarm above this PSI (above 0, at most 10). Default: 0.25.
    :param ks_threshold: alarm above this KS distance (above 0, at most 1). Default: 0.2.
    :param min_samples: fewest values on each side for a signal to be compared (10-10,000). Default: 50.
    :param diversity: publish the prompt-diversity figures (needs the question text). Default: true.
    :param near_duplicate_jaccard: Jaccard similarity from which two questions are near-duplicates (0.5-1).
        Default: 0.8.
    :param log_key: KMS key of the function's log group. Default: a new rotating key.
    :param log_retention_days: retention of its log group. Default: 30.
    :param powertools_layer_version: version of the Powertools layer. Default: the tested release.
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the workload's topic
        or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``function``, ``rule``, ``dead_letter_queue``, ``state_bucket``, ``state_key``, ``signals``,
    ``metrics``, ``alarms`` (by name), ``roled_alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        judge_log_group: logs.ILogGroup | None = None,
        baseline_days: int = 7,
        statistic: DriftStatistic = "psi",
        psi_threshold: float = 0.25,
        ks_threshold: float = 0.2,
        min_samples: int = 50,
        diversity: bool = True,
        near_duplicate_jaccard: float = 0.8,
        log_key: kms.IKey | None = None,
        log_retention_days: int = 30,
        powertools_layer_version: str = POWERTOOLS_VERSION,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        owner = "OutputDrift"
        factory = AlarmFactory.notifying(self, owner=owner, action=action, topic=topic or workload.alert_topic)
        schema = log_line(workload, owner)
        DRIFT_BASELINE_DAYS.check("baseline_days", baseline_days, owner=owner)
        choice("statistic", statistic, DriftStatistic, owner=owner)
        DRIFT_PSI_THRESHOLD.check("psi_threshold", psi_threshold, owner=owner)
        DRIFT_KS_THRESHOLD.check("ks_threshold", ks_threshold, owner=owner)
        DRIFT_MIN_SAMPLES.check("min_samples", min_samples, owner=owner)
        NEAR_DUPLICATE_JACCARD.check("near_duplicate_jaccard", near_duplicate_jaccard, owner=owner)
        choice("diversity", diversity, (True, False), owner=owner)

        signals = drift_signals(workload, judged=judge_log_group is not None)
        if dt.SIGNAL_ANSWER_LENGTH not in signals:
            leave_out(self, "output drift of answer length", "log_schema",
                      how="name the answer-length field of the answer line (LogSchema answer_length=...)")  # fmt: skip
        if dt.SIGNAL_REFUSAL not in signals:
            leave_out(self, "output drift of refusals", "prompt_logging")
            if diversity:
                leave_out(self, "prompt diversity", "prompt_logging")
            diversity = False
        if dt.SIGNAL_GROUNDING not in signals:
            leave_out(self, "output drift of grounding scores", "log_schema",
                      how="apply a guardrail with contextual grounding (guardrail_arn=...) and name its score field "
                      "(LogSchema grounding_score=...)")  # fmt: skip
        if judge_log_group is None:
            leave_out(self, "output drift of the judge's scores", "online_judge_sample_percent", source="setting",
                      how="run the online judge (online_judge_sample_percent above 0) and pass its log group as "
                      "judge_log_group")  # fmt: skip
        if not signals:  # no text either (that would be the refusal signal), so no prompt diversity
            raise ConfigError(f"{owner} 'workload' feeds no drift signal and no question text: allowed is a workload "
                              "whose log_schema names answer_length, or whose prompt_logging is full or redacted.")  # fmt: skip
        self.signals = tuple(signals)

        key = log_key or log_encryption_key(self, "LogKey", description="Encrypts the output drift function's logs.")
        role, log_group = function_role(
            self, "Drift", key=key, retention_days=log_retention_days,
            description=f"Measures the daily output drift and prompt diversity of {workload.name}.",
        )  # fmt: skip
        queried = [*workload.log_groups, *([judge_log_group] if judge_log_group is not None else [])]
        grant_log_queries(role, queried)

        self.state_key = kms.Key(self, "StateKey", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN,
                                 description="Encrypts the output drift function's daily samples.")  # fmt: skip
        limit_grants_to_aws_services(self.state_key)
        expiration = baseline_days + STATE_SLACK_DAYS
        access_logs = access_logs_bucket(self, "StateAccessLogs", expiration_days=max(expiration, MIN_ACCESS_LOG_DAYS))
        self.state_bucket = private_bucket(
            self, "State", key=self.state_key, object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            access_logs=access_logs, access_logs_prefix="drift-state/",
            lifecycle=s3.LifecycleRule(expiration=Duration.days(expiration),
                                       abort_incomplete_multipart_upload_after=Duration.days(1)),
        )  # fmt: skip
        checkov.skip(self.state_bucket, "CKV_AWS_21",
                     "Derived daily samples, rewritten whole by a rerun of the same day and expiring after the baseline; "
                     "the application's logs are the record they are rebuilt from.")  # fmt: skip
        self._grant_state(role)

        environment = {
            dt.ENV_LOG_GROUP_NAMES: log_group_names(self, workload),
            dt.ENV_LOG_SCHEMA: schema.document(),
            dt.ENV_STATE_BUCKET: self.state_bucket.bucket_name,
            dt.ENV_SIGNALS: json.dumps(signals, separators=(",", ":")),
            dt.ENV_DRIFT_BASELINE_DAYS: str(baseline_days),
            dt.ENV_DRIFT_STATISTIC: statistic,
            dt.ENV_DRIFT_MIN_SAMPLES: str(min_samples),
            dt.ENV_DIVERSITY: "true" if diversity else "false",
            dt.ENV_NEAR_DUPLICATE_JACCARD: f"{near_duplicate_jaccard:g}",
        }
        if judge_log_group is not None:
            environment[dt.ENV_JUDGE_LOG_GROUP] = judge_log_group.log_group_name
        scheduled = scheduled_function(
            self, workload=workload, folder="output_drift", shared=("logs_query", "textstats"),
            description=f"{workload.name}: daily output drift (KS, PSI) and prompt diversity",
            # Lambda retries a failed run twice (same event, same day), then the queue.
            schedule=events.Schedule.cron(minute="15", hour="1"),
            run_description=f"Runs the {workload.name} output drift for the previous UTC day.",
            role=role, log_group=log_group, environment=environment, timeout=Duration.minutes(15), memory_size=1024,
            powertools_layer_version=powertools_layer_version,
            queue_purpose="the output drift schedule and of its function's asynchronous runs",
        )  # fmt: skip
        self.function, self.rule = scheduled.function, scheduled.rule
        self.dead_letter_queue = scheduled.dead_letter_queue

        def metric(name: str, statistic_: str = "Maximum") -> cw.Metric:
            return cw.Metric(namespace=workload.metric_namespace, metric_name=name, statistic=statistic_,
                             dimensions_map={dt.DIM_SERVICE: workload.name}, period=DAY, label=name)  # fmt: skip

        self.workload = workload
        self.statistic = statistic
        self.threshold = psi_threshold if statistic == "psi" else ks_threshold
        self.metrics = {dt.METRIC_OUTPUT_DRIFT_MAX: metric(dt.METRIC_OUTPUT_DRIFT_MAX)}
        if diversity:
            self.metrics.update({name: metric(name, "Average") for name in dt.DIVERSITY_METRICS})
        self.diversity = diversity
        self.alarms: dict[str, cw.Alarm] = {
            "OutputDrift": factory.add_alarm(
                "OutputDrift", metric=self.metrics[dt.METRIC_OUTPUT_DRIFT_MAX], threshold=self.threshold,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=Severity.LOW,
                role=AlarmRole.QUALITY, evaluation_periods=1, datapoints_to_alarm=1,
                description=f"A model's output drifted from its last {baseline_days} days: the day's "
                f"{statistic.upper()} of a signal is above {self.threshold:g} (see the drift_result log lines).",
            ),
            "DriftNotStarted": factory.add_alarm(
                "DriftNotStarted", metric=dead_letter_metric(self.dead_letter_queue), threshold=0,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=Severity.LOW,
                role=AlarmRole.AVAILABILITY, evaluation_periods=1,
                description="An output drift run did not start or failed every attempt: its event is in the "
                "dead-letter queue.",
            ),
        }  # fmt: skip
        self.roled_alarms = tuple(factory.alarms)

    def _grant_state(self, role: iam.IRole) -> None:
        """Read and write ``samples/`` of the state bucket (and list it, so a missing day reads as NoSuchKey)."""
        objects = self.state_bucket.arn_for_objects("samples/*")
        role.add_to_principal_policy(iam.PolicyStatement(sid="ReadWriteSamples", resources=[objects],
                                                         actions=["s3:GetObject", "s3:PutObject"]))  # fmt: skip
        # ListBucket makes S3 answer 404 NoSuchKey, not 403, for a day not stored yet (no prefix condition: a
        # GetObject request has no s3:prefix, so a conditional grant would not count for it).
        role.add_to_principal_policy(iam.PolicyStatement(sid="ListSamples", actions=["s3:ListBucket"],
                                                         resources=[self.state_bucket.bucket_arn]))  # fmt: skip
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EncryptSamples", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.state_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
        ))  # fmt: skip
        acknowledge(role, f"AwsSolutions-IAM5[Resource::{finding_resource(role, objects)}]",
                    "One object per day under samples/<service>/<date>.json; the grant is Get/PutObject under that "
                    "prefix of this one bucket.")  # fmt: skip

    def by_signal(self, statistic: str = "Maximum") -> cw.MathExpression:
        """``OutputDrift`` per model and signal (a SEARCH over the function's metrics), for dashboards."""
        workload = self.workload
        schema = f"{{{workload.metric_namespace},{dt.DIM_SERVICE},{dt.DIM_MODEL_ID},{dt.DIM_SIGNAL}}}"
        query = f'{schema} MetricName="{dt.METRIC_OUTPUT_DRIFT}" {dt.DIM_SERVICE}="{workload.name}"'
        return cw.MathExpression(expression=f"SEARCH('{query}', '{statistic}', {int(DAY.to_seconds())})",
                                 label="OutputDrift by model and signal", using_metrics={})  # fmt: skip

    def widgets(self) -> list[cw.IWidget]:
        """Drift per model and signal with the alarm threshold; with diversity, distinct questions and the
        near-duplicate share."""
        widgets: list[cw.IWidget] = [
            cw.GraphWidget(
                title=f"Output drift ({self.statistic.upper()}) by model and signal, daily",
                left=[self.by_signal()],
                left_annotations=[cw.HorizontalAnnotation(value=self.threshold, label="alarm threshold")],
                left_y_axis=cw.YAxisProps(min=0, show_units=False),
                width=12,
            )
        ]
        if self.diversity:
            widgets.append(
                cw.GraphWidget(
                    title="Prompt diversity: questions and distinct questions (left), near-duplicate share (right)",
                    left=[self.metrics[dt.METRIC_QUESTIONS_ANALYZED], self.metrics[dt.METRIC_DISTINCT_QUESTIONS]],
                    right=[self.metrics[dt.METRIC_NEAR_DUPLICATE_SHARE].with_(label="near-duplicate share (%)")],
                    right_y_axis=cw.YAxisProps(min=0, max=100, show_units=False),
                    width=12,
                )
            )
        return widgets


def drift_signals(workload: Workload, *, judged: bool) -> list[str]:
    """The output signals ``workload``'s log line feeds (``judged``: the online judge's scores are read too)."""
    schema = workload.log_schema
    signals = []
    if schema is not None and schema.answer_length is not None:
        signals.append(dt.SIGNAL_ANSWER_LENGTH)
    if workload.logs_prompt_text:
        signals.append(dt.SIGNAL_REFUSAL)
    if schema is not None and schema.grounding_score is not None and workload.guardrail_arn is not None:
        signals.append(dt.SIGNAL_GROUNDING)
    if judged:
        signals.extend(dt.JUDGE_SIGNALS)
    return signals
