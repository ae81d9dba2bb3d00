"""The organization settings: where the bundled app deploys (``targets``) and the monitoring account (``monitoring``).

``-c targets='[{"account": "111111111111", "region": "us-east-1", "level": 2}, ...]'`` makes one CDK stage per
target (its own environment and level); ``-c monitoring='{"account": "999999999999", "region": "us-east-1"}'``
(``"regions": [...]`` for several; default: the targets' regions) adds the monitoring stage: an Observability
Access Manager sink per region, the cross-account dashboards and alarms. Both are parsed here into frozen
values, each bad value refused with one sentence naming the setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from llm_observability.errors import ConfigError
from llm_observability.validation import fail

ACCOUNT_RE = re.compile(r"^\d{12}$")
REGION_RE = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$")
ORGANIZATION_ID_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
#: An OAM sink ARN (``monitoring.sink_arns``): known only after the monitoring stage is deployed.
SINK_ARN_RE = re.compile(rf"^arn:aws[a-z-]*:oam:({REGION_RE.pattern[1:-1]}):(\d{{12}}):sink/[A-Za-z0-9-]+$")
#: Targets one app may hold (the scale benchmark measures 50; CloudFormation and the dashboards stay within limits).
MAX_TARGETS = 100

TARGETS_ALLOWED = (
    'a list of objects {"account": 12 digits, "region": a region such as us-east-1, "level": 1, 2 or 3}, each '
    f"account and region once, at most {MAX_TARGETS}"
)
MONITORING_ALLOWED = (
    'an object {"account": 12 digits, "region": a region, or "regions": a list of regions} with optional '
    '"organization_id" (o-...), "sink_arns" ({region: the OAM sink ARN of that region}) and "alarm_email"'
)


@dataclass(frozen=True)
class Target:
    """One environment the bundled app deploys to, at its own maturity level."""

    account: str
    region: str
    level: int

    @property
    def stage_id(self) -> str:
        """The CDK stage id of this target, e.g. ``t-111111111111-us-east-1``."""
        return f"t-{self.account}-{self.region}"


@dataclass(frozen=True)
class Monitoring:
    """The monitoring account: where the OAM sinks, the estate dashboards and the cross-account alarms live.

    ``regions``: one sink and one monitoring stack per region. ``organization_id``: the sinks admit the whole
    organization (else exactly the targets' accounts). ``sink_arns``: the sinks' ARNs once deployed, by region;
    the targets' links need them (an OAM link names its sink's ARN, which the monitoring account generates).
    """

    account: str
    regions: tuple[str, ...]
    organization_id: str = ""
    sink_arns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    alarm_email: str = ""

    @property
    def region(self) -> str:
        """The first region (the monitoring stage's home)."""
        return self.regions[0]


def parse_targets(name: str, value: Any) -> tuple[Target, ...]:
    """``value`` (a JSON list) as targets. Empty: the single-environment app."""
    if not isinstance(value, (list, tuple)) or len(value) > MAX_TARGETS:
        raise fail(name, value, TARGETS_ALLOWED)
    targets: list[Target] = []
    for item in value:
        if isinstance(item, Target):
            targets.append(item)
            continue
        if not isinstance(item, Mapping) or set(item) - {"account", "region", "level"}:
            raise fail(name, item, TARGETS_ALLOWED)
        account, region, level = item.get("account"), item.get("region"), item.get("level", 1)
        if isinstance(level, str) and level.isdigit():
            level = int(level)
        if not (isinstance(account, str) and ACCOUNT_RE.match(account)):
            raise fail(name, item, TARGETS_ALLOWED)
        if not (isinstance(region, str) and REGION_RE.match(region)):
            raise fail(name, item, TARGETS_ALLOWED)
        if isinstance(level, bool) or level not in (1, 2, 3):
            raise fail(name, item, TARGETS_ALLOWED)
        targets.append(Target(account=account, region=region, level=level))
    seen = [(t.account, t.region) for t in targets]
    if len(set(seen)) != len(seen):
        duplicate = next(pair for pair in seen if seen.count(pair) > 1)
        raise ConfigError(
            f"Setting '{name}' names account {duplicate[0]} in {duplicate[1]} twice: allowed is {TARGETS_ALLOWED}."
        )
    return tuple(targets)


def parse_monitoring(name: str, value: Any) -> Monitoring | None:
    """``value`` (a JSON object) as the monitoring account; empty object: none."""
    if isinstance(value, Monitoring) or value is None:
        return value
    if not isinstance(value, Mapping):
        raise fail(name, value, MONITORING_ALLOWED)
    if not value:
        return None
    known = {"account", "region", "regions", "organization_id", "sink_arns", "alarm_email"}
    if set(value) - known or ("region" in value and "regions" in value):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    account = value.get("account")
    if not (isinstance(account, str) and ACCOUNT_RE.match(account)):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    regions: Sequence[Any] = [value["region"]] if "region" in value else value.get("regions", [])
    if not isinstance(regions, (list, tuple)) or not all(isinstance(r, str) and REGION_RE.match(r) for r in regions):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    if len(set(regions)) != len(regions):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    organization_id = value.get("organization_id", "")
    if organization_id and not (isinstance(organization_id, str) and ORGANIZATION_ID_RE.match(organization_id)):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    sink_arns = value.get("sink_arns", {})
    if not isinstance(sink_arns, Mapping):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    for region, arn in sink_arns.items():
        match = SINK_ARN_RE.match(arn) if isinstance(arn, str) else None
        if not match or match.group(1) != region or match.group(2) != account:
            raise ConfigError(
                f"Setting '{name}' has the sink ARN {arn!r} for {region!r}: allowed is the ARN of an OAM sink of "
                f"account {account} in that region (arn:aws:oam:{region}:{account}:sink/...)."
            )
    alarm_email = value.get("alarm_email", "")
    if not isinstance(alarm_email, str) or (alarm_email and "@" not in alarm_email):
        raise fail(name, dict(value), MONITORING_ALLOWED)
    return Monitoring(
        account=account,
        regions=tuple(regions),
        organization_id=organization_id,
        sink_arns=MappingProxyType(dict(sink_arns)),
        alarm_email=alarm_email,
    )


def monitoring_regions(monitoring: Monitoring, targets: Sequence[Target]) -> tuple[str, ...]:
    """The regions the monitoring account watches: its own list, else every target's region (first seen first)."""
    if monitoring.regions:
        return monitoring.regions
    return tuple(dict.fromkeys(t.region for t in targets))
