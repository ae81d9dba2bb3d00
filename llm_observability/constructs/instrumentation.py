"""LlmInstrumentation: the library's runtime layer on a user's own Python functions, configured by environment.

The layer is built from the package's own files, without Docker: ``python/llm_observability_runtime/``
(the source of ``llm_observability/runtime``) and the exec wrapper at its root (``/opt/llmobs-instrument``),
staged once in a directory named by a hash of the contents, so the asset hash is the same on every run
and machine. Only the functions passed in are changed (the user's explicit request): the layer, the
``LLMOBS_*`` variables and, for zero-code use, ``AWS_LAMBDA_EXEC_WRAPPER``.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

from aws_cdk import Annotations, Stack, Token
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from llm_observability.constructs._common import ASSET_EXCLUDES, stage_files
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry as t

PromptLogging = Literal["full", "redacted", "none"]
RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
EXEC_WRAPPER_SOURCE = "exec_wrapper"
EXEC_WRAPPER_NAME = t.EXEC_WRAPPER_PATH.rsplit("/", 1)[-1]  # llmobs-instrument, at the layer's root
#: Lambda's limit of layers per function.
MAX_LAYERS = 5
#: Lambda's limit for all environment variables of a function together; the price table must fit well within it.
MAX_PRICES_CHARS = 2048
PYTHON_RUNTIMES: tuple[lambda_.Runtime, ...] = (
    lambda_.Runtime.PYTHON_3_11,
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
    lambda_.Runtime.PYTHON_3_14,
)
WARNING_ID = "llm-observability:runtime-layer-skipped"


def layer_files() -> dict[str, Path]:
    """The layer's files by their path in the layer (POSIX), from ``llm_observability/runtime``."""
    files: dict[str, Path] = {}
    for path in sorted(RUNTIME_DIR.rglob("*")):
        relative = path.relative_to(RUNTIME_DIR)
        if not path.is_file() or any(fnmatch.fnmatch(part, p) for part in relative.parts for p in ASSET_EXCLUDES):
            continue
        if relative.as_posix() == EXEC_WRAPPER_SOURCE:
            files[EXEC_WRAPPER_NAME] = path
        else:
            files[f"python/{t.RUNTIME_PACKAGE}/{relative.as_posix()}"] = path
    return files


def stage_layer() -> Path:
    """The directory deployed as the layer, staged once per content hash
    (:func:`~llm_observability.constructs._common.stage_files`; the exec wrapper is executable).

    :raises FileNotFoundError: the installed package lacks its exec wrapper (package data).
    """
    files = layer_files()
    if EXEC_WRAPPER_NAME not in files:  # an installation without the package data
        raise FileNotFoundError(f"{RUNTIME_DIR / EXEC_WRAPPER_SOURCE} is missing: reinstall cdk-llm-observability.")
    return stage_files("runtime-layer", files, executable=frozenset({EXEC_WRAPPER_NAME}))


def _resolved_property(fn: lambda_.Function, name: str) -> Any:
    """A property of the function's ``AWS::Lambda::Function`` as it stands now (layers, environment)."""
    cfn = fn.node.default_child
    properties = getattr(cfn, "_cfn_properties", None)  # the protected ``cfnProperties`` of the L1
    value = properties.get(name) if isinstance(properties, dict) else getattr(cfn, name, None)
    return Stack.of(fn).resolve(value) if value is not None else None


def layer_count(fn: lambda_.Function) -> int:
    """How many layers ``fn`` has now."""
    layers = _resolved_property(fn, "layers")
    return len(layers) if isinstance(layers, list) else 0


def environment_of(fn: lambda_.Function) -> dict[str, Any]:
    """The environment variables ``fn`` has now."""
    environment = _resolved_property(fn, "environment")
    variables = environment.get("variables") if isinstance(environment, dict) else None
    return dict(variables) if isinstance(variables, dict) else {}


def unsupported_reason(fn: lambda_.IFunction) -> str | None:
    """Why the runtime layer cannot serve ``fn``, or None when it can."""
    if not isinstance(fn, lambda_.Function):
        return (
            "is not a lambda_.Function defined in this app (imported by ARN or name, an alias, a version or a "
            "SingletonFunction), so no layer can be added to it here"
        )
    runtime = fn.runtime
    if runtime.name == lambda_.Runtime.FROM_IMAGE.name:
        return "is a container image function, which cannot have layers"
    if runtime.family != lambda_.RuntimeFamily.PYTHON:
        return f"runs {runtime.name}, and the runtime layer is Python"
    if runtime.name not in {r.name for r in PYTHON_RUNTIMES}:
        return f"runs {runtime.name}, and the runtime layer needs Python 3.11 to 3.14"
    return None


def _check(
    functions: Sequence[lambda_.IFunction],
    service_name: str | None,
    namespace: str | None,
    prompt_logging: str,
    prices: Mapping[str, Mapping[str, float]] | None,
) -> str | None:
    """Validate the arguments; return the price table as JSON (None without prices)."""
    if isinstance(functions, (str, bytes)) or not isinstance(functions, Sequence) or not functions:
        raise ConfigError("LlmInstrumentation 'functions' is empty: allowed is a list of one or more Lambda functions.")
    if prompt_logging not in get_args(PromptLogging):
        allowed_modes = ", ".join(get_args(PromptLogging))
        raise ConfigError(f"LlmInstrumentation 'prompt_logging' is {prompt_logging!r}: allowed are {allowed_modes}.")
    for name, value in (("service_name", service_name), ("namespace", namespace)):
        if value is not None and not Token.is_unresolved(value):
            reserved = name == "namespace" and isinstance(value, str) and value.startswith(("AWS/", ":"))
            if not isinstance(value, str) or not 0 < len(value) <= 255 or reserved:
                raise ConfigError(
                    f"LlmInstrumentation '{name}' is {value!r}: allowed is a string of 1-255 characters"
                    + (" not starting with 'AWS/' or ':'." if name == "namespace" else ".")
                )
    if prices is None:
        return None
    allowed = '{model id: {"input_per_1k": USD >= 0, "output_per_1k": USD >= 0}}'
    if not isinstance(prices, Mapping):
        raise ConfigError(f"LlmInstrumentation 'prices' is {prices!r}: allowed is {allowed}.")
    table: dict[str, dict[str, float]] = {}
    for model_id, price in prices.items():
        if (
            not isinstance(model_id, str)
            or not model_id
            or not isinstance(price, Mapping)
            or set(price) != {"input_per_1k", "output_per_1k"}
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                for v in price.values()
            )
        ):
            raise ConfigError(f"LlmInstrumentation 'prices' has {model_id!r}: {price!r}; allowed is {allowed}.")
        table[model_id] = {"input_per_1k": float(price["input_per_1k"]), "output_per_1k": float(price["output_per_1k"])}
    document = json.dumps(table, sort_keys=True, separators=(",", ":"))
    if len(document) > MAX_PRICES_CHARS:
        raise ConfigError(
            f"LlmInstrumentation 'prices' is {len(document)} characters as JSON: allowed are {MAX_PRICES_CHARS} "
            "(Lambda's 4 KB for all environment variables); list only the models these functions call."
        )
    return document


class LlmInstrumentation(Construct):
    """The ``llm_observability_runtime`` layer on the given Python functions, so they emit the library's metrics.

    Each function gets the layer and the runtime's settings as environment variables. Its code then calls
    ``import llm_observability_runtime as llmobs; llmobs.instrument()``, or, with ``zero_code``, runs
    unmodified: ``AWS_LAMBDA_EXEC_WRAPPER=/opt/llmobs-instrument`` instruments it. A function that already
    has another exec wrapper (such as ``/opt/otel-instrument`` of AWS's OpenTelemetry layer) keeps it:
    that one runs next (``LLMOBS_NEXT_WRAPPER``). Functions the layer cannot serve (other runtimes than
    Python 3.11-3.14, container images, functions imported by ARN, aliases, versions) are skipped with a
    synth warning on the function; they are listed in :attr:`skipped`.

    :param functions: the functions to instrument (one or more); only these are changed.
    :param service_name: value of the ``service`` dimension; pass the Workload's name so the Level 1
        dashboards and alarms read these metrics. Default: the function's name, at run time.
    :param namespace: the CloudWatch namespace of the metrics (the Workload's ``metric_namespace``).
        Default: ``LLMObservability``.
    :param prompt_logging: what the log lines keep of questions and answers: ``full``, ``redacted`` (PII
        replaced by tokens) or ``none``. Default: ``redacted``.
    :param zero_code: instrument the unmodified handler through the exec wrapper. Default: False (the code
        calls ``instrument()``).
    :param prices: ``{model id: {"input_per_1k": USD, "output_per_1k": USD}}`` for EstimatedCostUSD.
        Default: none (no cost metric).
    :raises ConfigError: bad arguments, or a function that would have more than 5 layers with this one (a layer
        added to it later past the limit is refused by ``Function.add_layers`` itself).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Sequence[lambda_.IFunction],
        service_name: str | None = None,
        namespace: str | None = None,
        prompt_logging: PromptLogging = "redacted",
        zero_code: bool = False,
        prices: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        prices_json = _check(functions, service_name, namespace, prompt_logging, prices)
        served: list[lambda_.Function] = []
        skipped: list[tuple[lambda_.IFunction, str]] = []
        for fn in dict.fromkeys(functions):  # each function once, in the given order
            reason = unsupported_reason(fn)
            if reason is not None:
                skipped.append((fn, reason))
                continue
            fn = cast(lambda_.Function, fn)
            found = layer_count(fn)
            if found + 1 > MAX_LAYERS:
                raise ConfigError(
                    f"LlmInstrumentation 'functions' has '{fn.node.path}', which has {found} layers already: Lambda "
                    f"allows {MAX_LAYERS} per function, so remove one or leave this function out."
                )
            served.append(fn)
        super().__init__(scope, id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(stage_layer()), exclude=ASSET_EXCLUDES),
            compatible_runtimes=list(PYTHON_RUNTIMES),
            compatible_architectures=[lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
            description="llm_observability_runtime: LLM metrics (EMF) and logs for boto3 Bedrock calls",
            license="Apache-2.0",
        )
        self.environment: dict[str, str] = {t.ENV_RUNTIME_PROMPT_LOGGING: prompt_logging}
        if service_name is not None:
            self.environment[t.ENV_RUNTIME_SERVICE_NAME] = service_name
        if namespace is not None:
            self.environment[t.ENV_RUNTIME_NAMESPACE] = namespace
        if prices_json is not None:
            self.environment[t.ENV_RUNTIME_PRICES] = prices_json
        self.functions: tuple[lambda_.Function, ...] = tuple(served)
        self.skipped: tuple[lambda_.IFunction, ...] = tuple(fn for fn, _ in skipped)
        for fn, reason in skipped:
            Annotations.of(fn).add_warning_v2(
                WARNING_ID,
                f"LlmInstrumentation '{self.node.path}' skipped this function: it {reason}. Its app metrics "
                "(tokens, cost, stage latency, error classes) will not be emitted.",
            )
        for fn in served:
            self._instrument(fn, zero_code)

    def _instrument(self, fn: lambda_.Function, zero_code: bool) -> None:
        fn.add_layers(self.layer)
        for key, value in self.environment.items():
            fn.add_environment(key, value)
        if zero_code:
            existing = environment_of(fn).get(t.ENV_LAMBDA_EXEC_WRAPPER)
            if isinstance(existing, str) and existing and existing != t.EXEC_WRAPPER_PATH:
                fn.add_environment(t.ENV_RUNTIME_NEXT_WRAPPER, existing)
                Annotations.of(fn).add_info(
                    f"LlmInstrumentation: {t.EXEC_WRAPPER_PATH} runs first, then the function's own exec wrapper "
                    f"{existing} ({t.ENV_RUNTIME_NEXT_WRAPPER})."
                )
            fn.add_environment(t.ENV_LAMBDA_EXEC_WRAPPER, t.EXEC_WRAPPER_PATH)
