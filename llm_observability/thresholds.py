"""Thresholds of the Level 1 alarms: plain data, shared by the config and the alarms construct."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from llm_observability.errors import ConfigError


@dataclass(frozen=True)
class AlarmThresholds:
    """Thresholds of :class:`LlmAlarms`; every period is the metrics' period (5 minutes by default).

    :param bedrock_latency_p90_ms: Bedrock InvocationLatency p90 per model. Default: 10000.
    :param bedrock_client_errors: InvocationClientErrors per period (bad requests, access). Default: 5.
    :param bedrock_server_errors: InvocationServerErrors per period. Default: 3.
    :param bedrock_throttles: InvocationThrottles per period. Default: 5.
    :param success_rate_floor_percent: alarm below this share of successful ``/ask`` requests. Default: 95.
    :param lambda_errors: function Errors per period (crashes, timeouts; handled errors are not counted). Default: 1.
    :param lambda_throttles: function Throttles per period. Default: 1.
    :param api_5xx: API Gateway 5XXError count per period. Default: 5.
    :param api_latency_p90_ms: API Gateway Latency p90. Default: 15000.
    :param evaluation_periods: periods looked at. Default: 3.
    :param datapoints_to_alarm: breaching periods among them that raise the alarm. Default: 2.
    """

    bedrock_latency_p90_ms: float = 10_000
    bedrock_client_errors: float = 5
    bedrock_server_errors: float = 3
    bedrock_throttles: float = 5
    success_rate_floor_percent: float = 95
    lambda_errors: float = 1
    lambda_throttles: float = 1
    api_5xx: float = 5
    api_latency_p90_ms: float = 15_000
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"Alarm threshold '{f.name}' is {value!r}: allowed is a number above 0.")
        if self.success_rate_floor_percent > 100:
            raise ConfigError(
                f"Alarm threshold 'success_rate_floor_percent' is {self.success_rate_floor_percent}: allowed is 0-100."
            )
        if not isinstance(self.evaluation_periods, int) or not isinstance(self.datapoints_to_alarm, int) or (
            self.datapoints_to_alarm > self.evaluation_periods
        ):
            raise ConfigError(
                f"Alarm threshold 'datapoints_to_alarm' is {self.datapoints_to_alarm}: allowed is a whole number "
                f"no larger than 'evaluation_periods' ({self.evaluation_periods})."
            )

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any], *, setting: str = "alarm_thresholds") -> AlarmThresholds:
        """Defaults with ``overrides`` applied; an unknown name fails with one sentence."""
        known = [f.name for f in fields(cls)]
        for name in overrides:
            if name not in known:
                raise ConfigError(f"Setting '{setting}' has the unknown threshold {name!r}: allowed are {', '.join(known)}.")
        return cls(**overrides)
