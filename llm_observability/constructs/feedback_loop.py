"""The feedback loop closed: user ratings tied to the model and prompt version that answered, alarmed, and
optionally kept in an encrypted review set from which ``llm-observability golden propose`` proposes golden
questions."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.compliance_profile import limit_grants_to_aws_services
from llm_observability.config.bounds import (
    FEEDBACK_JOIN_MINUTES,
    FEEDBACK_LOOKBACK_HOURS,
    NEGATIVE_CEILING_PERCENT,
    POWERTOOLS_VERSION,
    REVIEW_DAYS,
)
from llm_observability.constructs._common import (
    access_logs_bucket,
    dead_letter_metric,
    function_role,
    log_encryption_key,
    private_bucket,
)
from llm_observability.constructs._scheduled import (
    grant_log_queries,
    log_group_names,
    log_line,
    scheduled_function,
    whole_units,
)
from llm_observability.constructs.alarm_factory import AlarmActionStrategy, AlarmFactory, AlarmRole, Severity
from llm_observability.constructs.quality_canary import search_by_version
from llm_observability.errors import ConfigError
from llm_observability.functions.feedback_loop import feedback_telemetry as ft
from llm_observability.left_out import leave_out
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.validation import whole_number
from llm_observability.workload import Workload
from llm_observability.workload_facts import LogSchema

#: The alarm's period: the negative share of each hour's ratings.
ALARM_PERIOD = Duration.hours(1)
#: Access logs of the review set are kept at least this long.
MIN_ACCESS_LOG_DAYS = 90


class ReviewSet(Construct):
    """An encrypted, expiring S3 bucket of rated answers (``feedback/YYYY/MM/DD/<request id>.json``) for review.

    Private (all public access blocked), TLS only, retained on stack deletion, SSE-KMS with a new rotating key
    and an S3 bucket key, its server access logs in a second bucket (kept at least 90 days); objects expire after
    ``expiration_days``. In the strict compliance profile the bucket also gets versioning and Object Lock
    (``harden_bucket``).

    :param expiration_days: days an object is kept (1-365). Default: 30.

    Attributes: ``bucket``, ``key``, ``access_logs``.
    """

    def __init__(self, scope: Construct, id: str, *, expiration_days: int = 30) -> None:
        super().__init__(scope, id)
        REVIEW_DAYS.check("expiration_days", expiration_days, owner="ReviewSet")
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the feedback review set (rated questions and answers, as logged).",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        limit_grants_to_aws_services(self.key)
        self.access_logs = access_logs_bucket(
            self, "AccessLogs", expiration_days=max(expiration_days, MIN_ACCESS_LOG_DAYS)
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            key=self.key,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            access_logs=self.access_logs,
            access_logs_prefix="review-set/",
            lifecycle=s3.LifecycleRule(
                expiration=Duration.days(expiration_days),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            ),
        )
        self.expiration_days = expiration_days

    def grant_write(self, role: iam.IRole) -> None:
        """``s3:PutObject`` under ``feedback/`` only, and ``kms:GenerateDataKey`` on the key through S3."""
        objects = self.bucket.arn_for_objects(f"{ft.REVIEW_PREFIX}*")
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="WriteReviewObjects", actions=["s3:PutObject"], resources=[objects])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptReviewObjects",
                actions=["kms:GenerateDataKey"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{finding_resource(role, objects)}]",
            "The feedback join writes one object per rating under generated keys (feedback/YYYY/MM/DD/<request id>"
            ".json); the grant is PutObject under that prefix of this one bucket.",
        )


class FeedbackLoop(Construct):
    """Joins each user rating (the ``feedback`` log line: rated request id, 1-5 score, redacted comment) with the
    answer line it rates (by request id, in the workload's log groups) on a schedule, and publishes per model and
    prompt version ``FeedbackScore`` and ``NegativeFeedback`` (score 1 or 2), plus ``FeedbackUnmatched``.

    - ``NegativeFeedbackShare`` (``QUALITY``, low): the hourly share of negative ratings above
      ``negative_ceiling_percent`` for 3 hours in a row, counted only in hours with at least ``min_ratings``
      ratings (``IF(n >= min_ratings, share, 0)``).
    - ``FeedbackJoinNotStarted`` (``AVAILABILITY``, low): a run EventBridge could not start, or that failed every
      attempt (a Logs Insights query that keeps failing), is in the dead-letter queue.

    With ``review_set`` (and a workload whose log line carries text, ``prompt_logging`` ``full`` or ``redacted``)
    each joined rating lands in a :class:`ReviewSet` with the question, answer and sources as logged.

    :param workload: the observed application: ``log_groups`` and a ``log_schema`` with the feedback line's fields
        (``feedback_marker``, ``feedback_request_id``, ``feedback_score``) are required; without
        ``log_schema.prompt_version`` every rating counts as ``unversioned`` (a synth warning says so).
    :param schedule: how often the join runs; each run reads the ratings of one such window (15 minutes to 1 day,
        whole minutes). Default: 1 hour.
    :param lookback: how far back a rated answer is looked up (1-168 hours, whole hours); a rating of an older
        answer counts as unmatched. Default: 24 hours.
    :param negative_ceiling_percent: alarm above this hourly share of negative ratings (above 0, at most 100).
        Default: 30.
    :param min_ratings: fewest ratings in an hour for the share to count (1-10,000). Default: 5.
    :param review_set: keep every joined rating in an encrypted, expiring S3 review set. Default: false.
    :param review_days: days a review object is kept (1-365). Default: 30.
    :param log_key: KMS key of the function's log group. Default: a new rotating key.
    :param log_retention_days: retention of its log group. Default: 30.
    :param powertools_layer_version: version of the Powertools layer. Default: the tested release.
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the workload's topic
        or ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``function``, ``rule``, ``dead_letter_queue``, ``review_set`` (or None), ``metrics``, ``alarms``
    (by name), ``roled_alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        schedule: Duration = Duration.hours(1),
        lookback: Duration = Duration.hours(24),
        negative_ceiling_percent: float = 30,
        min_ratings: int = 5,
        review_set: bool = False,
        review_days: int = 30,
        log_key: kms.IKey | None = None,
        log_retention_days: int = 30,
        powertools_layer_version: str = POWERTOOLS_VERSION,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        owner = "FeedbackLoop"
        factory = AlarmFactory.notifying(self, owner=owner, action=action, topic=topic or workload.alert_topic)
        schema = log_line(workload, owner)
        missing = missing_feedback_fields(schema)
        if missing:
            raise ConfigError(
                f"{owner} 'workload.log_schema' lacks {', '.join(missing)}: allowed is a LogSchema naming the feedback "
                "line's fields (LogSchema.library() or LogSchema.reference())."
            )
        minutes = whole_units(owner, "schedule", schedule, 60, FEEDBACK_JOIN_MINUTES, "minutes")
        hours = whole_units(owner, "lookback", lookback, 3600, FEEDBACK_LOOKBACK_HOURS, "hours")
        NEGATIVE_CEILING_PERCENT.check("negative_ceiling_percent", negative_ceiling_percent, owner=owner)
        whole_number("min_ratings", min_ratings, 1, 10_000, owner=owner)
        REVIEW_DAYS.check("review_days", review_days, owner=owner)
        if schema.prompt_version is None:
            leave_out(self, "feedback per prompt version (every rating counts as 'unversioned')", "log_schema",
                      how="name the prompt version field of the answer line (LogSchema prompt_version=...)")  # fmt: skip
        if review_set and not workload.logs_prompt_text:
            leave_out(self, "feedback review set", "prompt_logging")
            review_set = False

        key = log_key or log_encryption_key(self, "LogKey", description="Encrypts the feedback join's logs.")
        role, log_group = function_role(
            self, "Join", key=key, retention_days=log_retention_days,
            description=f"Joins the {workload.name} user ratings with the answers they rate.",
        )  # fmt: skip
        grant_log_queries(role, workload.log_groups)

        self.review_set: ReviewSet | None = None
        if review_set:
            self.review_set = ReviewSet(self, "ReviewSet", expiration_days=review_days)
            self.review_set.grant_write(role)

        environment = {
            ft.ENV_LOG_GROUP_NAMES: log_group_names(self, workload),
            ft.ENV_LOG_SCHEMA: schema.document(),
            ft.ENV_LOOKBACK_HOURS: str(hours),
            ft.ENV_WINDOW_MINUTES: str(minutes),
            ft.ENV_PROMPT_LOGGING: workload.prompt_logging or "none",
        }
        if self.review_set is not None:
            environment[ft.ENV_REVIEW_BUCKET] = self.review_set.bucket.bucket_name
        scheduled = scheduled_function(
            self, workload=workload, folder="feedback_loop", shared=("logs_query",),
            description=f"{workload.name}: joins user ratings with the model and prompt version that answered",
            # Lambda retries a failed run twice (same event, same window), then the queue.
            schedule=events.Schedule.rate(schedule), run_description=f"Runs the {workload.name} feedback join.",
            role=role, log_group=log_group, environment=environment, timeout=Duration.minutes(10), memory_size=512,
            powertools_layer_version=powertools_layer_version,
            queue_purpose="the feedback join's schedule and of its function's asynchronous runs",
        )  # fmt: skip
        self.function, self.rule = scheduled.function, scheduled.rule
        self.dead_letter_queue = scheduled.dead_letter_queue

        def metric(name: str, statistic: str, **dimensions: str) -> cw.Metric:
            return cw.Metric(
                namespace=workload.metric_namespace,
                metric_name=name,
                dimensions_map={ft.DIM_SERVICE: workload.name, **dimensions},
                statistic=statistic,
                period=ALARM_PERIOD,
                label=name,
            )

        self.workload = workload
        self.negative_ceiling_percent = negative_ceiling_percent
        self.metrics = {
            "NegativeShare": metric(ft.METRIC_NEGATIVE_FEEDBACK, "Average"),
            "Ratings": metric(ft.METRIC_NEGATIVE_FEEDBACK, "SampleCount"),
            ft.METRIC_FEEDBACK_UNMATCHED: metric(ft.METRIC_FEEDBACK_UNMATCHED, "Sum"),
        }
        if self.review_set is not None:
            self.metrics[ft.METRIC_REVIEW_WRITE_FAILURES] = metric(ft.METRIC_REVIEW_WRITE_FAILURES, "Sum")
        self.negative_share = cw.MathExpression(
            expression=f"IF(n >= {min_ratings}, share, 0)",
            using_metrics={"share": self.metrics["NegativeShare"], "n": self.metrics["Ratings"]},
            period=ALARM_PERIOD,
            label=f"negative feedback share (%, hours with {min_ratings}+ ratings)",
        )
        self.alarms: dict[str, cw.Alarm] = {
            "NegativeFeedbackShare": factory.add_alarm(
                "NegativeFeedbackShare", metric=self.negative_share, threshold=negative_ceiling_percent,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=Severity.LOW,
                role=AlarmRole.QUALITY, evaluation_periods=3, datapoints_to_alarm=3,
                description=f"More than {negative_ceiling_percent:g}% of users' ratings were 1 or 2 for 3 hours "
                f"(hours with at least {min_ratings} ratings).",
            ),
            "FeedbackJoinNotStarted": factory.add_alarm(
                "FeedbackJoinNotStarted", metric=dead_letter_metric(self.dead_letter_queue), threshold=0,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=Severity.LOW,
                role=AlarmRole.AVAILABILITY, evaluation_periods=1,
                description="A feedback join run did not start or failed every attempt: its event is in the "
                "dead-letter queue.",
            ),
        }  # fmt: skip
        self.roled_alarms = tuple(factory.alarms)

    def widgets(self) -> list[cw.IWidget]:
        """Average score and negative share per model and prompt version, ratings joined and unmatched."""
        period = int(ALARM_PERIOD.to_seconds())
        by_version = [
            cw.GraphWidget(
                title="Feedback score (1-5) by model and prompt version",
                left=[search_by_version(self.workload, ft.METRIC_FEEDBACK_SCORE, period)],
                left_y_axis=cw.YAxisProps(min=1, max=5, show_units=False),
                width=8,
            ),
            cw.GraphWidget(
                title="Negative feedback (% of ratings 1-2) by model and prompt version",
                left=[search_by_version(self.workload, ft.METRIC_NEGATIVE_FEEDBACK, period)],
                left_annotations=[cw.HorizontalAnnotation(value=self.negative_ceiling_percent, label="alarm ceiling")],
                left_y_axis=cw.YAxisProps(min=0, max=100, show_units=False),
                width=8,
            ),
        ]
        counts = [self.metrics["Ratings"].with_(label="ratings joined"),
                  self.metrics[ft.METRIC_FEEDBACK_UNMATCHED].with_(label="ratings unmatched")]  # fmt: skip
        if ft.METRIC_REVIEW_WRITE_FAILURES in self.metrics:
            counts.append(self.metrics[ft.METRIC_REVIEW_WRITE_FAILURES].with_(label="review objects not written"))
        return [*by_version, cw.GraphWidget(title="Ratings joined and unmatched", left=counts, width=8)]


def missing_feedback_fields(schema: LogSchema) -> list[str]:
    """The feedback-line fields ``schema`` does not name (the join needs all three)."""
    return [name for name in ("feedback_marker", "feedback_request_id", "feedback_score") if getattr(schema, name) is None]
