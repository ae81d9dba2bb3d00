"""active_model_id: the Workload's model parameter, cached for a minute, the default on any error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from llm_observability.runtime import models
from tests.conftest import OFFLINE_AWS_ENV

PRIMARY = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK = "amazon.nova-micro-v1:0"
PARAMETER = "support-bot-active-model"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, Clock]]:
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(models.ENV_MODEL_PARAMETER_NAME, PARAMETER)
    clock = Clock()
    monkeypatch.setattr(models.time, "monotonic", clock)
    client = boto3.client("ssm", region_name="us-east-1")
    models.reset()
    models.set_client(client)
    with Stubber(client) as stubber:
        yield stubber, clock
    models.reset()


def _value(stubber: Stubber, value: str) -> None:
    parameter: dict[str, Any] = {"Name": PARAMETER, "Type": "String", "Value": value, "Version": 2}
    stubber.add_response("get_parameter", {"Parameter": parameter}, {"Name": PARAMETER})


def test_the_parameter_wins_and_is_read_once_a_minute(ssm: tuple[Stubber, Clock]) -> None:
    stubber, clock = ssm
    _value(stubber, FALLBACK)
    assert models.active_model_id(PRIMARY) == FALLBACK
    clock.now += 59
    assert models.active_model_id(PRIMARY) == FALLBACK  # cached: no second call was stubbed
    clock.now += 2
    _value(stubber, PRIMARY)  # the runbook switched back
    assert models.active_model_id(PRIMARY) == PRIMARY
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("error", ["ParameterNotFound", "AccessDeniedException", "ThrottlingException"])
def test_any_error_falls_back_to_the_default_and_is_retried_after_the_ttl(
    ssm: tuple[Stubber, Clock], error: str, caplog: pytest.LogCaptureFixture
) -> None:
    stubber, clock = ssm
    stubber.add_client_error("get_parameter", error)
    assert models.active_model_id(PRIMARY) == PRIMARY
    assert models.active_model_id(PRIMARY) == PRIMARY  # the failure is cached too: no call per invocation
    assert [r.levelname for r in caplog.records] == ["WARNING"] and error in caplog.text
    clock.now += 61
    _value(stubber, FALLBACK)
    assert models.active_model_id(PRIMARY) == FALLBACK
    stubber.assert_no_pending_responses()


def test_an_empty_value_is_unusable(ssm: tuple[Stubber, Clock]) -> None:
    stubber, _ = ssm
    _value(stubber, "   ")
    assert models.active_model_id(PRIMARY) == PRIMARY


def test_without_a_parameter_no_call_is_made(ssm: tuple[Stubber, Clock], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(models.ENV_MODEL_PARAMETER_NAME)
    assert models.active_model_id(PRIMARY) == PRIMARY
    _value(ssm[0], FALLBACK)
    assert models.active_model_id(PRIMARY, parameter_name=PARAMETER, ttl_seconds=0) == FALLBACK


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="'default' is ''"):
        models.active_model_id("")
    with pytest.raises(ValueError, match="'ttl_seconds' is -1"):
        models.active_model_id(PRIMARY, ttl_seconds=-1)


def test_exported_by_the_package() -> None:
    import llm_observability.runtime as runtime

    assert runtime.active_model_id is models.active_model_id
