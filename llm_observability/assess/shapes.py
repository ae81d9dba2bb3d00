"""The JSON shape of every template property the scorecard and the cost estimate read, checked when a
template is loaded.

A property of the wrong type (``"Metrics": 7`` on an alarm, ``"Targets": 3`` on a rule, a number for a
function's ``Environment``) would silently change a verdict or a price, and CloudFormation would reject
the template anyway, so it is an input error: :func:`shape_problem` names the property and what it
should be, and the loader turns that into one sentence naming the file and the resource. Intrinsic
functions stand for any value (``Fn::If`` is checked branch by branch); what no rule reads is not
checked, and the readers themselves skip malformed parts they meet anyway.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, Literal, TypeAlias

from llm_observability.assess.intrinsics import intrinsic, is_no_value

Kind: TypeAlias = Literal["mapping", "list", "text", "number", "boolean", "json", "tags"]
Shape: TypeAlias = dict[str, Kind]

_EXPECTED: dict[Kind, str] = {
    "mapping": "a mapping",
    "list": "a list",
    "text": "a string",
    "number": "a number",
    "boolean": "true or false",
    "json": "a mapping or a JSON string",
    "tags": "a list of Key/Value mappings, or a mapping of tag names",
}

_ENVIRONMENT: Shape = {"Environment": "mapping", "Environment.Variables": "mapping", "Environment.Variables.*": "text"}
_LOGGING: Shape = {"LoggingConfig": "mapping", "LoggingConfig.LogGroup": "text", "LoggingConfig.LogFormat": "text"}
_METRIC: Shape = {"Namespace": "text", "MetricName": "text", "Dimensions": "list", "Dimensions[]": "mapping"}
_ACTIONS: Shape = {"AlarmActions": "list", "AlarmActions[]": "text", "OKActions": "list", "ActionsEnabled": "boolean"}
_CLUSTER: Shape = {"InstanceType": "text", "InstanceCount": "number", "DedicatedMasterEnabled": "boolean",
                   "DedicatedMasterType": "text", "DedicatedMasterCount": "number"}  # fmt: skip
_EBS: Shape = {"EBSOptions": "mapping", "EBSOptions.VolumeSize": "number", "EBSOptions.VolumeType": "text"}

#: Per resource type, the properties read and their kind. A path's ``[]`` is every element of a list,
#: ``*`` every value of a mapping.
SHAPES: dict[str, Shape] = {
    "AWS::Lambda::Function": {
        **_ENVIRONMENT, **_LOGGING, "Layers": "list", "Layers[]": "text", "TracingConfig": "mapping",
        "TracingConfig.Mode": "text", "Handler": "text", "FunctionName": "text",
    },
    "AWS::Serverless::Function": {
        **_ENVIRONMENT, **_LOGGING, "Layers": "list", "Layers[]": "text", "Tracing": "text", "Handler": "text",
        "FunctionName": "text", "Events": "mapping", "Events.*": "mapping", "Events.*.Type": "text",
    },
    "AWS::Lambda::LayerVersion": {"Description": "text"},
    "AWS::CloudWatch::Alarm": {
        **_METRIC, **_ACTIONS, "AlarmName": "text", "Period": "number", "Metrics": "list", "Metrics[]": "mapping",
        "Metrics[].Expression": "text", "Metrics[].MetricStat": "mapping", "Metrics[].MetricStat.Period": "number",
        "Metrics[].MetricStat.Metric": "mapping",
        **{f"Metrics[].MetricStat.Metric.{path}": kind for path, kind in _METRIC.items()}, "Metrics[].AccountId": "text",
    },
    "AWS::CloudWatch::CompositeAlarm": {**_ACTIONS, "AlarmRule": "text", "ActionsSuppressor": "text"},
    "AWS::CloudWatch::InsightRule": {"RuleState": "text", "RuleBody": "text"},
    "AWS::Oam::Sink": {"Policy": "json"},
    "AWS::Oam::Link": {"ResourceTypes": "list", "ResourceTypes[]": "text", "SinkIdentifier": "text"},
    "AWS::Config::ConfigurationAggregator": {
        "OrganizationAggregationSource": "mapping", "AccountAggregationSources": "list",
    },
    "AWS::SecurityHub::FindingAggregator": {"RegionLinkingMode": "text"},
    "AWS::CloudWatch::Dashboard": {"DashboardBody": "text"},
    "AWS::Events::Rule": {
        "ScheduleExpression": "text", "EventPattern": "json", "Targets": "list", "Targets[]": "mapping",
        "Targets[].Arn": "text",
    },
    "AWS::Logs::LogGroup": {"LogGroupName": "text", "RetentionInDays": "number", "KmsKeyId": "text"},
    "AWS::Logs::MetricFilter": {
        "LogGroupName": "text", "FilterPattern": "text", "MetricTransformations": "list",
        "MetricTransformations[]": "mapping", "MetricTransformations[].MetricNamespace": "text",
        "MetricTransformations[].MetricName": "text", "MetricTransformations[].Dimensions": "list",
        "MetricTransformations[].Dimensions[]": "mapping",
    },
    "AWS::Logs::QueryDefinition": {"QueryString": "text", "LogGroupNames": "list", "LogGroupNames[]": "text"},
    "AWS::Logs::LogAnomalyDetector": {"LogGroupArnList": "list", "LogGroupArnList[]": "text"},
    "AWS::Logs::SubscriptionFilter": {"LogGroupName": "text", "DestinationArn": "text"},
    "AWS::ApiGateway::Method": {"Integration": "mapping", "Integration.Uri": "text"},
    "AWS::ApiGatewayV2::Integration": {"IntegrationUri": "text"},
    "AWS::ApiGateway::Stage": {
        "TracingEnabled": "boolean", "AccessLogSetting": "mapping", "AccessLogSetting.Format": "text",
    },
    "AWS::ApiGateway::Deployment": {
        "StageName": "text", "StageDescription": "mapping", "StageDescription.TracingEnabled": "boolean",
    },
    "AWS::Serverless::Api": {"TracingEnabled": "boolean"},
    "AWS::SNS::Topic": {"KmsMasterKeyId": "text", "Subscription": "list", "Subscription[]": "mapping"},
    "AWS::SNS::Subscription": {"TopicArn": "text"},
    "AWS::Budgets::Budget": {
        "NotificationsWithSubscribers": "list", "NotificationsWithSubscribers[]": "mapping",
        "NotificationsWithSubscribers[].Notification": "mapping",
        "NotificationsWithSubscribers[].Notification.NotificationType": "text",
    },
    "AWS::CloudTrail::Trail": {"IsLogging": "boolean", "CloudWatchLogsLogGroupArn": "text"},
    "AWS::SecurityHub::Hub": {"EnableDefaultStandards": "boolean"},
    "AWS::KMS::Key": {"EnableKeyRotation": "boolean"},
    "AWS::SSM::Document": {"DocumentType": "text"},
    "AWS::APS::Workspace": {"AlertManagerDefinition": "text"},
    "AWS::APS::RuleGroupsNamespace": {"Workspace": "text"},
    "AWS::OpenSearchService::Domain": {
        "ClusterConfig": "mapping", **{f"ClusterConfig.{p}": k for p, k in _CLUSTER.items()}, **_EBS,
    },
    "AWS::Elasticsearch::Domain": {
        "ElasticsearchClusterConfig": "mapping", **{f"ElasticsearchClusterConfig.{p}": k for p, k in _CLUSTER.items()},
        **_EBS,
    },
    "AWS::OpenSearchServerless::Collection": {"StandbyReplicas": "text"},
    "AWS::DevOpsGuru::ResourceCollection": {
        "ResourceCollectionFilter": "mapping", "ResourceCollectionFilter.CloudFormation": "mapping",
        "ResourceCollectionFilter.CloudFormation.StackNames": "list",
        "ResourceCollectionFilter.CloudFormation.StackNames[]": "text",
    },
    "AWS::CodeGuruProfiler::ProfilingGroup": {"ProfilingGroupName": "text"},
}  # fmt: skip
#: Read on every resource.
COMMON: Shape = {"Tags": "tags"}


def _fits(value: Any, kind: Kind) -> bool:
    """``value`` (neither an intrinsic nor absent) is of ``kind``; any scalar is text (CloudFormation coerces it)."""
    if kind == "mapping":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "text":
        return isinstance(value, str | int | float | bool)
    if kind == "number":
        if isinstance(value, bool):
            return False
        if isinstance(value, int | float):
            return math.isfinite(value)
        try:
            return isinstance(value, str) and math.isfinite(float(value))
        except ValueError:
            return False
    if kind == "boolean":
        return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    if kind == "json":
        return isinstance(value, dict | str)
    return isinstance(value, dict) or (isinstance(value, list) and all(_is_tag(t) for t in value))


def _is_tag(tag: Any) -> bool:
    return isinstance(tag, dict)  # {"Key": ..., "Value": ...}, or an intrinsic function


def _values(value: Any, steps: list[str], where: str) -> Iterator[tuple[str, Any]]:
    """``(concrete path, value)`` of each value at ``steps`` under ``value``, through ``Fn::If`` branches;
    absent values, ``AWS::NoValue`` and other intrinsic functions (unknown before deployment) are skipped."""
    call = intrinsic(value)
    if call is not None and call[0] == "Fn::If" and isinstance(call[1], list) and len(call[1]) == 3:
        for branch in call[1][1:]:
            yield from _values(branch, steps, where)
        return
    if is_no_value(value) or call is not None:
        return
    if not steps:
        yield where, value
        return
    step, rest = steps[0], steps[1:]
    if step == "[]":
        for i, item in enumerate(value if isinstance(value, list) else []):
            yield from _values(item, rest, f"{where}[{i}]")
    elif isinstance(value, dict):
        keys = [k for k in value if isinstance(k, str)] if step == "*" else [step] if step in value else []
        for key in keys:
            yield from _values(value[key], rest, f"{where}.{key}" if where else key)


def _steps(path: str) -> list[str]:
    return [s for part in path.split(".") for s in ([part[:-2], "[]"] if part.endswith("[]") else [part])]


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def shape_problem(resource_type: str, properties: dict[str, Any]) -> tuple[str, str, str] | None:
    """The first property of the wrong type as ``(path, value as JSON, what was expected)``, e.g.
    ``("Metrics", "7", "a list")``; None when every property read fits.

    Parents are checked before their children (``Metrics`` before ``Metrics[0].MetricStat``).
    """
    for path, kind in {**COMMON, **SHAPES.get(resource_type, {})}.items():
        for where, value in _values(properties, _steps(path), ""):
            if not _fits(value, kind):
                return where, _show(value), _EXPECTED[kind]
    return None
