"""TenantUsage: Contributor Insights rules giving the top tenants by tokens, requests and errors per model.

One app, synthesized once, holds someone else's application (``tests.test_workload_levels``' user stack: a function
calling InvokeModel behind a REST API) observed three ways: ``Fed`` (invocation logging on, the function's log group
with the runtime's log schema and telemetry: 8 rules), ``Unfed`` (an imported invocation log group, a log group
without schema: the 4 invocation-log rules) and ``Bare`` (nothing: no rule, one warning). The rule bodies are then
run, by a small evaluator of the Contributor Insights subset they use, against an invocation log record shaped like
Bedrock's and against a ``bedrock_call`` line the runtime itself printed. The reference app's Level 2 stack is
checked on the session's bundled-app synthesis.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.runtime import telemetry as t
from tests.conftest import CDK_CONTEXT, SynthResult
from tests.test_workload_levels import THEIR_MODEL, _user_app

RULE = "AWS::CloudWatch::InsightRule"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, CfnWaitConditionHandle, Stack, Validations
    from aws_cdk import aws_logs as logs
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.invocation_logging import InvocationLogging
    from llm_observability.constructs.tenant_usage import TenantUsage
    from llm_observability.hygiene import NoRedundantDependsOn
    from llm_observability.left_out import left_out
    from llm_observability.workload import Workload
    from llm_observability.workload_facts import LogSchema

    outdir = tmp_path_factory.mktemp("tenant-usage")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    theirs = _user_app(app)

    def workload(log_group: Any = None) -> Workload:
        return Workload.from_function(theirs.function, name="their-bot", model_ids=(THEIR_MODEL,), log_group=log_group)

    fed_stack = Stack(app, "Fed")
    logging = InvocationLogging(fed_stack, "InvocationLogging")
    fed_workload = (
        workload(theirs.log_group)
        .with_facts(telemetry="runtime", log_schema=LogSchema.library())
        .with_invocation_log_group(logging.log_group)
    )
    fed = TenantUsage(fed_stack, "TenantUsage", workload=fed_workload)

    unfed_stack = Stack(app, "Unfed")
    imported = logs.LogGroup.from_log_group_name(unfed_stack, "AccountInvocationLog", "bedrock-invocations")
    unfed_workload = workload(theirs.log_group).with_invocation_log_group(imported)
    unfed = TenantUsage(unfed_stack, "TenantUsage", workload=unfed_workload)

    bare_stack = Stack(app, "Bare")
    CfnWaitConditionHandle(bare_stack, "Placeholder")  # a template needs one resource
    bare = TenantUsage(bare_stack, "TenantUsage", workload=workload(), state="DISABLED")

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    try:
        app.synth()
    except RuntimeError as error:  # their user stack is not nag-clean; ours must be
        assert "ValidationFailed" in str(error)
    stacks = {"fed": fed_stack, "unfed": unfed_stack, "bare": bare_stack}
    return {
        "outdir": outdir,
        "paths": {k: outdir / f"{s.artifact_id}.template.json" for k, s in stacks.items()},
        "templates": {k: json.loads((outdir / f"{s.artifact_id}.template.json").read_text())
                      for k, s in stacks.items()},  # fmt: skip
        "warnings": {k: "; ".join(item.text() for item in left_out(s)) for k, s in stacks.items()},
        "constructs": {"fed": fed, "unfed": unfed, "bare": bare},
        "invocation_log": fed_stack.resolve(logging.log_group.log_group_name),
        "app_log": fed_stack.resolve(theirs.log_group.log_group_name),
        "report": json.loads((outdir / "validation-report.json").read_text()),
    }


def _rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == RULE}


def _body(props: dict[str, Any], refs: dict[str, str] | None = None) -> dict[str, Any]:
    """A rule body with its Fn::Join / Ref / Fn::ImportValue parts replaced by ``refs`` (deploy-time names)."""
    body = props["RuleBody"]
    if isinstance(body, str):
        return json.loads(body)
    parts = body["Fn::Join"][1]
    resolved = refs or {}
    text = "".join(p if isinstance(p, str) else resolved.get(json.dumps(p, sort_keys=True), "<token>") for p in parts)
    return json.loads(text)


def _by_suffix(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {_suffix(props): props for props in _rules(template).values()}


def _suffix(props: dict[str, Any]) -> str:
    name = props["RuleName"]
    for source in ("invocation", "app"):
        if f"-{source}-" in name:
            return name[name.index(f"-{source}-") + 1 :]
    raise AssertionError(name)


# --- what is built, from what the workload can feed ---------------------------------------------------------------
def test_a_fed_workload_gets_four_rules_per_source(app: dict[str, Any]) -> None:
    rules = _by_suffix(app["templates"]["fed"])
    assert set(rules) == {f"{s}-{k}" for s in ("invocation", "app")
                          for k in ("input-tokens", "output-tokens", "requests", "errors")}  # fmt: skip
    assert all(p["RuleState"] == "ENABLED" for p in rules.values())
    assert set(app["constructs"]["fed"].rules) == set(rules)
    assert app["warnings"]["fed"] == ""


def test_the_invocation_log_rules_key_on_request_metadata_tenant_and_model(app: dict[str, Any]) -> None:
    rules = _by_suffix(app["templates"]["fed"])
    tokens = _body(rules["invocation-input-tokens"])
    assert tokens["Schema"] == {"Name": "CloudWatchLogRule", "Version": 1} and tokens["LogFormat"] == "JSON"
    assert tokens["Contribution"]["Keys"] == ["$.requestMetadata.tenant", "$.modelId"]
    assert tokens["Contribution"]["ValueOf"] == "$.input.inputTokenCount" and tokens["AggregateOn"] == "Sum"
    assert _body(rules["invocation-output-tokens"])["Contribution"]["ValueOf"] == "$.output.outputTokenCount"
    requests = _body(rules["invocation-requests"])
    assert requests["AggregateOn"] == "Count" and "ValueOf" not in requests["Contribution"]
    errors = _body(rules["invocation-errors"])["Contribution"]["Filters"]
    assert {"Match": "$.errorCode", "IsPresent": True} in errors
    assert app["invocation_log"] in rules["invocation-requests"]["RuleBody"]["Fn::Join"][1]  # the invocation log


def test_the_app_rules_read_the_runtimes_call_lines_in_the_apps_log_group(app: dict[str, Any]) -> None:
    rules = _by_suffix(app["templates"]["fed"])
    body = _body(rules["app-input-tokens"])
    assert body["Contribution"]["Keys"] == [f"$.{t.LOG_FIELD_TENANT}", f"$.{t.LOG_FIELD_MODEL}"]
    assert body["Contribution"]["ValueOf"] == "$.usage.input_tokens"
    assert {"Match": "$.message", "In": ["bedrock_call"]} in body["Contribution"]["Filters"]
    assert app["app_log"] in rules["app-input-tokens"]["RuleBody"]["Fn::Join"][1]  # the user's log group
    errors = _body(rules["app-errors"])["Contribution"]["Filters"]
    assert {"Match": "$.outcome", "In": ["failure"]} in errors
    assert all(len(_body(p)["Contribution"]["Filters"]) <= 4 for p in rules.values())  # the service's limit


def test_without_log_schema_only_the_invocation_log_rules_are_built(app: dict[str, Any]) -> None:
    rules = _by_suffix(app["templates"]["unfed"])
    assert set(rules) == {"invocation-input-tokens", "invocation-output-tokens", "invocation-requests",
                          "invocation-errors"}  # fmt: skip
    assert _body(rules["invocation-requests"])["LogGroupNames"] == ["bedrock-invocations"]
    warning = app["warnings"]["unfed"]
    assert "bedrock_call log lines" in warning and "needs Workload 'log_schema'" in warning


def test_a_bare_workload_gets_no_rule_and_a_warning_naming_the_fields(app: dict[str, Any]) -> None:
    assert _rules(app["templates"]["bare"]) == {}
    assert app["constructs"]["bare"].rules == {}
    warning = app["warnings"]["bare"]
    assert "needs Workload 'invocation_log_group'" in warning and "needs Workload 'log_groups'" in warning


def test_rule_names_are_unique_printable_and_within_the_limit(app: dict[str, Any]) -> None:
    names = [p["RuleName"] for k in ("fed", "unfed") for p in _rules(app["templates"][k]).values()]
    assert len(set(names)) == len(names) == 12
    assert all(len(n) <= 128 and n.isascii() and n.isprintable() for n in names)


def test_a_bad_state_is_a_config_error() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.tenant_usage import TenantUsage
    from llm_observability.errors import ConfigError
    from llm_observability.workload import Workload

    stack = Stack(App(), "S")
    with pytest.raises(ConfigError, match="TenantUsage 'state'"):
        TenantUsage(stack, "T", workload=Workload(name="w", model_ids=(THEIR_MODEL,)), state="ON")  # type: ignore[arg-type]


@pytest.mark.slow  # cfn-lint / a large synth: `make test` (CI) runs it
def test_no_cdk_nag_finding_and_cfn_lint_clean(app: dict[str, Any]) -> None:
    nag = [r for r in app["report"]["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    paths = [c["constructPath"] for r in nag for v in r["violations"] for c in v["violatingConstructs"]]
    assert [p for p in paths if p.split("/")[0] in ("Fed", "Unfed", "Bare")] == []
    for path in app["paths"].values():
        assert [str(m) for m in lint_file(Path(path), ManualArgs(regions=[REGION]))] == []


# --- the rules against the records they read -------------------------------------------------------------------------
def _value(document: Any, path: str) -> Any:
    for key in path.removeprefix("$.").split("."):
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def contributions(body: dict[str, Any], events: list[dict[str, Any]]) -> dict[tuple[Any, ...], float]:
    """Contributor Insights over ``events`` for the subset the rules use (In, IsPresent filters; Sum or Count)."""
    found: dict[tuple[Any, ...], float] = {}
    contribution = body["Contribution"]
    for event in events:
        keep = True
        for f in contribution["Filters"]:
            value = _value(event, f["Match"])
            if "In" in f:
                keep &= value in f["In"]
            elif "IsPresent" in f:
                keep &= (value is not None) == f["IsPresent"]
            else:
                raise AssertionError(f"outside the evaluated subset: {f}")
        keys = tuple(_value(event, k) for k in contribution["Keys"])
        if not keep or None in keys:
            continue
        amount = 1.0 if body["AggregateOn"] == "Count" else float(_value(event, contribution["ValueOf"]) or 0)
        found[keys] = found.get(keys, 0.0) + amount
    return found


def _invocation_record(tenant: str | None, *, error: str | None = None, tokens: tuple[int, int] = (812, 96)) -> dict:
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-20T09:14:03Z",
        "accountId": "123456789012", "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/R/fn"},
        "region": REGION, "requestId": "5c3a4f2e", "operation": "Converse", "modelId": THEIR_MODEL,
        "input": {"inputContentType": "application/json", "inputTokenCount": tokens[0]},
        "output": {"outputContentType": "application/json", "outputTokenCount": tokens[1]},
    }  # fmt: skip
    if tenant is not None:
        record["requestMetadata"] = {"tenant": tenant}
    if error is not None:
        record["errorCode"] = error
        del record["output"]
    return record


def test_the_invocation_rules_count_each_tenant_per_model(app: dict[str, Any]) -> None:
    rules = _by_suffix(app["templates"]["fed"])
    records = [_invocation_record("acme"), _invocation_record("acme", tokens=(100, 4)), _invocation_record("globex"),
               _invocation_record(None), _invocation_record("acme", error="ThrottlingException")]  # fmt: skip
    assert contributions(_body(rules["invocation-input-tokens"]), records) == {
        ("acme", THEIR_MODEL): 912.0 + 812.0, ("globex", THEIR_MODEL): 812.0,  # a failed record has input tokens
    }  # fmt: skip
    assert contributions(_body(rules["invocation-requests"]), records) == {
        ("acme", THEIR_MODEL): 3.0, ("globex", THEIR_MODEL): 1.0,
    }  # fmt: skip
    assert contributions(_body(rules["invocation-errors"]), records) == {("acme", THEIR_MODEL): 1.0}


def _runtime_call_lines() -> list[dict[str, Any]]:
    """Two ``bedrock_call`` lines the runtime prints: an InvokeModel answer and a throttled one, for tenant acme."""
    from botocore.exceptions import ClientError

    from llm_observability.runtime import api, hook, recorder
    from tests.runtime.bedrock_fakes import FakeBedrock, error_reply, invoke_reply

    lines: list[str] = []
    fake = FakeBedrock()
    try:
        api.instrument(service_name="their-bot", namespace="TheirApp", prompt_logging="none", prices={})
        recorder.current().write = lines.append
        client = fake.client("bedrock-runtime")
        fake.queue(invoke_reply({"completion": "Hi"}, input_tokens=40, output_tokens=8),
                   error_reply("ThrottlingException", 429))  # fmt: skip
        api.tenant("acme")
        client.invoke_model(modelId=THEIR_MODEL, body=b"{}")["body"].read()
        with pytest.raises(ClientError):
            client.invoke_model(modelId=THEIR_MODEL, body=b"{}")
    finally:
        api.tenant(None)
        hook.uninstall()
        recorder._current = None
    return [json.loads(line) for line in lines if '"bedrock_call"' in line]


def test_the_app_rules_count_the_lines_the_runtime_prints(app: dict[str, Any], monkeypatch: Any) -> None:
    from tests.conftest import OFFLINE_AWS_ENV

    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    lines = _runtime_call_lines()
    assert len(lines) == 2
    rules = _by_suffix(app["templates"]["fed"])
    key = ("acme", THEIR_MODEL)
    assert contributions(_body(rules["app-input-tokens"]), lines) == {key: 40.0}
    assert contributions(_body(rules["app-output-tokens"]), lines) == {key: 8.0}
    assert contributions(_body(rules["app-requests"]), lines) == {key: 2.0}
    assert contributions(_body(rules["app-errors"]), lines) == {key: 1.0}


# --- the reference app --------------------------------------------------------------------------------------------
def test_the_reference_app_gets_the_rules_at_level_2(level2: SynthResult) -> None:
    rules = level2.resources(RULE, level=2)
    suffixes = {_suffix(r["Properties"]) for r in rules.values()}
    assert {"invocation-requests", "app-requests"} <= suffixes
    assert not level2.resources(RULE, level=1)


# --- tenant application inference profiles (RagReferenceApp) ----------------------------------------------------------
TENANTS = ("acme", "team@globex.com/eu")


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability import ObservabilityConfig
    from llm_observability.constructs.rag_app import RagReferenceApp
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("tenant-profiles")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = Stack(app, "Reference")
    config = ObservabilityConfig(
        tenant_inference_profiles=TENANTS, tenant_header="x-customer", tags={"CostCenter": "42"}
    )
    rag = RagReferenceApp(stack, "RagApp", config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    app.synth()  # raises on an unacknowledged cdk-nag finding
    path = outdir / f"{stack.artifact_id}.template.json"
    return {"path": path, "template": json.loads(path.read_text()), "stack": stack, "rag": rag, "config": config}


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def test_each_listed_tenant_gets_a_tagged_copy_of_the_model(profiles: dict[str, Any]) -> None:
    found = _of_type(profiles["template"], "AWS::Bedrock::ApplicationInferenceProfile")
    assert len(found) == len(TENANTS)
    by_tenant = {next(t["Value"] for t in p["Tags"] if t["Key"] == "Tenant"): p for p in found.values()}
    assert set(by_tenant) == set(TENANTS)
    model = profiles["config"].model_id
    for props in by_tenant.values():
        tags = {t["Key"]: t["Value"] for t in props["Tags"]}
        assert tags["Workload"] == profiles["config"].workload_name and tags["CostCenter"] == "42"
        copy_from = json.dumps(props["ModelSource"]["CopyFrom"])
        assert model in copy_from and ("foundation-model/" in copy_from or "inference-profile/" in copy_from)
        name = props["InferenceProfileName"]
        assert re.fullmatch(r"([0-9a-zA-Z][ _-]?)+", name) and len(name) <= 64
        assert re.fullmatch(r"([0-9a-zA-Z:.][ _-]?)+", props["Description"])
    names = [p["InferenceProfileName"] for p in found.values()]
    assert len(set(names)) == len(names)


def test_the_function_gets_the_header_the_profile_map_and_invoke_on_the_profiles(profiles: dict[str, Any]) -> None:
    template = profiles["template"]
    (function,) = [p for p in _of_type(template, "AWS::Lambda::Function").values()
                   if "TENANT_HEADER" in p.get("Environment", {}).get("Variables", {})]  # fmt: skip
    variables = function["Environment"]["Variables"]
    assert variables["TENANT_HEADER"] == "x-customer"
    profile_ids = set(_of_type(template, "AWS::Bedrock::ApplicationInferenceProfile"))
    mapping = json.dumps(variables["TENANT_PROFILES"])
    assert all(f'"Fn::GetAtt": ["{logical}", "InferenceProfileArn"]' in mapping for logical in profile_ids)
    assert all(json.dumps(tenant)[1:-1] in mapping for tenant in TENANTS)
    statements = [s for p in _of_type(template, "AWS::IAM::Policy").values()
                  for s in p["PolicyDocument"]["Statement"] if s.get("Sid") == "InvokeModel"]  # fmt: skip
    (invoke,) = statements
    resources = json.dumps(invoke["Resource"])
    assert all(f'"Fn::GetAtt": ["{logical}", "InferenceProfileArn"]' in resources for logical in profile_ids)
    assert profiles["config"].model_id in resources  # and the model the profiles route to


@pytest.mark.slow  # cfn-lint / a large synth: `make test` (CI) runs it
def test_profiles_are_cfn_lint_clean(profiles: dict[str, Any]) -> None:
    assert [str(m) for m in lint_file(Path(profiles["path"]), ManualArgs(regions=[REGION]))] == []


def test_no_tenant_profiles_by_default(level1: SynthResult) -> None:
    assert not level1.resources("AWS::Bedrock::ApplicationInferenceProfile")
    functions = level1.resources("AWS::Lambda::Function").values()
    (rag,) = [f for f in functions if "TENANT_HEADER" in f["Properties"].get("Environment", {}).get("Variables", {})]
    variables = rag["Properties"]["Environment"]["Variables"]
    assert variables["TENANT_HEADER"] == "x-tenant-id" and "TENANT_PROFILES" not in variables


def test_proactive_stack_leaves_the_rules_out_when_tenant_insights_is_off() -> None:
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Annotations, Match, Template

    from llm_observability import AlertTopic, ObservabilityConfig, ProactiveStack
    from llm_observability.workload import Workload

    app = App(context=CDK_CONTEXT)
    level1 = Stack(app, "Level1")
    alerts = AlertTopic(level1, "Alerts")
    workload = Workload(name="their-bot", model_ids=(THEIR_MODEL,)).with_alert_topic(alerts.topic, key=alerts.key)
    config = ObservabilityConfig(level=2, tenant_insights=False, security_hub="adopt", config_recorder="adopt",
                                 cloudtrail=False, security_standards=())  # fmt: skip
    level2 = ProactiveStack(app, "Level2", workload=workload, config=config)
    assert level2.tenant_usage is None
    Template.from_stack(level2).resource_count_is(RULE, 0)
    infos = Annotations.from_stack(level2).find_info("*", Match.string_like_regexp("tenant_insights=false"))
    assert len(infos) == 1


def test_tenant_profiles_cannot_copy_an_application_inference_profile() -> None:
    from aws_cdk import App, Stack

    from llm_observability import ObservabilityConfig
    from llm_observability.constructs.rag_app import RagReferenceApp
    from llm_observability.errors import ConfigError

    config = ObservabilityConfig(
        model_id="arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
        tenant_inference_profiles=("acme",),
    )
    with pytest.raises(ConfigError, match="Setting 'tenant_inference_profiles' is set while 'model_id'"):
        RagReferenceApp(Stack(App(context=CDK_CONTEXT), "S"), "RagApp", config=config)
