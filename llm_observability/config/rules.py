"""The rules of the settings that need more than a bound or a choice: formats, lists and objects.

Each is a :class:`~llm_observability.config.fields.Custom` rule or a pattern the rules use, kept out of
:mod:`~llm_observability.config.settings` so that module stays the list of settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any

from llm_observability.config import bounds as b
from llm_observability.config.fields import Custom
from llm_observability.config.models import MODEL_PRICE_ALLOWED, merged_prices
from llm_observability.config.organization import parse_monitoring, parse_targets
from llm_observability.errors import ConfigError
from llm_observability.runtime import tenancy
from llm_observability.thresholds import AlarmThresholds
from llm_observability.validation import Range, fail


def check_thresholds(name: str, value: Mapping[str, Any]) -> Mapping[str, float]:
    AlarmThresholds.from_overrides(value, setting=name)
    return MappingProxyType(dict(value))


def check_tags(name: str, value: Mapping[str, Any]) -> Mapping[str, str]:
    for key, tag in value.items():
        if not (isinstance(tag, str) and b.TAG_KEY_RE.match(key) and b.TAG_VALUE_RE.match(tag)):
            raise ConfigError(f"Setting '{name}' has the pair {key!r}: {tag!r}: allowed are {b.TAGS_ALLOWED}.")
    return MappingProxyType(dict(value))


THRESHOLDS_RULE = Custom(
    f"an object of Level 1 alarm thresholds ({', '.join(f.name for f in fields(AlarmThresholds))}), each above 0",
    check_thresholds,
)
PRICES_RULE = Custom(f"an object of {MODEL_PRICE_ALLOWED}, merged over the built-in table", merged_prices)
TAGS_RULE = Custom(f"an object of tags: {b.TAGS_ALLOWED}", check_tags)
#: A Lambda layer version ARN (the `adot_layer_arn` override of the ADOT layer table).
LAYER_VERSION_ARN_RE = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$")
#: The user's VPC (vpc_id, vpc_subnet_ids, vpc_availability_zones: all three or none), imported by id, never looked up.
VPC_ID_RE = re.compile(r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SUBNET_ID_RE = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
AVAILABILITY_ZONE_RE = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$")
VPC_ID_ALLOWED = "a VPC id such as vpc-0123456789abcdef0"
SUBNET_IDS_ALLOWED = "a list of distinct subnet ids such as subnet-0123456789abcdef0"
AVAILABILITY_ZONES_ALLOWED = "a list of Availability Zone names such as us-east-1a, one per subnet, in the same order"


#: Interface endpoints `vpc_endpoints` may name: what the library's functions call (Bedrock answers and retrieval,
#: SSM, logs, metrics, traces, STS, Firehose, Lambda, the API the canary calls, Prometheus remote write, S3).
ENDPOINT_SERVICES: tuple[str, ...] = (
    "bedrock-runtime", "bedrock-agent-runtime", "ssm", "logs", "monitoring", "sts", "xray", "firehose", "lambda",
    "execute-api", "aps-workspaces", "s3",
)  # fmt: skip
VPC_ENDPOINTS_ALLOWED = f"empty, [\"all\"] or a list of distinct services among {', '.join(ENDPOINT_SERVICES)}"


def check_endpoints(name: str, value: Any) -> tuple[str, ...]:
    if tuple(value) == ("all",):
        return ("all",)
    if not all(isinstance(v, str) and v in ENDPOINT_SERVICES for v in value) or len(set(value)) != len(value):
        raise fail(name, value, VPC_ENDPOINTS_ALLOWED)
    return tuple(value)


def id_list(regex: re.Pattern[str], allowed: str) -> Custom:
    def run(name: str, value: Any) -> tuple[str, ...]:
        if not all(isinstance(v, str) and regex.match(v) for v in value) or len(set(value)) != len(value):
            raise fail(name, value, f"empty or {allowed}")
        return tuple(value)

    return Custom(f"empty or {allowed}", run)
def check_targets(name: str, value: Any) -> tuple[Mapping[str, Any], ...]:
    parse_targets(name, value)
    return tuple(MappingProxyType(dict(item)) for item in value)


def check_monitoring(name: str, value: Any) -> Mapping[str, Any]:
    parse_monitoring(name, value)
    return MappingProxyType(dict(value))


#: An HTTP header name (``tenant_header``), lowercase as API Gateway and the handler compare it.
TENANT_HEADER_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: Tenant ids are what the runtime accepts (``runtime.tenancy``: Bedrock ``requestMetadata`` and tag values).
TENANT_IDS_ALLOWED = f"a list of distinct tenant ids ({tenancy.TENANT_ID_ALLOWED}), at most 20"


def check_tenant_ids(name: str, value: Any) -> tuple[str, ...]:
    if len(value) > 20 or len(set(value)) != len(value):
        raise fail(name, value, f"empty or {TENANT_IDS_ALLOWED}")
    if not all(isinstance(v, str) and tenancy.TENANT_ID_RE.fullmatch(v) for v in value):
        raise fail(name, value, f"empty or {TENANT_IDS_ALLOWED}")
    return tuple(value)


#: A CloudWatch alarm ARN (``health_suppressor_alarm_arn``: the user's own alarm, e.g. deployment in progress).
ALARM_ARN_RE = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:\d{12}:alarm:.{1,255}$")
#: Share of spans CloudWatch Transaction Search indexes as X-Ray trace summaries (the CloudFormation bound).
TRANSACTION_SEARCH_INDEXING_PERCENT = Range(0, 100)


#: The ``outcome_targets`` setting: minutes per severity and measure (the targets of ``IncidentOutcomes``).
OUTCOME_SEVERITIES = ("high", "low")
OUTCOME_MEASURES = ("detect_minutes", "resolve_minutes")
OUTCOME_MINUTES = Range(1, 1440)
OUTCOME_TARGETS_ALLOWED = (
    f"an object keyed by {' or '.join(OUTCOME_SEVERITIES)}, each an object of {' and/or '.join(OUTCOME_MEASURES)}, "
    "minutes from 1 to 1,440"
)


def check_outcome_targets(name: str, value: Any) -> Mapping[str, Mapping[str, float]]:
    if not isinstance(value, Mapping) or not set(value) <= set(OUTCOME_SEVERITIES):
        raise fail(name, value, OUTCOME_TARGETS_ALLOWED)
    for targets in value.values():
        if not isinstance(targets, Mapping) or not targets or not set(targets) <= set(OUTCOME_MEASURES):
            raise fail(name, value, OUTCOME_TARGETS_ALLOWED)
        for minutes in targets.values():
            if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 1 <= minutes <= 1440:
                raise fail(name, value, OUTCOME_TARGETS_ALLOWED)
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in value.items()})


OUTCOME_TARGETS_RULE = Custom(f"empty or {OUTCOME_TARGETS_ALLOWED}", check_outcome_targets)
