"""The self-healing runbooks as data: document structure, the schema-0.3 validator, the simulator, EventBridge mapping.

No CDK here (``llm_observability.automation`` imports none). The fakes and the alarm event builder below are
also used by ``tests/functions/test_self_healing.py``, which closes the loop through the real RAG handler.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from llm_observability import automation as a

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/runbooks-AutomationRole-1A2B3C"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts-Topic-4D5E6F"
MODEL_PARAMETER = "/rag-api/model/active"
PROMPT_PARAMETER = "/rag-api/prompt/active-version"
PRIMARY = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK = "amazon.nova-micro-v1:0"
PROMPT_ID = "PROMPT1234"
PROMPT_BASE_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:prompt/{PROMPT_ID}"
REST_API_ID = "a1b2c3d4e5"
STAGE = "prod"


def prompt_arn(version: int) -> str:
    return f"{PROMPT_BASE_ARN}:{version}"


# --- Fakes: dict-backed services with boto3's snake_case methods -------------------------------------------------
def _client_error(code: str, operation: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeSsm:
    """Parameter Store: String parameters in a dict."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.versions = dict.fromkeys(values, 1)
        self.puts: list[dict[str, Any]] = []

    def get_parameter(self, *, Name: str, WithDecryption: bool = False) -> dict[str, Any]:
        if Name not in self.values:
            raise _client_error("ParameterNotFound", "GetParameter")
        return {
            "Parameter": {"Name": Name, "Type": "String", "Value": self.values[Name], "Version": self.versions[Name]}
        }

    def put_parameter(self, *, Name: str, Value: str, Type: str = "String", Overwrite: bool = False) -> dict[str, Any]:
        if Name in self.values and not Overwrite:
            raise _client_error("ParameterAlreadyExists", "PutParameter")
        self.puts.append({"Name": Name, "Value": Value, "Type": Type, "Overwrite": Overwrite})
        self.values[Name] = Value
        self.versions[Name] = self.versions.get(Name, 0) + 1
        return {"Version": self.versions[Name], "Tier": "Standard"}


class FakeSns:
    """Records what is published."""

    def __init__(self) -> None:
        self.published: list[dict[str, str]] = []

    def publish(self, *, TopicArn: str, Message: str, Subject: str | None = None) -> dict[str, str]:
        self.published.append({"TopicArn": TopicArn, "Subject": Subject or "", "Message": Message})
        return {"MessageId": f"message-{len(self.published)}"}


class FakePromptManagement:
    """bedrock-agent GetPrompt over a set of existing prompt versions."""

    def __init__(self, prompt: str, versions: set[int]) -> None:
        self.prompt = prompt
        self.existing = set(versions)
        self.calls: list[dict[str, str]] = []

    def get_prompt(self, *, promptIdentifier: str, promptVersion: str | None = None) -> dict[str, Any]:
        self.calls.append({"promptIdentifier": promptIdentifier, "promptVersion": promptVersion or "DRAFT"})
        if promptIdentifier != self.prompt or promptVersion is None or int(promptVersion) not in self.existing:
            raise _client_error("ResourceNotFoundException", "GetPrompt", "The prompt version does not exist.")
        return {"id": PROMPT_ID, "arn": f"{self.prompt}:{promptVersion}", "version": promptVersion, "name": "rag"}


class FakeApiGateway:
    """Stage-wide throttling (method settings ``*/*``) of REST API stages."""

    _PATH = re.compile(r"^/(?P<resource>[^/]+)/(?P<method>[^/]+)/throttling/(?P<limit>rateLimit|burstLimit)$")

    def __init__(self, stages: dict[tuple[str, str], tuple[float, int]]) -> None:
        self.stages = {
            key: {
                "stageName": key[1],
                "methodSettings": {"*/*": {"throttlingRateLimit": rate, "throttlingBurstLimit": burst}},
            }
            for key, (rate, burst) in stages.items()
        }

    def throttling(self, rest_api_id: str, stage: str) -> tuple[float, int]:
        settings = self.stages[(rest_api_id, stage)]["methodSettings"]["*/*"]
        return settings["throttlingRateLimit"], settings["throttlingBurstLimit"]

    def update_stage(self, *, restApiId: str, stageName: str, patchOperations: list[dict[str, str]]) -> dict[str, Any]:
        if (restApiId, stageName) not in self.stages:
            raise _client_error("NotFoundException", "UpdateStage", "Invalid stage identifier specified")
        stage = self.stages[(restApiId, stageName)]
        for operation in patchOperations:
            match = self._PATH.fullmatch(operation["path"])
            if operation["op"] != "replace" or match is None:
                raise _client_error("BadRequestException", "UpdateStage", f"Invalid patch path {operation['path']}")
            key = f"{match['resource'].replace('~1', '/')}/{match['method']}"
            settings = stage["methodSettings"].setdefault(key, {})
            if match["limit"] == "rateLimit":
                settings["throttlingRateLimit"] = float(operation["value"])
            else:
                settings["throttlingBurstLimit"] = int(operation["value"])
        return copy.deepcopy(stage)


def alarm_event(name: str, state: str, previous: str, *, time: str = "2025-06-01T12:00:00Z") -> dict[str, Any]:
    """A CloudWatch "Alarm State Change" event as EventBridge delivers it (default bus)."""
    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [7.0 (01/06/25 11:59:00)] was greater than the threshold (5.0) "
        "(minimum 1 datapoint for OK -> ALARM transition)."
        if state == "ALARM"
        else "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (01/06/25 12:14:00)] was not greater than the "
        "threshold (5.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": reason,
                "reasonData": json.dumps(
                    {"version": "1.0", "queryDate": "2025-06-01T12:00:00.000+0000", "threshold": 5.0}
                ),
                "timestamp": "2025-06-01T12:00:00.000+0000",
            },
            "previousState": {"value": previous, "reason": "earlier", "timestamp": "2025-06-01T11:00:00.000+0000"},
            "configuration": {
                "description": "[high] Bedrock server errors above 5 per period.",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/Bedrock",
                                "name": "InvocationServerErrors",
                                "dimensions": {"ModelId": PRIMARY},
                            },
                            "period": 60,
                            "stat": "Sum",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def run_rules(
    runbook: str,
    alarm_arns: list[str],
    event: dict[str, Any],
    inputs: Callable[[str], dict[str, Any]],
    clients: dict[str, Any],
) -> list[a.Execution]:
    """What EventBridge and Automation do with ``event``: every matching rule's document run with its input."""
    executions = []
    for state, mode in a.STATE_MODES[runbook].items():
        if a.matches(a.alarm_state_pattern(alarm_arns, state), event):
            parameters = a.transform_input(inputs(mode), event)
            executions.append(a.simulate(a.DOCUMENTS[runbook](), parameters, clients))
    return executions


def failover_inputs(mode: str) -> dict[str, Any]:
    return a.model_failover_input(
        mode, assume_role_arn=ROLE_ARN, model_parameter_name=MODEL_PARAMETER, primary_model_id=PRIMARY,
        fallback_model_id=FALLBACK, topic_arn=TOPIC_ARN,
    )  # fmt: skip


def rollback_inputs(mode: str) -> dict[str, Any]:
    return a.prompt_rollback_input(
        mode, assume_role_arn=ROLE_ARN, prompt_parameter_name=PROMPT_PARAMETER, topic_arn=TOPIC_ARN
    )


def throttle_inputs(mode: str) -> dict[str, Any]:
    return a.api_throttle_input(
        mode, assume_role_arn=ROLE_ARN, rest_api_id=REST_API_ID, stage_name=STAGE, normal_rate_limit=10,
        normal_burst_limit=20, tightened_rate_limit=2, tightened_burst_limit=5, topic_arn=TOPIC_ARN,
    )  # fmt: skip


# --- The documents -------------------------------------------------------------------------------------------------
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
    result = a.run_python_script(a.PREVIOUS_VERSION_SCRIPT, "previous_version", {"ActiveVersionArn": prompt_arn(12)})
    assert result == {"PromptArn": PROMPT_BASE_ARN, "PreviousVersion": "11", "PreviousVersionArn": prompt_arn(11)}
    for value, message in (
        (prompt_arn(1), "is version 1: there is no earlier version"),
        ("v3", "not a prompt version ARN"),
    ):
        with pytest.raises(ValueError, match=message):
            a.run_python_script(a.PREVIOUS_VERSION_SCRIPT, "previous_version", {"ActiveVersionArn": value})


# --- Validator: one broken copy per rule, each with its own message --------------------------------------------------
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
    ("step-name-twice", F, _set("mainSteps.1.name", "ReadActiveModel"), "step name 'ReadActiveModel' is used twice"),
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


# --- Simulator -------------------------------------------------------------------------------------------------------
def test_failover_apply_switches_to_the_fallback_and_records_old_and_new() -> None:
    store, sns = FakeSsm({MODEL_PARAMETER: PRIMARY}), FakeSns()
    parameters = a.transform_input(failover_inputs(a.APPLY), alarm_event("rag-BedrockServerErrors", "ALARM", "OK"))

    run = a.simulate(a.model_failover_document(), parameters, {"ssm": store, "sns": sns})

    assert (run.status, run.steps) == (
        "Success",
        ["ReadActiveModel", "ChooseMode", "SwitchToFallback", "RecordFailover"],
    )
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
    parameters = a.transform_input(rollback_inputs(a.APPLY), alarm_event("rag-QualityDrift", "ALARM", "OK"))

    run = a.simulate(a.prompt_rollback_document(), parameters, {"ssm": store, "sns": sns, "bedrock-agent": agent})

    assert run.status == "Failed"
    assert run.steps == ["ReadActiveVersion", "ChooseMode", "ComputePreviousVersion", "RecordRefusal"]
    assert "is version 1: there is no earlier version to roll back to" in run.failures["ComputePreviousVersion"]
    assert store.puts == [] and agent.calls == []
    (message,) = sns.published
    assert message["Subject"] == "Self-healing: prompt rollback refused" and prompt_arn(1) in message["Message"]


def test_prompt_rollback_refuses_a_version_that_no_longer_exists() -> None:
    store, sns = FakeSsm({PROMPT_PARAMETER: prompt_arn(5)}), FakeSns()
    agent = FakePromptManagement(PROMPT_BASE_ARN, {1, 2, 3, 5})  # version 4 was deleted
    parameters = a.transform_input(rollback_inputs(a.APPLY), alarm_event("rag-QualityDrift", "ALARM", "OK"))

    run = a.simulate(a.prompt_rollback_document(), parameters, {"ssm": store, "sns": sns, "bedrock-agent": agent})

    assert run.status == "Failed" and run.steps[-2:] == ["CheckPreviousVersion", "RecordRefusal"]
    assert "ResourceNotFoundException" in run.failures["CheckPreviousVersion"]
    assert agent.calls == [{"promptIdentifier": PROMPT_BASE_ARN, "promptVersion": "4"}]
    assert store.values[PROMPT_PARAMETER] == prompt_arn(5)
    assert [m["Subject"] for m in sns.published] == ["Self-healing: prompt rollback refused"]


def test_throttle_apply_sends_the_limits_as_strings() -> None:
    gateway, sns = FakeApiGateway({(REST_API_ID, STAGE): (10.0, 20)}), FakeSns()
    parameters = a.transform_input(throttle_inputs(a.APPLY), alarm_event("rag-CostAnomaly", "ALARM", "OK"))

    run = a.simulate(a.api_throttle_document(), parameters, {"apigateway": gateway, "sns": sns})

    assert run.status == "Success" and run.steps == ["ChooseMode", "TightenThrottling", "RecordTightened"]
    assert gateway.throttling(REST_API_ID, STAGE) == (2.0, 5)
    assert "now allows 2 requests/s (burst 5) instead of 10 (burst 20)" in sns.published[0]["Message"]


def test_simulator_checks_parameters_like_start_automation_execution() -> None:
    doc = a.model_failover_document()
    good = a.transform_input(failover_inputs(a.APPLY), alarm_event("x", "ALARM", "OK"))
    clients = {"ssm": FakeSsm({MODEL_PARAMETER: PRIMARY}), "sns": FakeSns()}
    cases = [
        ({**good, "Mode": ["sideways"]}, "parameter 'Mode' is 'sideways': allowed are ['apply', 'restore']"),
        ({**good, "FallbackModelId": ["gpt-4o"]}, "parameter 'FallbackModelId' is 'gpt-4o': it does not match"),
        ({k: v for k, v in good.items() if k != "TopicArn"}, "parameter 'TopicArn' is required"),
        ({**good, "AlarmName": ["a", "b"]}, "parameter 'AlarmName' is a String: give one value, not 2"),
        ({**good, "Region": ["us-east-1"]}, "unknown parameters ['Region']"),
    ]
    for parameters, message in cases:
        with pytest.raises(a.SimulationError, match=re.escape(message)):
            a.simulate(doc, parameters, clients)


def test_a_failed_call_is_recorded_and_requests_are_validated_against_botocore() -> None:
    gateway, sns = FakeApiGateway({(REST_API_ID, STAGE): (10.0, 20)}), FakeSns()
    parameters = a.transform_input(throttle_inputs(a.RESTORE), alarm_event("rag-CostAnomaly", "OK", "ALARM"))

    wrong_path = copy.deepcopy(a.api_throttle_document())
    _step(wrong_path, "RestoreThrottling")["inputs"]["patchOperations"][0]["path"] = "/throttling/rateLimit"
    run = a.simulate(wrong_path, parameters, {"apigateway": gateway, "sns": sns})
    assert run.status == "Failed" and run.steps == ["ChooseMode", "RestoreThrottling", "RecordFailure"]
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
    run = a.simulate(wrong_type, parameters, {"apigateway": gateway, "sns": sns})
    assert (
        run.status == "Failed"
        and "Invalid type for parameter patchOperations[0].value" in run.failures["RestoreThrottling"]
    )


def test_failover_without_its_parameter_fails_and_says_so() -> None:
    store, sns = FakeSsm({}), FakeSns()
    parameters = a.transform_input(failover_inputs(a.APPLY), alarm_event("rag-BedrockThrottles", "ALARM", "OK"))

    run = a.simulate(a.model_failover_document(), parameters, {"ssm": store, "sns": sns})

    assert (run.status, run.steps) == ("Failed", ["ReadActiveModel", "RecordFailure"])
    assert "ParameterNotFound" in run.failures["ReadActiveModel"] and store.puts == []
    assert [m["Subject"] for m in sns.published] == ["Self-healing: model failover failed"]


def test_simulator_control_flow_retries_continue_and_default() -> None:
    calls: list[str] = []

    class Flaky:
        def get_parameter(self, *, Name: str) -> dict[str, Any]:
            calls.append(Name)
            if len(calls) < 3:
                raise _client_error("ThrottlingException", "GetParameter")
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

    run = a.simulate(doc, {}, {"ssm": Flaky()})
    assert (run.status, run.steps, run.outputs) == ("Success", ["Read", "Fail", "Pick", "Done"], {"Read.Version": 3})
    assert run.failures == {"Fail": "RuntimeError: no"} and len(calls) == 3

    calls.clear()
    run = a.simulate(doc, {"Pick": "this"}, {"ssm": Flaky()})
    assert run.steps == ["Read", "Fail", "Pick", "Wait", "Done"]


def test_select_reads_the_jsonpath_subset_selectors_use() -> None:
    stage = {"methodSettings": {"*/*": {"throttlingRateLimit": 2.0}}, "items": [{"id": "a"}, {"id": "b"}]}
    assert a.select(stage, "$.methodSettings['*/*'].throttlingRateLimit") == 2.0
    assert a.select(stage, "$.items[1].id") == "b"
    with pytest.raises(KeyError, match=r"\$.items\[2\].id selects nothing"):
        a.select(stage, "$.items[2].id")


# --- EventBridge mapping ---------------------------------------------------------------------------------------------
def test_alarm_patterns_match_their_alarms_and_states_only() -> None:
    arns = [alarm_arn("rag-BedrockServerErrors"), alarm_arn("rag-BedrockThrottles")]
    on_alarm, on_ok = a.alarm_state_pattern(arns, a.ALARM), a.alarm_state_pattern(arns, a.OK)
    fired = alarm_event("rag-BedrockThrottles", "ALARM", "OK")
    assert a.matches(on_alarm, fired) and not a.matches(on_ok, fired)
    assert a.matches(on_ok, alarm_event("rag-BedrockServerErrors", "OK", "ALARM"))
    assert not a.matches(on_alarm, alarm_event("someone-elses-alarm", "ALARM", "OK"))
    assert not a.matches(on_alarm, alarm_event("rag-BedrockThrottles", "INSUFFICIENT_DATA", "OK"))
    assert not a.matches(on_alarm, {**fired, "source": "aws.events"})
    with pytest.raises(ValueError, match="state is 'INSUFFICIENT_DATA'"):
        a.alarm_state_pattern(arns, "INSUFFICIENT_DATA")


def test_inputs_are_lists_of_strings_with_the_alarm_name_from_the_event() -> None:
    event = alarm_event("rag-Api5xx", "ALARM", "OK")
    sent = a.transform_input(throttle_inputs(a.APPLY), event)
    assert sent["AlarmName"] == ["rag-Api5xx"] and sent["Mode"] == ["apply"]
    assert all(isinstance(v, list) and len(v) == 1 and isinstance(v[0], str) for v in sent.values())
    assert set(sent) == set(a.api_throttle_document()["parameters"])  # every parameter, nothing else
    assert set(a.transform_input(failover_inputs(a.RESTORE), event)) == set(a.model_failover_document()["parameters"])
    assert set(a.transform_input(rollback_inputs(a.RECORD_OK), event)) == set(
        a.prompt_rollback_document()["parameters"]
    )
    assert a.ALARM_NAME == a.EventPath("$.detail.alarmName")
    with pytest.raises(ValueError, match="mode is 'record-ok': allowed are apply, restore"):
        failover_inputs(a.RECORD_OK)
    assert a.format_limit(2) == "2" and a.format_limit(0.5) == "0.5" and a.format_limit(12.25) == "12.25"
