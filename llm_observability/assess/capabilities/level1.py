"""Level 1, Foundation: tracing, structured logs, LLM metrics, dashboards, alarms, notifications,
Bedrock invocation logging and cost visibility. Each capability is declared on its evidence rule.

Rules read properties, not just resource types (a Lambda function counts as traced only with
``TracingConfig.Mode: Active`` or an OpenTelemetry layer started by its wrapper), follow references across
stacks, and read unresolved values conservatively: a property that is an ``Fn::If`` counts only if every
branch qualifies, and a value known only at deploy time (a parameter) does not count as proof.
"""

from __future__ import annotations

import json

from llm_observability.assess.emitters import Emitter, emitters, runtime_settings_without_layer
from llm_observability.assess.intrinsics import (
    as_bool,
    as_list,
    is_set,
    literal,
    possibly,
    render,
    strings,
    surely,
)
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.model import Level, Status
from llm_observability.assess.queries import (
    ALARM,
    COMPOSITE_ALARM,
    CUSTOM_RESOURCE,
    DASHBOARD,
    EXEC_WRAPPER_ENV,
    OTEL_EXEC_WRAPPER,
    actions_of,
    alarms_with_actions,
    api_stages,
    api_targets,
    app_functions,
    dashboard_metrics,
    emf_namespaces,
    env_of,
    fn_otel_traced,
    fn_prop,
    fn_traced,
    fn_traced_any,
    has_otel_layer,
    is_custom_namespace,
    metric_filter_metrics,
    metric_users,
    starts_otel,
    tag_keys,
)
from llm_observability.assess.report import Finding, ids, join_names, sentence, status_of

LEVEL = Level(1)


@LEVEL.capability(
    id="tracing",
    title="Distributed tracing (OpenTelemetry or AWS X-Ray)",
    constructs=("RagReferenceApp",),
    provided_by="RagReferenceApp",
    next_step=(
        "Trace end to end: OpenTelemetry on the functions behind the API (the ADOT Lambda layer "
        "AWSOpenTelemetryDistroPython started by AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument) or Lambda "
        "tracing=Tracing.ACTIVE, and tracing_enabled=True on the API Gateway stage (RagReferenceApp does both)."
    ),
    evidence=(
        "Request-path Lambda functions (API integration targets; all app functions if there is no API) are traced, by "
        "OpenTelemetry (an OpenTelemetry layer such as ADOT's AWSOpenTelemetryDistroPython AND its wrapper "
        "/opt/otel-instrument in AWS_LAMBDA_EXEC_WRAPPER, directly or after the library's runtime wrapper through "
        "LLMOBS_NEXT_WRAPPER) or by X-Ray active tracing (TracingConfig.Mode Active), and every API Gateway stage has "
        "TracingEnabled true; partial if only some, or only the API or only the functions, are traced."
    ),
)
def rule_tracing(inv: Inventory) -> Finding:
    functions = app_functions(inv)
    behind_api = [f for f in functions if f.key in api_targets(inv)]
    scoped = behind_api or functions
    stages = api_stages(inv)
    if not scoped and not stages:
        return Finding(Status.MISSING, "No Lambda function or API Gateway stage to trace.")
    traced_fns = [f for f in scoped if fn_traced_any(inv, f)]
    untraced_fns = [f for f in scoped if f not in traced_fns]
    traced_stages = [s for s, on in stages if on]
    untraced_stages = [s for s, on in stages if not on]
    evidence = traced_stages + traced_fns
    conditional = [f for f in untraced_fns if fn_traced_any(inv, f, check=possibly)]
    conditional += [s for s in untraced_stages if possibly(s.properties, "TracingEnabled", test=as_bool)]
    note = f" (tracing of {ids(conditional)} depends on a template condition)" if conditional else ""
    if not evidence and not conditional:
        return Finding(
            Status.MISSING,
            f"Tracing is off: {len(scoped)} function(s) and {len(stages)} API stage(s) without tracing."
            + _half_otel(inv, untraced_fns),
        )
    problems = []
    if untraced_stages:
        problems.append(f"API stage(s) without TracingEnabled: {ids(untraced_stages)}")
    if untraced_fns:
        problems.append(
            f"{'request-path ' if behind_api else ''}function(s) without tracing (neither OpenTelemetry nor X-Ray "
            f"active tracing): {ids(untraced_fns)}"
        )
    if problems:
        return Finding(
            Status.PARTIAL, "; ".join(problems) + note + "." + _half_otel(inv, untraced_fns), evidence + conditional
        )
    what = []
    if traced_stages:
        what.append(f"{len(traced_stages)} API stage(s)")
    if traced_fns:
        what.append(f"{len(traced_fns)} {'request-path ' if behind_api else ''}function(s)")
    otel = [f for f in traced_fns if fn_otel_traced(inv, f)]
    xray = [f for f in traced_fns if fn_traced(inv, f)]
    how = [f"OpenTelemetry: {ids(otel)}" if otel else "", f"X-Ray active tracing: {ids(xray)}" if xray else ""]
    detail = f" ({'; '.join(h for h in how if h)})" if traced_fns else ""
    others = [f for f in functions if f not in scoped and not fn_traced_any(inv, f)]
    extra = f" (not behind the API and untraced: {ids(others)})" if others else ""
    return Finding(Status.PRESENT, f"Tracing on {' and '.join(what)}{detail}{extra}.", evidence)


def _half_otel(inv: Inventory, functions: list[Resource]) -> str:
    """A hint for untraced functions that have only half of OpenTelemetry: the layer without its wrapper, or the
    wrapper without a layer that ships it."""
    layer_only = [f for f in functions if has_otel_layer(inv, f) and not starts_otel(inv, f)]
    wrapper_only = [f for f in functions if starts_otel(inv, f) and not has_otel_layer(inv, f)]
    hints = []
    if layer_only:
        hints.append(f"{ids(layer_only)} carry an OpenTelemetry layer but do not start it ({EXEC_WRAPPER_ENV}="
                     f"{OTEL_EXEC_WRAPPER})")  # fmt: skip
    if wrapper_only:
        hints.append(f"{ids(wrapper_only)} start {OTEL_EXEC_WRAPPER} without an OpenTelemetry layer that ships it")
    return f" {'; '.join(hints)}." if hints else ""


def _has_log_group(inv: Inventory, fn: Resource, groups: list[Resource]) -> bool:
    if surely(fn_prop(inv, fn, "LoggingConfig"), "LogGroup", test=is_set):
        return True
    name = literal(fn.properties.get("FunctionName"))
    for group in groups:
        if group.stack == fn.stack and fn.key in inv.refs(group.stack, group.properties.get("LogGroupName")):
            return True
        if name and literal(group.properties.get("LogGroupName")) == f"/aws/lambda/{name}":
            return True
    return False


def _structured(inv: Inventory, fn: Resource) -> bool:
    if surely(fn_prop(inv, fn, "LoggingConfig"), "LogFormat", test=lambda v: v == "JSON"):
        return True
    if any(k.startswith("POWERTOOLS_") for k in env_of(inv, fn)):
        return True
    layers = fn_prop(inv, fn, "Layers")
    return "powertools" in render(layers).lower()


@LEVEL.capability(
    id="structured-logs",
    title="Structured logs with retention and encryption",
    constructs=("RagReferenceApp",),
    provided_by="RagReferenceApp (Powertools Logger, KMS-encrypted log groups with retention)",
    next_step=(
        "Give every log group RetentionInDays and a KMS key, give each function its own log group, and log JSON "
        "(Powertools Logger or LoggingConfig.LogFormat=JSON); RagReferenceApp shows the pattern."
    ),
    evidence=(
        "Every AWS::Logs::LogGroup has RetentionInDays and KmsKeyId, every app function logs to a declared log group, "
        "and logs are structured (Powertools or LogFormat JSON); partial otherwise."
    ),
)
def rule_structured_logs(inv: Inventory) -> Finding:
    groups = inv.of_type("AWS::Logs::LogGroup")
    functions = app_functions(inv)
    if not groups and not functions:
        return Finding(Status.MISSING, "No log groups and no functions.")
    structured_fns = [f for f in functions if _structured(inv, f)]
    json_access_logs = [
        s for s in inv.of_type("AWS::ApiGateway::Stage")
        if render((s.properties.get("AccessLogSetting") or {}).get("Format") if isinstance(s.properties.get("AccessLogSetting"), dict) else None).lstrip().startswith("{")
    ]  # fmt: skip
    implicit = [f for f in functions if not _has_log_group(inv, f, groups)]
    if not groups:
        status = Status.PARTIAL if structured_fns else Status.MISSING
        return Finding(
            status,
            f"No log group is declared: {len(functions)} function(s) log to implicit /aws/lambda groups that never "
            f"expire and have no KMS key{' (logs are structured)' if structured_fns else ''}.",
            structured_fns,
        )
    no_retention = [g for g in groups if not surely(g.properties, "RetentionInDays", test=is_set)]
    no_key = [g for g in groups if not surely(g.properties, "KmsKeyId", test=is_set)]
    problems = []
    if no_retention:
        problems.append(f"log group(s) without RetentionInDays: {ids(no_retention)}")
    if no_key:
        problems.append(f"without KmsKeyId: {ids(no_key)}")
    if implicit:
        problems.append(f"function(s) logging to an implicit log group: {ids(implicit)}")
    if not structured_fns and not json_access_logs:
        problems.append("no sign of structured logs (Powertools Logger or LoggingConfig.LogFormat JSON)")
    evidence = [g for g in groups if g not in no_retention and g not in no_key] + structured_fns + json_access_logs
    if problems:
        return Finding(Status.PARTIAL, "; ".join(problems) + ".", evidence)
    return Finding(
        Status.PRESENT,
        f"{len(groups)} log group(s), all with retention and a KMS key; structured logs from "
        f"{len(structured_fns)} function(s){' and JSON API access logs' if json_access_logs else ''}.",
        evidence,
    )


@LEVEL.capability(
    id="llm-metrics",
    title="LLM and application metrics",
    constructs=("BedrockMetrics", "LlmInstrumentation"),
    provided_by=(
        "BedrockMetrics + the app metrics (EMF) of the reference RAG function or of your function with "
        "LlmInstrumentation (the library's runtime layer)"
    ),
    next_step=(
        "Emit application LLM metrics (latency per stage, tokens, cost, success rate) from your function with "
        "LlmInstrumentation (the library's runtime layer) and watch them together with AWS/Bedrock metrics: "
        "BedrockMetrics gives typed accessors for both."
    ),
    evidence=(
        "Alarms or dashboards read AWS/Bedrock metrics and an application namespace that a function in the templates "
        "emits to: the reference RAG function, a function with the library's runtime layer, or (weaker evidence) a "
        "function whose POWERTOOLS_METRICS_NAMESPACE is that namespace; partial if only one of them, or if nothing "
        "emits the application metrics read."
    ),
)
def rule_llm_metrics(inv: Inventory) -> Finding:
    users = metric_users(inv)
    feeds = emitters(inv)
    emitted: dict[str, list[Emitter]] = {}
    for e in feeds:
        if e.namespace:
            emitted.setdefault(e.namespace, []).append(e)
    bedrock = [r for r, ms in users if any(ns and ns.startswith("AWS/Bedrock") for ns, _ in ms)]
    read: dict[str, list[Resource]] = {}
    for r, ms in users:
        for ns in {ns for ns, _ in ms if ns and is_custom_namespace(ns)}:
            read.setdefault(ns, []).append(r)
    fed = {ns: emitted[ns] for ns in read if ns in emitted}
    strong = {ns: [e for e in es if e.writes_library_schema] for ns, es in fed.items()}
    strong = {ns: es for ns, es in strong.items() if es}
    unwatched = sorted(set(emitted) - set(read))
    emitters_used = [e.function for es in fed.values() for e in es]
    app = [r for ns in fed for r in read[ns]]
    if bedrock and fed:
        chosen = strong or fed
        sources = [f"{ns} from {join_names([e.describe() for e in chosen[ns]], 2)}" for ns in sorted(chosen)]
        weaker = (
            "" if strong else "; weaker evidence: a Powertools metrics namespace shows that the function emits metrics "
            "there, not that they are the ones read"
        )
        return Finding(
            Status.PRESENT,
            f"AWS/Bedrock metrics and application metrics ({'; '.join(sources)}) are watched by "
            f"{len({r.key for r in bedrock + app})} alarm(s)/dashboard(s){weaker}.",
            list(dict.fromkeys(bedrock + app + emitters_used)),
        )
    if read and not fed:
        filters = {ns for _, ns, _ in metric_filter_metrics(inv) if ns}
        others = [f"{e.describe()} emits to {e.namespace or 'a namespace known only at deploy time'}" for e in feeds]
        detail = f" ({join_names(others, 3)})" if others else ""
        only_filters = sorted(set(read) & filters)
        extra = f"; {join_names(only_filters)} is written only by metric filters" if only_filters else ""
        layerless = runtime_settings_without_layer(inv)
        extra += f"; {ids(layerless)} set LLMOBS_* variables without the runtime layer" if layerless else ""
        return Finding(
            Status.PARTIAL,
            f"Alarms or dashboards read application metrics in {join_names(sorted(read), 3)}, but no function in the "
            f"templates is shown to emit them: none is the reference RAG function, carries the library's runtime "
            f"layer (LlmInstrumentation) or sets POWERTOOLS_METRICS_NAMESPACE to that namespace{detail}{extra}"
            f"{'' if bedrock else '; and no AWS/Bedrock metric is watched'}.",
            bedrock + [r for rs in read.values() for r in rs],
        )
    if bedrock:
        extra = f"; namespace {join_names(unwatched)} is emitted but not watched" if unwatched else ""
        return Finding(
            Status.PARTIAL,
            f"Only AWS/Bedrock service metrics are watched: no application-level LLM metrics{extra}.",
            bedrock + [e.function for e in feeds],
        )
    if fed:
        return Finding(
            Status.PARTIAL,
            f"Application metrics ({join_names(sorted(fed), 3)}) are watched, but no AWS/Bedrock metric.",
            app + emitters_used,
        )
    if emitted:
        return Finding(
            Status.PARTIAL,
            f"Namespace {join_names(sorted(emitted))} is emitted but no alarm or dashboard uses it.",
            [e.function for e in feeds],
        )
    return Finding(Status.MISSING, "No alarm or dashboard uses AWS/Bedrock or application metrics.")


@LEVEL.capability(
    id="dashboards",
    title="Dashboards of LLM metrics",
    constructs=("LlmDashboard",),
    provided_by="LlmDashboard",
    next_step=(
        "Add LlmDashboard(stack, 'Dashboard', workload=workload, alarms=...): Bedrock, application, API and Lambda "
        "metrics plus Logs Insights widgets on one page."
    ),
    evidence=(
        "An AWS::CloudWatch::Dashboard whose body shows AWS/Bedrock or the application's metric namespace; partial if "
        "dashboards show neither."
    ),
)
def rule_dashboards(inv: Inventory) -> Finding:
    dashboards = inv.of_type(DASHBOARD)
    grafana = inv.of_type("AWS::Grafana::Workspace")
    if not dashboards:
        if grafana:
            return Finding(
                Status.PARTIAL,
                "An Amazon Managed Grafana workspace, whose dashboards the templates cannot show.",
                grafana,
            )
        return Finding(Status.MISSING, "No CloudWatch dashboard.")
    app_namespaces = set(emf_namespaces(inv)) | {ns for _, ns, _ in metric_filter_metrics(inv) if ns}
    llm = []
    for d in dashboards:
        namespaces = {ns for ns, _ in dashboard_metrics(d)}
        if any(ns.startswith("AWS/Bedrock") for ns in namespaces) or namespaces & app_namespaces:
            llm.append(d)
    if llm:
        return Finding(
            Status.PRESENT,
            f"{len(llm)} of {len(dashboards)} dashboard(s) show LLM metrics (AWS/Bedrock or the app's namespace).",
            llm,
        )
    return Finding(
        Status.PARTIAL,
        f"{len(dashboards)} dashboard(s), none showing AWS/Bedrock or the application's metrics.",
        dashboards,
    )


@LEVEL.capability(
    id="alarms",
    title="Alarms with actions",
    constructs=("LlmAlarms",),
    provided_by="LlmAlarms",
    next_step=(
        "Add LlmAlarms(stack, 'Alarms', workload=workload): Bedrock latency/errors/throttles, success rate, Lambda and "
        "API alarms, each with ALARM and OK actions to the alert topic."
    ),
    evidence=(
        "AWS::CloudWatch::Alarm resources with non-empty AlarmActions (alarms that feed a composite alarm with actions, "
        "or are its ActionsSuppressor, count as covered); partial if some alarms have no action."
    ),
)
def rule_alarms(inv: Inventory) -> Finding:
    alarms = inv.of_type(ALARM)
    if not alarms:
        return Finding(Status.MISSING, "No CloudWatch alarm.")
    covered, bare = alarms_with_actions(inv)
    composites = [c for c in inv.of_type(COMPOSITE_ALARM) if actions_of(c)]
    if not covered:
        return Finding(
            Status.MISSING,
            f"{len(alarms)} alarm(s), none with an alarm action (AlarmActions empty, disabled or unresolved).",
            [],
        )
    if bare:
        return Finding(
            Status.PARTIAL,
            f"{len(bare)} of {len(alarms)} alarm(s) have no alarm action: {ids(bare)}.",
            covered + composites,
        )
    return Finding(Status.PRESENT, f"All {len(alarms)} alarm(s) have alarm actions.", covered + composites)


@LEVEL.capability(
    id="notifications",
    title="Encrypted alarm notifications (SNS)",
    constructs=("AlertTopic",),
    provided_by="AlertTopic",
    next_step="Send alarms to an AlertTopic (SNS, KMS-encrypted, TLS only) and subscribe on-call (alarm_email).",
    evidence=(
        "Alarm actions publish to an SNS topic; topics in the templates have KmsMasterKeyId; partial if a topic is "
        "unencrypted."
    ),
)
def rule_notifications(inv: Inventory) -> Finding:
    topics: dict[tuple[str, str], Resource] = {}
    external = []
    users = []
    for alarm in inv.of_type(ALARM, COMPOSITE_ALARM):
        for action in actions_of(alarm):
            found = inv.targets(alarm.stack, action, "AWS::SNS::Topic")
            if found:
                topics.update({t.key: t for t in found})
                users.append(alarm)
            elif ":sns:" in render(action):
                external.append(render(action))
                users.append(alarm)
    if not topics and not external:
        return Finding(Status.MISSING, "No alarm action publishes to an SNS topic.")
    plain = [t for t in topics.values() if not surely(t.properties, "KmsMasterKeyId", test=is_set)]
    subscribed = {
        k for t in topics.values() for k in [t.key]
        if surely(t.properties, "Subscription", test=is_set)
        or any(t.key in inv.refs(s.stack, s.properties.get("TopicArn")) for s in inv.of_type("AWS::SNS::Subscription"))
    }  # fmt: skip
    evidence = list(topics.values())
    if plain:
        return Finding(Status.PARTIAL, f"Alarm topic(s) without KmsMasterKeyId: {ids(plain)}.", evidence)
    parts = []
    if topics:
        parts.append(f"{len(topics)} KMS-encrypted topic(s)")
    if external:
        parts.append(f"{len(set(external))} topic(s) outside the templates (not assessed)")
    note = (
        "" if not topics or subscribed else "; no subscription in the templates (subscribe on-call, e.g. alarm_email)"
    )
    return Finding(Status.PRESENT, f"Alarms notify {' and '.join(parts)}{note}.", evidence)


@LEVEL.capability(
    id="invocation-logging",
    title="Bedrock model invocation logging",
    constructs=("InvocationLogging",),
    provided_by="InvocationLogging",
    next_step=(
        "Add InvocationLogging(stack, 'InvocationLogging') once per account and region (a custom resource: "
        "CloudFormation has no type for it)."
    ),
    evidence=(
        "Custom::BedrockInvocationLogging, or a custom resource that sets a Bedrock loggingConfig "
        "(PutModelInvocationLoggingConfiguration); partial if a loggingConfig of unrecognized shape."
    ),
)
def rule_invocation_logging(inv: Inventory) -> Finding:
    ours = inv.of_type("Custom::BedrockInvocationLogging")
    if ours:
        return Finding(
            Status.PRESENT, "Custom::BedrockInvocationLogging configures Bedrock model invocation logging.", ours
        )
    recognized, unsure = [], []
    for r in inv.resources:
        if not (r.type.startswith("Custom::") or r.type == CUSTOM_RESOURCE):
            continue
        text = "\n".join(strings(r.properties)).lower()
        if "putmodelinvocationloggingconfiguration" in text or (
            "loggingconfig" in text
            and any(k in text for k in ("cloudwatchconfig", "s3config", "textdatadeliveryenabled"))
        ):
            recognized.append(r)
        elif "loggingconfig" in text:
            unsure.append(r)
    if recognized:
        return Finding(
            Status.PRESENT,
            f"Custom resource {ids(recognized)} sets a Bedrock model invocation logging configuration.",
            recognized,
        )
    if unsure:
        return Finding(
            Status.PARTIAL,
            f"Custom resource {ids(unsure)} has a loggingConfig, but not Bedrock's shape (cloudWatchConfig / s3Config).",
            unsure,
        )
    return Finding(
        Status.MISSING,
        "No Bedrock model invocation logging (no CloudFormation type exists; a custom resource sets it). If the "
        "account configures it outside these templates, acknowledge this capability.",
    )


@LEVEL.capability(
    id="cost-visibility",
    title="Cost visibility (token-cost metric, cost-allocation tags)",
    constructs=("BedrockMetrics",),
    provided_by="BedrockMetrics.estimated_cost (tokens x price, metric math) on LlmDashboard + cost-allocation tags",
    next_step=(
        "Chart the token cost (BedrockMetrics.estimated_cost on LlmDashboard) and tag every resource for cost "
        "allocation (Tags.of(app).add('Project', ...))."
    ),
    evidence=(
        "A cost metric (a metric name containing 'Cost', AWS/Billing, or a metric-math expression labelled as a cost "
        "or in USD) on a dashboard or alarm, and a tag key shared by all tagged resources (or stack tags); partial if "
        "only one of them."
    ),
)
def rule_cost_visibility(inv: Inventory) -> Finding:
    cost_users = [
        r for r, ms in metric_users(inv)
        if any((name and "cost" in name.lower()) or ns == "AWS/Billing" for ns, name in ms) or _prices_tokens(r)
    ]  # fmt: skip
    tagged = [(r, keys) for r in inv.resources if (keys := tag_keys(r.properties.get("Tags"))) is not None]
    stack_tags = inv.stack_tags()
    common = set.intersection(*(keys for _, keys in tagged)) if tagged else set()
    tags_ok = bool(common) or bool(stack_tags)
    parts = []
    if cost_users:
        parts.append(f"cost metric on {len(cost_users)} alarm(s)/dashboard(s)")
    if common:
        parts.append(f"tag key(s) {join_names(sorted(common), 4)} on all {len(tagged)} tagged resources")
    elif stack_tags:
        parts.append(f"stack tags on {join_names(sorted(stack_tags), 3)}")
    evidence = cost_users
    status = status_of([bool(cost_users), tags_ok])
    if status is Status.PRESENT:
        return Finding(status, sentence("; ".join(parts)) + ".", evidence)
    missing = []
    if not cost_users:
        missing.append("no cost metric (e.g. tokens x price as metric math) on a dashboard or alarm")
    if not tags_ok:
        missing.append("no cost-allocation tag shared by the tagged resources" if tagged else "no resource tags")
    return Finding(status, sentence("; ".join(parts + missing)) + ".", evidence)


def _prices_tokens(resource: Resource) -> bool:
    """A dashboard or alarm with a metric-math expression labelled as a cost or in US dollars."""
    if resource.type == DASHBOARD:
        try:
            body = json.loads(render(resource.properties.get("DashboardBody")))
        except ValueError:
            return False
        widgets = body.get("widgets") if isinstance(body, dict) else None
        items = [
            item
            for widget in (widgets if isinstance(widgets, list) else [])
            if isinstance(widget, dict) and isinstance(widget.get("properties"), dict)
            for row in as_list(widget["properties"].get("metrics"))
            if isinstance(row, list)
            for item in row
            if isinstance(item, dict) and "expression" in item
        ]
        labels = [render(item.get("label")) for item in items]
    else:
        queries = resource.properties.get("Metrics")
        labels = [render(q.get("Label")) for q in as_list(queries) if isinstance(q, dict) and "Expression" in q]
    return any("usd" in label.lower() or "cost" in label.lower() for label in labels)
