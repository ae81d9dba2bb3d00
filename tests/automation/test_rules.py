"""The EventBridge side: each rule's pattern matches its alarms' state changes only, and its input transformer sends
exactly the document's parameters, with the alarm name taken from the event (checked with tests/support/eventbridge.py).
"""

from __future__ import annotations

import pytest

from llm_observability import automation as a
from tests.support.eventbridge import matches, transform_input
from tests.support.self_healing import alarm_arn, alarm_event, failover_inputs, rollback_inputs, throttle_inputs


def test_alarm_patterns_match_their_alarms_and_states_only() -> None:
    arns = [alarm_arn("rag-BedrockServerErrors"), alarm_arn("rag-BedrockThrottles")]
    on_alarm, on_ok = a.alarm_state_pattern(arns, a.ALARM), a.alarm_state_pattern(arns, a.OK)
    fired = alarm_event("rag-BedrockThrottles", "ALARM", "OK")
    assert matches(on_alarm, fired) and not matches(on_ok, fired)
    assert matches(on_ok, alarm_event("rag-BedrockServerErrors", "OK", "ALARM"))
    assert not matches(on_alarm, alarm_event("someone-elses-alarm", "ALARM", "OK"))
    assert not matches(on_alarm, alarm_event("rag-BedrockThrottles", "INSUFFICIENT_DATA", "OK"))
    assert not matches(on_alarm, {**fired, "source": "aws.events"})
    with pytest.raises(ValueError, match="state is 'INSUFFICIENT_DATA'"):
        a.alarm_state_pattern(arns, "INSUFFICIENT_DATA")


def test_inputs_are_lists_of_strings_with_the_alarm_name_from_the_event() -> None:
    event = alarm_event("rag-Api5xx", "ALARM", "OK")
    sent = transform_input(throttle_inputs(a.APPLY), event)
    assert sent["AlarmName"] == ["rag-Api5xx"] and sent["Mode"] == ["apply"]
    assert all(isinstance(v, list) and len(v) == 1 and isinstance(v[0], str) for v in sent.values())
    assert set(sent) == set(a.api_throttle_document()["parameters"])  # every parameter, nothing else
    assert set(transform_input(failover_inputs(a.RESTORE), event)) == set(a.model_failover_document()["parameters"])
    assert set(transform_input(rollback_inputs(a.RECORD_OK), event)) == set(
        a.prompt_rollback_document()["parameters"]
    )
    assert a.ALARM_NAME == a.EventPath("$.detail.alarmName")
    with pytest.raises(ValueError, match="mode is 'record-ok': allowed are apply, restore"):
        failover_inputs(a.RECORD_OK)
    assert a.format_limit(2) == "2" and a.format_limit(0.5) == "0.5" and a.format_limit(12.25) == "12.25"
