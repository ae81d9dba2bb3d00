"""Questions the evidence rules and the cost estimate ask of an inventory: which functions are the
application's, what an alarm or a dashboard reads, which alarm actions surely exist, ...

Each answer reads properties conservatively (see :mod:`~llm_observability.assess.intrinsics`): an
alarm action that exists only in one ``Fn::If`` branch is not an action.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from llm_observability.assess.intrinsics import (
    alternatives,
    as_bool,
    as_list,
    as_mapping,
    intrinsic,
    is_no_value,
    is_set,
    literal,
    render,
    surely,
)
from llm_observability.assess.inventory import Inventory, Resource

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
ALARM = "AWS::CloudWatch::Alarm"
COMPOSITE_ALARM = "AWS::CloudWatch::CompositeAlarm"
DASHBOARD = "AWS::CloudWatch::Dashboard"
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
LAYER_TYPES = ("AWS::Lambda::LayerVersion", "AWS::Serverless::LayerVersion")
#: How a Lambda function starts a wrapper script, and the variable through which the library's runtime wrapper
#: (``/opt/llmobs-instrument``) runs the next one (``llm_observability/runtime/telemetry.py``; a test keeps them equal).
EXEC_WRAPPER_ENV = "AWS_LAMBDA_EXEC_WRAPPER"
RUNTIME_NEXT_WRAPPER_ENV = "LLMOBS_NEXT_WRAPPER"
RUNTIME_EXEC_WRAPPER = "/opt/llmobs-instrument"
#: OpenTelemetry on Lambda: a layer with the OpenTelemetry SDK (AWS's managed ADOT layer
#: ``AWSOpenTelemetryDistroPython``, any layer named for OpenTelemetry, the earlier ADOT ``aws-otel-python-*``
#: layers), started by the wrapper script they all ship.
OTEL_LAYER_MARKERS = ("awsopentelemetrydistro", "opentelemetry", "aws-otel-python")
OTEL_EXEC_WRAPPER = "/opt/otel-instrument"
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_CDK_INFRA_IDS = ("AWS679f53fac002430cb0da5b7982bd2287", "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a",
                  "BucketNotificationsHandler050a0587b7544547bf325f094a3db834", "CustomCDKBucketDeployment",
                  "CustomS3AutoDeleteObjectsCustomResourceProvider", "CustomVpcRestrictDefaultSG")  # fmt: skip


def _globals(inv: Inventory, stack: str, section: str) -> dict[str, Any]:
    """A SAM template's ``Globals`` section (``Function``, ``Api``), empty when there is none."""
    template = next((s.template for s in inv.stacks if s.name == stack), {})
    value = (template.get("Globals") or {}).get(section) if isinstance(template.get("Globals"), dict) else None
    return value if isinstance(value, dict) else {}


def fn_prop(inv: Inventory, fn: Resource, name: str) -> Any:
    """A function's property, from SAM ``Globals`` when a serverless function does not set it."""
    if name in fn.properties or fn.type != "AWS::Serverless::Function":
        return fn.properties.get(name)
    return _globals(inv, fn.stack, "Function").get(name)


def env_of(inv: Inventory, fn: Resource) -> dict[str, Any]:
    """A function's environment variables (SAM Globals merged); unresolvable environments are empty."""
    merged: dict[str, Any] = {}
    sources = [_globals(inv, fn.stack, "Function").get("Environment")] if fn.type == "AWS::Serverless::Function" else []
    for environment in [*sources, fn.properties.get("Environment")]:
        variables = environment.get("Variables") if isinstance(environment, dict) else None
        if isinstance(variables, dict):
            merged.update({k: v for k, v in variables.items() if isinstance(k, str)})
    return merged


def functions_with(inv: Inventory, variable: str) -> list[Resource]:
    """Lambda functions whose environment sets ``variable`` (whatever its value)."""
    return [fn for fn in inv.of_type(*FUNCTION_TYPES) if variable in env_of(inv, fn)]


def infra_functions(inv: Inventory) -> set[tuple[str, str]]:
    """Lambda functions that implement custom resources or CDK plumbing, not the application."""
    infra: set[tuple[str, str]] = set()
    for r in inv.resources:
        if r.type.startswith("Custom::") or r.type == CUSTOM_RESOURCE:
            infra |= inv.refs(r.stack, r.properties.get("ServiceToken"))
        elif r.type in FUNCTION_TYPES and (
            r.logical_id.startswith(_CDK_INFRA_IDS) or "/Provider/framework-" in r.path or "/Provider/waiter-" in r.path
        ):
            infra.add(r.key)
    frontier = set(infra)
    while frontier:  # a provider framework's function names the user handler in its environment
        new: set[tuple[str, str]] = set()
        for key in frontier:
            fn = inv.get(*key)
            if fn is not None and fn.type in FUNCTION_TYPES:
                new |= {
                    k for k in inv.refs(fn.stack, env_of(inv, fn)) if (g := inv.get(*k)) and g.type in FUNCTION_TYPES
                }
        frontier = new - infra
        infra |= new
    return infra


def app_functions(inv: Inventory) -> list[Resource]:
    """The application's functions: every Lambda function but custom-resource handlers and CDK plumbing."""
    infra = infra_functions(inv)
    return [f for f in inv.of_type(*FUNCTION_TYPES) if f.key not in infra]


def api_targets(inv: Inventory) -> set[tuple[str, str]]:
    """Functions behind an API: REST/HTTP API integrations, SAM Api events."""
    keys: set[tuple[str, str]] = set()
    for method in inv.of_type("AWS::ApiGateway::Method"):
        keys |= inv.refs(method.stack, as_mapping(method.properties.get("Integration")).get("Uri"))
    for integration in inv.of_type("AWS::ApiGatewayV2::Integration"):
        keys |= inv.refs(integration.stack, integration.properties.get("IntegrationUri"))
    for fn in inv.of_type("AWS::Serverless::Function"):
        events = fn.properties.get("Events")
        if isinstance(events, dict) and any(
            isinstance(e, dict) and e.get("Type") in ("Api", "HttpApi") for e in events.values()
        ):
            keys.add(fn.key)
    return keys


def fn_traced(inv: Inventory, fn: Resource, *, check: Callable[..., bool] = surely) -> bool:
    """Active X-Ray tracing in every ``Fn::If`` branch (``check=possibly``: in at least one)."""
    if fn.type == "AWS::Lambda::Function":
        return check(fn.properties, "TracingConfig", "Mode", test=lambda v: v == "Active")
    return check(fn_prop(inv, fn, "Tracing"), test=lambda v: v == "Active")


def env_check(
    inv: Inventory, fn: Resource, name: str, *, test: Callable[[Any], bool], check: Callable[..., bool] = surely
) -> bool:
    """``test`` on environment variable ``name`` of ``fn`` in every ``Fn::If`` branch (``check=possibly``: in one;
    ``NO_VALUE`` where it is unset); a serverless function without it reads SAM ``Globals``."""
    source: Any = fn.properties
    if fn.type == "AWS::Serverless::Function" and all(
        is_no_value(o) for o in alternatives(source, "Environment", "Variables", name)
    ):
        source = _globals(inv, fn.stack, "Function")
    return check(source, "Environment", "Variables", name, test=test)


def find_in_map_values(inv: Inventory, stack: str, argument: Any) -> list[Any]:
    """The values an ``Fn::FindInMap`` may give: the one entry, or each top-level key's entry where that key is known
    only at deploy time (``{"Ref": "AWS::Region"}``); empty when the mapping or the second key is not in the
    template."""
    if not (isinstance(argument, list) and len(argument) == 3):
        return []
    name, top, second = (literal(a) for a in argument)
    template = next((s.template for s in inv.stacks if s.name == stack), {})
    mapping = as_mapping(as_mapping(template.get("Mappings")).get(name or ""))
    if not mapping or second is None:
        return []
    rows = [mapping.get(top)] if top is not None else list(mapping.values())
    return [as_mapping(row).get(second) for row in rows]


def _named_otel(text: str) -> bool:
    return any(m in _PLACEHOLDER.sub("", text).lower() for m in OTEL_LAYER_MARKERS)


def _is_otel_layer(inv: Inventory, stack: str, layer: Any) -> bool:
    """A layer named for OpenTelemetry: its ARN text, the name of a layer in the templates, or every value a region
    mapping may give (``Fn::FindInMap``); what is known only at deploy time (a parameter's value) is not."""
    call = intrinsic(layer)
    if call is not None and call[0] == "Fn::FindInMap":
        values = find_in_map_values(inv, stack, call[1])
        return bool(values) and all(isinstance(v, str) and _named_otel(v) for v in values)
    found = inv.targets(stack, layer, *LAYER_TYPES)
    if found:
        return any(_named_otel(literal(r.properties.get("LayerName")) or "") for r in found)
    return _named_otel(render(layer))


def has_otel_layer(inv: Inventory, fn: Resource, *, check: Callable[..., bool] = surely) -> bool:
    """An OpenTelemetry layer among the function's layers in every ``Fn::If`` branch (``check=possibly``: in one)."""

    def in_list(option: Any) -> bool:
        return isinstance(option, list) and any(
            check(layer, test=lambda one: _is_otel_layer(inv, fn.stack, one)) for layer in option
        )

    return check(fn_prop(inv, fn, "Layers"), test=in_list)


def starts_otel(inv: Inventory, fn: Resource, *, check: Callable[..., bool] = surely) -> bool:
    """The function runs the OpenTelemetry wrapper: ``AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument``, or the library's
    runtime wrapper chaining to it through ``LLMOBS_NEXT_WRAPPER``, in every ``Fn::If`` branch (or in one)."""
    # LLMOBS_NEXT_WRAPPER lists the wrappers that run next, space-separated (e.g. CodeGuru's, then OpenTelemetry's).
    chained = env_check(
        inv, fn, RUNTIME_NEXT_WRAPPER_ENV, test=lambda v: isinstance(v, str) and OTEL_EXEC_WRAPPER in v.split(), check=check
    )
    return env_check(
        inv, fn, EXEC_WRAPPER_ENV, check=check,
        test=lambda v: v == OTEL_EXEC_WRAPPER or (v == RUNTIME_EXEC_WRAPPER and chained),
    )  # fmt: skip


def fn_otel_traced(inv: Inventory, fn: Resource, *, check: Callable[..., bool] = surely) -> bool:
    """OpenTelemetry tracing: an OpenTelemetry layer AND its wrapper (see :func:`has_otel_layer`, :func:`starts_otel`),
    in every ``Fn::If`` branch (``check=possibly``: in at least one)."""
    return has_otel_layer(inv, fn, check=check) and starts_otel(inv, fn, check=check)


def fn_traced_any(inv: Inventory, fn: Resource, *, check: Callable[..., bool] = surely) -> bool:
    """Traced by X-Ray active tracing or by OpenTelemetry (see :func:`fn_traced`, :func:`fn_otel_traced`)."""
    return fn_traced(inv, fn, check=check) or fn_otel_traced(inv, fn, check=check)


def api_stages(inv: Inventory) -> list[tuple[Resource, bool]]:
    """REST API stages (explicit, implicit through a Deployment's StageName, SAM) and whether X-Ray is on."""
    stages: list[tuple[Resource, bool]] = []
    for stage in inv.of_type("AWS::ApiGateway::Stage"):
        stages.append((stage, surely(stage.properties, "TracingEnabled", test=as_bool)))
    for deployment in inv.of_type("AWS::ApiGateway::Deployment"):
        if is_set(deployment.properties.get("StageName")):
            stages.append(
                (deployment, surely(deployment.properties, "StageDescription", "TracingEnabled", test=as_bool))
            )
    for api in inv.of_type("AWS::Serverless::Api"):
        value = api.properties.get("TracingEnabled", _globals(inv, api.stack, "Api").get("TracingEnabled"))
        stages.append((api, surely(value, test=as_bool)))
    return stages


def alarm_metric_specs(alarm: Resource) -> list[dict[str, Any]]:
    """The metric mappings (Namespace, MetricName, Dimensions) an alarm reads: its own properties for a
    single-metric alarm, each query's ``MetricStat.Metric`` for a metric-math alarm (expressions excluded)."""
    props = alarm.properties
    if "Metrics" not in props:
        return [props]
    specs = []
    for query in as_list(props.get("Metrics")):
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict):
            specs.append(metric)
    return specs


def alarm_metrics(alarm: Resource) -> list[tuple[str | None, str | None]]:
    """(namespace, metric name) of each metric an alarm reads (expressions excluded)."""
    return [(literal(m.get("Namespace")), literal(m.get("MetricName"))) for m in alarm_metric_specs(alarm)]


def alarm_metric_identities(alarm: Resource, *, own_account: bool = False) -> list[tuple[str, ...]]:
    """``(namespace, name, "Dim=value", ...)`` of each metric an alarm reads whose namespace and name are known.

    :param own_account: leave out the metrics of another account (a query's ``AccountId``: a monitoring account's
        cross-account alarm reads metrics that their source account stores and pays for). Default: False.
    """
    found = []
    queries = as_list(alarm.properties.get("Metrics"))
    foreign = [
        q["MetricStat"]["Metric"] for q in queries
        if isinstance(q, dict) and q.get("AccountId") and isinstance(q.get("MetricStat"), dict)
        and isinstance(q["MetricStat"].get("Metric"), dict)
    ] if own_account else []  # fmt: skip
    for m in alarm_metric_specs(alarm):
        if any(m is f for f in foreign):
            continue
        namespace, name = literal(m.get("Namespace")), literal(m.get("MetricName"))
        if namespace and name:
            dims = m.get("Dimensions") if isinstance(m.get("Dimensions"), list) else []
            found.append(
                (
                    namespace,
                    name,
                    *sorted(f"{render(d.get('Name'))}={render(d.get('Value'))}" for d in dims if isinstance(d, dict)),
                )
            )
    return found


def alarm_expressions(alarm: Resource) -> list[str]:
    """The metric-math expressions of an alarm, as text."""
    return [
        render(q.get("Expression"))
        for q in as_list(alarm.properties.get("Metrics"))
        if isinstance(q, dict) and "Expression" in q
    ]


def is_anomaly_alarm(alarm: Resource) -> bool:
    """The alarm compares its metric with an ``ANOMALY_DETECTION_BAND``."""
    return any("ANOMALY_DETECTION_BAND" in e for e in alarm_expressions(alarm))


def _element_surely_present(element: Any) -> bool:
    options = alternatives(element)
    return bool(options) and all(is_set(o) for o in options)


def actions_of(alarm: Resource) -> list[Any]:
    """The alarm's AlarmActions that surely exist (empty when actions are disabled or unresolved)."""
    props = alarm.properties
    if not surely(props, "ActionsEnabled", test=lambda v: is_no_value(v) or as_bool(v)):
        return []
    options = alternatives(props, "AlarmActions")
    per_option = []
    for option in options:
        if not isinstance(option, list):
            return []  # NoValue in a branch, or a list known only at deploy time
        per_option.append([e for e in option if _element_surely_present(e)])
    if not per_option or not all(per_option):
        return []
    return min(per_option, key=len)


def named_alarms(inv: Inventory, stack: str, value: Any) -> list[Resource]:
    """The alarms (metric or composite) ``value`` names: by reference, by their literal ``AlarmName`` or by an
    ARN ending in ``:alarm:<name>``."""
    alarms = inv.of_type(ALARM, COMPOSITE_ALARM)
    keys = set(inv.refs(stack, value))
    text = render(value)
    for alarm in alarms:
        name = literal(alarm.properties.get("AlarmName"))
        if name and (text == name or text.endswith(f":alarm:{name}")):
            keys.add(alarm.key)
    return [a for a in alarms if a.key in keys]


def composite_members(inv: Inventory, composite: Resource) -> list[Resource]:
    """The alarms (metric or composite) a composite alarm's ``AlarmRule`` names: by reference (``Fn::GetAtt`` of
    their ARN) or by a literal name or ARN in ``ALARM("...")``."""
    rule = composite.properties.get("AlarmRule")
    members = {a.key: a for a in named_alarms(inv, composite.stack, rule)}
    for name in re.findall(r"ALARM\(\s*\"?([^\")]+?)\"?\s*\)", render(rule)):
        members.update({a.key: a for a in named_alarms(inv, composite.stack, name)})
    return [a for a in members.values() if a is not composite]


def alarms_with_actions(inv: Inventory) -> tuple[list[Resource], list[Resource]]:
    """(metric alarms covered by an action, metric alarms without). Covered too: an alarm feeding a composite with
    actions, and the signals that suppress such a composite's actions (``ActionsSuppressor``, e.g. healing in
    progress: a state, not a page), with the members of a composite suppressor."""
    metric_alarms = inv.of_type(ALARM)
    covered: set[tuple[str, str]] = {a.key for a in metric_alarms if actions_of(a)}
    signals: list[Resource] = []
    for composite in inv.of_type(COMPOSITE_ALARM):
        if actions_of(composite):
            covered |= {member.key for member in composite_members(inv, composite)}
            signals += named_alarms(inv, composite.stack, composite.properties.get("ActionsSuppressor"))
    while signals:
        signal = signals.pop()
        if signal.key in covered:
            continue
        covered.add(signal.key)
        if signal.type == COMPOSITE_ALARM:
            signals += composite_members(inv, signal)
    return [a for a in metric_alarms if a.key in covered], [a for a in metric_alarms if a.key not in covered]


_METRIC_ARRAY = re.compile(r'\[\s*"([^"]+)"\s*,\s*"([^"]+)"')
_SEARCH_NAMESPACE = re.compile(r"\{\s*([A-Za-z0-9_./#:-]+)\s*[,}]")


def dashboard_rows(dashboard: Resource, *, own_account: bool = False) -> list[list[str]]:
    """Metric rows of a dashboard body: ``[namespace, metric, dim1, value1, ...]`` ("." shorthand expanded);
    a SEARCH expression contributes ``[namespace, "*"]``. With ``own_account``, rows read from another account
    (an ``accountId`` rendering option: billed where they are stored) are left out."""
    body = render(dashboard.properties.get("DashboardBody"))
    try:
        data = json.loads(body)
    except ValueError:
        return [list(m) for m in _METRIC_ARRAY.findall(body)]
    rows: list[list[str]] = []
    widgets = data.get("widgets") if isinstance(data, dict) else None
    for widget in widgets if isinstance(widgets, list) else []:
        props = widget.get("properties") if isinstance(widget, dict) else None
        metrics = props.get("metrics") if isinstance(props, dict) else None
        previous: list[Any] = []
        for row in metrics if isinstance(metrics, list) else []:
            if not isinstance(row, list):
                continue
            values = [v for v in row if not isinstance(v, dict)]
            if not values:
                for item in row:
                    if isinstance(item, dict) and isinstance(item.get("expression"), str):
                        rows += [[ns, "*"] for ns in _SEARCH_NAMESPACE.findall(item["expression"])]
                continue
            if values[0] == "..." and previous:  # "all values of the row above, then these"
                tail = values[1:]
                current = previous[: max(len(previous) - len(tail), 2)] + tail
            else:
                current = [previous[i] if v == "." and i < len(previous) else v for i, v in enumerate(values)]
            previous = current
            options = next((item for item in row if isinstance(item, dict)), {})
            if own_account and options.get("accountId"):
                continue
            if len(current) >= 2 and all(isinstance(v, str) for v in current):
                rows.append(current)
    return rows


def dashboard_metrics(dashboard: Resource) -> list[tuple[str, str]]:
    """(namespace, metric name) of the metric widgets of a dashboard body."""
    return [(row[0], row[1]) for row in dashboard_rows(dashboard)]


def dashboard_row_identity(row: list[str]) -> tuple[str, ...]:
    """``(namespace, name, "Dim=value", ...)`` of a dashboard metric row (see :func:`dashboard_rows`)."""
    dimensions = row[2:]
    pairs = [f"{dimensions[i]}={dimensions[i + 1]}" for i in range(0, len(dimensions) - 1, 2)]
    return (row[0], row[1], *sorted(pairs))


def is_custom_namespace(namespace: str | None) -> bool:
    """A known metric namespace that is not an AWS service's (``AWS/...``)."""
    return bool(namespace) and not namespace.startswith("AWS/") and "${" not in namespace


def emf_namespaces(inv: Inventory) -> dict[str, list[Resource]]:
    """The EMF namespaces the application's functions write to (Powertools), with the functions."""
    namespaces: dict[str, list[Resource]] = {}
    for fn in app_functions(inv):
        namespace = literal(env_of(inv, fn).get("POWERTOOLS_METRICS_NAMESPACE"))
        if namespace:
            namespaces.setdefault(namespace, []).append(fn)
    return namespaces


def metric_filter_metrics(inv: Inventory) -> list[tuple[Resource, str | None, str | None]]:
    """(metric filter, namespace, metric name) of each metric transformation."""
    found = []
    for mf in inv.of_type("AWS::Logs::MetricFilter"):
        for t in as_list(mf.properties.get("MetricTransformations")):
            if isinstance(t, dict):
                found.append((mf, literal(t.get("MetricNamespace")), literal(t.get("MetricName"))))
    return found


def tag_keys(tags: Any) -> set[str] | None:
    """The keys of a ``Tags`` property (list or mapping form); None when untagged or unresolved."""
    if isinstance(tags, list):
        keys = {t.get("Key") for t in tags if isinstance(t, dict) and isinstance(t.get("Key"), str)}
        return keys or None
    if isinstance(tags, dict) and intrinsic(tags) is None:
        return set(tags) or None
    return None


def metric_users(inv: Inventory) -> list[tuple[Resource, list[tuple[str | None, str | None]]]]:
    """Every alarm and dashboard with the (namespace, metric name) pairs it reads."""
    users: list[tuple[Resource, list[tuple[str | None, str | None]]]] = [
        (a, alarm_metrics(a)) for a in inv.of_type(ALARM)
    ]
    users += [(d, list(dashboard_metrics(d))) for d in inv.of_type(DASHBOARD)]
    return users
