"""Level 3 stack: snapshot, security gate, DevOps Guru and CodeGuru Profiler."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.runtime import telemetry as t
from tests.conftest import SynthResult, scrub


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_snapshot_level3(level3: SynthResult, snapshot_json) -> None:
    assert scrub(level3.template(3)) == snapshot_json


def test_level3_app_has_three_stacks_and_passes_the_gates(level3: SynthResult) -> None:
    assert sorted(level3.templates) == ["rag-demo-l1-foundation", "rag-demo-l2-proactive", "rag-demo-l3-aiops"]
    assert json.loads((level3.outdir / "validation-report.json").read_text())["pluginReports"] == []
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
