"""InvocationUsage: a workload's tokens and cost per model from metric filters on the Bedrock invocation log.

One app, synthesized once: stack ``TheirApp`` holds someone else's functions (two sharing a role, one with its
own role, one imported by ARN) and, under ``Observability``, InvocationLogging, InvocationUsage and a dashboard
of its row. The filter patterns are run against invocation log records shaped like Bedrock's
(``schemaType`` ``ModelInvocationLog``) by a small evaluator of the filter-pattern syntax they use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE = "us.amazon.nova-lite-v1:0"
ACCOUNT, REGION = "123456789012", "us-east-1"
NAMESPACE = "TheirApp/Invocations/their-bot"
FILTER = "AWS::Logs::MetricFilter"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, CfnParameter, Stack, Validations
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from cdk_nag import AwsSolutionsChecks
    from constructs import Construct

    from llm_observability.constructs.invocation_logging import InvocationLogging
    from llm_observability.constructs.invocation_usage import InvocationUsage
    from llm_observability.hygiene import NoRedundantDependsOn
    from llm_observability.workload import Workload

    outdir = tmp_path_factory.mktemp("invocation-usage")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = Stack(app, "TheirApp")
    token_model = CfnParameter(stack, "ModelId", default="amazon.nova-pro-v1:0").value_as_string
    shared = iam.Role(stack, "AppRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    def function(name: str, role: iam.IRole | None = None) -> lambda_.Function:
        return lambda_.Function(
            stack, name, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", role=role,
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        )  # fmt: skip

    answer, summarize, indexer = function("Answer", shared), function("Summarize", shared), function("Indexer")
    legacy = lambda_.Function.from_function_arn(stack, "Legacy", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:legacy")
    workload = Workload(
        name="their-bot", model_ids=(HAIKU, PROFILE, token_model), functions=(answer, summarize, indexer, legacy),
        metric_namespace="TheirApp",
    )  # fmt: skip
    observability = Construct(stack, "Observability")
    logging = InvocationLogging(observability, "InvocationLogging")
    usage = InvocationUsage(observability, "Usage", workload=workload, log_group=logging.log_group)
    cw.Dashboard(observability, "Dashboard", widgets=[usage.widgets()])

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())  # CDK's functions depend on their role's policy twice (W3005)
    try:
        app.synth()
    except RuntimeError as error:  # their functions are not nag-clean; ours must be
        assert "ValidationFailed" in str(error)
    path = outdir / f"{stack.artifact_id}.template.json"
    return {
        "outdir": outdir, "path": path, "template": json.loads(path.read_text()), "stack": stack, "usage": usage,
        "roles": {k: stack.resolve(r.role_name)["Ref"] for k, r in (("shared", shared), ("indexer", indexer.role))},
        "log_group": stack.resolve(logging.log_group.log_group_name), "token_model": token_model,
        "report": json.loads((outdir / "validation-report.json").read_text()),
    }  # fmt: skip


def _filters(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in app["template"]["Resources"].items() if v["Type"] == FILTER}


# --- a filter-pattern evaluator for the subset the filters use ---------------------------------------------------
_CLAUSE = re.compile(r'\(?\s*(\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(=|>=)\s*("(?:[^"\\]*)"|-?\d+(?:\.\d+)?)\s*\)?')


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for key in path.split(".")[1:]:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def matches(pattern: str, record: dict[str, Any]) -> bool:
    """CloudWatch Logs JSON filter pattern ``{ clause && clause ... }``: ``$.a.b = "text with * wildcards"``
    (string fields) and ``$.a.b >= number`` (numeric fields). Anything else is not this evaluator's subset."""
    body = re.fullmatch(r"\{\s*(.*?)\s*\}", pattern, re.S)
    assert body, f"not a JSON filter pattern: {pattern}"
    for clause in body.group(1).split("&&"):
        found = _CLAUSE.fullmatch(clause.strip())
        assert found, f"outside the evaluated subset: {clause!r}"
        path, operator, operand = found.groups()
        value = _field(record, path)
        if operand.startswith('"'):
            assert operator == "=", clause
            text = re.escape(operand[1:-1]).replace(r"\*", ".*")
            if not isinstance(value, str) or not re.fullmatch(text, value, re.S):
                return False
        elif isinstance(value, bool) or not isinstance(value, int | float) or not value >= float(operand):
            return False
    return True


def _resolve(value: Any, refs: dict[str, str]) -> str:
    """A pattern or dimension value with its Refs and Fn::Joins replaced by deploy-time values."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(_resolve(p, refs) for p in parts)


def _record(caller: str, model_id: str = HAIKU, *, tokens: tuple[int, int] | None = (812, 96)) -> dict[str, Any]:
    """An invocation log record as Bedrock writes it (text delivery on)."""
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-20T09:14:03Z",
        "accountId": ACCOUNT, "identity": {"arn": caller}, "region": REGION,
        "requestId": "5c3a4f2e-7d1b-4a7e-9a51-2f4c8e0d9b11", "operation": "Converse", "modelId": model_id,
        "input": {"inputContentType": "application/json",
                  "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": "Refund policy?"}]}]}},
        "output": {"outputContentType": "application/json",
                   "outputBodyJson": {"stopReason": "end_turn", "usage": {"inputTokens": 812, "outputTokens": 96}}},
    }  # fmt: skip
    if tokens is None:
        record["errorCode"] = "ThrottlingException"
        del record["output"]
    else:
        record["input"]["inputTokenCount"], record["output"]["outputTokenCount"] = tokens
        record["input"]["cacheReadInputTokenCount"] = 0
    return record


ROLE_NAMES = {"shared": "TheirApp-AppRole1A2B3C4D-x1Y2z3", "indexer": "TheirApp-IndexerServiceRole5E6F-a9B8c7"}


@pytest.fixture(scope="module")
def refs(app: dict[str, Any]) -> dict[str, str]:
    return {
        "AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
        **{app["roles"][k]: name for k, name in ROLE_NAMES.items()},
    }  # fmt: skip


def _session(role: str, session: str = "TheirApp-AnswerC0FFEE-AbCdEf") -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"


# --- template --------------------------------------------------------------------------------------------------
def test_two_filters_per_caller_role_on_the_invocation_log(app: dict[str, Any]) -> None:
    from aws_cdk.assertions import Match, Template

    template = Template.from_json(app["template"])
    template.resource_count_is(FILTER, 4)  # Answer and Summarize share a role; Indexer has its own; Legacy: unknown
    for metric, field in (("InvocationInputTokens", "$.input.inputTokenCount"),
                          ("InvocationOutputTokens", "$.output.outputTokenCount")):  # fmt: skip
        for role in app["roles"].values():
            template.has_resource_properties(FILTER, {
                "LogGroupName": app["log_group"],
                "FilterPattern": {"Fn::Join": ["", Match.array_with([
                    '{ ($.identity.arn = "arn:', {"Ref": "AWS::Partition"}, ":sts::", {"Ref": "AWS::AccountId"},
                    ":assumed-role/", {"Ref": role}, f'/*") && ({field} >= 0) }}',
                ])]},
                "MetricTransformations": [{
                    "MetricNamespace": NAMESPACE, "MetricName": metric, "MetricValue": field,
                    "Dimensions": [{"Key": "ModelId", "Value": "$.modelId"}], "Unit": "Count",
                }],
            })  # fmt: skip
    for props in _filters(app).values():
        assert "DefaultValue" not in props["MetricTransformations"][0]  # no zero for every other caller's record


def _warnings(construct: Any) -> list[str]:
    return [str(m.data) for m in construct.node.metadata if m.type == "aws:cdk:warning"]


def test_imported_function_and_unpriced_model_are_named_in_synth_warnings(app: dict[str, Any]) -> None:
    unknown, unpriced = _warnings(app["usage"])
    assert unknown.startswith("InvocationUsage counts no tokens for TheirApp/Legacy: ") and "'roles'" in unknown
    assert unpriced.startswith("InvocationUsage estimates no cost for ${Token[") and HAIKU not in unpriced


def test_no_cdk_nag_finding_and_cfn_lint_clean(app: dict[str, Any]) -> None:
    nag = [r for r in app["report"]["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    paths = [c["constructPath"] for r in nag for v in r["violations"] for c in v["violatingConstructs"]]
    assert paths, "their functions were expected to have findings of their own"
    assert [p for p in paths if "/Observability/" in p] == []
    assert [str(m) for m in lint_file(app["path"], ManualArgs(regions=[REGION, "eu-west-1"]))] == []


# --- the patterns against invocation log records ------------------------------------------------------------------
def _patterns(app: dict[str, Any], refs: dict[str, str], metric: str) -> dict[str, str]:
    """Deploy-time filter pattern of ``metric`` by role ("shared", "indexer")."""
    found = {}
    for props in _filters(app).values():
        if props["MetricTransformations"][0]["MetricName"] == metric:
            pattern = _resolve(props["FilterPattern"], refs)
            role = next(k for k, name in ROLE_NAMES.items() if f"/{name}/*" in pattern)
            found[role] = pattern
    assert set(found) == {"shared", "indexer"}
    return found


@pytest.mark.parametrize("metric", ["InvocationInputTokens", "InvocationOutputTokens"])
def test_a_record_of_the_workloads_role_matches_and_others_do_not(
    app: dict[str, Any], refs: dict[str, str], metric: str
) -> None:
    patterns = _patterns(app, refs, metric)
    shared, indexer = patterns["shared"], patterns["indexer"]
    ours = _record(_session(ROLE_NAMES["shared"]))
    assert matches(shared, ours) and not matches(indexer, ours)
    assert matches(indexer, _record(_session(ROLE_NAMES["indexer"], "TheirApp-IndexerBEEF-QwErTy")))
    for caller in (
        _session("OtherTeam-ChatRole-9Z8Y7X"),  # another application's role
        _session(ROLE_NAMES["shared"] + "-copy"),  # a role whose name starts with ours
        f"arn:aws:sts::210987654321:assumed-role/{ROLE_NAMES['shared']}/x",  # the same name in another account
        f"arn:aws:iam::{ACCOUNT}:user/alice",  # a person with console credentials
    ):
        assert not matches(shared, _record(caller)), caller
    assert not matches(shared, _record(_session(ROLE_NAMES["shared"]), tokens=None))  # a failed call counts nothing


def test_matched_records_publish_their_token_counts_under_the_model_the_accessors_read(
    app: dict[str, Any], refs: dict[str, str]
) -> None:
    usage, stack = app["usage"], app["stack"]
    logged_profile = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{PROFILE}"
    for model, logged in ((HAIKU, HAIKU), (PROFILE, logged_profile)):
        record = _record(_session(ROLE_NAMES["shared"]), logged, tokens=(1268, 312))
        for metric, accessor, count in (("InvocationInputTokens", usage.input_tokens, 1268),
                                        ("InvocationOutputTokens", usage.output_tokens, 312)):  # fmt: skip
            (props,) = [p["MetricTransformations"][0] for p in _filters(app).values()
                        if p["MetricTransformations"][0]["MetricName"] == metric
                        and f"/{ROLE_NAMES['shared']}/*" in _resolve(p["FilterPattern"], refs)]  # fmt: skip
            assert matches(_patterns(app, refs, metric)["shared"], record)
            assert _field(record, props["MetricValue"]) == count
            published = _field(record, props["Dimensions"][0]["Value"])
            metric_read = accessor(model)
            assert metric_read.namespace == NAMESPACE and metric_read.metric_name == metric
            assert _resolve(stack.resolve(metric_read.dimensions["ModelId"]), refs) == published


def test_every_pattern_fits_the_service_limit_with_the_longest_role_name(
    app: dict[str, Any], refs: dict[str, str]
) -> None:
    longest = {**refs, "AWS::Partition": "aws-us-gov", **{ref: "r" * 64 for ref in app["roles"].values()}}
    caller = f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/{'r' * 64}/{'f' * 64}"
    for props in _filters(app).values():
        pattern = _resolve(props["FilterPattern"], longest)
        assert len(pattern) <= 1024 and matches(pattern, _record(caller))


# --- accessors --------------------------------------------------------------------------------------------------
def test_estimated_cost_is_metric_math_over_the_filters_metrics(app: dict[str, Any]) -> None:
    usage = app["usage"]
    cost = usage.estimated_cost(HAIKU)
    assert cost.expression == "(FILL(vin0, 0) * 0.00025 + FILL(vout0, 0) * 0.00125) / 1000"
    assert {k: (m.namespace, m.metric_name) for k, m in cost.using_metrics.items()} == {
        "vin0": (NAMESPACE, "InvocationInputTokens"), "vout0": (NAMESPACE, "InvocationOutputTokens"),
    }  # fmt: skip
    assert usage.estimated_cost(PROFILE).expression == "(FILL(vin1, 0) * 0.00006 + FILL(vout1, 0) * 0.00024) / 1000"
    assert usage.estimated_cost(app["token_model"]) is None  # a token is priced only by an entry keyed by it
    assert usage.estimated_cost("cohere.command-r-v1:0") is None  # no known price
    with pytest.raises(ConfigError, match="InvocationUsage.metric 'name' is 'Tokens'"):
        usage.metric("Tokens", HAIKU)


def test_dashboard_row_is_counted_one_series_per_model_per_metric(app: dict[str, Any]) -> None:
    from llm_observability.assess import estimate, load

    metrics = estimate(load(app["outdir"]), requests_per_month=0).item("custom-metrics")
    assert metrics.quantity == 2 * 3  # 2 metrics x 3 models read by the dashboard; 4 filters (2 roles) write them
    assert "4 metric filter transformation(s) = 6 metric(s)" in metrics.assumption


def test_without_a_reader_each_metric_counts_once(tmp_path: Path) -> None:
    from llm_observability.assess import estimate, load

    transformation = {"MetricNamespace": NAMESPACE, "MetricName": "InvocationInputTokens", "MetricValue": "1",
                      "Dimensions": [{"Key": "ModelId", "Value": "$.modelId"}]}  # fmt: skip
    resources = {
        f"F{i}": {"Type": FILTER, "Properties": {"LogGroupName": "g", "FilterPattern": "{ $.a = 1 }",
                                                 "MetricTransformations": [transformation]}}
        for i in range(3)
    }  # fmt: skip
    (tmp_path / "t.template.json").write_text(json.dumps({"Resources": resources}))
    metrics = estimate(load(tmp_path), requests_per_month=0).item("custom-metrics")
    assert metrics.quantity == 1 and "3 metric filter transformation(s) = 1 metric(s)" in metrics.assumption


# --- bad input --------------------------------------------------------------------------------------------------
def _workload(stack: Any, *functions: Any) -> Any:
    from llm_observability.workload import Workload

    return Workload(name="bad", model_ids=(HAIKU,), functions=functions)


def test_bad_input_is_one_sentence() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    from llm_observability.constructs.invocation_usage import InvocationUsage

    stack = Stack(App(), "Bad")
    group = logs.LogGroup.from_log_group_name(stack, "Group", "bedrock-invocations")
    imported = lambda_.Function.from_function_arn(stack, "Imported", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f")
    workload = _workload(stack, imported)
    with pytest.raises(ConfigError, match=r"^InvocationUsage has no caller role: .* pass the roles"):
        InvocationUsage(stack, "NoRole", workload=workload, log_group=group)
    with pytest.raises(ConfigError, match=r"^InvocationUsage 'roles' holds 'MyRole': allowed are iam.IRole values\.$"):
        InvocationUsage(stack, "StringRole", workload=workload, log_group=group, roles=["MyRole"])
    with pytest.raises(ConfigError, match=r"^InvocationUsage 'prices' is 3: allowed is "):
        InvocationUsage(stack, "Prices", workload=workload, log_group=group, prices=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^InvocationUsage 'log_group' is None: allowed is "):
        InvocationUsage(stack, "NoGroup", workload=workload, log_group=None)  # type: ignore[arg-type]


def test_roles_given_explicitly_replace_the_functions_and_prices_override() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Template

    from llm_observability.constructs.invocation_usage import InvocationUsage

    stack = Stack(App(), "Explicit")
    group = logs.LogGroup.from_log_group_name(stack, "Group", "bedrock-invocations")
    imported = lambda_.Function.from_function_arn(stack, "Imported", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f")
    role = iam.Role.from_role_arn(stack, "Theirs", f"arn:aws:iam::{ACCOUNT}:role/service/their-app-role")
    usage = InvocationUsage(stack, "Usage", workload=_workload(stack, imported), log_group=group, roles=[role],
                            prices={HAIKU: {"input_per_1k": 0.5, "output_per_1k": 1}})  # fmt: skip
    assert usage.estimated_cost(HAIKU).expression == "(FILL(vin0, 0) * 0.5 + FILL(vout0, 0) * 1.0) / 1000"
    assert usage.estimated_cost("cohere.command-r-v1:0") is None
    patterns = [p["Properties"]["FilterPattern"] for p in Template.from_stack(stack).find_resources(FILTER).values()]
    # the partition is the stack's; the account and the name (without the role's path) come from the ARN
    assert all(
        p == {"Fn::Join": ["", ['{ ($.identity.arn = "arn:', {"Ref": "AWS::Partition"},
                                f':sts::{ACCOUNT}:assumed-role/their-app-role/*") && ($.{field} >= 0) }}']]}
        for p, field in zip(patterns, ("input.inputTokenCount", "output.outputTokenCount"), strict=True)
    )  # fmt: skip
    assert _warnings(usage) == []  # roles given: no function is skipped, every model priced
