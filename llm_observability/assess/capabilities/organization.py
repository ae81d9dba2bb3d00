"""The organization-scale group: what many workloads in many accounts, regions and tenants add to the levels.

Why a group of its own and not more Level 3 rows: the levels are the maturity model's, and the level reached is
what ``--min-level`` and :class:`~llm_observability.assess.nag_pack.LlmObservabilityChecks` gate on in users' CI.
A Level 3 row for a monitoring account would lower every single-account assembly that reaches Level 3 today,
although one account has nothing to share; and these rows are orthogonal to the levels (a Level 1 estate gains as
much from one monitoring account as a Level 3 one). So the scorecard reports them beside the levels, as
present / partial / missing with a next step, and never counts them in the level reached. Each row's ``level`` is
the level whose rows it builds on (from which the bundled app provides it): the alarms and dashboards a
monitoring account shares and a composite alarm pages for are Level 1's, the aggregated Config and Security Hub
findings Level 2's. Each capability is declared on its evidence rule (read conservatively, as on Level 1).
"""

from __future__ import annotations

import json

from llm_observability.assess.intrinsics import alternatives, as_list, is_set, literal, render, surely
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.model import Level, Status
from llm_observability.assess.queries import (
    ALARM,
    COMPOSITE_ALARM,
    DASHBOARD,
    actions_of,
    composite_members,
    named_alarms,
)
from llm_observability.assess.report import Finding, ids, join_names, sentence

GROUP = Level(1, group="organization")

OAM_SINK = "AWS::Oam::Sink"
OAM_LINK = "AWS::Oam::Link"
INSIGHT_RULE = "AWS::CloudWatch::InsightRule"
INFERENCE_PROFILE = "AWS::Bedrock::ApplicationInferenceProfile"
CONFIG_AGGREGATOR = "AWS::Config::ConfigurationAggregator"
FINDING_AGGREGATOR = "AWS::SecurityHub::FindingAggregator"
#: What an OAM link can share (its ResourceTypes), as the report names them.
OAM_TYPES = {"AWS::CloudWatch::Metric": "metrics", "AWS::Logs::LogGroup": "logs", "AWS::XRay::Trace": "traces",
             "AWS::ApplicationInsights::Application": "Application Insights applications",
             "AWS::InternetMonitor::Monitor": "internet monitors", "AWS::ApplicationSignals::Service": "Application Signals services",
             "AWS::ApplicationSignals::ServiceLevelObjective": "service level objectives"}  # fmt: skip


def shared_types(link: Resource) -> list[str]:
    """The resource types an OAM link surely shares (in every ``Fn::If`` branch), in ``OAM_TYPES`` order."""
    options = [option for option in alternatives(link.properties, "ResourceTypes") if isinstance(option, list)]
    if not options:
        return []
    sure = set.intersection(*({literal(t) for t in option} for option in options))
    return [t for t in OAM_TYPES if t in sure] + sorted(t for t in sure - set(OAM_TYPES) if t)


def _and(items: list[str]) -> str:
    """``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def cross_account_readers(inv: Inventory) -> list[Resource]:
    """Alarms whose metric queries name an ``AccountId`` and dashboards whose metrics carry an ``accountId``: what
    reads another account's metrics (through an OAM sink, or CloudWatch's cross-account console role)."""
    alarms = [
        a for a in inv.of_type(ALARM)
        if any(isinstance(q, dict) and is_set(q.get("AccountId")) for q in as_list(a.properties.get("Metrics")))
    ]  # fmt: skip
    dashboards = [d for d in inv.of_type(DASHBOARD) if '"accountId"' in render(d.properties.get("DashboardBody"))]
    return alarms + dashboards


@GROUP.capability(
    id="cross-account-observability",
    title="Cross-account observability (CloudWatch OAM sinks and links)",
    constructs=("MonitoringSink", "SourceLink", "EstateDashboards", "EstateAlarms"),
    provided_by="MonitoringSink, EstateDashboards and EstateAlarms (the monitoring stage, per region) and SourceLink "
    "(each target's OAM link stack)",
    next_step=(
        "Deploy the bundled app with -c targets='[...]' -c monitoring='{\"account\": ...}': a MonitoringSink per "
        "region admitting the organization or the targets' accounts, a SourceLink per target sharing metrics and traces (logs "
        "only with share_logs), and EstateDashboards and EstateAlarms across accounts in the monitoring account."
    ),
    evidence=(
        "An AWS::Oam::Link sharing AWS::CloudWatch::Metric, or an AWS::Oam::Sink with a Policy and a dashboard or "
        "alarm reading another account's metrics (accountId / AccountId); partial if a sink has no policy, nothing reads "
        "across accounts, or links share no metrics."
    ),
)
def rule_cross_account(inv: Inventory) -> Finding:
    sinks, links = inv.of_type(OAM_SINK), inv.of_type(OAM_LINK)
    if not sinks and not links:
        return Finding(Status.MISSING, "No OAM sink or link: each account is observed alone.")
    open_sinks = [s for s in sinks if surely(s.properties, "Policy", test=is_set)]
    readers = cross_account_readers(inv)
    sharing = [link for link in links if "AWS::CloudWatch::Metric" in shared_types(link)]
    parts, problems = [], []
    if links:
        types = list(dict.fromkeys(t for link in links for t in shared_types(link)))
        parts.append(f"{len(links)} OAM link(s) sharing {_and([OAM_TYPES.get(t, t) for t in types]) or 'nothing'}")
        if "AWS::Logs::LogGroup" in types:
            parts.append("logs shared too: they hold questions and answers")
        if len(sharing) < len(links):
            problems.append(f"link(s) {ids([x for x in links if x not in sharing])} share no metrics")
    if sinks:
        parts.append(f"{len(sinks)} OAM sink(s), {len(open_sinks)} with a policy admitting source accounts")
        if len(open_sinks) < len(sinks):
            problems.append(f"sink(s) {ids([s for s in sinks if s not in open_sinks])} have no Policy, so no source "
                            "account can link")  # fmt: skip
        if readers:
            parts.append(f"{len(readers)} dashboard(s)/alarm(s) read other accounts' metrics")
        elif not links:
            problems.append("no dashboard or alarm reads another account's metrics (accountId)")
    present = bool(sharing) or bool(open_sinks and readers)
    status = Status.PRESENT if present and not problems else Status.PARTIAL
    text = "; ".join(parts) + (f"; but {'; '.join(problems)}" if problems else "")
    return Finding(status, sentence(text) + ".", sinks + links + readers)


@GROUP.capability(
    id="paging-once",
    title="Paging once per incident (composite alarms with actions suppression)",
    constructs=("WorkloadHealth",),
    provided_by="WorkloadHealth (health_alarm: one composite per workload over its high-severity alarms)",
    next_step=(
        "Add a WorkloadHealth per workload (health_alarm, on by default): a composite over its high-severity alarms "
        "that is the only one paging, the members notifying the low-urgency topic, with an actions suppressor (healing in "
        "progress, optionally your deployment alarm)."
    ),
    evidence=(
        "An AWS::CloudWatch::CompositeAlarm with AlarmActions and an ActionsSuppressor whose member alarms do not page "
        "the same targets; partial if a composite has no actions or no suppressor, or members page too."
    ),
)
def rule_paging_once(inv: Inventory) -> Finding:
    composites = inv.of_type(COMPOSITE_ALARM)
    if not composites:
        return Finding(Status.MISSING, "No composite alarm: one incident pages once per alarm that fires.")
    paging = [c for c in composites if actions_of(c)]
    if not paging:
        return Finding(
            Status.PARTIAL, f"Composite alarm(s) {ids(composites)} without alarm actions: they page no one.", composites
        )
    unsuppressed, doubled, evidence = [], [], list(composites)
    for composite in paging:
        targets = {_action_identity(inv, composite, a) for a in actions_of(composite)}
        members = composite_members(inv, composite)
        evidence += members
        doubled += [m for m in members if targets & {_action_identity(inv, m, a) for a in actions_of(m)}]
        if not surely(composite.properties, "ActionsSuppressor", test=is_set):
            unsuppressed.append(composite)
        else:
            evidence += named_alarms(inv, composite.stack, composite.properties.get("ActionsSuppressor"))
    problems = []
    if unsuppressed:
        problems.append(f"{ids(unsuppressed)} without an ActionsSuppressor (they page while a runbook heals)")
    if doubled:
        problems.append(f"member alarm(s) {ids(list(dict.fromkeys(doubled)))} page the same target as their composite")
    reason = f"{len(paging)} composite alarm(s) with actions"
    if problems:
        return Finding(Status.PARTIAL, f"{reason}, but {'; '.join(problems)}.", list(dict.fromkeys(evidence)))
    return Finding(Status.PRESENT, f"{reason}, each with an actions suppressor; their member alarms do not page.",
                   list(dict.fromkeys(evidence)))  # fmt: skip


def _action_identity(inv: Inventory, alarm: Resource, action: object) -> str:
    """One alarm action as comparable text: the resource it references, else its rendered ARN."""
    keys = sorted(inv.refs(alarm.stack, action))
    return "|".join(f"{stack}/{logical_id}" for stack, logical_id in keys) if keys else render(action)


def rule_keys(rule: Resource) -> list[str]:
    """The contribution keys of a Contributor Insights rule (``$.requestMetadata.tenant`` ...), empty if unreadable."""
    try:
        body = json.loads(render(rule.properties.get("RuleBody")))
    except ValueError:
        return []
    contribution = body.get("Contribution") if isinstance(body, dict) else None
    keys = contribution.get("Keys") if isinstance(contribution, dict) else None
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


@GROUP.capability(
    id="tenant-usage",
    title="Usage and cost per tenant (Contributor Insights rules, application inference profiles)",
    constructs=("TenantUsage",),
    provided_by="TenantUsage (tenant_insights: top tenants by tokens, requests and errors per model) and the "
    "tenant_inference_profiles setting (a tagged application inference profile per tenant)",
    level=2,
    next_step=(
        "Add TenantUsage (tenant_insights, Level 2): Contributor Insights rules on the invocation log (or the app's "
        "log for InvokeModel) keyed by the tenant in requestMetadata; tenant_inference_profiles adds a tagged "
        "application inference profile per tenant for Cost Explorer."
    ),
    evidence=(
        "An ENABLED AWS::CloudWatch::InsightRule; AWS::Bedrock::ApplicationInferenceProfile resources must carry Tags; "
        "partial if every rule is disabled, profiles have no tags, or there are profiles but no rule."
    ),
)
def rule_tenant_usage(inv: Inventory) -> Finding:
    rules, profiles = inv.of_type(INSIGHT_RULE), inv.of_type(INFERENCE_PROFILE)
    if not rules and not profiles:
        return Finding(Status.MISSING, "No Contributor Insights rule or application inference profile: usage and cost "
                       "are not broken down by tenant or caller.")  # fmt: skip
    enabled = [r for r in rules if surely(r.properties, "RuleState", test=lambda v: literal(v) == "ENABLED")]
    untagged = [p for p in profiles if not surely(p.properties, "Tags", test=is_set)]
    parts, problems = [], []
    if rules:
        keys = list(dict.fromkeys(k for r in enabled for k in rule_keys(r)))
        parts.append(f"{len(enabled)} of {len(rules)} Contributor Insights rule(s) enabled"
                     + (f" (keys {join_names(keys, 4)})" if keys else ""))  # fmt: skip
        if not enabled:
            problems.append("no rule is ENABLED")
    else:
        problems.append("no Contributor Insights rule shows the top tenants")
    if profiles:
        parts.append(f"{len(profiles)} application inference profile(s)")
        if untagged:
            problems.append(f"profile(s) {ids(untagged)} carry no tags, so Cost Explorer cannot split their cost")
    text = "; ".join(parts) + (f"; but {'; '.join(problems)}" if problems else "")
    return Finding(Status.PARTIAL if problems else Status.PRESENT, sentence(text) + ".", rules + profiles)


@GROUP.capability(
    id="organization-aggregation",
    title="Organization-wide compliance view (Config aggregator, Security Hub finding aggregation)",
    constructs=("MonitoringStack",),
    provided_by="MonitoringStack (organization_services=delegated_admin: in the monitoring account's first region)",
    level=2,
    next_step=(
        "With a delegated administrator for AWS Config and Security Hub, set organization_services=delegated_admin: "
        "the monitoring account gets a Config aggregator over the organization and Security Hub finding aggregation."
    ),
    evidence=(
        "An AWS::Config::ConfigurationAggregator (organization or account sources) and an "
        "AWS::SecurityHub::FindingAggregator; partial if only one."
    ),
)
def rule_organization_aggregation(inv: Inventory) -> Finding:
    aggregators, findings = inv.of_type(CONFIG_AGGREGATOR), inv.of_type(FINDING_AGGREGATOR)
    if not aggregators and not findings:
        return Finding(Status.MISSING, "No AWS Config aggregator or Security Hub finding aggregator: compliance is "
                       "read account by account, region by region.")  # fmt: skip
    parts = []
    for aggregator in aggregators:
        if surely(aggregator.properties, "OrganizationAggregationSource", test=is_set):
            parts.append(f"Config aggregator {aggregator.logical_id} over the organization")
        else:
            sources = as_list(aggregator.properties.get("AccountAggregationSources"))
            parts.append(f"Config aggregator {aggregator.logical_id} over {len(sources)} account source(s)")
    for finding in findings:
        mode = literal(finding.properties.get("RegionLinkingMode")) or "unresolved"
        parts.append(f"Security Hub finding aggregator {finding.logical_id} (RegionLinkingMode {mode}; accounts come "
                     "from the delegated administrator)")  # fmt: skip
    if not aggregators:
        parts.append("but no Config aggregator")
    if not findings:
        parts.append("but no Security Hub finding aggregator")
    status = Status.PRESENT if aggregators and findings else Status.PARTIAL
    return Finding(status, sentence("; ".join(parts)) + ".", aggregators + findings)
