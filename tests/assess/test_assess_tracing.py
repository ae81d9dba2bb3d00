"""The ``tracing`` capability recognizes OpenTelemetry (an OpenTelemetry layer AND its wrapper on a request-path
function) besides X-Ray active tracing, on hand-written templates, conditional forms included; and the cost
estimate prices Transaction Search instead of X-Ray traces where the templates turn it on."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm_observability.assess import assess, estimate, load
from llm_observability.assess.model import Status
from tests.conftest import SynthResult

ADOT = "arn:aws:lambda:eu-west-1:615299751070:layer:AWSOpenTelemetryDistroPython:16"
ADOT_SUB = {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:615299751070:layer:AWSOpenTelemetryDistroPython:16"}
OTHER_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:7"
OTEL = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument"}
CHAINED = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/llmobs-instrument", "LLMOBS_NEXT_WRAPPER": "/opt/otel-instrument"}
NO_VALUE = {"Ref": "AWS::NoValue"}
STAGE_ON = {"Type": "AWS::ApiGateway::Stage", "Properties": {"TracingEnabled": True}}
METHOD = {
    "Type": "AWS::ApiGateway::Method",
    "Properties": {"Integration": {"Uri": {"Fn::Sub": "arn:aws:apigateway:r:lambda:path/f/${Fn.Arn}/invocations"}}},
}


def _fn(layers: Any = None, env: Any = None, **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = dict(props)
    if layers is not None:
        properties["Layers"] = layers
    if env is not None:
        properties["Environment"] = {"Variables": env} if "Fn::If" not in env else env
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def _row(write_template: Callable[..., Path], fn: dict[str, Any], **extra: Any) -> Any:
    template: dict[str, Any] = {"Resources": {"Fn": fn, "Stage": STAGE_ON, "Ask": METHOD, **extra}}
    return assess(load(write_template(template))).result("tracing")


@pytest.mark.parametrize(
    "fn",
    [
        _fn([ADOT], OTEL),
        _fn([OTHER_LAYER, ADOT_SUB], OTEL),
        _fn([ADOT], CHAINED),  # the library's runtime wrapper first, then ADOT's
        # ours, then CodeGuru's, then ADOT's (LlmInstrumentation with zero_code, codeguru_profiling and tracing)
        _fn([ADOT], {**CHAINED, "LLMOBS_NEXT_WRAPPER": "/opt/codeguru_profiler_lambda_exec /opt/otel-instrument"}),
        _fn(["arn:aws:lambda:eu-west-1:123456789012:layer:my-opentelemetry-python:3"], OTEL),
        _fn(["arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-python-amd64-ver-1-25-0:1"], OTEL),
    ],
    ids=["adot-arn", "adot-sub", "chained", "chained-list", "named-opentelemetry", "aws-otel-python"],
)
def test_an_opentelemetry_layer_with_its_wrapper_is_tracing(write_template: Callable[..., Path], fn: Any) -> None:
    row = _row(write_template, fn)
    assert row.status is Status.PRESENT, row.reason
    assert row.reason == "Tracing on 1 API stage(s) and 1 request-path function(s) (OpenTelemetry: Fn)."
    assert {r.logical_id for r in row.evidence} == {"Fn", "Stage"}


def test_a_layer_in_the_templates_is_read_by_its_name(write_template: Callable[..., Path]) -> None:
    layer = {"Type": "AWS::Lambda::LayerVersion", "Properties": {"LayerName": "team-opentelemetry", "Content": {}}}
    assert _row(write_template, _fn([{"Ref": "Otel"}], OTEL), Otel=layer).status is Status.PRESENT
    plain = {"Type": "AWS::Lambda::LayerVersion", "Properties": {"LayerName": "team-utils", "Content": {}}}
    assert _row(write_template, _fn([{"Ref": "Utils"}], OTEL), Utils=plain).status is Status.PARTIAL


def test_a_layer_from_a_region_mapping_counts_when_every_region_gives_one(write_template: Callable[..., Path]) -> None:
    by_region = {"Fn::FindInMap": ["AdotLayers", {"Ref": "AWS::Region"}, "LayerArn"]}
    regions = {"eu-west-1": {"LayerArn": ADOT}, "us-east-1": {"LayerArn": ADOT.replace("eu-west-1", "us-east-1")}}
    template = {"Mappings": {"AdotLayers": regions},
                "Resources": {"Fn": _fn([by_region], OTEL), "Stage": STAGE_ON, "Ask": METHOD}}  # fmt: skip
    assert assess(load(write_template(template))).result("tracing").status is Status.PRESENT
    regions["ap-south-2"] = {"LayerArn": OTHER_LAYER}  # one region maps to another layer: no proof
    assert assess(load(write_template(template))).result("tracing").status is Status.PARTIAL
    template["Resources"]["Fn"] = _fn([{"Fn::FindInMap": ["AdotLayers", "eu-west-1", "LayerArn"]}], OTEL)
    assert assess(load(write_template(template))).result("tracing").status is Status.PRESENT
    template["Resources"]["Fn"] = _fn([{"Fn::FindInMap": ["Missing", "eu-west-1", "LayerArn"]}], OTEL)
    assert assess(load(write_template(template))).result("tracing").status is Status.PARTIAL


def test_the_reference_app_is_traced_by_opentelemetry_and_x_ray(level1: SynthResult) -> None:
    row = assess(load(level1.outdir)).result("tracing")
    assert row.status is Status.PRESENT
    both = r"\(OpenTelemetry: RagAppFunction\w+; X-Ray active tracing: RagAppFunction\w+\)"
    assert re.search(both, row.reason), row.reason


def test_x_ray_active_tracing_is_still_recognized_and_both_are_named(write_template: Callable[..., Path]) -> None:
    row = _row(write_template, _fn([ADOT], OTEL, TracingConfig={"Mode": "Active"}))
    assert row.status is Status.PRESENT
    assert row.reason.endswith("(OpenTelemetry: Fn; X-Ray active tracing: Fn).")
    row = _row(write_template, _fn(TracingConfig={"Mode": "Active"}))
    assert row.reason == "Tracing on 1 API stage(s) and 1 request-path function(s) (X-Ray active tracing: Fn)."


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (_fn([ADOT]), "Fn carry an OpenTelemetry layer but do not start it (AWS_LAMBDA_EXEC_WRAPPER="),
        (_fn([ADOT], {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/codeguru_profiler_lambda_exec"}), "carry an OpenTelemetry"),
        (_fn([OTHER_LAYER], OTEL), "Fn start /opt/otel-instrument without an OpenTelemetry layer that ships it"),
        (_fn([ADOT], {"LLMOBS_NEXT_WRAPPER": "/opt/otel-instrument"}), "carry an OpenTelemetry"),  # nothing runs it
    ],
    ids=["layer-only", "other-wrapper", "wrapper-only", "next-without-runtime-wrapper"],
)  # fmt: skip
def test_half_of_opentelemetry_is_not_tracing_and_says_which_half(
    write_template: Callable[..., Path], fn: Any, hint: str
) -> None:
    row = _row(write_template, fn)
    assert row.status is Status.PARTIAL
    assert "request-path function(s) without tracing (neither OpenTelemetry nor X-Ray active tracing): Fn" in row.reason
    assert hint in row.reason and "depends on a template condition" not in row.reason


@pytest.mark.parametrize(
    "fn",
    [
        _fn([ADOT], {"AWS_LAMBDA_EXEC_WRAPPER": {"Fn::If": ["Traced", "/opt/otel-instrument", NO_VALUE]}}),
        _fn([ADOT], {"Fn::If": ["Traced", {"Variables": OTEL}, NO_VALUE]}),
        _fn({"Fn::If": ["Traced", [ADOT], []]}, OTEL),
        _fn([{"Fn::If": ["Traced", ADOT, NO_VALUE]}], OTEL),
        _fn([ADOT], {**CHAINED, "LLMOBS_NEXT_WRAPPER": {"Fn::If": ["Traced", "/opt/otel-instrument", NO_VALUE]}}),
    ],
    ids=["wrapper-value", "environment", "layers", "layer-element", "next-wrapper"],
)
def test_opentelemetry_in_one_branch_only_is_conditional(write_template: Callable[..., Path], fn: Any) -> None:
    row = _row(write_template, fn)
    assert row.status is Status.PARTIAL
    assert "(tracing of Fn depends on a template condition)" in row.reason
    assert "Fn" in {r.logical_id for r in row.evidence}


def test_opentelemetry_in_every_branch_counts(write_template: Callable[..., Path]) -> None:
    both = {"Fn::If": ["Prod", [ADOT, OTHER_LAYER], [ADOT]]}
    wrapper = {"Fn::If": ["Prod", "/opt/otel-instrument", "/opt/otel-instrument"]}
    row = _row(write_template, _fn(both, {"AWS_LAMBDA_EXEC_WRAPPER": wrapper}))
    assert row.status is Status.PRESENT, row.reason


def test_a_layer_known_only_at_deploy_time_is_no_proof(write_template: Callable[..., Path]) -> None:
    template = {
        "Parameters": {"OpenTelemetryLayerArn": {"Type": "String"}},
        "Resources": {"Fn": _fn([{"Ref": "OpenTelemetryLayerArn"}], OTEL), "Stage": STAGE_ON, "Ask": METHOD},
    }
    row = assess(load(write_template(template))).result("tracing")
    assert row.status is Status.PARTIAL and "without an OpenTelemetry layer that ships it" in row.reason


def test_sam_globals_give_the_layer_and_the_wrapper(write_template: Callable[..., Path]) -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Globals": {"Function": {"Layers": [ADOT], "Environment": {"Variables": OTEL}}},
        "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler"}}},
    }
    row = assess(load(write_template(template))).result("tracing")
    assert row.status is Status.PRESENT and row.reason == "Tracing on 1 function(s) (OpenTelemetry: Fn)."


# ----------------------------------------------------------------------------- cost: Transaction Search


def _estimate(write_template: Callable[..., Path], **config: Any) -> Any:
    resources: dict[str, Any] = {"Fn": _fn([ADOT], OTEL), "Stage": STAGE_ON, "Ask": METHOD}
    if config:
        resources["Search"] = {"Type": "AWS::XRay::TransactionSearchConfig", "Properties": config}
    return estimate(load(write_template({"Resources": resources})), requests_per_month=100_000)


def test_transaction_search_replaces_x_ray_traces_in_the_estimate(write_template: Callable[..., Path]) -> None:
    report = _estimate(write_template, IndexingPercentage=1)
    assert "xray" not in {i.id for i in report.items}
    spans = report.item("transaction-search-spans")
    assert spans.quantity == pytest.approx(100_000 * 10 * 1500 / 1024**3)  # 10 spans of 1,500 bytes a request
    assert spans.monthly_usd == pytest.approx(spans.quantity * 0.5) and spans.unit_usd == 0.5
    assert "100,000 requests x 10 spans x 1,500 bytes" in spans.assumption
    storage = report.item("transaction-search-storage")
    assert storage.monthly_usd == pytest.approx(spans.quantity * 0.03)
    indexing = report.item("transaction-search-indexing")
    assert indexing.quantity == pytest.approx(1_000_000 * 0.01 / 1e6) and indexing.monthly_usd == 0.0
    assert "within the free 1 %" in indexing.assumption
    assert {r.logical_id for r in spans.evidence} == {"Search"}


def test_indexing_beyond_the_free_share_is_counted_but_not_priced(write_template: Callable[..., Path]) -> None:
    indexing = _estimate(write_template, IndexingPercentage=25).item("transaction-search-indexing")
    assert indexing.quantity == pytest.approx(1_000_000 * 0.24 / 1e6)
    assert indexing.monthly_usd is None and "not priced" in indexing.assumption


def test_without_transaction_search_the_traces_are_x_ray_traces_recorded(write_template: Callable[..., Path]) -> None:
    resources = {"Fn": _fn([ADOT], OTEL), "Stage": STAGE_ON, "Ask": METHOD}
    report = estimate(load(write_template({"Resources": resources})), requests_per_month=100_000)
    assert report.item("xray").quantity == pytest.approx(0.1)
    assert not [i for i in report.items if i.id.startswith("transaction-search")]


def test_the_wrapper_names_are_the_runtimes() -> None:
    from llm_observability.assess import queries as q
    from llm_observability.runtime import telemetry as t

    assert (q.EXEC_WRAPPER_ENV, q.RUNTIME_NEXT_WRAPPER_ENV, q.RUNTIME_EXEC_WRAPPER) == (
        t.ENV_LAMBDA_EXEC_WRAPPER, t.ENV_RUNTIME_NEXT_WRAPPER, t.EXEC_WRAPPER_PATH,
    )  # fmt: skip
