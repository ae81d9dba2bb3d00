"""Level 2, Proactive: anomaly detection, log intelligence, compliance, cost control, incident
management, guardrail, prompt management and quality evaluation. Each capability is declared on its
evidence rule (read conservatively, as on Level 1).
"""

from __future__ import annotations

import re

from llm_observability.assess.emitters import (
    CANARY_REQUEST_CONTRACT_ENV,
    SchemaLogs,
    canary_target_problem,
    depends_on_library_schema,
    is_canary,
)
from llm_observability.assess.intrinsics import (
    alternatives,
    as_bool,
    as_list,
    is_set,
    literal,
    render,
    surely,
)
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.model import Level, Status
from llm_observability.assess.queries import (
    ALARM,
    COMPOSITE_ALARM,
    DASHBOARD,
    actions_of,
    alarm_metrics,
    app_functions,
    env_of,
    is_anomaly_alarm,
    metric_filter_metrics,
)
from llm_observability.assess.report import Finding, ids, sentence, status_of

LEVEL = Level(2)


@LEVEL.capability(
    id="metric-anomaly-detection",
    title="Metric anomaly detection",
    constructs=("AnomalyAlarms",),
    provided_by="AnomalyAlarms",
    next_step=(
        "Add AnomalyAlarms(stack, 'Anomalies', workload=workload): anomaly-band alarms on Bedrock latency, tokens, "
        "volume, cost and error rate."
    ),
    evidence=(
        "An alarm whose metrics contain ANOMALY_DETECTION_BAND; partial if it has no action, or if only an "
        "AWS::CloudWatch::AnomalyDetector without alarm exists."
    ),
)
def rule_metric_anomaly(inv: Inventory) -> Finding:
    anomaly = [a for a in inv.of_type(ALARM) if is_anomaly_alarm(a)]
    detectors = inv.of_type("AWS::CloudWatch::AnomalyDetector")
    acting = [a for a in anomaly if actions_of(a)]
    if acting:
        extra = f" ({len(anomaly) - len(acting)} without action)" if len(acting) < len(anomaly) else ""
        return Finding(Status.PRESENT, f"{len(acting)} anomaly-detection alarm(s) with actions{extra}.", acting)
    if anomaly:
        return Finding(
            Status.PARTIAL, f"{len(anomaly)} anomaly-detection alarm(s), none with an alarm action.", anomaly
        )
    if detectors:
        return Finding(
            Status.PARTIAL, "Anomaly detector model(s) but no alarm on an ANOMALY_DETECTION_BAND.", detectors
        )
    return Finding(Status.MISSING, "No alarm on an ANOMALY_DETECTION_BAND.")


@LEVEL.capability(
    id="log-intelligence",
    title="Log anomaly detection and saved queries",
    constructs=("LogIntelligence",),
    provided_by="LogIntelligence",
    next_step=(
        "Add LogIntelligence(stack, 'LogIntelligence', workload=workload): a log anomaly detector, saved Logs Insights "
        "queries and prompt-injection / refusal metric filters, over the logs of a function that writes the library's "
        "log schema (LlmInstrumentation)."
    ),
    evidence=(
        "AWS::Logs::LogAnomalyDetector and AWS::Logs::QueryDefinition; queries and metric filters that select the "
        "library's log lines (message = \"ask\", $.question ...) must read the log group of a function that writes "
        "them (the reference RAG function or one with the library's runtime layer); partial if only one of them (or "
        "only metric filters), or if such a query or filter reads no such log group."
    ),
)
def rule_log_intelligence(inv: Inventory) -> Finding:
    detectors = inv.of_type("AWS::Logs::LogAnomalyDetector")
    queries = inv.of_type("AWS::Logs::QueryDefinition")
    filters = inv.of_type("AWS::Logs::MetricFilter")
    status = status_of([bool(detectors), bool(queries)])
    parts = [
        f"{len(detectors)} log anomaly detector(s)",
        f"{len(queries)} saved query(ies)",
        f"{len(filters)} metric filter(s)",
    ]
    if status is Status.MISSING and filters:
        return Finding(
            Status.PARTIAL, "Only metric filters: no log anomaly detector or saved Logs Insights query.", filters
        )
    if status is Status.MISSING:
        return Finding(status, "No log anomaly detector and no saved Logs Insights query.")
    evidence = detectors + queries + filters
    schema = SchemaLogs.of(inv)
    blind_queries = [
        q for q in queries
        if depends_on_library_schema(render(q.properties.get("QueryString")))
        and not schema.read_by(inv, q, q.properties.get("LogGroupNames"))
    ]  # fmt: skip
    by_metric: dict[tuple[str | None, str | None], list[Resource]] = {}
    for mf, namespace, name in metric_filter_metrics(inv):
        if depends_on_library_schema(render(mf.properties.get("FilterPattern"))):
            by_metric.setdefault((namespace, name), []).append(mf)
    blind_metrics = sorted(
        name or "?" for (_, name), fs in by_metric.items()
        if not any(schema.read_by(inv, mf, mf.properties.get("LogGroupName")) for mf in fs)
    )  # fmt: skip
    if blind_queries or blind_metrics:
        what = []
        if blind_queries:
            what.append(f"{len(blind_queries)} of {len(queries)} saved query(ies) ({ids(blind_queries)})")
        if blind_metrics:
            what.append(f"the metric filter(s) of {', '.join(dict.fromkeys(blind_metrics))}")
        return Finding(
            Status.PARTIAL,
            f"{' and '.join(what)} select the library's log lines (message = \"ask\" ...) in log groups of no "
            "function that writes them (none is the reference RAG function or carries the library's runtime layer), "
            "so they stay empty; " + ", ".join(parts) + ".",
            evidence,
        )
    return Finding(status, ", ".join(parts) + ".", evidence)


@LEVEL.capability(
    id="compliance",
    title="Security and compliance (Security Hub, Config rules, CloudTrail)",
    constructs=("ComplianceBaseline",),
    provided_by="ComplianceBaseline",
    next_step=(
        "Add ComplianceBaseline(stack, 'Compliance', workload=workload): Security Hub with standards, AWS Config "
        "managed rules, a multi-region CloudTrail trail."
    ),
    evidence=(
        "AWS::SecurityHub::Hub or ::Standard, AWS::Config::ConfigRule (or a conformance pack) and an "
        "AWS::CloudTrail::Trail that is logging; partial if some of the three."
    ),
)
def rule_compliance(inv: Inventory) -> Finding:
    hub = inv.of_type("AWS::SecurityHub::Hub", "AWS::SecurityHub::Standard")
    config = inv.of_type("AWS::Config::ConfigRule", "AWS::Config::ConformancePack", "AWS::Config::OrganizationConfigRule",
                         "AWS::Config::OrganizationConformancePack")  # fmt: skip
    trails = inv.of_type("AWS::CloudTrail::Trail")
    logging = [t for t in trails if surely(t.properties, "IsLogging", test=as_bool)]
    status = status_of([bool(hub), bool(config), bool(logging)])
    have, lack = [], []
    (have if hub else lack).append("Security Hub")
    (have if config else lack).append(f"{len(config)} AWS Config rule(s)" if config else "AWS Config rules")
    if logging:
        have.append("a logging CloudTrail trail")
    else:
        lack.append("a logging CloudTrail trail" + (" (IsLogging is not surely true)" if trails else ""))
    if status is Status.MISSING:
        return Finding(status, "No Security Hub, AWS Config rule or CloudTrail trail.")
    reason = ", ".join(have) + (f"; missing {', '.join(lack)}" if lack else "")
    return Finding(status, reason + ".", hub + config + logging)


@LEVEL.capability(
    id="cost-control",
    title="Cost control (Budgets with forecast, Cost Anomaly Detection)",
    constructs=("CostGuard",),
    provided_by="CostGuard",
    next_step=(
        "Add CostGuard(stack, 'CostGuard', ...): a Bedrock budget with ACTUAL and FORECASTED notifications and Cost "
        "Anomaly Detection, both to the alert topic."
    ),
    evidence=(
        "An AWS::Budgets::Budget with a FORECASTED notification and AWS::CE::AnomalySubscription (or monitor); partial "
        "if only one, or a budget without forecast."
    ),
)
def rule_cost_control(inv: Inventory) -> Finding:
    budgets = inv.of_type("AWS::Budgets::Budget")
    forecast = [
        b for b in budgets
        if any(
            n == "FORECASTED"
            for item in as_list(b.properties.get("NotificationsWithSubscribers"))
            for n in alternatives(item, "Notification", "NotificationType")
        )
    ]  # fmt: skip
    subscriptions = inv.of_type("AWS::CE::AnomalySubscription")
    monitors = inv.of_type("AWS::CE::AnomalyMonitor")
    status = status_of([bool(forecast), bool(subscriptions)])
    if status is Status.MISSING and not budgets and not monitors:
        return Finding(status, "No AWS Budget and no Cost Anomaly Detection.")
    parts = []
    parts.append(
        f"{len(forecast)} budget(s) with a FORECASTED notification"
        if forecast
        else (f"{len(budgets)} budget(s) without a FORECASTED notification" if budgets else "no budget")
    )
    parts.append("a Cost Anomaly Detection subscription" if subscriptions else
                 ("an anomaly monitor without subscription" if monitors else "no Cost Anomaly Detection"))  # fmt: skip
    return Finding(Status.PARTIAL if status is Status.MISSING else status, sentence("; ".join(parts)) + ".",
                   (forecast or budgets) + subscriptions + monitors)  # fmt: skip


@LEVEL.capability(
    id="incident-management",
    title="Incident management (OpsCenter OpsItems from alarms)",
    constructs=("ProactiveStack",),
    provided_by="ProactiveStack (open_ops_items)",
    next_step=(
        "Make high-severity alarms open OpsCenter OpsItems (ProactiveStack does it with open_ops_items; "
        "cloudwatch_actions.SsmAction in your own app)."
    ),
    evidence="An alarm action ARN containing ':opsitem:' (or an SSM Incident Manager response plan).",
)
def rule_incident_management(inv: Inventory) -> Finding:
    opening = [a for a in inv.of_type(ALARM, COMPOSITE_ALARM) if any(":opsitem:" in render(x) for x in actions_of(a))]
    plans = inv.of_type("AWS::SSMIncidents::ResponsePlan")
    incidents = [
        a for a in inv.of_type(ALARM, COMPOSITE_ALARM) if any(":ssm-incidents:" in render(x) for x in actions_of(a))
    ]
    if opening:
        return Finding(Status.PRESENT, f"{len(opening)} alarm(s) open an OpsCenter OpsItem.", opening)
    if plans or incidents:
        return Finding(
            Status.PRESENT,
            "SSM Incident Manager response plan (closed to new customers; OpsItems replace it here).",
            plans + incidents,
        )
    return Finding(Status.MISSING, "No alarm action opens an OpsItem (':opsitem:').")


_NOT_A_USE = {
    "AWS::Bedrock::GuardrailVersion",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    ALARM,
    DASHBOARD,
}


@LEVEL.capability(
    id="guardrail",
    title="Output safety (Bedrock Guardrail)",
    constructs=("LlmGuardrail",),
    provided_by="LlmGuardrail",
    next_step=(
        "Add LlmGuardrail (guardrail=true in the bundled app): contextual grounding, content filters, prompt attacks "
        "and PII, wired into the function through GUARDRAIL_ID / GUARDRAIL_VERSION."
    ),
    evidence=(
        "An AWS::Bedrock::Guardrail that a function (environment) or agent uses, or a function configured with a "
        "guardrail id; partial if a guardrail nothing uses."
    ),
)
def rule_guardrail(inv: Inventory) -> Finding:
    guardrails = inv.of_type("AWS::Bedrock::Guardrail")
    used = [g for g in guardrails if any(r.type not in _NOT_A_USE for r in inv.referrers(g))]
    external = [
        f for f in app_functions(inv)
        if any("GUARDRAIL" in k.upper() and literal(v) for k, v in env_of(inv, f).items())
    ]  # fmt: skip
    if used:
        users = [r for g in used for r in inv.referrers(g) if r.type not in _NOT_A_USE]
        return Finding(Status.PRESENT, f"Guardrail {ids(used)} used by {ids(users)}.", used + users)
    if external:
        return Finding(
            Status.PRESENT,
            f"Function(s) {ids(external)} configured with a guardrail defined outside the templates.",
            external,
        )
    if guardrails:
        return Finding(
            Status.PARTIAL, f"Guardrail {ids(guardrails)} exists but no function or agent uses it.", guardrails
        )
    return Finding(Status.MISSING, "No Bedrock Guardrail.")


@LEVEL.capability(
    id="prompt-management",
    title="Prompt versioning (Bedrock Prompt Management)",
    constructs=("ManagedPrompt",),
    provided_by="ManagedPrompt",
    next_step=(
        "Keep the prompt in ManagedPrompt (prompt_management=true): Bedrock Prompt Management with immutable versions "
        "and an active-version parameter."
    ),
    evidence="AWS::Bedrock::Prompt with an AWS::Bedrock::PromptVersion; partial if a prompt without versions.",
)
def rule_prompt_management(inv: Inventory) -> Finding:
    prompts = inv.of_type("AWS::Bedrock::Prompt")
    versions = inv.of_type("AWS::Bedrock::PromptVersion")
    if versions:
        return Finding(
            Status.PRESENT, f"{len(prompts)} managed prompt(s) with {len(versions)} version(s).", prompts + versions
        )
    if prompts:
        return Finding(
            Status.PARTIAL,
            f"Managed prompt(s) {ids(prompts)} without a PromptVersion (no immutable versions).",
            prompts,
        )
    return Finding(Status.MISSING, "No Bedrock Prompt Management prompt.")


QUALITY_METRIC = re.compile(
    r"quality|rouge|bleu|f1|ground|faithful|relevan|hallucinat|refusal|toxic|accuracy|drift", re.IGNORECASE
)


@LEVEL.capability(
    id="quality-evaluation",
    title="Output quality and drift (scheduled evaluation, quality alarms)",
    constructs=("QualityCanary",),
    provided_by="QualityCanary",
    next_step=(
        "Add QualityCanary: a scheduled golden-set run (ROUGE-L, BLEU, token F1) with quality-drop, drift and refusal "
        "alarms, against a function that can answer the golden questions."
    ),
    evidence=(
        "A scheduled evaluation (EventBridge schedule -> Lambda, EventBridge Scheduler or a Synthetics canary) and an "
        "alarm on an output-quality metric (quality, ROUGE, BLEU, F1, grounding, refusal ...); the library's quality "
        "canary must ask a function that can answer its golden questions (the reference RAG function, or a request "
        f"contract in the canary's {CANARY_REQUEST_CONTRACT_ENV}); partial if one of them, or if the canary cannot be "
        "answered."
    ),
)
def rule_quality_evaluation(inv: Inventory) -> Finding:
    quality_alarms = [
        a for a in inv.of_type(ALARM) if any(name and QUALITY_METRIC.search(name) for _, name in alarm_metrics(a))
    ]
    functions = {f.key: f for f in app_functions(inv)}
    scheduled, canaries = [], []
    for rule in inv.of_type("AWS::Events::Rule"):
        if not is_set(rule.properties.get("ScheduleExpression")):
            continue
        called = {k for t in as_list(rule.properties.get("Targets")) if isinstance(t, dict)
                  for k in inv.refs(rule.stack, t.get("Arn")) if k in functions}  # fmt: skip
        if called:
            scheduled.append(rule)
            canaries += [functions[k] for k in sorted(called) if is_canary(env_of(inv, functions[k]))]
    scheduled += inv.of_type("AWS::Scheduler::Schedule", "AWS::Synthetics::Canary")
    status = status_of([bool(quality_alarms), bool(scheduled)])
    if status is Status.MISSING:
        return Finding(status, "No scheduled quality evaluation and no alarm on an output-quality metric.")
    parts = [
        f"{len(scheduled)} scheduled evaluation(s)" if scheduled else "no scheduled evaluation",
        f"{len(quality_alarms)} alarm(s) on output-quality metrics"
        if quality_alarms
        else "no alarm on an output-quality metric",
    ]
    problems = [p for c in dict.fromkeys(canaries) if (p := canary_target_problem(inv, c))]
    if problems:
        return Finding(
            Status.PARTIAL,
            f"{'; '.join(problems)}: its quality metrics stay empty or alarm; " + "; ".join(parts) + ".",
            scheduled + quality_alarms + list(dict.fromkeys(canaries)),
        )
    return Finding(status, sentence("; ".join(parts)) + ".", scheduled + quality_alarms)
