"""The Level 1 CloudWatch dashboard of an LLM workload."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from aws_cdk import Annotations, Aws, CfnOutput, Fn, Names
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.queries import (
    ERRORS_BY_CLASS,
    PII_REDACTIONS,
    PROMPT_PROPERTIES,
    PROMPT_SIZE,
    RECENT_ERRORS,
    RETRIEVAL,
    SLOWEST_REQUESTS,
    errors_by_class,
    recent_errors,
    requests_by_model,
)
from llm_observability.left_out import leave_out
from llm_observability.runtime import telemetry as t
from llm_observability.workload import Workload

PERCENTILES = ("p50", "p90", "p99")
CLOUDWATCH_CONSOLE = "https://console.aws.amazon.com/cloudwatch/home?region="


def dashboard_url(dashboard_name: str) -> str:
    """Console URL of a CloudWatch dashboard in this stack's region."""
    return Fn.join(
        "", [f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards/dashboard/", dashboard_name]
    )


def transaction_search_url(service: str) -> str:
    """Console URL of CloudWatch Transaction Search (the X-Ray traces query) in this stack's region, filtered to the
    traces through ``service`` (``service("<name>")``, the name spans carry as ``service.name``).

    The console reads its query from the fragment: ``encodeURIComponent`` of the filter expression with ``*`` for
    ``%``, inside rison (``~(query~(expression~'...'))``).
    """
    expression = quote(f'service("{service}")', safe="-_.!~*'()").replace("%", "*")
    return Fn.join("", [CLOUDWATCH_CONSOLE, Aws.REGION, f"#xray:traces/query?~(query~(expression~'{expression}'))"])


def trace_map_url() -> str:
    """Console URL of the X-Ray trace map (services and their calls) in this stack's region."""
    return Fn.join("", [CLOUDWATCH_CONSOLE, Aws.REGION, "#xray:service-map/map"])


def graph(title: str, metrics: Sequence[cw.IMetric], *, width: int = 8, right: Sequence[cw.IMetric] = (),
          floor: float | None = None, unit: str | None = None) -> cw.GraphWidget:  # fmt: skip
    """A 6-high line graph; ``floor`` draws a horizontal annotation (for example an alarm threshold)."""
    return cw.GraphWidget(
        title=title,
        left=list(metrics),
        right=list(right),
        width=width,
        height=6,
        left_y_axis=cw.YAxisProps(label=unit, show_units=unit is None, min=0),
        left_annotations=[cw.HorizontalAnnotation(value=floor, label="alarm threshold")] if floor is not None else None,
    )


class LlmDashboard(Construct):
    """CloudWatch dashboard for the seed's Level 1 telemetry of one workload.

    Heading: the models, the metric namespace and links to the traces (CloudWatch Transaction Search filtered to
    the workload's service, whose name is the Workload's, and the X-Ray trace map), in the stack's region.
    Rows: alarm status; Bedrock inference latency (p50/p90/p99), success rate and request volume;
    latency per pipeline stage and end to end; tokens and estimated cost (metric math: tokens times the
    model's price); throttles and errors; API Gateway and Lambda health; retrieval cache and human
    feedback; Logs Insights (failures by error class, recent errors, slowest requests, prompt properties,
    retrieval and prompt size, PII redactions). Emits the dashboard URL as a stack output. A model without
    a known price (or given as a token) gets no cost line, and a synth warning says so.

    What the workload cannot feed is left out and listed in the stack's ``llm-observability:left-out`` warning:
    the app-metric widgets without ``telemetry="runtime"``, the Logs Insights widgets without a ``log_schema``
    (another schema than the reference line's gets errors by class, recent errors and requests by model).

    :param workload: the observed application.
    :param alarms: alarms for the status widget. Default: none (the widget is left out).
    :param metrics: metric factory (and its model prices). Default: ``BedrockMetrics(workload)``.
    :param dashboard_name: Default: derived from the construct path and region, unique per account.
    :param success_rate_floor: drawn on the success-rate graph. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        alarms: Sequence[cw.IAlarm] = (),
        metrics: BedrockMetrics | None = None,
        dashboard_name: str | None = None,
        success_rate_floor: float | None = None,
    ) -> None:
        super().__init__(scope, id)
        m = metrics or BedrockMetrics(workload)
        models = workload.model_ids
        self.dashboard = unique_dashboard(self, dashboard_name)
        self.transaction_search_url = transaction_search_url(workload.name)
        self.trace_map_url = trace_map_url()

        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=(
                    f"# {workload.name}: LLM observability, Level 1\n"
                    f"Bedrock models: {', '.join(f'`{x}`' for x in models)} · app metrics in namespace "
                    f"`{workload.metric_namespace}` · traces: [Transaction Search for `{workload.name}`]"
                    f"({self.transaction_search_url}) · [trace map]({self.trace_map_url})"
                ),
                width=24,
                height=2,
            )
        )
        if alarms:
            self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=3))
        app = workload.telemetry == "runtime"  # the functions emit the app metrics (EMF)
        if app:
            self.dashboard.add_widgets(
                graph("Bedrock inference latency (ms)", [m.invocation_latency(x, p) for x in models for p in PERCENTILES]),
                graph("Success rate (%)", [m.success_rate()], floor=success_rate_floor, unit="%"),
                graph("Requests", [m.request_success(), m.request_failure()], right=[m.invocations(x) for x in models]),
            )
            self.dashboard.add_widgets(
                graph("Latency per pipeline stage, p90 (ms)", [m.stage_latency(s) for s in t.STAGES], width=12),
                graph("End-to-end latency (ms)", [m.end_to_end_latency(p) for p in PERCENTILES], width=12),
            )
        else:
            self.dashboard.add_widgets(
                graph("Bedrock inference latency (ms)", [m.invocation_latency(x, p) for x in models for p in PERCENTILES],
                      width=12),
                graph("Bedrock invocations", [m.invocations(x) for x in models], width=12),
            )  # fmt: skip
            leave_out(self, "Dashboard widgets on app metrics (success rate, requests, stage and end-to-end latency, "
                      "application tokens and cost, retrieval cache, feedback)", "telemetry")  # fmt: skip
        unpriced = m.unpriced_models()
        if unpriced and app:
            Annotations.of(self).add_warning_v2(
                "llm-observability:dashboard-unpriced-model",
                f"LlmDashboard charts no estimated cost for {', '.join(unpriced)}: no price is known; give it in the "
                "'model_prices' setting (or BedrockMetrics(prices=...)), keyed by the model id or, for a model id "
                "given as a token such as a CfnParameter's value, by that same token.",
            )
        tokens_and_cost: list[cw.IWidget] = [
            graph(
                "Tokens: AWS/Bedrock (account) and this application (right)" if app else "Tokens: AWS/Bedrock (account)",
                [m.input_token_count(x) for x in models] + [m.output_token_count(x) for x in models],
                right=[m.total_tokens(x) for x in models] if app else [],
            )
        ]
        costs = [c for c in (m.estimated_cost(x) for x in models) if c is not None] if app else []
        total_cost = m.total_estimated_cost()
        if costs and total_cost is not None:
            tokens_and_cost += [
                graph("Estimated cost (USD per period)", costs, unit="USD"),
                cw.SingleValueWidget(
                    title="Estimated cost over the dashboard's time range (USD)",
                    metrics=[total_cost],
                    set_period_to_time_range=True,
                    width=8,
                    height=6,
                ),
            ]
        self.dashboard.add_widgets(*tokens_and_cost)
        self.dashboard.add_widgets(
            graph(
                "Bedrock throttles and errors",
                [f(x) for x in models for f in (m.invocation_throttles, m.invocation_client_errors, m.invocation_server_errors)],
                width=24,
            )
        )
        health: list[cw.IWidget] = []
        # The workload's REST or HTTP API stage (no metrics without an API).
        api_requests = [x for x in (m.api_requests(), m.api_client_errors(), m.api_server_errors()) if x is not None]
        api_latency = [x for x in (m.api_latency("p90"), m.api_integration_latency("p90")) if x is not None]
        if api_requests and api_latency:
            health += [
                graph("API Gateway requests and errors", api_requests),
                graph("API Gateway latency, p90 (ms)", api_latency),
            ]
        if workload.functions:
            health.append(
                graph(
                    "Lambda invocations, errors, throttles",
                    [m.lambda_metric(fn, n) for fn in workload.functions for n in ("Invocations", "Errors", "Throttles")],
                    right=[m.lambda_metric(fn, "Duration", "p90") for fn in workload.functions],
                )
            )
        if health:
            self.dashboard.add_widgets(*health)
        if app:
            self.dashboard.add_widgets(
                graph("Retrieval cache: hit rate (0-1), lookups", [m.cache_hit_rate()], right=[m.cache_lookups()],
                      width=12),
                graph("Human feedback: score (1-5), answers scored", [m.feedback_score()], right=[m.feedback_count()],
                      width=12),
            )  # fmt: skip
        schema = workload.log_schema
        if not workload.log_groups or schema is None:
            leave_out(self, "Logs Insights dashboard widgets", "log_groups" if not workload.log_groups else "log_schema")
        elif not schema.is_reference:  # the queries that need only the schema's fields
            self.dashboard.add_widgets(*(
                cw.LogQueryWidget(title=title, log_group_names=[g.log_group_name for g in workload.log_groups],
                                  query_string=query, width=8, height=6)
                for title, query in (("Failed requests by error class", errors_by_class(schema)),
                                     ("Recent errors", recent_errors(schema)),
                                     ("Requests by model", requests_by_model(schema)))
            ))  # fmt: skip
        else:
            groups = [g.log_group_name for g in workload.log_groups]
            line = cw.LogQueryVisualizationType.LINE

            def logs_widget(
                title: str, query: str, width: int, view: cw.LogQueryVisualizationType | None = None
            ) -> cw.LogQueryWidget:
                return cw.LogQueryWidget(
                    title=title, log_group_names=groups, query_string=query, width=width, height=6, view=view
                )

            self.dashboard.add_widgets(
                logs_widget("Failed and rejected requests by error class", ERRORS_BY_CLASS, 12),
                logs_widget("Recent errors", RECENT_ERRORS, 12),
            )
            self.dashboard.add_widgets(
                logs_widget("Retrieved passages and top score (avg)", RETRIEVAL, 8, line),
                logs_widget("Prompt size (chars)", PROMPT_SIZE, 8, line),
                logs_widget("PII redactions in logged text", PII_REDACTIONS, 8, line),
            )
            self.dashboard.add_widgets(
                logs_widget("Slowest requests", SLOWEST_REQUESTS, 12),
                logs_widget("Prompt properties", PROMPT_PROPERTIES, 12),
            )

        self.dashboard_name = self.dashboard.dashboard_name
        self.url = dashboard_url(self.dashboard_name)
        CfnOutput(self, "Url", value=self.url, description=f"CloudWatch dashboard of {workload.name}")

    def add_section(self, title: str, widgets: Sequence[cw.IWidget], *, per_row: int = 4) -> None:
        """A heading, then ``widgets`` in rows of ``per_row``, below the Level 1 rows (e.g. Lambda Insights)."""
        add_section(self.dashboard, title, widgets, per_row=per_row)


def unique_dashboard(scope: Construct, dashboard_name: str | None) -> cw.Dashboard:
    """A dashboard named from ``scope``'s path and the region unless ``dashboard_name`` is given.

    Dashboard names are unique per account across regions, so the region is part of the name.
    """
    name = dashboard_name or Fn.join("-", [Names.unique_resource_name(scope, max_length=200, separator="-"), Aws.REGION])
    return cw.Dashboard(scope, "Resource", dashboard_name=name)


class SectionedDashboard(Construct):
    """A dashboard built from titled sections; higher levels add their own (``add_section``).

    :param workload: the observed application (named in the title).
    :param title: the dashboard's heading.
    :param dashboard_name: Default: derived from the construct path and region, unique per account.
    """

    def __init__(self, scope: Construct, id: str, *, workload: Workload, title: str, dashboard_name: str | None = None) -> None:
        super().__init__(scope, id)
        self.dashboard = unique_dashboard(self, dashboard_name)
        self.dashboard.add_widgets(cw.TextWidget(markdown=f"# {workload.name}: {title}", width=24, height=1))
        self.url = dashboard_url(self.dashboard.dashboard_name)
        CfnOutput(self, "Url", value=self.url, description=f"{title} dashboard of {workload.name}")

    def add_section(self, title: str, widgets: Sequence[cw.IWidget], *, per_row: int = 3) -> None:
        """A heading, then ``widgets`` in rows of ``per_row``."""
        add_section(self.dashboard, title, widgets, per_row=per_row)


def add_section(dashboard: cw.Dashboard, title: str, widgets: Sequence[cw.IWidget], *, per_row: int = 3) -> None:
    """A ``## title`` heading on ``dashboard``, then ``widgets`` in rows of ``per_row``."""
    dashboard.add_widgets(cw.TextWidget(markdown=f"## {title}", width=24, height=1))
    for start in range(0, len(widgets), per_row):
        dashboard.add_widgets(*widgets[start : start + per_row])
