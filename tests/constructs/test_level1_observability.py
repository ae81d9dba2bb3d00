"""Level 1 observability constructs: in the bundled stack and composed into someone else's app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_observability.constructs.queries import QUERIES
from llm_observability.runtime import telemetry as t
from tests.conftest import SynthResult, alarm_metric


def _body(result: SynthResult) -> str:
    (dashboard,) = result.resources("AWS::CloudWatch::Dashboard").values()
    return json.dumps(dashboard["Properties"]["DashboardBody"])


def test_every_alarm_notifies_on_alarm_and_ok_and_only_the_health_alarm_pages(level1: SynthResult) -> None:
    alarms = level1.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 9
    topics = level1.resources("AWS::SNS::Topic")
    (alert_id,) = [t for t in topics if t.startswith("AlertsTopic")]
    (low_id,) = [t for t in topics if t.startswith("LowUrgencyTopic")]
    for name, alarm in alarms.items():  # health_alarm (default on): the member alarms notify the low-urgency topic
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": low_id}], name
        assert props["OKActions"] == [{"Ref": low_id}], name
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["AlarmDescription"].startswith(("[high]", "[low]")), name
    (health,) = level1.resources("AWS::CloudWatch::CompositeAlarm").values()  # stacks.health.add_health_alarm
    high = sorted(k for k, a in alarms.items() if a["Properties"]["AlarmDescription"].startswith("[high]"))
    parts = health["Properties"]["AlarmRule"]["Fn::Join"][1]
    named = sorted(part["Fn::GetAtt"][0] for part in parts if isinstance(part, dict))
    assert named == high
    # Level 1 pages on the alert topic only (OpsItems come with Level 2).
    assert health["Properties"]["AlarmActions"] == health["Properties"]["OKActions"] == [{"Ref": alert_id}]


def test_alarm_metrics_cover_bedrock_app_lambda_and_api(level1: SynthResult) -> None:
    alarms = level1.resources("AWS::CloudWatch::Alarm").values()
    single = {(alarm_metric(a["Properties"])["Namespace"], alarm_metric(a["Properties"])["MetricName"]) for a in alarms}
    assert {
        ("AWS/Bedrock", "InvocationLatency"),
        ("AWS/Bedrock", "InvocationClientErrors"),
        ("AWS/Bedrock", "InvocationServerErrors"),
        ("AWS/Bedrock", "InvocationThrottles"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
    } <= single
    latency = next(a["Properties"] for a in alarms if alarm_metric(a["Properties"])["MetricName"] == "InvocationLatency")
    assert alarm_metric(latency)["Stat"] == "p90" and latency["Threshold"] == 10000
    assert alarm_metric(latency)["Dimensions"] == [{"Name": "ModelId", "Value": "amazon.nova-lite-v1:0"}]
    (rate,) = [a["Properties"] for a in alarms if any("Expression" in q for q in a["Properties"].get("Metrics", []))]
    assert rate["ComparisonOperator"] == "LessThanThreshold" and rate["Threshold"] == 95
    expression = next(q["Expression"] for q in rate["Metrics"] if "Expression" in q)
    assert expression == "100 * FILL(ok, 0) / (FILL(ok, 0) + FILL(failed, 0))"
    used = [q["MetricStat"]["Metric"]["MetricName"] for q in rate["Metrics"] if "MetricStat" in q]
    assert sorted(used) == sorted([t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE])  # 2 billable alarm metrics


def test_alarm_names_share_a_prefix_and_never_collide(level1: SynthResult) -> None:
    names = [a["Properties"]["AlarmName"] for a in level1.resources("AWS::CloudWatch::Alarm").values()]
    prefixes = {n.rsplit("-", 1)[0] for n in names}
    assert len(prefixes) == 1 and len(set(names)) == len(names)


def test_every_alarm_carries_its_role_and_severity_for_higher_levels(level1: SynthResult) -> None:
    roles = {}
    for key, alarm in level1.resources("AWS::CloudWatch::Alarm").items():
        tags = {tag["Key"]: tag["Value"] for tag in alarm["Properties"]["Tags"]}
        assert alarm["Properties"]["AlarmDescription"].startswith(f"[{tags['AlarmSeverity']}] "), key
        roles[key.rstrip("0123456789ABCDEF")] = (tags["AlarmRole"], tags["AlarmSeverity"])
    assert roles == {
        "AlarmsBedrockLatency": ("latency", "high"), "AlarmsBedrockClientErrors": ("availability", "low"),
        "AlarmsBedrockServerErrors": ("model_health", "high"), "AlarmsBedrockThrottles": ("throttling", "high"),
        "AlarmsSuccessRate": ("availability", "high"), "AlarmsLambdaErrors": ("availability", "high"),
        "AlarmsLambdaThrottles": ("availability", "low"), "AlarmsApi5xx": ("availability", "high"),
        "AlarmsApiLatency": ("latency", "low"),
    }  # fmt: skip


def test_topics_are_encrypted_tls_only_and_allow_cloudwatch(level1: SynthResult) -> None:
    topics = level1.resources("AWS::SNS::Topic").values()  # the alert topic and the low-urgency topic
    assert len(topics) == 2
    for topic in topics:
        assert "KmsMasterKeyId" in topic["Properties"]
        assert topic["Properties"].get("Subscription") is None  # no alarm_email / low_urgency_email by default
    policies = level1.resources("AWS::SNS::TopicPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
        publish = next(s for s in statements if s["Effect"] == "Allow")
        assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert set(publish["Condition"]) == {"StringEquals", "ArnLike"}


def test_email_subscription_from_config(level1_own_kb: SynthResult) -> None:
    (sub,) = level1_own_kb.resources("AWS::SNS::Subscription").values()
    assert sub["Properties"]["Protocol"] == "email" and sub["Properties"]["Endpoint"] == "oncall@example.com"


def test_dashboard_shows_bedrock_app_api_lambda_and_logs(level1: SynthResult) -> None:
    body = _body(level1)
    for needle in (
        "AWS/Bedrock", "InvocationLatency", "InputTokenCount", "OutputTokenCount", "InvocationThrottles",
        t.METRIC_STAGE_LATENCY, t.METRIC_END_TO_END_LATENCY, t.METRIC_REQUEST_FAILURE, t.METRIC_INPUT_TOKENS,
        t.METRIC_OUTPUT_TOKENS, t.METRIC_RETRIEVAL_CACHE_HIT, t.METRIC_FEEDBACK_SCORE, "AWS/ApiGateway",
        "AWS/Lambda", '\\"type\\":\\"alarm\\"', "Recent errors", "Slowest requests", "Prompt properties", "p99",
        "error_class", "prompt.length", "retrieval.top_score", "pii_redactions",
    ):  # fmt: skip
        assert needle in body, needle
    for stage in t.STAGES:
        assert stage in body, stage
    outputs = level1.template(1)["Outputs"]
    url = next(o for k, o in outputs.items() if k.startswith("DashboardUrl"))
    assert "console.aws.amazon.com/cloudwatch" in json.dumps(url["Value"])


def test_invocation_logging_custom_resource(level1: SynthResult, level1_own_kb: SynthResult) -> None:
    (resource,) = level1.resources("Custom::BedrockInvocationLogging").values()
    props = resource["Properties"]
    assert props["ExistingConfiguration"] == "keep"
    config = props["LoggingConfig"]
    assert "logGroupName" in config["cloudWatchConfig"] and "roleArn" in config["cloudWatchConfig"]
    assert config["textDataDeliveryEnabled"] == "false"  # private by default (issue 15, item 10)
    assert "s3Config" not in config
    roles = level1.resources("AWS::IAM::Role")
    delivery = next(r for k, r in roles.items() if "InvocationLoggingDeliveryRole" in k)
    trust = delivery["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    groups = level1.resources("AWS::Logs::LogGroup")
    kept = [k for k, g in groups.items() if "InvocationLoggingLogs" in k]
    assert len(kept) == 1 and groups[kept[0]]["DeletionPolicy"] == "Retain"
    assert len(level1_own_kb.resources("Custom::BedrockInvocationLogging")) == 1  # on by default


def test_invocation_logging_can_be_turned_off(tmp_path: Path) -> None:
    from aws_cdk import App

    from llm_observability.config import ObservabilityConfig
    from llm_observability.stacks import FoundationStack

    stack = FoundationStack(App(outdir=str(tmp_path)), "S", config=ObservabilityConfig(invocation_logging=False, knowledge_base_id="KBID123456"))
    assert stack.invocation_logging is None
    assert not [c for c in stack.node.find_all() if c.node.id == "InvocationLogging"]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_dashboard_queries_are_well_formed(name: str) -> None:
    query = QUERIES[name]
    assert query.count("|") >= 1 and "\n" in query


def test_cost_and_total_tokens_are_metric_math_over_the_applications_token_metrics(level1: SynthResult) -> None:
    body = _body(level1)
    # amazon.nova-lite-v1:0 at the built-in price, USD per 1,000 input and output tokens
    assert "(FILL(in0, 0) * 0.00006 + FILL(out0, 0) * 0.00024) / 1000" in body
    assert "FILL(in0, 0) + FILL(out0, 0)" in body
    for dropped in ("EstimatedCostUSD", "TotalTokens", "InferenceLatency", "PromptLength", "RetrievedPassages",
                    "TopRetrievalScore", "PiiRedactions", "RetrievalCacheMiss", "FeedbackCount", "ErrorClass"):  # fmt: skip
        assert dropped not in body, dropped


def test_a_model_without_a_known_price_gets_no_cost_and_a_synth_warning(tmp_path: Path) -> None:
    from aws_cdk import App, CfnParameter, Stack
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Annotations, Match, Template

    from llm_observability.constructs.anomaly import AnomalyAlarms
    from llm_observability.constructs.dashboard import LlmDashboard
    from llm_observability.constructs.metrics import BedrockMetrics
    from llm_observability.errors import ConfigError
    from llm_observability.workload import Workload

    stack = Stack(App(outdir=str(tmp_path)), "Unpriced")
    token = CfnParameter(stack, "ModelId").value_as_string  # known only at deploy time
    workload = Workload(
        name="bot", model_ids=(token, "acme.private-v1"), alert_topic=sns.Topic(stack, "Topic"), telemetry="runtime"
    )  # the cost is math over the app's tokens
    LlmDashboard(stack, "Dashboard", workload=workload)
    anomalies = AnomalyAlarms(stack, "Anomalies", workload=workload)

    annotations = Annotations.from_stack(stack)
    annotations.has_warning("/Unpriced/Dashboard", Match.string_like_regexp("no estimated cost for .*acme.private-v1"))
    annotations.has_warning("/Unpriced/Anomalies", Match.string_like_regexp("tokens, not the cost, of .*acme.private-v1"))
    (dashboard,) = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    assert "USD" not in json.dumps(dashboard)
    costs = [s for s in anomalies.signals if s.name.startswith("CostAnomaly")]
    assert [s.description.split(" per ")[0] for s in costs] == [f"Tokens of {token}", "Tokens of acme.private-v1"]

    priced = BedrockMetrics(workload, prices={"acme.private-v1": {"input_per_1k": 0.5, "output_per_1k": 2}})
    assert priced.price_of(token) is None and priced.unpriced_models() == (token,)
    cost = priced.estimated_cost("acme.private-v1")
    assert cost is not None and cost.expression == "(FILL(in1, 0) * 0.5 + FILL(out1, 0) * 2.0) / 1000"
    assert priced.price_of("us.amazon.nova-pro-v1:0") == {"input_per_1k": 0.0008, "output_per_1k": 0.0032}
    with pytest.raises(ConfigError, match=r"^BedrockMetrics 'prices' is \[1\]: allowed is "):
        BedrockMetrics(workload, prices=[1])  # type: ignore[arg-type]
