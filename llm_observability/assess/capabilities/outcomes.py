"""The business-outcomes group: what the observability achieves (incidents detected and resolved against targets)
and how production answers are judged, beside the levels.

Why a group and not more Level 2 rows: the seed asks to "measure progress with business outcomes" and to "set
improvement targets for each maturity stage"; those are reports on the levels, not a capability of one, and counting
them would lower the level of every assembly that reaches Level 2 or 3 today without them (``--min-level`` gates in
users' CI). So, as the organization group, they are reported as present / partial / missing with a next step and
never counted in the level reached. The templates show which targets are configured; whether they are met is known
only at run time (the ``TimeToResolve``/``TimeToDetect`` metrics and the target alarms). Each row's ``level`` is the
level from which the bundled app provides it (2). The functions are recognised by the environment variables their
constructs set (``OUTCOMES``, ``JUDGE_MODEL_ID``, ``DRIFT_BASELINE_DAYS``), the alarms by the metrics they read.
"""

from __future__ import annotations

import json
from typing import Any

from llm_observability.assess.intrinsics import as_list, literal, strings
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.model import Level, Status
from llm_observability.assess.queries import ALARM, alarm_metric_specs, env_of, functions_with
from llm_observability.assess.report import Finding, ids, join_names, sentence
from llm_observability.functions.incident_outcomes import outcomes_telemetry as ot
from llm_observability.functions.online_judge import judge_telemetry as jt
from llm_observability.functions.output_drift import drift_telemetry as dt

GROUP = Level(2, group="outcomes")

EVENT_RULE = "AWS::Events::Rule"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
#: Environment variables that mark the library's functions (set by their constructs; named by the functions' own
#: telemetry vocabularies, so the scorecard and the functions cannot disagree).
ENV_OUTCOMES = ot.ENV_OUTCOMES
ENV_JUDGE_MODEL = jt.ENV_JUDGE_MODEL_ID
ENV_JUDGE_SAMPLE = jt.ENV_SAMPLE_PERCENT
ENV_DRIFT_DAYS = dt.ENV_DRIFT_BASELINE_DAYS
ENV_DRIFT_STATISTIC = dt.ENV_DRIFT_STATISTIC
#: Metric names the rows look for in alarms.
OUTCOME_METRICS = {ot.METRIC_TIME_TO_RESOLVE: "resolve", ot.METRIC_TIME_TO_DETECT: "detect"}
SEVERITY_DIM = ot.DIM_SEVERITY
JUDGE_SCORE_METRICS = tuple(jt.CRITERION_METRICS.values())
DRIFT_METRIC = dt.METRIC_OUTPUT_DRIFT_MAX


def _env_literal(inv: Inventory, fn: Resource, variable: str) -> str | None:
    return literal(env_of(inv, fn).get(variable))


def _pattern(rule: Resource) -> dict[str, Any]:
    """A rule's EventPattern as a dict (CloudFormation takes an object or a JSON string); empty when unreadable."""
    value = rule.properties.get("EventPattern")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def alarm_state_rules(inv: Inventory) -> list[Resource]:
    """EventBridge rules that match CloudWatch alarm state changes."""
    return [r for r in inv.of_type(EVENT_RULE) if ALARM_STATE_CHANGE in strings(_pattern(r).get("detail-type"))]


def rule_targets(inv: Inventory, rule: Resource) -> set[tuple[str, str]]:
    """The resources (stack, logical id) a rule's targets reference."""
    found: set[tuple[str, str]] = set()
    for target in as_list(rule.properties.get("Targets")):
        if isinstance(target, dict):
            found |= inv.refs(rule.stack, target.get("Arn"))
    return found


def alarms_reading(inv: Inventory, names: tuple[str, ...] | set[str]) -> list[tuple[Resource, dict[str, Any]]]:
    """(alarm, metric mapping) of each alarm metric whose name is one of ``names``."""
    found = []
    for alarm in inv.of_type(ALARM):
        for spec in alarm_metric_specs(alarm):
            if literal(spec.get("MetricName")) in names:
                found.append((alarm, spec))
    return found


def _dimension(spec: dict[str, Any], name: str) -> str | None:
    for dim in as_list(spec.get("Dimensions")):
        if isinstance(dim, dict) and literal(dim.get("Name")) == name:
            return literal(dim.get("Value"))
    return None


def outcome_targets(inv: Inventory) -> list[tuple[Resource, str]]:
    """Each target alarm (on ``TimeToResolve``/``TimeToDetect`` with a ``Severity`` dimension) and its target as
    ``high: resolve ≤ 30 min``, in template order."""
    targets = []
    for alarm, spec in alarms_reading(inv, set(OUTCOME_METRICS)):
        severity = _dimension(spec, SEVERITY_DIM)
        if severity is None:
            continue
        what = OUTCOME_METRICS[literal(spec.get("MetricName")) or ""]
        threshold = alarm.properties.get("Threshold")
        if isinstance(threshold, int | float) and not isinstance(threshold, bool):
            targets.append((alarm, f"{severity}: {what} ≤ {threshold / 60:g} min"))
        else:
            targets.append((alarm, f"{severity}: {what} target set at deploy time"))
    return targets


@GROUP.capability(
    id="incident-outcomes",
    title="Incident outcomes measured (time to detect, time to resolve, impact per severity)",
    constructs=("IncidentOutcomes",),
    provided_by="IncidentOutcomes (Level 2: EventBridge rules on the alarms' state changes -> a function publishing "
    "TimeToDetect, TimeToResolve, ImpactMinutes and Incidents per severity)",
    next_step=(
        "Add IncidentOutcomes on the workload that carries your alarms (Level 2 builds it): an EventBridge rule on "
        '"CloudWatch Alarm State Change" of your alarms targeting its function, which publishes time to detect, '
        "time to resolve and minutes of impact per severity."
    ),
    evidence=(
        'A Lambda function whose environment sets OUTCOMES and an AWS::Events::Rule matching "CloudWatch Alarm State '
        'Change" that targets it; partial if the function has no such rule.'
    ),
)
def rule_incident_outcomes(inv: Inventory) -> Finding:
    functions = functions_with(inv, ENV_OUTCOMES)
    if not functions:
        return Finding(Status.MISSING, "No incident-outcomes function (environment OUTCOMES): time to detect and "
                       "to resolve are not measured.")  # fmt: skip
    keys = {fn.key for fn in functions}
    rules = [r for r in alarm_state_rules(inv) if rule_targets(inv, r) & keys]
    if not rules:
        return Finding(Status.PARTIAL, f"Function(s) {ids(functions)} set OUTCOMES, but no rule sends them alarm "
                       "state changes.", functions)  # fmt: skip
    watched = sum(len(as_list(_pattern(r).get("resources"))) for r in rules)
    return Finding(
        Status.PRESENT,
        f"{len(rules)} rule(s) ({ids(rules)}) send the state changes of {watched} alarm(s) to {ids(functions)}, which "
        "publishes time to detect, time to resolve and impact per severity.",
        functions + rules,
    )


@GROUP.capability(
    id="outcome-targets",
    title="Improvement targets per maturity level (time to detect or resolve, by severity)",
    constructs=("IncidentOutcomes",),
    provided_by="IncidentOutcomes targets (the outcome_targets setting; by default Level 2: high resolved within "
    "30 min, Level 3: within 5)",
    next_step=(
        'Set targets: IncidentOutcomes(targets={"high": OutcomeTarget(resolve_minutes=30)}) or the outcome_targets '
        "setting (Level 2 and 3 have defaults); each target is an alarm on TimeToResolve or TimeToDetect per severity."
    ),
    evidence=(
        "An AWS::CloudWatch::Alarm on TimeToResolve or TimeToDetect with a Severity dimension; its threshold is the "
        "target. Whether a target is met is known only at run time."
    ),
)
def rule_outcome_targets(inv: Inventory) -> Finding:
    targets = outcome_targets(inv)
    if not targets:
        measured = " although incidents are measured" if functions_with(inv, ENV_OUTCOMES) else ""
        return Finding(Status.MISSING, f"No target alarm on TimeToResolve or TimeToDetect{measured}: no improvement "
                       "target is set.")  # fmt: skip
    texts = list(dict.fromkeys(text for _, text in targets))
    alarms = list(dict.fromkeys(alarm for alarm, _ in targets))
    return Finding(
        Status.PRESENT,
        f"Targets {'; '.join(texts)} (alarm(s) {ids(alarms)}); whether they are met is known only at run time.",
        alarms,
    )


@GROUP.capability(
    id="online-evaluation",
    title="Online evaluation of real answers (LLM-as-a-judge on a sampled share, with score alarms)",
    constructs=("OnlineJudge",),
    provided_by="OnlineJudge (Level 2: a scheduled function judging a sampled share of the logged answers for "
    "relevance, faithfulness, coherence and harm, with anomaly and ceiling alarms)",
    next_step=(
        "Add OnlineJudge (online_judge_sample_percent above 0, a workload with prompt_logging 'redacted' or 'full'): "
        "it judges a sampled share of production answers with a Bedrock model and alarms on the scores."
    ),
    evidence=(
        "A Lambda function whose environment sets JUDGE_MODEL_ID and an alarm on a judge score (JudgeRelevance, "
        "JudgeFaithfulness, JudgeCoherence or JudgeHarmful); partial if only one of them."
    ),
)
def rule_online_evaluation(inv: Inventory) -> Finding:
    judges = functions_with(inv, ENV_JUDGE_MODEL)
    alarms = list(dict.fromkeys(alarm for alarm, _ in alarms_reading(inv, JUDGE_SCORE_METRICS)))
    if not judges and not alarms:
        return Finding(Status.MISSING, "No judge function (environment JUDGE_MODEL_ID) or judge-score alarm: only the "
                       "golden set is scored, no real answer is judged.")  # fmt: skip
    parts = []
    for judge in judges:
        model = _env_literal(inv, judge, ENV_JUDGE_MODEL) or "a model set at deploy time"
        share = _env_literal(inv, judge, ENV_JUDGE_SAMPLE)
        parts.append(f"{judge.logical_id} judges {share + '% of ' if share else ''}answers with {model}")
    if alarms:
        parts.append(f"{len(alarms)} score alarm(s) ({ids(alarms)})")
    problems = []
    if not judges:
        problems.append("no judge function publishes the scores they read")
    if not alarms:
        problems.append("no alarm on the judge scores")
    text = "; ".join(parts) + (f"; but {'; '.join(problems)}" if problems else "")
    return Finding(Status.PARTIAL if problems else Status.PRESENT, sentence(text) + ".", judges + alarms)


@GROUP.capability(
    id="drift-statistics",
    title="Drift of production output (a distribution statistic against a trailing baseline, alarmed)",
    constructs=("OutputDrift",),
    provided_by="OutputDrift (Level 2: a daily function comparing answer length, refusals, grounding and judge "
    "scores per model with a trailing baseline by PSI or Kolmogorov-Smirnov; the OutputDriftMax alarm)",
    next_step=(
        "Add OutputDrift: a daily function comparing the distribution of production answers with a trailing "
        "baseline (PSI or KS) and an alarm on OutputDriftMax."
    ),
    evidence="An AWS::CloudWatch::Alarm on OutputDriftMax; partial if only a drift function (environment "
    "DRIFT_BASELINE_DAYS) without it.",
)
def rule_drift_statistics(inv: Inventory) -> Finding:
    functions = functions_with(inv, ENV_DRIFT_DAYS)
    alarms = list(dict.fromkeys(alarm for alarm, _ in alarms_reading(inv, {DRIFT_METRIC})))
    if not functions and not alarms:
        return Finding(Status.MISSING, "No OutputDriftMax alarm or drift function: the distribution of production "
                       "answers is not compared with a baseline.")  # fmt: skip
    details = [
        f"{fn.logical_id} ({_env_literal(inv, fn, ENV_DRIFT_STATISTIC) or 'statistic set at deploy time'}, baseline "
        f"{_env_literal(inv, fn, ENV_DRIFT_DAYS) or '?'} days)"
        for fn in functions
    ]
    if not alarms:
        return Finding(Status.PARTIAL, f"Drift function(s) {join_names(details, 3)}, but no alarm on OutputDriftMax.",
                       functions)  # fmt: skip
    text = f"Alarm(s) {ids(alarms)} on OutputDriftMax" + (f", from {join_names(details, 3)}" if details else "")
    return Finding(Status.PRESENT, text + ".", alarms + functions)
