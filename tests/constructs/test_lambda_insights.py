"""CloudWatch Lambda Insights on a workload's functions (constructs/lambda_insights.py): the layer per region and
architecture from aws-cdk-lib's region facts, the mapping of an environment-agnostic stack, the write access scoped to
``/aws/lambda-insights``, the log group created or adopted, what is left out or refused, the widgets and a snapshot.

One app is synthesized for the module (with cdk-nag, so an unacknowledged finding fails it) and linted with cfn-lint;
the error cases build constructs without synthesis.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT, scrub
from tests.support.functions import inline_function

MODEL_ID = "amazon.nova-lite-v1:0"
#: The design's reading of aws-cdk-lib 2.275's region facts for version 1.0.498.0 in us-east-1.
US_EAST_1_X86 = "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:60"
US_EAST_1_ARM = "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension-Arm64:25"
ACCOUNT = "123456789012"
STACKS = ("Virginia", "Ireland", "Anywhere", "Snapshot")


def _workload(*functions: Any) -> Any:
    from llm_observability.workload import Workload

    return Workload(name="insights", model_ids=(MODEL_ID,), functions=tuple(functions))


def _function(stack: Any, id: str, **options: Any) -> Any:
    """The user's function: the newest runtime, its basic execution role acknowledged (it is not this construct's)."""
    from aws_cdk import aws_lambda as lambda_

    return _theirs(inline_function(stack, id, runtime=lambda_.Runtime.PYTHON_3_14, **options))


def _theirs(fn: Any) -> Any:
    """``fn`` with the AWS-managed basic execution role of aws-cdk-lib's default acknowledged (the user's choice)."""
    from llm_observability.nag import acknowledge

    acknowledge(fn, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "The test app's own function, as a user brings it: not what FunctionInsights creates.")  # fmt: skip
    return fn


def _arm(stack: Any, id: str, **options: Any) -> Any:
    from aws_cdk import aws_lambda as lambda_

    return _function(stack, id, architecture=lambda_.Architecture.ARM_64, **options)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Environment, Stack, Validations
    from aws_cdk import aws_ecr as ecr
    from aws_cdk import aws_lambda as lambda_
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.lambda_insights import FunctionInsights
    from llm_observability.hygiene import NoRedundantDependsOn
    from llm_observability.left_out import left_out

    outdir = tmp_path_factory.mktemp("lambda-insights")
    app = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    # Each stack its own account: the /aws/lambda-insights groups created in two of them never meet.
    virginia = Stack(app, "Virginia", env=Environment(account=ACCOUNT, region="us-east-1"))
    imported = lambda_.Function.from_function_name(virginia, "Imported", "someone-elses-function")
    repository = ecr.Repository.from_repository_name(virginia, "Repo", "bot")
    image = _theirs(lambda_.DockerImageFunction(virginia, "Image", code=lambda_.DockerImageCode.from_ecr(repository)))
    x86, arm = _function(virginia, "X86"), _arm(virginia, "Arm")
    virginia_insights = FunctionInsights(virginia, "Insights", workload=_workload(x86, arm, imported, image))
    ireland = Stack(app, "Ireland", env=Environment(account="210987654321", region="eu-west-1"))
    adopted = FunctionInsights(
        ireland, "Insights", workload=_workload(_function(ireland, "X86")), log_group_mode="adopt"
    )
    anywhere = Stack(app, "Anywhere")
    FunctionInsights(anywhere, "Insights", workload=_workload(_function(anywhere, "X86"), _arm(anywhere, "Arm")))
    snapshot = Stack(app, "Snapshot", env=Environment(account="111111111111", region="us-east-1"))
    FunctionInsights(snapshot, "Subject", workload=_workload(_function(snapshot, "App")))
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    return {
        "files": {name: outdir / f"{name}.template.json" for name in STACKS},
        "templates": {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in STACKS},
        "virginia": virginia_insights,
        "ireland": adopted,
        "left_out": [item.feature for item in left_out(virginia)],
        "info": [
            str(m.entry.data) for m in assembly.get_stack_artifact("Ireland").messages if m.entry.type == "aws:cdk:info"
        ],  # fmt: skip
    }


def _resources(template: dict[str, Any], cfn_type: str, prefix: str = "") -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type and k.startswith(prefix)}


def _layers(template: dict[str, Any], prefix: str) -> Any:
    (fn,) = _resources(template, "AWS::Lambda::Function", prefix).values()
    return fn["Properties"].get("Layers")


def _statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for p in _resources(template, "AWS::IAM::Policy", prefix).values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


# --- layers ----------------------------------------------------------------------------------------------------------
def test_the_layer_matches_the_region_facts_for_each_architecture(app: dict[str, Any]) -> None:
    from aws_cdk.region_info import RegionInfo

    from llm_observability.constructs.lambda_insights import INSIGHTS_VERSION

    virginia, ireland = app["templates"]["Virginia"], app["templates"]["Ireland"]
    assert _layers(virginia, "X86") == [US_EAST_1_X86]
    assert _layers(virginia, "Arm") == [US_EAST_1_ARM]
    assert _layers(ireland, "X86") == [
        RegionInfo.get("eu-west-1").cloudwatch_lambda_insights_arn(INSIGHTS_VERSION, "x86_64")
    ]
    assert "LambdaInsightsExtension" in _layers(ireland, "X86")[0]


def test_the_table_is_every_region_fact_of_the_version() -> None:
    from aws_cdk.region_info import RegionInfo

    from llm_observability.constructs.lambda_insights import INSIGHTS_VERSION, layer_arns

    table = layer_arns()
    assert table["us-east-1"] == {"x86_64": US_EAST_1_X86, "arm64": US_EAST_1_ARM}
    assert "arm64" not in table["ap-east-2"] and "x86_64" in table["ap-east-2"]
    for region in RegionInfo.regions:
        for arch in ("x86_64", "arm64"):
            assert table.get(region.name, {}).get(arch) == region.cloudwatch_lambda_insights_arn(INSIGHTS_VERSION, arch)
    assert len(table) >= 30


def test_an_environment_agnostic_stack_looks_the_layer_up_in_one_mapping(app: dict[str, Any]) -> None:
    from llm_observability.constructs.lambda_insights import layer_arns

    template = app["templates"]["Anywhere"]
    (mapping,) = template["Mappings"].values()
    assert template["Mappings"] == {"LambdaInsightsLayerArns": mapping}
    assert mapping["us-east-1"] == {"x8664": US_EAST_1_X86, "arm64": US_EAST_1_ARM}  # keys are alphanumeric
    assert {
        r: {k.replace("x8664", "x86_64"): v for k, v in arns.items()} for r, arns in mapping.items()
    } == layer_arns()
    for prefix, arch in (("X86", "x8664"), ("Arm", "arm64")):
        assert _layers(template, prefix) == [
            {"Fn::FindInMap": ["LambdaInsightsLayerArns", {"Ref": "AWS::Region"}, arch]}
        ]


def test_an_architecture_without_a_layer_in_the_region_is_refused() -> None:
    from aws_cdk import App, Environment, Stack

    from llm_observability.constructs.lambda_insights import FunctionInsights

    stack = Stack(App(), "HongKong2", env=Environment(account=ACCOUNT, region="ap-east-2"))
    fn = _arm(stack, "Arm")
    with pytest.raises(ConfigError) as raised:
        FunctionInsights(stack, "Insights", workload=_workload(fn), log_group_mode="adopt")
    assert str(raised.value) == (
        "FunctionInsights 'workload.functions' holds HongKong2/Arm on arm64 in ap-east-2, where AWS publishes no Lambda "
        "Insights layer 1.0.498.0 for arm64: allowed is a function on x86_64 there, or Lambda Insights left off "
        "(setting lambda_insights=false)."
    )
    assert fn.node.try_find_child("Resource") is not None and not _function_layers(fn)


def _function_layers(fn: Any) -> list[Any]:
    from llm_observability.constructs.otel import function_property

    return function_property(fn, "layers") or []


def test_a_sixth_layer_is_refused_naming_the_function() -> None:
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.lambda_insights import FunctionInsights

    stack = Stack(App(), "Full", env=Environment(account=ACCOUNT, region="us-east-1"))
    layers = [
        lambda_.LayerVersion.from_layer_version_arn(stack, f"L{i}", f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:l{i}:1")
        for i in range(5)
    ]
    four = inline_function(stack, "Four", layers=layers[:4])
    five = inline_function(stack, "Five", layers=layers)
    FunctionInsights(stack, "Fits", workload=_workload(four), log_group_mode="adopt")
    assert len(_function_layers(four)) == 5  # the fifth is Lambda Insights
    with pytest.raises(ConfigError) as raised:
        FunctionInsights(stack, "Refused", workload=_workload(five), log_group_mode="adopt")
    assert str(raised.value) == (
        "FunctionInsights 'workload.functions' holds Full/Five, which has 5 layers already: allowed is a function with "
        "at most 4 layers, as Lambda takes 5 (remove one, or leave Lambda Insights off with lambda_insights=false)."
    )
    assert len(_function_layers(five)) == 5


def test_a_region_without_any_layer_is_refused() -> None:
    from aws_cdk import App, Environment, Stack

    from llm_observability.constructs.lambda_insights import FunctionInsights

    stack = Stack(App(), "Iso", env=Environment(account=ACCOUNT, region="us-iso-east-1"))
    with pytest.raises(
        ConfigError, match=r"in us-iso-east-1, .*: allowed is another region, or Lambda Insights left off"
    ):
        FunctionInsights(stack, "Insights", workload=_workload(inline_function(stack, "Fn")), log_group_mode="adopt")


@pytest.mark.parametrize("region", ["us-east-1", None])
def test_a_function_with_insights_already_gets_no_second_layer(region: str | None) -> None:
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.lambda_insights import FunctionInsights

    stack = Stack(App(), "Twice", env=Environment(account=ACCOUNT, region=region) if region else None)
    theirs = inline_function(stack, "Theirs", insights_version=lambda_.LambdaInsightsVersion.VERSION_1_0_498_0)
    ours = inline_function(stack, "Ours")
    first = FunctionInsights(stack, "First", workload=_workload(theirs, ours), log_group_mode="adopt")
    second = FunctionInsights(stack, "Second", workload=_workload(ours), log_group_mode="adopt")
    assert len(_function_layers(theirs)) == 1 and len(_function_layers(ours)) == 1
    assert first.functions == [theirs, ours] and second.functions == [ours]


# --- left out, log group, IAM ----------------------------------------------------------------------------------------
def test_imported_and_image_functions_are_left_out_and_not_observed(app: dict[str, Any]) -> None:
    assert app["left_out"] == ["Lambda Insights on Virginia/Imported", "Lambda Insights on Virginia/Image"]
    insights = app["virginia"]
    assert [f.node.id for f in insights.functions] == ["X86", "Arm"]
    assert _layers(app["templates"]["Virginia"], "Image") is None


def test_a_workload_without_functions_builds_nothing_and_says_so() -> None:
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from llm_observability.constructs.lambda_insights import FunctionInsights
    from llm_observability.left_out import report_of

    stack = Stack(App(), "NoFunctions")
    insights = FunctionInsights(stack, "Insights", workload=_workload())
    assert [(i.feature, i.field) for i in report_of(stack).items] == [
        ("Lambda Insights (CPU, memory and network per function)", "functions")]  # fmt: skip
    assert Template.from_stack(stack).to_json().get("Resources", {}) == {} and insights.widgets() == []


def test_create_makes_the_encrypted_group_with_retention_and_the_functions_wait_for_it(app: dict[str, Any]) -> None:
    template = app["templates"]["Virginia"]
    (logical_id, group), *more = _resources(template, "AWS::Logs::LogGroup", "Insights").items()
    assert not more
    props = group["Properties"]
    assert props["LogGroupName"] == "/aws/lambda-insights" and props["RetentionInDays"] == 30
    assert props["KmsKeyId"] == {"Fn::GetAtt": [next(iter(_resources(template, "AWS::KMS::Key", "Insights"))), "Arn"]}
    assert group["DeletionPolicy"] == "Retain"  # the account's group: other apps write to it too
    for prefix in ("X86", "Arm"):
        (fn,) = _resources(template, "AWS::Lambda::Function", prefix).values()
        assert logical_id in fn["DependsOn"]


def test_adopt_creates_nothing_and_says_so(app: dict[str, Any]) -> None:
    template = app["templates"]["Ireland"]
    assert not _resources(template, "AWS::Logs::LogGroup", "Insights")
    assert not _resources(template, "AWS::KMS::Key")
    assert app["ireland"].log_group is None and app["ireland"].key is None
    assert any("adopts the account's /aws/lambda-insights log group" in m for m in app["info"])


def test_the_role_may_write_only_to_the_insights_group(app: dict[str, Any]) -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda-insights:*"
    statements = _statements(app["templates"]["Virginia"], "X86")
    assert {"Sid": "LambdaInsightsWrite", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
            "Resource": arn} in statements  # fmt: skip
    assert not any("CreateLogGroup" in json.dumps(s) for s in statements)
    for template in app["templates"].values():
        roles = _resources(template, "AWS::IAM::Role")
        assert "CloudWatchLambdaInsightsExecutionRolePolicy" not in json.dumps(roles)


def test_adopting_lets_the_role_create_only_that_group(app: dict[str, Any]) -> None:
    statements = _statements(app["templates"]["Ireland"], "X86")
    (create,) = [s for s in statements if s.get("Sid") == "LambdaInsightsCreateGroup"]
    assert create["Action"] == "logs:CreateLogGroup"
    assert create["Resource"] == [
        "arn:aws:logs:eu-west-1:210987654321:log-group:/aws/lambda-insights",
        "arn:aws:logs:eu-west-1:210987654321:log-group:/aws/lambda-insights:*",
    ]


def test_bad_settings_are_one_sentence() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.lambda_insights import FunctionInsights

    stack = Stack(App(), "Bad")
    with pytest.raises(ConfigError, match=r"^FunctionInsights 'log_group_mode' is 'keep': allowed"):
        FunctionInsights(stack, "Mode", workload=_workload(), log_group_mode="keep")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^FunctionInsights 'log_retention_days' is 31: allowed"):
        FunctionInsights(stack, "Days", workload=_workload(), log_retention_days=31)


# --- widgets ---------------------------------------------------------------------------------------------------------
def test_the_widgets_read_the_extension_s_metrics_per_function(app: dict[str, Any]) -> None:
    from aws_cdk import Stack

    from llm_observability.constructs.lambda_insights import METRICS

    insights = app["virginia"]
    widgets = insights.widgets()
    assert [w.to_json()[0]["properties"]["title"] for w in widgets] == [
        "Lambda CPU time per invocation (average, p90)", "Lambda memory utilisation (maximum)",
        "Lambda network per invocation (received + sent)", "Lambda init duration (cold starts)",
    ]  # fmt: skip
    rows = [row for w in widgets for row in Stack.of(insights).resolve(w.to_json())[0]["properties"]["metrics"]]
    names = {(row[0], row[1], row[2]) for row in rows}
    assert names <= {("LambdaInsights", m, "function_name") for m in METRICS} and len(names) == 4
    stack = Stack.of(insights)
    assert {json.dumps(row[3]) for row in rows} == {
        json.dumps({"Ref": stack.get_logical_id(f.node.default_child)}) for f in insights.functions
    }
    assert sum(w.width for w in widgets) == 24
    assert insights.alarms == {} and insights.roled_alarms == ()
    with pytest.raises(ConfigError, match="'name' is 'cpu'"):
        insights.metric("cpu", insights.functions[0])


# --- the whole template ----------------------------------------------------------------------------------------------
@pytest.mark.slow  # cfn-lint on four templates
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_reports_nothing(app: dict[str, Any], stack: str) -> None:
    matches = lint_file(app["files"][stack], ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_construct_snapshot(app: dict[str, Any], snapshot: Any) -> None:
    template = scrub(app["templates"]["Snapshot"])
    subject = {k: v for k, v in template["Resources"].items() if k.startswith("Subject") or k.startswith("App")}
    assert subject == snapshot(extension_class=JSONSnapshotExtension)
