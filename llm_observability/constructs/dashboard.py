"""The Level 1 CloudWatch dashboard of an LLM workload."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, CfnOutput, Fn, Names
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.queries import PROMPT_PROPERTIES, RECENT_ERRORS, SLOWEST_REQUESTS
from llm_observability.functions.rag_api import telemetry as t
from llm_observability.workload import Workload

PERCENTILES = ("p50", "p90", "p99")


def dashboard_url(dashboard_name: str) -> str:
    """Console URL of a CloudWatch dashboard in this stack's region."""
    return Fn.join(
        "", [f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards/dashboard/", dashboard_name]
    )


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

    Rows: alarm status; Bedrock inference latency (p50/p90/p99), success rate and request volume;
    latency per pipeline stage and end to end; tokens and estimated cost; throttles and errors;
    API Gateway and Lambda health; retrieval and human feedback; Logs Insights (recent errors,
    slowest requests, prompt properties). Emits the dashboard URL as a stack output.

    :param workload: the observed application.
    :param alarms: alarms for the status widget. Default: none (the widget is left out).
    :param metrics: metric factory. Default: ``BedrockMetrics(workload)``.
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

        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=(
                    f"# {workload.name}: LLM observability, Level 1\n"
                    f"Bedrock models: {', '.join(f'`{x}`' for x in models)} · app metrics in namespace "
                    f"`{workload.metric_namespace}` · traces in the X-Ray trace map"
                ),
                width=24,
                height=2,
            )
        )
        if alarms:
            self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=3))
        self.dashboard.add_widgets(
            graph("Bedrock inference latency (ms)", [m.invocation_latency(x, p) for x in models for p in PERCENTILES]),
            graph("Success rate (%)", [m.success_rate()], floor=success_rate_floor, unit="%"),
            graph("Requests", [m.request_success(), m.failures()], right=[m.invocations(x) for x in models]),
        )
        self.dashboard.add_widgets(
            graph("Latency per pipeline stage, p90 (ms)", [m.stage_latency(s) for s in t.STAGES], width=12),
            graph("End-to-end latency (ms)", [m.end_to_end_latency(p) for p in PERCENTILES], width=12),
        )
        self.dashboard.add_widgets(
            graph(
                "Tokens",
                [m.input_token_count(x) for x in models] + [m.output_token_count(x) for x in models],
                right=[m.tokens(t.METRIC_TOTAL_TOKENS, x) for x in models],
            ),
            graph("Estimated cost (USD per period)", [m.estimated_cost(x) for x in models], unit="USD"),
            cw.SingleValueWidget(
                title="Estimated cost over the dashboard's time range (USD)",
                metrics=[m.total_estimated_cost()],
                set_period_to_time_range=True,
                width=8,
                height=6,
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Bedrock throttles and errors",
                [f(x) for x in models for f in (m.invocation_throttles, m.invocation_client_errors, m.invocation_server_errors)],
                width=12,
            ),
            graph("Failed requests by error class", [m.request_failure(c) for c in t.ERROR_CLASSES], width=12),
        )
        health: list[cw.IWidget] = []
        if workload.rest_api is not None:
            health += [
                graph("API Gateway requests and errors", [m.api("Count"), m.api("4XXError"), m.api("5XXError")]),
                graph("API Gateway latency, p90 (ms)", [m.api("Latency", "p90"), m.api("IntegrationLatency", "p90")]),
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
        self.dashboard.add_widgets(
            graph(
                "Retrieval",
                [m.app(t.METRIC_RETRIEVAL_CACHE_HIT, label="cache hits"), m.app(t.METRIC_RETRIEVAL_CACHE_MISS, label="cache misses")],
                right=[
                    m.app(t.METRIC_RETRIEVED_PASSAGES, statistic="Average", label="passages (avg)"),
                    m.app(t.METRIC_TOP_RETRIEVAL_SCORE, statistic="Average", label="top score (avg)"),
                ],
                width=12,
            ),
            graph(
                "Human feedback and prompt size",
                [m.app(t.METRIC_FEEDBACK_SCORE, statistic="Average", label="feedback score (avg, 1-5)")],
                right=[
                    m.app(t.METRIC_FEEDBACK_COUNT, label="feedback received"),
                    m.app(t.METRIC_PROMPT_LENGTH, statistic="p90", label="prompt length p90 (chars)"),
                ],
                width=12,
            ),
        )
        if workload.log_groups:
            groups = [g.log_group_name for g in workload.log_groups]
            self.dashboard.add_widgets(
                cw.LogQueryWidget(title="Recent errors", log_group_names=groups, query_string=RECENT_ERRORS, width=24, height=6)
            )
            self.dashboard.add_widgets(
                cw.LogQueryWidget(title="Slowest requests", log_group_names=groups, query_string=SLOWEST_REQUESTS, width=12, height=6),
                cw.LogQueryWidget(title="Prompt properties", log_group_names=groups, query_string=PROMPT_PROPERTIES, width=12, height=6),
            )  # fmt: skip

        self.dashboard_name = self.dashboard.dashboard_name
        self.url = dashboard_url(self.dashboard_name)
        CfnOutput(self, "Url", value=self.url, description=f"CloudWatch dashboard of {workload.name}")


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
        self.dashboard.add_widgets(cw.TextWidget(markdown=f"## {title}", width=24, height=1))
        for start in range(0, len(widgets), per_row):
            self.dashboard.add_widgets(*widgets[start : start + per_row])
