"""CostGuard: Bedrock budget with forecast, Cost Anomaly Detection, and the topic/key grants they need.

One app, synthesized once: stack ``CostGuardAlerts`` holds an AlertTopic and a CostGuard that creates the
anomaly monitor (with an e-mail subscriber); stack ``CostGuardAdopters`` holds two CostGuards on that
same topic that adopt a monitor, one by literal ARN, one by the first guard's monitor ARN (cross-stack).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT

MONITOR_ARN = "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
CLAUDE = "Claude 3.5 Sonnet (Amazon Bedrock Edition)"
BUDGET = "AWS::Budgets::Budget"
MONITOR = "AWS::CE::AnomalyMonitor"
SUBSCRIPTION = "AWS::CE::AnomalySubscription"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.alert_topic import AlertTopic
    from llm_observability.constructs.cost_guard import CostGuard
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("cost-guard")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    alerts_stack = Stack(app, "CostGuardAlerts")
    alerts = AlertTopic(alerts_stack, "Alerts")
    created = CostGuard(
        alerts_stack, "CostGuard", topic=alerts.topic, monthly_budget_usd=250, warning_percent=75,
        email="finops@example.com", anomaly_threshold_usd=25.5,
    )  # fmt: skip
    adopters = Stack(app, "CostGuardAdopters")
    adopted = CostGuard(
        adopters, "Adopted", topic=alerts.topic, topic_key=alerts.key, monthly_budget_usd=50,
        anomaly_monitor_arn=MONITOR_ARN,
    )  # fmt: skip
    shared = CostGuard(
        adopters, "Shared", topic=alerts.topic, monthly_budget_usd=1_000_000, services=("Amazon Bedrock", CLAUDE),
        net_of_credits=True, anomaly_monitor_arn=created.monitor_arn, anomaly_threshold_usd=1e6,
    )  # fmt: skip

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    app.synth()  # raises RuntimeError("...ValidationFailed...") on an unacknowledged cdk-nag finding
    stacks = {"alerts": alerts_stack, "adopters": adopters}
    return {
        "outdir": outdir,
        "files": {k: outdir / f"{s.artifact_id}.template.json" for k, s in stacks.items()},
        "templates": {
            k: json.loads((outdir / f"{s.artifact_id}.template.json").read_text()) for k, s in stacks.items()
        },
        "guards": {"created": created, "adopted": adopted, "shared": shared},
        "stacks": stacks,
        "topic_ref": {"Ref": alerts_stack.resolve(alerts.topic.node.default_child.logical_id)},
    }


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _resource(app: dict[str, Any], stack: str, guard: str, cfn_type: str) -> dict[str, Any]:
    """The one resource of ``cfn_type`` that the guard with construct id ``guard`` put in ``stack``."""
    found = [v for k, v in _of_type(app["templates"][stack], cfn_type).items() if k.startswith(guard)]
    assert len(found) == 1, (guard, cfn_type, found)
    return found[0]["Properties"]


def _from_alerts_stack(value: Any) -> bool:
    """A cross-stack reference to the alerts stack (an export, or a stack output with newer feature flags)."""
    text = json.dumps(value)
    return "Fn::ImportValue" in text or ("Fn::GetStackOutput" in text and "CostGuardAlerts" in text)


def _logical_id(construct: Any) -> str:
    from aws_cdk import Stack

    return Stack.of(construct).resolve(construct.logical_id)


# --- security gate -----------------------------------------------------------------------------------


def test_cdk_nag_reports_nothing(app: dict[str, Any]) -> None:
    report = json.loads((app["outdir"] / "validation-report.json").read_text())
    assert report["pluginReports"] == []


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
@pytest.mark.parametrize("stack", ["alerts", "adopters"])
def test_cfn_lint_reports_nothing(app: dict[str, Any], stack: str) -> None:
    matches = lint_file(app["files"][stack], ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_the_gate_passes_without_any_acknowledgment(app: dict[str, Any]) -> None:
    from aws_cdk import Validations

    for guard in app["guards"].values():
        for node in guard.node.find_all():
            assert [m for m in node.node.metadata if m.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY] == []


# --- AWS Budgets -------------------------------------------------------------------------------------


def test_budget_is_a_monthly_usd_cost_budget_on_bedrock_usage(app: dict[str, Any]) -> None:
    budget = _resource(app, "alerts", "CostGuard", BUDGET)["Budget"]
    assert budget["BudgetType"] == "COST"
    assert budget["TimeUnit"] == "MONTHLY"
    assert budget["BudgetLimit"] == {"Amount": 250, "Unit": "USD"}
    assert budget["Metrics"] == ["UnblendedCost"]  # FilterExpression budgets need an explicit metric
    assert "CostFilters" not in budget and "CostTypes" not in budget  # deprecated since 2025-04-18
    assert "TimePeriod" not in budget  # starts with the current month; keeps the template deterministic
    assert budget["FilterExpression"] == {
        "And": [
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
            {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}},
        ]
    }


def test_services_and_net_of_credits_shape_the_filter(app: dict[str, Any]) -> None:
    budget = _resource(app, "adopters", "Shared", BUDGET)["Budget"]
    assert budget["FilterExpression"] == {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock", CLAUDE]}}
    assert budget["BudgetLimit"] == {"Amount": 1_000_000, "Unit": "USD"}


def test_budget_notifies_warning_actual_and_forecast_to_topic_and_email(app: dict[str, Any]) -> None:
    topic = app["topic_ref"]
    notifications = _resource(app, "alerts", "CostGuard", BUDGET)["NotificationsWithSubscribers"]
    assert [n["Notification"] for n in notifications] == [
        {
            "NotificationType": kind,
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": threshold,
            "ThresholdType": "PERCENTAGE",
        }
        for kind, threshold in [("ACTUAL", 75), ("ACTUAL", 100), ("FORECASTED", 100)]
    ]
    for n in notifications:
        assert n["Subscribers"] == [
            {"SubscriptionType": "SNS", "Address": topic},
            {"SubscriptionType": "EMAIL", "Address": "finops@example.com"},
        ]


def test_budget_without_email_notifies_the_topic_only_with_default_warning(app: dict[str, Any]) -> None:
    notifications = _resource(app, "adopters", "Adopted", BUDGET)["NotificationsWithSubscribers"]
    assert [n["Notification"]["Threshold"] for n in notifications] == [80, 100, 100]
    for n in notifications:
        (subscriber,) = n["Subscribers"]
        assert subscriber["SubscriptionType"] == "SNS"
        assert _from_alerts_stack(subscriber["Address"])  # the topic lives in the other stack


def test_budget_and_subscription_wait_for_the_topic_policy(app: dict[str, Any]) -> None:
    template = app["templates"]["alerts"]
    (policy_id,) = _of_type(template, "AWS::SNS::TopicPolicy")
    for cfn_type in (BUDGET, SUBSCRIPTION):
        ((_, resource),) = _of_type(template, cfn_type).items()
        assert resource["DependsOn"] == [policy_id]  # the Ref to the topic covers the topic itself
    adopters = app["stacks"]["adopters"]
    assert app["stacks"]["alerts"] in adopters.dependencies  # cross-stack: the whole topic stack first


# --- Cost Anomaly Detection --------------------------------------------------------------------------


def test_exactly_one_dimensional_service_monitor_is_created(app: dict[str, Any]) -> None:
    monitors = [m for t in app["templates"].values() for m in _of_type(t, MONITOR).values()]
    assert len(monitors) == 1
    props = monitors[0]["Properties"]
    assert props["MonitorType"] == "DIMENSIONAL" and props["MonitorDimension"] == "SERVICE"
    assert "MonitorSpecification" not in props  # not allowed for SERVICE monitors
    assert monitors[0].get("DeletionPolicy") is None  # this stack created it, so it may delete it


def test_subscription_is_immediate_to_the_topic_with_an_absolute_threshold(app: dict[str, Any]) -> None:
    guard = app["guards"]["created"]
    props = _resource(app, "alerts", "CostGuard", SUBSCRIPTION)
    assert props["Frequency"] == "IMMEDIATE"  # the only frequency that can notify SNS
    assert props["Subscribers"] == [{"Type": "SNS", "Address": app["topic_ref"]}]
    assert props["MonitorArnList"] == [{"Fn::GetAtt": [_logical_id(guard.monitor), "MonitorArn"]}]
    assert "Threshold" not in props  # deprecated in favour of ThresholdExpression
    assert json.loads(props["ThresholdExpression"]) == {
        "Dimensions": {
            "Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
            "MatchOptions": ["GREATER_THAN_OR_EQUAL"],
            "Values": ["25.5"],
        }
    }


def test_adopting_a_monitor_creates_none_and_subscribes_the_given_arn(app: dict[str, Any]) -> None:
    assert _of_type(app["templates"]["adopters"], MONITOR) == {}
    adopted = app["guards"]["adopted"]
    assert adopted.monitor is None and adopted.monitor_arn == MONITOR_ARN
    props = _resource(app, "adopters", "Adopted", SUBSCRIPTION)
    assert props["MonitorArnList"] == [MONITOR_ARN]
    assert json.loads(props["ThresholdExpression"])["Dimensions"]["Values"] == ["10"]  # the default


def test_a_monitor_arn_token_from_another_stack_is_adopted(app: dict[str, Any]) -> None:
    props = _resource(app, "adopters", "Shared", SUBSCRIPTION)
    (arn,) = props["MonitorArnList"]
    assert _from_alerts_stack(arn) and "MonitorArn" in json.dumps(arn)
    assert json.loads(props["ThresholdExpression"])["Dimensions"]["Values"] == ["1000000"]  # never 1e+06


# --- permissions on the topic and its key ------------------------------------------------------------


def _topic_statements(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ((_, policy),) = _of_type(app["templates"]["alerts"], "AWS::SNS::TopicPolicy").items()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return {s["Principal"]["Service"]: s for s in statements if "Service" in s.get("Principal", {})}


def _services_of(statement: dict[str, Any]) -> list[str]:
    services = statement["Principal"].get("Service", []) if isinstance(statement["Principal"], dict) else []
    return services if isinstance(services, list) else [services]


def _arn_pattern(join: dict[str, Any]) -> str:
    return "".join(p if isinstance(p, str) else "${" + p["Ref"] + "}" for p in join["Fn::Join"][1])


@pytest.mark.parametrize(
    ("service", "source_arn"),
    [
        ("budgets.amazonaws.com", "arn:${AWS::Partition}:budgets::${AWS::AccountId}:*"),
        ("costalerts.amazonaws.com", "arn:${AWS::Partition}:ce::${AWS::AccountId}:anomalysubscription/*"),
    ],
)
def test_topic_policy_lets_the_service_of_this_account_publish(
    app: dict[str, Any], service: str, source_arn: str
) -> None:
    statement = _topic_statements(app)[service]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert _arn_pattern(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == source_arn


def test_three_guards_on_one_topic_add_each_statement_once(app: dict[str, Any]) -> None:
    ((_, policy),) = _of_type(app["templates"]["alerts"], "AWS::SNS::TopicPolicy").items()
    services = [
        s["Principal"]["Service"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "Service" in s.get("Principal", {})
    ]
    assert sorted(services) == ["budgets.amazonaws.com", "cloudwatch.amazonaws.com", "costalerts.amazonaws.com"]


@pytest.mark.parametrize("service", ["budgets.amazonaws.com", "costalerts.amazonaws.com"])
def test_kms_key_policy_lets_the_service_use_the_topic_key(app: dict[str, Any], service: str) -> None:
    ((_, key),) = _of_type(app["templates"]["alerts"], "AWS::KMS::Key").items()
    grants = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if service in _services_of(s)]
    assert len(grants) == 1  # statements may be merged by principal (minimizePolicies)
    assert grants[0]["Effect"] == "Allow"
    assert sorted(grants[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # Only for publishers of this account (#15 item 12).
    assert grants[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


# --- names -------------------------------------------------------------------------------------------


def test_names_are_unique_across_instances_and_regions(app: dict[str, Any]) -> None:
    budgets = [
        b["Properties"]["Budget"]["BudgetName"] for t in app["templates"].values() for b in _of_type(t, BUDGET).values()
    ]
    subscriptions = [
        s["Properties"]["SubscriptionName"]
        for t in app["templates"].values()
        for s in _of_type(t, SUBSCRIPTION).values()
    ]
    for names in (budgets, subscriptions):
        assert len(names) == 3 and len({json.dumps(n) for n in names}) == 3
        for name in names:  # account-wide resources: the region is part of the name
            assert {"Ref": "AWS::Region"} in name["Fn::Join"][1]
            prefix = name["Fn::Join"][1][0]
            assert ":" not in prefix and "\\" not in prefix and len(prefix) + len("ap-southeast-7") <= 100


def test_attributes(app: dict[str, Any]) -> None:
    from aws_cdk import aws_budgets as budgets
    from aws_cdk import aws_ce as ce

    created = app["guards"]["created"]
    assert isinstance(created.budget, budgets.CfnBudget)
    assert isinstance(created.monitor, ce.CfnAnomalyMonitor)
    assert isinstance(created.subscription, ce.CfnAnomalySubscription)
    assert created.monitor_arn == created.monitor.attr_monitor_arn


# --- bad input ---------------------------------------------------------------------------------------


BUDGET_RANGE = "allowed is a number above 0 and at most 1,000,000,000."
PERCENT_RANGE = "allowed is a number from 0.1 to below 100."
THRESHOLD_RANGE = "allowed is a number above 0 and at most 10,000,000,000."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"monthly_budget_usd": -5}, f"CostGuard 'monthly_budget_usd' is -5: {BUDGET_RANGE}"),
        ({"monthly_budget_usd": 0}, f"CostGuard 'monthly_budget_usd' is 0: {BUDGET_RANGE}"),
        ({"monthly_budget_usd": 2e9}, f"CostGuard 'monthly_budget_usd' is 2000000000.0: {BUDGET_RANGE}"),
        ({"monthly_budget_usd": math.nan}, f"CostGuard 'monthly_budget_usd' is nan: {BUDGET_RANGE}"),
        ({"monthly_budget_usd": "100"}, f"CostGuard 'monthly_budget_usd' is '100': {BUDGET_RANGE}"),
        ({"monthly_budget_usd": True}, f"CostGuard 'monthly_budget_usd' is True: {BUDGET_RANGE}"),
        ({"warning_percent": 100}, f"CostGuard 'warning_percent' is 100: {PERCENT_RANGE}"),
        ({"warning_percent": 0}, f"CostGuard 'warning_percent' is 0: {PERCENT_RANGE}"),
        ({"warning_percent": 0.05}, f"CostGuard 'warning_percent' is 0.05: {PERCENT_RANGE}"),
        ({"anomaly_threshold_usd": 0}, f"CostGuard 'anomaly_threshold_usd' is 0: {THRESHOLD_RANGE}"),
        ({"anomaly_threshold_usd": -1.5}, f"CostGuard 'anomaly_threshold_usd' is -1.5: {THRESHOLD_RANGE}"),
        ({"anomaly_threshold_usd": math.inf}, f"CostGuard 'anomaly_threshold_usd' is inf: {THRESHOLD_RANGE}"),
        (
            {"email": "nope"},
            "CostGuard 'email' is 'nope': allowed is empty or one e-mail address such as oncall@example.com.",
        ),
        (
            {"services": []},
            (
                "CostGuard 'services' is []: allowed is a list of one or more Cost Explorer service names such as "
                "'Amazon Bedrock'."
            ),
        ),
        (
            {"services": "Amazon Bedrock"},
            (
                "CostGuard 'services' is 'Amazon Bedrock': allowed is a list of one or more Cost Explorer service "
                "names such as 'Amazon Bedrock'."
            ),
        ),
        (
            {"services": ("Amazon Bedrock", " ")},
            (
                "CostGuard 'services' is ('Amazon Bedrock', ' '): allowed is a list of one or more Cost Explorer "
                "service names such as 'Amazon Bedrock'."
            ),
        ),
        (
            {"anomaly_monitor_arn": "arn:aws:ce::123:anomalymonitor/abc"},
            (
                "CostGuard 'anomaly_monitor_arn' is 'arn:aws:ce::123:anomalymonitor/abc': allowed is empty (create a "
                "monitor) or an anomaly monitor ARN such as "
                "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789."
            ),
        ),
        (
            {"anomaly_monitor_arn": "arn:aws:ce::123456789012:anomalysubscription/0a1b2c3d"},
            (
                "CostGuard 'anomaly_monitor_arn' is 'arn:aws:ce::123456789012:anomalysubscription/0a1b2c3d': allowed "
                "is empty (create a monitor) or an anomaly monitor ARN such as "
                "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789."
            ),
        ),
    ],
)
def test_bad_input_fails_with_one_sentence(scratch: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    from llm_observability.constructs.cost_guard import CostGuard

    args = {"topic": scratch["topic"], "monthly_budget_usd": 100, **kwargs}
    with pytest.raises(ConfigError) as raised:
        CostGuard(scratch["stack"], "Guard", **args)  # the same id each time: a rejected guard leaves no node
    assert str(raised.value) == message


def test_valid_edges_are_accepted(scratch: dict[str, Any]) -> None:
    from aws_cdk import Token

    from llm_observability.constructs.cost_guard import CostGuard

    guard = CostGuard(
        scratch["stack"], "Edges", topic=scratch["topic"], monthly_budget_usd=1_000_000_000, warning_percent=0.1,
        anomaly_threshold_usd=10_000_000_000, anomaly_monitor_arn=Token.as_string({"Ref": "MonitorArnParameter"}),
    )  # fmt: skip
    assert guard.monitor is None


def test_an_empty_monitor_arn_creates_a_monitor(scratch: dict[str, Any]) -> None:
    from llm_observability.constructs.cost_guard import CostGuard

    guard = CostGuard(
        scratch["stack"], "EmptyArn", topic=scratch["topic"], monthly_budget_usd=5, anomaly_monitor_arn=""
    )
    assert guard.monitor is not None and guard.monitor_arn == guard.monitor.attr_monitor_arn


def test_an_imported_topic_is_rejected(scratch: dict[str, Any]) -> None:
    from aws_cdk import aws_sns as sns

    from llm_observability.constructs.cost_guard import CostGuard

    imported = sns.Topic.from_topic_arn(scratch["stack"], "Imported", "arn:aws:sns:us-east-1:123456789012:theirs")
    with pytest.raises(ConfigError, match="^The alert topic is imported, so budgets.amazonaws.com cannot be allowed"):
        CostGuard(scratch["stack"], "OnImported", topic=imported, monthly_budget_usd=10)


@pytest.fixture(scope="module")
def scratch() -> dict[str, Any]:
    """A stack that is never synthesized, for input that must fail (or pass) at construction."""
    from aws_cdk import App, Stack

    from llm_observability.constructs.alert_topic import AlertTopic

    stack = Stack(App(), "Scratch")
    return {"stack": stack, "topic": AlertTopic(stack, "Alerts").topic}
