"""OpenTelemetry tracing on a Lambda function: AWS's ADOT Python layer (one table of ARNs) and the function's setup.

:func:`enable_tracing` is the one place that turns it on: the AWS-managed ``AWSOpenTelemetryDistroPython`` layer for
the stack's region (:data:`ADOT_PYTHON_LAYER_ARNS`, or the ``adot_layer_arn`` override), the layer's start script
``/opt/otel-instrument`` as the exec wrapper (or a place in a chain, see ``LlmInstrumentation``), the ``OTEL_*``
settings below and Lambda active tracing. The layer's distribution, in a Lambda environment, replaces the OTLP span
exporter by one that sends OTLP over UDP to ``AWS_XRAY_DAEMON_ADDRESS``, Lambda's X-Ray endpoint: the spans reach X-Ray
(and Transaction Search) only with active tracing on and ``xray:PutTraceSegments`` allowed.
"""

from __future__ import annotations

import json
from typing import Any, cast

from aws_cdk import CfnMapping, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from llm_observability.config.rules import LAYER_VERSION_ARN_RE
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge

ADOT_LAYER_NAME = "AWSOpenTelemetryDistroPython"
#: The AWS-managed ADOT Python layer version per region (Python release v0.18.0 of the layer; AWS publishes it from
#: account 615299751070 in the older commercial regions and from one account per newer region). Source: "ADOT Lambda
#: layer ARNs" on https://aws-otel.github.io/docs/getting-started/lambda (aws-otel/aws-otel.github.io,
#: src/config/lambdaLayerArns.js; the newest copy available, commit e256b2e of 2026-07-22), read on 2026-11-27.
#: Update this table, and nothing else, for a new layer version; ``adot_layer_arn`` overrides it for one app.
ADOT_PYTHON_LAYER_ARNS: dict[str, str] = {
    "af-south-1": "arn:aws:lambda:af-south-1:904233096616:layer:AWSOpenTelemetryDistroPython:23",
    "ap-east-1": "arn:aws:lambda:ap-east-1:888577020596:layer:AWSOpenTelemetryDistroPython:23",
    "ap-east-2": "arn:aws:lambda:ap-east-2:412664885777:layer:AWSOpenTelemetryDistroPython:4",
    "ap-northeast-1": "arn:aws:lambda:ap-northeast-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "ap-northeast-2": "arn:aws:lambda:ap-northeast-2:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "ap-northeast-3": "arn:aws:lambda:ap-northeast-3:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "ap-south-1": "arn:aws:lambda:ap-south-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "ap-south-2": "arn:aws:lambda:ap-south-2:796973505492:layer:AWSOpenTelemetryDistroPython:23",
    "ap-southeast-1": "arn:aws:lambda:ap-southeast-1:615299751070:layer:AWSOpenTelemetryDistroPython:25",
    "ap-southeast-2": "arn:aws:lambda:ap-southeast-2:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "ap-southeast-3": "arn:aws:lambda:ap-southeast-3:039612877180:layer:AWSOpenTelemetryDistroPython:23",
    "ap-southeast-4": "arn:aws:lambda:ap-southeast-4:713881805771:layer:AWSOpenTelemetryDistroPython:23",
    "ap-southeast-5": "arn:aws:lambda:ap-southeast-5:152034782359:layer:AWSOpenTelemetryDistroPython:14",
    "ap-southeast-6": "arn:aws:lambda:ap-southeast-6:313828097273:layer:AWSOpenTelemetryDistroPython:3",
    "ap-southeast-7": "arn:aws:lambda:ap-southeast-7:980416031188:layer:AWSOpenTelemetryDistroPython:14",
    "ca-central-1": "arn:aws:lambda:ca-central-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "ca-west-1": "arn:aws:lambda:ca-west-1:595944127152:layer:AWSOpenTelemetryDistroPython:14",
    "cn-north-1": "arn:aws-cn:lambda:cn-north-1:440179912924:layer:AWSOpenTelemetryDistroPython:14",
    "cn-northwest-1": "arn:aws-cn:lambda:cn-northwest-1:440180067931:layer:AWSOpenTelemetryDistroPython:14",
    "eu-central-1": "arn:aws:lambda:eu-central-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "eu-central-2": "arn:aws:lambda:eu-central-2:156041407956:layer:AWSOpenTelemetryDistroPython:23",
    "eu-north-1": "arn:aws:lambda:eu-north-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "eu-south-1": "arn:aws:lambda:eu-south-1:257394471194:layer:AWSOpenTelemetryDistroPython:23",
    "eu-south-2": "arn:aws:lambda:eu-south-2:490004653786:layer:AWSOpenTelemetryDistroPython:23",
    "eu-west-1": "arn:aws:lambda:eu-west-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "eu-west-2": "arn:aws:lambda:eu-west-2:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "eu-west-3": "arn:aws:lambda:eu-west-3:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "il-central-1": "arn:aws:lambda:il-central-1:746669239226:layer:AWSOpenTelemetryDistroPython:23",
    "me-central-1": "arn:aws:lambda:me-central-1:739275441131:layer:AWSOpenTelemetryDistroPython:22",
    "mx-central-1": "arn:aws:lambda:mx-central-1:610118373846:layer:AWSOpenTelemetryDistroPython:14",
    "sa-east-1": "arn:aws:lambda:sa-east-1:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "us-east-1": "arn:aws:lambda:us-east-1:615299751070:layer:AWSOpenTelemetryDistroPython:29",
    "us-east-2": "arn:aws:lambda:us-east-2:615299751070:layer:AWSOpenTelemetryDistroPython:26",
    "us-west-1": "arn:aws:lambda:us-west-1:615299751070:layer:AWSOpenTelemetryDistroPython:33",
    "us-west-2": "arn:aws:lambda:us-west-2:615299751070:layer:AWSOpenTelemetryDistroPython:33",
}
#: The Python runtimes AWS documents for the layers of the table (same page, "Supported runtimes"; the layer's
#: release workflow publishes them with these compatible runtimes). Python 3.14 is added only from layer release
#: v0.19.0 on, which the page does not list yet.
ADOT_PYTHON_RUNTIMES: tuple[lambda_.Runtime, ...] = (
    lambda_.Runtime.PYTHON_3_10,
    lambda_.Runtime.PYTHON_3_11,
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
)
#: The newest of them: the runtime of a function the library traces.
TRACED_RUNTIME = ADOT_PYTHON_RUNTIMES[-1]
#: The layer's start script (at the layer's root): AWS's documented AWS_LAMBDA_EXEC_WRAPPER value.
OTEL_EXEC_WRAPPER = "/opt/otel-instrument"
ENV_LAMBDA_EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
#: The X-Ray propagator last: it reads X-Amzn-Trace-Id, which the layer's handler wrapper replaces by Lambda's own trace
#: header (_X_AMZN_TRACE_ID: API Gateway's trace, one level down), so that header wins over a W3C ``traceparent`` a
#: client may send through the API and the spans join the X-Ray trace of API Gateway and Lambda. Baggage first, as
#: the layer's default ("baggage,xray,tracecontext") has it.
PROPAGATORS = "baggage,tracecontext,xray"
#: What the functions get besides OTEL_SERVICE_NAME.
#: - Application Signals off: the layer turns it on by default; it needs the CloudWatchLambdaApplicationSignals
#:   execution-role policy and bills its own request metrics, which the runtime's EMF metrics (requests, latency,
#:   errors per service) already are; set OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true on a function to have it anyway.
#: - The AWS distro and configurator by name: the layer's script names them only while Application Signals is on, and
#:   the layer also holds the upstream ones; unnamed, the first entry point found wins, and the upstream configurator
#:   would export OTLP to localhost:4317, where nothing listens in Lambda, instead of Lambda's X-Ray endpoint.
TRACING_ENVIRONMENT: dict[str, str] = {
    "OTEL_PROPAGATORS": PROPAGATORS,
    "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "false",
    "OTEL_PYTHON_DISTRO": "aws_distro",
    "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
}
#: The ``TracingConfig.Mode`` of Lambda active tracing.
ACTIVE = "Active"
#: X-Ray actions of Lambda active tracing (what aws-cdk-lib grants for ``tracing=ACTIVE``).
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
_MAPPING_ID = "AdotPythonLayerArns"


def check_layer_arn(value: str, *, setting: str = "adot_layer_arn", owner: str = "Setting") -> str:
    """``value`` if it is empty, a token or a Lambda layer version ARN.

    :raises ConfigError: anything else.
    """
    valid = isinstance(value, str) and (value == "" or Token.is_unresolved(value) or LAYER_VERSION_ARN_RE.match(value))
    if not valid:
        raise ConfigError(
            f"{owner} '{setting}' is {value!r}: allowed is empty (the ADOT layer of the stack's region) or a Lambda "
            f"layer version ARN such as {ADOT_PYTHON_LAYER_ARNS['us-east-1']}."
        )
    return value


def adot_layer_arn(scope: Construct, override: str = "", *, setting: str = "adot_layer_arn") -> str:
    """The ADOT Python layer version ARN for ``scope``'s stack: ``override`` when given, else the table's ARN for the
    stack's region; for an environment-agnostic stack, a lookup in a ``CfnMapping`` of the table (one per stack).

    :raises ConfigError: a bad ``override``, or a region the table does not list and no override.
    """
    if check_layer_arn(override, setting=setting):
        return override
    stack = Stack.of(scope)
    region = stack.region
    if Token.is_unresolved(region):
        mapping = stack.node.try_find_child(_MAPPING_ID)
        if not isinstance(mapping, CfnMapping):
            mapping = CfnMapping(
                stack, _MAPPING_ID, mapping={r: {"LayerArn": arn} for r, arn in sorted(ADOT_PYTHON_LAYER_ARNS.items())}
            )
        return mapping.find_in_map(region, "LayerArn")
    if region not in ADOT_PYTHON_LAYER_ARNS:
        raise ConfigError(
            f"Setting '{setting}' is empty and AWS lists no {ADOT_LAYER_NAME} layer for the stack's region {region}: "
            "allowed is the ARN of an ADOT Python layer version in that region."
        )
    return ADOT_PYTHON_LAYER_ARNS[region]


def function_property(fn: lambda_.Function, name: str) -> Any:
    """A property of the function's ``AWS::Lambda::Function`` as it stands now (layers, environment, tracing)."""
    cfn = fn.node.default_child
    properties = getattr(cfn, "_cfn_properties", None)  # the protected ``cfnProperties`` of the L1
    value = properties.get(name) if isinstance(properties, dict) else getattr(cfn, name, None)
    return Stack.of(fn).resolve(value) if value is not None else None


def environment_of(fn: lambda_.Function) -> dict[str, Any]:
    """The environment variables ``fn`` has now."""
    environment = function_property(fn, "environment")
    variables = environment.get("variables") if isinstance(environment, dict) else None
    return dict(variables) if isinstance(variables, dict) else {}


def has_adot_layer(fn: lambda_.Function) -> bool:
    """``fn`` has an ADOT Python layer already (one of the table's, or the stack's mapping of them)."""
    layers = json.dumps(function_property(fn, "layers") or [])
    return f":layer:{ADOT_LAYER_NAME}:" in layers or _MAPPING_ID in layers


def unsupported_runtime(fn: lambda_.Function) -> str | None:
    """Why the table's layers do not support ``fn``'s runtime, or None when they do."""
    if fn.runtime.name in {r.name for r in ADOT_PYTHON_RUNTIMES}:
        return None
    supported = ", ".join(r.name for r in ADOT_PYTHON_RUNTIMES)
    return f"runs {fn.runtime.name}, and AWS's ADOT Python layer supports {supported}"


def enable_tracing(
    fn: lambda_.Function,
    *,
    service_name: str | None = None,
    layer_arn: str = "",
    exec_wrapper: bool = True,
    add_layer: bool = True,
    layer_id: str = "AdotLayer",
) -> None:
    """Turn on OpenTelemetry tracing for ``fn``, changing nothing else.

    - the ADOT Python layer (:func:`adot_layer_arn` of ``layer_arn``), unless ``fn`` has one already or
      ``add_layer`` is False (its own layer provides ``/opt/otel-instrument``);
    - ``AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument`` (``exec_wrapper``; False when the caller puts it in a chain);
    - ``OTEL_SERVICE_NAME`` (``service_name``; Default: the layer's, the function's name) and
      :data:`TRACING_ENVIRONMENT`; a variable the function sets already keeps its value;
    - Lambda active tracing with its X-Ray permissions (the layer exports to Lambda's X-Ray endpoint).

    :param layer_id: construct id of the imported layer, in ``fn``'s scope. Default: ``AdotLayer``.
    :raises ConfigError: a bad ``layer_arn``, a region without a layer, or (with the table's layer) a runtime it
        does not support.
    """
    add_layer = add_layer and not has_adot_layer(fn)
    reason = unsupported_runtime(fn) if add_layer and not layer_arn else None
    if reason is not None:
        raise ConfigError(
            f"Tracing '{fn.node.path}' is not possible: it {reason}; use one of those runtimes or set 'adot_layer_arn' "
            "to a layer version that supports it."
        )
    present = environment_of(fn)
    own = present.get(ENV_LAMBDA_EXEC_WRAPPER)
    if exec_wrapper and own not in (None, "", OTEL_EXEC_WRAPPER):
        raise ConfigError(
            f"Tracing '{fn.node.path}' is not possible here: it starts through the exec wrapper {own!r}; chain both "
            "with LlmInstrumentation(tracing=True) or remove that wrapper."
        )
    wanted = dict(TRACING_ENVIRONMENT)
    if service_name is not None:
        wanted[ENV_SERVICE_NAME] = service_name
    if exec_wrapper:
        wanted[ENV_LAMBDA_EXEC_WRAPPER] = OTEL_EXEC_WRAPPER
    if add_layer:
        arn = adot_layer_arn(fn, layer_arn)
        scope = cast(Construct, fn.node.scope)  # a Function always has one
        fn.add_layers(lambda_.LayerVersion.from_layer_version_arn(scope, f"{fn.node.id}{layer_id}", arn))
    for key, value in wanted.items():
        if key not in present or key == ENV_LAMBDA_EXEC_WRAPPER:
            fn.add_environment(key, value)
    tracing = function_property(fn, "tracingConfig")
    if not (isinstance(tracing, dict) and tracing.get("mode") == ACTIVE):
        cfn = fn.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode=ACTIVE)
        fn.add_to_role_policy(iam.PolicyStatement(actions=XRAY_ACTIONS, resources=["*"]))
        if fn.role is not None:
            acknowledge(
                fn.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords (Lambda active tracing, which carries the OpenTelemetry "
                "spans) support no resource-level permissions.",
            )
