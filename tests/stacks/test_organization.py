"""The organization app (issue 17 item 2): one stage per target at its own level, the monitoring stages, the OAM
links, ``organization_services`` and the gates (cdk-nag over every stage, cfn-lint over every template)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Stage
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.config import ObservabilityConfig
from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT, scrub

MONITOR = "999999999999"
A, B, C = "111111111111", "222222222222", "333333333333"
EAST, WEST = "us-east-1", "eu-west-1"
SINK_EAST = f"arn:aws:oam:{EAST}:{MONITOR}:sink/a1b2c3d4-0000-1111-2222-333344445555"
#: 3 accounts x 2 regions, Levels 1, 2 and 3 mixed; the sink ARN of one region only.
TARGETS = [
    {"account": A, "region": EAST, "level": 1},
    {"account": B, "region": EAST, "level": 2},
    {"account": C, "region": EAST, "level": 1},
    {"account": A, "region": WEST, "level": 1},
    {"account": B, "region": WEST, "level": 3},
]
#: Account B is at Level 2+ in both regions: one Cost Anomaly Detection services monitor per account, adopted by both.
MONITOR_B = f"arn:aws:ce::{B}:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
MONITORING = {"account": MONITOR, "sink_arns": {EAST: SINK_EAST}, "alarm_email": "estate@example.com"}
LEVEL_STACKS = {1: ["rag-demo-l1-foundation"], 2: ["rag-demo-l1-foundation", "rag-demo-l2-proactive"],
                3: ["rag-demo-l1-foundation", "rag-demo-l2-proactive", "rag-demo-l3-aiops"]}  # fmt: skip


class Synth:
    """The organization app synthesized: stages by id, each stage's stacks by name, templates by (stage, stack)."""

    def __init__(self, app: App) -> None:
        self.app = app
        app.synth()  # raises on any unacknowledged cdk-nag finding, in any stage
        self.stages: dict[str, Stage] = {c.node.id: c for c in app.node.children if isinstance(c, Stage)}
        self.stacks = {
            sid: {s.stack_name: s for s in stage.node.children if isinstance(s, Stack)}
            for sid, stage in self.stages.items()
        }
        self.outdir = Path(app.outdir)

    def path(self, stage: str, stack: str) -> Path:
        return Path(self.stages[stage].outdir) / f"{self.stacks[stage][stack].artifact_id}.template.json"

    def template(self, stage: str, stack: str) -> dict[str, Any]:
        return json.loads(self.path(stage, stack).read_text())

    def resources(self, stage: str, stack: str, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template(stage, stack)["Resources"].items() if v["Type"] == cfn_type}


def _app(outdir: Path, **context: Any) -> App:
    from llm_observability.stacks import build_app

    app = App(context={**CDK_CONTEXT, **context}, outdir=str(outdir))
    build_app(app)
    return app


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The 3-account, 2-region estate with a monitoring account, delegated-administrator services (``level`` set to
    3 in the context, which the targets do not use)."""
    app = _app(
        tmp_path_factory.mktemp("org"), targets=TARGETS, monitoring=MONITORING,
        organization_services="delegated_admin", level=3, cost_anomaly_monitor_arn=MONITOR_B,
    )  # fmt: skip
    return Synth(app)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _notes(stack: Stack, level: str) -> list[str]:
    """The ``aws:cdk:<level>`` annotations on ``stack`` itself (read from the tree: no second synthesis)."""
    return [str(m.data) for m in stack.node.metadata if m.type == f"aws:cdk:{level}"]


def _stage(target: dict[str, Any]) -> str:
    return f"t-{target['account']}-{target['region']}"


# ------------------------------------------------------------------------------------------------ fast: plumbing
def test_two_targets_at_level1_make_two_stages_and_one_monitoring_stage(tmp_path: Path) -> None:
    """Construction only (no synth): the stages, their environments and stacks, the link, per-account singletons."""
    from llm_observability.constructs.transaction_search import TransactionSearch

    monitoring = {"account": MONITOR, "region": EAST, "organization_id": "o-abcdefghij", "sink_arns": {EAST: SINK_EAST}}
    targets = [{"account": A, "region": EAST, "level": 1}, {"account": B, "region": "us-west-2", "level": 1}]
    app = _app(tmp_path, targets=targets, monitoring=monitoring, share_logs=True)
    stages = {c.node.id: c for c in app.node.children if isinstance(c, Stage)}
    assert sorted(stages) == [f"m-{MONITOR}-{EAST}", f"t-{A}-{EAST}", f"t-{B}-us-west-2"]
    assert not [c for c in app.node.children if isinstance(c, Stack)]  # every stack is in a stage
    names = {sid: sorted(s.stack_name for s in st.node.children if isinstance(s, Stack)) for sid, st in stages.items()}
    assert names == {
        f"t-{A}-{EAST}": ["rag-demo-l1-foundation", "rag-demo-oam-link"],
        f"t-{B}-us-west-2": ["rag-demo-l1-foundation"],  # its region has no sink: no link
        f"m-{MONITOR}-{EAST}": ["rag-demo-monitoring"],
    }
    for sid, stage in stages.items():
        account, region = sid[2:14], sid[15:]
        assert (stage.account, stage.region) == (account, region)
        for stack in stage.node.children:
            if isinstance(stack, Stack):
                assert (stack.account, stack.region) == (account, region), stack.node.path
    link_stack = stages[f"t-{A}-{EAST}"].node.find_child("rag-demo-oam-link")
    assert link_stack.link.resource_types == ("AWS::CloudWatch::Metric", "AWS::XRay::Trace", "AWS::Logs::LogGroup")
    assert stages[f"m-{MONITOR}-{EAST}"].stack.sink.organization_id == "o-abcdefghij"
    # per_account: each target creates its singletons as the single-environment app does.
    foundation = stages[f"t-{A}-{EAST}"].node.find_child("rag-demo-l1-foundation")
    assert [c for c in foundation.node.find_all() if isinstance(c, TransactionSearch)][0].mode == "create"
    assert stages[f"t-{A}-{EAST}"].config.security_hub == "create"


@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
def test_without_targets_the_app_is_the_single_environment_one(tmp_path: Path) -> None:
    app = _app(tmp_path, level=2)
    assert [type(c).__name__ for c in app.node.children if isinstance(c, (Stack, Stage))] == [
        "FoundationStack", "ProactiveStack",
    ]  # fmt: skip
    assert [c.stack_name for c in app.node.children if isinstance(c, Stack)] == LEVEL_STACKS[2]


def test_delegated_admin_targets_adopt_the_account_singletons() -> None:
    from llm_observability.config.organization import Target
    from llm_observability.stacks.organization import target_config

    user = ObservabilityConfig(organization_services="delegated_admin", invocation_logging_existing="replace")
    own = target_config(user, Target(account=A, region=EAST, level=3))
    assert (own.level, own.security_hub, own.config_recorder, own.devops_guru_coverage) == (
        3,
        "adopt",
        "adopt",
        "adopt",
    )
    assert (own.transaction_search_existing, own.invocation_logging_existing) == ("adopt", "keep")
    assert own.security_standards == ()
    assert target_config(ObservabilityConfig(), Target(account=A, region=EAST, level=2)).security_hub == "create"


def test_account_wide_singletons_are_created_once_per_account() -> None:
    from llm_observability.stacks.organization import account_wide_owners, target_config

    config = ObservabilityConfig(targets=TARGETS, cost_anomaly_monitor_arn=MONITOR_B)
    owners = account_wide_owners(config)
    assert {a: (t.region, t.level) for a, t in owners.items()} == {B: (EAST, 2)}  # B's first target at Level 2+
    (west_b,) = [t for t in config.target_list if (t.account, t.region) == (B, WEST)]
    assert target_config(config, west_b, account_wide=False).cloudtrail is False  # the east trail is multi-region
    (east_a,) = [t for t in config.target_list if (t.account, t.region) == (A, EAST)]
    assert target_config(config, east_a).cost_anomaly_monitor_arn == ""  # B's monitor is not A's
    assert target_config(config, west_b).cost_anomaly_monitor_arn == MONITOR_B
    with pytest.raises(ConfigError, match=rf"account {B} at Level 2 or 3 in {EAST} and {WEST}.*one per account"):
        account_wide_owners(ObservabilityConfig(targets=TARGETS))


def test_a_monitoring_region_without_targets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Setting 'monitoring' lists the region ap-south-1, where no target"):
        _app(tmp_path, targets=TARGETS[:1], monitoring={"account": MONITOR, "regions": [EAST, "ap-south-1"]})


@pytest.mark.slow  # a synthesis with cdk-nag and a cfn-lint run: about 15 s
def test_monitoring_stack_aggregates_the_organization_with_a_role(tmp_path: Path) -> None:
    """delegated_admin with an organization id: the Config aggregator reads the organization through its role; the
    finding aggregator links the other regions; the sink admits the organization (cdk-nag and cfn-lint clean)."""
    from aws_cdk import Environment, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.monitoring import EstateSource
    from llm_observability.stacks.organization import Aggregation, MonitoringStack

    app = App(context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")}, outdir=str(tmp_path))
    stack = MonitoringStack(
        app, "Monitoring", env=Environment(account=MONITOR, region=EAST),
        sources=[EstateSource(account=A, region=EAST, workload_name="rag-demo", model_ids=("amazon.nova-lite-v1:0",))],
        organization_id="o-abcdefghij",
        aggregation=Aggregation(accounts=(A, B), regions=(EAST, WEST, "ap-south-1"), organization_id="o-abcdefghij"),
    )  # fmt: skip
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    template = json.loads((tmp_path / f"{stack.artifact_id}.template.json").read_text())
    by_type = {v["Type"]: v["Properties"] for v in template["Resources"].values()}
    source = by_type["AWS::Config::ConfigurationAggregator"]["OrganizationAggregationSource"]
    assert source["AwsRegions"] == ["ap-south-1", WEST, EAST]
    (role_id,) = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"]
    assert source["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    role = by_type["AWS::IAM::Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "config.amazonaws.com"}
    assert "service-role/AWSConfigRoleForOrganizations" in json.dumps(role["ManagedPolicyArns"])
    assert by_type["AWS::SecurityHub::FindingAggregator"] == {
        "RegionLinkingMode": "SPECIFIED_REGIONS", "Regions": ["ap-south-1", WEST],
    }  # fmt: skip
    statements = by_type["AWS::Oam::Sink"]["Policy"]["Statement"]
    assert [s["Condition"]["StringEquals"]["aws:PrincipalOrgID"] for s in statements] == ["o-abcdefghij"]
    matches = lint_file(tmp_path / f"{stack.artifact_id}.template.json", ManualArgs(regions=[EAST]))
    assert [str(m) for m in matches] == []


# ------------------------------------------------------------------------------------- the 3-account, 2-region estate
@pytest.mark.slow  # the module fixture synthesizes 5 targets (one at Level 3) and 2 monitoring stages: about a minute
def test_one_stage_per_target_with_its_environment_and_level_stacks(org: Synth) -> None:
    expected = {_stage(t): LEVEL_STACKS[t["level"]] for t in TARGETS}
    expected[_stage(TARGETS[0])] = [*LEVEL_STACKS[1], "rag-demo-oam-link"]
    expected[_stage(TARGETS[1])] = [*LEVEL_STACKS[2], "rag-demo-oam-link"]
    expected[_stage(TARGETS[2])] = [*LEVEL_STACKS[1], "rag-demo-oam-link"]
    expected |= {f"m-{MONITOR}-{EAST}": ["rag-demo-monitoring"], f"m-{MONITOR}-{WEST}": ["rag-demo-monitoring"]}
    assert {sid: sorted(stacks) for sid, stacks in org.stacks.items()} == {k: sorted(v) for k, v in expected.items()}
    for sid, stacks in org.stacks.items():
        account, region = sid[2:14], sid[15:]
        assert all((s.account, s.region) == (account, region) for s in stacks.values()), sid
    topics = org.resources(_stage(TARGETS[4]), "rag-demo-l1-foundation", "AWS::SNS::Topic").values()
    for topic in topics:  # the App's tags reach into the stages (each stage has its own)
        tags = {t["Key"]: t["Value"] for t in topic["Properties"]["Tags"]}
        assert {"Project": "llm-observability", "Workload": "rag-demo", "MaturityLevel": "1"}.items() <= tags.items()


@pytest.mark.slow
def test_level_in_the_context_is_said_to_be_unused(org: Synth) -> None:
    for target in TARGETS:
        stack = org.stacks[_stage(target)]["rag-demo-l1-foundation"]
        assert (
            f"Setting 'level' (3) is not used with 'targets': each target's own level applies (here {target['level']})."
            in _notes(stack, "info")
        )


@pytest.mark.slow
def test_monitoring_stages_hold_sink_dashboards_alarms_and_the_estate_composite(org: Synth) -> None:
    for region, accounts in ((EAST, [A, B, C]), (WEST, [A, B])):
        stage = f"m-{MONITOR}-{region}"
        template = org.template(stage, "rag-demo-monitoring")
        (sink,) = org.resources(stage, "rag-demo-monitoring", "AWS::Oam::Sink").values()
        (statement,) = sink["Properties"]["Policy"]["Statement"]
        assert statement["Principal"] == {"AWS": accounts}  # exactly that region's targets' accounts
        assert "SinkArn" in json.dumps(list(template["Outputs"]))
        (dashboard,) = org.resources(stage, "rag-demo-monitoring", "AWS::CloudWatch::Dashboard").values()
        body = json.dumps(dashboard["Properties"]["DashboardBody"])
        assert all(f'\\"accountId\\":\\"{a}\\"' in body for a in accounts), region
        alarms = org.resources(stage, "rag-demo-monitoring", "AWS::CloudWatch::Alarm")
        assert alarms and all(not a["Properties"].get("AlarmActions") for a in alarms.values())
        queries = [q["Expression"] for a in alarms.values() for q in a["Properties"]["Metrics"] if "Expression" in q]
        assert any("SUM(InvocationThrottles)" in q and "amazon.nova-lite-v1:0" in q for q in queries)
        (composite,) = org.resources(stage, "rag-demo-monitoring", "AWS::CloudWatch::CompositeAlarm").values()
        rule = json.dumps(composite["Properties"]["AlarmRule"])
        assert all(k in rule for k in alarms), region  # over every cross-account alarm of the region
        (topic_id,) = org.resources(stage, "rag-demo-monitoring", "AWS::SNS::Topic")
        assert composite["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        (subscription,) = org.resources(stage, "rag-demo-monitoring", "AWS::SNS::Subscription").values()
        assert subscription["Properties"]["Endpoint"] == "estate@example.com"
    west = json.dumps(org.template(f"m-{MONITOR}-{WEST}", "rag-demo-monitoring"))
    assert "amazon.nova-micro-v1:0" in west  # the Level 3 target's fallback model is watched too


@pytest.mark.slow
def test_links_exist_where_the_sink_is_known_and_a_warning_says_the_deploy_order_elsewhere(org: Synth) -> None:
    for target in TARGETS:
        stage = _stage(target)
        if target["region"] == EAST:
            (link,) = org.resources(stage, "rag-demo-oam-link", "AWS::Oam::Link").values()
            assert link["Properties"]["SinkIdentifier"] == SINK_EAST
            assert link["Properties"]["ResourceTypes"] == ["AWS::CloudWatch::Metric", "AWS::XRay::Trace"]
        else:
            assert "rag-demo-oam-link" not in org.stacks[stage]
            (warning,) = _notes(org.stacks[stage]["rag-demo-l1-foundation"], "warning")
            assert re.search(
                rf"OAM link to the monitoring account's sink in {WEST} \(needs setting 'monitoring.sink_arns': "
                rf"deploy the monitoring stage first \(cdk deploy 'm-{MONITOR}-{WEST}/\*'\).*then deploy the targets",
                warning,
            ), warning


@pytest.mark.slow
def test_delegated_admin_adopts_in_targets_and_aggregates_in_the_monitoring_account(org: Synth) -> None:
    level2 = org.template(_stage(TARGETS[1]), "rag-demo-l2-proactive")
    types = {v["Type"] for v in level2["Resources"].values()}
    assert not {"AWS::SecurityHub::Hub", "AWS::SecurityHub::Standard", "AWS::Config::ConfigurationRecorder"} & types
    west_b = org.template(_stage(TARGETS[4]), "rag-demo-l2-proactive")["Resources"].values()
    assert "AWS::CloudTrail::Trail" not in {v["Type"] for v in west_b}  # account B's trail is the east one
    assert "AWS::CloudTrail::Trail" in types
    for level2_stack in (level2, org.template(_stage(TARGETS[4]), "rag-demo-l2-proactive")):
        subscriptions = [v for v in level2_stack["Resources"].values() if v["Type"] == "AWS::CE::AnomalySubscription"]
        assert [s["Properties"]["MonitorArnList"] for s in subscriptions] == [[MONITOR_B]]
    level3 = org.template(_stage(TARGETS[4]), "rag-demo-l3-aiops")
    assert "AWS::DevOpsGuru::ResourceCollection" not in {v["Type"] for v in level3["Resources"].values()}
    for target in TARGETS:
        foundation = org.template(_stage(target), "rag-demo-l1-foundation")
        assert "AWS::XRay::TransactionSearchConfig" not in {v["Type"] for v in foundation["Resources"].values()}
        (auth,) = org.resources(
            _stage(target), "rag-demo-l1-foundation", "AWS::Config::AggregationAuthorization"
        ).values()
        assert (auth["Properties"]["AuthorizedAccountId"], auth["Properties"]["AuthorizedAwsRegion"]) == (MONITOR, EAST)
    home = org.resources(f"m-{MONITOR}-{EAST}", "rag-demo-monitoring", "AWS::Config::ConfigurationAggregator")
    (aggregator,) = home.values()
    assert aggregator["Properties"]["AccountAggregationSources"] == [
        {"AccountIds": [A, B, C], "AwsRegions": [WEST, EAST]}
    ]
    (finding,) = org.resources(
        f"m-{MONITOR}-{EAST}", "rag-demo-monitoring", "AWS::SecurityHub::FindingAggregator"
    ).values()
    assert finding["Properties"] == {"RegionLinkingMode": "SPECIFIED_REGIONS", "Regions": [WEST]}
    other = org.template(f"m-{MONITOR}-{WEST}", "rag-demo-monitoring")["Resources"].values()
    assert not {"AWS::Config::ConfigurationAggregator", "AWS::SecurityHub::FindingAggregator"} & {
        v["Type"] for v in other
    }


@pytest.mark.slow
def test_cdk_nag_checks_every_stage_and_finds_nothing(org: Synth, tmp_path: Path) -> None:
    report = json.loads((org.outdir / "validation-report.json").read_text())
    assert [p["pluginName"] for p in report["pluginReports"] if p["pluginName"] != "Construct Annotations"] == []
    # Negative control: an unencrypted topic in a target's stage fails the App's cdk-nag plugin.
    from aws_cdk import aws_sns as sns

    app = _app(tmp_path, targets=TARGETS[:1])
    sns.Topic(Stack(app.node.find_child(_stage(TARGETS[0])), "Extra"), "Unencrypted")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    failed = json.loads((tmp_path / "validation-report.json").read_text())
    paths = {
        c["constructPath"] for p in failed["pluginReports"] for v in p["violations"] for c in v["violatingConstructs"]
    }
    assert f"{_stage(TARGETS[0])}/Extra/Unencrypted/Resource" in paths


@pytest.mark.slow
def test_cfn_lint_is_clean_on_every_template(org: Synth) -> None:
    for sid, stacks in org.stacks.items():
        for name, stack in stacks.items():
            matches = lint_file(org.path(sid, name), ManualArgs(regions=[stack.region]))
            assert [str(m) for m in matches] == [], f"{sid}/{name}"


@pytest.mark.slow
def test_snapshot_monitoring_stack(org: Synth, snapshot_json) -> None:
    assert scrub(org.template(f"m-{MONITOR}-{EAST}", "rag-demo-monitoring")) == snapshot_json
