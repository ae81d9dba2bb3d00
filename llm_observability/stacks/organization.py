"""The organization app: one CDK stage per target (its own account, region and level) and the monitoring stages.

``-c targets=[...]`` (and ``-c monitoring={...}``) turn the bundled app into this one (:func:`build_organization`,
called by :func:`~llm_observability.stacks.app.build_app`):

- per target, a :class:`TargetStage` (id ``t-<account>-<region>``) holding the same level stacks as the
  single-environment app, with the same names, and, where the monitoring account's sink of that region is known
  (``monitoring.sink_arns``), an :class:`OamLinkStack` (``<workload>-oam-link``) linking it to that sink;
- per monitoring region, a :class:`MonitoringStage` (id ``m-<account>-<region>``) holding a :class:`MonitoringStack`:
  the OAM sink, the estate dashboards and cross-account alarms over every target of that region, and their topic.

An OAM link names its sink's ARN, which the monitoring account generates at deploy time and which no CloudFormation
reference can carry across accounts: deploy the monitoring stages, copy their ``SinkArn`` outputs into
``monitoring.sink_arns``, then deploy the targets (a target deployed before says so in a synth warning).

``organization_services``: ``per_account`` builds each target as the single-environment app does (it creates its
account singletons); ``delegated_admin`` makes each target adopt them (:data:`DELEGATED_ADMIN_ADOPTS`), and the
monitoring account, the delegated administrator of AWS Config and Security Hub, aggregates both in its first region.

The App's aspects (tags, the hygiene aspect) stop at stage boundaries, so each stage gets its own; its cdk-nag
plugin does not: a validation plugin on the App checks every stack of every nested stage (aws-cdk-lib
``core/lib/private/synthesis-validation.js``: each stage's ``stacksRecursively``), which a test keeps true.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, Environment, Stack, Stage
from aws_cdk import aws_config as config_
from aws_cdk import aws_iam as iam
from aws_cdk import aws_securityhub as securityhub
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.config.organization import Monitoring, Target
from llm_observability.constructs.alert_topic import AlertTopic
from llm_observability.constructs.monitoring import (
    EstateAlarms,
    EstateDashboards,
    EstateSource,
    MonitoringSink,
    SourceLink,
)
from llm_observability.errors import ConfigError
from llm_observability.left_out import leave_out
from llm_observability.nag import acknowledge
from llm_observability.stacks.app import build_levels, finish
from llm_observability.thresholds import AlarmThresholds

#: What each target of a ``delegated_admin`` organization sets: the account singletons exist, it adopts them.
DELEGATED_ADMIN_ADOPTS: Mapping[str, Any] = {
    "security_hub": "adopt",
    "security_standards": (),  # the administrator's configuration enables the standards in its member accounts
    "config_recorder": "adopt",
    "devops_guru_coverage": "adopt",
    "transaction_search_existing": "adopt",
    "invocation_logging_existing": "keep",  # an existing Bedrock logging configuration is kept, never replaced
}
#: The estate's cost alarm fires at the pace that would spend a month's budgets in this many days.
COST_PACE_DAYS = 7
#: The managed policy AWS Config documents for an organization aggregator's role.
ORGANIZATION_AGGREGATOR_POLICY = "service-role/AWSConfigRoleForOrganizations"


def estate_cost_threshold(config: ObservabilityConfig, sources: int) -> float:
    """The estate cost alarm's threshold: the hourly pace at which ``sources`` workloads would spend their monthly
    budgets (``monthly_budget_usd`` each) in :data:`COST_PACE_DAYS` days."""
    return round(sources * config.monthly_budget_usd / (COST_PACE_DAYS * 24), 4)


def target_config(config: ObservabilityConfig, target: Target, *, account_wide: bool = True) -> ObservabilityConfig:
    """The settings one target is built with: the user's, at the target's level, adopting the account singletons
    when ``organization_services`` is ``delegated_admin``; ``cost_anomaly_monitor_arn`` only in the account it names
    (the other accounts create their own monitor).

    :param account_wide: this target creates its account's account-wide singletons (the multi-region CloudTrail
        trail); False for the account's other targets, which the first one's trail covers. Default: True.
    """
    changes: dict[str, Any] = {"level": target.level}
    if config.organization_services == "delegated_admin":
        changes.update(DELEGATED_ADMIN_ADOPTS)
    if not account_wide:
        changes["cloudtrail"] = False
    if config.cost_anomaly_monitor_arn and _arn_account(config.cost_anomaly_monitor_arn) != target.account:
        changes["cost_anomaly_monitor_arn"] = ""  # another account's monitor: this account creates its own
    return dataclasses.replace(config, **changes)


def _arn_account(arn: str) -> str:
    return arn.split(":")[4]


def account_wide_owners(config: ObservabilityConfig) -> dict[str, Target]:
    """Per account, the target that creates the account-wide singletons: its first at Level 2 or more (where the
    trail and the cost anomaly monitor are).

    :raises ConfigError: an account has two such targets and ``cost_anomaly_monitor_arn`` is not its monitor: the
        Cost Anomaly Detection services monitor is one per account, and a second region cannot reference the first's.
    """
    owners: dict[str, Target] = {}
    for target in config.target_list:
        if target.level < 2:
            continue
        first = owners.setdefault(target.account, target)
        monitor = config.cost_anomaly_monitor_arn
        if first != target and not (monitor and _arn_account(monitor) == target.account):
            raise ConfigError(
                f"Setting 'targets' puts account {target.account} at Level 2 or 3 in {first.region} and "
                f"{target.region}, and each would create its Cost Anomaly Detection services monitor (one per "
                f"account): allowed is one such target per account, or 'cost_anomaly_monitor_arn' set to that "
                f"account's monitor (arn:aws:ce::{target.account}:anomalymonitor/...), which both then adopt."
            )
    return owners


def monitoring_stack_name(config: ObservabilityConfig) -> str:
    """Name of the monitoring account's stack in each monitoring stage, e.g. ``rag-demo-monitoring``."""
    return f"{config.workload_name}-monitoring"


def link_stack_name(config: ObservabilityConfig) -> str:
    """Name of a target's OAM link stack, e.g. ``rag-demo-oam-link``."""
    return f"{config.workload_name}-oam-link"


def monitoring_stage_id(monitoring: Monitoring, region: str) -> str:
    """The CDK stage id of the monitoring account in ``region``, e.g. ``m-999999999999-us-east-1``."""
    return f"m-{monitoring.account}-{region}"


class OamLinkStack(Stack):
    """A target's link to the monitoring account's sink of its region (:class:`SourceLink`): metrics and traces,
    and log groups with ``share_logs``.

    :param sink_arn: the sink's ARN (``monitoring.sink_arns`` of the target's region).
    :param share_logs: also share the log groups. Default: False.
    :param stack_props: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self, scope: Construct, id: str, *, sink_arn: str, share_logs: bool = False, **stack_props: Any
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.link = SourceLink(self, "Link", sink_arn=sink_arn, share_logs=share_logs)


class TargetStage(Stage):
    """One target: its account and region, the stacks of levels 1..``target.level`` and, with a known sink, its
    :class:`OamLinkStack`.

    :param config: the settings of the whole app (:func:`target_config` derives the target's own).
    :param target: where and at which level.
    :param monitoring: the monitoring account. Default: none (no link).
    :param account_wide: this target creates its account's account-wide singletons (see :func:`target_config`).
        Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: ObservabilityConfig,
        target: Target,
        monitoring: Monitoring | None = None,
        account_wide: bool = True,
    ) -> None:
        env = Environment(account=target.account, region=target.region)
        super().__init__(scope, id, env=env)
        self.target = target
        self.config = own = target_config(config, target, account_wide=account_wide)
        self.level_stacks = build_levels(self, own, env=env)
        foundation = self.level_stacks[0]
        self.link_stack: OamLinkStack | None = None
        if monitoring is not None:
            self.link_stack = self._link(foundation, monitoring, env)
            if own.organization_services == "delegated_admin" and not monitoring.organization_id:
                # Account-based Config aggregation needs each source account and region to authorize the aggregator.
                config_.CfnAggregationAuthorization(
                    foundation,
                    "ConfigAggregationAuthorization",
                    authorized_account_id=monitoring.account,
                    authorized_aws_region=monitoring.region,
                )
        finish(self, own)

    def _link(self, foundation: Stack, monitoring: Monitoring, env: Environment) -> OamLinkStack | None:
        target, own = self.target, self.config
        if target.account == monitoring.account:
            Annotations.of(foundation).add_info(
                f"Account {target.account} is the monitoring account itself: it sees its own telemetry, no OAM link."
            )
            return None
        deploy = f"cdk deploy '{monitoring_stage_id(monitoring, target.region)}/*'"
        if target.region not in monitoring.regions:
            leave_out(
                foundation, f"the OAM link to the monitoring account in {target.region}", "monitoring.regions",
                f"add {target.region} to monitoring.regions, deploy the monitoring stage ({deploy}), copy its "
                f"SinkArn output into monitoring.sink_arns, then deploy this target",
                source="setting",
            )  # fmt: skip
            return None
        sink_arn = monitoring.sink_arns.get(target.region)
        if not sink_arn:
            leave_out(
                foundation, f"the OAM link to the monitoring account's sink in {target.region}", "monitoring.sink_arns",
                f"deploy the monitoring stage first ({deploy}), copy its SinkArn output into monitoring.sink_arns "
                f'as {{"{target.region}": "arn:aws:oam:..."}}, then deploy the targets',
                source="setting",
            )  # fmt: skip
            return None
        return OamLinkStack(
            self,
            link_stack_name(own),
            stack_name=link_stack_name(own),
            sink_arn=sink_arn,
            share_logs=own.share_logs,
            env=env,
            description="LLM observability: this account's OAM link to the monitoring account's sink.",
        )


@dataclasses.dataclass(frozen=True)
class Aggregation:
    """What the monitoring account aggregates as the organization's delegated administrator (one region does it).

    :param accounts: the source accounts (ignored with ``organization_id``).
    :param regions: every region the targets deploy to.
    :param organization_id: aggregate the whole organization. Default: exactly ``accounts``.
    """

    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    organization_id: str = ""


class MonitoringStack(Stack):
    """The monitoring account in one region: the OAM sink, the estate dashboards and cross-account alarms over the
    workloads of that region's targets, the estate composite's topic and, with ``aggregation``, the AWS Config
    aggregator and the Security Hub finding aggregator.

    :param sources: the workloads of this region (at least one).
    :param organization_id: the sink admits the whole organization. Default: exactly the sources' accounts.
    :param alarm_email: address subscribed to the estate composite's topic. Default: no subscription.
    :param aggregation: aggregate Config and Security Hub here. Default: none (``per_account``, or not the first
        monitoring region).
    :param thresholds: the cross-account alarms' thresholds. Default: ``AlarmThresholds()``.
    :param prices: US dollars per 1,000 tokens by model id, over the built-in table. Default: the built-in table.
    :param cost_threshold_usd_per_hour: the estate's estimated-cost alarm. Default: none (left out, with a warning).
    :param stack_props: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sources: Sequence[EstateSource],
        organization_id: str = "",
        alarm_email: str = "",
        aggregation: Aggregation | None = None,
        thresholds: AlarmThresholds | None = None,
        prices: Mapping[str, Mapping[str, float]] | None = None,
        cost_threshold_usd_per_hour: float | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        accounts = tuple(dict.fromkeys(s.account for s in sources))
        self.sink = MonitoringSink(
            self, "Sink", source_accounts=() if organization_id else accounts, organization_id=organization_id
        )
        self.alert_topic = AlertTopic(self, "Alerts", email=alarm_email or None, display_name="LLM estate alerts")
        self.dashboards = EstateDashboards(self, "Dashboards", sources=sources, prices=prices)
        self.alarms = EstateAlarms(
            self,
            "Alarms",
            sources=sources,
            topic=self.alert_topic.topic,
            thresholds=thresholds,
            prices=prices,
            cost_threshold_usd_per_hour=cost_threshold_usd_per_hour,
        )
        self.config_aggregator: config_.CfnConfigurationAggregator | None = None
        self.finding_aggregator: securityhub.CfnFindingAggregator | None = None
        if aggregation is not None:
            self._aggregate(aggregation)

    def _aggregate(self, aggregation: Aggregation) -> None:
        regions = sorted(aggregation.regions)
        if aggregation.organization_id:
            role = iam.Role(
                self,
                "ConfigAggregatorRole",
                assumed_by=iam.ServicePrincipal("config.amazonaws.com"),
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(ORGANIZATION_AGGREGATOR_POLICY)],
                description="Lets AWS Config read the organization's accounts for the configuration aggregator.",
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{ORGANIZATION_AGGREGATOR_POLICY}]",
                "AWS Config documents this managed policy for organization aggregators: it lists the organization's "
                "accounts (organizations:List*/Describe*), which no resource ARN can narrow.",
            )
            self.config_aggregator = config_.CfnConfigurationAggregator(
                self,
                "ConfigAggregator",
                organization_aggregation_source=config_.CfnConfigurationAggregator.OrganizationAggregationSourceProperty(
                    role_arn=role.role_arn, aws_regions=regions
                ),
            )
        else:
            self.config_aggregator = config_.CfnConfigurationAggregator(
                self,
                "ConfigAggregator",
                account_aggregation_sources=[
                    config_.CfnConfigurationAggregator.AccountAggregationSourceProperty(
                        account_ids=sorted(aggregation.accounts), aws_regions=regions
                    )
                ],
            )
        linked = [r for r in regions if r != self.region]
        if linked:  # findings of the other regions come here; within a region the delegated administrator sees all
            self.finding_aggregator = securityhub.CfnFindingAggregator(
                self, "FindingAggregator", region_linking_mode="SPECIFIED_REGIONS", regions=linked
            )
        else:
            Annotations.of(self).add_info(
                f"Every target is in {self.region}: no Security Hub finding aggregator (it links other regions)."
            )


class MonitoringStage(Stage):
    """The monitoring account in one region: a :class:`MonitoringStack` (``<workload>-monitoring``).

    :param config: the settings of the whole app.
    :param monitoring: the monitoring account.
    :param region: this stage's region (one of ``monitoring.regions``).
    :param targets: every target of the app (those of ``region`` are monitored here).
    :param target_configs: each target's settings (:func:`target_config`). Default: derived from ``config``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: ObservabilityConfig,
        monitoring: Monitoring,
        region: str,
        targets: Sequence[Target],
        target_configs: Mapping[Target, ObservabilityConfig] | None = None,
    ) -> None:
        here = [t for t in targets if t.region == region]
        if not here:
            raise ConfigError(
                f"Setting 'monitoring' lists the region {region}, where no target deploys: allowed are regions of "
                f"'targets' ({', '.join(dict.fromkeys(t.region for t in targets))})."
            )
        env = Environment(account=monitoring.account, region=region)
        super().__init__(scope, id, env=env)
        configs = target_configs or {t: target_config(config, t) for t in here}
        sources = [
            EstateSource(
                account=t.account,
                region=t.region,
                workload_name=configs[t].workload_name,
                model_ids=tuple(configs[t].models_in_use),
                metric_namespace=configs[t].metric_namespace,
                level=t.level,
            )
            for t in here
        ]
        aggregation = None
        if config.organization_services == "delegated_admin" and region == monitoring.region:
            aggregation = Aggregation(
                accounts=tuple(dict.fromkeys(t.account for t in targets)),
                regions=tuple(dict.fromkeys(t.region for t in targets)),
                organization_id=monitoring.organization_id,
            )
        self.stack = MonitoringStack(
            self,
            monitoring_stack_name(config),
            stack_name=monitoring_stack_name(config),
            sources=sources,
            organization_id=monitoring.organization_id,
            alarm_email=monitoring.alarm_email,
            aggregation=aggregation,
            thresholds=config.thresholds,
            prices=config.model_prices,
            cost_threshold_usd_per_hour=estate_cost_threshold(config, len(sources)),
            env=env,
            description="LLM observability monitoring account: OAM sink, estate dashboards and cross-account alarms.",
        )
        finish(self, config)


def build_organization(app: Construct, config: ObservabilityConfig) -> tuple[list[TargetStage], list[MonitoringStage]]:
    """Add a :class:`TargetStage` per target of ``config.targets`` and, with ``config.monitoring``, a
    :class:`MonitoringStage` per monitoring region to ``app``; return both lists."""
    targets, monitoring = config.target_list, config.monitoring_account
    unwatched = [r for r in (monitoring.regions if monitoring else ()) if r not in {t.region for t in targets}]
    if unwatched:
        raise ConfigError(
            f"Setting 'monitoring' lists the region {unwatched[0]}, where no target deploys: allowed are regions of "
            f"'targets' ({', '.join(dict.fromkeys(t.region for t in targets))})."
        )
    default_level = ObservabilityConfig.__dataclass_fields__["level"].default
    owners = account_wide_owners(config)
    stages = [
        TargetStage(
            app, t.stage_id, config=config, target=t, monitoring=monitoring,
            account_wide=owners.get(t.account, t) == t,
        )
        for t in targets
    ]  # fmt: skip
    if config.level != default_level:
        for stage in stages:
            Annotations.of(stage.level_stacks[0]).add_info(
                f"Setting 'level' ({config.level}) is not used with 'targets': each target's own level applies "
                f"(here {stage.target.level})."
            )
    monitors: list[MonitoringStage] = []
    if monitoring is not None:
        configs = {stage.target: stage.config for stage in stages}
        monitors = [
            MonitoringStage(
                app,
                monitoring_stage_id(monitoring, region),
                config=config,
                monitoring=monitoring,
                region=region,
                targets=targets,
                target_configs=configs,
            )
            for region in monitoring.regions
        ]
    return stages, monitors
