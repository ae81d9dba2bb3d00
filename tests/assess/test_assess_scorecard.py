"""The maturity scorecard on this project's assemblies and on hand-written foreign templates."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import llm_observability
from llm_observability.assess import CAPABILITIES, assess, load
from llm_observability.assess.capabilities import BY_ID, capabilities_of
from llm_observability.assess.model import Capability, Level, Status
from tests.assess.conftest import TEMPLATES
from tests.conftest import ROOT, SynthResult

LEVEL1_IDS = [c.id for c in capabilities_of(1)]
LEVEL2_IDS = [c.id for c in capabilities_of(2)]
LEVEL3_IDS = [c.id for c in capabilities_of(3)]


def statuses(card: Any) -> dict[str, str]:
    return {r.capability.id: r.status.value for r in card.results}


def evidence_ids(card: Any, capability: str) -> set[str]:
    return {r.logical_id for r in card.result(capability).evidence}


# ----------------------------------------------------------------------------- this project's assemblies


def test_rows_follow_the_readme_levels() -> None:
    assert LEVEL1_IDS == ["tracing", "structured-logs", "llm-metrics", "dashboards", "alarms", "notifications",
                          "invocation-logging", "cost-visibility"]  # fmt: skip
    assert LEVEL2_IDS == ["metric-anomaly-detection", "log-intelligence", "compliance", "cost-control",
                          "incident-management", "guardrail", "prompt-management", "quality-evaluation"]  # fmt: skip
    assert LEVEL3_IDS == ["devops-guru", "codeguru-profiler", "self-healing", "prometheus", "opensearch-log-analytics"]
    assert all(c.provided_by and c.next_step and c.evidence and c.constructs for c in CAPABILITIES)


def test_each_capability_names_exported_constructs_and_its_rule_sits_in_its_level() -> None:
    for capability in CAPABILITIES:
        assert set(capability.constructs) <= set(llm_observability.__all__), capability.id
        assert capability.rule.__module__ == f"llm_observability.assess.capabilities.level{capability.level}"
    assert len({c.rule for c in CAPABILITIES}) == len(CAPABILITIES)  # one rule per capability


def test_docs_capability_table_matches_the_model() -> None:
    """docs/assess.md's table (level, capability id, this library's construct) restates the declarations."""
    text = (ROOT / "docs" / "assess.md").read_text()
    rows = re.findall(r"^\| (\d) \| `([a-z-]+)` \| [^|]+ \| ([^|]+) \|$", text, flags=re.MULTILINE)
    table = [(int(level), cid, tuple(re.findall(r"`(\w+)`", constructs))) for level, cid, constructs in rows]
    assert table == [(c.level, c.id, c.constructs) for c in CAPABILITIES]


def test_a_capability_outside_the_levels_is_refused() -> None:
    with pytest.raises(ValueError, match="has level 4: allowed are 1-3"):
        Level(4).capability(id="x", title="x", constructs=(), provided_by="x", next_step="x", evidence="x")(
            lambda inv: None
        )
    with pytest.raises(ValueError, match="has level 0"):
        Capability(id="y", level=0, title="y", constructs=(), provided_by="y", next_step="y", evidence="y",
                   rule=BY_ID["tracing"].rule)  # fmt: skip


def test_level1_assembly_reports_exactly_level_1(level1: SynthResult) -> None:
    card = assess(load(level1.outdir))
    assert card.level == 1
    assert all(statuses(card)[i] == "present" for i in LEVEL1_IDS), statuses(card)
    assert [r.capability.id for r in card.next_steps()] == LEVEL2_IDS
    text = card.render_text()
    assert "Level 1 (Foundation) fully reached" in text
    for construct in ("AnomalyAlarms", "LogIntelligence", "ComplianceBaseline", "CostGuard", "QualityCanary"):
        assert construct in text


def test_level1_evidence_is_property_aware(level1: SynthResult) -> None:
    card = assess(load(level1.outdir))
    tracing = evidence_ids(card, "tracing")
    assert any(i.startswith("RagAppFunction") for i in tracing) and any("Stage" in i for i in tracing)
    # the custom-resource handlers (bucket deployment, AwsCustomResource, invocation logging) are not app functions
    assert not any(
        i.startswith(("AWS679f53fac", "CustomCDKBucketDeployment", "InvocationLoggingHandler")) for i in tracing
    )
    assert evidence_ids(card, "invocation-logging") == {
        next(iter(level1.resources("Custom::BedrockInvocationLogging")))
    }
    assert "KMS-encrypted" in card.result("notifications").reason
    # every metric alarm and the workload's health composite (the one that pages)
    alarms = {**level1.resources("AWS::CloudWatch::Alarm"), **level1.resources("AWS::CloudWatch::CompositeAlarm")}
    assert evidence_ids(card, "alarms") == set(alarms)


def test_level2_assembly_reports_exactly_level_2(level2: SynthResult) -> None:
    card = assess(load(level2.outdir))
    assert card.level == 2, {k: v for k, v in statuses(card).items() if v != "present"}
    assert all(statuses(card)[i] == "present" for i in LEVEL1_IDS + LEVEL2_IDS)
    assert all(statuses(card)[i] == "missing" for i in LEVEL3_IDS)
    assert [r.capability.id for r in card.next_steps()] == LEVEL3_IDS
    # The health composite in the top stack opens the OpsItem; its members (Level 1's alarms too) page no more
    stacks = {e["stack"] for e in card.result("incident-management").evidence_json()}
    assert stacks == {"rag-demo-l2-proactive"}
    assert "AiOpsStack" in card.render_text()


def test_level3_assembly_reports_level_3(level3: SynthResult) -> None:
    card = assess(load(level3.outdir))
    assert card.level == 3, {k: v for k, v in statuses(card).items() if v != "present"}
    assert card.next_steps() == []


def test_folder_of_templates_reaches_level_3(level2: SynthResult, tmp_path: Path) -> None:
    for template in level2.outdir.glob("*.template.json"):
        shutil.copy(template, tmp_path)
    shutil.copy(TEMPLATES / "aiops_level3.json", tmp_path)
    (tmp_path / "notes.json").write_text('{"not": "a template"}')
    source = load(tmp_path)
    assert source.kind == "directory" and len(source.stacks) == 3
    card = assess(source)
    assert card.level == 3 and card.next_steps() == []
    assert any("notes.json skipped" in n for n in card.notes)
    assert evidence_ids(card, "codeguru-profiler") == {"ProfilingGroup", "ProfiledFunction"}
    assert evidence_ids(card, "opensearch-log-analytics") == {"SearchDomain", "LogsToSearch", "AppLogsSubscription"}


def test_nested_cloud_assembly_is_followed(level1: SynthResult, tmp_path: Path) -> None:
    shutil.copytree(level1.outdir, tmp_path / "assembly-Prod")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "version": "55.0.0",
        "artifacts": {"assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod", "displayName": "Prod"}}},
    }))  # fmt: skip
    card = assess(load(tmp_path))
    assert card.level == 1 and card.source.stacks[0].name == "rag-demo-l1-foundation"


# ----------------------------------------------------------------------------- hand-written foreign templates


def test_plain_serverless_app_is_level_0_with_next_steps() -> None:
    card = assess(load(TEMPLATES / "plain_serverless.json"))
    assert card.level == 0
    assert all(statuses(card)[i] == "missing" for i in LEVEL1_IDS)
    assert [r.capability.id for r in card.next_steps()] == LEVEL1_IDS
    text = card.render_text()
    assert "Next steps to Level 1 (Foundation)" in text
    for construct in ("LlmAlarms", "LlmDashboard", "AlertTopic", "InvocationLogging", "RagReferenceApp"):
        assert construct in text
    assert "1 function(s) and 1 API stage(s) without tracing" in card.result("tracing").reason


def test_foreign_app_without_invocation_logging_is_partial() -> None:
    card = assess(load(TEMPLATES / "foreign_observed.json"))
    assert card.level == 0
    assert [i for i in LEVEL1_IDS if statuses(card)[i] != "present"] == ["llm-metrics", "invocation-logging"]
    assert [r.capability.id for r in card.next_steps()] == ["llm-metrics", "invocation-logging"]
    # its Node.js function names SupportBot in METRICS_NAMESPACE: neither the runtime, the reference function nor Powertools
    metrics = card.result("llm-metrics")
    assert metrics.status is Status.PARTIAL
    assert "read application metrics in SupportBot, but no function in the templates is shown to emit them" in metrics.reason
    assert "CostCenter" in card.result("cost-visibility").reason


def test_yaml_with_short_form_intrinsics_reaches_level_1() -> None:
    source = load(TEMPLATES / "foreign_short_intrinsics.yaml")
    template = source.stacks[0].template
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"  # a string, not a date
    assert template["Resources"]["Logs"]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}
    assert template["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
    card = assess(source)
    assert card.level == 1
    assert statuses(card)["incident-management"] == "present"  # ':opsitem:' inside a !Sub
    assert evidence_ids(card, "invocation-logging") == {"InvocationLogging"}
    assert "LoggingHandler" not in evidence_ids(card, "tracing")  # a custom-resource handler


def test_conditions_fn_if_and_unknown_types_are_read_conservatively() -> None:
    card = assess(load(TEMPLATES / "conditions_and_unknown_types.json"))
    tracing = card.result("tracing")
    assert tracing.status is Status.PARTIAL and "depends on a template condition" in tracing.reason
    alarms = card.result("alarms")
    assert alarms.status is Status.PARTIAL and "only when template condition AlarmsOn holds" in alarms.reason
    assert "ParameterisedAlarm" in alarms.reason  # AlarmActions from a parameter is not proof of an action
    logs = card.result("structured-logs")
    assert logs.status is Status.PARTIAL and "without KmsKeyId: Logs" in logs.reason
    assert card.level == 0


# ----------------------------------------------------------------------------- rules, one property at a time


def _card(write_template: Callable[..., Path], resources: dict[str, Any]) -> Any:
    return assess(load(write_template({"Resources": resources})))


FN = {"Type": "AWS::Lambda::Function", "Properties": {"TracingConfig": {"Mode": "Active"}}}
STAGE_ON = {"Type": "AWS::ApiGateway::Stage", "Properties": {"TracingEnabled": True}}
METHOD = {
    "Type": "AWS::ApiGateway::Method",
    "Properties": {"Integration": {"Uri": {"Fn::Sub": "arn:aws:apigateway:r:lambda:path/f/${Fn.Arn}/invocations"}}},
}


def _alarm(actions: Any = None, **extra: Any) -> dict[str, Any]:
    props = {"Namespace": "AWS/Bedrock", "MetricName": "InvocationLatency", **extra}
    if actions is not None:
        props["AlarmActions"] = actions
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


@pytest.mark.parametrize(
    ("resources", "status", "reason"),
    [
        ({"Fn": FN, "Stage": STAGE_ON, "Ask": METHOD}, "present", "1 API stage(s) and 1 request-path function(s)"),
        ({"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}, "Stage": STAGE_ON, "Ask": METHOD}, "partial", "without tracing (neither OpenTelemetry nor X-Ray active tracing): Fn"),
        ({"Fn": FN, "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"TracingEnabled": "false"}}, "Ask": METHOD},
         "partial", "without TracingEnabled: Stage"),
        ({"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Tracing": "Active"}}}, "present", "1 function(s)"),
        ({"Bucket": {"Type": "AWS::S3::Bucket"}}, "missing", "No Lambda function or API Gateway stage"),
    ],
)  # fmt: skip
def test_tracing_rule(write_template: Callable[..., Path], resources: dict[str, Any], status: str, reason: str) -> None:
    row = _card(write_template, resources).result("tracing")
    assert (row.status.value, reason in row.reason) == (status, True), row.reason


def test_alarm_rule_partial_when_some_alarms_lack_actions(write_template: Callable[..., Path]) -> None:
    card = _card(write_template, {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}},
        "Good": _alarm([{"Ref": "Topic"}]),
        "Silent": _alarm(),
        "Disabled": _alarm([{"Ref": "Topic"}], ActionsEnabled=False),
        "MaybeOff": _alarm({"Fn::If": ["C", [{"Ref": "Topic"}], {"Ref": "AWS::NoValue"}]}),
    })  # fmt: skip
    row = card.result("alarms")
    assert row.status is Status.PARTIAL
    assert "3 of 4 alarm(s) have no alarm action: Silent, Disabled, MaybeOff" in row.reason
    assert card.result("notifications").status is Status.PRESENT


def test_alarms_feeding_a_composite_with_actions_are_covered(write_template: Callable[..., Path]) -> None:
    card = _card(write_template, {
        "Child": _alarm(AlarmName="llm-latency"),
        "Other": _alarm(),
        "Rollup": {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {
            "AlarmRule": {"Fn::Sub": 'ALARM("llm-latency") OR ALARM(${Other.Arn})'}, "AlarmActions": ["arn:aws:sns:us-east-1:1:x"]}},
    })  # fmt: skip
    assert card.result("alarms").status is Status.PRESENT
    assert "outside the templates" in card.result("notifications").reason


def test_unencrypted_topic_makes_notifications_partial(write_template: Callable[..., Path]) -> None:
    card = _card(write_template, {"Topic": {"Type": "AWS::SNS::Topic"}, "A": _alarm([{"Ref": "Topic"}])})
    assert card.result("notifications").status is Status.PARTIAL


def test_log_groups_need_retention_and_a_key(write_template: Callable[..., Path]) -> None:
    card = _card(write_template, {
        "Good": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30, "KmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}},
        "Forever": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"LoggingConfig": {"LogGroup": {"Ref": "Good"}, "LogFormat": "JSON"}}},
        "Orphan": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "x"}}}},
    })  # fmt: skip
    row = card.result("structured-logs")
    assert row.status is Status.PARTIAL
    assert "without RetentionInDays: Forever" in row.reason and "implicit log group: Orphan" in row.reason


def test_llm_metrics_need_bedrock_and_app_metrics(write_template: Callable[..., Path]) -> None:
    emf_fn = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Environment": {"Variables": {"POWERTOOLS_METRICS_NAMESPACE": "Bot"}}},
    }
    app_alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Namespace": "Bot", "MetricName": "Failures"}}
    both = _card(write_template, {"Fn": emf_fn, "App": app_alarm, "Bedrock": _alarm()}).result("llm-metrics")
    assert both.status is Status.PRESENT and "Bot from Fn (its Powertools metrics namespace)" in both.reason
    assert "weaker evidence" in both.reason
    unwatched = _card(write_template, {"Fn": emf_fn, "Bedrock": _alarm()}).result("llm-metrics")
    assert unwatched.status is Status.PARTIAL and "Bot is emitted but not watched" in unwatched.reason


def test_anomaly_band_and_opsitems_read_through_intrinsics(write_template: Callable[..., Path]) -> None:
    opsitem = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ssm:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":opsitem:2",
            ],
        ]
    }
    card = _card(write_template, {"Band": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmActions": [opsitem], "ThresholdMetricId": "b",
        "Metrics": [{"Id": "b", "Expression": "ANOMALY_DETECTION_BAND(m, 2)"},
                    {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Bedrock", "MetricName": "Invocations"}, "Period": 300, "Stat": "Sum"}}],
    }}})  # fmt: skip
    assert card.result("metric-anomaly-detection").status is Status.PRESENT
    assert card.result("incident-management").status is Status.PRESENT


@pytest.mark.parametrize(
    ("resources", "capability", "status"),
    [
        ({"L": {"Type": "Custom::AWS", "Properties": {"ServiceToken": "arn:x", "Create": '{"service":"Bedrock","action":"PutModelInvocationLoggingConfiguration","parameters":{"loggingConfig":{}}}'}}},
         "invocation-logging", "present"),
        ({"L": {"Type": "AWS::CloudFormation::CustomResource", "Properties": {"ServiceToken": "arn:x", "LoggingConfig": {"level": "debug"}}}},
         "invocation-logging", "partial"),
        ({"B": {"Type": "AWS::Budgets::Budget", "Properties": {"NotificationsWithSubscribers": [{"Notification": {"NotificationType": "ACTUAL"}}]}},
          "S": {"Type": "AWS::CE::AnomalySubscription", "Properties": {}}}, "cost-control", "partial"),
        ({"B": {"Type": "AWS::Budgets::Budget", "Properties": {"NotificationsWithSubscribers": [{"Notification": {"NotificationType": "FORECASTED"}}]}},
          "S": {"Type": "AWS::CE::AnomalySubscription", "Properties": {}}}, "cost-control", "present"),
        ({"H": {"Type": "AWS::SecurityHub::Hub"}, "R": {"Type": "AWS::Config::ConfigRule"},
          "T": {"Type": "AWS::CloudTrail::Trail", "Properties": {"IsLogging": False}}}, "compliance", "partial"),
        ({"G": {"Type": "AWS::Bedrock::Guardrail"}, "V": {"Type": "AWS::Bedrock::GuardrailVersion", "Properties": {"GuardrailIdentifier": {"Ref": "G"}}}},
         "guardrail", "partial"),
        ({"G": {"Type": "AWS::Bedrock::Guardrail"},
          "F": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"GUARDRAIL_ID": {"Fn::GetAtt": ["G", "GuardrailId"]}}}}}},
         "guardrail", "present"),
        ({"P": {"Type": "AWS::Bedrock::Prompt"}}, "prompt-management", "partial"),
        ({"D": {"Type": "AWS::Logs::LogAnomalyDetector"}}, "log-intelligence", "partial"),
        ({"C": {"Type": "AWS::DevOpsGuru::NotificationChannel"}}, "devops-guru", "partial"),
        ({"G": {"Type": "AWS::CodeGuruProfiler::ProfilingGroup", "Properties": {"ProfilingGroupName": "g"}}}, "codeguru-profiler", "partial"),
        ({"D": {"Type": "AWS::SSM::Document", "Properties": {"DocumentType": "Automation"}}}, "self-healing", "partial"),
        ({"D": {"Type": "AWS::SSM::Document", "Properties": {"DocumentType": "Command"}}}, "self-healing", "missing"),
        ({"R": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 day)", "Targets": [{"Arn": "arn:aws:ssm:r:1:automation-definition/d:$DEFAULT"}]}}},
         "self-healing", "partial"),
        ({"W": {"Type": "AWS::APS::Workspace"}}, "prometheus", "partial"),
        ({"W": {"Type": "AWS::APS::Workspace", "Properties": {"AlertManagerDefinition": "alertmanager_config: x"}},
          "R": {"Type": "AWS::APS::RuleGroupsNamespace", "Properties": {"Workspace": {"Ref": "W"}}}}, "prometheus", "present"),
        ({"C": {"Type": "AWS::OpenSearchServerless::Collection"}}, "opensearch-log-analytics", "partial"),
    ],
)  # fmt: skip
def test_rule_statuses(
    write_template: Callable[..., Path], resources: dict[str, Any], capability: str, status: str
) -> None:
    row = _card(write_template, resources).result(capability)
    assert row.status.value == status, row.reason
    assert row.capability is BY_ID[capability]
