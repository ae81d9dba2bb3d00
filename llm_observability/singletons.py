"""Detects, across one CDK app, a second creation of something an AWS account (and region) can have only one of.

Each construct that creates such a singleton calls :func:`claim` where it creates it (never when it adopts the
account's own). The claims live in a resource-less construct under the app's root, so two ``App`` objects in one
process never share them. A second claim of a kind in one environment raises :class:`ConfigError` naming both
construct paths, the environment and the setting that adopts instead.

Environments are the stacks' ``account`` and ``region`` (only the account for account-wide kinds such as the
multi-region trail). A stack whose account or region is an unresolved token (no explicit ``env``) could deploy
anywhere; all such stacks of the app count as ONE environment, the one a single ``cdk deploy`` puts them in.
"""

from __future__ import annotations

from typing import Literal, cast

from aws_cdk import Stack, Token
from constructs import Construct

from llm_observability.errors import ConfigError
from llm_observability.validation import choice

#: What a construct can claim: one per account and region, except ``cloudtrail`` and ``cost-anomaly-monitor``,
#: which the callers claim account-wide.
SingletonKind = Literal[
    "security-hub",
    "config-recorder",
    "cloudtrail",
    "cost-anomaly-monitor",
    "devops-guru-coverage",
    "invocation-logging",
    "api-gateway-account",
    "transaction-search",
    "lambda-insights-log-group",
]

#: Per kind: what is created twice, and how one of the two adopts (or leaves out) the other's.
_SINGLETONS: dict[SingletonKind, tuple[str, str]] = {
    "security-hub": ("A Security Hub hub", "set security_hub='adopt' on one of them"),
    "config-recorder": (
        "An AWS Config recorder and delivery channel",
        "set config_recorder='adopt' on one of them",
    ),
    "cloudtrail": (
        "A multi-region CloudTrail trail (one per account)",
        "set cloudtrail=False on one of them",
    ),
    "cost-anomaly-monitor": (
        "A Cost Anomaly Detection AWS-services monitor (one per account)",
        "pass the other's monitor ARN to one of them as anomaly_monitor_arn (setting cost_anomaly_monitor_arn)",
    ),
    "devops-guru-coverage": (
        "A DevOps Guru resource collection",
        "set coverage='adopt' (setting devops_guru_coverage) on one of them and add its stacks to the other's "
        "stack_names",
    ),
    "invocation-logging": (
        "A Bedrock model invocation logging configuration",
        "keep only one of them (setting invocation_logging=false for the other), as one configuration logs every "
        "application of the account and region",
    ),
    "api-gateway-account": (
        "The API Gateway account CloudWatch Logs role (AWS::ApiGateway::Account)",
        "set create_api_gateway_cloudwatch_role=false on one of them",
    ),
    "transaction-search": (
        "CloudWatch Transaction Search (AWS::XRay::TransactionSearchConfig)",
        "set mode='adopt' (setting transaction_search_existing) on one of them",
    ),
    "lambda-insights-log-group": (
        "The Lambda Insights log group /aws/lambda-insights",
        "set log_group_mode='adopt' (setting lambda_insights_log_group) on one of them",
    ),
}

#: Id of the registry under the app's root.
REGISTRY_ID = "LlmObservabilitySingletons"
_UNRESOLVED = "the unresolved environment (every stack without an explicit account and region counts as one)"


class _Registry(Construct):
    """The claims of one app, by (kind, environment): the path of the construct that claimed first."""

    def __init__(self, scope: Construct) -> None:
        super().__init__(scope, REGISTRY_ID)
        self.claims: dict[tuple[str, tuple[str, ...]], str] = {}


def _registry(scope: Construct) -> _Registry:
    root = scope.node.root
    found = root.node.try_find_child(REGISTRY_ID)
    if found is None:
        return _Registry(cast(Construct, root))  # the root of a CDK app is its App
    if not isinstance(found, _Registry):
        raise ConfigError(
            f"The construct id '{REGISTRY_ID}' directly under the app is taken by a {type(found).__name__}: allowed "
            "is only this library's singleton registry there, so give your construct another id."
        )
    return found


def _environment(stack: Stack, *, account_wide: bool) -> tuple[tuple[str, ...], str]:
    """The key of ``stack``'s environment and its description for messages."""
    account, region = stack.account, stack.region
    parts = (account,) if account_wide else (account, region)
    if any(Token.is_unresolved(p) for p in parts):
        return ("<unresolved>",), _UNRESOLVED
    return parts, f"account {account}" if account_wide else f"account {account}, region {region}"


def claim(scope: Construct, kind: SingletonKind, *, account_wide: bool = False) -> None:
    """Record that ``scope`` creates the singleton ``kind`` in its stack's environment.

    :param scope: the construct that creates it; its path is named if another construct claims the same.
    :param kind: what is created.
    :param account_wide: the singleton is one per account (all regions), not one per account and region.
        Default: False.
    :raises ConfigError: another construct of the same app already claimed ``kind`` in this environment.
    """
    choice("kind", kind, SingletonKind, owner="claim")
    key, environment = _environment(Stack.of(scope), account_wide=account_wide)
    claims = _registry(scope).claims
    first = claims.setdefault((kind, key), scope.node.path)
    if first != scope.node.path:
        what, remedy = _SINGLETONS[kind]
        raise ConfigError(
            f"{what} is created twice in {environment}, by '{first}' and by '{scope.node.path}': {remedy}."
        )
