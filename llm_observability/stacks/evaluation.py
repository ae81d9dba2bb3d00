"""Level 2's evaluation of real traffic: the online judge, the feedback loop, output drift and incident outcomes.

Each is built only when the workload can feed it; otherwise the stack's one left-out warning says what is missing
and how to provide it. What each adds to the Level 2 dashboard is a titled section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cw

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs._common import log_encryption_key
from llm_observability.constructs._scheduled import unreadable_logs
from llm_observability.constructs.alarm_factory import AlarmActionStrategy, RoledAlarm
from llm_observability.constructs.feedback_loop import FeedbackLoop, missing_feedback_fields
from llm_observability.constructs.online_judge import OnlineJudge
from llm_observability.constructs.outcomes import LEVEL_TARGETS, IncidentOutcomes, parse_targets
from llm_observability.constructs.output_drift import OutputDrift, drift_signals
from llm_observability.left_out import leave_out
from llm_observability.workload import Workload

#: Dashboard section titles, in the order they are added.
JUDGE_SECTION = "Online evaluation (LLM judge)"
FEEDBACK_SECTION = "Feedback by model and prompt version"
DRIFT_SECTION = "Production drift and prompt diversity"
OUTCOMES_SECTION = "Outcomes"
#: The construct id of the log key the four functions share.
LOG_KEY_ID = "EvaluationLogKey"


@dataclass
class Evaluation:
    """What :func:`add_evaluation` built (``None``: left out), their alarms and their dashboard sections."""

    judge: OnlineJudge | None = None
    feedback: FeedbackLoop | None = None
    drift: OutputDrift | None = None
    outcomes: IncidentOutcomes | None = None
    roled_alarms: list[RoledAlarm] = field(default_factory=list)
    sections: list[tuple[str, list[cw.IWidget]]] = field(default_factory=list)

    def add(self, title: str, built: OnlineJudge | FeedbackLoop | OutputDrift | IncidentOutcomes) -> None:
        self.roled_alarms += built.roled_alarms
        self.sections.append((title, built.widgets()))


def _reads_logs(stack: Stack, workload: Workload, feature: str) -> bool:
    """Does the workload name its log groups and log line (what every function here queries)? Else leave it out."""
    missing = unreadable_logs(workload)
    if missing is not None:
        leave_out(stack, feature, missing)
    return missing is None


def add_evaluation(
    stack: Stack, *, workload: Workload, config: ObservabilityConfig, action: AlarmActionStrategy
) -> Evaluation:
    """Build into ``stack`` what ``workload`` can feed of the online judge, feedback loop, output drift and incident
    outcomes, with the settings of ``config``; every alarm takes ``action``. Outcomes watch ``workload``'s alarms
    (pass the workload that carries Level 1's and this level's alarms)."""
    built = Evaluation()

    def common() -> dict[str, Any]:
        """The props every function shares, with one log key for their log groups (a key costs $1 a month; they
        hold the same kind of record): the stack's, made with the first function built."""
        key = stack.node.try_find_child(LOG_KEY_ID) or log_encryption_key(
            stack, LOG_KEY_ID,
            description="Encrypts the logs of the online judge, feedback join, output drift and incident outcomes.",
        )  # fmt: skip
        return {"action": action, "log_key": key, "log_retention_days": config.log_retention_days,
                "powertools_layer_version": config.powertools_layer_version}  # fmt: skip

    judge_feature = "The online judge (LLM-as-judge scores of a sample of real answers)"
    if config.online_judge_sample_percent == 0:
        Annotations.of(stack).add_info("The online judge is left out (online_judge_sample_percent=0).")
    elif _reads_logs(stack, workload, judge_feature):
        if not workload.logs_prompt_text:
            leave_out(stack, judge_feature, "prompt_logging")
        else:
            built.judge = OnlineJudge(
                stack, "OnlineJudge", workload=workload, model_id=config.judge_model_id,
                sample_percent=config.online_judge_sample_percent,
                schedule=Duration.minutes(config.online_judge_minutes),
                monthly_token_cap=config.judge_monthly_token_cap, max_per_run=config.judge_max_per_run,
                band_width=config.anomaly_band_width, prices=config.model_prices, **common(),
            )  # fmt: skip
            built.add(JUDGE_SECTION, built.judge)

    feedback_feature = "The feedback loop (ratings by model and prompt version, negative-share alarm)"
    if _reads_logs(stack, workload, feedback_feature):
        assert workload.log_schema is not None
        if missing_feedback_fields(workload.log_schema):
            leave_out(stack, feedback_feature, "log_schema",
                      how="name the feedback line in LogSchema(feedback_marker=..., feedback_request_id=..., "
                      "feedback_score=...); LogSchema.library() does for llmobs.feedback()")  # fmt: skip
        else:
            built.feedback = FeedbackLoop(
                stack, "FeedbackLoop", workload=workload, schedule=Duration.minutes(config.feedback_join_minutes),
                lookback=Duration.hours(config.feedback_lookback_hours),
                negative_ceiling_percent=config.feedback_negative_ceiling_percent,
                review_set=config.feedback_review_set, review_days=config.feedback_review_days, **common(),
            )  # fmt: skip
            built.add(FEEDBACK_SECTION, built.feedback)

    drift_feature = "Output drift and prompt diversity"
    if _reads_logs(stack, workload, drift_feature):
        if not drift_signals(workload, judged=built.judge is not None):
            leave_out(stack, drift_feature, "log_schema",
                      how="name the answer-length field (LogSchema answer_length=...) or log question and answer "
                      "text (prompt_logging='redacted')")  # fmt: skip
        else:
            built.drift = OutputDrift(
                stack, "OutputDrift", workload=workload,
                judge_log_group=built.judge.function_log_group if built.judge else None,
                baseline_days=config.drift_baseline_days, statistic=config.drift_statistic,
                psi_threshold=config.drift_psi_threshold, ks_threshold=config.drift_ks_threshold,
                min_samples=config.drift_min_samples, diversity=config.prompt_diversity,
                near_duplicate_jaccard=config.near_duplicate_jaccard, **common(),
            )  # fmt: skip
            built.add(DRIFT_SECTION, built.drift)

    watched = workload.with_alarms(built.roled_alarms)
    targets = parse_targets(dict(config.outcome_targets)) or dict(LEVEL_TARGETS[config.level])
    if watched.roled_alarms:
        built.outcomes = IncidentOutcomes(stack, "Outcomes", workload=watched, targets=targets, level=config.level,
                                          **common())  # fmt: skip
        built.add(OUTCOMES_SECTION, built.outcomes)
    else:
        leave_out(stack, "Incident outcomes (time to detect and to resolve, targets)", "roled_alarms")
    return built
