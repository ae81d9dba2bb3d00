"""The self-healing loop, end to end and offline.

A CloudWatch alarm state-change event is matched against the EventBridge patterns the construct deploys,
turned into the automation input by the same input mapping, and the runbook document is run by the
simulator against fakes (a dict parameter store, SNS, Prompt Management, API Gateway). Then the real RAG
handler runs with its ssm client stubbed from that same parameter store: it must serve what the runbook
wrote once its lookup cache has expired, and the primary again after recovery.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import managed
import pytest
from botocore.stub import ANY

from llm_observability import automation as a
from llm_observability.constructs.outcomes import LEVEL_TARGETS
from llm_observability.runtime import telemetry
from tests.support.aws_fakes import FakeApiGateway, FakeCloudWatch, FakePromptManagement, FakeSns, FakeSsm
from tests.support.loader import load_file
from tests.support.self_healing import (
    FALLBACK,
    MODEL_PARAMETER,
    PRIMARY,
    PROMPT_BASE_ARN,
    PROMPT_ID,
    PROMPT_PARAMETER,
    REST_API_ID,
    STAGE,
    TOPIC_ARN,
    alarm_arn,
    alarm_event,
    failover_inputs,
    prompt_arn,
    reason_data,
    rollback_inputs,
    run_rules,
    throttle_inputs,
)

if TYPE_CHECKING:
    from conftest import Api

SERVER_ERRORS = "rag-demo-l1-Alarms-BedrockServerErrors"
THROTTLES = "rag-demo-l1-Alarms-BedrockThrottles"
QUALITY = "rag-demo-l2-Quality-RougeLFloor"
COST = "rag-demo-l2-CostAnomaly"
MANAGED_TEMPLATE = "Context passages:\n{{passages}}\n\nAnswer this briefly, citing passages: {{question}}"


class Clock:
    """The handler's lookup-cache clock, moved by hand."""

    def __init__(self, api: Api) -> None:
        self.now = 1000.0
        api.monkeypatch.setattr(api.handler, "_ttl_clock", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ask(api: Api, question: str, *, model_id: str, reads: tuple[FakeSsm, str] | None = None) -> dict[str, Any]:
    """One POST /ask; ``reads``: the handler's GetParameter is due, answered from that fake store."""
    if reads is not None:
        store, name = reads
        api.ssm.add_response(
            "get_parameter", api.parameter_response(name, store.values[name], store.versions[name]), {"Name": name}
        )
    api.stub_retrieve()
    api.stub_converse(
        expected={"modelId": model_id, "system": ANY, "messages": ANY, "inferenceConfig": ANY, "requestMetadata": ANY}
    )
    response = api.ask({"question": question})
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def test_the_runbooks_accept_exactly_what_the_function_accepts() -> None:
    assert a.FUNCTION_MODEL_ID == managed.MODEL_ID.pattern
    assert a.FUNCTION_PROMPT_VERSION_ARN == managed.PROMPT_VERSION_ARN.pattern
    assert telemetry.PROMPT_VERSION_MANAGED_PREFIX == "managed-"  # the prompt_version the loop below expects


def test_model_failover_loop(api: Api) -> None:
    api.env(MODEL_PARAMETER_NAME=MODEL_PARAMETER)
    clock = Clock(api)
    store, sns, cloudwatch = FakeSsm({MODEL_PARAMETER: PRIMARY}), FakeSns(), FakeCloudWatch()
    clients = {"ssm": store, "sns": sns, "cloudwatch": cloudwatch}
    alarms = [alarm_arn(SERVER_ERRORS), alarm_arn(THROTTLES)]
    assert api.model_id == PRIMARY

    assert ask(api, "Q1: refunds?", model_id=PRIMARY, reads=(store, MODEL_PARAMETER))["model_id"] == PRIMARY

    # The primary model throttles: its alarm fires and EventBridge starts the failover (Mode=apply).
    (run,) = run_rules(a.MODEL_FAILOVER, alarms, alarm_event(THROTTLES, "ALARM", "OK"), failover_inputs, clients)
    assert run.status == "Success" and run.steps[-2:] == ["RecordFailover", a.HEALING_ENDED_STEP]
    assert store.values[MODEL_PARAMETER] == FALLBACK

    clock.advance(30)  # within the model cache TTL: still the cached primary, no lookup
    assert ask(api, "Q2: shipping?", model_id=PRIMARY)["model_id"] == PRIMARY
    clock.advance(30)  # the cache expired: the function reads the parameter and heals without a deploy
    assert ask(api, "Q3: returns?", model_id=FALLBACK, reads=(store, MODEL_PARAMETER))["model_id"] == FALLBACK
    assert api.output().log("Active model changed")["previous_model_id"] == PRIMARY

    # EventBridge delivers at least once: a duplicate ALARM is harmless (the same value again).
    (again,) = run_rules(a.MODEL_FAILOVER, alarms, alarm_event(THROTTLES, "ALARM", "OK"), failover_inputs, clients)
    assert again.status == "Success" and store.values[MODEL_PARAMETER] == FALLBACK

    # The alarm clears: Mode=restore puts the primary back.
    (restore,) = run_rules(a.MODEL_FAILOVER, alarms, alarm_event(THROTTLES, "OK", "ALARM"), failover_inputs, clients)
    assert restore.steps == [
        a.HEALING_STARTED_STEP, "ReadActiveModel", "ChooseMode", "SwitchToPrimary", "RecordRestore",
        a.HEALING_ENDED_STEP,
    ]  # fmt: skip
    assert store.values[MODEL_PARAMETER] == PRIMARY
    clock.advance(60)
    assert ask(api, "Q4: warranty?", model_id=PRIMARY, reads=(store, MODEL_PARAMETER))["model_id"] == PRIMARY

    assert cloudwatch.values(a.HEALING_METRIC) == [1, 0] * 3  # each run says healing is in progress, then ended
    assert [m["Subject"] for m in sns.published] == [
        "Self-healing: model failover applied",
        "Self-healing: model failover applied",
        "Self-healing: model failover restored",
    ]
    assert all(m["TopicArn"] == TOPIC_ARN and THROTTLES in m["Message"] for m in sns.published)
    assert (
        f"mode apply: parameter {MODEL_PARAMETER} changed from {PRIMARY} to {FALLBACK}." in sns.published[0]["Message"]
    )
    assert f"changed from {FALLBACK} to {FALLBACK}." in sns.published[1]["Message"]
    assert (
        f"mode restore: parameter {MODEL_PARAMETER} changed from {FALLBACK} to {PRIMARY}."
        in sns.published[2]["Message"]
    )

    # An alarm that is not wired to the runbook starts nothing.
    assert (
        run_rules(a.MODEL_FAILOVER, alarms, alarm_event("someone-else", "ALARM", "OK"), failover_inputs, clients) == []
    )


def stub_prompt(api: Api, version: int) -> None:
    api.prompts.add_response(
        "get_prompt",
        api.prompt_response(PROMPT_ID, str(version), MANAGED_TEMPLATE),
        {"promptIdentifier": PROMPT_BASE_ARN, "promptVersion": str(version)},
    )


def test_prompt_rollback_loop(api: Api) -> None:
    api.env(PROMPT_PARAMETER_NAME=PROMPT_PARAMETER)
    clock = Clock(api)
    store, sns = FakeSsm({PROMPT_PARAMETER: prompt_arn(3)}), FakeSns()
    agent = FakePromptManagement(PROMPT_BASE_ARN, {1, 2, 3})
    clients = {"ssm": store, "sns": sns, "bedrock-agent": agent, "cloudwatch": FakeCloudWatch()}
    alarms = [alarm_arn(QUALITY)]

    stub_prompt(api, 3)
    assert ask(api, "Q1", model_id=PRIMARY, reads=(store, PROMPT_PARAMETER))["prompt_version"] == "managed-3"

    # Golden-set quality drops with version 3: the quality alarm fires, the runbook rolls back to version 2.
    (run,) = run_rules(a.PROMPT_ROLLBACK, alarms, alarm_event(QUALITY, "ALARM", "OK"), rollback_inputs, clients)
    assert run.status == "Success"
    assert run.steps == [
        a.HEALING_STARTED_STEP, "ReadActiveVersion", "ChooseMode", "ComputePreviousVersion", "CheckPreviousVersion",
        "PutPreviousVersion", "RecordRollback", a.HEALING_ENDED_STEP,
    ]  # fmt: skip
    assert agent.calls == [{"promptIdentifier": PROMPT_BASE_ARN, "promptVersion": "2"}]
    assert store.values[PROMPT_PARAMETER] == prompt_arn(2)

    clock.advance(60)
    stub_prompt(api, 2)
    assert ask(api, "Q2", model_id=PRIMARY, reads=(store, PROMPT_PARAMETER))["prompt_version"] == "managed-2"

    # Quality recovers: the OK transition is recorded, nothing is rolled forward.
    (ok,) = run_rules(a.PROMPT_ROLLBACK, alarms, alarm_event(QUALITY, "OK", "ALARM"), rollback_inputs, clients)
    assert ok.steps == [a.HEALING_STARTED_STEP, "ReadActiveVersion", "ChooseMode", "RecordRecovery", a.HEALING_ENDED_STEP]
    assert store.values[PROMPT_PARAMETER] == prompt_arn(2) and len(store.puts) == 1
    clock.advance(60)  # the parameter is read again; version 2's template is already cached (versions are immutable)
    assert ask(api, "Q3", model_id=PRIMARY, reads=(store, PROMPT_PARAMETER))["prompt_version"] == "managed-2"

    rollback, recovery = sns.published
    assert rollback["Subject"] == "Self-healing: prompt rolled back"
    assert (
        f"Alarm {QUALITY} is in ALARM, so the prompt rollback runbook ran in mode apply: parameter {PROMPT_PARAMETER} "
        f"changed from {prompt_arn(3)} to {prompt_arn(2)}."
    ) in rollback["Message"]
    assert recovery["Subject"] == "Self-healing: prompt quality alarm cleared"
    assert (
        f"mode record-ok and changed nothing: parameter {PROMPT_PARAMETER} stays at {prompt_arn(2)}"
        in recovery["Message"]
    )


def test_api_throttle_loop() -> None:
    gateway, sns = FakeApiGateway({(REST_API_ID, STAGE): (10.0, 20)}), FakeSns()
    clients = {"apigateway": gateway, "sns": sns, "cloudwatch": FakeCloudWatch()}
    alarms = [alarm_arn(COST)]

    (tighten,) = run_rules(a.API_THROTTLE, alarms, alarm_event(COST, "ALARM", "OK"), throttle_inputs, clients)
    assert tighten.status == "Success" and gateway.throttling(REST_API_ID, STAGE) == (2.0, 5)

    (restore,) = run_rules(a.API_THROTTLE, alarms, alarm_event(COST, "OK", "ALARM"), throttle_inputs, clients)
    assert restore.steps == [a.HEALING_STARTED_STEP, "ChooseMode", "RestoreThrottling", "RecordRestored", a.HEALING_ENDED_STEP]
    assert gateway.throttling(REST_API_ID, STAGE) == (10.0, 20)

    assert [m["Subject"] for m in sns.published] == [
        "Self-healing: API throttling tightened",
        "Self-healing: API throttling restored",
    ]
    assert f"stage {STAGE} of REST API {REST_API_ID} now allows 2 requests/s (burst 5)" in sns.published[0]["Message"]
    assert "allows 10 requests/s (burst 20) again, up from 2 (burst 5)" in sns.published[1]["Message"]


# --- What healing buys: time to resolve against the level targets ------------------------------------------------------
OUTCOMES_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "incident_outcomes"
#: The throttling episode: three breaching minutes from 11:57, the alarm at 12:00.
BREACHING = [("2025-06-01T11:57:00.000+0000", 9.0), ("2025-06-01T11:58:00.000+0000", 8.0),
             ("2025-06-01T11:59:00.000+0000", 7.0)]  # fmt: skip
ALARM_AT = "2025-06-01T12:00:00.000+0000"


@pytest.fixture(scope="module")
def outcomes() -> ModuleType:
    """The incident-outcomes handler, imported as Lambda imports it."""
    return load_file(
        "self_healing_outcomes_handler", OUTCOMES_DIR / "handler.py", search=[OUTCOMES_DIR], siblings=("outcomes_telemetry",)
    )


def target_missed(level: int, time_to_resolve: float) -> bool:
    """What the level's ResolveTargetMissed-high alarm decides: the hour's Maximum above the target."""
    target = LEVEL_TARGETS[level].get("high")
    return target is not None and target.resolve_minutes is not None and time_to_resolve > target.resolve_minutes * 60


def test_self_healing_resolves_within_the_level_3_target(api: Api, outcomes: ModuleType) -> None:
    """The failover heals the throttled model in three minutes: within Level 3's 5-minute target. The same incident
    left to a human (OK at 12:40) takes 40 minutes and misses even Level 2's 30."""
    api.env(MODEL_PARAMETER_NAME=MODEL_PARAMETER)
    clock = Clock(api)
    store = FakeSsm({MODEL_PARAMETER: PRIMARY})
    clients = {"ssm": store, "sns": FakeSns(), "cloudwatch": FakeCloudWatch()}
    alarms = [alarm_arn(SERVER_ERRORS), alarm_arn(THROTTLES)]
    assert ask(api, "Q1", model_id=PRIMARY, reads=(store, MODEL_PARAMETER))["model_id"] == PRIMARY

    fired = alarm_event(THROTTLES, "ALARM", "OK", state_time=ALARM_AT, datapoints=BREACHING, event_id="alarm-1200")
    (run,) = run_rules(a.MODEL_FAILOVER, alarms, fired, failover_inputs, clients)
    assert run.status == "Success" and store.values[MODEL_PARAMETER] == FALLBACK
    detected = outcomes.handle(fired)
    assert (detected["outcome"], detected["onset"], detected["time_to_detect_s"]) == ("incident", "2025-06-01T11:57:00Z", 180)

    clock.advance(60)  # the model cache expires: the next answer comes from the fallback, throttling stops
    assert ask(api, "Q2", model_id=FALLBACK, reads=(store, MODEL_PARAMETER))["model_id"] == FALLBACK

    healed = alarm_event(THROTTLES, "OK", "ALARM", state_time="2025-06-01T12:03:00.000+0000", previous_time=ALARM_AT,
                         previous_reason_data=reason_data(BREACHING), event_id="ok-1203")  # fmt: skip
    (restore,) = run_rules(a.MODEL_FAILOVER, alarms, healed, failover_inputs, clients)
    assert restore.status == "Success" and store.values[MODEL_PARAMETER] == PRIMARY
    resolved = outcomes.handle(healed)
    assert (resolved["outcome"], resolved["time_to_resolve_s"], resolved["impact_minutes"]) == ("resolved", 180, 6)
    assert not target_missed(3, resolved["time_to_resolve_s"]) and not target_missed(2, resolved["time_to_resolve_s"])

    by_hand = alarm_event(THROTTLES, "OK", "ALARM", state_time="2025-06-01T12:40:00.000+0000", previous_time=ALARM_AT,
                          previous_reason_data=reason_data(BREACHING), event_id="ok-1240")  # fmt: skip
    unhealed = outcomes.handle(by_hand)
    assert (unhealed["time_to_resolve_s"], unhealed["impact_minutes"]) == (2400, 43)
    assert target_missed(2, unhealed["time_to_resolve_s"]) and target_missed(3, unhealed["time_to_resolve_s"])
    assert not target_missed(1, unhealed["time_to_resolve_s"])  # Level 1 sets no target
