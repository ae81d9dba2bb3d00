"""Monthly cost of the observability resources in an assembly: fixed, and usage at N requests a month.

Prices are data (``prices.json``: dated, with the pricing page of each figure); every line of the
estimate carries its quantity, unit price and the assumption behind it. What the templates cannot
tell (how many custom metrics a foreign function emits, how many Security Hub checks an account runs)
is an explicit assumption in ``prices.json`` or a lower bound marked as such.

Custom metrics of this project's own functions are counted from the telemetry vocabulary their code
uses (:mod:`~llm_observability.assess.cost_quantities`). Foreign functions' EMF is counted as a lower
bound (distinct metrics their alarms and dashboards read); metric filters count one metric per
transformation.
"""

from __future__ import annotations

import json
from typing import Any

from llm_observability.assess.capabilities.level1 import rule_tracing
from llm_observability.assess.cost_evaluation import (
    INSIGHTS_NAMESPACE,
    app_log_bytes,
    evaluation_fixed_costs,
    evaluation_usage_costs,
    insights_functions,
    insights_metrics,
)
from llm_observability.assess.cost_organization import organization_costs
from llm_observability.assess.cost_quantities import (
    alarm_metric_count,
    golden_questions,
    indexing_percentage,
    int_value,
    is_high_resolution,
    known_function_metrics,
    metric_filter_series,
    runs_per_month,
)
from llm_observability.assess.cost_report import CostItem, CostReport, format_quantity
from llm_observability.assess.intrinsics import alternatives, as_list, literal, render, surely
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.loader import Source
from llm_observability.assess.model import Status
from llm_observability.assess.prices import assumed, price_entry, price_table
from llm_observability.assess.queries import (
    ALARM,
    COMPOSITE_ALARM,
    DASHBOARD,
    FUNCTION_TYPES,
    alarm_metric_identities,
    app_functions,
    dashboard_row_identity,
    dashboard_rows,
    env_of,
    is_custom_namespace,
    metric_filter_metrics,
)

__all__ = ["DEFAULT_REQUESTS_PER_MONTH", "CostItem", "CostReport", "estimate"]

DEFAULT_REQUESTS_PER_MONTH = 10_000
GB = 1024**3
TRANSACTION_SEARCH = "AWS::XRay::TransactionSearchConfig"
DEVOPS_GURU_TYPES = ("AWS::Lambda::Function", "AWS::ApiGateway::Stage", "AWS::DynamoDB::Table", "AWS::SNS::Topic",
                     "AWS::SQS::Queue", "AWS::Kinesis::Stream", "AWS::StepFunctions::StateMachine")  # fmt: skip


class _Estimator:
    """Collects the lines of one estimate; each method prices one group of resources."""

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
            assumption += f" Free tier: {format_quantity(min(free, quantity))} {unit} free."
        source = price_entry(price_key)["source"] if price_key else None
        self.items.append(
            CostItem(id, category, label, quantity, unit, unit_usd, monthly, assumption, source, evidence or [])
        )

    # ------------------------------------------------------------------ CloudWatch
    def dashboards(self) -> None:
        dashboards = self.inv.of_type(DASHBOARD)
        if not dashboards:
            return
        p = price_entry("cloudwatch.dashboard")
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
            count, kind = alarm_metric_count(alarm)
            kinds[kind][0] += 1
            kinds[kind][1] += count
            if is_high_resolution(alarm):
                high_res += count
            else:
                standard += count
        parts = [f"{n} {kind} alarm(s) = {m} metric(s)" for kind, (n, m) in kinds.items() if n]
        rule = (
            "single-metric alarms count 1, metric-math alarms each metric in the expression, anomaly-detection alarms 3"
        )
        if standard:
            p = price_entry("cloudwatch.alarm_metric")
            self.add("alarms", "fixed", "Standard-resolution alarms", standard, "alarm metric(s)", "cloudwatch.alarm_metric",
                     p["usd"], f"{'; '.join(parts)} ({rule}).", alarms, free=p["free_per_account"])  # fmt: skip
        if high_res:
            self.add("alarms-high-resolution", "fixed", "High-resolution alarms", high_res, "alarm metric(s)",
                     "cloudwatch.high_resolution_alarm_metric", price_entry("cloudwatch.high_resolution_alarm_metric")["usd"],
                     "alarms with a period under 60 seconds.", alarms)  # fmt: skip
        if composite:
            self.add("alarms-composite", "fixed", "Composite alarms", len(composite), "alarm(s)", "cloudwatch.composite_alarm",
                     price_entry("cloudwatch.composite_alarm")["usd"], "one charge per composite alarm.", composite)  # fmt: skip

    def custom_metrics(self) -> None:
        p = price_entry("cloudwatch.custom_metric")
        lines: list[tuple[int, str, list[Resource]]] = []
        known_namespaces: set[str] = set()
        for fn in self.inv.of_type(*FUNCTION_TYPES):
            env = env_of(self.inv, fn)
            counted = known_function_metrics(env)
            if counted is None:
                continue
            count, why = counted
            lines.append((count, f"{fn.logical_id}: {why}", [fn]))
            namespace = literal(env.get("POWERTOOLS_METRICS_NAMESPACE"))
            if namespace:
                known_namespaces.add(namespace)
        for fn in insights_functions(self.inv):
            count, why = insights_metrics(fn)
            lines.append((count, why, [fn]))
            known_namespaces.add(INSIGHTS_NAMESPACE)
        filters = metric_filter_metrics(self.inv)
        filter_namespaces = {ns for _, ns, _ in filters if ns}
        if filters:
            transformations, series, one_each = metric_filter_series(self.inv)
            dimensioned = [mf for mf, _, _ in filters if any(
                isinstance(t, dict) and t.get("Dimensions") for t in as_list(mf.properties.get("MetricTransformations")))]  # fmt: skip
            extra = (
                " (filters with Dimensions publish one metric per distinct dimension value: counted once)"
                if dimensioned
                else ""
            )
            why = (
                f"{transformations} metric filter transformation(s), one metric each{extra}" if one_each else
                f"{transformations} metric filter transformation(s) = {series} metric(s) (transformations writing one "
                "metric count once; a metric with Dimensions counts each dimension value alarms and dashboards read, "
                "at least one)"
            )  # fmt: skip
            lines.append((series, why, list(dict.fromkeys(mf for mf, _, _ in filters))))
        # Foreign EMF and other custom namespaces: a lower bound from what alarms and dashboards read.
        seen: dict[str, set[tuple[str, ...]]] = {}
        for alarm in self.inv.of_type(ALARM):
            for identity in alarm_metric_identities(alarm, own_account=True):
                if is_custom_namespace(identity[0]) and identity[0] not in known_namespaces | filter_namespaces:
                    seen.setdefault(identity[0], set()).add(identity)
        for dashboard in self.inv.of_type(DASHBOARD):
            for row in dashboard_rows(dashboard, own_account=True):
                if is_custom_namespace(row[0]) and row[1] != "*" and row[0] not in known_namespaces | filter_namespaces:
                    seen.setdefault(row[0], set()).add(dashboard_row_identity(row))
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
                     "logs.anomaly_detector", price_entry("logs.anomaly_detector")["usd"], price_entry("logs.anomaly_detector")["note"] + ".", detectors)  # fmt: skip
        queries = self.inv.of_type("AWS::Logs::QueryDefinition")
        if queries:
            self.add("saved-queries", "fixed", "Saved Logs Insights queries", len(queries), "query(ies)", "logs.query_definition",
                     0.0, price_entry("logs.query_definition")["note"] + ".", queries)  # fmt: skip

    # ------------------------------------------------------------------ other services
    def kms(self) -> None:
        keys = self.inv.of_type("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
        if not keys:
            return
        rotating = [
            k for k in keys if surely(k.properties, "EnableKeyRotation", test=lambda v: v is True or v == "true")
        ]
        note = f" {len(rotating)} rotate yearly: {price_entry('kms.key')['note']}." if rotating else ""
        self.add("kms-keys", "fixed", "KMS customer managed keys", len(keys), "key(s)", "kms.key", price_entry("kms.key")["usd"],
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
            checks = count * assumed("securityhub_checks_per_standard_month")
            self.add("securityhub", "fixed", "Security Hub security checks", checks, "check(s)", "securityhub.security_check",
                     price_entry("securityhub.security_check")["usd"],
                     f"{why}; assumes {assumed('securityhub_checks_per_standard_month'):,} checks per standard a month (small account).",
                     standards + hubs)  # fmt: skip
        recorders = self.inv.of_type("AWS::Config::ConfigurationRecorder")
        if recorders:
            self.add("config-items", "fixed", "AWS Config configuration items", assumed("config_items_per_month"), "item(s)",
                     "config.configuration_item", price_entry("config.configuration_item")["usd"],
                     f"assumes {assumed('config_items_per_month')} configuration items a month for a recorder limited to the workload's types.",
                     recorders)  # fmt: skip
        rules = self.inv.of_type("AWS::Config::ConfigRule")
        if rules:
            evaluations = len(rules) * assumed("config_evaluations_per_rule_month")
            self.add("config-evaluations", "fixed", "AWS Config rule evaluations", evaluations, "evaluation(s)",
                     "config.rule_evaluation", price_entry("config.rule_evaluation")["usd"],
                     f"{len(rules)} rule(s) x {assumed('config_evaluations_per_rule_month')} evaluations a month (assumed).", rules)  # fmt: skip
        trails = self.inv.of_type("AWS::CloudTrail::Trail")
        if trails:
            self.add("cloudtrail", "fixed", "CloudTrail trail (management events)", len(trails), "trail(s)",
                     "cloudtrail.management_events_first_copy", 0.0, price_entry("cloudtrail.management_events_first_copy")["note"] + ".", trails)  # fmt: skip
            to_logs = [t for t in trails if t.properties.get("CloudWatchLogsLogGroupArn")]
            if to_logs:
                gb = assumed("cloudtrail_to_logs_gb_month") * len(to_logs)
                storage = price_entry("logs.storage")["usd"] * assumed("log_storage_months")
                unit = price_entry("logs.ingestion")["usd"] + storage
                self.add("cloudtrail-logs", "fixed", "CloudTrail events in CloudWatch Logs", gb, "GB", "logs.ingestion", unit,
                         f"assumes {assumed('cloudtrail_to_logs_gb_month')} GB of management events a month per trail "
                         "(ingestion $0.50/GB + one month of storage $0.03/GB).", to_logs)  # fmt: skip

    def cost_control(self) -> None:
        budgets = self.inv.of_type("AWS::Budgets::Budget")
        if budgets:
            p = price_entry("budgets.budget")
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
            p = price_entry("devopsguru.resource_hour")
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
            hours = assumed("codeguru_sampling_hours_per_function_month") * len(groups)
            self.add("codeguru-profiler", "fixed", "CodeGuru Profiler sampling", hours, "sampling hour(s)",
                     "codeguru_profiler.sampling_hour", price_entry("codeguru_profiler.sampling_hour")["usd"],
                     f"{len(groups)} profiling group(s) x {assumed('codeguru_sampling_hours_per_function_month')} h (one profiled "
                     "function each, running every hour: upper bound).", groups)  # fmt: skip
        documents = [
            d
            for d in self.inv.of_type("AWS::SSM::Document")
            if literal(d.properties.get("DocumentType")) == "Automation"
        ]
        if documents:
            p = price_entry("ssm.automation_step")
            self.add("ssm-automation", "fixed", "SSM Automation runbooks (idle)", len(documents), "document(s)", "ssm.automation_step",
                     0.0, f"no charge while idle; each run costs ${p['usd']} per step beyond {p['free_per_account']:,} free steps a month.",
                     documents)  # fmt: skip
        for workspace in self.inv.of_type("AWS::APS::Workspace"):
            series, interval = assumed("amp_active_series"), assumed("amp_sample_interval_seconds")
            samples = series * self.hours * 3600 / interval
            self.add("amp-ingestion", "fixed", "Prometheus samples ingested", samples / 1e7, "10M-sample unit(s)", "amp.samples_ingested",
                     price_entry("amp.samples_ingested")["usd"], f"assumes {series} active series, one sample every {interval} s.", [workspace])  # fmt: skip
            gb = samples * assumed("amp_bytes_per_sample") / GB
            self.add("amp-storage", "fixed", "Prometheus metric storage", gb, "GB-month", "amp.storage", price_entry("amp.storage")["usd"],
                     f"{assumed('amp_bytes_per_sample')} bytes per sample, one month kept (grows with retention).", [workspace])  # fmt: skip
            self.add("amp-query", "fixed", "Prometheus rule evaluation", assumed("amp_query_samples_month") / 1e9, "billion samples",
                     "amp.query_samples", price_entry("amp.query_samples")["usd"],
                     f"assumes {assumed('amp_query_samples_month'):,} query samples processed a month by the rules.", [workspace])  # fmt: skip
        self._opensearch()

    def _opensearch(self) -> None:
        prices = price_entry("opensearch.instance_hour")["usd_by_type"]
        for domain in self.inv.of_type("AWS::OpenSearchService::Domain", "AWS::Elasticsearch::Domain"):
            cluster = (
                domain.properties.get("ClusterConfig") or domain.properties.get("ElasticsearchClusterConfig") or {}
            )
            cluster = cluster if isinstance(cluster, dict) else {}
            nodes = [(literal(cluster.get("InstanceType")), int_value(cluster.get("InstanceCount"), 1), "data")]
            if cluster.get("DedicatedMasterEnabled") in (True, "true"):
                nodes.append(
                    (
                        literal(cluster.get("DedicatedMasterType")),
                        int_value(cluster.get("DedicatedMasterCount"), 3),
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
            size = int_value(ebs.get("VolumeSize"), 0)
            if size:
                volume = literal(ebs.get("VolumeType")) or "gp2"
                key = "opensearch.ebs_gp3" if volume == "gp3" else "opensearch.ebs_gp2"
                total = size * int_value(cluster.get("InstanceCount"), 1)
                self.add("opensearch-storage", "fixed", "OpenSearch EBS storage", total, "GB-month", key, price_entry(key)["usd"],
                         f"{size} GB {volume} on each of {int_value(cluster.get('InstanceCount'), 1)} data node(s).", [domain])  # fmt: skip
        for collection in self.inv.of_type("AWS::OpenSearchServerless::Collection"):
            standby = literal(collection.properties.get("StandbyReplicas")) or "ENABLED"
            ocus = 2 if standby == "ENABLED" else 1
            self.add("opensearch-serverless", "fixed", "OpenSearch Serverless compute", ocus * self.hours, "OCU-hour(s)",
                     "opensearch_serverless.ocu_hour", price_entry("opensearch_serverless.ocu_hour")["usd"],
                     f"the minimum of {ocus} OCU (StandbyReplicas {standby}) for {self.hours} h; scales up with load.", [collection])  # fmt: skip
            self.add("opensearch-serverless-storage", "fixed", "OpenSearch Serverless storage", assumed("opensearch_storage_gb"), "GB-month",
                     "opensearch_serverless.storage", price_entry("opensearch_serverless.storage")["usd"],
                     f"assumes {assumed('opensearch_storage_gb')} GB indexed.", [collection])  # fmt: skip

    def vpc_endpoints(self) -> None:
        """Interface endpoints (the strict profile's ``vpc_endpoints``): each hour in each of its subnets' zones."""
        for endpoint in self.inv.of_type("AWS::EC2::VPCEndpoint"):
            if literal(endpoint.properties.get("VpcEndpointType")) != "Interface":
                continue
            subnets = endpoint.properties.get("SubnetIds")
            zones = len(subnets) if isinstance(subnets, list) and subnets else 1
            self.add("vpc-endpoint", "fixed", "VPC interface endpoint", zones * self.hours, "endpoint-hour(s)",
                     "privatelink.interface_endpoint_hour", price_entry("privatelink.interface_endpoint_hour")["usd"],
                     f"{zones} Availability Zone(s) x {self.hours} h; data processed (0.01 USD/GB) not included.",
                     [endpoint])  # fmt: skip

    def canary(self) -> None:
        """Scheduled evaluations call the model on a timer: a fixed monthly Bedrock spend."""
        for rule in self.inv.of_type("AWS::Events::Rule"):
            runs = runs_per_month(literal(rule.properties.get("ScheduleExpression")), self.hours)
            if runs is None:
                continue
            for target in as_list(rule.properties.get("Targets")):
                for fn in self.inv.targets(
                    rule.stack, target.get("Arn") if isinstance(target, dict) else None, *FUNCTION_TYPES
                ):
                    env = env_of(self.inv, fn)
                    if "TARGET_FUNCTION_NAME" not in env:
                        continue
                    questions = _canary_questions(env.get("MAX_QUESTIONS"))
                    price, model, origin = self._answer_price()
                    tokens = assumed("canary_tokens_per_answer")
                    self.add("quality-canary-bedrock", "fixed", "Quality canary model calls", runs * questions, "answer(s)", "bedrock.amazon.nova-lite-v1:0",
                             price, f"{runs:,.0f} runs a month ({literal(rule.properties.get('ScheduleExpression'))}) x {questions} golden "
                             f"questions; {tokens['input']} input + {tokens['output']} output tokens of {model} ({origin}). Lambda compute "
                             "not included.", [rule, fn])  # fmt: skip

    def _answer_price(self) -> tuple[float, str, str]:
        """USD of one canary answer, the model, and where its price is from (the RAG function's PRICE_TABLE first)."""
        tokens = assumed("canary_tokens_per_answer")

        def usd(entry: dict[str, Any]) -> float:
            return tokens["input"] / 1000 * float(entry["input_per_1k"]) + tokens["output"] / 1000 * float(
                entry["output_per_1k"]
            )

        for fn in self.inv.of_type(*FUNCTION_TYPES):
            env = env_of(self.inv, fn)
            model, table = literal(env.get("MODEL_ID")), literal(env.get("PRICE_TABLE"))
            if model and table:
                try:
                    return usd(json.loads(table)[model]), model, "the RAG function's PRICE_TABLE"
                except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
                    continue
        return usd(price_entry("bedrock.amazon.nova-lite-v1:0")), "amazon.nova-lite-v1:0", "prices.json"

    def log_storage_months(self) -> float:
        """Months of logs held at any time: the assumption (30-day retention), or up to 12 when the log groups keep
        logs longer (the strict compliance profile's year), from their shortest ``RetentionInDays``."""
        retention = [
            r.properties.get("RetentionInDays") for r in self.inv.of_type("AWS::Logs::LogGroup")
            if isinstance(r.properties.get("RetentionInDays"), int) and not isinstance(r.properties.get("RetentionInDays"), bool)
        ]  # fmt: skip
        shortest = min(retention) if retention else 30
        return float(max(assumed("log_storage_months"), min(12, round(shortest / 30.4))))

    # ------------------------------------------------------------------ usage
    def usage(self) -> None:
        if self.requests <= 0:
            return
        functions = app_functions(self.inv)
        loggers = self.inv.of_type("Custom::BedrockInvocationLogging")
        invocation_logging = bool(loggers)
        with_text = any(
            str(r.properties.get("LoggingConfig", {}).get("textDataDeliveryEnabled", "")).lower() == "true"
            for r in loggers if isinstance(r.properties.get("LoggingConfig"), dict)
        )  # fmt: skip
        invocation_bytes = assumed(
            "invocation_log_bytes_per_request" if with_text else "invocation_log_metadata_bytes_per_request"
        )
        app_bytes, app_why = app_log_bytes(self.inv)
        if functions or self.inv.of_type("AWS::ApiGateway::Stage"):
            per_request = app_bytes + (invocation_bytes if invocation_logging else 0)
            gb = self.requests * per_request / GB
            ingestion = price_entry("logs.ingestion")
            self.add("log-ingestion", "usage", "Log ingestion", gb, "GB", "logs.ingestion", ingestion["usd"],
                     f"{self.requests:,} requests x {per_request:,} bytes ({app_why}"
                     + (f", {invocation_bytes:,} Bedrock invocation log" + ("" if with_text else ", metadata only")
                        if invocation_logging else "") + ").",
                     free=ingestion["free_per_account"])  # fmt: skip
            months = self.log_storage_months()
            self.add("log-storage", "usage", "Log storage", gb * months, "GB-month", "logs.storage",
                     price_entry("logs.storage")["usd"], f"{months:g} month(s) of those logs kept, uncompressed (upper bound"
                     + ("; a year's retention, as the strict compliance profile keeps" if months > 1 else "") + ").")  # fmt: skip
        if rule_tracing(self.inv).status is not Status.MISSING:
            if self.inv.of_type(TRANSACTION_SEARCH):
                self._transaction_search()
            else:
                traces = self.requests * assumed("traced_fraction") / 1e6
                p = price_entry("xray.traces_recorded")
                self.add("xray", "usage", "X-Ray traces recorded", traces, "million traces", "xray.traces_recorded", p["usd"],
                         "every request traced (default sampling at low volume).", free=p["free_per_account"])  # fmt: skip
        streams = self.inv.of_type("AWS::Logs::SubscriptionFilter")
        to_firehose = [s for s in streams if ":firehose:" in render(s.properties.get("DestinationArn"))
                       or self.inv.targets(s.stack, s.properties.get("DestinationArn"), "AWS::KinesisFirehose::DeliveryStream")]  # fmt: skip
        if to_firehose:
            gb = self.requests * app_bytes * len(to_firehose) / GB
            self.add("firehose", "usage", "Firehose ingestion (logs to OpenSearch)", gb, "GB", "firehose.ingestion",
                     price_entry("firehose.ingestion")["usd"], f"{len(to_firehose)} subscription filter(s) x the app log per request.", to_firehose)  # fmt: skip


    def _transaction_search(self) -> None:
        """Spans billed as CloudWatch Logs ingestion (``aws/spans``) and storage, and the indexed share of them."""
        configs = self.inv.of_type(TRANSACTION_SEARCH)
        spans = self.requests * assumed("traced_fraction") * assumed("spans_per_request")
        gb = spans * assumed("span_bytes") / GB
        why = (f"{self.requests:,} requests x {assumed('spans_per_request')} spans x {assumed('span_bytes'):,} bytes, every "
               "request traced (with Transaction Search on, no X-Ray traces recorded are billed)")  # fmt: skip
        self.add("transaction-search-spans", "usage", "Transaction Search span ingestion (aws/spans)", gb, "GB",
                 "xray.transaction_search_spans", price_entry("xray.transaction_search_spans")["usd"], why + ".", configs)  # fmt: skip
        self.add("transaction-search-storage", "usage", "Transaction Search span storage", gb * assumed("log_storage_months"),
                 "GB-month", "logs.storage", price_entry("logs.storage")["usd"],
                 f"{assumed('log_storage_months')} month(s) of those spans kept, uncompressed (upper bound).", configs)  # fmt: skip
        p = price_entry("xray.transaction_search_indexing")
        free = float(p["free_percent"])
        percent = max(indexing_percentage(c, free) for c in configs)
        if percent <= free:
            self.add("transaction-search-indexing", "usage", "Transaction Search spans indexed (trace summaries)",
                     spans * percent / 100 / 1e6, "million spans", "xray.transaction_search_indexing", 0.0,
                     f"IndexingPercentage {percent:g} % of those spans: within the free {free:g} %.", configs)  # fmt: skip
        else:
            self.add("transaction-search-indexing", "usage", "Transaction Search spans indexed beyond the free share",
                     spans * (percent - free) / 100 / 1e6, "million spans", "xray.transaction_search_indexing", p["usd"],
                     f"IndexingPercentage {percent:g} % of those spans, {free:g} % free: not priced, {p['note']}.", configs)  # fmt: skip


def _canary_questions(value: Any) -> int:
    """Questions a canary run asks: its MAX_QUESTIONS when that is a whole number above 0, else the golden set's."""
    try:
        count = int_value(value, 0)
    except OverflowError:  # "inf", or a number too large for a float
        count = 0
    return count if count > 0 else golden_questions()


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
    evaluation_fixed_costs(e)
    e.aiops()
    e.vpc_endpoints()
    organization_costs(e)
    e.usage()
    evaluation_usage_costs(e)
    notes = [
        *e.notes,
        (
            "Not included: the application itself (Bedrock tokens of real requests, Lambda, API Gateway, S3 Vectors), "
            "SNS deliveries beyond the free 1,000 e-mails, OpsCenter OpsItems."
        ),
    ]
    return CostReport(
        source=source, items=e.items, requests_per_month=requests_per_month, free_tier=free_tier, notes=notes
    )
