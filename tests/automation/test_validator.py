"""The schema-0.3 validator: the shipped documents pass, and a broken copy reports each rule with its own message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from llm_observability import automation as a


def _step(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["mainSteps"] if s["name"] == name)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Mutation: set ``step.key.key`` (or a top-level key) to ``value``."""

    def mutate(doc: dict[str, Any]) -> None:
        keys = path.split(".")
        names = [step["name"] for step in doc["mainSteps"]]
        target: Any = doc
        if keys[0] in names:
            if len(keys) == 1:  # replace the whole step
                doc["mainSteps"][names.index(keys[0])] = value
                return
            target, keys = doc["mainSteps"][names.index(keys[0])], keys[1:]
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(keys[-1])] = value
        else:
            target[keys[-1]] = value

    return mutate


def _delete(step: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        del _step(doc, step)["inputs"][key]

    return mutate


def _do(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: (fn(doc), None)[1]


F, P, T = a.MODEL_FAILOVER, a.PROMPT_ROLLBACK, a.API_THROTTLE
BROKEN: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("schema", F, _set("schemaVersion", "0.2"), "schemaVersion is '0.2': allowed is '0.3' (Automation runbooks)"),
    ("document-property", F, _set("assumeRoles", "x"), "unknown document property 'assumeRoles'"),
    (
        "parameter-description",
        F,
        _do(lambda d: d["parameters"]["Mode"].pop("description")),
        "parameter 'Mode' has no description",
    ),
    (
        "parameter-type",
        F,
        _set("parameters.Mode.type", "Text"),
        "parameter 'Mode': type is 'Text': allowed are String, StringList, Integer, Boolean, MapList, StringMap",
    ),
    ("parameter-property", F, _set("parameters.Mode.choices", ["a"]), "parameter 'Mode': unknown property 'choices'"),
    (
        "parameter-default",
        F,
        _set("parameters.Mode.default", "sideways"),
        "parameter 'Mode': default 'sideways' is not among allowedValues",
    ),
    (
        "parameter-pattern",
        F,
        _set("parameters.AlarmName.allowedPattern", "^[a-"),
        "parameter 'AlarmName': allowedPattern does not compile (unterminated character set at position 1)",
    ),
    ("no-steps", F, _set("mainSteps", []), "mainSteps is missing or empty"),
    ("step-without-name", F, _do(lambda d: d["mainSteps"][2].pop("name")), "mainSteps[2] has no name"),
    (
        "step-name-pattern",
        F,
        _set("mainSteps.0.name", "Read Active"),
        "step name 'Read Active' does not match [A-Za-z0-9_]{1,128}",
    ),
    ("step-name-twice", F, _set("mainSteps.2.name", "ReadActiveModel"), "step name 'ReadActiveModel' is used twice"),
    (
        "unknown-action",
        F,
        _set("ChooseMode.action", "aws:switch"),
        (
            "step 'ChooseMode': unknown action 'aws:switch': allowed are aws:approve, aws:assertAwsResourceProperty, aws:branch, "
            "aws:executeAwsApi, aws:executeScript, aws:pause, aws:sleep, aws:waitForAwsResourceProperty"
        ),
    ),
    ("step-property", F, _set("ChooseMode.retries", 3), "step 'ChooseMode': unknown property 'retries'"),
    (
        "missing-required-input",
        P,
        _delete("ComputePreviousVersion", "Handler"),
        "step 'ComputePreviousVersion': aws:executeScript lacks required input 'Handler'",
    ),
    (
        "input-not-taken",
        P,
        _set("ComputePreviousVersion.inputs.Timeout", 5),
        "step 'ComputePreviousVersion': aws:executeScript does not take input 'Timeout'",
    ),
    (
        "sleep-needs-one",
        F,
        _set("ChooseMode", {"name": "ChooseMode", "action": "aws:sleep", "inputs": {}}),
        "step 'ChooseMode': aws:sleep needs exactly one of Duration, Timestamp",
    ),
    (
        "sleep-duration",
        F,
        _set("ChooseMode", {"name": "ChooseMode", "action": "aws:sleep", "inputs": {"Duration": "5 minutes"}}),
        "step 'ChooseMode': Duration '5 minutes' is not an ISO 8601 duration such as PT5M",
    ),
    (
        "approve-approvers",
        F,
        _set("ChooseMode", {"name": "ChooseMode", "action": "aws:approve", "inputs": {"Approvers": []}}),
        "step 'ChooseMode': Approvers must be a non-empty list",
    ),
    (
        "unknown-service",
        F,
        _set("ReadActiveModel.inputs.Service", "parameterstore"),
        (
            "step 'ReadActiveModel': unknown service 'parameterstore' (use a boto3 service name such as ssm, sns, apigateway, "
            "bedrock-agent)"
        ),
    ),
    (
        "snake-case-api",
        F,
        _set("ReadActiveModel.inputs.Api", "get_parameter"),
        "step 'ReadActiveModel': ssm has no API 'get_parameter' (the operation name is GetParameter)",
    ),
    (
        "unknown-api-input",
        F,
        _set("SwitchToFallback.inputs.Vaule", "x"),
        "step 'SwitchToFallback': ssm PutParameter has no input 'Vaule'",
    ),
    (
        "missing-api-input",
        F,
        _delete("SwitchToFallback", "Name"),
        "step 'SwitchToFallback': ssm PutParameter lacks required input 'Name'",
    ),
    (
        "api-input-type",
        F,
        _set("SwitchToFallback.inputs.Overwrite", "true"),
        "step 'SwitchToFallback': ssm PutParameter input 'Overwrite' must be a boolean, not a string",
    ),
    (
        "api-input-enum",
        F,
        _set("SwitchToFallback.inputs.Type", "Text"),
        "step 'SwitchToFallback': ssm PutParameter input 'Type' is 'Text': allowed are String, StringList, SecureString",
    ),
    (
        "api-member",
        T,
        _set("TightenThrottling.inputs.patchOperations.0.valeu", "1"),
        "step 'TightenThrottling': apigateway UpdateStage input 'patchOperations'[0] has no member 'valeu'",
    ),
    (
        "api-member-type",
        T,
        _set("TightenThrottling.inputs.patchOperations.1.value", 5),
        "step 'TightenThrottling': apigateway UpdateStage input 'patchOperations'[1].value must be a string, not an integer",
    ),
    (
        "on-failure-target",
        P,
        _set("CheckPreviousVersion.onFailure", "step:Nowhere"),
        "step 'CheckPreviousVersion': onFailure 'Nowhere' names no step",
    ),
    (
        "on-failure-value",
        P,
        _set("CheckPreviousVersion.onFailure", "Retry"),
        "step 'CheckPreviousVersion': onFailure is 'Retry': allowed are Abort, Continue, step:<name>",
    ),
    (
        "on-cancel-value",
        P,
        _set("CheckPreviousVersion.onCancel", "Continue"),
        "step 'CheckPreviousVersion': onCancel is 'Continue': allowed are Abort, step:<name>",
    ),
    (
        "next-step",
        F,
        _set("SwitchToFallback.nextStep", "RecordFailovr"),
        "step 'SwitchToFallback': nextStep 'RecordFailovr' names no step",
    ),
    ("is-end", F, _set("RecordFailover.isEnd", "yes"), "step 'RecordFailover': isEnd must be true or false"),
    (
        "max-attempts",
        F,
        _set("ReadActiveModel.maxAttempts", 0),
        "step 'ReadActiveModel': maxAttempts must be a whole number of at least 1",
    ),
    (
        "branch-target",
        F,
        _set("ChooseMode.inputs.Choices.1.NextStep", "SwitchBack"),
        "step 'ChooseMode': choice 2: NextStep 'SwitchBack' names no step",
    ),
    (
        "branch-default",
        F,
        _set("ChooseMode.inputs.Default", "Nowhere"),
        "step 'ChooseMode': Default 'Nowhere' names no step",
    ),
    (
        "branch-operator",
        F,
        _set(
            "ChooseMode.inputs.Choices.0", {"NextStep": "SwitchToFallback", "Variable": "{{ Mode }}", "Equals": "apply"}
        ),
        "step 'ChooseMode': choice 1: unknown operator 'Equals'",
    ),
    (
        "branch-variable",
        F,
        _set("ChooseMode.inputs.Choices.0.Variable", "Mode"),
        "step 'ChooseMode': choice 1: Variable 'Mode' must be one {{ }} reference",
    ),
    ("branch-choices", F, _set("ChooseMode.inputs.Choices", []), "step 'ChooseMode': Choices must be a non-empty list"),
    (
        "unknown-parameter",
        F,
        _set("SwitchToFallback.inputs.Value", "{{ BackupModelId }}"),
        "step 'SwitchToFallback': reference {{ BackupModelId }} names no parameter",
    ),
    (
        "unknown-variable",
        F,
        _set("RecordFailover.inputs.Message", "run {{ automation:EXECUTION_NAME }}"),
        "step 'RecordFailover': reference {{ automation:EXECUTION_NAME }} names no parameter",
    ),
    (
        "unknown-output",
        F,
        _set("RecordFailover.inputs.Message", "was {{ ReadActiveModel.ModelId }}"),
        "step 'RecordFailover': reference {{ ReadActiveModel.ModelId }} names no output of step 'ReadActiveModel'",
    ),
    (
        "output-not-on-every-path",
        P,
        _set("RecordRefusal.inputs.Message", "to {{ ComputePreviousVersion.PreviousVersionArn }}"),
        "step 'RecordRefusal': reference {{ ComputePreviousVersion.PreviousVersionArn }} is not set on every path to this step",
    ),
    (
        "output-of-later-step",
        F,
        _set("ReadActiveModel.inputs.Name", "{{ ReadActiveModel.ModelIdBefore }}"),
        "step 'ReadActiveModel': reference {{ ReadActiveModel.ModelIdBefore }} is not set on every path to this step",
    ),
    (
        "assume-role",
        F,
        _set("assumeRole", "{{ AssumeRole }}"),
        "assumeRole: reference {{ AssumeRole }} names no parameter",
    ),
    (
        "selector",
        F,
        _set("ReadActiveModel.outputs.0.Selector", "Parameter.Value"),
        "step 'ReadActiveModel': output 'ModelIdBefore' selector 'Parameter.Value' must start with '$.'",
    ),
    (
        "script-selector",
        P,
        _set("ComputePreviousVersion.outputs.0.Selector", "$.PromptArn"),
        "step 'ComputePreviousVersion': output 'PromptArn' selector '$.PromptArn' must start with '$.Payload' (the script's return value)",
    ),
    (
        "output-type",
        F,
        _set("ReadActiveModel.outputs.0.Type", "Text"),
        "step 'ReadActiveModel': output 'ModelIdBefore' type 'Text': allowed are String, Integer, Boolean, StringList, StringMap, MapList",
    ),
    (
        "document-output",
        F,
        _set("outputs", ["ReadActiveModel.ModelId"]),
        "outputs: 'ReadActiveModel.ModelId' names no step output",
    ),
    (
        "never-reached",
        F,
        _set("ChooseMode.inputs.Choices.1.NextStep", "SwitchToFallback"),
        "step 'SwitchToPrimary' is never reached",
    ),
    (
        "runtime",
        P,
        _set("ComputePreviousVersion.inputs.Runtime", "python3.8"),
        "step 'ComputePreviousVersion': Runtime 'python3.8' is not supported: allowed are python3.11, PowerShell 7.4",
    ),
    (
        "handler",
        P,
        _set("ComputePreviousVersion.inputs.Handler", "handler"),
        "step 'ComputePreviousVersion': Script defines no function 'handler' (the Handler)",
    ),
    (
        "script-syntax",
        P,
        _set("ComputePreviousVersion.inputs.Script", "def previous_version(events, context)\n    return {}\n"),
        "step 'ComputePreviousVersion': Script does not parse: expected ':' (line 1)",
    ),
    (
        "property-selector",
        P,
        _set("CheckPreviousVersion.inputs.PropertySelector", "version"),
        "step 'CheckPreviousVersion': PropertySelector 'version' must start with '$.'",
    ),
    (
        "desired-values",
        P,
        _set("CheckPreviousVersion.inputs.DesiredValues", []),
        "step 'CheckPreviousVersion': DesiredValues must be a non-empty list",
    ),
    (
        "assert-api-input",
        P,
        _set("CheckPreviousVersion.inputs.promptVersionId", "2"),
        "step 'CheckPreviousVersion': bedrock-agent GetPrompt has no input 'promptVersionId'",
    ),
]


@pytest.mark.parametrize(("runbook", "mutate", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_copy_reports_its_rule(runbook: str, mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    doc = copy.deepcopy(a.DOCUMENTS[runbook]())
    mutate(doc)
    problems = a.validate_document(doc)
    assert message in problems, problems


def test_a_non_object_is_not_a_document() -> None:
    assert a.validate_document(["schemaVersion"]) == ["the document is a list, not an object"]


def test_api_checks_can_be_left_to_a_deploy_without_botocore() -> None:
    doc = copy.deepcopy(a.model_failover_document())
    _step(doc, "ReadActiveModel")["inputs"]["Api"] = "get_parameter"
    assert a.validate_document(doc, api_models=False) == []


def test_the_action_table_covers_what_the_brief_names() -> None:
    assert {"aws:executeAwsApi", "aws:executeScript", "aws:branch", "aws:sleep", "aws:assertAwsResourceProperty",
            "aws:waitForAwsResourceProperty", "aws:pause", "aws:approve"} <= set(a.ACTIONS)  # fmt: skip
    assert a.ACTIONS["aws:approve"].required == {"Approvers"}
    assert a.ACTIONS["aws:waitForAwsResourceProperty"].required == {
        "Service",
        "Api",
        "PropertySelector",
        "DesiredValues",
    }

