"""WorkloadHealth and add_health_alarm: one composite per workload names exactly its high-severity alarms, pages,
and is suppressed while a runbook heals; the member alarms stop paging (low-severity ones move to a low-urgency topic).

Two apps, synthesized once each for the module:

- ``reference``: the reference app's Levels 1-3 as the bundled app builds them (Foundation, Proactive, AiOps with
  the runbooks), the health alarm added on the top stack by ``add_health_alarm`` with a suppressor alarm of the
  user's, cdk-nag on;
- ``theirs``: someone else's app (an HTTP API in front of a function calling InvokeModel, no EMF) observed at Level 1
  from constructs, without a low-urgency topic, its health alarm made with ``WorkloadHealth`` directly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT

USER_ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:deployment-in-progress"
THEIR_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
STACKS = ("foundation", "proactive", "aiops")

#: The level 1-3 reference app and user-shaped apps: `make test` (CI) runs these, `make test-fast` does not.
pytestmark = pytest.mark.slow


def _config(**overrides: Any) -> Any:
    from llm_observability import ObservabilityConfig

    return ObservabilityConfig(
        level=3, health_suppressor_alarm_arn=USER_ALARM, prometheus_export=False, log_analytics="off",
        low_urgency_email="oncall-digest@example.com", **overrides,
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bundled app at Level 3 built by ``build_app`` (which adds the health alarm to the top stack), with a
    suppressor alarm of the user's and a low-urgency e-mail."""
    from aws_cdk import App, Stack

    from llm_observability.stacks import build_app
    from llm_observability.stacks.health import HEALTH_ID

    outdir = tmp_path_factory.mktemp("health")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    build_app(app, config=_config())  # cdk-nag registered: synth raises on an unacknowledged finding
    app.synth()
    foundation, proactive, aiops = (c for c in app.node.children if isinstance(c, Stack))
    health = aiops.node.find_child(HEALTH_ID)
    stacks = dict(zip(STACKS, (foundation, proactive, aiops), strict=True))
    files = {name: outdir / f"{stack.artifact_id}.template.json" for name, stack in stacks.items()}
    return {
        "outdir": outdir, "files": files, "stacks": stacks, "health": health, "workload": aiops.workload,
        "templates": {name: json.loads(path.read_text()) for name, path in files.items()},
    }  # fmt: skip


@pytest.fixture(scope="module")
def theirs() -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Annotations, Template

    from llm_observability import AlertTopic, LlmAlarms, Workload
    from llm_observability.constructs.health_alarm import WorkloadHealth

    app = App(context=CDK_CONTEXT)
    stack = Stack(app, "TheirBot")
    log_group = logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.ONE_MONTH)
    function = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", log_group=log_group,
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {'statusCode': 200}\n"),
    )  # fmt: skip
    api = apigwv2.HttpApi(stack, "Api", default_integration=integrations.HttpLambdaIntegration("Fn", function))
    alerts = AlertTopic(stack, "Alerts")
    workload = Workload.from_function(
        function, name="their-bot", model_ids=(THEIR_MODEL,), log_group=log_group, http_api=api,
        metric_namespace="TheirApp",
    ).with_alert_topic(alerts.topic, key=alerts.key)  # fmt: skip
    workload = workload.with_alarms(LlmAlarms(stack, "Alarms", workload=workload).roled_alarms)
    health = WorkloadHealth(stack, "Health", workload=workload)
    template = Template.from_stack(stack).to_json()
    warnings = Annotations.from_stack(stack).find_warning("*", _any())
    return {"stack": stack, "health": health, "workload": workload, "template": template, "warnings": warnings}


def _any() -> Any:
    from aws_cdk.assertions import Match

    return Match.any_value()


# --- helpers ------------------------------------------------------------------------------------------------------
def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _id(construct: Any) -> str:
    from aws_cdk import Stack

    return Stack.of(construct).resolve(construct.node.default_child.logical_id)


def rule_terms(rule: Any) -> list[Any]:
    """The alarms an AlarmRule names with ``ALARM("...")``, each as rendered (a string or an intrinsic)."""
    parts = rule["Fn::Join"][1] if isinstance(rule, dict) else [rule]
    tokens: list[Any] = []
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        else:
            text += f"@@{len(tokens)}@@"
            tokens.append(part)
    assert re.fullmatch(r'\(ALARM\("[^"]+"\)(?: OR ALARM\("[^"]+"\))*\)', text), text  # only ALARM(...) OR ...
    terms = re.findall(r'ALARM\("([^"]+)"\)', text)
    return [tokens[int(t[2:-2])] if re.fullmatch(r"@@\d+@@", t) else t for t in terms]


def named_alarm(term: Any, candidates: dict[str, Any]) -> str:
    """The logical id of the one candidate alarm whose ARN ``term`` is (a GetAtt, or a stack output of one)."""
    text = json.dumps(term)
    found = [lid for lid in candidates if f'["{lid}", "Arn"]' in text or f"FnGetAtt{lid}Arn" in text]
    assert len(found) == 1, (term, found)
    return found[0]


def _member_alarms(reference: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every metric alarm of the three stacks, by logical id."""
    return {lid: props for name in STACKS for lid, props in _of_type(reference["templates"][name], "AWS::CloudWatch::Alarm").items()}  # fmt: skip


# --- the rule ---------------------------------------------------------------------------------------------------------
def test_the_rule_names_exactly_the_workload_s_high_severity_alarms(reference: dict[str, Any]) -> None:
    from llm_observability.constructs.alarm_factory import Severity

    health = reference["health"]
    composite = _of_type(reference["templates"]["aiops"], "AWS::CloudWatch::CompositeAlarm")[_id(health.alarm)]
    named = [named_alarm(t, _member_alarms(reference)) for t in rule_terms(composite["AlarmRule"])]
    high = [_id(a) for a in reference["workload"].alarms_for(severity=Severity.HIGH)]
    assert len(high) >= 8 and sorted(named) == sorted(high)  # each once, no low-severity alarm, no other alarm
    assert {_id(a) for a in reference["workload"].alarms_for(severity=Severity.LOW)}.isdisjoint(named)
    assert health.groups == []  # a dozen alarms fit one rule
    assert composite["AlarmDescription"].startswith(f"[high] rag-demo is unhealthy: one of its {len(high)} high")


def test_it_pages_on_the_alert_topic_and_opens_the_opsitem(reference: dict[str, Any]) -> None:
    template = reference["templates"]["aiops"]
    composite = _of_type(template, "AWS::CloudWatch::CompositeAlarm")[_id(reference["health"].alarm)]
    topic = _id(reference["stacks"]["foundation"].alert_topic.topic)
    sns_action, ops_item = composite["AlarmActions"]
    assert topic in json.dumps(sns_action) and composite["OKActions"] == [sns_action]
    assert ":opsitem:2#CATEGORY=Availability" in json.dumps(ops_item)  # a HIGH OpsItem (Level 2 and up)


def test_the_suppressor_is_healing_or_the_user_s_alarm(reference: dict[str, Any]) -> None:
    template = reference["templates"]["aiops"]
    composites = _of_type(template, "AWS::CloudWatch::CompositeAlarm")
    health = composites[_id(reference["health"].alarm)]
    (suppressor_id,) = [k for k in composites if k != _id(reference["health"].alarm)]
    assert health["ActionsSuppressor"] == {"Fn::GetAtt": [suppressor_id, "Arn"]}
    assert (health["ActionsSuppressorWaitPeriod"], health["ActionsSuppressorExtensionPeriod"]) == (180, 900)
    suppressor = composites[suppressor_id]
    healing = _id(reference["stacks"]["aiops"].healing_alarm)
    assert rule_terms(suppressor["AlarmRule"]) == [{"Fn::GetAtt": [healing, "Arn"]}, USER_ALARM]
    assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(suppressor)  # it only suppresses
    # The healing alarm is the runbooks' (the metric every runbook document puts), on the workload's namespace.
    alarm = _of_type(template, "AWS::CloudWatch::Alarm")[healing]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("LLMObservability", "HealingInProgress")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "rag-demo"}]


# --- the members --------------------------------------------------------------------------------------------------------
def test_the_workload_s_alarms_do_not_page_and_notify_the_low_urgency_topic(reference: dict[str, Any]) -> None:
    foundation = reference["stacks"]["foundation"]
    alert, low = _id(foundation.alert_topic.topic), _id(foundation.low_urgency_topic.topic)
    alarms = _member_alarms(reference)
    roled = [_id(r.alarm) for r in reference["workload"].roled_alarms]
    assert len(roled) >= 20 and sorted(_id(a) for a in reference["health"].demoted) == sorted(roled)
    for lid in roled:
        props = alarms[lid]
        for state in ("AlarmActions", "OKActions"):
            (action,) = props[state]  # exactly one: the low-urgency topic
            text = json.dumps(action)
            assert low in text and alert not in text and ":opsitem:" not in text, (lid, state, text)
    # Level 2 had bound OpsItems to Level 1's high-severity alarms: those are gone too, with every other OpsItem.
    assert not [lid for lid in roled if ":opsitem:" in json.dumps(alarms[lid])]


def test_the_low_urgency_topic_is_an_encrypted_alert_topic_with_its_subscriber(reference: dict[str, Any]) -> None:
    foundation = reference["stacks"]["foundation"]
    template = reference["templates"]["foundation"]
    topic = _of_type(template, "AWS::SNS::Topic")[_id(foundation.low_urgency_topic.topic)]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [_id(foundation.low_urgency_topic.key), "Arn"]}
    subscriptions = _of_type(template, "AWS::SNS::Subscription").values()
    assert {"Protocol": "email", "Endpoint": "oncall-digest@example.com"}.items() <= next(
        s for s in subscriptions if s["TopicArn"] == {"Ref": _id(foundation.low_urgency_topic.topic)}
    ).items()
    assert reference["workload"].low_urgency_topic is foundation.low_urgency_topic.topic


def test_alarms_outside_the_workload_keep_paging(reference: dict[str, Any]) -> None:
    runbooks = reference["stacks"]["aiops"].runbooks
    alarm = _of_type(reference["templates"]["aiops"], "AWS::CloudWatch::Alarm")[_id(runbooks.dead_letter_alarm)]
    assert _id(reference["stacks"]["foundation"].alert_topic.topic) in json.dumps(alarm["AlarmActions"])


# --- gates --------------------------------------------------------------------------------------------------------------
def test_cdk_nag_reports_nothing(reference: dict[str, Any]) -> None:
    report = json.loads((reference["outdir"] / "validation-report.json").read_text())
    assert report["pluginReports"] == []


@pytest.mark.parametrize("stack", ["foundation", "aiops"])
@pytest.mark.slow  # cfn-lint / a large synth: `make test` (CI) runs it
def test_cfn_lint_reports_nothing(reference: dict[str, Any], stack: str) -> None:
    matches = lint_file(reference["files"][stack], ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


# --- someone else's app -------------------------------------------------------------------------------------------------
def test_their_workload_gets_a_health_alarm_over_what_it_has(theirs: dict[str, Any]) -> None:
    from llm_observability.constructs.alarm_factory import Severity

    template = theirs["template"]
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    (composite,) = _of_type(template, "AWS::CloudWatch::CompositeAlarm").values()
    high = sorted(_id(a) for a in theirs["workload"].alarms_for(severity=Severity.HIGH))
    assert high and sorted(named_alarm(t, alarms) for t in rule_terms(composite["AlarmRule"])) == high
    topic = {"Ref": _id(theirs["workload"].alert_topic)}
    assert composite["AlarmActions"][0] == topic and composite["OKActions"] == [topic]
    assert ":opsitem:" in json.dumps(composite["AlarmActions"][1])  # the construct's default page: SNS + OpsItem
    assert "ActionsSuppressor" not in composite  # no runbooks, no suppressor
    # No low-urgency topic: the members notify nothing at all; the low-severity alarms keep their notification.
    for r in theirs["workload"].roled_alarms:
        if r.severity is Severity.HIGH:
            assert not {"AlarmActions", "OKActions"} & set(alarms[_id(r.alarm)]), _id(r.alarm)
        else:
            assert alarms[_id(r.alarm)]["AlarmActions"] == [topic], _id(r.alarm)
    assert theirs["warnings"] == [] or all("health-alarm" not in json.dumps(w.entry.data) for w in theirs["warnings"])


# --- construct rules -----------------------------------------------------------------------------------------------------
@pytest.fixture
def bare() -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns

    from llm_observability import Workload

    stack = Stack(App(), "Bare")
    function = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )  # fmt: skip
    workload = Workload.from_function(function, name="bare", model_ids=(THEIR_MODEL,))
    metric = cw.Metric(namespace="X", metric_name="Y")
    return {"stack": stack, "workload": workload, "topic": sns.Topic(stack, "Topic"), "metric": metric}


def _roled(alarm: Any, severity: str = "high") -> Any:
    from llm_observability.constructs.alarm_factory import AlarmRole, RoledAlarm, Severity

    return RoledAlarm(alarm=alarm, role=AlarmRole.AVAILABILITY, severity=Severity(severity))


def test_no_high_severity_alarm_is_a_config_error_for_the_construct_and_left_out_for_the_setting(
    bare: dict[str, Any],
) -> None:
    from aws_cdk import aws_cloudwatch as cw

    from llm_observability.constructs.health_alarm import WorkloadHealth
    from llm_observability.left_out import left_out
    from llm_observability.stacks.health import add_health_alarm

    low = cw.Alarm(bare["stack"], "Low", metric=bare["metric"], threshold=1, evaluation_periods=1)
    workload = bare["workload"].with_alert_topic(bare["topic"]).with_alarms([_roled(low, "low")])
    with pytest.raises(ConfigError, match=r"^WorkloadHealth 'workload.roled_alarms' of workload 'bare' has no high"):
        WorkloadHealth(bare["stack"], "Health", workload=workload)
    bare["stack"].workload = workload
    assert add_health_alarm(bare["stack"], _config()) is None
    assert [item.field for item in left_out(bare["stack"])] == ["roled_alarms"]
    assert add_health_alarm(bare["stack"], _config(health_alarm=False)) is None


def test_a_missing_topic_or_a_paging_low_urgency_topic_is_refused(bare: dict[str, Any]) -> None:
    from aws_cdk import aws_cloudwatch as cw

    from llm_observability.constructs.health_alarm import WorkloadHealth

    alarm = cw.Alarm(bare["stack"], "High", metric=bare["metric"], threshold=1, evaluation_periods=1)
    workload = bare["workload"].with_alarms([_roled(alarm)])
    with pytest.raises(ConfigError, match=r"^WorkloadHealth 'workload.alert_topic' is missing"):
        WorkloadHealth(bare["stack"], "NoTopic", workload=workload)
    same = workload.with_alert_topic(bare["topic"]).with_low_urgency_topic(bare["topic"])
    with pytest.raises(ConfigError, match=r"^WorkloadHealth 'workload.low_urgency_topic' is the alert topic"):
        WorkloadHealth(bare["stack"], "Same", workload=same)


@pytest.mark.slow  # cfn-lint / a large synth: `make test` (CI) runs it
def test_too_many_alarms_for_one_rule_are_grouped_and_imported_ones_are_reported(bare: dict[str, Any]) -> None:
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk.assertions import Annotations, Template

    from llm_observability.constructs.health_alarm import MAX_RULE_ALARMS, MAX_RULE_LENGTH, WorkloadHealth, rule_length

    stack = bare["stack"]
    prefix = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
    imported = [cw.Alarm.from_alarm_arn(stack, f"I{n}", f"{prefix}{'x' * 200}-{n}") for n in range(150)]
    own = cw.Alarm(stack, "Own", metric=bare["metric"], threshold=1, evaluation_periods=1)
    workload = bare["workload"].with_alert_topic(bare["topic"]).with_alarms([_roled(a) for a in [*imported, own]])
    health = WorkloadHealth(stack, "Health", workload=workload)

    assert len(health.groups) > 1 and all(rule_length(chunk) <= MAX_RULE_LENGTH for chunk in [imported[:30]])
    template = Template.from_stack(stack).to_json()
    composites = _of_type(template, "AWS::CloudWatch::CompositeAlarm")
    top = composites[_id(health.alarm)]
    groups = [composites[_id(g)] for g in health.groups]
    assert [t["Fn::GetAtt"][0] for t in rule_terms(top["AlarmRule"])] == [_id(g) for g in health.groups]
    named: list[Any] = []
    for group in groups:
        terms = rule_terms(group["AlarmRule"])
        rendered = json.dumps(group["AlarmRule"])
        assert len(terms) <= MAX_RULE_ALARMS and len(rendered) <= MAX_RULE_LENGTH
        assert "AlarmActions" not in group and "OKActions" not in group  # the top one pages
        named += terms
    assert named[:150] == [a.alarm_arn for a in imported] and named[150] == {"Fn::GetAtt": [_id(own), "Arn"]}
    assert health.demoted == [own] and health.not_demoted == imported
    (warning,) = Annotations.from_stack(stack).find_warning("*", _any())
    assert "could not demote 150 alarm(s)" in json.dumps(warning.entry.data)
