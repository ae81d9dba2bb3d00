"""The maturity scorecard: which capabilities of the model the templates show, and the level reached.

Each capability of :mod:`~llm_observability.assess.model` has one evidence rule here. Rules read
properties, not just resource types (a Lambda function counts as traced only with
``TracingConfig.Mode: Active``), follow references across stacks, and read unresolved values
conservatively: a property that is an ``Fn::If`` counts only if every branch qualifies, and a value
known only at deploy time (a parameter) does not count as proof. A capability whose evidence exists
only under a template ``Condition`` is at most *partial*.

The level reached is the highest level whose rows, and all rows below, are *present*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from llm_observability.assess.loader import (
    Inventory,
    Resource,
    Source,
    alternatives,
    as_bool,
    intrinsic,
    is_no_value,
    is_set,
    join_names,
    literal,
    possibly,
    render,
    strings,
    surely,
)
from llm_observability.assess.model import BY_ID, CAPABILITIES, LEVEL_NAMES, MAX_LEVEL, Capability, Status

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
ALARM = "AWS::CloudWatch::Alarm"
COMPOSITE_ALARM = "AWS::CloudWatch::CompositeAlarm"
DASHBOARD = "AWS::CloudWatch::Dashboard"
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
QUALITY_METRIC = re.compile(
    r"quality|rouge|bleu|f1|ground|faithful|relevan|hallucinat|refusal|toxic|accuracy|drift", re.IGNORECASE
)
_CDK_INFRA_IDS = ("AWS679f53fac002430cb0da5b7982bd2287", "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a",
                  "BucketNotificationsHandler050a0587b7544547bf325f094a3db834", "CustomCDKBucketDeployment",
                  "CustomS3AutoDeleteObjectsCustomResourceProvider", "CustomVpcRestrictDefaultSG")  # fmt: skip


_EVIDENCE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["stack", "logical_ids"],
        "properties": {"stack": {"type": "string"}, "logical_ids": {"type": "array", "items": {"type": "string"}}},
    },
}
#: JSON Schema (draft 2020-12) of ``llm-observability assess --format json``.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "llm-observability assess report",
    "type": "object",
    "required": ["schema", "source", "level", "level_name", "max_level", "capabilities", "next_steps", "notes"],
    "properties": {
        "schema": {"const": "llm-observability/assess/v1"},
        "source": {
            "type": "object",
            "required": ["path", "kind", "stacks"],
            "properties": {
                "path": {"type": "string"},
                "kind": {"enum": ["cloud assembly", "template", "directory", "synthesized app"]},
                "stacks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "template", "resources"],
                        "properties": {
                            "name": {"type": "string"},
                            "template": {"type": "string"},
                            "resources": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "level": {"type": "integer", "minimum": 0, "maximum": 3},
        "level_name": {"enum": ["none", "Foundation", "Proactive", "AIOps"]},
        "max_level": {"type": "integer"},
        "capabilities": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "level", "title", "status", "evidence", "reason", "provided_by", "next_step"],
                "properties": {
                    "id": {"type": "string"},
                    "level": {"type": "integer", "minimum": 1, "maximum": 3},
                    "title": {"type": "string"},
                    "status": {"enum": ["present", "partial", "missing"]},
                    "evidence": _EVIDENCE_SCHEMA,
                    "reason": {"type": "string"},
                    "provided_by": {"type": "string"},
                    "next_step": {"type": ["string", "null"]},
                },
            },
        },
        "next_steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "level", "status", "action"],
                "properties": {
                    "id": {"type": "string"},
                    "level": {"type": "integer"},
                    "status": {"enum": ["partial", "missing"]},
                    "action": {"type": "string"},
                },
            },
        },
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}


@dataclass
class Finding:
    """What a rule concluded: a status, one-line reason and the resources that are its evidence."""

    status: Status
    reason: str
    evidence: list[Resource] = field(default_factory=list)


@dataclass
class CapabilityResult:
    """One scorecard row."""

    capability: Capability
    status: Status
    reason: str
    evidence: list[Resource]

    def evidence_json(self) -> list[dict[str, Any]]:
        grouped: dict[str, list[str]] = {}
        for resource in self.evidence:
            ids = grouped.setdefault(resource.stack, [])
            if resource.logical_id not in ids:
                ids.append(resource.logical_id)
        return [{"stack": stack, "logical_ids": ids} for stack, ids in grouped.items()]

    def to_json(self) -> dict[str, Any]:
        c = self.capability
        return {
            "id": c.id, "level": c.level, "title": c.title, "status": self.status.value,
            "evidence": self.evidence_json(), "reason": self.reason, "provided_by": c.provided_by,
            "next_step": None if self.status is Status.PRESENT else c.next_step,
        }  # fmt: skip


@dataclass
class Scorecard:
    """All rows, the level fully reached and what to add next."""

    source: Source
    results: list[CapabilityResult]
    notes: list[str]

    @property
    def level(self) -> int:
        reached = 0
        for level in range(1, MAX_LEVEL + 1):
            if all(r.status is Status.PRESENT for r in self.results if r.capability.level == level):
                reached = level
            else:
                break
        return reached

    def result(self, capability_id: str) -> CapabilityResult:
        return next(r for r in self.results if r.capability.id == capability_id)

    def next_steps(self) -> list[CapabilityResult]:
        """Rows not present, up to the next level."""
        target = min(self.level + 1, MAX_LEVEL)
        return [r for r in self.results if r.status is not Status.PRESENT and r.capability.level <= target]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "llm-observability/assess/v1",
            "source": {
                "path": str(self.source.path), "kind": self.source.kind,
                "stacks": [{"name": s.name, "template": str(s.path), "resources": len(s.resources)} for s in self.source.stacks],
            },
            "level": self.level,
            "level_name": LEVEL_NAMES[self.level],
            "max_level": MAX_LEVEL,
            "capabilities": [r.to_json() for r in self.results],
            "next_steps": [
                {"id": r.capability.id, "level": r.capability.level, "status": r.status.value, "action": r.capability.next_step}
                for r in self.next_steps()
            ],
            "notes": self.notes,
        }  # fmt: skip

    def render_text(self) -> str:
        marks = {Status.PRESENT: "present", Status.PARTIAL: "partial", Status.MISSING: "missing"}
        lines = [
            f"LLM observability maturity: Level {self.level} ({LEVEL_NAMES[self.level]}) fully reached"
            if self.level
            else "LLM observability maturity: Level 1 (Foundation) not reached",
            f"Assessed: {self.source.describe()}",
        ]
        for level in range(1, MAX_LEVEL + 1):
            rows = [r for r in self.results if r.capability.level == level]
            done = sum(r.status is Status.PRESENT for r in rows)
            lines += ["", f"Level {level} {LEVEL_NAMES[level]} ({done}/{len(rows)} present)"]
            for r in rows:
                lines.append(f"  [{marks[r.status]:>7}] {r.capability.id:<26} {r.capability.title}")
                lines.append(f"            {r.reason}")
                evidence = "; ".join(f"{e['stack']}: {join_names(e['logical_ids'], 5)}" for e in r.evidence_json())
                if evidence:
                    lines.append(f"            evidence: {evidence}")
        steps = self.next_steps()
        if steps:
            target = min(self.level + 1, MAX_LEVEL)
            lines += ["", f"Next steps to Level {target} ({LEVEL_NAMES[target]}):"]
            for r in steps:
                lines.append(
                    f"  - {r.capability.id} (L{r.capability.level}, {r.status.value}): {r.capability.next_step}"
                )
        elif self.level == MAX_LEVEL:
            lines += ["", "Every capability of the maturity model is present."]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


def assess(source: Source) -> Scorecard:
    """Score ``source`` against every capability of the model."""
    everything = Inventory(source.stacks)
    unconditional = everything.without_conditional()
    notes = list(source.notes)
    results = []
    for capability in CAPABILITIES:
        rule = RULES[capability.id]
        sure = rule(unconditional)
        maybe = rule(everything) if len(unconditional.resources) != len(everything.resources) else sure
        finding = sure
        if maybe.status.rank > sure.status.rank:
            conditions = sorted({r.condition for r in maybe.evidence if r.condition}) or sorted(
                {r.condition for r in everything.resources if r.condition}
            )
            finding = Finding(
                Status.PARTIAL,
                f"{maybe.reason.rstrip('.')}; only when template condition {join_names(conditions)} holds.",
                maybe.evidence,
            )
        results.append(CapabilityResult(capability, finding.status, finding.reason, finding.evidence))
    if everything.of_type("AWS::CloudFormation::Stack") and not any("nested stack" in n for n in notes):
        notes.append("nested stacks (AWS::CloudFormation::Stack) are assessed only from a cloud assembly.")
    return Scorecard(source=source, results=results, notes=notes)


# --------------------------------------------------------------------------------------------------
# Shared facts
# --------------------------------------------------------------------------------------------------


def _globals(inv: Inventory, stack: str, section: str) -> dict[str, Any]:
    template = next((s.template for s in inv.stacks if s.name == stack), {})
    value = (template.get("Globals") or {}).get(section) if isinstance(template.get("Globals"), dict) else None
    return value if isinstance(value, dict) else {}


def _fn_prop(inv: Inventory, fn: Resource, name: str) -> Any:
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
            merged.update(variables)
    return merged


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
    infra = infra_functions(inv)
    return [f for f in inv.of_type(*FUNCTION_TYPES) if f.key not in infra]


def api_targets(inv: Inventory) -> set[tuple[str, str]]:
    """Functions behind an API: REST/HTTP API integrations, SAM Api events."""
    keys: set[tuple[str, str]] = set()
    for method in inv.of_type("AWS::ApiGateway::Method"):
        keys |= inv.refs(method.stack, (method.properties.get("Integration") or {}).get("Uri"))
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
    return check(_fn_prop(inv, fn, "Tracing"), test=lambda v: v == "Active")


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


def alarm_metrics(alarm: Resource) -> list[tuple[str | None, str | None]]:
    """(namespace, metric name) of each metric an alarm reads (expressions excluded)."""
    props = alarm.properties
    if "Metrics" not in props:
        return [(literal(props.get("Namespace")), literal(props.get("MetricName")))]
    found = []
    for query in props.get("Metrics") or []:
        metric = ((query or {}).get("MetricStat") or {}).get("Metric") if isinstance(query, dict) else None
        if isinstance(metric, dict):
            found.append((literal(metric.get("Namespace")), literal(metric.get("MetricName"))))
    return found


def alarm_expressions(alarm: Resource) -> list[str]:
    return [
        render(q.get("Expression"))
        for q in alarm.properties.get("Metrics") or []
        if isinstance(q, dict) and "Expression" in q
    ]


def is_anomaly_alarm(alarm: Resource) -> bool:
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


def alarms_with_actions(inv: Inventory) -> tuple[list[Resource], list[Resource]]:
    """(metric alarms covered by an action, metric alarms without); an alarm feeding a composite with actions is covered."""
    metric_alarms = inv.of_type(ALARM)
    covered: set[tuple[str, str]] = {a.key for a in metric_alarms if actions_of(a)}
    names = {literal(a.properties.get("AlarmName")): a for a in metric_alarms if literal(a.properties.get("AlarmName"))}
    for composite in inv.of_type(COMPOSITE_ALARM):
        if not actions_of(composite):
            continue
        rule = composite.properties.get("AlarmRule")
        covered |= inv.refs(composite.stack, rule)
        for name in re.findall(r"ALARM\(\s*\"?([^\")]+?)\"?\s*\)", render(rule)):
            if name in names:
                covered.add(names[name].key)
    return [a for a in metric_alarms if a.key in covered], [a for a in metric_alarms if a.key not in covered]


_METRIC_ARRAY = re.compile(r'\[\s*"([^"]+)"\s*,\s*"([^"]+)"')
_SEARCH_NAMESPACE = re.compile(r"\{\s*([A-Za-z0-9_./#:-]+)\s*[,}]")


def dashboard_rows(dashboard: Resource) -> list[list[str]]:
    """Metric rows of a dashboard body: ``[namespace, metric, dim1, value1, ...]`` ("." shorthand expanded);
    a SEARCH expression contributes ``[namespace, "*"]``."""
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
            if len(current) >= 2 and all(isinstance(v, str) for v in current):
                rows.append(current)
    return rows


def dashboard_metrics(dashboard: Resource) -> list[tuple[str, str]]:
    """(namespace, metric name) of the metric widgets of a dashboard body."""
    return [(row[0], row[1]) for row in dashboard_rows(dashboard)]


def _custom(namespace: str | None) -> bool:
    return bool(namespace) and not namespace.startswith("AWS/") and "${" not in namespace


def emf_namespaces(inv: Inventory) -> dict[str, list[Resource]]:
    namespaces: dict[str, list[Resource]] = {}
    for fn in app_functions(inv):
        namespace = literal(env_of(inv, fn).get("POWERTOOLS_METRICS_NAMESPACE"))
        if namespace:
            namespaces.setdefault(namespace, []).append(fn)
    return namespaces


def metric_filter_metrics(inv: Inventory) -> list[tuple[Resource, str | None, str | None]]:
    found = []
    for mf in inv.of_type("AWS::Logs::MetricFilter"):
        for t in mf.properties.get("MetricTransformations") or []:
            if isinstance(t, dict):
                found.append((mf, literal(t.get("MetricNamespace")), literal(t.get("MetricName"))))
    return found


def _tag_keys(tags: Any) -> set[str] | None:
    if isinstance(tags, list):
        keys = {t.get("Key") for t in tags if isinstance(t, dict) and isinstance(t.get("Key"), str)}
        return keys or None
    if isinstance(tags, dict) and intrinsic(tags) is None:
        return set(tags) or None
    return None


def _status(parts_ok: Iterable[bool]) -> Status:
    parts = list(parts_ok)
    if all(parts):
        return Status.PRESENT
    return Status.PARTIAL if any(parts) else Status.MISSING


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ids(resources: Iterable[Resource]) -> str:
    return join_names([r.logical_id for r in resources], 4)


# --------------------------------------------------------------------------------------------------
# Level 1
# --------------------------------------------------------------------------------------------------


def rule_tracing(inv: Inventory) -> Finding:
    functions = app_functions(inv)
    behind_api = [f for f in functions if f.key in api_targets(inv)]
    scoped = behind_api or functions
    stages = api_stages(inv)
    if not scoped and not stages:
        return Finding(Status.MISSING, "No Lambda function or API Gateway stage to trace.")
    traced_fns = [f for f in scoped if fn_traced(inv, f)]
    untraced_fns = [f for f in scoped if not fn_traced(inv, f)]
    traced_stages = [s for s, on in stages if on]
    untraced_stages = [s for s, on in stages if not on]
    evidence = traced_stages + traced_fns
    conditional = [f for f in untraced_fns if fn_traced(inv, f, check=possibly)]
    conditional += [s for s in untraced_stages if possibly(s.properties, "TracingEnabled", test=as_bool)]
    note = f" (tracing of {_ids(conditional)} depends on a template condition)" if conditional else ""
    if not evidence and not conditional:
        return Finding(
            Status.MISSING, f"X-Ray is off: {len(scoped)} function(s) and {len(stages)} API stage(s) without tracing."
        )
    problems = []
    if untraced_stages:
        problems.append(f"API stage(s) without TracingEnabled: {_ids(untraced_stages)}")
    if untraced_fns:
        problems.append(
            f"{'request-path ' if behind_api else ''}function(s) without active tracing: {_ids(untraced_fns)}"
        )
    if problems:
        return Finding(Status.PARTIAL, "; ".join(problems) + note + ".", evidence + conditional)
    what = []
    if traced_stages:
        what.append(f"{len(traced_stages)} API stage(s)")
    if traced_fns:
        what.append(f"{len(traced_fns)} {'request-path ' if behind_api else ''}function(s)")
    others = [f for f in functions if f not in scoped and not fn_traced(inv, f)]
    extra = f" (not behind the API and untraced: {_ids(others)})" if others else ""
    return Finding(Status.PRESENT, f"X-Ray active on {' and '.join(what)}{extra}.", evidence)


def _has_log_group(inv: Inventory, fn: Resource, groups: list[Resource]) -> bool:
    if surely(_fn_prop(inv, fn, "LoggingConfig"), "LogGroup", test=is_set):
        return True
    name = literal(fn.properties.get("FunctionName"))
    for group in groups:
        if group.stack == fn.stack and fn.key in inv.refs(group.stack, group.properties.get("LogGroupName")):
            return True
        if name and literal(group.properties.get("LogGroupName")) == f"/aws/lambda/{name}":
            return True
    return False


def _structured(inv: Inventory, fn: Resource) -> bool:
    if surely(_fn_prop(inv, fn, "LoggingConfig"), "LogFormat", test=lambda v: v == "JSON"):
        return True
    if any(k.startswith("POWERTOOLS_") for k in env_of(inv, fn)):
        return True
    layers = _fn_prop(inv, fn, "Layers")
    return "powertools" in render(layers).lower()


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
        problems.append(f"log group(s) without RetentionInDays: {_ids(no_retention)}")
    if no_key:
        problems.append(f"without KmsKeyId: {_ids(no_key)}")
    if implicit:
        problems.append(f"function(s) logging to an implicit log group: {_ids(implicit)}")
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


def _metric_users(inv: Inventory) -> list[tuple[Resource, list[tuple[str | None, str | None]]]]:
    users: list[tuple[Resource, list[tuple[str | None, str | None]]]] = [
        (a, alarm_metrics(a)) for a in inv.of_type(ALARM)
    ]
    users += [(d, list(dashboard_metrics(d))) for d in inv.of_type(DASHBOARD)]
    return users


def rule_llm_metrics(inv: Inventory) -> Finding:
    users = _metric_users(inv)
    emf = emf_namespaces(inv)
    filters = {ns for _, ns, _ in metric_filter_metrics(inv) if ns}
    bedrock = [r for r, ms in users if any(ns and ns.startswith("AWS/Bedrock") for ns, _ in ms)]
    app_namespaces = {ns for _, ms in users for ns, _ in ms if _custom(ns)}
    app = [r for r, ms in users if any(_custom(ns) for ns, _ in ms)]
    unwatched = sorted(set(emf) - app_namespaces)
    emitters = [f for ns in emf for f in emf[ns]]
    if bedrock and app:
        sources = []
        for ns in sorted(app_namespaces):
            origin = "EMF" if ns in emf else "metric filter" if ns in filters else "source outside the templates"
            sources.append(f"{ns} ({origin})")
        return Finding(
            Status.PRESENT,
            f"AWS/Bedrock metrics and application metrics ({join_names(sources, 3)}) are watched by "
            f"{len({r.key for r in bedrock + app})} alarm(s)/dashboard(s).",
            bedrock + app + emitters,
        )
    if bedrock:
        extra = f"; EMF namespace {join_names(unwatched)} is emitted but not watched" if unwatched else ""
        return Finding(
            Status.PARTIAL,
            f"Only AWS/Bedrock service metrics are watched: no application-level LLM metrics{extra}.",
            bedrock + emitters,
        )
    if app:
        return Finding(
            Status.PARTIAL,
            f"Application metrics ({join_names(sorted(app_namespaces), 3)}) are watched, but no AWS/Bedrock metric.",
            app + emitters,
        )
    if emf:
        return Finding(
            Status.PARTIAL,
            f"EMF namespace {join_names(sorted(emf))} is emitted but no alarm or dashboard uses it.",
            emitters,
        )
    return Finding(Status.MISSING, "No alarm or dashboard uses AWS/Bedrock or application metrics.")


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
            f"{len(bare)} of {len(alarms)} alarm(s) have no alarm action: {_ids(bare)}.",
            covered + composites,
        )
    return Finding(Status.PRESENT, f"All {len(alarms)} alarm(s) have alarm actions.", covered + composites)


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
        return Finding(Status.PARTIAL, f"Alarm topic(s) without KmsMasterKeyId: {_ids(plain)}.", evidence)
    parts = []
    if topics:
        parts.append(f"{len(topics)} KMS-encrypted topic(s)")
    if external:
        parts.append(f"{len(set(external))} topic(s) outside the templates (not assessed)")
    note = (
        "" if not topics or subscribed else "; no subscription in the templates (subscribe on-call, e.g. alarm_email)"
    )
    return Finding(Status.PRESENT, f"Alarms notify {' and '.join(parts)}{note}.", evidence)


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
            f"Custom resource {_ids(recognized)} sets a Bedrock model invocation logging configuration.",
            recognized,
        )
    if unsure:
        return Finding(
            Status.PARTIAL,
            f"Custom resource {_ids(unsure)} has a loggingConfig, but not Bedrock's shape (cloudWatchConfig / s3Config).",
            unsure,
        )
    return Finding(
        Status.MISSING,
        "No Bedrock model invocation logging (no CloudFormation type exists; a custom resource sets it). If the "
        "account configures it outside these templates, acknowledge this capability.",
    )


def rule_cost_visibility(inv: Inventory) -> Finding:
    cost_users = [
        r for r, ms in _metric_users(inv)
        if any((name and "cost" in name.lower()) or ns == "AWS/Billing" for ns, name in ms)
    ]  # fmt: skip
    tagged = [(r, keys) for r in inv.resources if (keys := _tag_keys(r.properties.get("Tags"))) is not None]
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
    status = _status([bool(cost_users), tags_ok])
    if status is Status.PRESENT:
        return Finding(status, _sentence("; ".join(parts)) + ".", evidence)
    missing = []
    if not cost_users:
        missing.append("no cost metric (e.g. EstimatedCostUSD) on a dashboard or alarm")
    if not tags_ok:
        missing.append("no cost-allocation tag shared by the tagged resources" if tagged else "no resource tags")
    return Finding(status, _sentence("; ".join(parts + missing)) + ".", evidence)


# --------------------------------------------------------------------------------------------------
# Level 2
# --------------------------------------------------------------------------------------------------


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


def rule_log_intelligence(inv: Inventory) -> Finding:
    detectors = inv.of_type("AWS::Logs::LogAnomalyDetector")
    queries = inv.of_type("AWS::Logs::QueryDefinition")
    filters = inv.of_type("AWS::Logs::MetricFilter")
    status = _status([bool(detectors), bool(queries)])
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
    return Finding(status, ", ".join(parts) + ".", detectors + queries + filters)


def rule_compliance(inv: Inventory) -> Finding:
    hub = inv.of_type("AWS::SecurityHub::Hub", "AWS::SecurityHub::Standard")
    config = inv.of_type("AWS::Config::ConfigRule", "AWS::Config::ConformancePack", "AWS::Config::OrganizationConfigRule",
                         "AWS::Config::OrganizationConformancePack")  # fmt: skip
    trails = inv.of_type("AWS::CloudTrail::Trail")
    logging = [t for t in trails if surely(t.properties, "IsLogging", test=as_bool)]
    status = _status([bool(hub), bool(config), bool(logging)])
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


def rule_cost_control(inv: Inventory) -> Finding:
    budgets = inv.of_type("AWS::Budgets::Budget")
    forecast = [
        b for b in budgets
        if any(
            n == "FORECASTED"
            for item in (b.properties.get("NotificationsWithSubscribers") or [] if isinstance(b.properties.get("NotificationsWithSubscribers"), list) else [])
            for n in alternatives(item, "Notification", "NotificationType")
        )
    ]  # fmt: skip
    subscriptions = inv.of_type("AWS::CE::AnomalySubscription")
    monitors = inv.of_type("AWS::CE::AnomalyMonitor")
    status = _status([bool(forecast), bool(subscriptions)])
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
    return Finding(Status.PARTIAL if status is Status.MISSING else status, _sentence("; ".join(parts)) + ".",
                   (forecast or budgets) + subscriptions + monitors)  # fmt: skip


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


def rule_guardrail(inv: Inventory) -> Finding:
    guardrails = inv.of_type("AWS::Bedrock::Guardrail")
    used = [g for g in guardrails if any(r.type not in _NOT_A_USE for r in inv.referrers(g))]
    external = [
        f for f in app_functions(inv)
        if any("GUARDRAIL" in k.upper() and literal(v) for k, v in env_of(inv, f).items())
    ]  # fmt: skip
    if used:
        users = [r for g in used for r in inv.referrers(g) if r.type not in _NOT_A_USE]
        return Finding(Status.PRESENT, f"Guardrail {_ids(used)} used by {_ids(users)}.", used + users)
    if external:
        return Finding(
            Status.PRESENT,
            f"Function(s) {_ids(external)} configured with a guardrail defined outside the templates.",
            external,
        )
    if guardrails:
        return Finding(
            Status.PARTIAL, f"Guardrail {_ids(guardrails)} exists but no function or agent uses it.", guardrails
        )
    return Finding(Status.MISSING, "No Bedrock Guardrail.")


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
            f"Managed prompt(s) {_ids(prompts)} without a PromptVersion (no immutable versions).",
            prompts,
        )
    return Finding(Status.MISSING, "No Bedrock Prompt Management prompt.")


def rule_quality_evaluation(inv: Inventory) -> Finding:
    quality_alarms = [
        a for a in inv.of_type(ALARM) if any(name and QUALITY_METRIC.search(name) for _, name in alarm_metrics(a))
    ]
    functions = {f.key for f in app_functions(inv)}
    scheduled = [
        rule for rule in inv.of_type("AWS::Events::Rule")
        if is_set(rule.properties.get("ScheduleExpression"))
        and any(k in functions for t in rule.properties.get("Targets") or [] if isinstance(t, dict) for k in inv.refs(rule.stack, t.get("Arn")))
    ]  # fmt: skip
    scheduled += inv.of_type("AWS::Scheduler::Schedule", "AWS::Synthetics::Canary")
    status = _status([bool(quality_alarms), bool(scheduled)])
    if status is Status.MISSING:
        return Finding(status, "No scheduled quality evaluation and no alarm on an output-quality metric.")
    parts = [
        f"{len(scheduled)} scheduled evaluation(s)" if scheduled else "no scheduled evaluation",
        f"{len(quality_alarms)} alarm(s) on output-quality metrics"
        if quality_alarms
        else "no alarm on an output-quality metric",
    ]
    return Finding(status, _sentence("; ".join(parts)) + ".", scheduled + quality_alarms)


# --------------------------------------------------------------------------------------------------
# Level 3
# --------------------------------------------------------------------------------------------------


def rule_devops_guru(inv: Inventory) -> Finding:
    collections = inv.of_type("AWS::DevOpsGuru::ResourceCollection")
    channels = inv.of_type("AWS::DevOpsGuru::NotificationChannel")
    status = _status([bool(collections), bool(channels)])
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
    if wired:
        return Finding(
            Status.PRESENT,
            f"Profiling group(s) {_ids(set(wired))} receive profiles from {_ids(users)}.",
            list(dict.fromkeys(wired + users)),
        )
    return Finding(
        Status.PARTIAL, f"Profiling group(s) {_ids(groups)} but no function is wired to send profiles.", groups
    )


def rule_self_healing(inv: Inventory) -> Finding:
    documents = [
        d
        for d in inv.of_type("AWS::SSM::Document")
        if surely(d.properties, "DocumentType", test=lambda v: v == "Automation")
    ]
    rules = [
        r for r in inv.of_type("AWS::Events::Rule")
        if any(":automation-definition/" in render(t.get("Arn")) for t in r.properties.get("Targets") or [] if isinstance(t, dict))
    ]  # fmt: skip
    on_alarms = [r for r in rules if "aws.cloudwatch" in render(r.properties.get("EventPattern"))]
    if on_alarms:
        return Finding(Status.PRESENT, f"{len(on_alarms)} EventBridge rule(s) start SSM Automation on alarm state changes"
                       f"{f' ({len(documents)} runbook document(s))' if documents else ''}.", documents + on_alarms)  # fmt: skip
    if rules:
        return Finding(
            Status.PARTIAL,
            f"EventBridge rule(s) {_ids(rules)} start SSM Automation, but not on alarm state changes.",
            documents + rules,
        )
    if documents:
        return Finding(
            Status.PARTIAL, f"Automation runbook(s) {_ids(documents)} that no EventBridge rule starts.", documents
        )
    return Finding(Status.MISSING, "No SSM Automation runbook started from alarms.")


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
    status = _status([bool(search), bool(streams), bool(filters)])
    if status is Status.MISSING:
        return Finding(status, "No OpenSearch log analytics path (subscription filter -> Firehose -> OpenSearch).")
    parts = [
        f"{len(search)} OpenSearch domain/collection(s)" if search else "no OpenSearch domain or collection",
        f"{len(streams)} Firehose stream(s) to OpenSearch" if streams else "no Firehose stream to OpenSearch",
        f"{len(filters)} subscription filter(s) to the stream"
        if filters
        else "no log subscription filter to the stream",
    ]
    return Finding(status, _sentence("; ".join(parts)) + ".", search + streams + filters)


RULES: dict[str, Callable[[Inventory], Finding]] = {
    "tracing": rule_tracing,
    "structured-logs": rule_structured_logs,
    "llm-metrics": rule_llm_metrics,
    "dashboards": rule_dashboards,
    "alarms": rule_alarms,
    "notifications": rule_notifications,
    "invocation-logging": rule_invocation_logging,
    "cost-visibility": rule_cost_visibility,
    "metric-anomaly-detection": rule_metric_anomaly,
    "log-intelligence": rule_log_intelligence,
    "compliance": rule_compliance,
    "cost-control": rule_cost_control,
    "incident-management": rule_incident_management,
    "guardrail": rule_guardrail,
    "prompt-management": rule_prompt_management,
    "quality-evaluation": rule_quality_evaluation,
    "devops-guru": rule_devops_guru,
    "codeguru-profiler": rule_codeguru,
    "self-healing": rule_self_healing,
    "prometheus": rule_prometheus,
    "opensearch-log-analytics": rule_opensearch,
}
assert set(RULES) == set(BY_ID), "every capability needs exactly one rule"
