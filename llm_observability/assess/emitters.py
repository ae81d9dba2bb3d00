"""Whether data can reach what a capability counts on: which functions emit the library's app metrics and
write its log schema, whether a quality canary's target can answer the golden questions, whether a
profiled function starts the CodeGuru agent.

A dashboard that reads a namespace nothing writes to, a saved query on log lines nobody logs, a canary
asking a function that cannot answer it: each exists in the templates and never receives data. The
evidence that a function emits the library's app metrics and log schema, strongest first:

- it is the reference RAG function, recognised by its environment as the cost estimate recognises it
  (:func:`~llm_observability.assess.cost_quantities.known_function_metrics`);
- it carries the library's runtime layer (``LlmInstrumentation``: a layer whose description starts with
  :data:`RUNTIME_LAYER_MARKER`), writing to ``LLMOBS_NAMESPACE`` (default :data:`DEFAULT_NAMESPACE`);
- weaker: its Powertools metrics namespace (``POWERTOOLS_METRICS_NAMESPACE``) is the namespace read,
  so it emits *some* metrics there (their names are not in the template), but not the library's log schema.

The names below are the runtime's and the canary's (``llm_observability/runtime/telemetry.py``,
``functions/quality_canary/canary_telemetry.py``), restated so that ``assess`` imports no Lambda code; a
test keeps them equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from llm_observability.assess.cost_quantities import known_function_metrics
from llm_observability.assess.intrinsics import as_list, is_set, literal, render
from llm_observability.assess.inventory import Inventory, Resource
from llm_observability.assess.queries import (
    EXEC_WRAPPER_ENV,
    FUNCTION_TYPES,
    LAYER_TYPES,
    RUNTIME_NEXT_WRAPPER_ENV,
    app_functions,
    env_of,
    fn_prop,
)

#: The runtime layer's description starts with the runtime package's name.
RUNTIME_LAYER_MARKER = "llm_observability_runtime"
RUNTIME_LAYER_TYPES = LAYER_TYPES
RUNTIME_ENV_PREFIX = "LLMOBS_"  # the runtime's settings (LlmInstrumentation sets LLMOBS_PROMPT_LOGGING always)
RUNTIME_NAMESPACE_ENV = "LLMOBS_NAMESPACE"
DEFAULT_NAMESPACE = "LLMObservability"
POWERTOOLS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
#: The quality canary's environment: the function it asks, and how to ask it (a request contract).
CANARY_TARGET_ENV = "TARGET_FUNCTION_NAME"
CANARY_REQUEST_CONTRACT_ENV = "REQUEST_CONTRACT"
#: How the CodeGuru Profiler agent layer is started: its exec wrapper, its handler wrapper, the Java agent.
CODEGURU_EXEC_WRAPPER = "/opt/codeguru_profiler_lambda_exec"
CODEGURU_HANDLER = "codeguru_profiler_agent.aws_lambda.lambda_handler.call_handler"
CODEGURU_JAVA_AGENT = "codeguru-profiler-java-agent"
CODEGURU_LAYER_MARKER = "AWSCodeGuruProfiler"  # AWSCodeGuruProfilerPythonAgentLambdaLayer, ...JavaAgentLayer
#: The ``message`` of the library's log lines (reference handler and runtime): a query or filter that selects
#: on one of them reads the library's log schema.
LIBRARY_LOG_MESSAGES = ("ask", "feedback", "Request failed", "Request rejected", "bedrock_call")
_SCHEMA_FILTER = re.compile(
    r"message\s*=\s*\"(?:" + "|".join(re.escape(m) for m in LIBRARY_LOG_MESSAGES) + r")\"|\$\.(?:question|answer)\b"
)

EmitterKind = Literal["reference", "runtime", "powertools"]


@dataclass(frozen=True)
class Emitter:
    """A function whose code writes metrics into ``namespace`` (None: known only at deploy time)."""

    function: Resource
    kind: EmitterKind
    namespace: str | None

    @property
    def writes_library_schema(self) -> bool:
        """Emits the library's app metrics and log lines (not only some metrics of its own)."""
        return self.kind != "powertools"

    def describe(self) -> str:
        how = {"reference": "the reference RAG function", "runtime": "the library's runtime layer",
               "powertools": "its Powertools metrics namespace"}[self.kind]  # fmt: skip
        return f"{self.function.logical_id} ({how})"


def is_reference_function(env: dict[str, Any]) -> bool:
    """The reference RAG function, by its environment (the cost estimate's recogniser, which also counts the canary)."""
    return known_function_metrics(env) is not None and not is_canary(env)


def is_canary(env: dict[str, Any]) -> bool:
    """The library's quality canary: it names the function it asks."""
    return CANARY_TARGET_ENV in env


def runtime_layer(inv: Inventory, fn: Resource) -> Resource | None:
    """The library's runtime layer among the function's layers, if it has it."""
    for layer in as_list(fn_prop(inv, fn, "Layers")):
        for found in inv.targets(fn.stack, layer, *RUNTIME_LAYER_TYPES):
            description = literal(found.properties.get("Description")) or ""
            if description.startswith(RUNTIME_LAYER_MARKER):
                return found
    return None


def _namespace(env: dict[str, Any], key: str, default: str | None) -> str | None:
    return literal(env[key]) if key in env else default


def emitter_of(inv: Inventory, fn: Resource) -> Emitter | None:
    """How ``fn`` emits metrics, if the templates show it (canaries emit their own quality metrics, not the app's)."""
    env = env_of(inv, fn)
    if is_canary(env):
        return None
    if is_reference_function(env):
        namespace = _namespace(env, POWERTOOLS_NAMESPACE_ENV, None) or _namespace(env, RUNTIME_NAMESPACE_ENV, None)
        return Emitter(fn, "reference", namespace or DEFAULT_NAMESPACE)
    if runtime_layer(inv, fn) is not None:
        return Emitter(fn, "runtime", _namespace(env, RUNTIME_NAMESPACE_ENV, DEFAULT_NAMESPACE))
    if POWERTOOLS_NAMESPACE_ENV in env:
        return Emitter(fn, "powertools", _namespace(env, POWERTOOLS_NAMESPACE_ENV, None))
    return None


def emitters(inv: Inventory) -> list[Emitter]:
    """Every application function that emits metrics, with its namespace."""
    return [e for fn in app_functions(inv) if (e := emitter_of(inv, fn)) is not None]


def runtime_settings_without_layer(inv: Inventory) -> list[Resource]:
    """Functions configured for the runtime (``LLMOBS_*`` variables) that lack its layer, so cannot import it."""
    return [
        fn for fn in app_functions(inv)
        if any(k.startswith(RUNTIME_ENV_PREFIX) for k in env_of(inv, fn)) and runtime_layer(inv, fn) is None
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------- log schema


def depends_on_library_schema(text: str) -> bool:
    """A query or filter pattern that selects the library's log lines (``message = "ask"``, ``$.question`` ...)."""
    return bool(_SCHEMA_FILTER.search(text))


def _log_groups(inv: Inventory, fn: Resource) -> set[tuple[str, str]]:
    """The log groups ``fn`` writes to: its LoggingConfig.LogGroup, or a group named after it."""
    logging = fn_prop(inv, fn, "LoggingConfig")
    keys = {r.key for r in inv.targets(fn.stack, logging.get("LogGroup") if isinstance(logging, dict) else None,
                                       "AWS::Logs::LogGroup")}  # fmt: skip
    name = literal(fn.properties.get("FunctionName"))
    for group in inv.of_type("AWS::Logs::LogGroup"):
        value = group.properties.get("LogGroupName")
        if fn.key in inv.refs(group.stack, value) or (name and literal(value) == f"/aws/lambda/{name}"):
            keys.add(group.key)
    return keys


@dataclass(frozen=True)
class SchemaLogs:
    """The functions that write the library's log schema, and their log groups (keys and literal names)."""

    functions: frozenset[tuple[str, str]]
    groups: frozenset[tuple[str, str]]
    names: frozenset[str]

    @classmethod
    def of(cls, inv: Inventory) -> SchemaLogs:
        writers = [e.function for e in emitters(inv) if e.writes_library_schema]
        groups = {k for fn in writers for k in _log_groups(inv, fn)}
        names = {n for k in groups if (g := inv.get(*k)) and (n := literal(g.properties.get("LogGroupName")))}
        names |= {f"/aws/lambda/{n}" for fn in writers if (n := literal(fn.properties.get("FunctionName")))}
        return cls(frozenset(fn.key for fn in writers), frozenset(groups), frozenset(names))

    def read_by(self, inv: Inventory, resource: Resource, log_groups: Any) -> bool:
        """``log_groups`` (a property of ``resource``: names, ARNs) include a group of such a function."""
        if inv.refs(resource.stack, log_groups) & (self.groups | self.functions):
            return True
        for text in [render(v) for v in as_list(log_groups)] or [render(log_groups)]:
            name = text.split(":log-group:", 1)[-1].removesuffix(":*")  # a name, or the name in an ARN
            if name in self.names:
                return True
        return False


# ---------------------------------------------------------------------------------------- quality canary


def canary_target_problem(inv: Inventory, canary: Resource) -> str | None:
    """Why the canary's target cannot answer the golden questions, or None when it can: the target is the
    reference RAG function, or the canary carries a request contract."""
    env = env_of(inv, canary)
    if is_set(env.get(CANARY_REQUEST_CONTRACT_ENV)):
        return None
    value = env.get(CANARY_TARGET_ENV)
    targets = inv.targets(canary.stack, value, *FUNCTION_TYPES)
    name = literal(value)
    if name:
        targets += [f for f in inv.of_type(*FUNCTION_TYPES) if literal(f.properties.get("FunctionName")) == name]
    if any(is_reference_function(env_of(inv, f)) for f in targets):
        return None
    outside = f"{render(value) or 'an unnamed function'} (outside the templates)"
    asked = ", ".join(sorted({f.logical_id for f in targets})) or outside
    return (
        f"{canary.logical_id} sends the reference app's golden questions to {asked}, which is not the reference RAG "
        f"function, and has no request contract ({CANARY_REQUEST_CONTRACT_ENV})"
    )


# ---------------------------------------------------------------------------------------- CodeGuru agent


def profiler_start(inv: Inventory, fn: Resource) -> str | None:
    """How the CodeGuru Profiler agent starts in ``fn`` (for the reason), or None when nothing starts it."""
    env = env_of(inv, fn)
    chain = literal(env.get(RUNTIME_NEXT_WRAPPER_ENV))  # space-separated: the wrappers that run after ours
    wrappers = {literal(env.get(EXEC_WRAPPER_ENV)), *(chain.split() if isinstance(chain, str) else [])}
    if CODEGURU_EXEC_WRAPPER in wrappers:
        return f"{EXEC_WRAPPER_ENV} {CODEGURU_EXEC_WRAPPER}"
    if literal(fn_prop(inv, fn, "Handler")) == CODEGURU_HANDLER:
        return "the agent's handler wrapper"
    if CODEGURU_JAVA_AGENT in render(env.get("JAVA_TOOL_OPTIONS")):
        return "the Java agent in JAVA_TOOL_OPTIONS"
    if is_reference_function(env):
        return "the reference handler"
    return None


def has_profiler_layer(inv: Inventory, fn: Resource) -> bool:
    """The function carries the CodeGuru Profiler agent layer."""
    return CODEGURU_LAYER_MARKER in render(fn_prop(inv, fn, "Layers"))
