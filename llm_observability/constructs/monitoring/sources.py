"""The estate's sources (one workload in one account and region) and their metrics as the monitoring account reads them.

A ``cw.Metric`` with ``account`` and ``region`` is read across accounts (the dashboard body's ``accountId``, an alarm's
``AccountId``); a Metrics Insights query in a monitoring account covers every account linked to its sink ("your
Metrics Insights alarms can watch resources in source accounts and in the monitoring account itself", CloudWatch User
Guide, *Alarms on CloudWatch Metrics Insights queries*).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack, Token
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_observability.config.organization import ACCOUNT_RE, REGION_RE
from llm_observability.constructs.metrics import BEDROCK_NAMESPACE, DEFAULT_PERIOD
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry as t
from llm_observability.workload import DEFAULT_NAMESPACE, Workload

_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9._:/@+-]+$")


def concrete(value: str) -> str | None:
    """``value`` unless it is a token (an environment-agnostic stack's account or region)."""
    return None if Token.is_unresolved(value) else value


@dataclass(frozen=True)
class EstateSource:
    """One workload in one source account and region, as the monitoring account shows and alarms on it.

    :param account: the source account (12 digits).
    :param region: its region (the monitoring account sees it through that region's sink).
    :param workload_name: the Workload's name, the ``service`` dimension of its app metrics.
    :param model_ids: the Bedrock model / inference-profile ids it calls (one or more).
    :param metric_namespace: namespace of its app metrics. Default: ``LLMObservability``.
    :param level: its maturity level (1-3); the quality row needs the Level 2 canary. Default: 1.
    """

    account: str
    region: str
    workload_name: str
    model_ids: tuple[str, ...]
    metric_namespace: str = DEFAULT_NAMESPACE
    level: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.account, str) and ACCOUNT_RE.match(self.account)):
            raise ConfigError(f"EstateSource 'account' is {self.account!r}: allowed is an AWS account id of 12 digits.")
        if not (isinstance(self.region, str) and REGION_RE.match(self.region)):
            raise ConfigError(f"EstateSource 'region' is {self.region!r}: allowed is a region such as us-east-1.")
        if isinstance(self.level, bool) or self.level not in (1, 2, 3):
            raise ConfigError(f"EstateSource 'level' is {self.level!r}: allowed is 1, 2 or 3.")
        if isinstance(self.model_ids, str) or not self.model_ids:
            raise ConfigError(
                f"EstateSource 'model_ids' is {self.model_ids!r}: allowed is a tuple of one or more Bedrock model ids."
            )
        object.__setattr__(self, "model_ids", tuple(self.model_ids))
        for model_id in self.model_ids:
            if not (isinstance(model_id, str) and _MODEL_ID_RE.match(model_id)):
                raise ConfigError(
                    f"EstateSource 'model_ids' holds {model_id!r}: allowed are Bedrock model or inference-profile ids "
                    "(letters, digits and . _ : / @ + -)."
                )
        if not (isinstance(self.metric_namespace, str) and self.metric_namespace.strip()):
            raise ConfigError(f"EstateSource 'metric_namespace' is {self.metric_namespace!r}: allowed is a namespace.")
        self.workload()  # the workload name's rule is the Workload's

    def workload(self) -> Workload:
        """The facts of this source that its metrics need, as a Workload (its app metrics come from the runtime)."""
        return Workload(
            name=self.workload_name,
            model_ids=self.model_ids,
            metric_namespace=self.metric_namespace,
            telemetry="runtime",
        )

    @property
    def title(self) -> str:
        return f"{self.workload_name} · account {self.account} · {self.region} · Level {self.level}"


def at_source(metric: cw.IMetric, source: EstateSource) -> cw.IMetric:
    """``metric`` read from ``source``'s account and region (a metric expression: every metric it reads)."""
    if isinstance(metric, cw.Metric):
        return metric.with_(account=source.account, region=source.region)
    if isinstance(metric, cw.MathExpression):
        return cw.MathExpression(
            expression=metric.expression,
            using_metrics={k: at_source(v, source) for k, v in metric.using_metrics.items()},
            label=metric.label,
            period=metric.period,
            color=metric.color,
        )
    raise ConfigError(
        f"Metric {metric!r}: allowed are a cw.Metric or a cw.MathExpression to read from a source account."
    )


def metrics_insights(metric_name: str, model_id: str, *, label: str) -> cw.MathExpression:
    """``metric_name`` of AWS/Bedrock summed over every account linked to this region's sink, for ``model_id``."""
    query = (
        f'SELECT SUM({metric_name}) FROM SCHEMA("{BEDROCK_NAMESPACE}", {t.DIM_MODEL_ID}) '
        f"WHERE {t.DIM_MODEL_ID} = '{model_id}'"
    )
    return cw.MathExpression(expression=query, using_metrics={}, label=label, period=DEFAULT_PERIOD)


def check_sources(owner: str, scope: Construct, sources: Sequence[EstateSource]) -> tuple[EstateSource, ...]:
    """``sources`` when they are EstateSources, each once, all in the stack's region (when it is known)."""
    if isinstance(sources, (str, EstateSource)) or not sources:
        raise ConfigError(f"{owner} 'sources' is {sources!r}: allowed is a sequence of one or more EstateSource.")
    for source in sources:
        if not isinstance(source, EstateSource):
            raise ConfigError(f"{owner} 'sources' holds {source!r}: allowed are EstateSource values only.")
    keys = [(s.account, s.region, s.workload_name) for s in sources]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ConfigError(
            f"{owner} 'sources' names workload {twice[2]} of account {twice[0]} in {twice[1]} twice: allowed is each "
            "workload once."
        )
    region = concrete(Stack.of(scope).region)
    elsewhere = sorted({s.region for s in sources} - {region}) if region else []
    if elsewhere:
        raise ConfigError(
            f"{owner} 'sources' are in {', '.join(elsewhere)}: allowed are sources of this stack's region ({region}) "
            "only, since an OAM sink sees its own region; make one per region."
        )
    return tuple(sources)
