"""The organization-scale rows (OAM, composite alarms, Contributor Insights, aggregators) and their cost lines, on
small hand-written templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import llm_observability
from llm_observability.assess import CAPABILITIES, ORGANIZATION_CAPABILITIES, assess, estimate, load
from llm_observability.assess.report import JSON_SCHEMA
from llm_observability.assess.scorecard import level_reached
from tests.assess.conftest import schema_errors

Write = Callable[..., Path]
TOPIC = {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}}
QUIET = {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}}
SINK_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["111111111111"]},
               "Action": ["oam:CreateLink", "oam:UpdateLink"], "Resource": "*"}]}  # fmt: skip
RULE_BODY = json.dumps({"Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": ["invocations"],
                        "LogFormat": "JSON", "Contribution": {"Keys": ["$.requestMetadata.tenant", "$.modelId"],
                        "ValueOf": "$.output.outputTokenCount"}, "AggregateOn": "Sum"})  # fmt: skip


def _card(write_template: Write, resources: dict[str, Any]) -> Any:
    return assess(load(write_template({"Resources": resources})))


def _alarm(actions: list[Any] | None = None, name: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"Namespace": "AWS/Bedrock", "MetricName": "InvocationThrottles"}
    if actions is not None:
        props["AlarmActions"] = actions
    if name:
        props["AlarmName"] = name
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def _composite(rule: Any, actions: list[Any] | None = None, suppressor: Any = None) -> dict[str, Any]:
    props: dict[str, Any] = {"AlarmRule": rule}
    if actions is not None:
        props["AlarmActions"] = actions
    if suppressor is not None:
        props.update(ActionsSuppressor=suppressor, ActionsSuppressorWaitPeriod=60, ActionsSuppressorExtensionPeriod=60)
    return {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": props}


def _link(*types: str) -> dict[str, Any]:
    return {"Type": "AWS::Oam::Link", "Properties": {"LabelTemplate": "$AccountName", "ResourceTypes": list(types),
            "SinkIdentifier": "arn:aws:oam:us-east-1:999999999999:sink/abc"}}  # fmt: skip


def test_the_group_is_declared_beside_the_levels_and_never_counted() -> None:
    assert [c.id for c in ORGANIZATION_CAPABILITIES] == [
        "cross-account-observability", "paging-once", "tenant-usage", "organization-aggregation"]  # fmt: skip
    assert all(c.group == "organization" and 1 <= c.level <= 3 for c in ORGANIZATION_CAPABILITIES)
    assert all(c.group == "maturity" for c in CAPABILITIES) and not set(CAPABILITIES) & set(ORGANIZATION_CAPABILITIES)
    for capability in ORGANIZATION_CAPABILITIES:
        assert capability.rule.__module__ == "llm_observability.assess.capabilities.organization"
        assert capability.provided_by and capability.next_step and capability.evidence
        assert set(capability.constructs) <= set(llm_observability.__all__), capability.id


def test_oam_link_sharing_metrics_and_traces_is_present(write_template: Write) -> None:
    row = _card(write_template, {"Link": _link("AWS::CloudWatch::Metric", "AWS::XRay::Trace")}).result(
        "cross-account-observability")
    assert row.status.value == "present" and "1 OAM link(s) sharing metrics and traces" in row.reason
    assert "logs shared" not in row.reason and [r.logical_id for r in row.evidence] == ["Link"]
    logs = _card(write_template, {"Link": _link("AWS::CloudWatch::Metric", "AWS::Logs::LogGroup")}).result(
        "cross-account-observability")
    assert logs.status.value == "present" and "logs shared too: they hold questions and answers" in logs.reason
    traces_only = _card(write_template, {"Link": _link("AWS::XRay::Trace")}).result("cross-account-observability")
    assert traces_only.status.value == "partial" and "link(s) Link share no metrics" in traces_only.reason


def test_oam_sink_needs_a_policy_and_a_cross_account_reader(write_template: Write) -> None:
    reader = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [
        {"Id": "m", "AccountId": "111111111111", "MetricStat": {"Metric": {"Namespace": "AWS/Bedrock",
         "MetricName": "InvocationThrottles"}, "Period": 300, "Stat": "Sum"}}]}}  # fmt: skip
    dashboard = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": json.dumps({"widgets": [
        {"type": "metric", "properties": {"metrics": [["AWS/Bedrock", "Invocations", {"accountId": "111111111111"}]]}}]})}}  # fmt: skip
    sink = {"Type": "AWS::Oam::Sink", "Properties": {"Name": "estate", "Policy": SINK_POLICY}}
    card = _card(write_template, {"Sink": sink, "Estate": reader, "Board": dashboard})
    row = card.result("cross-account-observability")
    assert row.status.value == "present"
    assert "1 OAM sink(s), 1 with a policy admitting source accounts; 2 dashboard(s)/alarm(s)" in row.reason
    assert {r.logical_id for r in row.evidence} == {"Sink", "Estate", "Board"}
    unread = _card(write_template, {"Sink": sink}).result("cross-account-observability")
    assert unread.status.value == "partial" and "no dashboard or alarm reads another account's metrics" in unread.reason
    closed = {"Type": "AWS::Oam::Sink", "Properties": {"Name": "estate"}}
    shut = _card(write_template, {"Sink": closed, "Estate": reader}).result("cross-account-observability")
    assert shut.status.value == "partial" and "sink(s) Sink have no Policy" in shut.reason
    none = _card(write_template, {"Topic": TOPIC}).result("cross-account-observability")
    assert none.status.value == "missing" and "observed alone" in none.reason


def test_link_types_are_read_through_fn_if_conservatively(write_template: Write) -> None:
    link = _link()
    link["Properties"]["ResourceTypes"] = {"Fn::If": ["ShareLogs", ["AWS::CloudWatch::Metric", "AWS::Logs::LogGroup"],
                                                      ["AWS::CloudWatch::Metric"]]}  # fmt: skip
    template = {"Conditions": {"ShareLogs": {"Fn::Equals": ["a", "b"]}}, "Resources": {"Link": link}}
    row = assess(load(write_template(template))).result("cross-account-observability")
    assert row.status.value == "present" and "sharing metrics" in row.reason and "logs" not in row.reason


def test_paging_once_needs_a_suppressed_composite_whose_members_do_not_page(write_template: Write) -> None:
    members = {"Throttles": _alarm([{"Ref": "Quiet"}]), "Errors": _alarm([{"Ref": "Quiet"}], name="llm-errors")}
    rule = {"Fn::Join": ["", ["ALARM(\"", {"Fn::GetAtt": ["Throttles", "Arn"]}, "\") OR ALARM(\"llm-errors\")"]]}
    healing = _alarm()
    good = _card(write_template, {"Topic": TOPIC, "Quiet": QUIET, **members, "Healing": healing,
                                  "Health": _composite(rule, [{"Ref": "Topic"}], {"Ref": "Healing"})})  # fmt: skip
    row = good.result("paging-once")
    assert row.status.value == "present", row.reason
    assert "1 composite alarm(s) with actions, each with an actions suppressor" in row.reason
    assert {r.logical_id for r in row.evidence} == {"Health", "Throttles", "Errors", "Healing"}
    # the health composite covers its members for the Level 1 'alarms' row, as before
    assert good.result("alarms").status.value == "present"

    loud = {**members, "Errors": _alarm([{"Ref": "Topic"}], name="llm-errors")}
    doubled = _card(write_template, {"Topic": TOPIC, "Quiet": QUIET, **loud, "Healing": healing,
                                     "Health": _composite(rule, [{"Ref": "Topic"}], {"Ref": "Healing"})})  # fmt: skip
    row = doubled.result("paging-once")
    assert row.status.value == "partial"
    assert "member alarm(s) Errors page the same target as their composite" in row.reason

    unsuppressed = _composite(rule, [{"Ref": "Topic"}])
    plain = _card(write_template, {"Topic": TOPIC, "Quiet": QUIET, **members, "Health": unsuppressed})
    row = plain.result("paging-once")
    assert row.status.value == "partial" and "Health without an ActionsSuppressor" in row.reason

    silent = _card(write_template, {"Quiet": QUIET, **members, "Health": _composite(rule)}).result("paging-once")
    assert silent.status.value == "partial" and "without alarm actions" in silent.reason
    assert _card(write_template, members | {"Quiet": QUIET}).result("paging-once").status.value == "missing"


def test_tenant_usage_reads_insight_rules_and_tagged_profiles(write_template: Write) -> None:
    rule = {"Type": "AWS::CloudWatch::InsightRule", "Properties": {"RuleName": "top-tenants", "RuleState": "ENABLED",
                                                                   "RuleBody": RULE_BODY}}  # fmt: skip
    profile = {"Type": "AWS::Bedrock::ApplicationInferenceProfile", "Properties": {
        "InferenceProfileName": "acme", "ModelSource": {"CopyFrom": "arn:aws:bedrock:us-east-1::foundation-model/m"},
        "Tags": [{"Key": "Tenant", "Value": "acme"}]}}  # fmt: skip
    row = _card(write_template, {"Rule": rule, "Acme": profile}).result("tenant-usage")
    assert row.status.value == "present"
    assert "1 of 1 Contributor Insights rule(s) enabled (keys $.requestMetadata.tenant, $.modelId)" in row.reason
    assert "1 application inference profile(s)" in row.reason
    untagged = {**profile, "Properties": {k: v for k, v in profile["Properties"].items() if k != "Tags"}}
    row = _card(write_template, {"Rule": rule, "Acme": untagged}).result("tenant-usage")
    assert row.status.value == "partial" and "profile(s) Acme carry no tags" in row.reason
    off = {**rule, "Properties": {**rule["Properties"], "RuleState": "DISABLED"}}
    assert "no rule is ENABLED" in _card(write_template, {"Rule": off}).result("tenant-usage").reason
    only_profiles = _card(write_template, {"Acme": profile}).result("tenant-usage")
    assert only_profiles.status.value == "partial" and "no Contributor Insights rule" in only_profiles.reason
    assert _card(write_template, {"Topic": TOPIC}).result("tenant-usage").status.value == "missing"


def test_organization_aggregation_wants_config_and_security_hub(write_template: Write) -> None:
    aggregator = {"Type": "AWS::Config::ConfigurationAggregator", "Properties": {"OrganizationAggregationSource": {
        "RoleArn": "arn:aws:iam::999999999999:role/agg", "AllAwsRegions": True}}}  # fmt: skip
    findings = {"Type": "AWS::SecurityHub::FindingAggregator", "Properties": {"RegionLinkingMode": "ALL_REGIONS"}}
    row = _card(write_template, {"Agg": aggregator, "Findings": findings}).result("organization-aggregation")
    assert row.status.value == "present" and "Config aggregator Agg over the organization" in row.reason
    assert "RegionLinkingMode ALL_REGIONS" in row.reason
    half = _card(write_template, {"Agg": aggregator}).result("organization-aggregation")
    assert half.status.value == "partial" and "but no Security Hub finding aggregator" in half.reason


def test_the_group_is_reported_but_leaves_the_level_alone(write_template: Write) -> None:
    card = _card(write_template, {"Link": _link("AWS::CloudWatch::Metric")})
    assert card.level == level_reached(card.results) == 0
    assert card.result("cross-account-observability").status.value == "present"
    report = card.to_json()
    assert schema_errors(report, JSON_SCHEMA) == []
    assert [r["id"] for r in report["organization"]] == [c.id for c in ORGANIZATION_CAPABILITIES]
    assert {r["group"] for r in report["capabilities"]} == {"maturity"}
    assert all(r["id"] not in {c.id for c in ORGANIZATION_CAPABILITIES} for r in report["next_steps"])
    text = card.render_text()
    assert "Organization scale (1/4 present; not counted in the level)" in text
    assert "next: Add a WorkloadHealth per workload" in text


def test_malformed_organization_properties_are_input_errors(write_template: Write) -> None:
    from llm_observability.assess import AssessError

    with pytest.raises(AssessError, match=r"property ResourceTypes of resource 'Link' \(AWS::Oam::Link\) is 3"):
        load(write_template({"Resources": {"Link": {"Type": "AWS::Oam::Link", "Properties": {"ResourceTypes": 3}}}}))


def test_cost_lines_of_the_organization_resources(write_template: Write) -> None:
    rule = {"Type": "AWS::CloudWatch::InsightRule", "Properties": {"RuleState": "ENABLED", "RuleBody": RULE_BODY}}
    off = {"Type": "AWS::CloudWatch::InsightRule", "Properties": {"RuleState": "DISABLED", "RuleBody": RULE_BODY}}
    profile = {"Type": "AWS::Bedrock::ApplicationInferenceProfile", "Properties": {"InferenceProfileName": "acme"}}
    path = write_template({"Resources": {
        "Tokens": rule, "Requests": rule, "Errors": rule, "Off": off, "Acme": profile,
        "Link": _link("AWS::CloudWatch::Metric", "AWS::XRay::Trace"),
        "Health": _composite("ALARM(x)", ["arn:aws:sns:us-east-1:1:t"]),
    }})  # fmt: skip
    report = estimate(load(path), requests_per_month=1_000_000)
    rules = report.item("contributor-insights-rules")
    assert (rules.quantity, rules.monthly_usd) == (3, 1.5)  # 3 enabled x $0.50; the DISABLED one is not billed
    assert "1 DISABLED rule(s) not billed" in rules.assumption
    events = report.item("contributor-insights-events")
    assert events.category == "usage" and events.quantity == pytest.approx(3.0)  # 1M requests x 1 event x 3 rules
    assert events.monthly_usd == pytest.approx(3 * 0.02)
    assert report.item("alarms-composite").monthly_usd == 0.5
    oam = report.item("oam")
    assert oam.monthly_usd == 0.0 and "metrics, traces" in oam.assumption and "first copy of a trace" in oam.assumption
    assert report.item("application-inference-profiles").monthly_usd == 0.0
    assert report.fixed_usd == 2.0 and report.usage_usd == pytest.approx(0.06)
    free = estimate(load(path), requests_per_month=1_000_000, free_tier=True)
    assert free.item("contributor-insights-rules").monthly_usd == 1.0  # the account's first rule is free
    assert free.item("contributor-insights-events").monthly_usd == pytest.approx(2 * 0.02)  # and the first million
    assert "contributor-insights-events" not in {i.id for i in estimate(load(path), requests_per_month=0).items}


def test_alarms_that_only_suppress_a_paging_composite_need_no_action(write_template: Write) -> None:
    """The healing-in-progress alarm (and a composite suppressor over it and the user's deployment alarm) is a state
    that silences the health alarm, not a page: Level 1's 'alarms' row counts it as covered."""
    member = _alarm(None, name="llm-throttles")
    healing, deploying = _alarm(None, name="healing-in-progress"), _alarm(None, name="deploying")
    either = _composite('ALARM("healing-in-progress") OR ALARM("arn:aws:cloudwatch:us-east-1:1:alarm:deploying")')
    health = _composite('ALARM("llm-throttles")', [{"Ref": "Topic"}], {"Fn::GetAtt": ["Either", "Arn"]})
    card = _card(write_template, {"Topic": TOPIC, "Member": member, "Healing": healing, "Deploying": deploying,
                                  "Either": either, "Health": health})  # fmt: skip
    assert card.result("alarms").status.value == "present", card.result("alarms").reason
    assert card.result("paging-once").status.value == "present"
    assert {"Either"} <= {r.logical_id for r in card.result("paging-once").evidence}
    unwired = _card(write_template, {"Topic": TOPIC, "Healing": healing, "Member": _alarm([{"Ref": "Topic"}])})
    assert "have no alarm action: Healing" in unwired.result("alarms").reason  # without a composite it is bare


def test_a_monitoring_account_pays_no_custom_metrics_for_what_it_reads_from_sources(write_template: Write) -> None:
    """Cross-account graphs and alarms (``accountId`` / ``AccountId``) read metrics their source account stores and
    pays for; the same metric of the account itself is counted."""
    row = ["LLMObservability", "RequestSuccess", "service", "rag-demo"]
    body = json.dumps({"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6, "properties": {
        "metrics": [[*row, {"accountId": "111111111111"}], [*row[:2], "service", "other", {"accountId": "222222222222"}]],
    }}]})  # fmt: skip
    metric = {"Namespace": "LLMObservability", "MetricName": "Cost", "Dimensions": [{"Name": "service", "Value": "x"}]}
    foreign_alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1, "Threshold": 1,
        "Metrics": [{"Id": "m1", "AccountId": "111111111111", "ReturnData": False,
                     "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Sum"}},
                    {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}],
    }}  # fmt: skip
    dashboard = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": body}}
    report = estimate(load(write_template({"Resources": {"Estate": dashboard, "Cost": foreign_alarm}})))
    assert "custom-metrics" not in {i.id for i in report.items}
    own = json.loads(body)
    own["widgets"][0]["properties"]["metrics"].append(row)
    dashboard_own = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": json.dumps(own)}}
    report = estimate(load(write_template({"Resources": {"Estate": dashboard_own, "Cost": foreign_alarm}})))
    assert report.item("custom-metrics").quantity == 1
