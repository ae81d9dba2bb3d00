"""Cross-account dashboards of one region in the monitoring account, split so that none passes CloudWatch's quotas."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, Aws, CfnOutput, Duration, Fn, Names, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_observability.constructs.dashboard import PERCENTILES, dashboard_url, graph
from llm_observability.constructs.metrics import BedrockMetrics
from llm_observability.constructs.monitoring.limits import (
    DEFAULT_SOURCES_PER_DASHBOARD,
    MAX_METRICS_PER_DASHBOARD,
    MAX_METRICS_PER_WIDGET,
    MAX_WIDGETS_PER_DASHBOARD,
)
from llm_observability.constructs.monitoring.sources import EstateSource, at_source, check_sources, concrete
from llm_observability.errors import ConfigError
from llm_observability.functions.quality_canary import canary_telemetry as ct

_DASHBOARD_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,240}$")


@dataclass(frozen=True)
class _Block:
    """The rows of one source on a dashboard, with the widgets and metrics they count against the quotas."""

    source: EstateSource
    rows: tuple[tuple[cw.IWidget, ...], ...]
    widgets: int
    metrics: int


def metric_entries(metrics: Sequence[cw.IMetric]) -> int:
    """Entries of a graph's ``metrics`` array as the dashboard body renders ``metrics``: each metric, and each math
    expression with every metric it reads (hidden ones count against the quotas too)."""
    return sum(
        1 + metric_entries(list(m.using_metrics.values())) if isinstance(m, cw.MathExpression) else 1 for m in metrics
    )


class EstateDashboards(Construct):
    """Cross-account dashboards of one region in the monitoring account: every source of that region.

    Per source, a heading and two rows: Bedrock (invocations, p90 latency, throttles and server errors per model),
    then the app (success rate, end-to-end latency), its estimated cost (tokens x the model's price, per model) and,
    from Level 2, quality (the canary's ROUGE-L). Every metric names the source's account and region, so the graphs
    read the source accounts' data through the OAM sink.

    Sources are packed in order into as many dashboards as needed (names end ``-1``, ``-2``, ...): at most
    ``sources_per_dashboard`` each, and never more than CloudWatch's widgets per dashboard, metrics per widget or
    metrics per dashboard (:data:`MAX_WIDGETS_PER_DASHBOARD`, ...). A model without a known price gets no cost line,
    and a synth warning says so.

    :param sources: the workloads to show (all of this stack's region; one or more).
    :param dashboard_name_prefix: start of the dashboard names. Default: derived from the construct path and region.
    :param sources_per_dashboard: the most sources on one dashboard. Default: 20.
    :param prices: US dollars per 1,000 input and output tokens by model id, over the built-in table. Default: the
        built-in table.

    Attributes: ``dashboards``, ``pages`` (the sources of each dashboard), ``urls``, ``counts`` (widgets and metrics
    of each dashboard, as the quotas count them).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sources: Sequence[EstateSource],
        dashboard_name_prefix: str | None = None,
        sources_per_dashboard: int = DEFAULT_SOURCES_PER_DASHBOARD,
        prices: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        if dashboard_name_prefix is not None and not (
            isinstance(dashboard_name_prefix, str) and _DASHBOARD_PREFIX_RE.match(dashboard_name_prefix)
        ):
            raise ConfigError(
                f"EstateDashboards 'dashboard_name_prefix' is {dashboard_name_prefix!r}: allowed are 1-240 letters, "
                "digits, hyphens or underscores."
            )
        if (
            isinstance(sources_per_dashboard, bool)
            or not isinstance(sources_per_dashboard, int)
            or not (1 <= sources_per_dashboard <= MAX_WIDGETS_PER_DASHBOARD)
        ):
            raise ConfigError(
                f"EstateDashboards 'sources_per_dashboard' is {sources_per_dashboard!r}: allowed is a whole number "
                f"from 1 to {MAX_WIDGETS_PER_DASHBOARD}."
            )
        super().__init__(scope, id)
        self.sources = check_sources("EstateDashboards", self, sources)
        blocks = [self._block(source, prices) for source in self.sources]
        pages = _pack(blocks, sources_per_dashboard)
        region = concrete(Stack.of(self).region) or "this region"
        accounts = len({s.account for s in self.sources})
        self.dashboards: list[cw.Dashboard] = []
        self.pages: list[tuple[EstateSource, ...]] = []
        self.urls: list[str] = []
        self.counts: list[tuple[int, int]] = []
        for number, page in enumerate(pages, start=1):
            if dashboard_name_prefix:
                name: str = f"{dashboard_name_prefix}-{number}"
            else:
                unique = Names.unique_resource_name(self, max_length=200, separator="-")
                name = Fn.join("-", [unique, Aws.REGION, str(number)])
            dashboard = cw.Dashboard(self, f"Dashboard{number}", dashboard_name=name)
            dashboard.add_widgets(
                cw.TextWidget(
                    markdown=(
                        f"# LLM estate, {region} ({number} of {len(pages)}): {len(self.sources)} workloads in "
                        f"{accounts} accounts\nThis page: "
                        + ", ".join(f"`{b.source.workload_name}` ({b.source.account})" for b in page)
                    ),
                    width=24,
                    height=2,
                )
            )
            for block in page:
                for row in block.rows:
                    dashboard.add_widgets(*row)
            self.dashboards.append(dashboard)
            self.pages.append(tuple(b.source for b in page))
            self.counts.append((1 + sum(b.widgets for b in page), sum(b.metrics for b in page)))
            url = dashboard_url(name)
            self.urls.append(url)
            CfnOutput(self, f"Url{number}", value=url, description=f"Estate dashboard {number} of {len(pages)}")

    def _block(self, source: EstateSource, prices: Mapping[str, Mapping[str, float]] | None) -> _Block:
        m = BedrockMetrics(source.workload(), prices=prices)
        models = source.model_ids

        def at(metrics: Sequence[cw.IMetric]) -> list[cw.IMetric]:
            return [at_source(x, source) for x in metrics]

        bedrock: list[tuple[str, list[cw.IMetric], str | None]] = [
            ("Bedrock invocations", at([m.invocations(x) for x in models]), None),
            ("Bedrock latency, p90 (ms)", at([m.invocation_latency(x) for x in models]), None),
            ("Bedrock throttles and server errors",
             at([f(x) for x in models for f in (m.invocation_throttles, m.invocation_server_errors)]), None),
        ]  # fmt: skip
        app: list[tuple[str, list[cw.IMetric], str | None]] = [
            ("Success rate (%)", at([m.success_rate()]), "%"),
            ("End-to-end latency (ms)", at([m.end_to_end_latency(p) for p in PERCENTILES]), None),
        ]
        costs = [c for c in (m.estimated_cost(x) for x in models) if c is not None]
        if costs:
            app.append(("Estimated cost (USD per period)", at(costs), "USD"))
        if m.unpriced_models():
            Annotations.of(self).add_warning_v2(
                "llm-observability:estate-unpriced-model",
                f"EstateDashboards charts no estimated cost of {source.workload_name} ({source.account}) for "
                f"{', '.join(m.unpriced_models())}: no price is known; pass prices={{model id: {{...}}}}.",
            )
        if source.level >= 2:  # the quality canary comes with Level 2
            rouge = m.app(ct.METRIC_ROUGE_L, statistic="Average", label="ROUGE-L (avg)").with_(period=Duration.hours(1))
            app.append(("Quality canary: ROUGE-L (0-1)", at([rouge]), None))
        counts = [metric_entries(metrics) for _, metrics, _ in bedrock + app]
        if max(counts) > MAX_METRICS_PER_WIDGET:
            raise ConfigError(
                f"EstateDashboards source {source.workload_name} ({source.account}) has {len(models)} models: allowed "
                f"are as many as keep each graph within {MAX_METRICS_PER_WIDGET} metrics."
            )
        rows = (
            (cw.TextWidget(markdown=f"## {source.title}", width=24, height=1),),
            tuple(graph(title, metrics, unit=unit, width=24 // len(bedrock)) for title, metrics, unit in bedrock),
            tuple(graph(title, metrics, unit=unit, width=24 // len(app)) for title, metrics, unit in app),
        )
        return _Block(source=source, rows=rows, widgets=sum(len(row) for row in rows), metrics=sum(counts))


def _pack(blocks: Sequence[_Block], per_page: int) -> list[list[_Block]]:
    """``blocks`` in order, in pages of at most ``per_page`` within the dashboard quotas (each page has a heading)."""
    room_widgets, room_metrics = MAX_WIDGETS_PER_DASHBOARD - 1, MAX_METRICS_PER_DASHBOARD
    pages: list[list[_Block]] = []
    for block in blocks:
        if block.widgets > room_widgets or block.metrics > room_metrics:
            raise ConfigError(
                f"EstateDashboards source {block.source.workload_name} ({block.source.account}) needs {block.metrics} "
                f"metrics: allowed are at most {room_metrics} per dashboard."
            )
        page = pages[-1] if pages else None
        if (
            page is None
            or len(page) >= per_page
            or sum(b.widgets for b in page) + block.widgets > room_widgets
            or sum(b.metrics for b in page) + block.metrics > room_metrics
        ):
            pages.append([])
        pages[-1].append(block)
    return pages
