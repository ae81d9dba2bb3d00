"""LlmInstrumentation: the layer built from the package's files, the functions' settings, limits and cdk-nag.

One app is synthesized for the module: a user-shaped function (inline code calling InvokeModel, no
Powertools, no EMF) twice, once alone and once instrumented, so cdk-nag's findings can be compared, plus
functions the layer cannot serve.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from llm_observability.errors import ConfigError

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
PRICES = {MODEL_ID: {"input_per_1k": 0.00025, "output_per_1k": 0.00125}}
USER_CODE = (
    "import json, boto3\n"
    "client = boto3.client('bedrock-runtime')\n"
    "def handler(event, context):\n"
    f"    out = client.invoke_model(modelId='{MODEL_ID}', body=json.dumps({{'prompt': event['body']}}))\n"
    "    return {'statusCode': 200, 'body': out['body'].read().decode()}\n"
)


def _user_function(stack: Any, id: str, **options: Any) -> Any:
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    fn = lambda_.Function(
        stack,
        id,
        runtime=options.pop("runtime", lambda_.Runtime.PYTHON_3_13),
        handler="index.handler",
        code=lambda_.Code.from_inline(USER_CODE),
        log_group=logs.LogGroup(stack, f"{id}Logs", retention=logs.RetentionDays.ONE_MONTH),
        **options,
    )
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["bedrock:InvokeModel"],
            resources=[f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL_ID}"],
        )
    )
    return fn


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Environment, Stack, Validations
    from aws_cdk import aws_ecr as ecr
    from aws_cdk import aws_lambda as lambda_
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.instrumentation import LlmInstrumentation

    outdir = tmp_path_factory.mktemp("instrumentation")
    app = App(outdir=str(outdir))
    env = Environment(account="123456789012", region="us-east-1")
    bare = Stack(app, "Bare", env=env)
    _user_function(bare, "TheirFunction")
    stack = Stack(app, "Instrumented", env=env)
    fn = _user_function(stack, "TheirFunction")
    otel = _user_function(stack, "WithOtel", environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument"})
    node = lambda_.Function(
        stack,
        "NodeFunction",
        runtime=lambda_.Runtime.NODEJS_22_X,
        handler="index.handler",
        code=lambda_.Code.from_inline("exports.handler = async () => ({})"),
    )
    repository = ecr.Repository.from_repository_name(stack, "Repo", "their-images")
    image = lambda_.DockerImageFunction(stack, "ImageFunction", code=lambda_.DockerImageCode.from_ecr(repository))
    imported = lambda_.Function.from_function_arn(stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:x")
    instrumentation = LlmInstrumentation(
        stack,
        "Instrumentation",
        functions=[fn, otel, node, image, imported, fn],
        service_name="their-bot",
        namespace="TheirApp",
        zero_code=True,
        prices=PRICES,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:  # the user's own resources have findings of their own; ours must add none
        assert "ValidationFailed" in str(error)
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        "outdir": outdir,
        "report": report,
        "template": json.loads((outdir / "Instrumented.template.json").read_text()),
        "stack": stack,
        "instrumentation": instrumentation,
        "functions": {"fn": fn, "otel": otel, "node": node, "image": image, "imported": imported},
    }


def _resources(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _function(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [v for k, v in _resources(template, "AWS::Lambda::Function").items() if k.startswith(prefix)]
    return found["Properties"]


def test_the_layer_ships_the_runtime_package_and_the_exec_wrapper(app: dict[str, Any]) -> None:
    from llm_observability.constructs.instrumentation import RUNTIME_DIR, stage_layer

    (layer,) = _resources(app["template"], "AWS::Lambda::LayerVersion").values()
    properties = layer["Properties"]
    assert properties["CompatibleRuntimes"] == ["python3.11", "python3.12", "python3.13", "python3.14"]
    assert properties["CompatibleArchitectures"] == ["x86_64", "arm64"]
    asset = app["outdir"] / f"asset.{properties['Content']['S3Key'].removesuffix('.zip')}"
    staged = stage_layer()
    files = sorted(p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file())
    expected = sorted(f"python/llm_observability_runtime/{p.name}" for p in RUNTIME_DIR.glob("*.py"))
    assert files == sorted([*expected, "llmobs-instrument"])
    assert (staged / "llmobs-instrument").read_bytes() == (RUNTIME_DIR / "exec_wrapper").read_bytes()
    assert stat.S_IMODE((staged / "llmobs-instrument").stat().st_mode) == 0o755
    assert stat.S_IMODE((staged / "python/llm_observability_runtime/api.py").stat().st_mode) == 0o644
    assert stage_layer() == staged  # deterministic: same contents, same directory, same asset hash


def test_instrumented_function_gets_the_layer_and_the_settings(app: dict[str, Any]) -> None:
    properties = _function(app["template"], "TheirFunction")
    (layer_id,) = _resources(app["template"], "AWS::Lambda::LayerVersion")
    assert properties["Layers"] == [{"Ref": layer_id}]
    variables = properties["Environment"]["Variables"]
    assert variables == {
        "LLMOBS_PROMPT_LOGGING": "redacted",
        "LLMOBS_SERVICE_NAME": "their-bot",
        "LLMOBS_NAMESPACE": "TheirApp",
        "LLMOBS_PRICES": json.dumps(PRICES, sort_keys=True, separators=(",", ":")),
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/llmobs-instrument",
    }
    assert app["instrumentation"].functions == (app["functions"]["fn"], app["functions"]["otel"])


def test_an_existing_exec_wrapper_runs_next(app: dict[str, Any]) -> None:
    variables = _function(app["template"], "WithOtel")["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/llmobs-instrument"
    assert variables["LLMOBS_NEXT_WRAPPER"] == "/opt/otel-instrument"


def test_functions_the_layer_cannot_serve_are_skipped_with_a_warning(app: dict[str, Any]) -> None:
    functions = app["functions"]
    assert app["instrumentation"].skipped == (functions["node"], functions["image"], functions["imported"])
    for prefix in ("NodeFunction", "ImageFunction"):
        assert "Layers" not in _function(app["template"], prefix)
        assert "LLMOBS_PROMPT_LOGGING" not in json.dumps(_function(app["template"], prefix))
    metadata = json.loads((app["outdir"] / "Instrumented.metadata.json").read_text())
    warnings = {
        path: [m["data"] for m in entries if m["type"] == "aws:cdk:warning"] for path, entries in metadata.items()
    }
    for path, reason in (
        ("/Instrumented/NodeFunction", "runs nodejs22.x"),
        ("/Instrumented/ImageFunction", "container image"),
        ("/Instrumented/Imported", "imported by ARN"),
    ):
        (warning,) = warnings[path]
        assert (
            "LlmInstrumentation 'Instrumented/Instrumentation' skipped this function: it" in warning
            and reason in warning
        )
    assert not warnings.get("/Instrumented/TheirFunction")


def test_the_construct_adds_no_cdk_nag_finding(app: dict[str, Any]) -> None:
    def findings(stack: str, construct: str) -> set[str]:
        return {
            v["ruleName"]
            for report in app["report"]["pluginReports"]
            for v in report["violations"]
            for c in v["violatingConstructs"]
            if c["constructPath"].startswith(f"{stack}/{construct}")
        }

    assert findings("Instrumented", "TheirFunction") == findings("Bare", "TheirFunction")
    assert findings("Instrumented", "Instrumentation") == set()


# --- limits and bad input (no synthesis) ----------------------------------------------------------------------------
@pytest.fixture
def stack() -> Any:
    from aws_cdk import App, Stack

    return Stack(App(), "S")


def _layers(stack: Any, count: int) -> list[Any]:
    from aws_cdk import aws_lambda as lambda_

    return [
        lambda_.LayerVersion.from_layer_version_arn(
            stack, f"L{i}", f"arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1"
        )
        for i in range(count)
    ]


def test_a_function_with_five_layers_is_a_config_error_naming_it(stack: Any) -> None:
    from llm_observability.constructs.instrumentation import LlmInstrumentation

    full = _user_function(stack, "Full", layers=_layers(stack, 5))
    with pytest.raises(ConfigError, match=r"'S/Full', which has 5 layers already.*Lambda allows 5"):
        LlmInstrumentation(stack, "Instrumentation", functions=[full])
    assert "Layers" not in json.dumps(stack.resolve(full.node.default_child._cfn_properties))  # nothing changed


def test_a_function_with_four_layers_gets_the_fifth(stack: Any) -> None:
    from llm_observability.constructs.instrumentation import LlmInstrumentation, layer_count

    fn = _user_function(stack, "Fn", layers=_layers(stack, 4))
    LlmInstrumentation(stack, "Instrumentation", functions=[fn])
    assert layer_count(fn) == 5


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"functions": []}, "'functions' is empty"),
        ({"prompt_logging": "everything"}, "'prompt_logging' is 'everything': allowed are full, redacted, none"),
        ({"namespace": "AWS/Lambda"}, "'namespace' is 'AWS/Lambda'"),
        ({"service_name": ""}, "'service_name' is ''"),
        ({"prices": {MODEL_ID: {"input": 1, "output": 2}}}, "'prices' has"),
        ({"prices": {MODEL_ID: {"input_per_1k": -1, "output_per_1k": 2}}}, "'prices' has"),
        ({"prices": {f"model-{i:04d}": PRICES[MODEL_ID] for i in range(60)}}, "characters as JSON"),
    ],
)
def test_bad_input_is_one_config_error_sentence(stack: Any, options: dict[str, Any], match: str) -> None:
    from llm_observability.constructs.instrumentation import LlmInstrumentation

    options = {"functions": [_user_function(stack, "Fn")], **options}
    with pytest.raises(ConfigError, match=match):
        LlmInstrumentation(stack, "Instrumentation", **options)


def test_old_python_runtimes_are_skipped(stack: Any) -> None:
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.instrumentation import unsupported_reason

    old = _user_function(stack, "Old", runtime=lambda_.Runtime.PYTHON_3_10)
    assert unsupported_reason(old) == "runs python3.10, and the runtime layer needs Python 3.11 to 3.14"
    assert unsupported_reason(_user_function(stack, "New")) is None


def test_layer_staging_ignores_bytecode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_observability.constructs import _common, instrumentation

    source = tmp_path / "runtime"
    (source / "__pycache__").mkdir(parents=True)
    (source / "__init__.py").write_text('"""x"""\n')
    (source / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (source / "exec_wrapper").write_text("#!/bin/sh\n")
    monkeypatch.setattr(instrumentation, "RUNTIME_DIR", source)
    monkeypatch.setattr(_common, "STAGING_DIR", tmp_path / "staging")
    staged = instrumentation.stage_layer()
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()) == [
        "llmobs-instrument",
        "python/llm_observability_runtime/__init__.py",
    ]
