"""LlmInstrumentation: the library's runtime layer on a user's own Python functions, configured by environment.

The layer is built from the package's own files, without Docker: ``python/llm_observability_runtime/``
(the source of ``llm_observability/runtime``) and the exec wrapper at its root (``/opt/llmobs-instrument``),
staged once in a directory named by a hash of the contents, so the asset hash is the same on every run
and machine. Only the functions passed in are changed (the user's explicit request): the layer, the
``LLMOBS_*`` variables and, for zero-code use, ``AWS_LAMBDA_EXEC_WRAPPER``; and only when asked, OpenTelemetry
tracing (``tracing``: AWS's ADOT layer, see :mod:`~llm_observability.constructs.otel`), the CodeGuru Profiler agent
(``codeguru_profiling``), the model parameter (``use_model_parameter``) and a fallback model's invoke permission
(``grant_model``), the opt-ins of Level 3 for functions the library does not own. However many of these start
through ``AWS_LAMBDA_EXEC_WRAPPER``, a function gets one chain of them (:func:`wrapper_chain`).
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from aws_cdk import Annotations, Aws, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_observability.constructs._common import ASSET_EXCLUDES, model_arns, stage_files
from llm_observability.constructs.otel import (  # environment_of: re-exported for the stacks and tests
    OTEL_EXEC_WRAPPER,
    check_layer_arn,
    enable_tracing,
    environment_of,
    function_property,
    has_adot_layer,
    unsupported_runtime,
)
from llm_observability.constructs.otel import (
    adot_layer_arn as adot_layer_arn_for,
)
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge
from llm_observability.runtime import telemetry as t
from llm_observability.runtime.models import ENV_MODEL_PARAMETER_NAME
from llm_observability.workload import Workload
from llm_observability.workload_facts import LogSchema

if TYPE_CHECKING:
    from aws_cdk import aws_codeguruprofiler as profiler

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
#: How the CodeGuru Profiler Python agent layer starts the agent around an unmodified handler.
CODEGURU_EXEC_WRAPPER = "/opt/codeguru_profiler_lambda_exec"
#: The exec wrappers the library chains, in the order their scripts run (``runtime/exec_wrapper``): each saves the
#: ``_HANDLER`` it finds and puts its own handler in front, so the last to run is the outermost at invocation:
#: OpenTelemetry's handler -> CodeGuru's -> ours -> the user's. Ours comes first: only it starts a list of others.
#: (AWS's script runs ``opentelemetry-instrument``, which must start the runtime itself: it can only be last.)
CHAIN_ORDER: tuple[str, ...] = (t.EXEC_WRAPPER_PATH, CODEGURU_EXEC_WRAPPER, OTEL_EXEC_WRAPPER)
#: ``false``: our exec wrapper only starts the chain and leaves the handler alone (it calls ``instrument()`` itself).
ENV_RUNTIME_ZERO_CODE = "LLMOBS_ZERO_CODE"


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


def layer_count(fn: lambda_.Function) -> int:
    """How many layers ``fn`` has now."""
    layers = function_property(fn, "layers")
    return len(layers) if isinstance(layers, list) else 0


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


def exec_wrappers(fn: lambda_.Function) -> list[Any]:
    """The exec wrappers ``fn`` starts through now, in the order they run: ``AWS_LAMBDA_EXEC_WRAPPER`` and, when that
    is ours, the ones in ``LLMOBS_NEXT_WRAPPER``."""
    variables = environment_of(fn)
    first = variables.get(t.ENV_LAMBDA_EXEC_WRAPPER)
    if first in (None, ""):
        return []
    rest = variables.get(t.ENV_RUNTIME_NEXT_WRAPPER) or "" if first == t.EXEC_WRAPPER_PATH else ""
    return [first, *(rest.split() if isinstance(rest, str) else [rest])]


def wrapper_chain(fn: lambda_.Function, wanted: Sequence[str], *, tracing: bool) -> list[str]:
    """The exec wrappers ``fn`` is to start through: the ones it has and ``wanted``; the known ones in
    :data:`CHAIN_ORDER`, then the function's own others (outermost at invocation, as they were), ours first whenever
    there are two or more (the only one that chains).

    :raises ConfigError: a wrapper given as a token, or an unknown one of the function's own when ``tracing`` is asked
        (it may be a tracer of its own; and OpenTelemetry's must be the last).
    """
    existing = exec_wrappers(fn)
    for wrapper in existing:
        if not isinstance(wrapper, str):
            raise ConfigError(
                f"LlmInstrumentation 'functions' has '{fn.node.path}', whose exec wrapper is not a literal: allowed is "
                "a path such as /opt/otel-instrument, which can be chained."
            )
    others = [w for w in dict.fromkeys(existing) if w not in CHAIN_ORDER]
    if others and tracing:
        raise ConfigError(
            f"LlmInstrumentation 'tracing' is True, but '{fn.node.path}' starts through the exec wrapper {others[0]}, "
            f"which cannot run before {OTEL_EXEC_WRAPPER} (it may trace on its own): remove that wrapper or leave "
            "tracing off for this function."
        )
    present = {*existing, *wanted}
    chain = [w for w in CHAIN_ORDER if w in present] + others
    if len(chain) > 1 and chain[0] != t.EXEC_WRAPPER_PATH:
        chain.insert(0, t.EXEC_WRAPPER_PATH)
    return chain


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

    Exec wrappers: ``zero_code``, ``tracing``, ``codeguru_profiling`` and one the function has already start through
    ``AWS_LAMBDA_EXEC_WRAPPER``; with two or more, that is ours, and ``LLMOBS_NEXT_WRAPPER`` lists the others in the
    order of :data:`CHAIN_ORDER` (``LLMOBS_ZERO_CODE=false`` when ours only chains): an invocation runs
    OpenTelemetry's handler -> CodeGuru's -> ours -> the user's.

    :param functions: the functions to instrument (one or more); only these are changed.
    :param service_name: value of the ``service`` dimension; pass the Workload's name so the Level 1
        dashboards and alarms read these metrics. Default: the function's name, at run time.
    :param namespace: the CloudWatch namespace of the metrics (the Workload's ``metric_namespace``).
        Default: ``LLMObservability``.
    :param prompt_logging: what the log lines keep of questions and answers: ``full``, ``redacted`` (PII
        replaced by tokens) or ``none``. Default: ``redacted``.
    :param zero_code: instrument the unmodified handler through the exec wrapper. Default: False (the code
        calls ``instrument()``).
    :param prices: ``{model id: {"input_per_1k": USD, "output_per_1k": USD}}`` for the estimated cost in each call's log line.
        Default: none (no cost metric).
    :param codeguru_profiling: profile the functions with CodeGuru Profiler: a ``ProfilingGroup`` to post to, or
        True for a new one here (:attr:`profiling_group`). Each function gets the agent layer, the group's name
        and region and permission to post profiles; the agent starts through its exec wrapper
        (``/opt/codeguru_profiler_lambda_exec``, chained with the others). AWS documents the agent for x86_64
        functions. Default: False (no profiling).
    :param tracing: trace the functions with OpenTelemetry (:func:`~llm_observability.constructs.otel.enable_tracing`:
        AWS's ADOT Python layer unless the function has one, its exec wrapper ``/opt/otel-instrument``, the
        ``OTEL_*`` settings with ``OTEL_SERVICE_NAME`` = ``service_name``, Lambda active tracing). Default: False.
    :param adot_layer_arn: the ADOT layer version to use with ``tracing``. Default: ``""``, AWS's layer of the
        stack's region from the library's table.
    :raises ConfigError: bad arguments; a function that would have more than 5 layers with these (a layer
        added to it later past the limit is refused by ``Function.add_layers`` itself); with ``tracing``, a
        function whose own exec wrapper is not one of :data:`CHAIN_ORDER`, or whose runtime the table's layer does
        not support.

    Failover for your function is opt-in too: :meth:`use_model_parameter` lets
    ``llm_observability_runtime.active_model_id(default)`` read the Workload's model parameter, and
    :meth:`grant_model` allows the fallback model. :meth:`instrumented` says in a Workload what these functions
    now feed.
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
        codeguru_profiling: profiler.IProfilingGroup | bool = False,
        tracing: bool = False,
        adot_layer_arn: str = "",
    ) -> None:
        prices_json = _check(functions, service_name, namespace, prompt_logging, prices)
        if not isinstance(codeguru_profiling, bool) and not hasattr(codeguru_profiling, "profiling_group_name"):
            raise ConfigError(
                f"LlmInstrumentation 'codeguru_profiling' is {codeguru_profiling!r}: allowed is True, False or a "
                "CodeGuru Profiler ProfilingGroup."
            )
        if not isinstance(tracing, bool):
            raise ConfigError(f"LlmInstrumentation 'tracing' is {tracing!r}: allowed is True or False.")
        check_layer_arn(adot_layer_arn, owner="LlmInstrumentation")
        wanted = [
            wrapper
            for wrapper, asked in (
                (t.EXEC_WRAPPER_PATH, zero_code),
                (CODEGURU_EXEC_WRAPPER, codeguru_profiling is not False),
                (OTEL_EXEC_WRAPPER, tracing),
            )
            if asked
        ]
        served: list[lambda_.Function] = []
        skipped: list[tuple[lambda_.IFunction, str]] = []
        plans: dict[lambda_.Function, tuple[list[str], bool]] = {}
        for fn in dict.fromkeys(functions):  # each function once, in the given order
            reason = unsupported_reason(fn)
            if reason is not None:
                skipped.append((fn, reason))
                continue
            fn = cast(lambda_.Function, fn)
            chain = wrapper_chain(fn, wanted, tracing=tracing)  # nothing is changed before every check passed
            adot = tracing and OTEL_EXEC_WRAPPER not in exec_wrappers(fn) and not has_adot_layer(fn)
            runtime_reason = unsupported_runtime(fn) if adot and not adot_layer_arn else None
            if runtime_reason is not None:
                raise ConfigError(
                    f"LlmInstrumentation 'tracing' is True, but '{fn.node.path}' {runtime_reason}: use one of those "
                    "runtimes, give 'adot_layer_arn' a layer version that supports it, or leave this function out."
                )
            found, layers_added = layer_count(fn), 1 + (codeguru_profiling is not False) + adot
            if found + layers_added > MAX_LAYERS:
                raise ConfigError(
                    f"LlmInstrumentation 'functions' has '{fn.node.path}', which has {found} layers already and would "
                    f"get {layers_added} more: Lambda allows {MAX_LAYERS} per function, so remove one or leave this "
                    "function out."
                )
            served.append(fn)
            plans[fn] = (chain, adot)
        if tracing and served and not Token.is_unresolved(Stack.of(scope).region):
            adot_layer_arn_for(scope, adot_layer_arn)  # a region the table does not list: ConfigError, nothing changed
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
        self.service_name = service_name
        self.namespace = namespace
        self.prompt_logging = prompt_logging
        self.functions: tuple[lambda_.Function, ...] = tuple(served)
        self.skipped: tuple[lambda_.IFunction, ...] = tuple(fn for fn, _ in skipped)
        for fn, reason in skipped:
            Annotations.of(fn).add_warning_v2(
                WARNING_ID,
                f"LlmInstrumentation '{self.node.path}' skipped this function: it {reason}. Its app metrics "
                "(tokens, cost, stage latency, error classes) will not be emitted.",
            )
        self.tracing = tracing
        for fn in served:
            self._instrument(fn)
        self.profiling_group: profiler.IProfilingGroup | None = None
        if codeguru_profiling is not False:
            self.profiling_group = self._profile(codeguru_profiling)
        for fn in served:
            chain, adot = plans[fn]
            if tracing:
                enable_tracing(
                    fn, service_name=service_name, layer_arn=adot_layer_arn, exec_wrapper=False, add_layer=adot
                )
            self._start(fn, chain, zero_code)

    # ---------------------------------------------------------------------------- opt-ins
    def grant_model(self, model_id: str) -> None:
        """Allow the instrumented functions to invoke ``model_id`` (``bedrock:InvokeModel`` and
        ``InvokeModelWithResponseStream``, which Converse and ConverseStream need too) on exactly that model or
        inference profile (and, for a cross-region profile, its foundation model in the regions it routes to):
        the fallback model of a failover."""
        if not isinstance(model_id, str) or not model_id:
            raise ConfigError(f"LlmInstrumentation.grant_model 'model_id' is {model_id!r}: allowed is a Bedrock model id.")
        for fn in self.functions:
            arns, any_region = model_arns(fn, model_id)
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], resources=arns)
            )
            if any_region and fn.role is not None:
                model = arns[-1].rsplit("/", 1)[-1]
                acknowledge(
                    fn.role,
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{model}]",
                    "A cross-region inference profile may route to its foundation model in any of its destination "
                    "regions, which AWS may extend; the grant names exactly one model.",
                )

    def use_model_parameter(self, parameter: ssm.IStringParameter) -> None:
        """Let ``llm_observability_runtime.active_model_id(default)`` in the instrumented functions read ``parameter``
        (the Workload's ``model_parameter_name``, which the failover runbook switches): its name in
        ``LLMOBS_MODEL_PARAMETER_NAME`` and ``ssm:GetParameter`` on it."""
        if not hasattr(parameter, "parameter_arn") or not hasattr(parameter, "parameter_name"):
            raise ConfigError(
                f"LlmInstrumentation.use_model_parameter 'parameter' is {parameter!r}: allowed is an SSM String "
                "parameter (ssm.StringParameter or StringParameter.from_string_parameter_name)."
            )
        for fn in self.functions:
            fn.add_environment(ENV_MODEL_PARAMETER_NAME, parameter.parameter_name)
            fn.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter.parameter_arn]))

    def instrumented(self, workload: Workload) -> Workload:
        """``workload`` saying what these functions feed now: ``telemetry="runtime"``, this construct's
        ``prompt_logging`` (how much question and answer text their log lines carry) and, unless it has a log schema,
        the runtime's (``LogSchema.library()``).

        :raises ConfigError: the workload's name or namespace differs from this construct's ``service_name`` or
            ``namespace``, so its dashboards and alarms would read other metrics than these functions emit.
        """
        # Without service_name the runtime takes POWERTOOLS_SERVICE_NAME, else the function's name.
        services = {self.service_name} if self.service_name is not None else {
            environment_of(fn).get(t.ENV_POWERTOOLS_SERVICE_NAME) or fn.function_name for fn in self.functions
        }
        namespace = self.namespace or t.DEFAULT_NAMESPACE
        for name, given, field, theirs, ok in (
            ("service_name", self.service_name, "name", workload.name, services == {workload.name}),
            ("namespace", self.namespace, "metric_namespace", workload.metric_namespace,
             namespace == workload.metric_namespace),
        ):  # fmt: skip
            if not ok:
                raise ConfigError(
                    f"LlmInstrumentation '{name}' is {given!r}: allowed is the Workload's {field} {theirs!r}, which "
                    "its dashboards and alarms read."
                )
        return workload.with_facts(
            telemetry="runtime",
            log_schema=workload.log_schema or LogSchema.library(),
            prompt_logging=self.prompt_logging,
        )

    def _profile(self, group: profiler.IProfilingGroup | bool) -> profiler.IProfilingGroup:
        """The CodeGuru Profiler agent on every instrumented function (the user's explicit opt-in)."""
        from aws_cdk import aws_codeguruprofiler as profiler  # loaded only when profiling is asked for

        from llm_observability.constructs.aiops import (
            ENV_PROFILER_REGION,
            ENV_PROFILING_GROUP,
            PROFILER_LAYER_ACCOUNT,
            PROFILER_LAYER_VERSION,
        )

        if group is True:
            group = profiler.ProfilingGroup(self, "ProfilingGroup", compute_platform=profiler.ComputePlatform.AWS_LAMBDA)
        group = cast(profiler.IProfilingGroup, group)
        agent = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "CodeGuruAgentLayer",
            f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{PROFILER_LAYER_ACCOUNT}:layer:"
            f"AWSCodeGuruProfilerPythonAgentLambdaLayer:{PROFILER_LAYER_VERSION}",
        )
        for fn in self.functions:
            fn.add_layers(agent)
            fn.add_environment(ENV_PROFILING_GROUP, group.profiling_group_name)
            fn.add_environment(ENV_PROFILER_REGION, Stack.of(group).region)
            group.grant_publish(fn)
        return group

    def _instrument(self, fn: lambda_.Function) -> None:
        fn.add_layers(self.layer)
        for key, value in self.environment.items():
            fn.add_environment(key, value)

    @staticmethod
    def _start(fn: lambda_.Function, chain: list[str], zero_code: bool) -> None:
        """Set the function's exec wrappers to ``chain`` (:func:`wrapper_chain`)."""
        if not chain:
            return
        before = environment_of(fn)
        fn.add_environment(t.ENV_LAMBDA_EXEC_WRAPPER, chain[0])
        if chain[0] != t.EXEC_WRAPPER_PATH:
            return
        if len(chain) > 1:
            fn.add_environment(t.ENV_RUNTIME_NEXT_WRAPPER, " ".join(chain[1:]))
        ours_before = before.get(t.ENV_LAMBDA_EXEC_WRAPPER) == t.EXEC_WRAPPER_PATH
        wraps = zero_code or (ours_before and before.get(ENV_RUNTIME_ZERO_CODE) != "false")
        if not wraps:
            fn.add_environment(ENV_RUNTIME_ZERO_CODE, "false")
        elif before.get(ENV_RUNTIME_ZERO_CODE) == "false":
            fn.add_environment(ENV_RUNTIME_ZERO_CODE, "true")
        if len(chain) > 1:
            Annotations.of(fn).add_info(
                f"LlmInstrumentation: the exec wrappers run {' -> '.join(chain)}; an invocation runs their handlers "
                "in the reverse order, the function's own last."
            )
