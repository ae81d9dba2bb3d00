"""Typed accessors for the metrics of an LLM workload: AWS/Bedrock, the app's EMF metrics, Lambda, API Gateway.

One builder per namespace (:meth:`BedrockMetrics.bedrock`, :meth:`BedrockMetrics.app`) and thin
named wrappers, following aws-cdk-lib's ``metricX()`` pattern.  Every ``cloudwatch.Metric`` of the
library is made here.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_

from llm_observability.errors import ConfigError
from llm_observability.functions.rag_api import telemetry as t
from llm_observability.workload import Workload

BEDROCK_NAMESPACE = "AWS/Bedrock"
GUARDRAILS_NAMESPACE = "AWS/Bedrock/Guardrails"
DEFAULT_PERIOD = Duration.minutes(5)

# AWS/Bedrock runtime metric names (dimension ModelId, or none for all models).
INVOCATIONS = "Invocations"
INVOCATION_LATENCY = "InvocationLatency"
INVOCATION_CLIENT_ERRORS = "InvocationClientErrors"
INVOCATION_SERVER_ERRORS = "InvocationServerErrors"
INVOCATION_THROTTLES = "InvocationThrottles"
INPUT_TOKEN_COUNT = "InputTokenCount"
OUTPUT_TOKEN_COUNT = "OutputTokenCount"


class BedrockMetrics:
    """Metrics of one :class:`Workload`.

    :param workload: the observed application.
    :param period: aggregation period of every metric. Default: 5 minutes.
    """

    def __init__(self, workload: Workload, *, period: Duration = DEFAULT_PERIOD) -> None:
        self.workload = workload
        self.period = period

    # ------------------------------------------------------------------ builders
    def bedrock(self, name: str, *, model_id: str | None = None, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
        """An AWS/Bedrock metric for one model id, or across all models when ``model_id`` is None."""
        return cw.Metric(
            namespace=BEDROCK_NAMESPACE,
            metric_name=name,
            dimensions_map={"ModelId": model_id} if model_id else None,
            statistic=statistic,
            period=self.period,
            label=label or (f"{name} {model_id}" if model_id else f"{name} (all models)"),
        )

    def app(self, name: str, *, statistic: str = "Sum", label: str | None = None, **dimensions: str) -> cw.Metric:
        """One of the application's EMF metrics (names in ``telemetry``), ``service`` dimension added."""
        return cw.Metric(
            namespace=self.workload.metric_namespace,
            metric_name=name,
            dimensions_map={t.DIM_SERVICE: self.workload.name, **dimensions},
            statistic=statistic,
            period=self.period,
            label=label,
        )

    # ----------------------------------------------------------- AWS/Bedrock
    def invocations(self, model_id: str | None = None) -> cw.Metric:
        return self.bedrock(INVOCATIONS, model_id=model_id)

    def invocation_latency(self, model_id: str | None = None, statistic: str = "p90") -> cw.Metric:
        label = f"{statistic} latency {model_id or '(all models)'}"
        return self.bedrock(INVOCATION_LATENCY, model_id=model_id, statistic=statistic, label=label)

    def invocation_client_errors(self, model_id: str | None = None) -> cw.Metric:
        return self.bedrock(INVOCATION_CLIENT_ERRORS, model_id=model_id)

    def invocation_server_errors(self, model_id: str | None = None) -> cw.Metric:
        return self.bedrock(INVOCATION_SERVER_ERRORS, model_id=model_id)

    def invocation_throttles(self, model_id: str | None = None) -> cw.Metric:
        return self.bedrock(INVOCATION_THROTTLES, model_id=model_id)

    def input_token_count(self, model_id: str | None = None) -> cw.Metric:
        return self.bedrock(INPUT_TOKEN_COUNT, model_id=model_id)

    def output_token_count(self, model_id: str | None = None) -> cw.Metric:
        return self.bedrock(OUTPUT_TOKEN_COUNT, model_id=model_id)

    # ------------------------------------------------------ application (EMF)
    def stage_latency(self, stage: str, statistic: str = "p90") -> cw.Metric:
        return self.app(t.METRIC_STAGE_LATENCY, statistic=statistic, label=f"{stage} {statistic}", **{t.DIM_STAGE: stage})

    def end_to_end_latency(self, statistic: str = "p90") -> cw.Metric:
        return self.app(t.METRIC_END_TO_END_LATENCY, statistic=statistic, label=f"end to end {statistic}")

    def inference_latency(self, model_id: str, statistic: str = "p90") -> cw.Metric:
        return self.app(t.METRIC_INFERENCE_LATENCY, statistic=statistic, label=f"{model_id} {statistic}", **{t.DIM_MODEL_ID: model_id})

    def request_success(self) -> cw.Metric:
        return self.app(t.METRIC_REQUEST_SUCCESS, label="successful requests")

    def request_failure(self, error_class: str) -> cw.Metric:
        return self.app(t.METRIC_REQUEST_FAILURE, label=error_class, **{t.DIM_ERROR_CLASS: error_class})

    def tokens(self, name: str, model_id: str) -> cw.Metric:
        """``name`` is ``telemetry.METRIC_INPUT_TOKENS``, ``METRIC_OUTPUT_TOKENS`` or ``METRIC_TOTAL_TOKENS``."""
        return self.app(name, label=f"{name} {model_id}", **{t.DIM_MODEL_ID: model_id})

    def estimated_cost(self, model_id: str) -> cw.Metric:
        return self.app(t.METRIC_ESTIMATED_COST, label=f"USD {model_id}", **{t.DIM_MODEL_ID: model_id})

    # --------------------------------------------------------------- guardrail
    def guardrail(self, name: str, *, statistic: str = "Sum") -> cw.Metric:
        """An AWS/Bedrock/Guardrails metric (``Invocations``, ``InvocationsIntervened``, ...) of the
        workload's guardrail version."""
        if not (self.workload.guardrail_arn and self.workload.guardrail_version):
            raise ConfigError("BedrockMetrics.guardrail needs a workload with 'guardrail_arn' and 'guardrail_version'.")
        return cw.Metric(
            namespace=GUARDRAILS_NAMESPACE,
            metric_name=name,
            dimensions_map={"GuardrailArn": self.workload.guardrail_arn, "GuardrailVersion": self.workload.guardrail_version},
            statistic=statistic,
            period=self.period,
            label=f"guardrail {name}",
        )

    def guardrail_intervention_rate(self) -> cw.MathExpression:
        """Percentage of guarded invocations where the guardrail intervened."""
        return cw.MathExpression(
            expression="100 * FILL(i, 0) / n",
            using_metrics={"i": self.guardrail("InvocationsIntervened"), "n": self.guardrail("Invocations")},
            label="guardrail intervention rate %",
            period=self.period,
        )

    # ------------------------------------------------------------- metric math
    def _outcomes(self) -> tuple[dict[str, cw.IMetric], str]:
        """``/ask`` outcome metrics for metric math, and the expression summing all failure classes."""
        using: dict[str, cw.IMetric] = {"ok": self.request_success()}
        using.update({f"f{i}": self.request_failure(c) for i, c in enumerate(t.ERROR_CLASSES)})
        failures = " + ".join(f"FILL(f{i}, 0)" for i in range(len(t.ERROR_CLASSES)))
        return using, failures

    def failures(self) -> cw.MathExpression:
        """All failed requests, whatever their error class."""
        using, failures = self._outcomes()
        del using["ok"]
        return cw.MathExpression(expression=failures, using_metrics=using, label="failed requests", period=self.period)

    def success_rate(self) -> cw.MathExpression:
        """Percentage of ``/ask`` requests that succeeded (no data while there is no traffic)."""
        using, failures = self._outcomes()
        return cw.MathExpression(
            expression=f"100 * FILL(ok, 0) / (FILL(ok, 0) + {failures})",
            using_metrics=using,
            label="success rate %",
            period=self.period,
        )

    def error_rate(self) -> cw.MathExpression:
        """Percentage of ``/ask`` requests that failed (no data while there is no traffic)."""
        using, failures = self._outcomes()
        return cw.MathExpression(
            expression=f"100 * ({failures}) / (FILL(ok, 0) + {failures})",
            using_metrics=using,
            label="error rate %",
            period=self.period,
        )

    def total_estimated_cost(self) -> cw.MathExpression:
        """Estimated Bedrock spend per period across the workload's models, in US dollars."""
        using = {f"c{i}": self.estimated_cost(m) for i, m in enumerate(self.workload.model_ids)}
        return cw.MathExpression(
            expression=" + ".join(f"FILL({k}, 0)" for k in using), using_metrics=using, label="USD per period",
            period=self.period,
        )  # fmt: skip

    # -------------------------------------------------- Lambda and API Gateway
    def lambda_metric(self, function: lambda_.IFunction, name: str, statistic: str = "Sum") -> cw.Metric:
        """``name`` (Errors, Throttles, Duration, Invocations, ConcurrentExecutions) of one function."""
        return function.metric(name, statistic=statistic, period=self.period, label=f"{name} {function.node.id}")

    def api(self, name: str, statistic: str = "Sum") -> cw.Metric | None:
        """An AWS/ApiGateway metric of the workload's REST API stage (None without an API)."""
        api = self.workload.rest_api
        if api is None:
            return None
        return cw.Metric(
            namespace="AWS/ApiGateway",
            metric_name=name,
            dimensions_map={"ApiName": api.rest_api_name, "Stage": self.workload.api_stage_name or "prod"},
            statistic=statistic,
            period=self.period,
            label=f"{name} {statistic}",
        )
