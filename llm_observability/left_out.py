"""Reports, in one synth warning per stack, what a level left out because its Workload cannot feed it.

A construct that skips an optional feature calls :func:`leave_out` with the feature, the missing Workload field
and how to provide it. The items of a stack are kept in a resource-less construct under the stack, and written as
ONE warning (``llm-observability:left-out``) when the app is validated at synthesis, so ``cdk synth`` lists
everything the user did not get, however many constructs left something out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import jsii
from aws_cdk import Annotations, Stack
from constructs import Construct, IConstruct, IValidation

from llm_observability.errors import ConfigError

WARNING_ID = "llm-observability:left-out"
#: Id of the report under each stack.
REPORT_ID = "LlmObservabilityLeftOut"

#: How to provide each Workload field a level may miss (the default ``how`` of :func:`leave_out`).
HOW: dict[str, str] = {
    "telemetry": (
        "instrument the functions with LlmInstrumentation and pass telemetry='runtime' "
        "(instrumentation.instrumented(workload) does both)"
    ),
    "log_schema": (
        "pass log_schema=LogSchema(...) naming the fields of the app's JSON log line (LogSchema.library() for "
        "functions instrumented by LlmInstrumentation)"
    ),
    "log_groups": "pass the application's log groups (Workload.from_function(..., log_group=...))",
    "request_contract": (
        "pass request_contract=RequestContract(path=..., body_template=..., answer_path=...) saying how a canary "
        "calls the app"
    ),
    "model_parameter_name": (
        "pass model_parameter_name= an SSM String parameter your function reads its model from "
        "(llm_observability_runtime.active_model_id with LlmInstrumentation.use_model_parameter and grant_model)"
    ),
    "throttle_limits": "pass throttle_limits=ThrottleLimits(rate_limit=..., burst_limit=...), the stage's normal limits",
    "rest_api": "pass the application's REST API (rest_api=...); the throttle runbook changes a REST API stage",
    "prompt_parameter_name": (
        "pass prompt_parameter_name and prompt_arn (a Bedrock Prompt Management prompt whose active version an SSM "
        "parameter names)"
    ),
    "prompt_logging": (
        "pass prompt_logging='redacted' (or 'full') to with_facts; the log line must then carry the question and "
        "answer (LlmInstrumentation's prompt_logging does both)"
    ),
    "roled_alarms": (
        "pass the Workload that Level 1 and 2 return (it carries their alarms by role), or the runbook's alarms "
        "explicitly"
    ),
}


@dataclass(frozen=True)
class LeftOut:
    """One feature left out: what it is, the Workload field (or setting) it needs and how to provide that."""

    feature: str
    field: str
    how: str
    source: Literal["Workload", "setting"] = "Workload"

    def text(self) -> str:
        return f"{self.feature} (needs {self.source} '{self.field}': {self.how})"


@jsii.implements(IValidation)
class _Warn:
    """Writes the report's warning when the app is validated (after every construct had its say)."""

    def __init__(self, report: _Report) -> None:
        self._report = report

    def validate(self) -> list[str]:
        self._report.warn()
        return []


class _Report(Construct):
    """The features left out in one stack, in the order they were left out (each once)."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack, REPORT_ID)
        self.items: list[LeftOut] = []
        self._warned = False
        self.node.add_validation(_Warn(self))

    def warn(self) -> None:
        if self._warned or not self.items:
            return
        self._warned = True
        Annotations.of(Stack.of(self)).add_warning_v2(
            WARNING_ID,
            f"LLM observability left out {len(self.items)} feature(s) that the Workload or the settings cannot feed: "
            + "; ".join(item.text() for item in self.items)
            + ".",
        )


def report_of(scope: IConstruct) -> _Report:
    """The left-out report of ``scope``'s stack (created on first use)."""
    stack = Stack.of(scope)
    found = stack.node.try_find_child(REPORT_ID)
    if found is None:
        return _Report(stack)
    if not isinstance(found, _Report):
        raise ConfigError(
            f"The construct id '{REPORT_ID}' directly under stack '{stack.node.path}' is taken by a "
            f"{type(found).__name__}: allowed is only this library's left-out report there, so give your construct "
            "another id."
        )
    return cast(_Report, found)


def leave_out(
    scope: IConstruct,
    feature: str,
    field: str,
    how: str | None = None,
    *,
    source: Literal["Workload", "setting"] = "Workload",
) -> None:
    """Record that ``scope``'s level leaves ``feature`` out because Workload ``field`` (or, with
    ``source="setting"``, the setting ``field``) is missing; ``how`` says how to provide it (Default: ``HOW[field]``).
    Listed in the stack's one ``llm-observability:left-out`` warning at synthesis."""
    report = report_of(scope)
    item = LeftOut(feature, field, how or HOW[field], source)
    if item not in report.items:
        report.items.append(item)


def left_out(scope: IConstruct) -> tuple[LeftOut, ...]:
    """What ``scope``'s stack left out so far."""
    found = Stack.of(scope).node.try_find_child(REPORT_ID)
    return tuple(found.items) if isinstance(found, _Report) else ()
