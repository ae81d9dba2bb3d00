"""What the scheduled functions that read the application's logs share (the online judge, the feedback join, output
drift; the quality canary for its schedule): the log line they need from the Workload, whole-unit schedules, the
function an EventBridge schedule starts with its dead-letter queue, and the Logs Insights grant.

The stacks ask :func:`unreadable_logs` before building such a construct (and leave it out with a warning); the
construct itself raises through :func:`log_line`: one rule for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from llm_observability.constructs._common import SharedModule, asset_function, dead_letter_queue, powertools_layer
from llm_observability.errors import ConfigError
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.runtime import telemetry as t
from llm_observability.validation import Range

if TYPE_CHECKING:
    from llm_observability.workload import Workload
    from llm_observability.workload_facts import LogSchema

#: The most log groups one Logs Insights query reads (StartQuery's logGroupNames).
MAX_QUERIED_LOG_GROUPS = 50


def unreadable_logs(workload: Workload) -> Literal["log_groups", "log_schema"] | None:
    """The Workload field a reader of the app's log line lacks: ``log_groups`` (none), ``log_schema``, or None."""
    if not workload.log_groups:
        return "log_groups"
    if workload.log_schema is None:
        return "log_schema"
    return None


def log_line(workload: Workload, owner: str) -> LogSchema:
    """The workload's log schema, once its log groups are 1 to :data:`MAX_QUERIED_LOG_GROUPS` and it has one.

    :raises ConfigError: one sentence naming the missing or bad Workload field.
    """
    count = len(workload.log_groups)
    if unreadable_logs(workload) == "log_groups" or count > MAX_QUERIED_LOG_GROUPS:
        raise ConfigError(
            f"{owner} 'workload.log_groups' has {count} log groups: allowed is 1 to {MAX_QUERIED_LOG_GROUPS}, the "
            "groups its log lines are written to (what one Logs Insights query reads)."
        )
    if workload.log_schema is None:
        raise ConfigError(
            f"{owner} 'workload.log_schema' is missing: allowed is a LogSchema naming the fields of the app's log "
            "line (LogSchema.library() for functions instrumented by LlmInstrumentation)."
        )
    return workload.log_schema


def whole_units(owner: str, name: str, value: Duration, unit_seconds: int, bounds: Range, unit: str) -> int:
    """``value`` as a whole number of ``unit`` (``unit_seconds`` each) within ``bounds``; ConfigError otherwise."""
    seconds = value.to_seconds()
    if seconds % unit_seconds or not bounds.lo <= seconds // unit_seconds <= bounds.hi:
        raise ConfigError(f"{owner} '{name}' is {value.to_human_string()}: allowed is {bounds.allowed} {unit}.")
    return int(seconds // unit_seconds)


def log_group_names(scope: Construct, workload: Workload) -> str:
    """The workload's log group names as the functions' ``LOG_GROUP_NAMES`` (a JSON list; tokens resolve in it)."""
    return Stack.of(scope).to_json_string([group.log_group_name for group in workload.log_groups])


@dataclass(frozen=True)
class ScheduledFunction:
    """What :func:`scheduled_function` made."""

    function: lambda_.Function
    dead_letter_queue: sqs.Queue
    rule: events.Rule


def scheduled_function(
    scope: Construct,
    *,
    workload: Workload,
    folder: str,
    description: str,
    schedule: events.Schedule,
    run_description: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    environment: dict[str, str],
    timeout: Duration,
    memory_size: int,
    powertools_layer_version: str,
    queue_purpose: str,
    shared: Sequence[SharedModule] = (),
) -> ScheduledFunction:
    """The function of ``functions/<folder>`` (with the Powertools layer, ``Function``) that ``schedule`` starts
    (``Schedule``), and its dead-letter queue (``DeadLetters``, "the dead-letter queue of ``queue_purpose``").

    The function's Powertools service name and metric namespace are the workload's, so its EMF lands beside the
    app's metrics. EventBridge does not retry (the next run comes on schedule): a run it could not start, or whose
    asynchronous attempts in Lambda all failed, waits in the queue, which the caller alarms on
    (``dead_letter_metric``).
    """
    queue = dead_letter_queue(scope, "DeadLetters", purpose=queue_purpose)
    function = asset_function(
        scope,
        "Function",
        folder=folder,
        shared=shared,
        description=description,
        layers=[powertools_layer(scope, powertools_layer_version)],
        role=role,
        log_group=log_group,
        timeout=timeout,
        memory_size=memory_size,
        environment={
            **environment,
            t.ENV_POWERTOOLS_SERVICE_NAME: workload.name,
            t.ENV_POWERTOOLS_METRICS_NAMESPACE: workload.metric_namespace,
        },
        dead_letter_queue=queue,
    )
    rule = events.Rule(
        scope,
        "Schedule",
        description=run_description,
        schedule=schedule,
        targets=[targets.LambdaFunction(function, retry_attempts=0, dead_letter_queue=queue)],
    )
    return ScheduledFunction(function=function, dead_letter_queue=queue, rule=rule)


def grant_log_queries(
    role: iam.Role, log_groups: Sequence[logs.ILogGroup], *, also: Sequence[str] = (), why_also: str = ""
) -> None:
    """Let ``role`` run Logs Insights queries (``functions/_shared/logs_query.py``) over ``log_groups`` and no other.

    ``logs:StartQuery``, which chooses the log groups, is granted on each group in both forms its ARN takes
    (``log-group:<name>``, which StartQuery authorizes, and ``log-group:<name>:*``, what CloudFormation returns as
    the group's ``Arn``). ``logs:GetQueryResults`` and ``logs:StopQuery`` take a query id and support no
    resource-level permissions, so they are granted on ``*`` with the cdk-nag acknowledgment saying why; ``also``
    adds other such actions to that statement (``why_also``: the reason, appended to the acknowledgment).
    """
    stack = Stack.of(role)
    arns = []
    for group in log_groups:
        arns.append(stack.format_arn(service="logs", resource="log-group", resource_name=group.log_group_name,
                                     arn_format=ArnFormat.COLON_RESOURCE_NAME))  # fmt: skip
        arns.append(group.log_group_arn)
    role.add_to_policy(iam.PolicyStatement(sid="QueryLogs", actions=["logs:StartQuery"], resources=arns))
    for arn in arns:
        shown = finding_resource(role, arn)
        if "*" in shown:
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{shown}]",
                        "The ARN of one of the queried log groups as CloudFormation gives it (log-group:<name>:*); "
                        "the grant is StartQuery on that one log group.")  # fmt: skip
    role.add_to_policy(iam.PolicyStatement(sid="ReadQueryResults", resources=["*"],
                                           actions=["logs:GetQueryResults", "logs:StopQuery", *also]))  # fmt: skip
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                "logs:GetQueryResults and logs:StopQuery take a query id and have no resource type to scope them to; "
                f"logs:StartQuery, which chooses the log groups, is limited to the queried ones.{why_also}")  # fmt: skip
