"""CloudWatch Transaction Search for an account and region: spans sent to X-Ray are kept as CloudWatch Logs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Names, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_xray as xray
from constructs import Construct

from llm_observability.config.choices import SingletonMode
from llm_observability.config.rules import TRANSACTION_SEARCH_INDEXING_PERCENT
from llm_observability.singletons import claim
from llm_observability.validation import choice

#: The log groups X-Ray writes to once Transaction Search is on (spans, and Application Signals' data).
SPANS_LOG_GROUP = "aws/spans"
APPLICATION_SIGNALS_LOG_GROUP = "/aws/application-signals/data"
XRAY = "xray.amazonaws.com"
#: Percentage of spans indexed as trace summaries that costs nothing (AWS's default).
FREE_INDEXING_PERCENT = 1


def spans_policy_document(stack: Stack) -> dict[str, Any]:
    """The resource policy AWS documents for Transaction Search: X-Ray of this account and region, and nothing
    else, may write to the span and Application Signals log groups (``aws:SourceArn`` / ``aws:SourceAccount``)."""
    prefix = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TransactionSearchXRayAccess",
                "Effect": "Allow",
                "Principal": {"Service": XRAY},
                "Action": "logs:PutLogEvents",
                "Resource": [f"{prefix}{SPANS_LOG_GROUP}:*", f"{prefix}{APPLICATION_SIGNALS_LOG_GROUP}:*"],
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:xray:{stack.region}:{stack.account}:*"},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            }
        ],
    }


class TransactionSearch(Construct):
    """Turns on CloudWatch Transaction Search for this account and region (an account+region singleton).

    With Transaction Search on, every span sent to X-Ray (the Lambda X-Ray endpoint that ADOT's exporter uses, the
    OTLP endpoint, API Gateway's segments) is stored as a structured log event in the ``aws/spans`` log group,
    searchable by any attribute (``service.name``, ``gen_ai.*``), and ``indexing_percentage`` of them are also
    indexed as X-Ray trace summaries. Spans are billed as CloudWatch Logs ingestion instead of X-Ray traces
    recorded; 1 % indexing is free.

    ``mode="create"`` adds the two resources AWS documents: an ``AWS::Logs::ResourcePolicy`` letting X-Ray of this
    account and region (``aws:SourceArn``, ``aws:SourceAccount``) write to ``aws/spans`` and
    ``/aws/application-signals/data``, then ``AWS::XRay::TransactionSearchConfig`` (``DependsOn`` the policy).
    CloudFormation refuses to create the configuration where Transaction Search is already on: use
    ``mode="adopt"`` there, which creates nothing (a synth note says so) and never touches the account's setting.
    Like the other singletons created in ``create`` mode (the Security Hub hub, the Config recorder), both
    resources belong to the stack: deleting it switches Transaction Search off again (spans go back to X-Ray's own
    store) and removes the policy; nothing adopted is ever switched off.

    :param mode: ``create`` Transaction Search, or ``adopt`` the account's. Default: ``create``.
    :param indexing_percentage: percentage of spans indexed as trace summaries, 0-100 (``create`` only).
        Default: 1 (the free tier).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mode: SingletonMode = "create",
        indexing_percentage: float = FREE_INDEXING_PERCENT,
    ) -> None:
        choice("mode", mode, SingletonMode, owner="TransactionSearch")
        TRANSACTION_SEARCH_INDEXING_PERCENT.check("indexing_percentage", indexing_percentage, owner="TransactionSearch")
        super().__init__(scope, id)
        self.mode = mode
        self.resource_policy: logs.CfnResourcePolicy | None = None
        self.config: xray.CfnTransactionSearchConfig | None = None
        if mode == "adopt":
            Annotations.of(self).add_info(
                f"TransactionSearch '{self.node.path}' adopts the account's CloudWatch Transaction Search: nothing is "
                "created, and the account's setting (and its indexing percentage) is left as it is; spans reach "
                "Transaction Search only where it is on."
            )
            return
        claim(self, "transaction-search")
        stack = Stack.of(self)
        self.resource_policy = logs.CfnResourcePolicy(
            self,
            "SpansPolicy",
            # Resource policy names are per account and region: derived from the path, never a fixed name.
            policy_name=Names.unique_resource_name(self, max_length=200, separator="-"),
            policy_document=stack.to_json_string(spans_policy_document(stack)),
        )
        self.config = xray.CfnTransactionSearchConfig(self, "Resource", indexing_percentage=indexing_percentage)
        # X-Ray checks at create time that it may write to aws/spans.
        self.config.node.add_dependency(self.resource_policy)
