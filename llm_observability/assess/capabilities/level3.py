"""Level 3, AIOps: DevOps Guru, CodeGuru Profiler, self-healing runbooks, Prometheus and OpenSearch
log analytics. Each capability is declared on its evidence rule (read conservatively, as on Level 1).
"""

from __future__ import annotations

from llm_observability.assess.emitters import (
    CODEGURU_EXEC_WRAPPER,
    EXEC_WRAPPER_ENV,
    has_profiler_layer,
    profiler_start,
)
from llm_observability.assess.intrinsics import (
    as_list,
    is_set,
    literal,
    render,
    surely,
)
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.model import Level, Status
from llm_observability.assess.queries import (
    FUNCTION_TYPES,
    env_of,
)
from llm_observability.assess.report import Finding, ids, sentence, status_of

LEVEL = Level(3)


@LEVEL.capability(
    id="devops-guru",
    title="ML operational insights (Amazon DevOps Guru)",
    constructs=("DevOpsGuruCoverage",),
    provided_by="DevOpsGuruCoverage (AiOpsStack)",
    next_step=(
        "Add DevOpsGuruCoverage(stack, 'DevOpsGuru', stack_names=..., topic=...) (AiOpsStack): resource collection "
        "over the stacks plus a notification channel to the alert topic."
    ),
    evidence="AWS::DevOpsGuru::ResourceCollection and AWS::DevOpsGuru::NotificationChannel; partial if only one.",
)
def rule_devops_guru(inv: Inventory) -> Finding:
    collections = inv.of_type("AWS::DevOpsGuru::ResourceCollection")
    channels = inv.of_type("AWS::DevOpsGuru::NotificationChannel")
    status = status_of([bool(collections), bool(channels)])
    if status is Status.PRESENT:
        return Finding(status, "DevOps Guru resource collection with a notification channel.", collections + channels)
    if collections:
        return Finding(
            status,
            "DevOps Guru resource collection without a notification channel: insights reach no one.",
            collections,
        )
    if channels:
        return Finding(status, "DevOps Guru notification channel only: the coverage (resource collection) is not in the templates "
                       "(adopted from the account? then acknowledge).", channels)  # fmt: skip
    return Finding(status, "No DevOps Guru resource collection or notification channel.")


@LEVEL.capability(
    id="codeguru-profiler",
    title="Runtime profiling (Amazon CodeGuru Profiler)",
    constructs=("CodeGuruProfiling",),
    provided_by="CodeGuruProfiling (AiOpsStack)",
    next_step=(
        "Add CodeGuruProfiling(stack, 'Profiler', function=..., name=...) (AiOpsStack): a profiling group and the "
        "agent wired into the function, started by the agent layer's exec wrapper "
        f"({EXEC_WRAPPER_ENV}={CODEGURU_EXEC_WRAPPER}) or by the handler."
    ),
    evidence=(
        "An AWS::CodeGuruProfiler::ProfilingGroup that a function sends profiles to (AWS_CODEGURU_PROFILER_* "
        "environment naming or referencing it) and that starts the agent (the reference handler, the agent layer's "
        f"exec wrapper {CODEGURU_EXEC_WRAPPER} or handler wrapper); partial if no function is wired, or nothing "
        "starts the agent."
    ),
)
def rule_codeguru(inv: Inventory) -> Finding:
    groups = inv.of_type("AWS::CodeGuruProfiler::ProfilingGroup")
    if not groups:
        return Finding(Status.MISSING, "No CodeGuru Profiler profiling group.")
    wired: list[Resource] = []
    users: list[Resource] = []
    for fn in inv.of_type(*FUNCTION_TYPES):
        env = env_of(inv, fn)
        for group in groups:
            name = literal(group.properties.get("ProfilingGroupName"))
            by_name = bool(name) and any(
                k.startswith("AWS_CODEGURU_PROFILER") and name in render(v) for k, v in env.items()
            )
            if by_name or group.key in inv.refs(fn.stack, env):
                wired.append(group)
                users.append(fn)
    if not wired:
        return Finding(
            Status.PARTIAL, f"Profiling group(s) {ids(groups)} but no function is wired to send profiles.", groups
        )
    users = list(dict.fromkeys(users))
    idle = [fn for fn in users if profiler_start(inv, fn) is None]
    evidence = list(dict.fromkeys(wired + users))
    if idle:
        layered = [fn for fn in idle if has_profiler_layer(inv, fn)]
        bare = [fn for fn in idle if fn not in layered]
        problems = []
        if layered:
            problems.append(f"function(s) {ids(layered)} carry the agent layer but nothing starts it")
        if bare:
            problems.append(
                f"function(s) {ids(bare)} name the profiling group but neither carry the agent layer nor start it"
            )
        return Finding(
            Status.PARTIAL,
            f"Profiling group(s) {ids(set(wired))}: {'; '.join(problems)} (no {EXEC_WRAPPER_ENV}="
            f"{CODEGURU_EXEC_WRAPPER}, no agent handler wrapper, not the reference handler), so no profile arrives.",
            evidence,
        )
    starts = sorted({f"{fn.logical_id} ({profiler_start(inv, fn)})" for fn in users})
    return Finding(
        Status.PRESENT,
        f"Profiling group(s) {ids(set(wired))} receive profiles from {', '.join(starts)}.",
        evidence,
    )


@LEVEL.capability(
    id="self-healing",
    title="Self-healing runbooks (SSM Automation started from alarms)",
    constructs=("RemediationRunbooks",),
    provided_by="RemediationRunbooks (AiOpsStack)",
    next_step=(
        "Add RemediationRunbooks (AiOpsStack): SSM Automation documents (model failover, prompt rollback, throttle) "
        "started by EventBridge rules on alarm state changes."
    ),
    evidence=(
        "An AWS::SSM::Document of DocumentType Automation and an AWS::Events::Rule on CloudWatch alarm state changes "
        "whose target ARN contains ':automation-definition/'; partial if documents are not triggered, or rules do not "
        "react to alarms."
    ),
)
def rule_self_healing(inv: Inventory) -> Finding:
    documents = [
        d
        for d in inv.of_type("AWS::SSM::Document")
        if surely(d.properties, "DocumentType", test=lambda v: v == "Automation")
    ]
    rules = [
        r for r in inv.of_type("AWS::Events::Rule")
        if any(":automation-definition/" in render(t.get("Arn")) for t in as_list(r.properties.get("Targets"))
               if isinstance(t, dict))
    ]  # fmt: skip
    on_alarms = [r for r in rules if "aws.cloudwatch" in render(r.properties.get("EventPattern"))]
    if on_alarms:
        return Finding(Status.PRESENT, f"{len(on_alarms)} EventBridge rule(s) start SSM Automation on alarm state changes"
                       f"{f' ({len(documents)} runbook document(s))' if documents else ''}.", documents + on_alarms)  # fmt: skip
    if rules:
        return Finding(
            Status.PARTIAL,
            f"EventBridge rule(s) {ids(rules)} start SSM Automation, but not on alarm state changes.",
            documents + rules,
        )
    if documents:
        return Finding(
            Status.PARTIAL, f"Automation runbook(s) {ids(documents)} that no EventBridge rule starts.", documents
        )
    return Finding(Status.MISSING, "No SSM Automation runbook started from alarms.")


@LEVEL.capability(
    id="prometheus",
    title="Amazon Managed Service for Prometheus (rules, alert manager)",
    constructs=("PrometheusExport",),
    provided_by="AiOpsStack (Prometheus workspace)",
    next_step=(
        "Deploy AiOpsStack's Prometheus export: an AMP workspace with recording and alerting rules "
        "(AWS::APS::RuleGroupsNamespace) and an alert manager definition."
    ),
    evidence=(
        "AWS::APS::Workspace with an AlertManagerDefinition and an AWS::APS::RuleGroupsNamespace; partial if a "
        "workspace lacks rules or alert manager."
    ),
)
def rule_prometheus(inv: Inventory) -> Finding:
    workspaces = inv.of_type("AWS::APS::Workspace")
    namespaces = inv.of_type("AWS::APS::RuleGroupsNamespace")
    if not workspaces:
        if namespaces:
            return Finding(Status.PARTIAL, "Prometheus rule groups for a workspace outside the templates.", namespaces)
        return Finding(Status.MISSING, "No Amazon Managed Service for Prometheus workspace.")
    complete = []
    for ws in workspaces:
        rules = [n for n in namespaces if ws.key in inv.refs(n.stack, n.properties.get("Workspace"))]
        if rules and surely(ws.properties, "AlertManagerDefinition", test=is_set):
            complete += [ws, *rules]
    if complete:
        return Finding(
            Status.PRESENT, "Prometheus workspace with rule groups and an alert manager definition.", complete
        )
    lacks = []
    if not namespaces:
        lacks.append("no rule groups namespace")
    if not any(surely(w.properties, "AlertManagerDefinition", test=is_set) for w in workspaces):
        lacks.append("no alert manager definition")
    return Finding(
        Status.PARTIAL,
        f"Prometheus workspace with {', '.join(lacks) or 'rules not attached to it'}.",
        workspaces + namespaces,
    )


_FIREHOSE_OPENSEARCH = ("AmazonopensearchserviceDestinationConfiguration", "AmazonOpenSearchServerlessDestinationConfiguration",
                        "ElasticsearchDestinationConfiguration")  # fmt: skip


@LEVEL.capability(
    id="opensearch-log-analytics",
    title="OpenSearch log analytics (subscription filter -> Firehose -> OpenSearch)",
    constructs=("LogAnalytics",),
    provided_by="AiOpsStack (OpenSearch log analytics)",
    next_step=(
        "Deploy AiOpsStack's log analytics: a CloudWatch Logs subscription filter to a Firehose delivery stream that "
        "writes to an OpenSearch domain or serverless collection."
    ),
    evidence=(
        "An AWS::OpenSearchService::Domain or AWS::OpenSearchServerless::Collection, an "
        "AWS::KinesisFirehose::DeliveryStream with an OpenSearch destination and an AWS::Logs::SubscriptionFilter to "
        "the stream; partial if only part of the path."
    ),
)
def rule_opensearch(inv: Inventory) -> Finding:
    search = inv.of_type(
        "AWS::OpenSearchService::Domain", "AWS::OpenSearchServerless::Collection", "AWS::Elasticsearch::Domain"
    )
    streams = [
        s
        for s in inv.of_type("AWS::KinesisFirehose::DeliveryStream")
        if any(k in s.properties for k in _FIREHOSE_OPENSEARCH)
    ]
    stream_keys = {s.key for s in streams}
    filters = [
        f for f in inv.of_type("AWS::Logs::SubscriptionFilter")
        if inv.refs(f.stack, f.properties.get("DestinationArn")) & stream_keys
        or (not streams and ":firehose:" in render(f.properties.get("DestinationArn")))
    ]  # fmt: skip
    status = status_of([bool(search), bool(streams), bool(filters)])
    if status is Status.MISSING:
        return Finding(status, "No OpenSearch log analytics path (subscription filter -> Firehose -> OpenSearch).")
    parts = [
        f"{len(search)} OpenSearch domain/collection(s)" if search else "no OpenSearch domain or collection",
        f"{len(streams)} Firehose stream(s) to OpenSearch" if streams else "no Firehose stream to OpenSearch",
        f"{len(filters)} subscription filter(s) to the stream"
        if filters
        else "no log subscription filter to the stream",
    ]
    return Finding(status, sentence("; ".join(parts)) + ".", search + streams + filters)
