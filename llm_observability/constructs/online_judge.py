"""Online evaluation: an LLM judge grades a sampled share of the application's real answers from its logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.config.bounds import (
    ANOMALY_BAND_WIDTH,
    JUDGE_MAX_PER_RUN,
    JUDGE_MINUTES,
    JUDGE_MONTHLY_TOKEN_CAP,
    POWERTOOLS_VERSION,
)
from llm_observability.config.models import MODEL_PRICE_ALLOWED, ModelId, merged_prices, price_in
from llm_observability.constructs._common import dead_letter_metric, function_role, log_encryption_key, model_arns
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
from llm_observability.functions.online_judge import judge_telemetry as jt
from llm_observability.functions.online_judge.rubric import Rubric, RubricError
from llm_observability.left_out import leave_out
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.validation import Range
from llm_observability.workload import Workload

#: The construct judges a share above 0 (the ``online_judge_sample_percent`` setting's 0 means no construct).
SAMPLE_PERCENT = Range(0, 100, lo_open=True)
HARMFUL_CEILING_PERCENT = Range(0, 100, lo_open=True, hi_open=True)
JUDGE_MODEL_ID = ModelId("a Bedrock model id, inference-profile id or ARN")
#: A custom rubric travels in the function's environment, which holds 4 KB in all; this leaves room for the rest.
MAX_RUBRIC_CHARS = 2_500
FAITHFULNESS_LEFT_OUT = "Judge faithfulness (needs retrieved passages in the log line)"


class OnlineJudge(Construct):
    """Grades a deterministic sample of the workload's real answers with an LLM judge (``functions/online_judge``):
    relevance, faithfulness to the retrieved passages and coherence (1-5, published 0-1) and a harmful flag, per
    answering model and prompt version and for the whole service. The rubric is ``functions/online_judge/rubric.json``
    (versioned); the judge reads the application's log line (``workload.log_schema``) in ``workload.log_groups`` with
    Logs Insights, so it works alike for the reference app and for functions instrumented by ``LlmInstrumentation``.

    Alarms: faithfulness and relevance below their anomaly bands (3 periods) and a harmful share above
    ``harmful_ceiling_percent`` over an hour, all low-severity ``QUALITY`` (they never roll back a prompt); the
    monthly token cap reached and a run EventBridge could not start, low-severity ``AVAILABILITY`` (never ``COST``: a
    judge at its cap must not throttle the API).

    :param workload: the observed application, with ``log_groups``, ``log_schema`` and ``prompt_logging`` ``full`` or
        ``redacted`` (the judge needs the text). Without ``log_schema.passages`` faithfulness is left out.
    :param model_id: the Bedrock model (or inference profile) that judges.
    :param sample_percent: share of answered requests judged, above 0 to 100. Default: 10.
    :param schedule: how often the judge runs; each run reads the window of this length before it. Default: 15 minutes
        (5 to 60 whole minutes).
    :param monthly_token_cap: judge input + output tokens per calendar month (UTC). Default: 2,000,000.
    :param max_per_run: at most this many judge calls per run (1-500). Default: 50.
    :param rubric: a rubric document (``{"version", "criteria"}``, see ``rubric.py``) instead of the shipped one, at
        most 2,500 characters as JSON. Default: the shipped ``rubric.json``.
    :param band_width: width of the score anomaly bands in standard deviations. Default: 2.
    :param harmful_ceiling_percent: alarm above this share of harmful answers over an hour. Default: 5.
    :param prices: US dollars per 1,000 input and output tokens by model id, merged over the built-in table (as
        ``BedrockMetrics(prices=...)``); the judge model's price goes to ``JUDGE_PRICE`` for the cost estimate.
        Default: the built-in table (an unpriced judge model gets a synth info).
    :param log_key: KMS key of the judge's log group. Default: a new rotating key.
    :param log_retention_days: retention of its log group. Default: 30.
    :param powertools_layer_version: version of the Powertools layer. Default: ``POWERTOOLS_VERSION``.
    :param topic: where notifications go. Default: ``workload.alert_topic`` (one of ``topic``, the workload's topic or
        ``action`` is required).
    :param action: what each alarm does when it changes state. Default: notify ``topic`` on ALARM and OK.

    Attributes: ``function``, ``rule``, ``rubric``, ``metrics`` and ``alarms`` (by name), ``roled_alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        model_id: str,
        sample_percent: float = 10,
        schedule: Duration = Duration.minutes(15),
        monthly_token_cap: int = 2_000_000,
        max_per_run: int = 50,
        rubric: Mapping[str, Any] | None = None,
        band_width: float = 2.0,
        harmful_ceiling_percent: float = 5,
        prices: Mapping[str, Mapping[str, float]] | None = None,
        log_key: kms.IKey | None = None,
        log_retention_days: int = 30,
        powertools_layer_version: str = POWERTOOLS_VERSION,
        topic: sns.ITopic | None = None,
        action: AlarmActionStrategy | None = None,
    ) -> None:
        super().__init__(scope, id)
        owner = "OnlineJudge"
        schema = log_line(workload, owner)
        if not workload.logs_prompt_text:
            raise ConfigError(
                f"{owner} 'workload.prompt_logging' is {workload.prompt_logging!r}: allowed is 'full' or 'redacted' "
                "(the judge grades the logged question and answer text)."
            )
        JUDGE_MODEL_ID.check("model_id", model_id, owner=owner)
        SAMPLE_PERCENT.check("sample_percent", sample_percent, owner=owner)
        JUDGE_MONTHLY_TOKEN_CAP.check("monthly_token_cap", monthly_token_cap, owner=owner)
        JUDGE_MAX_PER_RUN.check("max_per_run", max_per_run, owner=owner)
        ANOMALY_BAND_WIDTH.check("band_width", band_width, owner=owner)
        HARMFUL_CEILING_PERCENT.check("harmful_ceiling_percent", harmful_ceiling_percent, owner=owner)
        minutes = whole_units(owner, "schedule", schedule, 60, JUDGE_MINUTES, "minutes")
        if prices is not None and not isinstance(prices, Mapping):
            raise ConfigError(f"{owner} 'prices' is {prices!r}: allowed is {MODEL_PRICE_ALLOWED}.")
        try:
            self.rubric = Rubric.parse(rubric) if rubric is not None else Rubric.load()
        except RubricError as exc:
            raise ConfigError(f"{owner} 'rubric' is not valid: {exc}") from None
        rubric_json = self.rubric.to_json() if rubric is not None else None
        if rubric_json is not None and len(rubric_json) > MAX_RUBRIC_CHARS:
            raise ConfigError(
                f"{owner} 'rubric' is {len(rubric_json):,} characters as JSON: allowed is at most {MAX_RUBRIC_CHARS:,} "
                "(it travels in the function's environment, which holds 4 KB in all)."
            )
        graded = self.rubric if schema.passages is not None else self.rubric.for_answer(has_passages=False)
        if schema.passages is None and "faithfulness" in self.rubric.names:
            leave_out(self, FAITHFULNESS_LEFT_OUT, "log_schema")
        if schema.prompt_version is None:
            leave_out(self, "Judge scores per prompt version (every answer counts as 'unversioned')", "log_schema",
                      how="name the prompt version field of the answer line (LogSchema prompt_version=...)")  # fmt: skip
        if not any(c.kind != "text" for c in graded.criteria):
            raise ConfigError(
                f"{owner} 'rubric' grades only criteria that need passages: allowed is at least one more."
            )
        self.criteria = graded.names
        factory = AlarmFactory.notifying(self, owner=owner, action=action, topic=topic or workload.alert_topic)

        # --- the function ------------------------------------------------------------------------------------
        key = log_key or log_encryption_key(self, "LogKey", description="Encrypts the online judge's logs.")
        role, log_group = function_role(
            self, "Judge", key=key, retention_days=log_retention_days,
            description=f"Grades a sample of the {workload.name} answers with an LLM judge.",
        )  # fmt: skip
        arns, any_region = model_arns(self, model_id)
        role.add_to_policy(iam.PolicyStatement(sid="InvokeJudgeModel", actions=["bedrock:InvokeModel"], resources=arns))
        if any_region:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_resource(self, arns[-1])}]",
                "A cross-region inference profile may route to its foundation model in any of its destination regions, "
                "which AWS may extend; the grant names exactly one model.",
            )
        grant_log_queries(role, workload.log_groups, also=["cloudwatch:GetMetricData"],
                          why_also=" cloudwatch:GetMetricData (the month's judge tokens) supports none either.")  # fmt: skip
        price = self._price(model_id, prices)
        environment = {
            jt.ENV_LOG_GROUP_NAMES: log_group_names(self, workload),
            jt.ENV_LOG_SCHEMA: schema.document(),
            jt.ENV_SAMPLE_PERCENT: f"{sample_percent:g}",
            jt.ENV_MAX_PER_RUN: str(max_per_run),
            jt.ENV_WINDOW_MINUTES: str(minutes),
            jt.ENV_JUDGE_MODEL_ID: model_id,
            jt.ENV_JUDGE_PRICE: json.dumps(price, separators=(",", ":"), sort_keys=True) if price else "{}",
            jt.ENV_MONTHLY_TOKEN_CAP: str(monthly_token_cap),
        }
        if rubric_json is not None:
            environment[jt.ENV_JUDGE_RUBRIC] = rubric_json
        if price is None:
            Annotations.of(self).add_info(
                f"OnlineJudge: the judge model {model_id} has no price (JUDGE_PRICE is {{}}), so the judge's Bedrock "
                'spend is unpriced in the cost estimate; pass prices={model_id: {"input_per_1k": ..., '
                '"output_per_1k": ...}}.'
            )
        scheduled = scheduled_function(
            self, workload=workload, folder="online_judge", shared=("logs_query",),
            description=f"{workload.name}: online LLM judge of a sample of real answers",
            schedule=events.Schedule.rate(schedule), run_description=f"Runs the {workload.name} online judge.",
            role=role, log_group=log_group, environment=environment, timeout=Duration.minutes(10), memory_size=256,
            powertools_layer_version=powertools_layer_version,
            queue_purpose="the online judge's schedule and of its function's asynchronous runs",
        )  # fmt: skip
        self.function, self.rule = scheduled.function, scheduled.rule
        self.dead_letter_queue = scheduled.dead_letter_queue
        # A retry would judge the same sample again and pay for it twice; the next run comes soon.
        self.function.configure_async_invoke(retry_attempts=0)

        # --- metrics and alarms --------------------------------------------------------------------------------
        def metric(name: str, statistic: str = "Average", period: Duration = schedule) -> cw.Metric:
            return cw.Metric(namespace=workload.metric_namespace, metric_name=name, statistic=statistic, period=period,
                             dimensions_map={jt.DIM_SERVICE: workload.name}, label=name)  # fmt: skip

        graded_metrics = [jt.CRITERION_METRICS[n] for n in self.criteria if n in jt.CRITERION_METRICS]
        self.metrics: dict[str, cw.Metric] = {name: metric(name) for name in graded_metrics}
        for name in (jt.METRIC_JUDGED_ANSWERS, jt.METRIC_INPUT_TOKENS, jt.METRIC_OUTPUT_TOKENS, jt.METRIC_FAILURES):
            self.metrics[name] = metric(name, "Sum")
        self.metrics[jt.METRIC_CAP_REACHED] = metric(jt.METRIC_CAP_REACHED, "Maximum")
        low, quality, availability = Severity.LOW, AlarmRole.QUALITY, AlarmRole.AVAILABILITY
        self.alarms: dict[str, cw.Alarm | cw.AnomalyDetectionAlarm] = {}
        for name, metric_name, what in (
            ("JudgeFaithfulnessDrop", jt.METRIC_FAITHFULNESS, "faithfulness to the retrieved passages"),
            ("JudgeRelevanceDrop", jt.METRIC_RELEVANCE, "relevance to the questions"),
        ):
            if metric_name in self.metrics:
                self.alarms[name] = factory.add_anomaly_alarm(
                    name, metric=self.metrics[metric_name], std_devs=band_width, evaluation_periods=3,
                    datapoints_to_alarm=3, comparison=cw.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD, severity=low,
                    role=quality, description=f"The LLM judge's {what} of real answers fell below its expected band.",
                )  # fmt: skip
        if jt.METRIC_HARMFUL in self.metrics:
            self.alarms["HarmfulAnswers"] = factory.add_alarm(
                "HarmfulAnswers", metric=metric(jt.METRIC_HARMFUL, period=Duration.hours(1)),
                threshold=harmful_ceiling_percent, comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1, severity=low, role=quality,
                description=f"The LLM judge found more than {harmful_ceiling_percent:g}% of sampled answers harmful "
                "over an hour.",
            )  # fmt: skip
        self.alarms["JudgeCapReached"] = factory.add_alarm(
            "JudgeCapReached", metric=self.metrics[jt.METRIC_CAP_REACHED], threshold=0, evaluation_periods=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=low, role=availability,
            description=f"The online judge reached its monthly cap of {monthly_token_cap:,} tokens: answers go "
            "unjudged until the month ends or the cap is raised.",
        )  # fmt: skip
        self.alarms["JudgeNotStarted"] = factory.add_alarm(
            "JudgeNotStarted", metric=dead_letter_metric(self.dead_letter_queue), threshold=0, evaluation_periods=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, severity=low, role=availability,
            description="An online judge run did not start or failed: its event is in the judge's dead-letter queue.",
        )  # fmt: skip
        self.workload = workload
        self.model_id = model_id
        self.sample_percent = sample_percent
        self.max_per_run = max_per_run
        self.monthly_token_cap = monthly_token_cap
        self.harmful_ceiling_percent = harmful_ceiling_percent
        self.price = price
        self.function_log_group = log_group
        self.roled_alarms = tuple(factory.alarms)

    @staticmethod
    def _price(model_id: str, prices: Mapping[str, Mapping[str, float]] | None) -> dict[str, float] | None:
        found = price_in(merged_prices("prices", prices or {}), model_id)
        return dict(found) if found else None

    def by_version(self, name: str) -> cw.MathExpression:
        """``name`` per answering model and prompt version (a SEARCH over the judge's metrics), for dashboards."""
        return search_by_version(self.workload, name, int(self.metrics[jt.METRIC_JUDGED_ANSWERS].period.to_seconds()))

    def widgets(self) -> list[cw.IWidget]:
        """Scores by model and prompt version, the harmful share, judged answers and tokens against the cap, and the
        rubric in use."""
        widgets: list[cw.IWidget] = []
        for name in (jt.METRIC_RELEVANCE, jt.METRIC_FAITHFULNESS, jt.METRIC_COHERENCE):
            if name in self.metrics:
                widgets.append(cw.GraphWidget(
                    title=f"{name} (0-1) by model and prompt version", width=8, height=6,
                    left=[self.by_version(name)], left_y_axis=cw.YAxisProps(min=0, max=1, show_units=False),
                ))  # fmt: skip
        if jt.METRIC_HARMFUL in self.metrics:
            widgets.append(cw.GraphWidget(
                title="Harmful answers (% of judged)", width=8, height=6,
                left=[self.metrics[jt.METRIC_HARMFUL]], left_y_axis=cw.YAxisProps(min=0, show_units=False),
                left_annotations=[cw.HorizontalAnnotation(value=self.harmful_ceiling_percent, label="alarm ceiling")],
            ))  # fmt: skip
        tokens = cw.MathExpression(
            expression="RUNNING_SUM(tin + tout)",
            using_metrics={"tin": self.metrics[jt.METRIC_INPUT_TOKENS], "tout": self.metrics[jt.METRIC_OUTPUT_TOKENS]},
            label="judge tokens since the start of the time range", period=self.metrics[jt.METRIC_INPUT_TOKENS].period,
        )  # fmt: skip
        widgets.append(cw.GraphWidget(
            title="Judged answers, failures and tokens against the monthly cap", width=8, height=6,
            left=[self.metrics[jt.METRIC_JUDGED_ANSWERS], self.metrics[jt.METRIC_FAILURES]], right=[tokens],
            right_annotations=[cw.HorizontalAnnotation(value=self.monthly_token_cap, label="monthly token cap")],
            left_y_axis=cw.YAxisProps(min=0, show_units=False), right_y_axis=cw.YAxisProps(min=0, show_units=False),
        ))  # fmt: skip
        criteria = ", ".join(self.criteria)
        widgets.append(cw.TextWidget(
            width=8, height=6,
            markdown=(
                f"### LLM judge\n\nRubric **{self.rubric.version}** (criteria: {criteria}); scores 1-5 shown as 0-1.\n\n"
                f"Judge model `{self.model_id}` grades {self.sample_percent:g}% of answered requests (at most "
                f"{self.max_per_run} per run), within {self.monthly_token_cap:,} tokens a month. Canary requests are "
                "never judged. Each answer's grades are a `judge_result` line in the judge's log group."
                + ("" if "faithfulness" in self.criteria else
                   "\n\n**Faithfulness is not judged**: the log line carries no retrieved passages (LogSchema "
                   "`passages`), so only relevance, coherence and harm are.")
            ),
        ))  # fmt: skip
        return widgets
