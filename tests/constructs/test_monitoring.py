"""The monitoring account's constructs: OAM sink and links, estate dashboards (split within CloudWatch's quotas),
cross-account alarms and the estate composite.

One app, synthesized once with cdk-nag: the monitoring account 999999999999 in us-east-1 (a sink admitting three
accounts, dashboards of 60 sources, alarms over three sources with a cost alarm, a topic), the same account in
eu-west-1 (a sink admitting the organization), a dense variant whose dashboards split on the metrics quota, an
estate whose cost alarm cannot be built, and two source accounts' links (with and without logs).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT

MONITORING, REGION = "999999999999", "us-east-1"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU35 = "anthropic.claude-3-5-haiku-20241022-v1:0"
ACCOUNTS = ("111111111111", "222222222222", "333333333333")
ORG = "o-abc123defg"
SINK_ARN = f"arn:aws:oam:{REGION}:{MONITORING}:sink/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
STACKS = ("Monitoring", "MonitoringOrg", "Big", "Source", "SourceLogs")

#: Five monitoring and source stacks and 60-source dashboards: `make test` (CI) runs these, `make test-fast` not.
pytestmark = pytest.mark.slow


def _sources(count: int, models: tuple[str, ...] = (HAIKU,)) -> list[Any]:
    from llm_observability.constructs.monitoring import EstateSource

    return [
        EstateSource(
            account=f"{400000000000 + i // 3}", region=REGION, workload_name=f"app-{i}", model_ids=models,
            level=1 + i % 3,
        )
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Environment, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.alert_topic import AlertTopic
    from llm_observability.constructs.monitoring import (
        EstateAlarms,
        EstateDashboards,
        EstateSource,
        MonitoringSink,
        SourceLink,
    )
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("monitoring-account")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))

    def stack(name: str, account: str = MONITORING, region: str = REGION) -> Stack:
        return Stack(app, name, env=Environment(account=account, region=region))

    monitoring = stack("Monitoring")
    sink = MonitoringSink(monitoring, "Sink", source_accounts=[*ACCOUNTS, ACCOUNTS[0]])
    topic = AlertTopic(monitoring, "Alerts").topic
    dashboards = EstateDashboards(monitoring, "Dashboards", sources=_sources(60), dashboard_name_prefix="llm-estate")
    three = [
        EstateSource(account=ACCOUNTS[0], region=REGION, workload_name="chat", model_ids=(HAIKU, HAIKU35), level=2),
        EstateSource(account=ACCOUNTS[1], region=REGION, workload_name="search", model_ids=(HAIKU,)),
        EstateSource(account=ACCOUNTS[2], region=REGION, workload_name="chat", model_ids=(HAIKU35,), level=3),
    ]
    alarms = EstateAlarms(monitoring, "Alarms", sources=three, topic=topic, cost_threshold_usd_per_hour=12.5)
    org_sink = MonitoringSink(stack("MonitoringOrg", region="eu-west-1"), "Sink", organization_id=ORG)
    big = EstateAlarms(stack("Big"), "Alarms", sources=_sources(6), cost_threshold_usd_per_hour=1)
    SourceLink(stack("Source", ACCOUNTS[0]), "Link", sink_arn=SINK_ARN)
    SourceLink(stack("SourceLogs", ACCOUNTS[1]), "Link", sink_arn=SINK_ARN, share_logs=True,
               metric_namespaces=["AWS/Bedrock", "LLMObservability"])  # fmt: skip

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    assembly = app.synth()  # raises on an unacknowledged cdk-nag finding
    return {
        "files": {name: outdir / f"{name}.template.json" for name in STACKS},
        "templates": {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in STACKS},
        "messages": {name: assembly.get_stack_by_name(name).messages for name in STACKS},
        "sink": sink, "org_sink": org_sink, "dashboards": dashboards, "alarms": alarms, "big": big,
        "stack": monitoring, "topic": topic, "three": three,
    }  # fmt: skip


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _body(props: dict[str, Any]) -> dict[str, Any]:
    """A synthesized DashboardBody as JSON, the stack's region written in for its ``Ref``."""
    body = props["DashboardBody"]
    if isinstance(body, dict):
        body = "".join(p if isinstance(p, str) else REGION for p in body["Fn::Join"][1])
    return json.loads(body)


def _quotas(body: dict[str, Any]) -> tuple[int, int, int]:
    """Widgets, the most metrics of one widget, and metrics of the whole dashboard (every ``metrics`` entry)."""
    counts = [len(w["properties"].get("metrics", [])) for w in body["widgets"]]
    return len(counts), max(counts), sum(counts)


def _warnings(app: dict[str, Any], stack: str) -> list[str]:
    return [str(m.entry.data) for m in app["messages"][stack] if m.level.value == "WARNING"]


# ----------------------------------------------------------------------------------------------------------- gates
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.slow  # cfn-lint / a large synth: `make test` (CI) runs it
def test_cfn_lint_reports_nothing(app: dict[str, Any], stack: str) -> None:
    matches = lint_file(app["files"][stack], ManualArgs(regions=[REGION, "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_the_nag_gate_passes_without_any_acknowledgment(app: dict[str, Any]) -> None:
    for template in app["templates"].values():
        for resource in template["Resources"].values():
            assert "cdk_nag" not in json.dumps(resource.get("Metadata", {})), resource


# ----------------------------------------------------------------------------------------------------------- OAM
def test_the_sink_admits_exactly_the_source_accounts(app: dict[str, Any]) -> None:
    (props,) = _of_type(app["templates"]["Monitoring"], "AWS::Oam::Sink").values()
    assert props["Policy"] == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AccountLinks", "Principal": {"AWS": list(ACCOUNTS)}, "Effect": "Allow",
            "Action": ["oam:CreateLink", "oam:UpdateLink"], "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"oam:ResourceTypes": [
                "AWS::CloudWatch::Metric", "AWS::XRay::Trace", "AWS::Logs::LogGroup"]}},
        }],
    }  # fmt: skip
    assert app["sink"].source_accounts == ACCOUNTS  # the repeated account once


def test_the_org_sink_admits_the_organization(app: dict[str, Any]) -> None:
    (props,) = _of_type(app["templates"]["MonitoringOrg"], "AWS::Oam::Sink").values()
    (statement,) = props["Policy"]["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": ORG}
    assert statement["Action"] == ["oam:CreateLink", "oam:UpdateLink"]


def test_the_sink_arn_is_a_stack_output(app: dict[str, Any]) -> None:
    outputs = app["templates"]["Monitoring"]["Outputs"]
    (sink_id,) = _of_type(app["templates"]["Monitoring"], "AWS::Oam::Sink")
    sink_arn = [v for k, v in outputs.items() if k.startswith("SinkSinkArn")]
    assert sink_arn == [{"Description": sink_arn[0]["Description"], "Value": {"Fn::GetAtt": [sink_id, "Arn"]}}]


def test_links_share_metrics_and_traces_and_logs_only_when_asked(app: dict[str, Any]) -> None:
    from llm_observability.constructs.monitoring import LOGS_NOT_SHARED_INFO

    (plain,) = _of_type(app["templates"]["Source"], "AWS::Oam::Link").values()
    (logs,) = _of_type(app["templates"]["SourceLogs"], "AWS::Oam::Link").values()
    assert plain == {"ResourceTypes": ["AWS::CloudWatch::Metric", "AWS::XRay::Trace"], "SinkIdentifier": SINK_ARN,
                     "LabelTemplate": "$AccountName"}  # fmt: skip
    assert logs["ResourceTypes"] == ["AWS::CloudWatch::Metric", "AWS::XRay::Trace", "AWS::Logs::LogGroup"]
    assert logs["LinkConfiguration"] == {
        "MetricConfiguration": {"Filter": "Namespace IN ('AWS/Bedrock', 'LLMObservability')"}
    }
    infos = lambda stack: [str(m.entry.data) for m in app["messages"][stack] if m.level.value == "INFO"]
    assert LOGS_NOT_SHARED_INFO in infos("Source")
    assert LOGS_NOT_SHARED_INFO not in infos("SourceLogs")


# ---------------------------------------------------------------------------------------------------- dashboards
def test_sixty_sources_split_into_dashboards_within_the_quotas(app: dict[str, Any]) -> None:
    from llm_observability.constructs.monitoring import (
        MAX_METRICS_PER_DASHBOARD,
        MAX_METRICS_PER_WIDGET,
        MAX_WIDGETS_PER_DASHBOARD,
    )

    dashboards = _of_type(app["templates"]["Monitoring"], "AWS::CloudWatch::Dashboard")
    assert sorted(p["DashboardName"] for p in dashboards.values()) == ["llm-estate-1", "llm-estate-2", "llm-estate-3"]
    assert [len(page) for page in app["dashboards"].pages] == [20, 20, 20]
    headings: list[str] = []
    for props in dashboards.values():
        body = _body(props)
        widgets, widest, metrics = _quotas(body)
        assert widgets <= MAX_WIDGETS_PER_DASHBOARD and widest <= MAX_METRICS_PER_WIDGET
        assert metrics <= MAX_METRICS_PER_DASHBOARD
        headings += [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert len([h for h in headings if h.startswith("## app-")]) == 60  # every source once


def test_the_construct_counts_what_the_bodies_hold(app: dict[str, Any]) -> None:
    dashboards = _of_type(app["templates"]["Monitoring"], "AWS::CloudWatch::Dashboard")
    synthesized = [_quotas(_body(p)) for p in dashboards.values()]
    assert sorted((widgets, metrics) for widgets, _, metrics in synthesized) == sorted(app["dashboards"].counts)


def _block(widgets: int, metrics: int) -> Any:
    from llm_observability.constructs.monitoring.dashboards import _Block

    return _Block(source=_source(), rows=(), widgets=widgets, metrics=metrics)


def test_packing_splits_on_every_quota() -> None:
    from llm_observability.constructs.monitoring.dashboards import _pack

    sizes = lambda pages: [len(page) for page in pages]
    assert sizes(_pack([_block(8, 50)] * 60, 500)) == [50, 10]  # 50 x 50 = 2,500 metrics, the most a dashboard holds
    assert sizes(_pack([_block(8, 60)] * 60, 500)) == [41, 19]  # 41 x 60 = 2,460 metrics; a 42nd passes 2,500
    assert sizes(_pack([_block(100, 1)] * 6, 500)) == [4, 2]  # 4 x 100 widgets + the heading; a 5th passes 500
    assert sizes(_pack([_block(8, 10)] * 60, 25)) == [25, 25, 10]
    with pytest.raises(ConfigError, match="allowed are at most 2500 per dashboard"):
        _pack([_block(8, 2501)], 500)


def test_dashboard_metrics_are_read_in_the_source_accounts(app: dict[str, Any]) -> None:
    for props in _of_type(app["templates"]["Monitoring"], "AWS::CloudWatch::Dashboard").values():
        account = None
        for widget in _body(props)["widgets"]:
            if widget["type"] == "text":
                found = re.search(r"account (\d{12})", widget["properties"]["markdown"])
                account = found.group(1) if found else account
                continue
            for entry in widget["properties"]["metrics"]:
                options = entry[-1] if isinstance(entry[-1], dict) else {}
                if "expression" in options:
                    continue
                assert options["accountId"] == account and options["region"] == REGION, (widget, entry)


def test_rows_per_source_follow_its_level(app: dict[str, Any]) -> None:
    body = _body(next(iter(_of_type(app["templates"]["Monitoring"], "AWS::CloudWatch::Dashboard").values())))
    titles = [w["properties"].get("title") for w in body["widgets"]]
    # app-0 is Level 1: heading, 3 Bedrock graphs, success rate, latency, cost; app-1 (Level 2) adds quality
    start = titles.index("Bedrock invocations")
    assert titles[start : start + 6] == [
        "Bedrock invocations", "Bedrock latency, p90 (ms)", "Bedrock throttles and server errors",
        "Success rate (%)", "End-to-end latency (ms)", "Estimated cost (USD per period)",
    ]  # fmt: skip
    assert titles[start + 7 : start + 14][-1] == "Quality canary: ROUGE-L (0-1)"
    assert titles.count("Quality canary: ROUGE-L (0-1)") == len([s for s in app["dashboards"].pages[0] if s.level >= 2])


# -------------------------------------------------------------------------------------------------------- alarms
def _alarms(app: dict[str, Any], stack: str = "Monitoring") -> dict[str, dict[str, Any]]:
    return _of_type(app["templates"][stack], "AWS::CloudWatch::Alarm")


def test_one_metrics_insights_alarm_per_model_and_signal(app: dict[str, Any]) -> None:
    queries = sorted(
        m["Expression"]
        for p in _alarms(app).values()
        for m in p["Metrics"]
        if m.get("Expression", "").startswith("SELECT")
    )
    assert queries == sorted(
        f"SELECT SUM({name}) FROM SCHEMA(\"AWS/Bedrock\", ModelId) WHERE ModelId = '{model}'"
        for model in (HAIKU, HAIKU35) for name in ("InvocationThrottles", "InvocationServerErrors")
    )  # fmt: skip
    roles = sorted((r.role.value, r.severity.value) for r in app["alarms"].alarms)
    assert roles == sorted([("throttling", "high")] * 2 + [("model_health", "high")] * 2 + [("cost", "high")])


def test_member_alarms_notify_nothing_and_the_composite_notifies_the_topic(app: dict[str, Any]) -> None:
    for props in _alarms(app).values():
        assert not any(props.get(k) for k in ("AlarmActions", "OKActions", "InsufficientDataActions")), props
    (composite,) = _of_type(app["templates"]["Monitoring"], "AWS::CloudWatch::CompositeAlarm").values()
    topic_ref = {"Ref": app["stack"].resolve(app["topic"].node.default_child.logical_id)}
    assert composite["AlarmActions"] == [topic_ref] and composite["OKActions"] == [topic_ref]


def test_the_composite_rule_names_exactly_the_alarms(app: dict[str, Any]) -> None:
    (composite,) = _of_type(app["templates"]["Monitoring"], "AWS::CloudWatch::CompositeAlarm").values()
    parts = composite["AlarmRule"]["Fn::Join"][1]
    named = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict)]
    assert sorted(named) == sorted(_alarms(app)) and len(named) == 5
    assert all(p in ('(ALARM("', '") OR ALARM("', '"))') for p in parts if isinstance(p, str))


def test_the_cost_alarm_reads_every_source_account(app: dict[str, Any]) -> None:
    (cost,) = [p for p in _alarms(app).values() if p["AlarmName"].endswith("-EstimatedCost")]
    expression = next(m for m in cost["Metrics"] if m.get("ReturnData"))
    inputs = [m for m in cost["Metrics"] if "MetricStat" in m]
    # chat (2 models) in ACCOUNTS[0], search in [1], chat in [2]: 4 priced pairs, input and output tokens each
    assert sorted(m["AccountId"] for m in inputs) == sorted([ACCOUNTS[0]] * 4 + [ACCOUNTS[1]] * 2 + [ACCOUNTS[2]] * 2)
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in inputs} == {"InputTokens", "OutputTokens"}
    assert {m["MetricStat"]["Period"] for m in inputs} == {3600} and cost["Threshold"] == 12.5
    assert expression["Expression"].startswith("(FILL(i0, 0) * ") and expression["Expression"].endswith(") / 1000")


def test_what_the_big_estate_cannot_have_is_said_at_synth(app: dict[str, Any]) -> None:
    assert not [p for p in _alarms(app, "Big").values() if p["AlarmName"].endswith("-EstimatedCost")]
    (composite,) = _of_type(app["templates"]["Big"], "AWS::CloudWatch::CompositeAlarm").values()
    assert "AlarmActions" not in composite
    (warning,) = [w for w in _warnings(app, "Big") if "left out" in w]
    assert "estimated-cost alarm" in warning and "12 token metrics" in warning
    assert "Notifications of the estate composite alarm" in warning


# ------------------------------------------------------------------------------------------------------ bad props
@pytest.fixture(scope="module")
def scope() -> Any:
    from aws_cdk import App, Environment, Stack

    return Stack(App(), "Bad", env=Environment(account=MONITORING, region=REGION))


def _source(**overrides: Any) -> Any:
    from llm_observability.constructs.monitoring import EstateSource

    return EstateSource(**{"account": ACCOUNTS[0], "region": REGION, "workload_name": "chat", "model_ids": (HAIKU,),
                           **overrides})  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"account": "1234"}, "EstateSource 'account'"),
        ({"region": "moon-1"}, "EstateSource 'region'"),
        ({"level": 4}, "EstateSource 'level'"),
        ({"model_ids": ()}, "EstateSource 'model_ids'"),
        ({"model_ids": ("it's",)}, "EstateSource 'model_ids' holds"),
        ({"workload_name": "Bad Name"}, "Workload 'name'"),
    ],
)
def test_bad_sources_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _source(**overrides)


def test_bad_construct_props_are_refused(scope: Any) -> None:
    from llm_observability.constructs.monitoring import (
        EstateAlarms,
        EstateDashboards,
        MonitoringSink,
        SourceLink,
    )
    from llm_observability.thresholds import AlarmThresholds

    cases = [
        (lambda: MonitoringSink(scope, "S1"), "'source_accounts' and 'organization_id' are both empty"),
        (lambda: MonitoringSink(scope, "S2", source_accounts=["12"]), "MonitoringSink 'source_accounts'"),
        (lambda: MonitoringSink(scope, "S3", organization_id="org"), "MonitoringSink 'organization_id'"),
        (lambda: SourceLink(scope, "L1", sink_arn="arn:aws:s3:::bucket"), "SourceLink 'sink_arn'"),
        (lambda: SourceLink(scope, "L2", sink_arn=SINK_ARN.replace(REGION, "eu-west-1")), "a sink in eu-west-1"),
        (lambda: SourceLink(scope, "L3", sink_arn=SINK_ARN, label_template="$Name"), "SourceLink 'label_template'"),
        (lambda: SourceLink(scope, "L4", sink_arn=SINK_ARN, share_logs="yes"), "SourceLink 'share_logs'"),
        (lambda: SourceLink(scope, "L5", sink_arn=SINK_ARN, metric_namespaces=["it's"]),
         "SourceLink 'metric_namespaces'"),
        (lambda: EstateDashboards(scope, "D1", sources=[]), "EstateDashboards 'sources'"),
        (lambda: EstateDashboards(scope, "D2", sources=[_source(), _source()]), "names workload chat"),
        (lambda: EstateDashboards(scope, "D3", sources=[_source(region="eu-west-1")]), "are in eu-west-1"),
        (lambda: EstateDashboards(scope, "D4", sources=[_source()], dashboard_name_prefix="a b"),
         "'dashboard_name_prefix'"),
        (lambda: EstateDashboards(scope, "D5", sources=[_source()], sources_per_dashboard=0),
         "'sources_per_dashboard'"),
        (lambda: EstateAlarms(scope, "A1", sources=[_source()], cost_threshold_usd_per_hour=-1),
         "'cost_threshold_usd_per_hour'"),
        (lambda: EstateAlarms(scope, "A2", sources=[_source()], thresholds=AlarmThresholds(evaluation_periods=37)),
         "latest 3 hours"),
    ]  # fmt: skip
    for make, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            make()
