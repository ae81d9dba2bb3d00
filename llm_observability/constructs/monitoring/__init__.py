"""The monitoring account of an organization: OAM sinks and links, and the estate's cross-account dashboards and alarms.

CloudWatch cross-account observability (Observability Access Manager) is regional: the monitoring account holds one
sink per region (:class:`MonitoringSink`), each source account one link per region to it (:class:`SourceLink`).
Through them the monitoring account graphs (:class:`EstateDashboards`) and alarms on (:class:`EstateAlarms`) the
metrics of every linked workload (:class:`EstateSource`) of that region.

What the design rests on (AWS documentation, read for this module):

- "In a monitoring account that is set up for CloudWatch cross-account observability, your Metrics Insights alarms
  can watch resources in source accounts and in the monitoring account itself" (CloudWatch User Guide, *Alarms on
  CloudWatch Metrics Insights queries*). So the estate's Bedrock alarms are one Metrics Insights query per signal
  and model (``SELECT SUM(InvocationThrottles) FROM SCHEMA("AWS/Bedrock", ModelId) WHERE ModelId = '...'``),
  which covers every linked account however many there are, where a metric-math alarm is capped at 10 metrics
  (*Limits*, alarm-limits.html). In CloudFormation such an alarm is a ``Metrics`` entry whose ``Expression`` is the
  query (AWS re:Post, "CloudFormation definition for CloudWatch alarm based on Metrics Insights query"); aws-cdk-lib
  renders exactly that from a ``cw.MathExpression`` with the query as ``expression`` and no ``using_metrics``.
- Metrics Insights alarms: 200 per account and region (adjustable), evaluated on the latest 3 hours only, one query
  of at most 500 series per alarm (alarm-limits.html, cloudwatch-metrics-insights-limits.html). An alarm takes one
  Metrics Insights query, not several combined arithmetically (AWS documents single-query alarms only; a
  deployment combining two was refused with "Invalid metrics list", as a public CDK project records), so the
  estimated cost, input tokens x price + output tokens x price, cannot be one query: it is a metric-math alarm over
  the source accounts' own token metrics (``cw.Metric`` with ``account``), built only while it needs at most 10.
- Dashboards: up to 500 widgets per dashboard, 500 metrics per widget and 2,500 metrics per dashboard, counting the
  metrics that math expressions read, shown or not (CloudWatch service quotas, *Dashboards*). A graph's metric
  carries ``accountId`` and ``region`` (Dashboard Body Structure), which aws-cdk-lib writes from ``cw.Metric``'s
  ``account`` and ``region``.
- OAM: one sink per account and region (OAM API, CreateSink); a sink takes up to 100,000 source accounts and a source
  account links to at most 5 monitoring accounts (CreateLink). The sink policy admits accounts or an organization
  (``aws:PrincipalOrgID``) and names the resource types it accepts (``oam:ResourceTypes``); the link chooses which it
  shares.
"""

from __future__ import annotations

from llm_observability.constructs.monitoring.alarms import EstateAlarms
from llm_observability.constructs.monitoring.dashboards import EstateDashboards, metric_entries
from llm_observability.constructs.monitoring.limits import (
    DEFAULT_SOURCES_PER_DASHBOARD,
    MAX_ALARM_RULE_CHARS,
    MAX_METRICS_INSIGHTS_ALARMS_PER_REGION,
    MAX_METRICS_PER_DASHBOARD,
    MAX_METRICS_PER_MATH_ALARM,
    MAX_METRICS_PER_WIDGET,
    MAX_MONITORING_ACCOUNTS_PER_SOURCE,
    MAX_SOURCE_ACCOUNTS_PER_SINK,
    MAX_WIDGETS_PER_DASHBOARD,
    METRICS_INSIGHTS_ALARM_WINDOW,
    SINKS_PER_ACCOUNT_AND_REGION,
)
from llm_observability.constructs.monitoring.links import (
    LOG_GROUPS,
    LOGS_NOT_SHARED_INFO,
    METRICS,
    SINK_RESOURCE_TYPES,
    TRACES,
    LabelTemplate,
    MonitoringSink,
    SourceLink,
    sink_policy,
)
from llm_observability.constructs.monitoring.sources import EstateSource, at_source, metrics_insights

__all__ = [
    "DEFAULT_SOURCES_PER_DASHBOARD",
    "LOGS_NOT_SHARED_INFO",
    "LOG_GROUPS",
    "MAX_ALARM_RULE_CHARS",
    "MAX_METRICS_INSIGHTS_ALARMS_PER_REGION",
    "MAX_METRICS_PER_DASHBOARD",
    "MAX_METRICS_PER_MATH_ALARM",
    "MAX_METRICS_PER_WIDGET",
    "MAX_MONITORING_ACCOUNTS_PER_SOURCE",
    "MAX_SOURCE_ACCOUNTS_PER_SINK",
    "MAX_WIDGETS_PER_DASHBOARD",
    "METRICS",
    "METRICS_INSIGHTS_ALARM_WINDOW",
    "SINKS_PER_ACCOUNT_AND_REGION",
    "SINK_RESOURCE_TYPES",
    "TRACES",
    "EstateAlarms",
    "EstateDashboards",
    "EstateSource",
    "LabelTemplate",
    "MonitoringSink",
    "SourceLink",
    "at_source",
    "metric_entries",
    "metrics_insights",
    "sink_policy",
]
