"""Typed accessors for the metrics of an LLM workload: AWS/Bedrock, the app's EMF metrics, Lambda, API Gateway.

One builder per namespace (:meth:`BedrockMetrics.bedrock`, :meth:`BedrockMetrics.app`) and thin
named wrappers, following aws-cdk-lib's ``metricX()`` pattern.  Every ``cloudwatch.Metric`` of the
library is made here.  What the application does not emit as a metric is metric math here: its
estimated cost (token metrics times the model's price), total tokens and success and error rates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_

from llm_observability.config.models import MODEL_PRICE_ALLOWED, merged_prices, price_in
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry as t
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

_NOT_AN_ID = re.compile(r"[^a-z0-9_]+")


def _decimal(value: float) -> str:
    """``value`` as a plain decimal for metric math (``0.00006``, never ``6e-05``)."""
    return format(Decimal(repr(float(value))), "f")


class BedrockMetrics:
    """Metrics of one :class:`Workload`.

    :param workload: the observed application.
    :param period: aggregation period of every metric. Default: 5 minutes.
    :param prices: US dollars per 1,000 input and output tokens by model id
        (``{"input_per_1k": ..., "output_per_1k": ...}``), merged over the built-in table; an
        inference-profile id is priced as its foundation model, a model id given as a token by an entry keyed by
        that token. Default: the built-in table (``config.models.DEFAULT_MODEL_PRICES``).
    """

    def __init__(
        self,
        workload: Workload,
        *,
        period: Duration = DEFAULT_PERIOD,
        prices: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        if prices is not None and not isinstance(prices, Mapping):
            raise ConfigError(f"BedrockMetrics 'prices' is {prices!r}: allowed is {MODEL_PRICE_ALLOWED}.")
        self.workload = workload
        self.period = period
        self.prices = merged_prices("prices", prices or {})

    def price_of(self, model_id: str) -> Mapping[str, float] | None:
        """The price of ``model_id`` (its own entry, else its foundation model's); None for an unpriced model.

        A model id given as a token (a ``CfnParameter``'s value, unknown at synth) has a price only when the table
        has an entry keyed by that same token (``prices={param.value_as_string: {...}}``)."""
        return price_in(self.prices, model_id)

    def unpriced_models(self) -> tuple[str, ...]:
        """The workload's model ids without a known price (their cost cannot be charted)."""
        return tuple(m for m in self.workload.model_ids if self.price_of(m) is None)

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

    def request_success(self) -> cw.Metric:
        return self.app(t.METRIC_REQUEST_SUCCESS, label="successful requests")

    def request_failure(self) -> cw.Metric:
        """Requests the service failed (every error class but Validation; those are in the logs and 4XXError)."""
        return self.app(t.METRIC_REQUEST_FAILURE, label="failed requests")

    def tokens(self, name: str, model_id: str) -> cw.Metric:
        """``name`` is ``telemetry.METRIC_INPUT_TOKENS`` or ``METRIC_OUTPUT_TOKENS``: this application's tokens."""
        return self.app(name, label=f"{name} {model_id}", **{t.DIM_MODEL_ID: model_id})

    def cache_hit_rate(self) -> cw.Metric:
        """Share of retrieval-cache lookups that hit, 0-1 (RetrievalCacheHit is 1 per hit, 0 per miss)."""
        return self.app(t.METRIC_RETRIEVAL_CACHE_HIT, statistic="Average", label="cache hit rate (0-1)")

    def cache_lookups(self) -> cw.Metric:
        return self.app(t.METRIC_RETRIEVAL_CACHE_HIT, statistic="SampleCount", label="cache lookups")

    def feedback_score(self) -> cw.Metric:
        return self.app(t.METRIC_FEEDBACK_SCORE, statistic="Average", label="feedback score (avg, 1-5)")

    def feedback_count(self) -> cw.Metric:
        return self.app(t.METRIC_FEEDBACK_SCORE, statistic="SampleCount", label="feedback received")

    def by_prompt_version(
        self, name: str, *, statistic: str = "Sum", period: Duration | None = None
    ) -> cw.MathExpression:
        """``name`` per prompt version: a SEARCH over exactly the {service, PromptVersion} series the RAG
        function emits (``telemetry.PROMPT_VERSION_METRICS``); versions come and go, so they are searched."""
        schema = f"{{{self.workload.metric_namespace},{t.DIM_SERVICE},{t.DIM_PROMPT_VERSION}}}"
        query = f'{schema} MetricName="{name}" {t.DIM_SERVICE}="{self.workload.name}"'
        seconds = int((period or self.period).to_seconds())
        return cw.MathExpression(
            expression=f"SEARCH('{query}', '{statistic}', {seconds})",
            label=f"{name} by prompt version",
            using_metrics={},
        )

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
    def _token_ids(self, model_id: str) -> tuple[str, str]:
        """Metric-math ids of a model's input and output tokens, unique per model within one expression or widget."""
        models = self.workload.model_ids
        key = str(models.index(model_id)) if model_id in models else _NOT_AN_ID.sub("_", model_id.lower())
        return f"in{key}", f"out{key}"

    def _priced_tokens(self, model_ids: tuple[str, ...]) -> tuple[str, dict[str, cw.IMetric]] | None:
        """``tokens x price per 1,000`` summed over the priced ``model_ids``, and the metrics it reads (None: none
        priced)."""
        terms: list[str] = []
        using: dict[str, cw.IMetric] = {}
        for model_id in model_ids:
            price = self.price_of(model_id)
            if price is None:
                continue
            i, o = self._token_ids(model_id)
            using[i] = self.tokens(t.METRIC_INPUT_TOKENS, model_id)
            using[o] = self.tokens(t.METRIC_OUTPUT_TOKENS, model_id)
            terms += [
                f"FILL({i}, 0) * {_decimal(price['input_per_1k'])}",
                f"FILL({o}, 0) * {_decimal(price['output_per_1k'])}",
            ]
        if not terms:
            return None
        return f"({' + '.join(terms)}) / 1000", using

    def estimated_cost(self, model_id: str) -> cw.MathExpression | None:
        """Estimated Bedrock spend of this application on ``model_id`` per period, in US dollars: its
        InputTokens and OutputTokens times the model's price. None when the model has no known price."""
        priced = self._priced_tokens((model_id,))
        if priced is None:
            return None
        expression, using = priced
        return cw.MathExpression(
            expression=expression, using_metrics=using, label=f"USD {model_id}", period=self.period
        )

    def total_estimated_cost(self) -> cw.MathExpression | None:
        """Estimated Bedrock spend per period across the workload's priced models, in US dollars (None: none priced)."""
        priced = self._priced_tokens(self.workload.model_ids)
        if priced is None:
            return None
        expression, using = priced
        return cw.MathExpression(expression=expression, using_metrics=using, label="USD per period", period=self.period)

    def total_tokens(self, model_id: str) -> cw.MathExpression:
        """This application's input plus output tokens of ``model_id``."""
        i, o = self._token_ids(model_id)
        return cw.MathExpression(
            expression=f"FILL({i}, 0) + FILL({o}, 0)",
            using_metrics={
                i: self.tokens(t.METRIC_INPUT_TOKENS, model_id),
                o: self.tokens(t.METRIC_OUTPUT_TOKENS, model_id),
            },
            label=f"tokens {model_id}",
            period=self.period,
        )

    def _outcomes(self) -> dict[str, cw.IMetric]:
        return {"ok": self.request_success(), "failed": self.request_failure()}

    def success_rate(self) -> cw.MathExpression:
        """Percentage of requests the service did not fail (no data while there is no traffic)."""
        return cw.MathExpression(
            expression="100 * FILL(ok, 0) / (FILL(ok, 0) + FILL(failed, 0))",
            using_metrics=self._outcomes(),
            label="success rate %",
            period=self.period,
        )

    def error_rate(self) -> cw.MathExpression:
        """Percentage of requests the service failed (no data while there is no traffic)."""
        return cw.MathExpression(
            expression="100 * FILL(failed, 0) / (FILL(ok, 0) + FILL(failed, 0))",
            using_metrics=self._outcomes(),
            label="error rate %",
            period=self.period,
        )

    # -------------------------------------------------- Lambda and API Gateway (REST or HTTP API)
    def lambda_metric(self, function: lambda_.IFunction, name: str, statistic: str = "Sum") -> cw.Metric:
        """``name`` (Errors, Throttles, Duration, Invocations, ConcurrentExecutions) of one function."""
        return function.metric(name, statistic=statistic, period=self.period, label=f"{name} {function.node.id}")

    def api(self, name: str, statistic: str = "Sum") -> cw.Metric | None:
        """An AWS/ApiGateway metric of the workload's API stage (None without an API), by the name CloudWatch
        publishes for that kind of API: a REST API's ``5XXError``, ``4XXError``, ... (dimensions ApiName and
        Stage), an HTTP API's ``5xx``, ``4xx``, ... (dimensions ApiId and Stage). The named accessors below pick
        the name for the workload's API."""
        return self._api_stage(lambda api, **options: api.metric(name, **options), statistic)

    def api_requests(self) -> cw.Metric | None:
        """Requests to the API stage (``Count``)."""
        return self._api_stage(lambda api, **options: api.metric_count(**options), "Sum")

    def api_client_errors(self) -> cw.Metric | None:
        """4XX responses of the API stage (a REST API's ``4XXError``, an HTTP API's ``4xx``)."""
        return self._api_stage(lambda api, **options: api.metric_client_error(**options), "Sum")

    def api_server_errors(self) -> cw.Metric | None:
        """5XX responses of the API stage (a REST API's ``5XXError``, an HTTP API's ``5xx``)."""
        return self._api_stage(lambda api, **options: api.metric_server_error(**options), "Sum")

    def api_latency(self, statistic: str = "p90") -> cw.Metric | None:
        """Latency of the API stage, from request received to response sent, in ms (``Latency``)."""
        return self._api_stage(lambda api, **options: api.metric_latency(**options), statistic)

    def api_integration_latency(self, statistic: str = "p90") -> cw.Metric | None:
        """Latency of the API stage's backend (``IntegrationLatency``), in ms."""
        return self._api_stage(lambda api, **options: api.metric_integration_latency(**options), statistic)

    def _api_stage(self, build: Callable[..., cw.Metric], statistic: str) -> cw.Metric | None:
        """The metric ``build(api, statistic=..., period=...)`` makes with the API's own aws-cdk-lib method (dimension
        ApiName or ApiId), narrowed to the workload's stage as aws-cdk-lib's own stage metrics are."""
        w = self.workload
        if w.http_api is not None:
            api: apigw.RestApi | apigwv2.IHttpApi = w.http_api
            dimensions = {"ApiId": w.http_api.api_id}
        elif w.rest_api is not None:
            api = w.rest_api
            dimensions = {"ApiName": w.rest_api.rest_api_name}
        else:
            return None
        metric = build(api, statistic=statistic, period=self.period)
        return metric.with_(
            dimensions_map={**dimensions, "Stage": w.api_stage_name}, label=f"{metric.metric_name} {statistic}"
        )
