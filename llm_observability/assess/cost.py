"""Monthly cost of the observability resources in an assembly: fixed, and usage at N requests a month.

Prices are data (``prices.json``: dated, with the pricing page of each figure); every line of the
estimate carries its quantity, unit price and the assumption behind it. What the templates cannot
tell (how many custom metrics a foreign function emits, how many Security Hub checks an account runs)
is an explicit assumption in ``prices.json`` or a lower bound marked as such.

Custom metrics of this project's own functions are not visible in a template (EMF is written by the
code), so they are counted from the telemetry vocabulary the code uses, with the README's Level 1
breakdown: 10 service-only metrics, 5 pipeline stages, 5 per model, up to 7 error classes = 27 for one
model. Foreign functions' EMF is counted as a lower bound (distinct metrics their alarms and dashboards
read); metric filters count one metric per transformation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any

from llm_observability.assess.loader import Inventory, Resource, Source, alternatives, literal, render, surely
from llm_observability.assess.model import Status
from llm_observability.assess.scorecard import (
    ALARM,
    COMPOSITE_ALARM,
    DASHBOARD,
    FUNCTION_TYPES,
    _custom,
    app_functions,
    dashboard_rows,
    env_of,
    is_anomaly_alarm,
    metric_filter_metrics,
    rule_tracing,
)

DEFAULT_REQUESTS_PER_MONTH = 10_000
GB = 1024**3

# The RAG function's EMF metrics (README "Costs", Level 1): names in functions/rag_api/telemetry.py.
RAG_SERVICE_ONLY = 10  # EndToEndLatency, RequestSuccess, PromptLength, RetrievedPassages, TopRetrievalScore,
#                        RetrievalCacheHit, RetrievalCacheMiss, FeedbackScore, FeedbackCount, PiiRedactions
RAG_STAGES = 5  # StageLatency x telemetry.STAGES
RAG_PER_MODEL = 5  # InferenceLatency, InputTokens, OutputTokens, TotalTokens, EstimatedCostUSD
RAG_ERROR_CLASSES = 7  # RequestFailure x telemetry.ERROR_CLASSES
RAG_GUARDRAIL = 3 + 5  # GuardrailIntervened, GroundingScore, RelevanceScore + PolicyIntervened x 5 policies
RAG_PER_PROMPT_VERSION = 4  # RequestSuccess, EndToEndLatency, TotalTokens, EstimatedCostUSD (+1 with a guardrail)
CANARY_PER_VERSION = 6  # QualityRougeL, QualityBleu, QualityTokenF1, AnswerLength, RefusalRate, CanaryQuestions
DEVOPS_GURU_TYPES = ("AWS::Lambda::Function", "AWS::ApiGateway::Stage", "AWS::DynamoDB::Table", "AWS::SNS::Topic",
                     "AWS::SQS::Queue", "AWS::Kinesis::Stream", "AWS::StepFunctions::StateMachine")  # fmt: skip


@lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    """The packaged ``prices.json``."""
    text = importlib_resources.files("llm_observability.assess").joinpath("prices.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass
class CostItem:
    """One line of the estimate."""

    id: str
    category: str  # "fixed" or "usage"
    label: str
    quantity: float
    unit: str
    unit_usd: float | None
    monthly_usd: float | None  # None: not priced
    assumption: str
    source: str | None = None
    evidence: list[Resource] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {}
        for r in self.evidence:
            ids = grouped.setdefault(r.stack, [])
            if r.logical_id not in ids:
                ids.append(r.logical_id)
        return {
            "id": self.id, "category": self.category, "label": self.label, "quantity": round(self.quantity, 6),
            "unit": self.unit, "unit_usd": self.unit_usd,
            "monthly_usd": None if self.monthly_usd is None else round(self.monthly_usd, 4),
            "assumption": self.assumption, "source": self.source,
            "evidence": [{"stack": s, "logical_ids": ids} for s, ids in grouped.items()],
        }  # fmt: skip


@dataclass
class CostReport:
    source: Source
    items: list[CostItem]
    requests_per_month: int
    free_tier: bool
    notes: list[str]

    def total(self, category: str | None = None) -> float:
        return sum(i.monthly_usd or 0.0 for i in self.items if category in (None, i.category))

    @property
    def fixed_usd(self) -> float:
        return round(self.total("fixed"), 2)

    @property
    def usage_usd(self) -> float:
        return round(self.total("usage"), 2)

    def item(self, item_id: str) -> CostItem:
        return next(i for i in self.items if i.id == item_id)

    def to_json(self) -> dict[str, Any]:
        table = price_table()
        return {
            "schema": "llm-observability/cost/v1",
            "source": {"path": str(self.source.path), "kind": self.source.kind, "stacks": [s.name for s in self.source.stacks]},
            "currency": table["currency"], "region": table["region"], "prices_as_of": table["as_of"],
            "basis": table["basis"], "requests_per_month": self.requests_per_month, "free_tier_applied": self.free_tier,
            "fixed_monthly_usd": self.fixed_usd, "usage_monthly_usd": self.usage_usd,
            "total_monthly_usd": round(self.total(), 2),
            "items": [i.to_json() for i in self.items],
            "not_priced": [i.label for i in self.items if i.monthly_usd is None],
            "notes": self.notes, "sources": table["sources"],
        }  # fmt: skip

    def render_text(self) -> str:
        table = price_table()
        lines = [
            f"Observability cost estimate: USD per month, {table['region']} list prices as of {table['as_of']}",
            f"Assessed: {self.source.describe()}",
        ]
        for category, title in (
            ("fixed", "Fixed monthly cost"),
            ("usage", f"Usage at {self.requests_per_month:,} requests/month"),
        ):
            items = [i for i in self.items if i.category == category]
            lines += ["", title]
            if not items:
                lines.append("  (none)")
            for i in items:
                money = "not priced" if i.monthly_usd is None else f"${i.monthly_usd:,.2f}"
                unit = "" if i.unit_usd is None else f" x ${_price(i.unit_usd)}"
                lines.append(f"  {i.label:<42} {_quantity(i.quantity)} {i.unit}{unit}  = {money}")
                lines.append(f"      {i.assumption}")
            lines.append(f"  {'Total ' + category:<42} ${self.total(category):,.2f}")
        lines += [
            "",
            f"Estimated total: ${self.total():,.2f} per month"
            + (
                "" if self.free_tier else " (no free tier applied: --free-tier subtracts the account's free allowances)"
            ),
        ]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        lines += ["", f"Prices: {table['basis']}"]
        lines += [
            f"  {name}: {url}"
            for name, url in sorted(
                {i.source: table["sources"].get(i.source, "") for i in self.items if i.source}.items()
            )
        ]
        return "\n".join(lines)


def _price(value: float) -> str:
    whole, _, fraction = f"{value:.6f}".rstrip("0").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4g}"


def _p(key: str) -> dict[str, Any]:
    return price_table()["prices"][key]


def _a(key: str) -> Any:
    return price_table()["assumptions"][key]["value"]


class _Estimator:
    def __init__(self, source: Source, requests_per_month: int, free_tier: bool) -> None:
        self.inv = Inventory(source.stacks)
        self.requests = requests_per_month
        self.free_tier = free_tier
        self.items: list[CostItem] = []
        self.notes: list[str] = []
        self.hours = price_table()["hours_per_month"]

    def add(
        self,
        id: str,
        category: str,
        label: str,
        quantity: float,
        unit: str,
        price_key: str | None,
        unit_usd: float | None,
        assumption: str,
        evidence: list[Resource] | None = None,
        *,
        free: float = 0.0,
    ) -> None:
        billable = max(quantity - free, 0.0) if self.free_tier else quantity
        monthly = None if unit_usd is None else billable * unit_usd
        if self.free_tier and free and quantity:
            assumption += f" Free tier: {_quantity(min(free, quantity))} {unit} free."
        source = _p(price_key)["source"] if price_key else None
        self.items.append(
            CostItem(id, category, label, quantity, unit, unit_usd, monthly, assumption, source, evidence or [])
        )

    # ------------------------------------------------------------------ CloudWatch
    def dashboards(self) -> None:
        dashboards = self.inv.of_type(DASHBOARD)
        if not dashboards:
            return
        p = _p("cloudwatch.dashboard")
        free = p["free_per_account"]
        assumption = (
            f"the account's {free} free dashboards are applied to these." if self.free_tier else
            f"assumes the account's {free} free dashboards are already used elsewhere (as the README does)."
        )  # fmt: skip
        self.add("dashboards", "fixed", "CloudWatch dashboards", len(dashboards), "dashboard(s)", "cloudwatch.dashboard",
                 p["usd"], assumption, dashboards, free=free)  # fmt: skip

    def alarms(self) -> None:
        standard, high_res, composite = 0, 0, self.inv.of_type(COMPOSITE_ALARM)
        kinds = {"single-metric": [0, 0], "metric-math": [0, 0], "anomaly-detection": [0, 0]}
        alarms = self.inv.of_type(ALARM)
        for alarm in alarms:
            count, kind = _alarm_metric_count(alarm)
            kinds[kind][0] += 1
            kinds[kind][1] += count
            if _high_resolution(alarm):
                high_res += count
            else:
                standard += count
        parts = [f"{n} {kind} alarm(s) = {m} metric(s)" for kind, (n, m) in kinds.items() if n]
        rule = (
            "single-metric alarms count 1, metric-math alarms each metric in the expression, anomaly-detection alarms 3"
        )
        if standard:
            p = _p("cloudwatch.alarm_metric")
            self.add("alarms", "fixed", "Standard-resolution alarms", standard, "alarm metric(s)", "cloudwatch.alarm_metric",
                     p["usd"], f"{'; '.join(parts)} ({rule}).", alarms, free=p["free_per_account"])  # fmt: skip
        if high_res:
            self.add("alarms-high-resolution", "fixed", "High-resolution alarms", high_res, "alarm metric(s)",
                     "cloudwatch.high_resolution_alarm_metric", _p("cloudwatch.high_resolution_alarm_metric")["usd"],
                     "alarms with a period under 60 seconds.", alarms)  # fmt: skip
        if composite:
            self.add("alarms-composite", "fixed", "Composite alarms", len(composite), "alarm(s)", "cloudwatch.composite_alarm",
                     _p("cloudwatch.composite_alarm")["usd"], "one charge per composite alarm.", composite)  # fmt: skip

    def custom_metrics(self) -> None:
        p = _p("cloudwatch.custom_metric")
        lines: list[tuple[int, str, list[Resource]]] = []
        known_namespaces: set[str] = set()
        for fn in self.inv.of_type(*FUNCTION_TYPES):
            env = env_of(self.inv, fn)
            counted = _known_function_metrics(env)
            if counted is None:
                continue
            count, why = counted
            lines.append((count, f"{fn.logical_id}: {why}", [fn]))
            namespace = literal(env.get("POWERTOOLS_METRICS_NAMESPACE"))
            if namespace:
                known_namespaces.add(namespace)
        filters = metric_filter_metrics(self.inv)
        filter_namespaces = {ns for _, ns, _ in filters if ns}
        if filters:
            dimensioned = [mf for mf, _, _ in filters if any(
                isinstance(t, dict) and t.get("Dimensions") for t in mf.properties.get("MetricTransformations") or [])]  # fmt: skip
            extra = (
                " (filters with Dimensions publish one metric per distinct dimension value: counted once)"
                if dimensioned
                else ""
            )
            lines.append((len(filters), f"{len(filters)} metric filter transformation(s), one metric each{extra}",
                          list(dict.fromkeys(mf for mf, _, _ in filters))))  # fmt: skip
        # Foreign EMF and other custom namespaces: a lower bound from what alarms and dashboards read.
        seen: dict[str, set[tuple[str, ...]]] = {}
        for alarm in self.inv.of_type(ALARM):
            for identity in _alarm_metric_identities(alarm):
                if _custom(identity[0]) and identity[0] not in known_namespaces | filter_namespaces:
                    seen.setdefault(identity[0], set()).add(identity)
        for dashboard in self.inv.of_type(DASHBOARD):
            for row in dashboard_rows(dashboard):
                if _custom(row[0]) and row[1] != "*" and row[0] not in known_namespaces | filter_namespaces:
                    seen.setdefault(row[0], set()).add((row[0], row[1], *sorted(_pairs(row[2:]))))
        emf_unknown = sorted({literal(env_of(self.inv, f).get("POWERTOOLS_METRICS_NAMESPACE")) or "" for f in app_functions(self.inv)}
                             - known_namespaces - {""})  # fmt: skip
        for namespace in sorted(seen):
            why = (
                f"namespace {namespace}: at least {len(seen[namespace])} metric(s) read by alarms/dashboards "
                "(lower bound: the code's dimension sets are not in the template)"
            )
            lines.append((len(seen[namespace]), why, []))
        for namespace in emf_unknown:
            if namespace not in seen:
                self.notes.append(
                    f"EMF namespace {namespace} is emitted by a function whose metrics the templates do not show: not estimated."
                )
        total = sum(n for n, _, _ in lines)
        if not total:
            return
        self.add("custom-metrics", "fixed", "Custom metrics", total, "metric(s)", "cloudwatch.custom_metric", p["usd"],
                 "; ".join(why for _, why, _ in lines) + ". Upper bound for EMF: a metric costs only in hours it receives data.",
                 [r for _, _, rs in lines for r in rs], free=p["free_per_account"])  # fmt: skip

    def logs_resources(self) -> None:
        detectors = self.inv.of_type("AWS::Logs::LogAnomalyDetector")
        if detectors:
            self.add("log-anomaly-detectors", "fixed", "Log anomaly detectors", len(detectors), "detector(s)",
                     "logs.anomaly_detector", _p("logs.anomaly_detector")["usd"], _p("logs.anomaly_detector")["note"] + ".", detectors)  # fmt: skip
        queries = self.inv.of_type("AWS::Logs::QueryDefinition")
        if queries:
            self.add("saved-queries", "fixed", "Saved Logs Insights queries", len(queries), "query(ies)", "logs.query_definition",
                     0.0, _p("logs.query_definition")["note"] + ".", queries)  # fmt: skip

    # ------------------------------------------------------------------ other services
    def kms(self) -> None:
        keys = self.inv.of_type("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
        if not keys:
            return
        rotating = [
            k for k in keys if surely(k.properties, "EnableKeyRotation", test=lambda v: v is True or v == "true")
        ]
        note = f" {len(rotating)} rotate yearly: {_p('kms.key')['note']}." if rotating else ""
        self.add("kms-keys", "fixed", "KMS customer managed keys", len(keys), "key(s)", "kms.key", _p("kms.key")["usd"],
                 f"first-year price.{note}", keys)  # fmt: skip

    def compliance(self) -> None:
        standards = self.inv.of_type("AWS::SecurityHub::Standard")
        hubs = self.inv.of_type("AWS::SecurityHub::Hub")
        count = len(standards)
        default = [
            h
            for h in hubs
            if surely(h.properties, "EnableDefaultStandards", test=lambda v: v is not False and v != "false")
        ]
        why = f"{len(standards)} standard(s) enabled by the templates"
        if default:
            count += 2
            why += " + 2 default standards (EnableDefaultStandards not false)"
        if count:
            checks = count * _a("securityhub_checks_per_standard_month")
            self.add("securityhub", "fixed", "Security Hub security checks", checks, "check(s)", "securityhub.security_check",
                     _p("securityhub.security_check")["usd"],
                     f"{why}; assumes {_a('securityhub_checks_per_standard_month'):,} checks per standard a month (small account).",
                     standards + hubs)  # fmt: skip
        recorders = self.inv.of_type("AWS::Config::ConfigurationRecorder")
        if recorders:
            self.add("config-items", "fixed", "AWS Config configuration items", _a("config_items_per_month"), "item(s)",
                     "config.configuration_item", _p("config.configuration_item")["usd"],
                     f"assumes {_a('config_items_per_month')} configuration items a month for a recorder limited to the workload's types.",
                     recorders)  # fmt: skip
        rules = self.inv.of_type("AWS::Config::ConfigRule")
        if rules:
            evaluations = len(rules) * _a("config_evaluations_per_rule_month")
            self.add("config-evaluations", "fixed", "AWS Config rule evaluations", evaluations, "evaluation(s)",
                     "config.rule_evaluation", _p("config.rule_evaluation")["usd"],
                     f"{len(rules)} rule(s) x {_a('config_evaluations_per_rule_month')} evaluations a month (assumed).", rules)  # fmt: skip
        trails = self.inv.of_type("AWS::CloudTrail::Trail")
        if trails:
            self.add("cloudtrail", "fixed", "CloudTrail trail (management events)", len(trails), "trail(s)",
                     "cloudtrail.management_events_first_copy", 0.0, _p("cloudtrail.management_events_first_copy")["note"] + ".", trails)  # fmt: skip
            to_logs = [t for t in trails if t.properties.get("CloudWatchLogsLogGroupArn")]
            if to_logs:
                gb = _a("cloudtrail_to_logs_gb_month") * len(to_logs)
                unit = _p("logs.ingestion")["usd"] + _p("logs.storage")["usd"] * _a("log_storage_months")
                self.add("cloudtrail-logs", "fixed", "CloudTrail events in CloudWatch Logs", gb, "GB", "logs.ingestion", unit,
                         f"assumes {_a('cloudtrail_to_logs_gb_month')} GB of management events a month per trail "
                         "(ingestion $0.50/GB + one month of storage $0.03/GB).", to_logs)  # fmt: skip

    def cost_control(self) -> None:
        budgets = self.inv.of_type("AWS::Budgets::Budget")
        if budgets:
            p = _p("budgets.budget")
            days = self.hours / 24
            self.add("budgets", "fixed", "AWS Budgets", len(budgets), "budget(s)", "budgets.budget", p["usd"] * days,
                     f"${p['usd']}/day after the account's first {p['free_per_account']} budgets, assumed used elsewhere "
                     f"unless --free-tier; {p['note']}.", budgets, free=p["free_per_account"])  # fmt: skip
        anomaly = self.inv.of_type("AWS::CE::AnomalyMonitor", "AWS::CE::AnomalySubscription")
        if anomaly:
            self.add("cost-anomaly-detection", "fixed", "Cost Anomaly Detection", len(anomaly), "monitor/subscription(s)",
                     "ce.anomaly_detection", 0.0, "no charge.", anomaly)  # fmt: skip

    def aiops(self) -> None:
        collections = self.inv.of_type("AWS::DevOpsGuru::ResourceCollection")
        for collection in collections:
            names = [n for option in alternatives(collection.properties, "ResourceCollectionFilter", "CloudFormation", "StackNames")
                     if isinstance(option, list) for n in option if isinstance(n, str)]  # fmt: skip
            covered = [s.name for s in self.inv.stacks if "*" in names or s.name in names]
            analysed = [r for r in self.inv.of_type(*DEVOPS_GURU_TYPES) if r.stack in covered]
            p = _p("devopsguru.resource_hour")
            self.add("devops-guru", "fixed", "DevOps Guru analysed resources", len(analysed) * self.hours, "resource-hour(s)",
                     "devopsguru.resource_hour", p["usd"],
                     f"{len(analysed)} resource(s) of analysed types in the covered stacks ({', '.join(covered) or 'none loaded'}) "
                     f"x {self.hours} h: upper bound, {p['note']}.", [collection, *analysed])  # fmt: skip
        if not collections and self.inv.of_type("AWS::DevOpsGuru::NotificationChannel"):
            self.notes.append(
                "DevOps Guru coverage is not in the templates (adopted): its resource-hours are not estimated."
            )
        groups = self.inv.of_type("AWS::CodeGuruProfiler::ProfilingGroup")
        if groups:
            hours = _a("codeguru_sampling_hours_per_function_month") * len(groups)
            self.add("codeguru-profiler", "fixed", "CodeGuru Profiler sampling", hours, "sampling hour(s)",
                     "codeguru_profiler.sampling_hour", _p("codeguru_profiler.sampling_hour")["usd"],
                     f"{len(groups)} profiling group(s) x {_a('codeguru_sampling_hours_per_function_month')} h (one profiled "
                     "function each, running every hour: upper bound).", groups)  # fmt: skip
        documents = [
            d
            for d in self.inv.of_type("AWS::SSM::Document")
            if literal(d.properties.get("DocumentType")) == "Automation"
        ]
        if documents:
            p = _p("ssm.automation_step")
            self.add("ssm-automation", "fixed", "SSM Automation runbooks (idle)", len(documents), "document(s)", "ssm.automation_step",
                     0.0, f"no charge while idle; each run costs ${p['usd']} per step beyond {p['free_per_account']:,} free steps a month.",
                     documents)  # fmt: skip
        for workspace in self.inv.of_type("AWS::APS::Workspace"):
            series, interval = _a("amp_active_series"), _a("amp_sample_interval_seconds")
            samples = series * self.hours * 3600 / interval
            self.add("amp-ingestion", "fixed", "Prometheus samples ingested", samples / 1e7, "10M-sample unit(s)", "amp.samples_ingested",
                     _p("amp.samples_ingested")["usd"], f"assumes {series} active series, one sample every {interval} s.", [workspace])  # fmt: skip
            gb = samples * _a("amp_bytes_per_sample") / GB
            self.add("amp-storage", "fixed", "Prometheus metric storage", gb, "GB-month", "amp.storage", _p("amp.storage")["usd"],
                     f"{_a('amp_bytes_per_sample')} bytes per sample, one month kept (grows with retention).", [workspace])  # fmt: skip
            self.add("amp-query", "fixed", "Prometheus rule evaluation", _a("amp_query_samples_month") / 1e9, "billion samples",
                     "amp.query_samples", _p("amp.query_samples")["usd"],
                     f"assumes {_a('amp_query_samples_month'):,} query samples processed a month by the rules.", [workspace])  # fmt: skip
        self._opensearch()

    def _opensearch(self) -> None:
        prices = _p("opensearch.instance_hour")["usd_by_type"]
        for domain in self.inv.of_type("AWS::OpenSearchService::Domain", "AWS::Elasticsearch::Domain"):
            cluster = (
                domain.properties.get("ClusterConfig") or domain.properties.get("ElasticsearchClusterConfig") or {}
            )
            cluster = cluster if isinstance(cluster, dict) else {}
            nodes = [(literal(cluster.get("InstanceType")), _int(cluster.get("InstanceCount"), 1), "data")]
            if cluster.get("DedicatedMasterEnabled") in (True, "true"):
                nodes.append(
                    (
                        literal(cluster.get("DedicatedMasterType")),
                        _int(cluster.get("DedicatedMasterCount"), 3),
                        "master",
                    )
                )
            for instance_type, count, role in nodes:
                price = prices.get(instance_type or "")
                self.add(f"opensearch-{role}", "fixed", f"OpenSearch {role} nodes", count * self.hours, "instance-hour(s)",
                         "opensearch.instance_hour", price,
                         f"{count} x {instance_type or 'unspecified instance type'} x {self.hours} h"
                         + ("" if price is not None else ": instance type not in prices.json, not priced") + ".", [domain])  # fmt: skip
            ebs = domain.properties.get("EBSOptions") if isinstance(domain.properties.get("EBSOptions"), dict) else {}
            size = _int(ebs.get("VolumeSize"), 0)
            if size:
                volume = literal(ebs.get("VolumeType")) or "gp2"
                key = "opensearch.ebs_gp3" if volume == "gp3" else "opensearch.ebs_gp2"
                total = size * _int(cluster.get("InstanceCount"), 1)
                self.add("opensearch-storage", "fixed", "OpenSearch EBS storage", total, "GB-month", key, _p(key)["usd"],
                         f"{size} GB {volume} on each of {_int(cluster.get('InstanceCount'), 1)} data node(s).", [domain])  # fmt: skip
        for collection in self.inv.of_type("AWS::OpenSearchServerless::Collection"):
            standby = literal(collection.properties.get("StandbyReplicas")) or "ENABLED"
            ocus = 2 if standby == "ENABLED" else 1
            self.add("opensearch-serverless", "fixed", "OpenSearch Serverless compute", ocus * self.hours, "OCU-hour(s)",
                     "opensearch_serverless.ocu_hour", _p("opensearch_serverless.ocu_hour")["usd"],
                     f"the minimum of {ocus} OCU (StandbyReplicas {standby}) for {self.hours} h; scales up with load.", [collection])  # fmt: skip
            self.add("opensearch-serverless-storage", "fixed", "OpenSearch Serverless storage", _a("opensearch_storage_gb"), "GB-month",
                     "opensearch_serverless.storage", _p("opensearch_serverless.storage")["usd"],
                     f"assumes {_a('opensearch_storage_gb')} GB indexed.", [collection])  # fmt: skip

    def canary(self) -> None:
        """Scheduled evaluations call the model on a timer: a fixed monthly Bedrock spend."""
        for rule in self.inv.of_type("AWS::Events::Rule"):
            runs = _runs_per_month(literal(rule.properties.get("ScheduleExpression")), self.hours)
            if runs is None:
                continue
            for target in rule.properties.get("Targets") or []:
                for fn in self.inv.targets(
                    rule.stack, target.get("Arn") if isinstance(target, dict) else None, *FUNCTION_TYPES
                ):
                    env = env_of(self.inv, fn)
                    if "TARGET_FUNCTION_NAME" not in env:
                        continue
                    questions = _int(env.get("MAX_QUESTIONS"), 0) or _golden_questions()
                    price, model, origin = self._answer_price()
                    tokens = _a("canary_tokens_per_answer")
                    self.add("quality-canary-bedrock", "fixed", "Quality canary model calls", runs * questions, "answer(s)", "bedrock.amazon.nova-lite-v1:0",
                             price, f"{runs:,.0f} runs a month ({literal(rule.properties.get('ScheduleExpression'))}) x {questions} golden "
                             f"questions; {tokens['input']} input + {tokens['output']} output tokens of {model} ({origin}). Lambda compute "
                             "not included.", [rule, fn])  # fmt: skip

    def _answer_price(self) -> tuple[float, str, str]:
        tokens = _a("canary_tokens_per_answer")
        for fn in self.inv.of_type(*FUNCTION_TYPES):
            env = env_of(self.inv, fn)
            model, table = literal(env.get("MODEL_ID")), literal(env.get("PRICE_TABLE"))
            if model and table:
                try:
                    entry = json.loads(table)[model]
                    return (tokens["input"] / 1000 * float(entry["input_per_1k"]) + tokens["output"] / 1000 * float(entry["output_per_1k"]),
                            model, "the RAG function's PRICE_TABLE")  # fmt: skip
                except (ValueError, KeyError, TypeError):
                    continue
        entry = _p("bedrock.amazon.nova-lite-v1:0")
        return (tokens["input"] / 1000 * entry["input_per_1k"] + tokens["output"] / 1000 * entry["output_per_1k"],
                "amazon.nova-lite-v1:0", "prices.json")  # fmt: skip

    # ------------------------------------------------------------------ usage
    def usage(self) -> None:
        if self.requests <= 0:
            return
        functions = app_functions(self.inv)
        invocation_logging = bool(self.inv.of_type("Custom::BedrockInvocationLogging"))
        if functions or self.inv.of_type("AWS::ApiGateway::Stage"):
            per_request = _a("app_log_bytes_per_request") + (
                _a("invocation_log_bytes_per_request") if invocation_logging else 0
            )
            gb = self.requests * per_request / GB
            ingestion = _p("logs.ingestion")
            self.add("log-ingestion", "usage", "Log ingestion", gb, "GB", "logs.ingestion", ingestion["usd"],
                     f"{self.requests:,} requests x {per_request:,} bytes ({_a('app_log_bytes_per_request'):,} app + access log"
                     + (f", {_a('invocation_log_bytes_per_request'):,} Bedrock invocation log" if invocation_logging else "") + ").",
                     free=ingestion["free_per_account"])  # fmt: skip
            self.add("log-storage", "usage", "Log storage", gb * _a("log_storage_months"), "GB-month", "logs.storage",
                     _p("logs.storage")["usd"], f"{_a('log_storage_months')} month(s) of those logs kept, uncompressed (upper bound).")  # fmt: skip
        if rule_tracing(self.inv).status is not Status.MISSING:
            traces = self.requests * _a("traced_fraction") / 1e6
            p = _p("xray.traces_recorded")
            self.add("xray", "usage", "X-Ray traces recorded", traces, "million traces", "xray.traces_recorded", p["usd"],
                     "every request traced (default sampling at low volume).", free=p["free_per_account"])  # fmt: skip
        streams = self.inv.of_type("AWS::Logs::SubscriptionFilter")
        to_firehose = [s for s in streams if ":firehose:" in render(s.properties.get("DestinationArn"))
                       or self.inv.targets(s.stack, s.properties.get("DestinationArn"), "AWS::KinesisFirehose::DeliveryStream")]  # fmt: skip
        if to_firehose:
            gb = self.requests * _a("app_log_bytes_per_request") * len(to_firehose) / GB
            self.add("firehose", "usage", "Firehose ingestion (logs to OpenSearch)", gb, "GB", "firehose.ingestion",
                     _p("firehose.ingestion")["usd"], f"{len(to_firehose)} subscription filter(s) x the app log per request.", to_firehose)  # fmt: skip


def _int(value: Any, default: int) -> int:
    text = literal(value)
    try:
        return int(float(text)) if text is not None else default
    except ValueError:
        return default


def _pairs(values: list[str]) -> list[str]:
    return [f"{values[i]}={values[i + 1]}" for i in range(0, len(values) - 1, 2)]


def _alarm_metric_count(alarm: Resource) -> tuple[int, str]:
    if is_anomaly_alarm(alarm):
        return 3, "anomaly-detection"
    queries = alarm.properties.get("Metrics")
    if not isinstance(queries, list):
        return 1, "single-metric"
    stats = sum(1 for q in queries if isinstance(q, dict) and "MetricStat" in q)
    insights = sum(1 for q in queries if isinstance(q, dict) and "SELECT" in render(q.get("Expression")).upper())
    has_expression = any(isinstance(q, dict) and "Expression" in q for q in queries)
    count = max(stats + insights, 1)
    return count, "metric-math" if has_expression else "single-metric"


def _high_resolution(alarm: Resource) -> bool:
    periods = [alarm.properties.get("Period")] + [
        (q.get("MetricStat") or {}).get("Period") for q in alarm.properties.get("Metrics") or [] if isinstance(q, dict)
    ]
    return any(p is not None and _int(p, 60) < 60 for p in periods)


def _alarm_metric_identities(alarm: Resource) -> list[tuple[str, ...]]:
    props = alarm.properties
    found = []
    metrics = [props] if "Metrics" not in props else [
        (q.get("MetricStat") or {}).get("Metric") for q in props.get("Metrics") or [] if isinstance(q, dict)
    ]  # fmt: skip
    for m in metrics:
        if not isinstance(m, dict):
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


def _known_function_metrics(env: dict[str, Any]) -> tuple[int, str] | None:
    """EMF metric count of this project's functions, recognised by the environment their constructs set."""
    if "PRICE_TABLE" in env and "PROMPT_TEMPLATE_VERSION" in env and "POWERTOOLS_METRICS_NAMESPACE" in env:
        models = 1
        count = RAG_SERVICE_ONLY + RAG_STAGES + RAG_PER_MODEL * models + RAG_ERROR_CLASSES
        why = [
            (
                f"RAG function {count} (README: {RAG_SERVICE_ONLY} service-only, {RAG_STAGES} stages, "
                f"{RAG_PER_MODEL} per model, up to {RAG_ERROR_CLASSES} error classes)"
            )
        ]
        guardrail = "GUARDRAIL_ID" in env
        if guardrail:
            count += RAG_GUARDRAIL
            why.append(f"+ {RAG_GUARDRAIL} guardrail metrics (3 + 5 policies)")
        if "PROMPT_PARAMETER_NAME" in env:
            per_version = RAG_PER_PROMPT_VERSION + (1 if guardrail else 0)
            count += 1 + per_version
            why.append(f"+ PromptLookupFailure + {per_version} per prompt version (one active version)")
        if "MODEL_PARAMETER_NAME" in env:
            count += 1 + RAG_PER_MODEL
            why.append(f"+ ModelLookupFailure + {RAG_PER_MODEL} for a second (failover) model")
        return count, " ".join(why)
    if "TARGET_FUNCTION_NAME" in env and "POWERTOOLS_METRICS_NAMESPACE" in env:
        count = CANARY_PER_VERSION * 2 + 1
        return count, (f"quality canary {count} ({CANARY_PER_VERSION} per model and prompt version, the same {CANARY_PER_VERSION} for "
                       "the whole service, CanaryFailures; one model, one prompt version)")  # fmt: skip
    return None


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")


def _runs_per_month(expression: str | None, hours: int) -> float | None:
    match = _RATE.match(expression or "")
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    minutes = amount * {"minute": 1, "hour": 60, "day": 1440}[unit]
    return hours * 60 / minutes if minutes else None


@lru_cache(maxsize=1)
def _golden_questions() -> int:
    try:
        text = (
            importlib_resources.files("llm_observability.functions.quality_canary")
            .joinpath("golden_set.json")
            .read_text()
        )
        data = json.loads(text)
        return len(data["questions"]) if isinstance(data, dict) else len(data)
    except (OSError, ValueError, KeyError, TypeError, ModuleNotFoundError):
        return 12


def estimate(
    source: Source, *, requests_per_month: int = DEFAULT_REQUESTS_PER_MONTH, free_tier: bool = False
) -> CostReport:
    """The monthly cost of the observability resources of ``source``."""
    e = _Estimator(source, requests_per_month, free_tier)
    e.dashboards()
    e.alarms()
    e.custom_metrics()
    e.logs_resources()
    e.kms()
    e.compliance()
    e.cost_control()
    e.canary()
    e.aiops()
    e.usage()
    notes = [
        *e.notes,
        (
            "Not included: the application itself (Bedrock tokens of real requests, Lambda, API Gateway, S3 Vectors), "
            "Logs Insights queries ($0.005/GB scanned), SNS deliveries beyond the free 1,000 e-mails, OpsCenter OpsItems."
        ),
    ]
    return CostReport(
        source=source, items=e.items, requests_per_month=requests_per_month, free_tier=free_tier, notes=notes
    )
