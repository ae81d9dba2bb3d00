"""The OAM sink of the monitoring account and the links of the source accounts to it (one of each per region).

The sink policy admits accounts or an organization (``aws:PrincipalOrgID``) for the resource types it accepts
(``oam:ResourceTypes``); each link chooses what it shares (OAM API reference, CreateSink, PutSinkPolicy, CreateLink).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, get_args

from aws_cdk import Annotations, CfnOutput, Names, Stack, Token
from aws_cdk import aws_oam as oam
from constructs import Construct

from llm_observability.config.organization import ACCOUNT_RE, ORGANIZATION_ID_RE, SINK_ARN_RE
from llm_observability.constructs.monitoring.limits import MAX_SOURCE_ACCOUNTS_PER_SINK
from llm_observability.constructs.monitoring.sources import concrete
from llm_observability.errors import ConfigError

METRICS = "AWS::CloudWatch::Metric"
TRACES = "AWS::XRay::Trace"
LOG_GROUPS = "AWS::Logs::LogGroup"
#: What a sink accepts; each link shares metrics and traces, and log groups only with ``share_logs``.
SINK_RESOURCE_TYPES: tuple[str, ...] = (METRICS, TRACES, LOG_GROUPS)
LabelTemplate = Literal["$AccountName", "$AccountEmail", "$AccountEmailNoDomain"]

_NAMESPACE_RE = re.compile(r"^[^'\"]{1,255}$")
LOGS_NOT_SHARED_INFO = (
    "SourceLink shares metrics and traces with the monitoring account, not logs: they hold questions and answers "
    "(redacted or not); pass share_logs=True (setting 'share_logs') to share the log groups too."
)


class MonitoringSink(Construct):
    """The OAM sink of the monitoring account in this region: where the source accounts' links attach.

    Its policy lets the organization (``aws:PrincipalOrgID``) and/or exactly ``source_accounts`` create and update
    links sharing metrics, traces and log groups (each link decides what it actually shares; logs only when asked).

    :param source_accounts: accounts that may link (12 digits each). Default: none (then ``organization_id`` is
        needed).
    :param organization_id: the AWS Organizations id (``o-...``) whose accounts may link. Default: none (then
        ``source_accounts`` is needed).

    Attributes: ``sink`` (the ``AWS::Oam::Sink``), ``sink_arn`` (also the stack output ``SinkArn``: the targets'
    links need it, copy it into the ``monitoring`` setting's ``sink_arns``).
    """

    def __init__(
        self, scope: Construct, id: str, *, source_accounts: Sequence[str] = (), organization_id: str = ""
    ) -> None:
        if isinstance(source_accounts, str) or not all(
            isinstance(a, str) and ACCOUNT_RE.match(a) for a in source_accounts
        ):
            raise ConfigError(
                f"MonitoringSink 'source_accounts' is {source_accounts!r}: allowed is a sequence of AWS account ids "
                "of 12 digits."
            )
        accounts = tuple(dict.fromkeys(source_accounts))
        if len(accounts) > MAX_SOURCE_ACCOUNTS_PER_SINK:
            raise ConfigError(
                f"MonitoringSink 'source_accounts' lists {len(accounts)} accounts: allowed are at most "
                f"{MAX_SOURCE_ACCOUNTS_PER_SINK:,} per sink."
            )
        if organization_id and not (isinstance(organization_id, str) and ORGANIZATION_ID_RE.match(organization_id)):
            raise ConfigError(
                f"MonitoringSink 'organization_id' is {organization_id!r}: allowed is an AWS Organizations id (o-...)."
            )
        if not accounts and not organization_id:
            raise ConfigError(
                "MonitoringSink 'source_accounts' and 'organization_id' are both empty: allowed is at least one, the "
                "accounts or the organization whose links the sink accepts."
            )
        super().__init__(scope, id)
        self.source_accounts = accounts
        self.organization_id = organization_id
        self.sink = oam.CfnSink(
            self,
            "Resource",
            name=Names.unique_resource_name(self, max_length=255, separator="-"),
            policy=sink_policy(source_accounts=accounts, organization_id=organization_id),
        )
        self.sink_arn: str = self.sink.attr_arn
        CfnOutput(
            self,
            "SinkArn",
            value=self.sink_arn,
            description="OAM sink of the monitoring account in this region: the 'monitoring' setting's sink_arns "
            "entry.",
        )


def sink_policy(*, source_accounts: Sequence[str], organization_id: str) -> dict[str, Any]:
    """The sink policy: the organization (any of its accounts) and the listed accounts may link, for the sink's
    resource types."""
    shared = {
        "Effect": "Allow",
        "Action": ["oam:CreateLink", "oam:UpdateLink"],
        "Resource": "*",
    }
    types = {"ForAllValues:StringEquals": {"oam:ResourceTypes": list(SINK_RESOURCE_TYPES)}}
    statements: list[dict[str, Any]] = []
    if organization_id:
        statements.append({
            "Sid": "OrganizationLinks", "Principal": "*", **shared,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}, **types},
        })  # fmt: skip
    if source_accounts:
        statements.append(
            {"Sid": "AccountLinks", "Principal": {"AWS": list(source_accounts)}, **shared, "Condition": types}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _metric_filter(namespaces: Sequence[str]) -> oam.CfnLink.LinkConfigurationProperty | None:
    """The link's metric filter sharing only ``namespaces`` (OAM filter syntax: ``Namespace IN ('a', 'b')``)."""
    if not namespaces:
        return None
    listed = ", ".join(f"'{n}'" for n in dict.fromkeys(namespaces))
    return oam.CfnLink.LinkConfigurationProperty(
        metric_configuration=oam.CfnLink.LinkFilterProperty(filter=f"Namespace IN ({listed})")
    )


class SourceLink(Construct):
    """The OAM link of a source account in this region to the monitoring account's sink there.

    Shares metrics and traces; log groups only with ``share_logs`` (they hold questions and answers, even redacted),
    and says so at synth (info) when it does not.

    :param sink_arn: the monitoring account's sink ARN in this region (its ``SinkArn`` output).
    :param share_logs: share the account's log groups too. Default: False.
    :param label_template: how the monitoring account labels this account. Default: ``$AccountName``.
    :param metric_namespaces: share only the metrics of these namespaces (the estate's dashboards and alarms read
        ``AWS/Bedrock`` and the workloads' namespace). Default: every namespace.

    Attributes: ``link`` (the ``AWS::Oam::Link``), ``resource_types``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sink_arn: str,
        share_logs: bool = False,
        label_template: LabelTemplate = "$AccountName",
        metric_namespaces: Sequence[str] = (),
    ) -> None:
        match = None
        if not isinstance(sink_arn, str) or not (
            Token.is_unresolved(sink_arn) or (match := SINK_ARN_RE.match(sink_arn))
        ):
            raise ConfigError(
                f"SourceLink 'sink_arn' is {sink_arn!r}: allowed is an OAM sink ARN (arn:aws:oam:<region>:<account>:"
                "sink/<id>), the monitoring account's SinkArn output."
            )
        if not isinstance(share_logs, bool):
            raise ConfigError(f"SourceLink 'share_logs' is {share_logs!r}: allowed is True or False.")
        if label_template not in get_args(LabelTemplate):
            raise ConfigError(
                f"SourceLink 'label_template' is {label_template!r}: allowed are {', '.join(get_args(LabelTemplate))}."
            )
        if isinstance(metric_namespaces, str) or not all(
            isinstance(n, str) and _NAMESPACE_RE.match(n) for n in metric_namespaces
        ):
            raise ConfigError(
                f"SourceLink 'metric_namespaces' is {metric_namespaces!r}: allowed is a sequence of CloudWatch "
                "namespaces (1-255 characters, no quotes)."
            )
        super().__init__(scope, id)
        region = concrete(Stack.of(self).region)
        if match and region and match.group(1) != region:
            raise ConfigError(
                f"SourceLink 'sink_arn' is a sink in {match.group(1)}: allowed is the sink of this stack's region "
                f"({region}), since OAM links a region to the same region."
            )
        self.resource_types: tuple[str, ...] = (METRICS, TRACES, LOG_GROUPS) if share_logs else (METRICS, TRACES)
        self.link = oam.CfnLink(
            self, "Resource", resource_types=list(self.resource_types), sink_identifier=sink_arn,
            label_template=label_template, link_configuration=_metric_filter(metric_namespaces),
        )  # fmt: skip
        self.link_arn: str = self.link.attr_arn
        if not share_logs:
            Annotations.of(self).add_info(LOGS_NOT_SHARED_INFO)
