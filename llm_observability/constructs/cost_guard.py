"""Level 2 cost control for Amazon Bedrock: an AWS Budget with forecasts, and Cost Anomaly Detection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from aws_cdk import Aws, Names, Token
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_ce as ce
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.config.bounds import (
    ANOMALY_MONITOR_ARN,
    ANOMALY_THRESHOLD_USD,
    BEDROCK_SERVICE,
    BUDGET_SERVICES,
    BUDGET_USD,
    WARNING_PERCENT,
)
from llm_observability.constructs.alert_topic import allow_publish
from llm_observability.singletons import claim
from llm_observability.validation import email as check_email

BUDGETS = "budgets.amazonaws.com"
COST_ALERTS = "costalerts.amazonaws.com"


class CostGuard(Construct):
    """Budget and anomaly alerts for Amazon Bedrock spend (maturity level 2, "Proactive").

    AWS Budgets: a monthly COST budget that counts only Bedrock (a ``FilterExpression`` on the
    Cost Explorer ``SERVICE`` dimension, with the ``UnblendedCost`` metric) and notifies when the actual
    spend passes ``warning_percent`` and 100 % of the limit, and when the forecast for the month passes
    100 %. The FORECASTED notification is the maturity model's "forecasting" (Amazon Forecast is closed
    to new customers); Budgets needs about five weeks of history before it forecasts.

    Cost Anomaly Detection: an AWS-managed (``DIMENSIONAL``, ``SERVICE``) monitor, which analyses every
    service of the account separately, and a subscription that sends each anomaly whose total impact
    reaches ``anomaly_threshold_usd`` to the topic as soon as it is found (``IMMEDIATE``, the only
    frequency that can notify SNS). An account can have only one such monitor, and many accounts
    already have the default one: pass its ARN as ``anomaly_monitor_arn`` to subscribe to it instead of
    creating one. Deleting the stack never deletes a monitor this construct did not create.

    The topic's policy (and, for an encrypted topic, its KMS key policy) is extended so that
    ``budgets.amazonaws.com`` and ``costalerts.amazonaws.com`` of this account may publish, as the AWS
    Cost Management user guide documents; both services check that permission when the budget and the
    subscription are created, so they depend on the topic.

    Budgets and Cost Explorer are global: the budget, monitor and subscription names are derived from
    this construct's path and the stack's region, so two instances (or two regional copies of a stack)
    never collide. ``AWS::Budgets::Budget`` is not offered by CloudFormation in every region; deploy
    this construct in a stack of a region that has it (us-east-1 always does).

    :param topic: SNS topic that receives every notification.
    :param topic_key: KMS key of ``topic``. Default: ``topic.master_key`` (none for an unencrypted topic).
        An imported key's policy must already allow both services.
    :param monthly_budget_usd: the monthly Bedrock budget in US dollars, above 0 and at most 1,000,000,000.
    :param warning_percent: early warning on actual spend, in percent of the budget (0.1 to below 100).
        Default: 80.
    :param email: address that AWS Budgets e-mails directly, beside the topic (no confirmation needed;
        Cost Anomaly Detection notifies the topic only). Default: none.
    :param services: Cost Explorer ``SERVICE`` values the budget counts. Models sold through AWS
        Marketplace (Anthropic, for example) are billed under their own names, such as
        ``"Claude 3.5 Sonnet (Amazon Bedrock Edition)"``; add those your application calls.
        Default: ``("Amazon Bedrock",)``.
    :param net_of_credits: count every charge type (usage, credits, refunds, tax). Default: False (only
        ``RECORD_TYPE`` ``Usage``, so promotional credits cannot hide a runaway spend).
    :param anomaly_monitor_arn: ARN of the account's existing AWS-services anomaly monitor to adopt (a
        literal ARN or a token). Default: none, or empty (create one).
    :param anomaly_threshold_usd: smallest total impact, in US dollars, of an anomaly that is notified
        (above 0, at most 10,000,000,000). Default: 10.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        topic_key: kms.IKey | None = None,
        monthly_budget_usd: float,
        warning_percent: float = 80,
        email: str | None = None,
        services: Sequence[str] = (BEDROCK_SERVICE,),
        net_of_credits: bool = False,
        anomaly_monitor_arn: str | None = None,
        anomaly_threshold_usd: float = 10,
    ) -> None:
        # Validate first, so a rejected construct leaves nothing behind in the tree.
        anomaly_monitor_arn = anomaly_monitor_arn or None  # "" (an empty config setting) creates a monitor
        owner = "CostGuard"
        BUDGET_USD.check("monthly_budget_usd", monthly_budget_usd, owner=owner)
        WARNING_PERCENT.check("warning_percent", warning_percent, owner=owner)
        ANOMALY_THRESHOLD_USD.check("anomaly_threshold_usd", anomaly_threshold_usd, owner=owner)
        check_email("email", email, owner=owner)
        BUDGET_SERVICES.check("services", services, owner=owner)
        if anomaly_monitor_arn is not None and not Token.is_unresolved(anomaly_monitor_arn):
            ANOMALY_MONITOR_ARN.check("anomaly_monitor_arn", anomaly_monitor_arn, owner=owner)

        super().__init__(scope, id)

        key = topic_key if topic_key is not None else topic.master_key
        allow_publish(topic, BUDGETS, key=key, source_arn=f"arn:{Aws.PARTITION}:budgets::{Aws.ACCOUNT_ID}:*")
        allow_publish(
            topic, COST_ALERTS, key=key, source_arn=f"arn:{Aws.PARTITION}:ce::{Aws.ACCOUNT_ID}:anomalysubscription/*"
        )

        # Budget, monitor and subscription names are account-wide (not regional): path + region.
        name = f"{Names.unique_resource_name(self, max_length=64)}-{Aws.REGION}"
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_budget_usd, unit="USD"),
                # CostFilters and CostTypes are deprecated (Budgets API, 2025-04-18): FilterExpression plus
                # an explicit metric (without one the budget has no cost metric to chart).
                filter_expression=_budget_filter(tuple(services), net_of_credits=net_of_credits),
                metrics=["UnblendedCost"],
            ),
            notifications_with_subscribers=[
                _notification("ACTUAL", warning_percent, topic, email),
                _notification("ACTUAL", 100, topic, email),
                _notification("FORECASTED", 100, topic, email),
            ],
        )
        self.budget.node.add_dependency(topic)  # the topic policy and key policy come first

        self.monitor: ce.CfnAnomalyMonitor | None = None
        if anomaly_monitor_arn is None:
            claim(self, "cost-anomaly-monitor", account_wide=True)  # Cost Explorer is global: one per account
            self.monitor = ce.CfnAnomalyMonitor(
                self,
                "AnomalyMonitor",
                monitor_name=f"{name}-services",
                monitor_type="DIMENSIONAL",
                monitor_dimension="SERVICE",
            )
            self.monitor_arn = self.monitor.attr_monitor_arn
        else:
            self.monitor_arn = anomaly_monitor_arn

        threshold = {
            "Dimensions": {
                "Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                "MatchOptions": ["GREATER_THAN_OR_EQUAL"],
                "Values": [_decimal(anomaly_threshold_usd)],
            }
        }
        self.subscription = ce.CfnAnomalySubscription(
            self,
            "AnomalySubscription",
            subscription_name=name,
            frequency="IMMEDIATE",
            monitor_arn_list=[self.monitor_arn],
            subscribers=[ce.CfnAnomalySubscription.SubscriberProperty(type="SNS", address=topic.topic_arn)],
            threshold_expression=json.dumps(threshold, separators=(",", ":")),
        )
        self.subscription.node.add_dependency(topic)


def _decimal(value: float) -> str:
    """A plain decimal string (``10``, ``12.5``, ``1000000``), never an exponent form."""
    return format(Decimal(str(value)).normalize(), "f")


def _budget_filter(services: tuple[str, ...], *, net_of_credits: bool) -> budgets.CfnBudget.ExpressionProperty:
    """Exact matches (MatchOptions omitted: the API's default is EQUALS) on SERVICE, and on RECORD_TYPE."""
    service = budgets.CfnBudget.ExpressionProperty(
        dimensions=budgets.CfnBudget.ExpressionDimensionValuesProperty(key="SERVICE", values=list(services))
    )
    if net_of_credits:
        return service
    usage = budgets.CfnBudget.ExpressionProperty(
        dimensions=budgets.CfnBudget.ExpressionDimensionValuesProperty(key="RECORD_TYPE", values=["Usage"])
    )
    return budgets.CfnBudget.ExpressionProperty(and_=[service, usage])


def _notification(
    kind: str, percent: float, topic: sns.ITopic, email: str | None
) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
    subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]
    if email:
        subscribers.append(budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=email))
    return budgets.CfnBudget.NotificationWithSubscribersProperty(
        notification=budgets.CfnBudget.NotificationProperty(
            notification_type=kind, comparison_operator="GREATER_THAN", threshold=percent, threshold_type="PERCENTAGE"
        ),
        subscribers=subscribers,
    )
