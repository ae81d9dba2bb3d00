"""Per-application Bedrock tokens and estimated cost from the model invocation log: no code in the application."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Annotations, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from llm_observability.config.models import INFERENCE_PROFILE_PREFIXES, MODEL_PRICE_ALLOWED
from llm_observability.constructs.metrics import _NOT_AN_ID, DEFAULT_PERIOD, BedrockMetrics, _decimal
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry as t
from llm_observability.workload import Workload

#: Metrics the filters publish (dimension ``ModelId``, the record's ``modelId``).
METRIC_INPUT_TOKENS = "InvocationInputTokens"
METRIC_OUTPUT_TOKENS = "InvocationOutputTokens"
#: Where each token count is in an invocation log record (``schemaType`` ``ModelInvocationLog``).
TOKEN_FIELDS: Mapping[str, str] = {
    METRIC_INPUT_TOKENS: "$.input.inputTokenCount",
    METRIC_OUTPUT_TOKENS: "$.output.outputTokenCount",
}
CALLER_FIELD = "$.identity.arn"
MODEL_FIELD = "$.modelId"
#: CloudWatch's limit on a metric namespace.
MAX_NAMESPACE_LENGTH = 255


def usage_namespace(workload: Workload) -> str:
    """The namespace of a workload's invocation-log metrics: ``<workload namespace>/Invocations/<workload name>``.

    A metric filter can set no constant dimension, so the workload is told apart by the namespace; its
    ``ModelId`` dimension is the only one, as in AWS/Bedrock.
    """
    return f"{workload.metric_namespace}/Invocations/{workload.name}"


def caller_pattern(role: iam.IRole, partition: str) -> str:
    """``identity.arn`` of every session of ``role``: ``arn:<partition>:sts::<account>:assumed-role/<name>/*``
    (a Lambda function's session is named after the function). Tokens stay tokens until deploy."""
    return f"arn:{partition}:sts::{role.env.account}:assumed-role/{role.role_name}/*"


def _is_inference_profile(model_id: str) -> bool:
    head, dot, rest = model_id.partition(".")
    return bool(dot and rest) and head in INFERENCE_PROFILE_PREFIXES


class InvocationUsage(Construct):
    """Tokens and estimated cost of one workload per model, from the Bedrock model invocation log.

    Bedrock model invocation logging (:class:`InvocationLogging`) writes one JSON record per model call of
    the account and region, with the caller (``identity.arn``), the model (``modelId``) and the token counts
    (``input.inputTokenCount``, ``output.outputTokenCount``). For each caller role of the workload, two metric
    filters on that log group select the records whose ``identity.arn`` is a session of the role
    (``arn:<partition>:sts::<account>:assumed-role/<role name>/*``) and publish ``InvocationInputTokens`` and
    ``InvocationOutputTokens`` (unit Count) with the dimension ``ModelId`` from the record's ``modelId``, in
    the namespace ``<workload namespace>/Invocations/<workload name>`` (:func:`usage_namespace`: a metric
    filter can set no constant dimension, so the namespace names the workload). So an application that emits
    no metric of its own still gets its usage and cost per model. Each model the roles call is one custom
    metric per metric name (``llm-observability cost`` counts one per model that a dashboard or alarm reads).

    - No default value: it would publish a zero for every other record of the account.
    - Records without a token count (failed calls) match no filter. Cache reads and writes
      (``cacheReadInputTokenCount``, ...) are priced differently and not counted.
    - Invocation log records carry an inference-profile id (``us.amazon.nova-lite-v1:0``) as the profile's ARN
      in this account and region; the accessors read that spelling (:meth:`logged_model_id`).

    :param workload: the observed application.
    :param log_group: the invocation log group (``InvocationLogging.log_group``, or the account's own).
    :param roles: the roles the application calls Bedrock with. Default: the roles of the workload's
        functions (a function imported without its role has none that synth can see: it is skipped, and a
        synth warning names it).
    :param prices: US dollars per 1,000 input and output tokens by model id, merged over the built-in table.
        Default: the built-in table (``config.models.DEFAULT_MODEL_PRICES``).
    :param period: aggregation period of the accessors' metrics. Default: 5 minutes.

    Attributes: ``namespace``, ``roles``, ``filters`` (by metric name, one per role).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        log_group: logs.ILogGroup,
        roles: Sequence[iam.IRole] | None = None,
        prices: Mapping[str, Mapping[str, float]] | None = None,
        period: Duration = DEFAULT_PERIOD,
    ) -> None:
        if prices is not None and not isinstance(prices, Mapping):
            raise ConfigError(f"InvocationUsage 'prices' is {prices!r}: allowed is {MODEL_PRICE_ALLOWED}.")
        if log_group is None or not hasattr(log_group, "log_group_name"):
            raise ConfigError(
                f"InvocationUsage 'log_group' is {log_group!r}: allowed is the Bedrock invocation log group "
                "(InvocationLogging.log_group or logs.LogGroup.from_log_group_name)."
            )
        super().__init__(scope, id)
        self.workload = workload
        self.period = period
        self._pricing = BedrockMetrics(workload, period=period, prices=prices)
        self.namespace = usage_namespace(workload)
        if not Token.is_unresolved(self.namespace) and len(self.namespace) > MAX_NAMESPACE_LENGTH:
            raise ConfigError(
                f"InvocationUsage namespace {self.namespace!r} is {len(self.namespace)} characters: allowed are "
                f"{MAX_NAMESPACE_LENGTH}; shorten 'workload.metric_namespace' or 'workload.name'."
            )
        self.roles = self._caller_roles(roles)
        partition = Stack.of(self).partition
        self.filters: dict[str, list[logs.MetricFilter]] = {name: [] for name in TOKEN_FIELDS}
        for i, role in enumerate(self.roles):
            caller = logs.FilterPattern.string_value(CALLER_FIELD, "=", caller_pattern(role, partition))
            for name, field in TOKEN_FIELDS.items():
                self.filters[name].append(
                    logs.MetricFilter(
                        self,
                        f"{name.removeprefix('Invocation')}{i}",
                        log_group=log_group,
                        # The value field is in the pattern: records without a count (failed calls) are skipped.
                        filter_pattern=logs.FilterPattern.all(caller, logs.FilterPattern.number_value(field, ">=", 0)),
                        metric_namespace=self.namespace,
                        metric_name=name,
                        metric_value=field,
                        dimensions={t.DIM_MODEL_ID: MODEL_FIELD},
                        unit=cw.Unit.COUNT,
                    )
                )
        unpriced = [m for m in workload.model_ids if self._pricing.price_of(m) is None]
        if unpriced:
            Annotations.of(self).add_warning_v2(
                "llm-observability:invocation-usage-unpriced-model",
                f"InvocationUsage estimates no cost for {', '.join(unpriced)}: no price is known; pass it in 'prices' "
                "(keyed by the token itself for a model id given as a token). Its tokens are still counted.",
            )

    def _caller_roles(self, roles: Sequence[iam.IRole] | None) -> tuple[iam.IRole, ...]:
        if roles is not None:
            if isinstance(roles, str | bytes) or not isinstance(roles, Sequence):
                raise ConfigError(f"InvocationUsage 'roles' is {roles!r}: allowed is a sequence of iam.IRole.")
            for role in roles:
                if not hasattr(role, "role_name") or not hasattr(role, "role_arn"):
                    raise ConfigError(f"InvocationUsage 'roles' holds {role!r}: allowed are iam.IRole values.")
            found = tuple(roles)
        else:
            # A function imported by name or ARN has no role synth can see.
            found = tuple(fn.role for fn in self.workload.functions if fn.role is not None)
            unknown = [fn.node.path for fn in self.workload.functions if fn.role is None]
            if unknown:
                Annotations.of(self).add_warning_v2(
                    "llm-observability:invocation-usage-unknown-role",
                    f"InvocationUsage counts no tokens for {', '.join(unknown)}: the role of an imported function is "
                    "not known at synth; pass its role in 'roles'.",
                )
        unique = tuple({role.node.path: role for role in found}.values())  # functions may share a role
        if not unique:
            raise ConfigError(
                "InvocationUsage has no caller role: 'workload.functions' holds no function whose role is known; "
                "pass the roles the application calls Bedrock with in 'roles'."
            )
        return unique

    # ------------------------------------------------------------------ accessors
    def logged_model_id(self, model_id: str) -> str:
        """``model_id`` as the invocation log records it: an inference-profile id as the profile's ARN in this
        account and region, any other id (or a token) as given."""
        if Token.is_unresolved(model_id) or not _is_inference_profile(model_id):
            return model_id
        return Stack.of(self).format_arn(service="bedrock", resource="inference-profile", resource_name=model_id)

    def metric(self, name: str, model_id: str, *, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
        """``name`` (``InvocationInputTokens`` or ``InvocationOutputTokens``) of ``model_id`` for this workload."""
        if name not in self.filters:
            raise ConfigError(f"InvocationUsage.metric 'name' is {name!r}: allowed are {', '.join(self.filters)}.")
        return self.filters[name][0].metric(
            dimensions_map={t.DIM_MODEL_ID: self.logged_model_id(model_id)},
            statistic=statistic,
            period=self.period,
            label=label or f"{name} {model_id}",
        )

    def input_tokens(self, model_id: str) -> cw.Metric:
        """Input tokens of ``model_id`` that the workload's roles used, per period."""
        return self.metric(METRIC_INPUT_TOKENS, model_id)

    def output_tokens(self, model_id: str) -> cw.Metric:
        """Output tokens of ``model_id`` that the workload's roles used, per period."""
        return self.metric(METRIC_OUTPUT_TOKENS, model_id)

    def _ids(self, model_id: str) -> tuple[str, str]:
        """Metric-math ids of a model's input and output tokens, unique per model within one expression."""
        models = self.workload.model_ids
        key = str(models.index(model_id)) if model_id in models else _NOT_AN_ID.sub("_", model_id.lower())
        return f"vin{key}", f"vout{key}"

    def estimated_cost(self, model_id: str) -> cw.MathExpression | None:
        """Estimated Bedrock spend of the workload on ``model_id`` per period, in US dollars (tokens times the
        price per 1,000). None for a model without a known price (a token is priced only by an entry keyed by that
        token); a synth warning names the workload's unpriced models."""
        price = self._pricing.price_of(model_id)
        if price is None:
            return None
        i, o = self._ids(model_id)
        per_in, per_out = _decimal(price["input_per_1k"]), _decimal(price["output_per_1k"])
        return cw.MathExpression(
            expression=f"(FILL({i}, 0) * {per_in} + FILL({o}, 0) * {per_out}) / 1000",
            using_metrics={i: self.input_tokens(model_id), o: self.output_tokens(model_id)},
            label=f"USD {model_id} (invocation log)",
            period=self.period,
        )

    def widgets(self, *, width: int = 12) -> list[cw.IWidget]:
        """A dashboard row: tokens per model (input left, output right) and, for priced models, estimated cost."""
        models = self.workload.model_ids
        row: list[cw.IWidget] = [
            cw.GraphWidget(
                title=f"Tokens from the invocation log: {self.workload.name} (input left, output right)",
                left=[self.input_tokens(m) for m in models],
                right=[self.output_tokens(m) for m in models],
                width=width,
                height=6,
                left_y_axis=cw.YAxisProps(min=0),
                right_y_axis=cw.YAxisProps(min=0),
            )
        ]
        costs = [c for c in (self.estimated_cost(m) for m in models) if c is not None]
        if costs:
            row.append(
                cw.GraphWidget(
                    title=f"Estimated cost from the invocation log: {self.workload.name} (USD per period)",
                    left=list(costs),
                    width=width,
                    height=6,
                    left_y_axis=cw.YAxisProps(label="USD", show_units=False, min=0),
                )
            )
        return row
