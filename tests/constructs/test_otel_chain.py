"""One exec-wrapper chain per function: LlmInstrumentation's zero_code, tracing and codeguru_profiling together, with a
wrapper the function has of its own; layers counted; the combinations that cannot work are ConfigErrors.

One app (cdk-nag on) holds a function per combination; it is synthesized once and linted with cfn-lint. The error
cases build constructs without synthesis.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.support.functions import inline_function

US_EAST_1 = "arn:aws:lambda:us-east-1:615299751070:layer:AWSOpenTelemetryDistroPython:29"
OURS, CODEGURU, OTEL = "/opt/llmobs-instrument", "/opt/codeguru_profiler_lambda_exec", "/opt/otel-instrument"
#: name -> (LlmInstrumentation options, the function's own variables)
COMBINATIONS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "Tracing": ({"tracing": True}, {}),
    "TracingZeroCode": ({"tracing": True, "zero_code": True}, {}),
    "TracingProfiling": ({"tracing": True, "codeguru_profiling": True}, {}),
    "All": ({"tracing": True, "zero_code": True, "codeguru_profiling": True}, {}),
    "OwnOtel": ({"tracing": True, "zero_code": True}, {"AWS_LAMBDA_EXEC_WRAPPER": OTEL}),
    "OwnOther": ({"zero_code": True, "codeguru_profiling": True}, {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/their-wrapper"}),
}


def _function(stack: Any, id: str, **options: Any) -> Any:
    return inline_function(stack, id, log_group=True, **options)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Environment, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.instrumentation import LlmInstrumentation
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("otel-chain")
    app = App(outdir=str(outdir))
    env = Environment(account="123456789012", region="us-east-1")
    bare = Stack(app, "Bare", env=env)
    stack = Stack(app, "Chains", env=env)
    constructs = {}
    for name, (options, variables) in COMBINATIONS.items():
        _function(bare, name, environment=dict(variables) or None)
        fn = _function(stack, name, environment=dict(variables) or None)
        constructs[name] = LlmInstrumentation(stack, f"{name}Llmobs", functions=[fn], service_name="bot", **options)
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError as error:  # the bare functions have findings of their own; the chains must add none
        assert "ValidationFailed" in str(error)
    return {
        "outdir": outdir,
        "template": json.loads((outdir / "Chains.template.json").read_text()),
        "report": json.loads((outdir / "validation-report.json").read_text()),
        "constructs": constructs,
    }


def _properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v["Properties"] for k, v in template["Resources"].items() if re.fullmatch(rf"{name}[0-9A-F]{{8}}", k)]
    return found


def _wrappers(properties: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    variables = properties["Environment"]["Variables"]
    return (
        variables.get("AWS_LAMBDA_EXEC_WRAPPER"),
        variables.get("LLMOBS_NEXT_WRAPPER"),
        variables.get("LLMOBS_ZERO_CODE"),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Tracing", (OTEL, None, None)),
        ("TracingZeroCode", (OURS, OTEL, None)),
        ("TracingProfiling", (OURS, f"{CODEGURU} {OTEL}", "false")),  # ours only starts the chain
        ("All", (OURS, f"{CODEGURU} {OTEL}", None)),
        ("OwnOtel", (OURS, OTEL, None)),
        ("OwnOther", (OURS, f"{CODEGURU} /opt/their-wrapper", None)),  # the function's own stays outermost
    ],
)
def test_each_function_starts_through_one_chain(
    app: dict[str, Any], name: str, expected: tuple[str | None, ...]
) -> None:
    assert _wrappers(_properties(app["template"], name)) == expected


@pytest.mark.parametrize(
    ("name", "adot", "count"),
    [("Tracing", True, 2), ("All", True, 3), ("OwnOtel", False, 1), ("OwnOther", False, 2)],
)
def test_the_adot_layer_is_added_once_and_only_where_missing(
    app: dict[str, Any], name: str, adot: bool, count: int
) -> None:
    layers = _properties(app["template"], name)["Layers"]
    assert len(layers) == count and (US_EAST_1 in layers) is adot


def test_traced_functions_get_the_otel_settings_and_active_tracing(app: dict[str, Any]) -> None:
    for name, (options, _) in COMBINATIONS.items():
        properties = _properties(app["template"], name)
        variables = properties["Environment"]["Variables"]
        traced = options.get("tracing", False)
        assert (variables.get("OTEL_SERVICE_NAME") == "bot") is traced, name
        assert (properties.get("TracingConfig") == {"Mode": "Active"}) is traced, name
        assert (variables.get("OTEL_PYTHON_CONFIGURATOR") == "aws_configurator") is traced, name
    assert all(c.tracing == COMBINATIONS[n][0].get("tracing", False) for n, c in app["constructs"].items())


def test_the_chains_add_no_cdk_nag_finding(app: dict[str, Any]) -> None:
    def findings(stack: str) -> set[tuple[str, str]]:
        return {
            (c["constructPath"].split("/")[1], v["ruleName"])
            for report in app["report"]["pluginReports"]
            for v in report["violations"]
            for c in v["violatingConstructs"]
            if c["constructPath"].startswith(f"{stack}/")
        }

    assert findings("Chains") <= findings("Bare")


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
def test_the_template_is_cfn_lint_clean(app: dict[str, Any]) -> None:
    path: Path = app["outdir"] / "Chains.template.json"
    assert [str(m) for m in lint_file(path, ManualArgs(regions=["us-east-1"]))] == []


# --- combinations that cannot work, and the layer limit (no synthesis) -----------------------------------------------
@pytest.fixture
def stack() -> Any:
    from aws_cdk import App, Environment, Stack

    return Stack(App(), "S", env=Environment(account="123456789012", region="us-east-1"))


def _unchanged(fn: Any, stack: Any) -> dict[str, Any]:
    return stack.resolve(fn.node.default_child._cfn_properties)


def test_tracing_a_function_with_an_unknown_exec_wrapper_is_a_config_error_naming_it(stack: Any) -> None:
    from llm_observability.constructs.instrumentation import LlmInstrumentation

    fn = _function(stack, "Fn", environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/vendor-tracer"})
    before = _unchanged(fn, stack)
    with pytest.raises(ConfigError, match=r"^LlmInstrumentation 'tracing' is True, but 'S/Fn' starts through the exec "
                       r"wrapper /opt/vendor-tracer, which cannot run before /opt/otel-instrument"):  # fmt: skip
        LlmInstrumentation(stack, "Llmobs", functions=[fn], tracing=True, zero_code=True)
    assert _unchanged(fn, stack) == before


def test_tracing_a_runtime_the_layer_does_not_support_is_a_config_error(stack: Any) -> None:
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.instrumentation import LlmInstrumentation, layer_count

    fn = _function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_14)
    with pytest.raises(ConfigError, match=r"'tracing' is True, but 'S/Fn' runs python3.14, and AWS's ADOT Python"):
        LlmInstrumentation(stack, "Llmobs", functions=[fn], tracing=True)
    assert layer_count(fn) == 0
    LlmInstrumentation(stack, "Own", functions=[fn], tracing=True, adot_layer_arn=US_EAST_1.replace(":29", ":31"))
    assert layer_count(fn) == 2  # with the user's own layer version, their call


def test_the_layer_limit_counts_the_adot_layer(stack: Any) -> None:
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.instrumentation import LlmInstrumentation, layer_count

    layers = [
        lambda_.LayerVersion.from_layer_version_arn(stack, f"L{i}", f"arn:aws:lambda:us-east-1:1:layer:l{i}:1")
        for i in range(3)
    ]
    fn = _function(stack, "Fn", layers=layers)
    with pytest.raises(ConfigError, match=r"'S/Fn', which has 3 layers already and would get 3 more: Lambda allows 5"):
        LlmInstrumentation(stack, "Llmobs", functions=[fn], tracing=True, codeguru_profiling=True)
    assert layer_count(fn) == 3
    LlmInstrumentation(stack, "Traced", functions=[fn], tracing=True)
    assert layer_count(fn) == 5


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"tracing": "yes"}, r"^LlmInstrumentation 'tracing' is 'yes': allowed is True or False\.$"),
        ({"tracing": True, "adot_layer_arn": "v29"}, r"^LlmInstrumentation 'adot_layer_arn' is 'v29': allowed is empty"),
    ],
)
def test_bad_tracing_input_is_one_config_error_sentence(stack: Any, options: dict[str, Any], match: str) -> None:
    from llm_observability.constructs.instrumentation import LlmInstrumentation

    with pytest.raises(ConfigError, match=match):
        LlmInstrumentation(stack, "Llmobs", functions=[_function(stack, "Fn")], **options)


def test_an_environment_agnostic_stack_traces_through_the_mapping() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.instrumentation import LlmInstrumentation

    stack = Stack(App(), "Anywhere")
    fn = _function(stack, "Fn")
    LlmInstrumentation(stack, "Llmobs", functions=[fn], tracing=True)
    layers = stack.resolve(fn.node.default_child._cfn_properties)["layers"]
    assert {"Fn::FindInMap": ["AdotPythonLayerArns", {"Ref": "AWS::Region"}, "LayerArn"]} in layers
