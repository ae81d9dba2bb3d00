"""The three runbook documents: valid, constrained parameters, only the API calls they need, every run recorded."""

from __future__ import annotations

import json

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


API_CALLS = {
    a.MODEL_FAILOVER: {("ssm", "GetParameter"), ("ssm", "PutParameter"), ("sns", "Publish")},
    a.PROMPT_ROLLBACK: {
        ("ssm", "GetParameter"),
        ("ssm", "PutParameter"),
        ("sns", "Publish"),
        ("bedrock-agent", "GetPrompt"),
    },
    a.API_THROTTLE: {("apigateway", "UpdateStage"), ("sns", "Publish")},
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
    ends = [s for s in steps if s.get("isEnd")]
    assert ends and all((s["inputs"]["Service"], s["inputs"]["Api"]) == ("sns", "Publish") for s in ends)
    for step in ends:
        subject = step["inputs"]["Subject"]
        assert len(subject) <= 100 and subject.isascii() and "{{" not in subject  # SNS subject limits
        assert "{{ AlarmName }}" in step["inputs"]["Message"] and "{{ Mode }}" in step["inputs"]["Message"]


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

