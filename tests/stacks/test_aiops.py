"""Level 3 stack: snapshot, security gate, DevOps Guru and CodeGuru Profiler."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.runtime import telemetry as t
from tests.conftest import SynthResult, alarm_metric, scrub


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_snapshot_level3(level3: SynthResult, snapshot_json) -> None:
    assert scrub(level3.template(3)) == snapshot_json


@pytest.mark.slow  # cfn-lint over three templates, about 9 s: CI (`make test`) runs it, `make test-fast` does not
def test_level3_app_has_three_stacks_and_passes_the_gates(level3: SynthResult) -> None:
    assert sorted(level3.templates) == ["rag-demo-l1-foundation", "rag-demo-l2-proactive", "rag-demo-l3-aiops"]
    reports = json.loads((level3.outdir / "validation-report.json").read_text())["pluginReports"]
    # cdk-nag reports nothing; the one annotation is the left-out warning that the OpenSearch endpoint stays public
    # without the vpc_* settings (#15 item 11), on the Level 3 stack.
    findings = [v for r in reports for v in r["violations"]]
    assert [v["ruleName"] for v in findings] == ["Annotation::llm-observability:left-out"]
    assert "A private OpenSearch domain endpoint (needs setting 'vpc_id'" in findings[0]["description"]
    for name, stack in level3.stacks.items():
        matches = lint_file(level3.outdir / f"{stack.artifact_id}.template.json", ManualArgs(regions=["us-east-1"]))
        assert [str(m) for m in matches] == [], name


def test_devops_guru_covers_every_observability_stack_and_notifies_the_topic(level3: SynthResult) -> None:
    (collection,) = level3.resources("AWS::DevOpsGuru::ResourceCollection", level=3).values()
    stacks = collection["Properties"]["ResourceCollectionFilter"]["CloudFormation"]["StackNames"]
    assert sorted(stacks) == ["rag-demo-l1-foundation", "rag-demo-l2-proactive", "rag-demo-l3-aiops"]
    (channel,) = level3.resources("AWS::DevOpsGuru::NotificationChannel", level=3).values()
    assert channel["Properties"]["Config"]["Filters"]["Severities"] == ["HIGH", "MEDIUM"]
    topic_policy = json.dumps(level3.resources("AWS::SNS::TopicPolicy", level=1))
    assert "devops-guru.amazonaws.com" in topic_policy


def test_codeguru_profiler_group_and_agent_wired_into_the_rag_function(level3: SynthResult) -> None:
    (group,) = level3.resources("AWS::CodeGuruProfiler::ProfilingGroup", level=3).values()
    assert group["Properties"]["ComputePlatform"] == "AWSLambda"
    name = group["Properties"]["ProfilingGroupName"]
    (fn,) = [v for k, v in level3.resources("AWS::Lambda::Function", level=1).items() if k.startswith("RagAppFunction")]
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[t.ENV_CODEGURU_PROFILING_GROUP] == name
    assert "AWSCodeGuruProfilerPythonAgentLambdaLayer:11" in json.dumps(fn["Properties"]["Layers"])
    policies = json.dumps(level3.resources("AWS::IAM::Policy", level=1))
    assert "codeguru-profiler:PostAgentProfile" in policies and f"profilingGroup/{name}" in policies


def test_level3_function_reads_the_active_model_and_may_invoke_the_fallback(level3: SynthResult) -> None:
    (fn,) = [v for k, v in level3.resources("AWS::Lambda::Function", level=1).items() if k.startswith("RagAppFunction")]
    env = fn["Properties"]["Environment"]["Variables"]
    assert t.ENV_MODEL_PARAMETER_NAME in env
    assert set(json.loads(env[t.ENV_PRICE_TABLE])) == {"amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0"}
    policies = json.dumps(level3.resources("AWS::IAM::Policy", level=1))
    assert "foundation-model/amazon.nova-micro-v1:0" in policies and "foundation-model/amazon.nova-lite-v1:0" in policies


def test_self_healing_runbooks_are_wired_to_the_right_alarms(level3: SynthResult) -> None:
    from llm_observability.automation import validate_document

    documents = level3.resources("AWS::SSM::Document", level=3)
    assert len(documents) == 3
    for document in documents.values():
        assert document["Properties"]["DocumentType"] == "Automation"
        content = document["Properties"]["Content"]
        assert validate_document(content) == [], content.get("description")
    rules = level3.resources("AWS::Events::Rule", level=3)
    patterns = [r["Properties"]["EventPattern"] for r in rules.values()]
    assert all(p["detail-type"] == ["CloudWatch Alarm State Change"] for p in patterns)
    targets = json.dumps([r["Properties"]["Targets"] for r in rules.values()])
    assert targets.count(":automation-definition/") == len(rules) and "$DEFAULT" in targets
    # Failover on the Level 1 Bedrock alarms, rollback on the quality drop, throttling on cost/token anomalies.
    resources = json.dumps(patterns)
    for alarm in ("AlarmsBedrockThrottles", "AlarmsBedrockServerErrors", "QualityCanaryQualityDrop",
                  "AnomaliesCostAnomaly", "AnomaliesInputTokensAnomaly"):  # fmt: skip
        assert alarm in resources, alarm


def test_prometheus_export_and_opensearch_log_analytics_in_the_bundled_level3(level3: SynthResult) -> None:
    types = {r["Type"] for r in level3.template(3)["Resources"].values()}
    assert {
        "AWS::APS::Workspace", "AWS::APS::RuleGroupsNamespace", "AWS::CloudWatch::MetricStream",
        "AWS::KinesisFirehose::DeliveryStream", "AWS::OpenSearchService::Domain", "AWS::Logs::SubscriptionFilter",
    } <= types  # fmt: skip
    (domain,) = level3.resources("AWS::OpenSearchService::Domain", level=3).values()
    props = domain["Properties"]
    assert props["EncryptionAtRestOptions"]["Enabled"] is True and props["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert props["DomainEndpointOptions"]["EnforceHTTPS"] is True
    streams = level3.resources("AWS::KinesisFirehose::DeliveryStream", level=3).values()
    opensearch = [s for s in streams if "AmazonopensearchserviceDestinationConfiguration" in s["Properties"]]
    assert opensearch[0]["Properties"]["AmazonopensearchserviceDestinationConfiguration"]["S3BackupMode"] == "FailedDocumentsOnly"
    (workspace,) = level3.resources("AWS::APS::Workspace", level=3).values()
    assert "sns_configs" in json.dumps(workspace["Properties"]["AlertManagerDefinition"])


def test_the_fallback_model_is_watched_after_a_failover(level3: SynthResult) -> None:
    """#15 item 8: the model the failover switches to has the Level 1 alarms and a dashboard of its own."""
    fallback = "amazon.nova-micro-v1:0"  # cdk.json's fallback_model_id
    alarms = {k: v["Properties"] for k, v in level3.resources("AWS::CloudWatch::Alarm", level=3).items()
              if k.startswith("FallbackWatch")}  # fmt: skip
    by_name = {k.removeprefix("FallbackWatch").rstrip("0123456789ABCDEF"): v for k, v in alarms.items()}
    assert set(by_name) == {"FallbackLatency", "FallbackClientErrors", "FallbackServerErrors", "FallbackThrottles"}
    for props in by_name.values():
        metric = alarm_metric(props)
        assert metric["Namespace"] == "AWS/Bedrock", metric
        assert metric["Dimensions"] == [{"Name": "ModelId", "Value": fallback}]
        assert props["AlarmActions"] and props["OKActions"]  # the alert topic
    assert alarm_metric(by_name["FallbackLatency"])["Stat"] == "p90"
    # None of them starts a runbook: the runbooks' rules name only Level 1 alarms.
    rules = json.dumps(level3.resources("AWS::Events::Rule", level=3))
    assert not any(k in rules for k in alarms)
    (dashboard,) = [d for k, d in level3.resources("AWS::CloudWatch::Dashboard", level=3).items() if "FallbackWatch" in k]
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert fallback in body and "Fallback model alarms" in body


def test_a_fallback_watch_refuses_the_workload_s_own_model() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sns as sns

    from llm_observability.constructs.fallback_watch import FallbackModelWatch
    from llm_observability.errors import ConfigError
    from llm_observability.workload import Workload

    stack = Stack(App(), "Watch")
    workload = Workload(name="their-app", model_ids=("amazon.nova-lite-v1:0",), alert_topic=sns.Topic(stack, "T"))
    with pytest.raises(ConfigError, match=r"^FallbackModelWatch 'fallback_model_id' is 'amazon.nova-lite-v1:0', one of"):
        FallbackModelWatch(stack, "W", workload=workload, fallback_model_id="amazon.nova-lite-v1:0")
    with pytest.raises(ConfigError, match=r"^FallbackModelWatch 'fallback_model_id' is '': allowed is a Bedrock model id"):
        FallbackModelWatch(stack, "W2", workload=workload, fallback_model_id="")
