"""Limits of CloudWatch and OAM the monitoring account is built within, each with its source (AWS documentation).

- Dashboards: up to 500 widgets per dashboard, 500 metrics per widget and 2,500 metrics per dashboard, counting the
  metrics that math expressions read, shown or not (CloudWatch User Guide, *CloudWatch service quotas*, Dashboards;
  *Dashboard Body Structure*: a widget's ``metrics`` array holds 0-500 entries).
- Metrics Insights alarms: 200 per account and region (adjustable), evaluated on the latest 3 hours only
  (*Limits*, alarm-limits.html; *Metrics Insights quotas*).
- Metric-math alarms: at most 10 metrics, a hard limit (alarm-limits.html).
- Composite alarms: a rule of 1-10,240 characters (CloudFormation ``AWS::CloudWatch::CompositeAlarm`` AlarmRule).
- OAM: one sink per account and region (OAM API, CreateSink); a sink takes up to 100,000 source accounts, a source
  account links to at most 5 monitoring accounts (CreateLink).
"""

from __future__ import annotations

from aws_cdk import Duration

MAX_WIDGETS_PER_DASHBOARD = 500
MAX_METRICS_PER_WIDGET = 500
MAX_METRICS_PER_DASHBOARD = 2500
MAX_METRICS_INSIGHTS_ALARMS_PER_REGION = 200  # adjustable quota: a warning, not an error, when passed
METRICS_INSIGHTS_ALARM_WINDOW = Duration.hours(3)
MAX_METRICS_PER_MATH_ALARM = 10
MAX_ALARM_RULE_CHARS = 10240
SINKS_PER_ACCOUNT_AND_REGION = 1
MAX_SOURCE_ACCOUNTS_PER_SINK = 100_000
MAX_MONITORING_ACCOUNTS_PER_SOURCE = 5
#: Sources per dashboard, so that each page stays readable and quick to load (the quotas allow more).
DEFAULT_SOURCES_PER_DASHBOARD = 20
