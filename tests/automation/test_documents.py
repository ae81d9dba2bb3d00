"""The three runbook documents: valid, constrained parameters, only the API calls they need, every run recorded and
framed by HealingInProgress 1 ... 0."""

from __future__ import annotations

import json
import re

import pytest

from llm_observability import automation as a
from tests.support.self_healing import PROMPT_BASE_ARN, prompt_arn
from tests.support.ssm_simulator import run_python_script


@pytest.mark.parametrize("runbook", list(a.DOCUMENTS))
def test_each_document_is_valid(runbook: str) -> None:
    doc = a.DOCUMENTS[runbook]()
    assert a.validate_document(doc) == []
    assert json.loads(json.dumps(doc)) == doc  # plain JSON, as AWS::SSM::Document Content
    assert doc["schemaVersion"] == "0.3" and doc["assumeRole"] == "{{ AutomationAssumeRole }}"


@pytest.mark.parametrize("runbook", list(a.DOCUMENTS))
def test_parameters_are_typed_described_and_constrained(runbook: str) -> None:
    parameters = a.DOCUMENTS[runbook]()["parameters"]
    for name, spec in parameters.items():
        assert spec["type"] == "String", name
        assert spec["description"].strip(), name
        assert ("allowedValues" in spec) != ("allowedPattern" in spec), name  # every value is constrained
    assert parameters["Mode"]["allowedValues"] == list(a.STATE_MODES[runbook].values())


HEALING_CALL = ("cloudwatch", "PutMetricData")
API_CALLS = {
    a.MODEL_FAILOVER: {("ssm", "GetParameter"), ("ssm", "PutParameter"), ("sns", "Publish"), HEALING_CALL},
    a.PROMPT_ROLLBACK: {
        ("ssm", "GetParameter"),
        ("ssm", "PutParameter"),
        ("sns", "Publish"),
        ("bedrock-agent", "GetPrompt"),
        HEALING_CALL,
    },
    a.API_THROTTLE: {("apigateway", "UpdateStage"), ("sns", "Publish"), HEALING_CALL},
}


@pytest.mark.parametrize("runbook", list(a.DOCUMENTS))
def test_every_step_is_a_known_action_with_valid_inputs(runbook: str) -> None:
    doc = a.DOCUMENTS[runbook]()
    calls = set()
    for step in doc["mainSteps"]:
        spec = a.ACTIONS[step["action"]]
        assert spec.required <= set(step["inputs"]), step["name"]
        if spec.api_inputs:
            calls.add((step["inputs"]["Service"], step["inputs"]["Api"]))
        else:
            assert set(step["inputs"]) <= spec.required | spec.optional, step["name"]
    assert calls == API_CALLS[runbook]  # also what the automation role is allowed, and nothing else
    scripts = [s for s in doc["mainSteps"] if s["action"] == "aws:executeScript"]
    assert len(scripts) == (1 if runbook == a.PROMPT_ROLLBACK else 0)  # declarative wherever possible
    assert all(s["inputs"]["Runtime"] == "python3.11" for s in scripts)


@pytest.mark.parametrize("runbook", list(a.DOCUMENTS))
def test_every_run_ends_with_a_record_that_fits_sns(runbook: str) -> None:
    steps = a.DOCUMENTS[runbook]()["mainSteps"]
    records = [s for s in steps if s["inputs"].get("Api") == "Publish"]
    # Every record, published or not, goes on to the healing-ended step; nothing else ends a run.
    assert records and all(s["nextStep"] == s["onFailure"][5:] == a.HEALING_ENDED_STEP for s in records)
    assert [s["name"] for s in steps if s.get("isEnd")] == [a.HEALING_ENDED_STEP]
    for step in records:
        subject = step["inputs"]["Subject"]
        assert len(subject) <= 100 and subject.isascii() and "{{" not in subject  # SNS subject limits
        assert "{{ AlarmName }}" in step["inputs"]["Message"] and "{{ Mode }}" in step["inputs"]["Message"]


@pytest.mark.parametrize("runbook", list(a.DOCUMENTS))
def test_every_run_is_framed_by_healing_in_progress_one_then_zero(runbook: str) -> None:
    doc = a.DOCUMENTS[runbook]()
    first, last = doc["mainSteps"][0], doc["mainSteps"][-1]
    assert (first["name"], last["name"]) == (a.HEALING_STARTED_STEP, a.HEALING_ENDED_STEP)
    for step, value in ((first, 1), (last, 0)):
        assert (step["inputs"]["Service"], step["inputs"]["Api"]) == HEALING_CALL
        assert step["inputs"]["Namespace"] == "{{ MetricNamespace }}"
        assert step["inputs"]["MetricData"] == [
            {
                "MetricName": "HealingInProgress",
                "Dimensions": [{"Name": "service", "Value": "{{ ServiceName }}"}],
                "Value": value,
                "Unit": "Count",
            }
        ]
        assert step["onFailure"] == "Continue" and step["isCritical"] is False  # never stops or fails the healing
    assert last["isEnd"] is True
    # The failure path ends there too: every step that can fail goes to a record, and every record to the end.
    failure_targets = {s["onFailure"][5:] for s in doc["mainSteps"] if s.get("onFailure", "").startswith("step:")}
    assert a.HEALING_ENDED_STEP in failure_targets and a.FAILURE_STEP in failure_targets
    parameters = doc["parameters"]
    assert parameters["MetricNamespace"]["allowedPattern"] == a.METRIC_NAMESPACE_PATTERN
    assert parameters["ServiceName"]["allowedPattern"] == a.SERVICE_NAME_PATTERN


@pytest.mark.parametrize(
    ("namespace", "ok"),
    [("LLMObservability", True), ("TheirApp/Bots #1", True), ("AWS/Bedrock", False), ("", False), ("a" * 256, False)],
)
def test_the_namespace_pattern_admits_custom_namespaces_only(namespace: str, ok: bool) -> None:
    assert bool(re.fullmatch(a.METRIC_NAMESPACE_PATTERN, namespace)) is ok


def test_previous_version_script_matches_the_function_s_arn_syntax() -> None:
    assert a.FUNCTION_PROMPT_VERSION_ARN in a.PREVIOUS_VERSION_SCRIPT
    result = run_python_script(a.PREVIOUS_VERSION_SCRIPT, "previous_version", {"ActiveVersionArn": prompt_arn(12)})
    assert result == {"PromptArn": PROMPT_BASE_ARN, "PreviousVersion": "11", "PreviousVersionArn": prompt_arn(11)}
    for value, message in (
        (prompt_arn(1), "is version 1: there is no earlier version"),
        ("v3", "not a prompt version ARN"),
    ):
        with pytest.raises(ValueError, match=message):
            run_python_script(a.PREVIOUS_VERSION_SCRIPT, "previous_version", {"ActiveVersionArn": value})

