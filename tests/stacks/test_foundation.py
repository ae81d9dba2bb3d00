"""Level 1 stack: snapshot, security gate (cdk-nag, cfn-lint) and the properties that matter."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.runtime import telemetry
from tests.conftest import ROOT, SynthResult, scrub


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _only(items: dict) -> dict:
    assert len(items) == 1, sorted(items)
    return next(iter(items.values()))


def test_snapshot_level1(level1: SynthResult, snapshot_json) -> None:
    assert scrub(level1.template(1)) == snapshot_json


@pytest.mark.parametrize("fixture", ["level1", "level1_own_kb"])
def test_cdk_nag_has_no_unacknowledged_finding(fixture: str, request: pytest.FixtureRequest) -> None:
    result: SynthResult = request.getfixturevalue(fixture)  # synth itself fails on a finding
    report = json.loads((result.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []  # a failing plugin would be listed with its violations


def test_cdk_nag_is_registered_by_build_app(tmp_path) -> None:
    """Negative control: a non-compliant resource added to the bundled app fails synth."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_sns as sns

    from llm_observability.config import ObservabilityConfig
    from llm_observability.stacks import build_app

    app = App(outdir=str(tmp_path))
    sns.Topic(Stack(app, "Extra"), "Unencrypted")
    build_app(app, config=ObservabilityConfig(knowledge_base_id="KBID123456"))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert "AwsSolutions-SNS3" in rules


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
@pytest.mark.parametrize("fixture", ["level1", "level1_own_kb"])
def test_cfn_lint_reports_nothing(fixture: str, request: pytest.FixtureRequest) -> None:
    result: SynthResult = request.getfixturevalue(fixture)
    for name in result.templates:
        matches = lint_file(result.outdir / f"{result.stacks[name].artifact_id}.template.json", ManualArgs(regions=["us-east-1", "eu-west-1"]))
        assert [str(m) for m in matches] == [], name


def test_function_is_traced_on_the_adot_runtime_with_pinned_powertools(level1: SynthResult) -> None:
    fn = _only({k: v for k, v in level1.resources("AWS::Lambda::Function").items() if k.startswith("RagAppFunction")})
    props = fn["Properties"]
    assert props["Runtime"] == "python3.13"  # the newest the ADOT layer supports (issue 14)
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Architectures"] == ["arm64"]
    assert props["Timeout"] <= 29
    # The Powertools layer is an SSM-resolved public layer; the other one is the library's runtime layer.
    (layer,) = [
        x for x in props["Layers"] if isinstance(x, dict) and x.get("Ref") in level1.template(1).get("Parameters", {})
    ]
    param = level1.template(1)["Parameters"][layer["Ref"]]
    assert param["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert param["Default"] == "/aws/service/powertools/python/arm64/python3.13/3.37.0"  # pinned (#15 item 12)
    env = props["Environment"]["Variables"]
    assert env[telemetry.ENV_MODEL_ID] == "amazon.nova-lite-v1:0"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == telemetry.DEFAULT_NAMESPACE
    assert env["POWERTOOLS_SERVICE_NAME"] == "rag-demo"
    assert env[telemetry.ENV_PROMPT_LOGGING] == "redacted"
    assert json.loads(env[telemetry.ENV_PRICE_TABLE]) == {
        "amazon.nova-lite-v1:0": {"input_per_1k": 0.00006, "output_per_1k": 0.00024}
    }


def _statements(result: SynthResult, role_fragment: str) -> list[dict]:
    policies = [
        p for k, p in result.resources("AWS::IAM::Policy").items() if role_fragment in json.dumps(p["Properties"]["Roles"])
    ]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_function_iam_is_scoped_to_the_model_and_knowledge_base(level1: SynthResult) -> None:
    by_sid = {s.get("Sid"): s for s in _statements(level1, "RagAppFunctionRole")}
    invoke = by_sid["InvokeModel"]
    assert invoke["Action"] == "bedrock:InvokeModel"
    assert json.dumps(invoke["Resource"]).count("foundation-model/amazon.nova-lite-v1:0") == 1
    assert "*" not in json.dumps(invoke["Resource"])
    retrieve = by_sid["Retrieve"]
    assert retrieve["Action"] == "bedrock:Retrieve"
    assert "KnowledgeBaseArn" in json.dumps(retrieve["Resource"])


def test_own_knowledge_base_creates_none_and_scopes_iam_to_it(level1_own_kb: SynthResult) -> None:
    template = level1_own_kb.template(1)
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & {"AWS::Bedrock::KnowledgeBase", "AWS::S3Vectors::Index", "AWS::S3::Bucket", "Custom::AWS"}
    by_sid = {s.get("Sid"): s for s in _statements(level1_own_kb, "RagAppFunctionRole")}
    assert "knowledge-base/KBID123456" in json.dumps(by_sid["Retrieve"]["Resource"])
    invoke = json.dumps(by_sid["InvokeModel"]["Resource"])
    assert "inference-profile/us.amazon.nova-pro-v1:0" in invoke
    assert "bedrock:*::foundation-model/amazon.nova-pro-v1:0" in invoke
    assert "AWS::ApiGateway::Account" not in types


def test_every_log_group_is_encrypted_with_retention(level1: SynthResult, level1_own_kb: SynthResult) -> None:
    for result in (level1, level1_own_kb):
        groups = result.resources("AWS::Logs::LogGroup")
        assert len(groups) >= 2
        for name, group in groups.items():
            assert "KmsKeyId" in group["Properties"], name
            assert group["Properties"]["RetentionInDays"] == 30, name


def test_log_key_rotates_and_is_limited_to_this_accounts_log_groups(level1: SynthResult) -> None:
    key = _only({k: v for k, v in level1.resources("AWS::KMS::Key").items() if k.startswith("RagAppLogKey")})
    assert key["Properties"]["EnableKeyRotation"] is True
    logs_stmt = next(s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowCloudWatchLogsOfThisAccount")
    assert "kms:EncryptionContext:aws:logs:arn" in logs_stmt["Condition"]["ArnLike"]


def test_api_stage_traced_logged_throttled(level1: SynthResult) -> None:
    stage = _only(level1.resources("AWS::ApiGateway::Stage"))["Properties"]
    assert stage["TracingEnabled"] is True
    access = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "responseLatency", "integrationLatency", "xrayTraceId"} <= set(access)
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 10 and settings["ThrottlingBurstLimit"] == 20
    assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False


def test_api_methods_validate_bodies_and_use_iam_auth(level1: SynthResult) -> None:
    methods = level1.resources("AWS::ApiGateway::Method")
    assert len(methods) == 2
    for method in methods.values():
        props = method["Properties"]
        assert props["HttpMethod"] == "POST"
        assert props["AuthorizationType"] == "AWS_IAM"
        assert "RequestValidatorId" in props and "application/json" in props["RequestModels"]
    schemas = {m["Properties"]["Schema"]["title"]: m["Properties"]["Schema"] for m in level1.resources("AWS::ApiGateway::Model").values()}
    assert schemas["AskRequest"]["required"] == ["question"]
    assert schemas["AskRequest"]["additionalProperties"] is False
    assert schemas["FeedbackRequest"]["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 5}
    responses = level1.resources("AWS::ApiGateway::GatewayResponse")
    for response in responses.values():
        body = response["Properties"]["ResponseTemplates"]["application/json"]
        assert "$context.requestId" in body


def test_knowledge_base_on_s3_vectors_with_ingestion(level1: SynthResult) -> None:
    kb = _only(level1.resources("AWS::Bedrock::KnowledgeBase"))["Properties"]
    assert kb["StorageConfiguration"]["Type"] == "S3_VECTORS"
    vector_config = kb["KnowledgeBaseConfiguration"]["VectorKnowledgeBaseConfiguration"]
    assert "foundation-model/amazon.titan-embed-text-v2:0" in json.dumps(vector_config["EmbeddingModelArn"])
    index = _only(level1.resources("AWS::S3Vectors::Index"))["Properties"]
    assert index["Dimension"] == 1024 and index["DistanceMetric"] == "cosine"
    assert set(index["MetadataConfiguration"]["NonFilterableMetadataKeys"]) == {"AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"}
    source = _only(level1.resources("AWS::Bedrock::DataSource"))["Properties"]
    assert source["DataSourceConfiguration"]["S3Configuration"]["InclusionPrefixes"] == ["docs/"]
    custom = level1.resources("Custom::AWS")
    ingestion = _only({k: v for k, v in custom.items() if "Ingestion" in k})
    create = json.dumps(ingestion["Properties"]["Create"])
    assert "StartIngestionJob" in create and "bedrock-agent" in create
    documents = {k: v for k, v in custom.items() if "Document" in k}
    corpus = sorted(p.name for p in (ROOT / "llm_observability" / "corpus").iterdir())
    keys = sorted(json.dumps(d["Properties"]["Create"]).split("docs/")[1].split("\\")[0] for d in documents.values())
    assert keys == corpus  # one object per corpus file, written by the stack
    assert set(ingestion["DependsOn"]) == set(documents)  # ingestion runs after every upload
    assert all('DeleteObject' in json.dumps(d["Properties"]["Delete"]) for d in documents.values())
    role = _only({k: v for k, v in level1.resources("AWS::IAM::Role").items() if "KnowledgeBaseServiceRole" in k})
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}


def test_buckets_enforce_tls_and_block_public_access(level1: SynthResult) -> None:
    buckets = level1.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
        assert "BucketEncryption" in bucket["Properties"]
    policies = level1.resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cost_allocation_tags_on_taggable_resources(level1: SynthResult) -> None:
    fn_tags = {t["Key"]: t["Value"] for r in level1.resources("AWS::Lambda::Function").values() for t in r["Properties"]["Tags"]}
    assert fn_tags["Project"] == "llm-observability"
    assert fn_tags["Workload"] == "rag-demo"
    assert fn_tags["MaturityLevel"] == "1"


def test_no_redundant_depends_on(level1: SynthResult) -> None:
    from llm_observability.hygiene import referenced_logical_ids

    for name, resource in level1.template(1)["Resources"].items():
        referenced = referenced_logical_ids(resource.get("Properties", {}))
        assert not set(resource.get("DependsOn", [])) & referenced, name


def test_sample_corpus_must_be_small_utf8_text(tmp_path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_kms as kms

    from llm_observability.constructs.knowledge_base import SampleKnowledgeBase

    stack = Stack(App(), "S")
    key = kms.Key(stack, "K")
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.7")
    with pytest.raises(ValueError, match=r"^SampleKnowledgeBase 'corpus_dir' has a.pdf: allowed are \.csv"):
        SampleKnowledgeBase(stack, "A", embedding_model_id="amazon.titan-embed-text-v2:0", dimensions=1024,
                            log_key=key, log_retention_days=30, corpus_dir=tmp_path)  # fmt: skip
    (tmp_path / "a.pdf").unlink()
    (tmp_path / "big.md").write_text("x" * 200_001)
    with pytest.raises(ValueError, match=r"holds 200,001 bytes: allowed are 200,000"):
        SampleKnowledgeBase(stack, "B", embedding_model_id="amazon.titan-embed-text-v2:0", dimensions=1024,
                            log_key=key, log_retention_days=30, corpus_dir=tmp_path)  # fmt: skip


@pytest.mark.slow  # one more three-level synthesis, about 15 s
def test_lambda_insights_on_the_reference_function_fits_its_layers_at_level_3(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.conftest import synth_bundled_app

    result = synth_bundled_app(tmp_path_factory.mktemp("insights"), level=3, lambda_insights=True)
    resources = result.template(1)["Resources"]
    (rag,) = [r for k, r in resources.items() if k.startswith("RagAppFunction") and r["Type"] == "AWS::Lambda::Function"]
    layers = json.dumps(rag["Properties"]["Layers"])
    assert len(rag["Properties"]["Layers"]) == 5 and "LambdaInsights" in layers  # Powertools, ADOT, runtime, CodeGuru
    (group,) = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"
                and r["Properties"].get("LogGroupName") == "/aws/lambda-insights"]  # fmt: skip
    assert group["DeletionPolicy"] == "Retain" and "KmsKeyId" in group["Properties"]
    (dashboard,) = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Resource use (Lambda Insights)" in body and "memory_utilization" in body
