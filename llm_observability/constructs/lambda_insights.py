"""CloudWatch Lambda Insights on a workload's functions: AWS's extension layer, least-privilege write access to
``/aws/lambda-insights`` and a dashboard row of CPU, memory, network and cold-start time per function.

The extension (a Lambda layer AWS publishes per region and architecture) reads the function's sandbox after each
invocation and writes one embedded-metric-format event to the log group ``/aws/lambda-insights``, from which
CloudWatch extracts eight metrics per function in the ``LambdaInsights`` namespace (dimension ``function_name``).
Sources: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights-metrics.html and
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights-example-event.html.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Annotations, ArnFormat, CfnMapping, CfnResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from llm_observability.compliance_profile import log_retention_days as profile_retention_days
from llm_observability.config.bounds import LOG_RETENTION
from llm_observability.config.choices import SingletonMode
from llm_observability.constructs._common import log_encryption_key, retention
from llm_observability.constructs.alarm_factory import RoledAlarm
from llm_observability.constructs.otel import function_property
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.nag import acknowledge, finding_resource
from llm_observability.singletons import claim
from llm_observability.validation import choice
from llm_observability.workload import Workload

#: The extension version whose layer ARNs aws-cdk-lib's region facts list (``LambdaInsightsVersion.VERSION_1_0_498_0``,
#: the newest in aws-cdk-lib 2.275). Every ARN comes from ``RegionInfo``; AWS's list of versions and ARNs:
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights-extension-versions.html
INSIGHTS_VERSION = "1.0.498.0"
#: The layer names AWS publishes the extension under (x86_64, arm64): how a template shows Lambda Insights.
LAYER_NAME = "LambdaInsightsExtension"
#: The log group the extension writes to: one per account and region, named by AWS.
LOG_GROUP_NAME = "/aws/lambda-insights"
NAMESPACE = "LambdaInsights"
DIM_FUNCTION_NAME = "function_name"
#: The metrics the dashboard row reads (of the eight the extension writes per function).
METRIC_CPU_TOTAL_TIME = "cpu_total_time"  # ms of CPU (user + system) per invocation
METRIC_MEMORY_UTILIZATION = "memory_utilization"  # percent of the configured memory
METRIC_TOTAL_NETWORK = "total_network"  # bytes received and sent per invocation
METRIC_INIT_DURATION = "init_duration"  # ms of the init phase, cold starts only
#: All eight (docs "Lambda Insights metrics"): what an account is billed for per function.
METRICS: tuple[str, ...] = (
    METRIC_MEMORY_UTILIZATION, "total_memory", "used_memory_max", METRIC_CPU_TOTAL_TIME, "tx_bytes", "rx_bytes",
    METRIC_TOTAL_NETWORK, METRIC_INIT_DURATION,
)  # fmt: skip
#: Lambda's limit of layers per function (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_LAYERS = 5
ARCHITECTURES: tuple[str, ...] = (lambda_.Architecture.X86_64.name, lambda_.Architecture.ARM_64.name)
_MAPPING_ID = "LambdaInsightsLayerArns"
_WRITE_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
_WRITE_REASON = (
    "The Lambda Insights extension writes to log streams it names at run time, all inside the one log group "
    "/aws/lambda-insights (AWS's CloudWatchLambdaInsightsExecutionRolePolicy grants the same on every region's group)."
)


def layer_arns() -> dict[str, dict[str, str]]:
    """Region -> architecture -> layer ARN of :data:`INSIGHTS_VERSION`, for every region aws-cdk-lib knows one of."""
    table: dict[str, dict[str, str]] = {}
    for region in sorted(RegionInfo.regions, key=lambda r: r.name):
        arns = {arch: region.cloudwatch_lambda_insights_arn(INSIGHTS_VERSION, arch) for arch in ARCHITECTURES}
        found = {arch: arn for arch, arn in arns.items() if arn}
        if found:
            table[region.name] = found
    return table


def mapping_key(arch: str) -> str:
    """The mapping's key of an architecture: CloudFormation mapping keys are alphanumeric (``x8664``, ``arm64``)."""
    return arch.replace("_", "")


def mapping_of(table: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """:func:`layer_arns` as the ``CfnMapping`` of an environment-agnostic stack."""
    return {region: {mapping_key(arch): arn for arch, arn in arns.items()} for region, arns in table.items()}


def insights_layer_arn(fn: lambda_.Function) -> str:
    """The Lambda Insights layer ARN for ``fn``'s architecture in its stack's region; in an environment-agnostic
    stack a ``Fn::FindInMap`` into one ``CfnMapping`` per stack (region -> ``x8664``/``arm64``).

    :raises ConfigError: AWS publishes no layer for that architecture in that region (or in any region).
    """
    stack, arch = Stack.of(fn), fn.architecture.name
    table = layer_arns()
    if Token.is_unresolved(stack.region):
        mapping = stack.node.try_find_child(_MAPPING_ID)
        if not isinstance(mapping, CfnMapping):
            mapping = CfnMapping(stack, _MAPPING_ID, mapping=mapping_of(table))
        return mapping.find_in_map(stack.region, mapping_key(arch))
    arns = table.get(stack.region, {})
    if arch not in arns:
        allowed = f"a function on {' or '.join(arns)} there" if arns else "another region"
        raise ConfigError(
            f"FunctionInsights 'workload.functions' holds {fn.node.path} on {arch} in {stack.region}, where AWS "
            f"publishes no Lambda Insights layer {INSIGHTS_VERSION} for {arch}: allowed is {allowed}, or Lambda "
            "Insights left off (setting lambda_insights=false)."
        )
    return arns[arch]


def has_insights(fn: lambda_.Function) -> bool:
    """``fn`` already has a Lambda Insights layer (this construct's, or aws-cdk-lib's ``insights_version``)."""
    layers = json.dumps(function_property(fn, "layers") or [])
    # aws-cdk-lib's own mapping for insights_version in an environment-agnostic stack is CloudwatchlambdainsightsversionMap.
    return any(marker in layers for marker in (LAYER_NAME, _MAPPING_ID, "Cloudwatchlambdainsights"))


class FunctionInsights(Construct):
    """Turns on CloudWatch Lambda Insights for each function of the workload.

    Per function (``lambda_.Function``): the extension layer for its region and architecture (an ARN from
    aws-cdk-lib's region facts, or a ``CfnMapping`` lookup in an environment-agnostic stack) and an inline statement
    on its role allowing ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on ``/aws/lambda-insights`` only (instead
    of the managed ``CloudWatchLambdaInsightsExecutionRolePolicy``, which also allows creating any log group).

    ``/aws/lambda-insights`` is an account and region singleton: the extension creates it on first write, with no
    retention and no KMS key, if a role may create it. ``log_group_mode="create"`` creates it here, KMS-encrypted and
    with ``log_retention_days`` (deployment fails where it already exists: adopt it there); ``"adopt"`` creates
    nothing and lets the functions create the group if it is missing (``logs:CreateLogGroup`` on that one name), as
    AWS's managed policy does. Deleting a stack that created it deletes the group and its data; nothing adopted is
    touched.

    Left out, in the stack's one left-out warning: an imported function (its layers cannot change) and a container
    image function (the extension is installed in the image, not as a layer). A function with a Lambda Insights layer
    already is observed, not given a second one.

    Costs (no price of its own): eight custom metrics per function and about 1 KB of log per invocation
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-insights.html#monitoring-insights-pricing).

    :param workload: the observed application; its ``functions`` get the extension.
    :param log_group_mode: ``create`` the ``/aws/lambda-insights`` log group, or ``adopt`` the account's.
        Default: ``create``.
    :param log_retention_days: retention of the created log group. Default: 30.
    :param key: KMS key of the created log group. Default: a new rotating key.

    Attributes: ``functions`` (the functions observed), ``log_group`` and ``key`` (None when adopted), ``alarms`` and
    ``roled_alarms`` (empty: Lambda's own Errors and Throttles, alarmed at Level 1, already say a function fails;
    these metrics explain why).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        log_group_mode: SingletonMode = "create",
        log_retention_days: int = 30,
        key: kms.IKey | None = None,
    ) -> None:
        choice("log_group_mode", log_group_mode, SingletonMode, owner="FunctionInsights")
        LOG_RETENTION.check("log_retention_days", log_retention_days, owner="FunctionInsights")
        super().__init__(scope, id)
        self.workload = workload
        self.log_group_mode = log_group_mode
        self.key: kms.IKey | None = None
        self.log_group: logs.LogGroup | None = None
        self.alarms: dict[str, cw.Alarm] = {}
        self.roled_alarms: tuple[RoledAlarm, ...] = ()
        self.functions: list[lambda_.Function] = []
        if not workload.functions:
            leave_out(self, "Lambda Insights (CPU, memory and network per function)", "functions",
                      "pass the workload's Lambda functions (Workload.from_function(...))")  # fmt: skip
            return
        if log_group_mode == "create":
            claim(self, "lambda-insights-log-group")
            self.key = key or log_encryption_key(self, "LogKey", description="Encrypts the Lambda Insights log group.")
            self.log_group = logs.LogGroup(
                self,
                "Logs",
                log_group_name=LOG_GROUP_NAME,
                encryption_key=self.key,
                retention=retention(profile_retention_days(self, log_retention_days)),
                removal_policy=RemovalPolicy.RETAIN,  # the account's: other apps' Lambda Insights data too
            )
        else:
            Annotations.of(self).add_info(
                f"FunctionInsights '{self.node.path}' adopts the account's {LOG_GROUP_NAME} log group: nothing is "
                "created, and the functions may create it (with no retention and no KMS key) where it is missing."
            )
        for fn in workload.functions:
            self._observe(fn)

    def _observe(self, fn: lambda_.IFunction) -> None:
        if not isinstance(fn, lambda_.Function):
            leave_out(self, f"Lambda Insights on {fn.node.path}", "functions",
                      "pass the Function construct, not an imported one (its layers cannot change)")  # fmt: skip
            return
        if function_property(fn, "packageType") == "Image":
            leave_out(self, f"Lambda Insights on {fn.node.path}", "functions",
                      "install the Lambda Insights extension in the container image (a layer cannot be added)")  # fmt: skip
            return
        self.functions.append(fn)
        if has_insights(fn):
            Annotations.of(fn).add_info(
                f"{fn.node.path} has a Lambda Insights layer already: FunctionInsights adds none."
            )
            return
        layers = function_property(fn, "layers") or []
        if len(layers) >= MAX_LAYERS:
            raise ConfigError(
                f"FunctionInsights 'workload.functions' holds {fn.node.path}, which has {len(layers)} layers already: "
                f"allowed is a function with at most {MAX_LAYERS - 1} layers, as Lambda takes {MAX_LAYERS} "
                "(remove one, or leave Lambda Insights off with lambda_insights=false)."
            )
        arn = insights_layer_arn(fn)
        role = fn.role
        if role is None:  # a Function always has one; typed optional by aws-cdk-lib
            leave_out(self, f"Lambda Insights on {fn.node.path}", "functions", "give the function an execution role")
            self.functions.remove(fn)
            return
        self._allow_writes(fn, role)
        fn.add_layers(lambda_.LayerVersion.from_layer_version_arn(self, f"Layer{len(self.functions)}", arn))
        function, group = fn.node.default_child, self.log_group.node.default_child if self.log_group else None
        if isinstance(function, CfnResource) and isinstance(group, CfnResource) and Stack.of(fn) is Stack.of(self):
            function.node.add_dependency(group)  # the first invocation's metrics need the group (no right to create it)

    def _allow_writes(self, fn: lambda_.Function, role: iam.IRole) -> None:
        """The role's statements: write to the group's streams; when adopting, also create the group if missing."""
        group = Stack.of(fn).format_arn(service="logs", resource="log-group", resource_name=LOG_GROUP_NAME,
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)  # fmt: skip
        statements = [iam.PolicyStatement(sid="LambdaInsightsWrite", actions=_WRITE_ACTIONS, resources=[f"{group}:*"])]
        if self.log_group_mode == "adopt":
            statements.append(iam.PolicyStatement(sid="LambdaInsightsCreateGroup", actions=["logs:CreateLogGroup"],
                                                  resources=[group, f"{group}:*"]))  # fmt: skip
        for statement in statements:
            role.add_to_principal_policy(statement)
        # The role's own policy (a created role's DefaultPolicy, an imported role's Policy) holds the statements.
        policy = role.node.try_find_child("DefaultPolicy") or role.node.try_find_child("Policy")
        if isinstance(policy, Construct):
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{finding_resource(policy, f'{group}:*')}]", _WRITE_REASON)

    # ------------------------------------------------------------------ metrics and dashboard
    def metric(self, name: str, fn: lambda_.IFunction, *, statistic: str = "Average",
               period: Duration = Duration.minutes(5)) -> cw.Metric:  # fmt: skip
        """One ``LambdaInsights`` metric of ``fn`` (one of :data:`METRICS`)."""
        if name not in METRICS:
            raise ConfigError(f"FunctionInsights metric 'name' is {name!r}: allowed are {', '.join(METRICS)}.")
        return cw.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map={DIM_FUNCTION_NAME: fn.function_name},
                         statistic=statistic, period=period, label=f"{fn.node.id} {statistic}")  # fmt: skip

    def widgets(self, *, width: int = 6) -> list[cw.IWidget]:
        """A dashboard row: CPU time (average and p90), memory utilisation (maximum), network and init duration,
        one line per observed function."""
        fns = self.functions
        if not fns:
            return []

        def graph(title: str, metrics: Sequence[cw.IMetric], unit: str) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=list(metrics), width=width, height=6,
                                  left_y_axis=cw.YAxisProps(label=unit, show_units=False, min=0))  # fmt: skip

        return [
            graph("Lambda CPU time per invocation (average, p90)",
                  [self.metric(METRIC_CPU_TOTAL_TIME, f, statistic=s) for f in fns for s in ("Average", "p90")], "ms"),
            graph("Lambda memory utilisation (maximum)",
                  [self.metric(METRIC_MEMORY_UTILIZATION, f, statistic="Maximum") for f in fns], "%"),
            graph("Lambda network per invocation (received + sent)",
                  [self.metric(METRIC_TOTAL_NETWORK, f) for f in fns], "bytes"),
            graph("Lambda init duration (cold starts)",
                  [self.metric(METRIC_INIT_DURATION, f, statistic=s) for f in fns for s in ("Average", "Maximum")], "ms"),
        ]  # fmt: skip
