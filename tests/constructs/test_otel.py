"""OpenTelemetry tracing on a function (constructs/otel.py): the ADOT layer table, the override, the
environment-agnostic mapping, what a traced function gets, and the reference RAG function traced through it.

One app is synthesized for the module (a stack in us-east-1, one in eu-west-1, an environment-agnostic one) and linted
with cfn-lint; the error cases build constructs without synthesis.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT, SynthResult
from tests.support.functions import inline_function

US_EAST_1 = "arn:aws:lambda:us-east-1:615299751070:layer:AWSOpenTelemetryDistroPython:29"
OTHER_LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:my-adot-build:7"


def _function(stack: Any, id: str, **options: Any) -> Any:
    return inline_function(stack, id, **options)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Environment, Stack

    from llm_observability.constructs.otel import enable_tracing
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("otel")
    app = App(outdir=str(outdir))
    virginia = Stack(app, "Virginia", env=Environment(account="123456789012", region="us-east-1"))
    enable_tracing(_function(virginia, "Traced"), service_name="their-bot")
    enable_tracing(_function(virginia, "Overridden"), layer_arn=OTHER_LAYER)
    named = _function(virginia, "Named", environment={"OTEL_SERVICE_NAME": "their-own-name"})
    enable_tracing(named, service_name="their-bot")
    ireland = Stack(app, "Ireland", env=Environment(account="123456789012", region="eu-west-1"))
    enable_tracing(_function(ireland, "Traced"))
    anywhere = Stack(app, "Anywhere")
    enable_tracing(_function(anywhere, "First"))
    enable_tracing(_function(anywhere, "Second"))
    Aspects.of(app).add(NoRedundantDependsOn())  # aws-cdk-lib's own redundant DependsOn (cfn-lint W3005)
    app.synth()
    return {
        "outdir": outdir,
        "templates": {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in
                      ("Virginia", "Ireland", "Anywhere")},
    }  # fmt: skip


def _properties(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [
        v["Properties"]
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and k.startswith(prefix)
    ]
    return found


# --- the table -----------------------------------------------------------------------------------------------------
def test_the_table_holds_one_adot_python_layer_version_per_region() -> None:
    from llm_observability.config.rules import LAYER_VERSION_ARN_RE
    from llm_observability.constructs.otel import ADOT_PYTHON_LAYER_ARNS

    assert len(ADOT_PYTHON_LAYER_ARNS) >= 30 and ADOT_PYTHON_LAYER_ARNS["us-east-1"] == US_EAST_1
    for region, arn in ADOT_PYTHON_LAYER_ARNS.items():
        assert LAYER_VERSION_ARN_RE.match(arn), arn
        partition = "aws-cn" if region.startswith("cn-") else "aws"
        assert re.fullmatch(rf"arn:{partition}:lambda:{region}:\d{{12}}:layer:AWSOpenTelemetryDistroPython:\d+", arn)


# --- what a traced function gets --------------------------------------------------------------------------------
def test_a_traced_function_gets_the_layer_the_wrapper_the_settings_and_active_tracing(app: dict[str, Any]) -> None:
    template = app["templates"]["Virginia"]
    properties = _properties(template, "Traced")
    assert properties["Layers"] == [US_EAST_1]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Environment"]["Variables"] == {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument",
        "OTEL_SERVICE_NAME": "their-bot",
        "OTEL_PROPAGATORS": "baggage,tracecontext,xray",
        "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "false",
        "OTEL_PYTHON_DISTRO": "aws_distro",
        "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
    }
    policies = [
        statement
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::IAM::Policy" and k.startswith("TracedServiceRole")
        for statement in v["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert policies == [
        {"Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Effect": "Allow", "Resource": "*"}
    ]


def test_the_stack_s_region_picks_the_layer_and_the_override_wins(app: dict[str, Any]) -> None:
    from llm_observability.constructs.otel import ADOT_PYTHON_LAYER_ARNS

    assert _properties(app["templates"]["Ireland"], "Traced")["Layers"] == [ADOT_PYTHON_LAYER_ARNS["eu-west-1"]]
    assert _properties(app["templates"]["Virginia"], "Overridden")["Layers"] == [OTHER_LAYER]
    variables = _properties(app["templates"]["Virginia"], "Named")["Environment"]["Variables"]
    assert variables["OTEL_SERVICE_NAME"] == "their-own-name"  # the function's own setting is kept


def test_an_environment_agnostic_stack_looks_the_layer_up_in_one_mapping(app: dict[str, Any]) -> None:
    from llm_observability.constructs.otel import ADOT_PYTHON_LAYER_ARNS

    template = app["templates"]["Anywhere"]
    assert template["Mappings"] == {
        "AdotPythonLayerArns": {region: {"LayerArn": arn} for region, arn in ADOT_PYTHON_LAYER_ARNS.items()}
    }
    lookup = {"Fn::FindInMap": ["AdotPythonLayerArns", {"Ref": "AWS::Region"}, "LayerArn"]}
    assert _properties(template, "First")["Layers"] == [lookup]
    assert _properties(template, "Second")["Layers"] == [lookup]


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
@pytest.mark.parametrize("stack", ["Virginia", "Ireland", "Anywhere"])
def test_the_templates_are_cfn_lint_clean(app: dict[str, Any], stack: str) -> None:
    path: Path = app["outdir"] / f"{stack}.template.json"
    assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == []


# --- bad input (no synthesis) --------------------------------------------------------------------------------------
@pytest.fixture
def stack() -> Any:
    from aws_cdk import App, Environment, Stack

    return Stack(App(), "S", env=Environment(account="123456789012", region="us-east-1"))


@pytest.mark.parametrize("bad", ["arn:aws:lambda:us-east-1:615299751070:layer:AWSOpenTelemetryDistroPython", "layer:29",
                                 "arn:aws:s3:::bucket"])  # fmt: skip
def test_a_bad_override_is_a_config_error_naming_the_setting(stack: Any, bad: str) -> None:
    from llm_observability.constructs.otel import enable_tracing

    fn = _function(stack, "Fn")
    with pytest.raises(ConfigError, match=r"^Setting 'adot_layer_arn' is .*: allowed is empty .* or a Lambda layer"):
        enable_tracing(fn, layer_arn=bad)
    assert "Layers" not in json.dumps(stack.resolve(fn.node.default_child._cfn_properties))


def test_a_region_the_table_does_not_list_needs_the_override() -> None:
    from aws_cdk import App, Environment, Stack

    from llm_observability.constructs.otel import adot_layer_arn, enable_tracing

    stack = Stack(App(), "Gov", env=Environment(account="123456789012", region="us-gov-west-1"))
    with pytest.raises(ConfigError, match=r"^Setting 'adot_layer_arn' is empty and AWS lists no .* us-gov-west-1"):
        enable_tracing(_function(stack, "Fn"))
    own = "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:adot:1"
    assert adot_layer_arn(stack, own) == own


def test_a_runtime_the_layer_does_not_support_needs_the_override(stack: Any) -> None:
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.otel import enable_tracing

    newest = _function(stack, "Newest", runtime=lambda_.Runtime.PYTHON_3_14)
    with pytest.raises(ConfigError, match=r"'S/Newest' is not possible: it runs python3.14, and AWS's ADOT Python"):
        enable_tracing(newest)
    enable_tracing(newest, layer_arn=OTHER_LAYER)  # the user's layer version: their call


def test_a_function_with_another_exec_wrapper_is_a_config_error(stack: Any) -> None:
    from llm_observability.constructs.otel import enable_tracing

    fn = _function(stack, "Fn", environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/their-wrapper"})
    with pytest.raises(ConfigError, match=r"exec wrapper '/opt/their-wrapper'; chain both with LlmInstrumentation"):
        enable_tracing(fn)


def test_the_setting_is_validated_and_defaults_to_the_table() -> None:
    from llm_observability.config import ObservabilityConfig

    assert CDK_CONTEXT["adot_layer_arn"] == "" and ObservabilityConfig().adot_layer_arn == ""
    assert ObservabilityConfig(adot_layer_arn=OTHER_LAYER).adot_layer_arn == OTHER_LAYER
    with pytest.raises(ConfigError, match=r"^Setting 'adot_layer_arn' is 'latest': allowed is empty"):
        ObservabilityConfig(adot_layer_arn="latest")


# --- the reference app ---------------------------------------------------------------------------------------------
def test_the_rag_function_is_traced_on_the_newest_runtime_the_layer_supports(level1: SynthResult) -> None:
    (rag,) = [
        v["Properties"]
        for v in level1.resources("AWS::Lambda::Function").values()
        if "OTEL_SERVICE_NAME" in json.dumps(v["Properties"].get("Environment", {}))
    ]
    assert rag["Runtime"] == "python3.13" and rag["TracingConfig"] == {"Mode": "Active"}
    variables = rag["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/otel-instrument"
    assert variables["OTEL_SERVICE_NAME"] == CDK_CONTEXT["workload_name"]
    assert variables["OTEL_AWS_APPLICATION_SIGNALS_ENABLED"] == "false"
    assert "AdotPythonLayerArns" in json.dumps(rag["Layers"]) or US_EAST_1 in json.dumps(rag["Layers"])
    assert "python3.13" in json.dumps(level1.template()["Parameters"])  # the Powertools layer for that runtime
