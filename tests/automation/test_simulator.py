"""The Automation simulator (tests/support/ssm_simulator.py) running the runbooks against fake clients.

Each test starts from an alarm event turned into the document's parameters by the EventBridge emulator, so a
passing test also shows that what a rule sends is what its document accepts.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from llm_observability import automation as a
from tests.support.aws_fakes import (
    FakeApiGateway,
    FakeCloudWatch,
    FakePromptManagement,
    FakeSns,
    FakeSsm,
    client_error,
)
from tests.support.eventbridge import transform_input
from tests.support.jsonpath import select
from tests.support.self_healing import (
    FALLBACK,
    MODEL_PARAMETER,
    NAMESPACE,
    PRIMARY,
    PROMPT_BASE_ARN,
    PROMPT_PARAMETER,
    REST_API_ID,
    SERVICE,
    STAGE,
    TOPIC_ARN,
    alarm_event,
    failover_inputs,
    prompt_arn,
    rollback_inputs,
    throttle_inputs,
)
from tests.support.ssm_simulator import SimulationError, simulate

START, END = a.HEALING_STARTED_STEP, a.HEALING_ENDED_STEP


def _step(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["mainSteps"] if s["name"] == name)


def _healing(cloudwatch: FakeCloudWatch) -> list[float]:
    """The HealingInProgress values a run put, each checked to be the workload's (namespace, service)."""
    for datum in cloudwatch.data:
        assert datum["Namespace"] == NAMESPACE and datum["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
        assert datum["Unit"] == "Count"
    return cloudwatch.values(a.HEALING_METRIC)


def test_failover_apply_switches_to_the_fallback_and_records_old_and_new() -> None:
    store, sns = FakeSsm({MODEL_PARAMETER: PRIMARY}), FakeSns()
    parameters = transform_input(failover_inputs(a.APPLY), alarm_event("rag-BedrockServerErrors", "ALARM", "OK"))

    cloudwatch = FakeCloudWatch()
    run = simulate(a.model_failover_document(), parameters, {"ssm": store, "sns": sns, "cloudwatch": cloudwatch})

    assert (run.status, run.steps) == (
        "Success",
        [START, "ReadActiveModel", "ChooseMode", "SwitchToFallback", "RecordFailover", END],
    )
    assert _healing(cloudwatch) == [1, 0]
    assert store.puts == [{"Name": MODEL_PARAMETER, "Value": FALLBACK, "Type": "String", "Overwrite": True}]
    assert run.outputs == {"ReadActiveModel.ModelIdBefore": PRIMARY}
    (message,) = sns.published
    assert message["TopicArn"] == TOPIC_ARN and message["Subject"] == "Self-healing: model failover applied"
    assert message["Message"] == (
        f"Alarm rag-BedrockServerErrors is in ALARM, so the model failover runbook ran in mode apply: parameter "
        f"{MODEL_PARAMETER} changed from {PRIMARY} to {FALLBACK}. The RAG function uses it once its model cache "
        "expires (60 s by default). Automation execution 00000000-0000-4000-8000-000000000000 in us-east-1."
    )


def test_prompt_rollback_refuses_to_go_below_version_one_and_says_so() -> None:
    store, sns = FakeSsm({PROMPT_PARAMETER: prompt_arn(1)}), FakeSns()
    agent = FakePromptManagement(PROMPT_BASE_ARN, {1})
    parameters = transform_input(rollback_inputs(a.APPLY), alarm_event("rag-QualityDrift", "ALARM", "OK"))

    cloudwatch = FakeCloudWatch()
    clients = {"ssm": store, "sns": sns, "bedrock-agent": agent, "cloudwatch": cloudwatch}
    run = simulate(a.prompt_rollback_document(), parameters, clients)

    assert run.status == "Failed"
    assert run.steps == [START, "ReadActiveVersion", "ChooseMode", "ComputePreviousVersion", "RecordRefusal", END]
    assert _healing(cloudwatch) == [1, 0]  # the refusal ends the healing too
    assert "is version 1: there is no earlier version to roll back to" in run.failures["ComputePreviousVersion"]
    assert store.puts == [] and agent.calls == []
    (message,) = sns.published
    assert message["Subject"] == "Self-healing: prompt rollback refused" and prompt_arn(1) in message["Message"]


def test_prompt_rollback_refuses_a_version_that_no_longer_exists() -> None:
    store, sns = FakeSsm({PROMPT_PARAMETER: prompt_arn(5)}), FakeSns()
    agent = FakePromptManagement(PROMPT_BASE_ARN, {1, 2, 3, 5})  # version 4 was deleted
    parameters = transform_input(rollback_inputs(a.APPLY), alarm_event("rag-QualityDrift", "ALARM", "OK"))

    clients = {"ssm": store, "sns": sns, "bedrock-agent": agent, "cloudwatch": FakeCloudWatch()}
    run = simulate(a.prompt_rollback_document(), parameters, clients)

    assert run.status == "Failed" and run.steps[-3:] == ["CheckPreviousVersion", "RecordRefusal", END]
    assert "ResourceNotFoundException" in run.failures["CheckPreviousVersion"]
    assert agent.calls == [{"promptIdentifier": PROMPT_BASE_ARN, "promptVersion": "4"}]
    assert store.values[PROMPT_PARAMETER] == prompt_arn(5)
    assert [m["Subject"] for m in sns.published] == ["Self-healing: prompt rollback refused"]


def test_throttle_apply_sends_the_limits_as_strings() -> None:
    gateway, sns = FakeApiGateway({(REST_API_ID, STAGE): (10.0, 20)}), FakeSns()
    parameters = transform_input(throttle_inputs(a.APPLY), alarm_event("rag-CostAnomaly", "ALARM", "OK"))

    run = simulate(a.api_throttle_document(), parameters, {"apigateway": gateway, "sns": sns, "cloudwatch": FakeCloudWatch()})

    assert run.status == "Success" and run.steps == [START, "ChooseMode", "TightenThrottling", "RecordTightened", END]
    assert gateway.throttling(REST_API_ID, STAGE) == (2.0, 5)
    assert "now allows 2 requests/s (burst 5) instead of 10 (burst 20)" in sns.published[0]["Message"]


def test_simulator_checks_parameters_like_start_automation_execution() -> None:
    doc = a.model_failover_document()
    good = transform_input(failover_inputs(a.APPLY), alarm_event("x", "ALARM", "OK"))
    clients = {"ssm": FakeSsm({MODEL_PARAMETER: PRIMARY}), "sns": FakeSns(), "cloudwatch": FakeCloudWatch()}
    cases = [
        ({**good, "Mode": ["sideways"]}, "parameter 'Mode' is 'sideways': allowed are ['apply', 'restore']"),
        ({**good, "FallbackModelId": ["gpt-4o"]}, "parameter 'FallbackModelId' is 'gpt-4o': it does not match"),
        ({k: v for k, v in good.items() if k != "TopicArn"}, "parameter 'TopicArn' is required"),
        ({**good, "AlarmName": ["a", "b"]}, "parameter 'AlarmName' is a String: give one value, not 2"),
        ({**good, "Region": ["us-east-1"]}, "unknown parameters ['Region']"),
    ]
    for parameters, message in cases:
        with pytest.raises(SimulationError, match=re.escape(message)):
            simulate(doc, parameters, clients)


def test_a_failed_call_is_recorded_and_requests_are_validated_against_botocore() -> None:
    gateway, sns = FakeApiGateway({(REST_API_ID, STAGE): (10.0, 20)}), FakeSns()
    parameters = transform_input(throttle_inputs(a.RESTORE), alarm_event("rag-CostAnomaly", "OK", "ALARM"))

    cloudwatch = FakeCloudWatch()
    clients = {"apigateway": gateway, "sns": sns, "cloudwatch": cloudwatch}
    wrong_path = copy.deepcopy(a.api_throttle_document())
    _step(wrong_path, "RestoreThrottling")["inputs"]["patchOperations"][0]["path"] = "/throttling/rateLimit"
    run = simulate(wrong_path, parameters, clients)
    assert run.status == "Failed" and run.steps == [START, "ChooseMode", "RestoreThrottling", "RecordFailure", END]
    assert _healing(cloudwatch) == [1, 0]  # the failure path ends the healing too
    assert run.failures == {
        "RestoreThrottling": "apigateway UpdateStage failed: An error occurred (BadRequestException) when calling the "
        "UpdateStage operation: Invalid patch path /throttling/rateLimit"
    }
    assert gateway.throttling(REST_API_ID, STAGE) == (10.0, 20)
    (record,) = sns.published
    assert record["Subject"] == "Self-healing: API throttle failed"
    assert record["Message"].startswith(
        "Alarm rag-CostAnomaly changed state, but the API throttle runbook (mode restore) failed: the throttling of "
        f"stage {STAGE} may be unchanged."
    )

    wrong_type = copy.deepcopy(a.api_throttle_document())
    _step(wrong_type, "RestoreThrottling")["inputs"]["patchOperations"][0]["value"] = 10  # botocore wants a string
    run = simulate(wrong_type, parameters, clients)
    assert (
        run.status == "Failed"
        and "Invalid type for parameter patchOperations[0].value" in run.failures["RestoreThrottling"]
    )


def test_failover_without_its_parameter_fails_and_says_so() -> None:
    store, sns = FakeSsm({}), FakeSns()
    parameters = transform_input(failover_inputs(a.APPLY), alarm_event("rag-BedrockThrottles", "ALARM", "OK"))

    run = simulate(a.model_failover_document(), parameters, {"ssm": store, "sns": sns, "cloudwatch": FakeCloudWatch()})

    assert (run.status, run.steps) == ("Failed", [START, "ReadActiveModel", "RecordFailure", END])
    assert "ParameterNotFound" in run.failures["ReadActiveModel"] and store.puts == []
    assert [m["Subject"] for m in sns.published] == ["Self-healing: model failover failed"]


def test_healing_metric_failures_never_stop_or_fail_the_healing() -> None:
    class Broken:
        def put_metric_data(self, **request: Any) -> dict[str, Any]:
            raise client_error("AccessDenied", "PutMetricData")

    store, sns = FakeSsm({MODEL_PARAMETER: PRIMARY}), FakeSns()
    parameters = transform_input(failover_inputs(a.APPLY), alarm_event("rag-BedrockThrottles", "ALARM", "OK"))
    run = simulate(a.model_failover_document(), parameters, {"ssm": store, "sns": sns, "cloudwatch": Broken()})
    assert run.status == "Success" and set(run.failures) == {START, END}
    assert run.steps == [START, "ReadActiveModel", "ChooseMode", "SwitchToFallback", "RecordFailover", END]
    assert store.values[MODEL_PARAMETER] == FALLBACK and len(sns.published) == 1


def test_a_failed_record_still_ends_the_healing() -> None:
    class Down:
        def publish(self, **request: Any) -> dict[str, Any]:
            raise client_error("KMSAccessDenied", "Publish")

    cloudwatch = FakeCloudWatch()
    parameters = transform_input(failover_inputs(a.RESTORE), alarm_event("rag-BedrockThrottles", "OK", "ALARM"))
    clients = {"ssm": FakeSsm({MODEL_PARAMETER: FALLBACK}), "sns": Down(), "cloudwatch": cloudwatch}
    run = simulate(a.model_failover_document(), parameters, clients)
    assert run.status == "Failed" and run.steps[-2:] == ["RecordRestore", END]
    assert _healing(cloudwatch) == [1, 0]


def test_simulator_control_flow_retries_continue_and_default() -> None:
    calls: list[str] = []

    class Flaky:
        def get_parameter(self, *, Name: str) -> dict[str, Any]:
            calls.append(Name)
            if len(calls) < 3:
                raise client_error("ThrottlingException", "GetParameter")
            return {"Parameter": {"Value": "v", "Version": 3}}

    doc = {
        "schemaVersion": "0.3",
        "parameters": {"Pick": {"type": "String", "description": "x", "default": "other"}},
        "mainSteps": [
            {"name": "Read", "action": "aws:executeAwsApi", "maxAttempts": 3,
             "inputs": {"Service": "ssm", "Api": "GetParameter", "Name": "p"},
             "outputs": [{"Name": "Version", "Selector": "$.Parameter.Version", "Type": "Integer"}]},
            {"name": "Fail", "action": "aws:executeScript", "onFailure": "Continue", "isCritical": False,
             "inputs": {"Runtime": "python3.11", "Handler": "h", "Script": "def h(events, context):\n    raise RuntimeError('no')\n"}},
            {"name": "Pick", "action": "aws:branch",
             "inputs": {"Choices": [{"NextStep": "Wait", "And": [{"Variable": "{{ Pick }}", "StringEquals": "this"},
                                                                  {"Variable": "{{ Read.Version }}", "NumericGreater": 2}]}],
                        "Default": "Done"}},
            {"name": "Wait", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}},
            {"name": "Done", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "isEnd": True},
        ],
    }  # fmt: skip
    assert a.validate_document(doc) == []

    run = simulate(doc, {}, {"ssm": Flaky()})
    assert (run.status, run.steps, run.outputs) == ("Success", ["Read", "Fail", "Pick", "Done"], {"Read.Version": 3})
    assert run.failures == {"Fail": "RuntimeError: no"} and len(calls) == 3

    calls.clear()
    run = simulate(doc, {"Pick": "this"}, {"ssm": Flaky()})
    assert run.steps == ["Read", "Fail", "Pick", "Wait", "Done"]


def test_select_reads_the_jsonpath_subset_selectors_use() -> None:
    stage = {"methodSettings": {"*/*": {"throttlingRateLimit": 2.0}}, "items": [{"id": "a"}, {"id": "b"}]}
    assert select(stage, "$.methodSettings['*/*'].throttlingRateLimit") == 2.0
    assert select(stage, "$.items[1].id") == "b"
    with pytest.raises(KeyError, match=r"\$.items\[2\].id selects nothing"):
        select(stage, "$.items[2].id")
