"""Self-healing runbooks (Level 3) as plain data: SSM Automation documents, a validator and a simulator.

Nothing here imports the CDK, so the same code serves three masters:

- :class:`~llm_observability.constructs.runbooks.RemediationRunbooks` puts the documents into
  ``AWS::SSM::Document`` resources, validates them at synth (:func:`validate_document`), builds the
  EventBridge rule patterns (:func:`alarm_state_pattern`) and the automation input of each rule
  (:func:`model_failover_input` and friends);
- tests replay the whole loop offline: an alarm state-change event is matched and transformed
  the way EventBridge does it (:func:`matches`, :func:`transform_input`) and the document is run by
  :func:`simulate` against fake AWS clients;
- operators read the documents as the single description of what a runbook does.

The three runbooks change what the RAG function reads at run time (an SSM parameter it caches for a
minute, or the API stage's throttling), so a runbook heals the application without a deployment:

===================  =============================  ===================================================
runbook              on ALARM (``Mode=apply``)      on OK
===================  =============================  ===================================================
model failover       model parameter := fallback    ``Mode=restore``: model parameter := primary
prompt rollback      prompt parameter := version-1  ``Mode=record-ok``: only recorded (no roll forward)
API throttle         stage limits := tightened      ``Mode=restore``: stage limits := normal
===================  =============================  ===================================================

Every run, whatever its mode, publishes one SNS message naming the alarm, the mode and the values
before and after, so the alert topic is the audit trail of self-healing. A step that fails jumps to a
step recording the failure (the automation still ends as Failed).

Caveats a reader should know: EventBridge delivers at least once, so a duplicated ALARM event runs a
runbook twice (harmless for failover and throttling, which set fixed values; a prompt rollback would
step back two versions, and says so in two messages). The parameters are CloudFormation resources: a
deployment that changes their value overwrites what a runbook set.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SCHEMA_VERSION = "0.3"
ASSUME_ROLE = "{{ AutomationAssumeRole }}"

MODEL_FAILOVER = "model_failover"
PROMPT_ROLLBACK = "prompt_rollback"
API_THROTTLE = "api_throttle"

APPLY = "apply"
RESTORE = "restore"
RECORD_OK = "record-ok"

ALARM = "ALARM"
OK = "OK"

#: The document ``Mode`` each runbook runs with when its alarms enter a state.
STATE_MODES: Mapping[str, Mapping[str, str]] = {
    MODEL_FAILOVER: {ALARM: APPLY, OK: RESTORE},
    PROMPT_ROLLBACK: {ALARM: APPLY, OK: RECORD_OK},
    API_THROTTLE: {ALARM: APPLY, OK: RESTORE},
}

# --- Parameter patterns (anchored; valid in Python and in Java, which SSM uses) ---------------------------
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
ALARM_NAME_PATTERN = r"^[^\x00-\x1F\x7F]{1,255}$"
PARAMETER_NAME_PATTERN = r"^(?:arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?/?[A-Za-z0-9_.\-/]{1,1011}$"
TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$"
REST_API_ID_PATTERN = r"^[a-z0-9]{10}$"
STAGE_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
RATE_LIMIT_PATTERN = r"^[0-9]{1,5}(?:\.[0-9]{1,3})?$"
BURST_LIMIT_PATTERN = r"^[0-9]{1,4}$"
#: The model ids the RAG function accepts from its model parameter (``functions/rag_api/managed.py``
#: ``MODEL_ID``; a test keeps the two identical), so a runbook can never write a value the function ignores.
FUNCTION_MODEL_ID = (
    r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,3}(?::[a-z0-9-]{1,63}){0,2}"
    r"|arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:(?:[0-9]{12})?:"
    r"(?:foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model"
    r"|custom-model-deployment|imported-model|prompt-router|default-prompt-router)/[A-Za-z0-9.:/_-]{1,256}"
)
MODEL_ID_PATTERN = f"^(?:{FUNCTION_MODEL_ID})$"
#: A prompt version ARN as the RAG function reads it (``managed.py`` ``PROMPT_VERSION_ARN``).
FUNCTION_PROMPT_VERSION_ARN = (
    r"(?P<prompt>arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:prompt/[0-9A-Za-z]{1,64}):"
    r"(?P<version>[1-9][0-9]{0,4})"
)

#: SNS subjects are at most 100 printable ASCII characters, so they name the runbook and mode only;
#: the alarm name (up to 255 characters) goes into the message.
_SUBJECT = "Self-healing: {what}"
_EXECUTION = "Automation execution {{ automation:EXECUTION_ID }} in {{ global:REGION }}."


def _param(description: str, *, pattern: str | None = None, allowed: Sequence[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "String", "description": description}
    if allowed is not None:
        spec["allowedValues"] = list(allowed)
    if pattern is not None:
        spec["allowedPattern"] = pattern
    return spec


def _common_parameters(modes: Mapping[str, str]) -> dict[str, Any]:
    return {
        "AutomationAssumeRole": _param(
            "ARN of the IAM role Automation assumes to run this runbook (allowed exactly the calls below).",
            pattern=ROLE_ARN_PATTERN,
        ),
        "Mode": _param(" ".join(f"{mode}: {meaning}" for mode, meaning in modes.items()), allowed=list(modes)),
        "AlarmName": _param("Name of the alarm whose state change started this run.", pattern=ALARM_NAME_PATTERN),
    }


def _topic_parameter() -> dict[str, Any]:
    return _param("ARN of the SNS topic that records every run.", pattern=TOPIC_ARN_PATTERN)


def _api(name: str, service: str, api: str, description: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": name,
        "action": "aws:executeAwsApi",
        "description": description,
        "inputs": {"Service": service, "Api": api, **inputs},
    }


def _put_parameter(name: str, parameter: str, value: str, description: str, next_step: str) -> dict[str, Any]:
    step = _api(
        name,
        "ssm",
        "PutParameter",
        description,
        Name=f"{{{{ {parameter} }}}}",
        Value=value,
        Type="String",
        Overwrite=True,
    )
    step["nextStep"] = next_step
    return step


def _record(name: str, what: str, message: str) -> dict[str, Any]:
    step = _api(
        name,
        "sns",
        "Publish",
        "Record this run on the alert topic.",
        TopicArn="{{ TopicArn }}",
        Subject=_SUBJECT.format(what=what),
        Message=f"{message} {_EXECUTION}",
    )
    step["isEnd"] = True
    return step


FAILURE_STEP = "RecordFailure"


def _on_failure(step: dict[str, Any]) -> dict[str, Any]:
    """``step`` that, when it fails, still gets the run recorded (the automation ends as Failed)."""
    return {**step, "onFailure": f"step:{FAILURE_STEP}"}


def _record_failure(runbook: str, subject: str, target: str) -> dict[str, Any]:
    return _record(
        FAILURE_STEP,
        subject,
        f"Alarm {{{{ AlarmName }}}} changed state, but the {runbook} runbook (mode {{{{ Mode }}}}) failed: {target} "
        "may be unchanged. The failed step of this execution says why.",
    )


def _mode_branch(name: str, targets: Mapping[str, str]) -> dict[str, Any]:
    # No Default: Mode's allowedValues make the choices exhaustive (StartAutomationExecution rejects others).
    return {
        "name": name,
        "action": "aws:branch",
        "description": "Go where Mode says.",
        "inputs": {
            "Choices": [
                {"NextStep": step, "Variable": "{{ Mode }}", "StringEquals": mode} for mode, step in targets.items()
            ]
        },
    }


def model_failover_document() -> dict[str, Any]:
    """The model-failover runbook: point the RAG function's model parameter at the fallback or the primary.

    ``Mode=apply`` (the alarm fired) writes ``FallbackModelId``, ``Mode=restore`` (the alarm cleared)
    writes ``PrimaryModelId``; both first read the value in use and then publish what changed.
    """
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": (
            "# Bedrock model failover\n\nPoints the SSM parameter the RAG function reads its model id from "
            "(cached 60 s) at the fallback model while an alarm on the primary model is in ALARM, and back at "
            "the primary when it returns to OK. Every run is published to the alert topic with the value before "
            "and after."
        ),
        "assumeRole": ASSUME_ROLE,
        "parameters": {
            **_common_parameters(
                {
                    APPLY: "switch to the fallback model (the alarm fired).",
                    RESTORE: "switch back to the primary model (the alarm cleared).",
                }
            ),
            "ModelParameterName": _param(
                "Name of the SSM String parameter holding the model id the RAG function uses.",
                pattern=PARAMETER_NAME_PATTERN,
            ),
            "PrimaryModelId": _param("Model id written on restore.", pattern=MODEL_ID_PATTERN),
            "FallbackModelId": _param("Model id written on apply.", pattern=MODEL_ID_PATTERN),
            "TopicArn": _topic_parameter(),
        },
        "mainSteps": [
            {
                **_on_failure(
                    _api(
                        "ReadActiveModel",
                        "ssm",
                        "GetParameter",
                        "Read the model id in use before changing it.",
                        Name="{{ ModelParameterName }}",
                    )
                ),
                "outputs": [{"Name": "ModelIdBefore", "Selector": "$.Parameter.Value", "Type": "String"}],
            },
            _mode_branch("ChooseMode", {APPLY: "SwitchToFallback", RESTORE: "SwitchToPrimary"}),
            _on_failure(
                _put_parameter(
                    "SwitchToFallback",
                    "ModelParameterName",
                    "{{ FallbackModelId }}",
                    "Point the function at the fallback model.",
                    "RecordFailover",
                )
            ),
            _record(
                "RecordFailover",
                "model failover applied",
                "Alarm {{ AlarmName }} is in ALARM, so the model failover runbook ran in mode {{ Mode }}: "
                "parameter {{ ModelParameterName }} changed from {{ ReadActiveModel.ModelIdBefore }} to "
                "{{ FallbackModelId }}. The RAG function uses it once its model cache expires (60 s by default).",
            ),
            _on_failure(
                _put_parameter(
                    "SwitchToPrimary",
                    "ModelParameterName",
                    "{{ PrimaryModelId }}",
                    "Point the function back at the primary model.",
                    "RecordRestore",
                )
            ),
            _record(
                "RecordRestore",
                "model failover restored",
                "Alarm {{ AlarmName }} is OK again, so the model failover runbook ran in mode {{ Mode }}: "
                "parameter {{ ModelParameterName }} changed from {{ ReadActiveModel.ModelIdBefore }} to "
                "{{ PrimaryModelId }}.",
            ),
            _record_failure("model failover", "model failover failed", "parameter {{ ModelParameterName }}"),
        ],
        "outputs": ["ReadActiveModel.ModelIdBefore"],
    }


#: The one computation a declarative step cannot do: the ARN of the version before the active one.
PREVIOUS_VERSION_SCRIPT = f'''import re

VERSION_ARN = re.compile(r"{FUNCTION_PROMPT_VERSION_ARN}")


def previous_version(events, context):
    """The prompt ARN, the version before the active one, and that version's ARN."""
    active = str(events["ActiveVersionArn"]).strip()
    match = VERSION_ARN.fullmatch(active)
    if match is None:
        raise ValueError(
            f"The prompt parameter holds {{active!r}}, not a prompt version ARN "
            "(arn:aws:bedrock:<region>:<account>:prompt/<id>:<version>); nothing was changed."
        )
    version = int(match["version"])
    if version <= 1:
        raise ValueError(
            f"The active prompt version {{active}} is version 1: there is no earlier version to roll back to; "
            "nothing was changed."
        )
    previous = str(version - 1)
    return {{
        "PromptArn": match["prompt"],
        "PreviousVersion": previous,
        "PreviousVersionArn": f"{{match['prompt']}}:{{previous}}",
    }}
'''


def prompt_rollback_document() -> dict[str, Any]:
    """The prompt-rollback runbook: point the prompt parameter at the version before the active one.

    ``Mode=apply`` reads the active prompt version ARN (``...:prompt/<id>:<n>``), computes version
    ``n-1`` (refusing to go below 1), checks with ``bedrock-agent GetPrompt`` that the version exists,
    writes its ARN and publishes the change. A refusal or failure is published too, and the automation
    ends as Failed.

    There is no restore: when the quality alarm returns to OK, the rolled-back version is the known-good
    one, and rolling forward again is a human decision (the bad version may still be bad). The OK
    transition is still recorded (``Mode=record-ok`` only publishes).
    """
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": (
            "# Prompt rollback\n\nWhen a quality alarm fires, points the SSM parameter holding the active "
            "Bedrock Prompt Management version (read by the RAG function, cached 60 s) at the previous version, "
            "after checking that it exists. Version 1 is never rolled back. When the alarm clears, the run is only "
            "recorded: the rolled-back version is the known-good one and rolling forward is a human decision."
        ),
        "assumeRole": ASSUME_ROLE,
        "parameters": {
            **_common_parameters(
                {
                    APPLY: "roll back to the previous prompt version (the alarm fired).",
                    RECORD_OK: "only record that the alarm cleared (no roll forward).",
                }
            ),
            "PromptParameterName": _param(
                "Name of the SSM String parameter holding the active prompt version ARN.",
                pattern=PARAMETER_NAME_PATTERN,
            ),
            "TopicArn": _topic_parameter(),
        },
        "mainSteps": [
            {
                **_on_failure(
                    _api(
                        "ReadActiveVersion",
                        "ssm",
                        "GetParameter",
                        "Read the active prompt version ARN.",
                        Name="{{ PromptParameterName }}",
                    )
                ),
                "outputs": [{"Name": "ActiveVersionArn", "Selector": "$.Parameter.Value", "Type": "String"}],
            },
            _mode_branch("ChooseMode", {APPLY: "ComputePreviousVersion", RECORD_OK: "RecordRecovery"}),
            {
                "name": "ComputePreviousVersion",
                "action": "aws:executeScript",
                "description": "Compute the previous version's ARN; fail on version 1 or a malformed value.",
                "onFailure": "step:RecordRefusal",
                "inputs": {
                    "Runtime": "python3.11",
                    "Handler": "previous_version",
                    "Script": PREVIOUS_VERSION_SCRIPT,
                    "InputPayload": {"ActiveVersionArn": "{{ ReadActiveVersion.ActiveVersionArn }}"},
                },
                "outputs": [
                    {"Name": "PromptArn", "Selector": "$.Payload.PromptArn", "Type": "String"},
                    {"Name": "PreviousVersion", "Selector": "$.Payload.PreviousVersion", "Type": "String"},
                    {"Name": "PreviousVersionArn", "Selector": "$.Payload.PreviousVersionArn", "Type": "String"},
                ],
            },
            {
                "name": "CheckPreviousVersion",
                "action": "aws:assertAwsResourceProperty",
                "description": "Make sure the previous version still exists in Prompt Management.",
                "onFailure": "step:RecordRefusal",
                "inputs": {
                    "Service": "bedrock-agent",
                    "Api": "GetPrompt",
                    "promptIdentifier": "{{ ComputePreviousVersion.PromptArn }}",
                    "promptVersion": "{{ ComputePreviousVersion.PreviousVersion }}",
                    "PropertySelector": "$.version",
                    "DesiredValues": ["{{ ComputePreviousVersion.PreviousVersion }}"],
                },
            },
            {
                **_put_parameter(
                    "PutPreviousVersion",
                    "PromptParameterName",
                    "{{ ComputePreviousVersion.PreviousVersionArn }}",
                    "Point the function at the previous prompt version.",
                    "RecordRollback",
                ),
                "onFailure": "step:RecordRefusal",
            },
            _record(
                "RecordRollback",
                "prompt rolled back",
                "Alarm {{ AlarmName }} is in ALARM, so the prompt rollback runbook ran in mode {{ Mode }}: "
                "parameter {{ PromptParameterName }} changed from {{ ReadActiveVersion.ActiveVersionArn }} to "
                "{{ ComputePreviousVersion.PreviousVersionArn }}. Rolling forward again is a human decision.",
            ),
            _record(
                "RecordRecovery",
                "prompt quality alarm cleared",
                "Alarm {{ AlarmName }} is OK again; the prompt rollback runbook ran in mode {{ Mode }} and changed "
                "nothing: parameter {{ PromptParameterName }} stays at {{ ReadActiveVersion.ActiveVersionArn }} "
                "(the known-good version). Rolling forward is a human decision.",
            ),
            _record(
                "RecordRefusal",
                "prompt rollback refused",
                "Alarm {{ AlarmName }} is in ALARM, but the prompt rollback runbook (mode {{ Mode }}) changed "
                "nothing: parameter {{ PromptParameterName }} stays at {{ ReadActiveVersion.ActiveVersionArn }} "
                "because there is no earlier version, or it no longer exists, or it could not be written. "
                "The failed step of this execution says which.",
            ),
            _record_failure("prompt rollback", "prompt rollback failed", "parameter {{ PromptParameterName }}"),
        ],
        "outputs": ["ReadActiveVersion.ActiveVersionArn", "ComputePreviousVersion.PreviousVersionArn"],
    }


RATE_LIMIT_PATH = "/*/*/throttling/rateLimit"
BURST_LIMIT_PATH = "/*/*/throttling/burstLimit"


def _update_stage(name: str, rate: str, burst: str, description: str, next_step: str) -> dict[str, Any]:
    step = _api(
        name,
        "apigateway",
        "UpdateStage",
        description,
        restApiId="{{ RestApiId }}",
        stageName="{{ StageName }}",
        patchOperations=[
            {"op": "replace", "path": RATE_LIMIT_PATH, "value": f"{{{{ {rate} }}}}"},
            {"op": "replace", "path": BURST_LIMIT_PATH, "value": f"{{{{ {burst} }}}}"},
        ],
    )
    step["nextStep"] = next_step
    return step


def api_throttle_document() -> dict[str, Any]:
    """The API-throttle runbook: tighten the stage-wide throttling of an API Gateway stage, or restore it.

    ``Mode=apply`` sets the ``*/*`` method settings' rate and burst limits to the tightened values,
    ``Mode=restore`` to the normal ones (API Gateway takes them as strings), then the run is published.
    """
    limit = "Requests per second, as a number."
    burst = "Requests, as a whole number."
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": (
            "# API throttle\n\nWhile a cost or traffic alarm is in ALARM, tightens the stage-wide throttling of the "
            "API Gateway stage in front of the RAG function; restores the normal limits when it returns to OK. "
            "Every run is published to the alert topic."
        ),
        "assumeRole": ASSUME_ROLE,
        "parameters": {
            **_common_parameters(
                {
                    APPLY: "apply the tightened limits (the alarm fired).",
                    RESTORE: "restore the normal limits (the alarm cleared).",
                }
            ),
            "RestApiId": _param("Id of the REST API.", pattern=REST_API_ID_PATTERN),
            "StageName": _param("Name of the stage whose throttling changes.", pattern=STAGE_NAME_PATTERN),
            "NormalRateLimit": _param(f"Stage rate limit restored on OK. {limit}", pattern=RATE_LIMIT_PATTERN),
            "NormalBurstLimit": _param(f"Stage burst limit restored on OK. {burst}", pattern=BURST_LIMIT_PATTERN),
            "TightenedRateLimit": _param(f"Stage rate limit while in ALARM. {limit}", pattern=RATE_LIMIT_PATTERN),
            "TightenedBurstLimit": _param(f"Stage burst limit while in ALARM. {burst}", pattern=BURST_LIMIT_PATTERN),
            "TopicArn": _topic_parameter(),
        },
        "mainSteps": [
            _mode_branch("ChooseMode", {APPLY: "TightenThrottling", RESTORE: "RestoreThrottling"}),
            _on_failure(
                _update_stage(
                    "TightenThrottling",
                    "TightenedRateLimit",
                    "TightenedBurstLimit",
                    "Apply the tightened stage-wide limits.",
                    "RecordTightened",
                )
            ),
            _record(
                "RecordTightened",
                "API throttling tightened",
                "Alarm {{ AlarmName }} is in ALARM, so the API throttle runbook ran in mode {{ Mode }}: stage "
                "{{ StageName }} of REST API {{ RestApiId }} now allows {{ TightenedRateLimit }} requests/s "
                "(burst {{ TightenedBurstLimit }}) instead of {{ NormalRateLimit }} (burst {{ NormalBurstLimit }}).",
            ),
            _on_failure(
                _update_stage(
                    "RestoreThrottling",
                    "NormalRateLimit",
                    "NormalBurstLimit",
                    "Restore the normal stage-wide limits.",
                    "RecordRestored",
                )
            ),
            _record(
                "RecordRestored",
                "API throttling restored",
                "Alarm {{ AlarmName }} is OK again, so the API throttle runbook ran in mode {{ Mode }}: stage "
                "{{ StageName }} of REST API {{ RestApiId }} allows {{ NormalRateLimit }} requests/s "
                "(burst {{ NormalBurstLimit }}) again, up from {{ TightenedRateLimit }} (burst {{ TightenedBurstLimit }}).",
            ),
            _record_failure("API throttle", "API throttle failed", "the throttling of stage {{ StageName }}"),
        ],
    }


#: Builder of each runbook's document.
DOCUMENTS: Mapping[str, Callable[[], dict[str, Any]]] = {
    MODEL_FAILOVER: model_failover_document,
    PROMPT_ROLLBACK: prompt_rollback_document,
    API_THROTTLE: api_throttle_document,
}


# =====================================================================================================
# EventBridge side: which events start a runbook, and with which input
# =====================================================================================================
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


@dataclass(frozen=True)
class EventPath:
    """A value EventBridge takes from the matched event (an input-transformer path such as ``$.detail.x``)."""

    path: str


#: The name of the alarm that changed state, taken from the event.
ALARM_NAME = EventPath("$.detail.alarmName")

InputValue = str | EventPath


def alarm_state_pattern(alarm_arns: Sequence[str], state: str) -> dict[str, Any]:
    """EventBridge pattern of the state changes of ``alarm_arns`` into ``state`` (``ALARM`` or ``OK``)."""
    if state not in (ALARM, OK):
        raise ValueError(f"state is {state!r}: allowed are {ALARM}, {OK}.")
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": [ALARM_STATE_CHANGE],
        "resources": list(alarm_arns),
        "detail": {"state": {"value": [state]}},
    }


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches ``pattern`` (EventBridge exact-value matching; what the patterns above use)."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        else:
            values = value if isinstance(value, list) else [value]
            if not any(v in wanted for v in values):
                return False
    return True


def _input(runbook: str, mode: str, assume_role_arn: str, **values: str) -> dict[str, list[InputValue]]:
    if mode not in STATE_MODES[runbook].values():
        raise ValueError(f"mode is {mode!r}: allowed are {', '.join(STATE_MODES[runbook].values())}.")
    parameters: dict[str, list[InputValue]] = {
        "AutomationAssumeRole": [assume_role_arn],
        "Mode": [mode],
        "AlarmName": [ALARM_NAME],
    }
    parameters.update({name: [value] for name, value in values.items()})
    return parameters


def model_failover_input(
    mode: str, *, assume_role_arn: str, model_parameter_name: str, primary_model_id: str, fallback_model_id: str,
    topic_arn: str,
) -> dict[str, list[InputValue]]:  # fmt: skip
    """Parameters of the model-failover document, as the EventBridge target passes them."""
    return _input(
        MODEL_FAILOVER, mode, assume_role_arn, ModelParameterName=model_parameter_name,
        PrimaryModelId=primary_model_id, FallbackModelId=fallback_model_id, TopicArn=topic_arn,
    )  # fmt: skip


def prompt_rollback_input(
    mode: str, *, assume_role_arn: str, prompt_parameter_name: str, topic_arn: str
) -> dict[str, list[InputValue]]:
    """Parameters of the prompt-rollback document, as the EventBridge target passes them."""
    return _input(PROMPT_ROLLBACK, mode, assume_role_arn, PromptParameterName=prompt_parameter_name, TopicArn=topic_arn)


def format_limit(value: float) -> str:
    """A throttling limit as API Gateway's patch operations take it (``2``, ``0.5``, ``10``)."""
    return f"{value:g}"


def api_throttle_input(
    mode: str, *, assume_role_arn: str, rest_api_id: str, stage_name: str, normal_rate_limit: float,
    normal_burst_limit: int, tightened_rate_limit: float, tightened_burst_limit: int, topic_arn: str,
) -> dict[str, list[InputValue]]:  # fmt: skip
    """Parameters of the API-throttle document, as the EventBridge target passes them."""
    return _input(
        API_THROTTLE, mode, assume_role_arn, RestApiId=rest_api_id, StageName=stage_name,
        NormalRateLimit=format_limit(normal_rate_limit), NormalBurstLimit=str(int(normal_burst_limit)),
        TightenedRateLimit=format_limit(tightened_rate_limit), TightenedBurstLimit=str(int(tightened_burst_limit)),
        TopicArn=topic_arn,
    )  # fmt: skip


def transform_input(parameters: Mapping[str, Sequence[InputValue]], event: Mapping[str, Any]) -> dict[str, list[str]]:
    """What EventBridge's input transformer sends for ``event``: every :class:`EventPath` replaced by its value."""
    return {
        name: [select(event, value.path) if isinstance(value, EventPath) else value for value in values]
        for name, values in parameters.items()
    }


# =====================================================================================================
# JSONPath subset: $.a.b, $.a[0], $.a['key with / or *']
# =====================================================================================================
_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]")


def _path_parts(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ValueError(f"path {path!r} does not start with $")
    parts: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"path {path!r} is not of the form $.a.b[0]['c']")
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (name if name is not None else quoted))
        position = match.end()
    return parts


def select(document: Any, path: str) -> Any:
    """The value at ``path`` (a JSONPath subset) in ``document``; ``KeyError`` when there is none."""
    value = document
    for part in _path_parts(path):
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{path} selects nothing") from None
    return value


# =====================================================================================================
# Validator
# =====================================================================================================
@dataclass(frozen=True)
class ActionSpec:
    """Inputs an Automation action takes; ``api_inputs``: also the members of ``Service``/``Api``'s request."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    api_inputs: bool = False


def _spec(required: Sequence[str], optional: Sequence[str] = (), api_inputs: bool = False) -> ActionSpec:
    return ActionSpec(frozenset(required), frozenset(optional), api_inputs)


#: Automation actions of schema 0.3 the validator knows, with their inputs. Source: AWS Systems Manager User
#: Guide, "Systems Manager Automation actions reference" (automation-actions.html) and its per-action pages
#: (automation-action-executeAwsApi.html, -executeScript, -branch, -sleep, -assertAwsResourceProperty,
#: -waitForAwsResourceProperty, -pause, -approve); shared step properties from "Properties shared by all
#: actions"; system variables from "Automation system variables" (automation-variables.html).
ACTIONS: Mapping[str, ActionSpec] = {
    "aws:executeAwsApi": _spec(("Service", "Api"), api_inputs=True),
    "aws:assertAwsResourceProperty": _spec(("Service", "Api", "PropertySelector", "DesiredValues"), api_inputs=True),
    "aws:waitForAwsResourceProperty": _spec(("Service", "Api", "PropertySelector", "DesiredValues"), api_inputs=True),
    "aws:executeScript": _spec(("Runtime", "Handler"), ("Script", "InputPayload", "Attachment")),
    "aws:branch": _spec(("Choices",), ("Default",)),
    "aws:sleep": _spec((), ("Duration", "Timestamp")),
    "aws:pause": _spec(()),
    "aws:approve": _spec(("Approvers",), ("Message", "NotificationArn", "MinRequiredApprovals")),
}
#: Runtimes aws:executeScript accepts for new runbooks (Python 3.6-3.8 were retired in 2024/2025).
SCRIPT_RUNTIMES = ("python3.11", "PowerShell 7.4")
STEP_PROPERTIES = frozenset(
    {"name", "action", "inputs", "outputs", "description", "maxAttempts", "timeoutSeconds", "onFailure", "onCancel",
     "isEnd", "isCritical", "nextStep"}
)  # fmt: skip
DOCUMENT_PROPERTIES = frozenset(
    {"schemaVersion", "description", "assumeRole", "parameters", "mainSteps", "outputs", "files"}
)
PARAMETER_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
PARAMETER_PROPERTIES = frozenset(
    {"type", "description", "default", "allowedValues", "allowedPattern", "displayType", "minItems", "maxItems",
     "minChars", "maxChars"}
)  # fmt: skip
OUTPUT_TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")
SYSTEM_VARIABLES = frozenset(
    {"global:ACCOUNT_ID", "global:DATE", "global:DATE_TIME", "global:AWS_PARTITION", "global:REGION",
     "automation:EXECUTION_ID"}
)  # fmt: skip
BRANCH_OPERATORS = frozenset(
    {"StringEquals", "EqualsIgnoreCase", "StartsWith", "EndsWith", "Contains", "NumericEquals", "NumericGreater",
     "NumericLesser", "NumericGreaterOrEquals", "NumericLesserOrEquals", "BooleanEquals"}
)  # fmt: skip
BRANCH_COMPOSITES = frozenset({"And", "Or", "Not"})

_STEP_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")
_REFERENCE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_DURATION = re.compile(r"^P(?!$)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")


def references(value: Any) -> Iterator[str]:
    """Every ``{{ name }}`` referenced anywhere inside ``value`` (strings, lists and dicts)."""
    if isinstance(value, str):
        yield from _REFERENCE.findall(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REFERENCE.fullmatch(value.strip()) is not None


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def validate_document(doc: Any, *, api_models: bool = True) -> list[str]:
    """Problems of an Automation document (schema 0.3); an empty list means valid.

    Rules: schema version; document, parameter and step properties; parameter types, descriptions,
    allowed values and patterns; unique step names of ``[A-Za-z0-9_]{1,128}``; known actions with their
    required and allowed inputs (:data:`ACTIONS`); ``onFailure``/``onCancel``/``nextStep``/branch targets
    that exist; every ``{{ Parameter }}``, system variable and ``{{ Step.Output }}`` reference resolving
    (a step output only where that step has succeeded on every path to the reference); output selectors
    starting with ``$.`` (``$.Payload`` for scripts); steps that are never reached; Python handlers that
    exist in their script; and, with ``api_models`` (needs botocore), ``Service``/``Api`` pairs that exist
    in botocore's service models, with inputs that are members of the request, required members present
    and literal values of the right JSON type (a ``{{ }}`` reference is accepted for any type).
    """
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        return [f"the document is {_type_name(doc)}, not an object"]
    if doc.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(f"schemaVersion is {doc.get('schemaVersion')!r}: allowed is '0.3' (Automation runbooks)")
    problems.extend(f"unknown document property {key!r}" for key in doc if key not in DOCUMENT_PROPERTIES)
    parameters = doc.get("parameters", {})
    if not isinstance(parameters, Mapping):
        problems.append("parameters must be an object")
        parameters = {}
    for name, spec in parameters.items():
        problems.extend(_check_parameter(name, spec))
    steps = doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        problems.append("mainSteps is missing or empty")
        return problems
    names: list[str] = []
    for position, step in enumerate(steps):
        name = step.get("name") if isinstance(step, Mapping) else None
        if not isinstance(name, str):
            problems.append(f"mainSteps[{position}] has no name")
        elif not _STEP_NAME.fullmatch(name):
            problems.append(f"step name {name!r} does not match [A-Za-z0-9_]{{1,128}}")
        elif name in names:
            problems.append(f"step name {name!r} is used twice")
        names.append(name if isinstance(name, str) else f"#{position}")
    if problems and any("mainSteps[" in p or "used twice" in p for p in problems):
        return problems  # the graph below needs unique names
    by_name = dict(zip(names, steps, strict=True))
    outputs: dict[str, set[str]] = {}
    for name, step in by_name.items():
        problems.extend(_check_step(name, step, by_name, api_models))
        outputs[name] = {o.get("Name") for o in step.get("outputs", []) if isinstance(o, Mapping)}

    available, reachable = _available_outputs(steps, names)
    problems.extend(f"step {name!r} is never reached" for name in names if name not in reachable)
    known = set(parameters) | SYSTEM_VARIABLES
    assume_role = doc.get("assumeRole")
    if assume_role is not None:
        problems.extend(_check_references("assumeRole", assume_role, known, outputs, None))
    for name, step in by_name.items():
        if name in reachable:
            problems.extend(
                _check_references(f"step {name!r}", step.get("inputs", {}), known, outputs, available[name])
            )
    doc_outputs = doc.get("outputs", [])
    if not isinstance(doc_outputs, list):
        problems.append("outputs must be a list of 'Step.Output' names")
    else:
        for item in doc_outputs:
            step_name, _, output = str(item).partition(".")
            if output not in outputs.get(step_name, ()):
                problems.append(f"outputs: {item!r} names no step output")
    return problems


def _check_parameter(name: str, spec: Any) -> list[str]:
    where = f"parameter {name!r}"
    if not _PARAMETER_NAME.fullmatch(str(name)):
        return [f"{where}: the name does not match [A-Za-z0-9_]{{1,128}}"]
    if not isinstance(spec, Mapping):
        return [f"{where} must be an object"]
    problems = [f"{where}: unknown property {key!r}" for key in spec if key not in PARAMETER_PROPERTIES]
    if spec.get("type") not in PARAMETER_TYPES:
        problems.append(f"{where}: type is {spec.get('type')!r}: allowed are {', '.join(PARAMETER_TYPES)}")
    if not isinstance(spec.get("description"), str) or not spec["description"].strip():
        problems.append(f"{where} has no description")
    allowed = spec.get("allowedValues")
    if allowed is not None and (not isinstance(allowed, list) or not allowed):
        problems.append(f"{where}: allowedValues must be a non-empty list")
        allowed = None
    pattern = spec.get("allowedPattern")
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except (re.error, TypeError) as error:
            problems.append(f"{where}: allowedPattern does not compile ({error})")
    if "default" in spec:
        default = spec["default"]
        if allowed is not None and default not in allowed:
            problems.append(f"{where}: default {default!r} is not among allowedValues")
        if compiled is not None and isinstance(default, str) and not compiled.search(default):
            problems.append(f"{where}: default {default!r} does not match allowedPattern")
    return problems


def _step_target(where: str, label: str, target: Any, steps: Mapping[str, Any]) -> list[str]:
    if not isinstance(target, str) or target not in steps:
        return [f"{where}: {label} {target!r} names no step"]
    return []


def _check_step(name: str, step: Mapping[str, Any], steps: Mapping[str, Any], api_models: bool) -> list[str]:
    where = f"step {name!r}"
    problems = [f"{where}: unknown property {key!r}" for key in step if key not in STEP_PROPERTIES]
    action = step.get("action")
    spec = ACTIONS.get(action) if isinstance(action, str) else None
    if spec is None:
        problems.append(f"{where}: unknown action {action!r}: allowed are {', '.join(sorted(ACTIONS))}")
    inputs = step.get("inputs", {})
    if not isinstance(inputs, Mapping):
        problems.append(f"{where}: inputs must be an object")
        inputs = {}
    # shared properties
    on_failure = step.get("onFailure", "Abort")
    if on_failure not in ("Abort", "Continue"):
        if isinstance(on_failure, str) and on_failure.startswith("step:"):
            problems.extend(_step_target(where, "onFailure", on_failure[5:], steps))
        else:
            problems.append(f"{where}: onFailure is {on_failure!r}: allowed are Abort, Continue, step:<name>")
    on_cancel = step.get("onCancel", "Abort")
    if on_cancel != "Abort":
        if isinstance(on_cancel, str) and on_cancel.startswith("step:"):
            problems.extend(_step_target(where, "onCancel", on_cancel[5:], steps))
        else:
            problems.append(f"{where}: onCancel is {on_cancel!r}: allowed are Abort, step:<name>")
    if "nextStep" in step:
        problems.extend(_step_target(where, "nextStep", step["nextStep"], steps))
    for flag in ("isEnd", "isCritical"):
        if flag in step and not isinstance(step[flag], bool):
            problems.append(f"{where}: {flag} must be true or false")
    for number in ("maxAttempts", "timeoutSeconds"):
        value = step.get(number, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{where}: {number} must be a whole number of at least 1")
    problems.extend(_check_outputs(where, action, step.get("outputs", [])))
    if spec is None:
        return problems
    # inputs
    problems.extend(f"{where}: {action} lacks required input {key!r}" for key in sorted(spec.required - set(inputs)))
    if not spec.api_inputs:
        allowed = spec.required | spec.optional
        problems.extend(f"{where}: {action} does not take input {key!r}" for key in inputs if key not in allowed)
    if action == "aws:branch":
        problems.extend(_check_branch(where, inputs, steps))
    elif action == "aws:executeScript":
        problems.extend(_check_script(where, inputs))
    elif action == "aws:sleep":
        given = [key for key in ("Duration", "Timestamp") if key in inputs]
        if len(given) != 1:
            problems.append(f"{where}: aws:sleep needs exactly one of Duration, Timestamp")
        elif (
            given == ["Duration"]
            and not _is_reference(inputs["Duration"])
            and not _DURATION.fullmatch(str(inputs["Duration"]))
        ):
            problems.append(f"{where}: Duration {inputs['Duration']!r} is not an ISO 8601 duration such as PT5M")
    elif action == "aws:approve":
        approvers = inputs.get("Approvers")
        if (
            "Approvers" in inputs
            and not _is_reference(approvers)
            and (not isinstance(approvers, list) or not approvers)
        ):
            problems.append(f"{where}: Approvers must be a non-empty list")
    if spec.api_inputs and not ({"Service", "Api"} - set(inputs)):
        extra = {"PropertySelector", "DesiredValues"} if action != "aws:executeAwsApi" else set()
        if extra:
            selector = inputs.get("PropertySelector")
            if not isinstance(selector, str) or not selector.startswith("$."):
                problems.append(f"{where}: PropertySelector {selector!r} must start with '$.'")
            if not isinstance(inputs.get("DesiredValues"), list) or not inputs["DesiredValues"]:
                problems.append(f"{where}: DesiredValues must be a non-empty list")
        if api_models:
            request = {key: value for key, value in inputs.items() if key not in {"Service", "Api"} | extra}
            problems.extend(_check_api(where, inputs["Service"], inputs["Api"], request))
    return problems


def _check_outputs(where: str, action: Any, outputs: Any) -> list[str]:
    if not isinstance(outputs, list):
        return [f"{where}: outputs must be a list"]
    problems: list[str] = []
    seen: set[str] = set()
    for output in outputs:
        if not isinstance(output, Mapping) or not isinstance(output.get("Name"), str):
            problems.append(f"{where}: every output needs a Name")
            continue
        name, selector = output["Name"], output.get("Selector")
        if name in seen:
            problems.append(f"{where}: output {name!r} is declared twice")
        seen.add(name)
        if not isinstance(selector, str) or not selector.startswith("$."):
            problems.append(f"{where}: output {name!r} selector {selector!r} must start with '$.'")
        elif action == "aws:executeScript" and not selector.startswith("$.Payload"):
            problems.append(
                f"{where}: output {name!r} selector {selector!r} must start with '$.Payload' (the script's return value)"
            )
        if output.get("Type", "String") not in OUTPUT_TYPES:
            problems.append(
                f"{where}: output {name!r} type {output.get('Type')!r}: allowed are {', '.join(OUTPUT_TYPES)}"
            )
    return problems


def _check_branch(where: str, inputs: Mapping[str, Any], steps: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    choices = inputs.get("Choices")
    if not isinstance(choices, list) or not choices:
        return [f"{where}: Choices must be a non-empty list"]
    for number, choice in enumerate(choices, 1):
        label = f"{where}: choice {number}"
        if not isinstance(choice, Mapping):
            problems.append(f"{label} must be an object")
            continue
        problems.extend(_step_target(label, "NextStep", choice.get("NextStep"), steps))
        problems.extend(_check_condition(label, {k: v for k, v in choice.items() if k != "NextStep"}))
    if "Default" in inputs:
        problems.extend(_step_target(where, "Default", inputs["Default"], steps))
    return problems


def _check_condition(label: str, condition: Mapping[str, Any]) -> list[str]:
    composites = [key for key in condition if key in BRANCH_COMPOSITES]
    if composites:
        if len(condition) != 1:
            return [f"{label}: {composites[0]} must stand alone"]
        parts = condition[composites[0]]
        if not isinstance(parts, list) or not parts or (composites[0] == "Not" and len(parts) != 1):
            return [
                f"{label}: {composites[0]} needs a list of {'one condition' if composites[0] == 'Not' else 'conditions'}"
            ]
        return [p for part in parts for p in _check_condition(label, part if isinstance(part, Mapping) else {})]
    operators = [key for key in condition if key in BRANCH_OPERATORS]
    unknown = [key for key in condition if key not in BRANCH_OPERATORS and key != "Variable"]
    problems = [f"{label}: unknown operator {key!r}" for key in unknown]
    if len(operators) != 1:
        problems.append(f"{label} needs exactly one operator of {', '.join(sorted(BRANCH_OPERATORS))}")
    if not _is_reference(condition.get("Variable")):
        problems.append(f"{label}: Variable {condition.get('Variable')!r} must be one {{{{ }}}} reference")
    return problems


def _check_script(where: str, inputs: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    runtime = inputs.get("Runtime")
    if runtime not in SCRIPT_RUNTIMES:
        problems.append(f"{where}: Runtime {runtime!r} is not supported: allowed are {', '.join(SCRIPT_RUNTIMES)}")
    if "Script" not in inputs and "Attachment" not in inputs:
        problems.append(f"{where}: aws:executeScript needs Script or Attachment")
    if "InputPayload" in inputs and not isinstance(inputs["InputPayload"], Mapping):
        problems.append(f"{where}: InputPayload must be an object")
    script, handler = inputs.get("Script"), inputs.get("Handler")
    if (
        isinstance(script, str)
        and isinstance(handler, str)
        and isinstance(runtime, str)
        and runtime.startswith("python")
    ):
        try:
            tree = ast.parse(script)
        except SyntaxError as error:
            return [*problems, f"{where}: Script does not parse: {error.msg} (line {error.lineno})"]
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        function = functions.get(handler)
        if function is None:
            problems.append(f"{where}: Script defines no function {handler!r} (the Handler)")
        elif len(function.args.args) != 2:
            problems.append(f"{where}: handler {handler!r} must take (events, context)")
    return problems


@cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def _operation(service: str, api: str) -> Any:
    """botocore's operation model, or a one-sentence reason it does not exist."""
    session = _botocore_session()
    if service not in session.get_available_services():
        return f"unknown service {service!r} (use a boto3 service name such as ssm, sns, apigateway, bedrock-agent)"
    model = session.get_service_model(service)
    if api not in model.operation_names:
        from botocore import xform_name

        meant = next((name for name in model.operation_names if xform_name(name) == api), None)
        hint = (
            f"the operation name is {meant}" if meant else "use an operation name such as " + model.operation_names[0]
        )
        return f"{service} has no API {api!r} ({hint})"
    return model.operation_model(api)


def _check_api(where: str, service: Any, api: Any, request: Mapping[str, Any]) -> list[str]:
    if _is_reference(service) or _is_reference(api):
        return []
    operation = _operation(str(service), str(api))
    if isinstance(operation, str):
        return [f"{where}: {operation}"]
    shape = operation.input_shape
    label = f"{where}: {service} {api}"
    if shape is None:
        return [f"{label} has no input {key!r}" for key in request]
    problems = [f"{label} has no input {key!r}" for key in request if key not in shape.members]
    problems.extend(f"{label} lacks required input {key!r}" for key in shape.required_members if key not in request)
    for key, value in request.items():
        if key in shape.members:
            problems.extend(_check_value(f"{label} input {key!r}", value, shape.members[key]))
    return problems


_SHAPE_TYPES: Mapping[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "a string"), "timestamp": ((str,), "a string"), "blob": ((str,), "a string"),
    "boolean": ((bool,), "a boolean"), "integer": ((int,), "an integer"), "long": ((int,), "an integer"),
    "float": ((int, float), "a number"), "double": ((int, float), "a number"), "list": ((list,), "a list"),
    "structure": ((dict,), "an object"), "map": ((dict,), "an object"),
}  # fmt: skip
_NUMBERS = frozenset({"integer", "long", "float", "double"})


def _check_value(where: str, value: Any, shape: Any) -> list[str]:
    if _is_reference(value):
        return []
    kind = shape.type_name
    expected, label = _SHAPE_TYPES.get(kind, ((object,), kind))
    if not isinstance(value, expected) or (kind in _NUMBERS and isinstance(value, bool)):
        return [f"{where} must be {label}, not {_type_name(value)}"]
    if kind == "string" and shape.enum and not _REFERENCE.search(value) and value not in shape.enum:
        return [f"{where} is {value!r}: allowed are {', '.join(shape.enum)}"]
    if kind == "list":
        return [p for i, item in enumerate(value) for p in _check_value(f"{where}[{i}]", item, shape.member)]
    if kind == "map":
        return [p for k, item in value.items() for p in _check_value(f"{where}[{k!r}]", item, shape.value)]
    if kind == "structure":
        problems = [f"{where} has no member {key!r}" for key in value if key not in shape.members]
        problems.extend(f"{where} lacks required member {key!r}" for key in shape.required_members if key not in value)
        for key, item in value.items():
            if key in shape.members:
                problems.extend(_check_value(f"{where}.{key}", item, shape.members[key]))
        return problems
    return []


def _edges(steps: Sequence[Mapping[str, Any]], names: Sequence[str]) -> Iterator[tuple[str, str, bool]]:
    """Control-flow edges ``(from, to, on_success)`` between steps."""
    known = set(names)
    for position, (name, step) in enumerate(zip(names, steps, strict=True)):
        following = names[position + 1] if position + 1 < len(names) else None
        inputs = step.get("inputs", {}) if isinstance(step.get("inputs", {}), Mapping) else {}
        if step.get("action") == "aws:branch":
            choices = inputs.get("Choices") if isinstance(inputs.get("Choices"), list) else []
            targets = [c.get("NextStep") for c in choices if isinstance(c, Mapping)]
            targets.append(inputs.get("Default", following))
        elif step.get("isEnd") is True:
            targets = []
        else:
            targets = [step.get("nextStep", following)]
        for target in targets:
            if target in known:
                yield name, target, True
        on_failure = step.get("onFailure", "Abort")
        failure_target = step.get("nextStep", following) if on_failure == "Continue" else None
        if isinstance(on_failure, str) and on_failure.startswith("step:"):
            failure_target = on_failure[5:]
        if failure_target in known:
            yield name, failure_target, False


def _available_outputs(
    steps: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> tuple[dict[str, set[str]], set[str]]:
    """For each step, the steps that have succeeded on every path to it; and the reachable steps."""
    edges = list(_edges(steps, names))
    reachable = {names[0]}
    frontier = [names[0]]
    while frontier:
        current = frontier.pop()
        for source, target, _ in edges:
            if source == current and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    everything = set(names)
    available = {name: set(everything) for name in names}
    available[names[0]] = set()
    changed = True
    while changed:
        changed = False
        for name in names[1:]:
            incoming = [
                available[source] | ({source} if success else set())
                for source, target, success in edges
                if target == name and source in reachable
            ]
            new = set.intersection(*incoming) if incoming else set()
            if new != available[name]:
                available[name] = new
                changed = True
    return available, reachable


def _check_references(
    where: str, value: Any, known: set[str], outputs: Mapping[str, set[str]], available: set[str] | None
) -> list[str]:
    problems: list[str] = []
    for reference in dict.fromkeys(references(value)):
        if reference in known:
            continue
        step, dot, output = reference.partition(".")
        if not dot or ":" in reference:
            problems.append(f"{where}: reference {{{{ {reference} }}}} names no parameter")
        elif output not in outputs.get(step, ()):
            problems.append(f"{where}: reference {{{{ {reference} }}}} names no output of step {step!r}")
        elif available is not None and step not in available:
            problems.append(f"{where}: reference {{{{ {reference} }}}} is not set on every path to this step")
    return problems


# =====================================================================================================
# Simulator
# =====================================================================================================
class SimulationError(Exception):
    """The automation could not start (bad parameters) or uses something the simulator does not support."""


class StepFailed(Exception):
    """A step failed; the message is what Automation would show for it."""


def run_python_script(script: str, handler: str, payload: Mapping[str, Any]) -> Any:
    """Run an ``aws:executeScript`` Python script in-process: ``handler(InputPayload, None)``."""
    namespace: dict[str, Any] = {"__name__": "automation_script"}
    exec(compile(script, "<aws:executeScript>", "exec"), namespace)  # noqa: S102 - our own runbook's script
    return namespace[handler](dict(payload), None)


@dataclass
class Execution:
    """The outcome of :func:`simulate`."""

    status: str  # "Success" or "Failed"
    steps: list[str] = field(default_factory=list)  # executed step names, in order
    outputs: dict[str, Any] = field(default_factory=dict)  # "Step.Output" -> value
    failures: dict[str, str] = field(default_factory=dict)  # step -> failure message


#: System and automation variables the simulator substitutes unless ``system`` overrides them.
DEFAULT_SYSTEM_VARIABLES: Mapping[str, str] = {
    "global:ACCOUNT_ID": "123456789012",
    "global:REGION": "us-east-1",
    "global:AWS_PARTITION": "aws",
    "global:DATE": "2025-01-01",
    "global:DATE_TIME": "2025-01-01_00.00.00",
    "automation:EXECUTION_ID": "00000000-0000-4000-8000-000000000000",
}


def _start_parameters(doc: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as StartAutomationExecution checks them (list values of one String are unwrapped)."""
    specs = doc.get("parameters", {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise SimulationError(f"unknown parameters {unknown}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise SimulationError(f"parameter {name!r} is required")
        if spec.get("type") == "String" and isinstance(value, list):
            if len(value) != 1:
                raise SimulationError(f"parameter {name!r} is a String: give one value, not {len(value)}")
            value = value[0]
        if "allowedValues" in spec and value not in spec["allowedValues"]:
            raise SimulationError(f"parameter {name!r} is {value!r}: allowed are {spec['allowedValues']}")
        if "allowedPattern" in spec and not re.search(spec["allowedPattern"], str(value)):
            raise SimulationError(f"parameter {name!r} is {value!r}: it does not match {spec['allowedPattern']}")
        values[name] = value
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _interpolate(value: Any, lookup: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value.strip())
        if whole:
            return lookup(whole.group(1))  # keeps the referenced value's type
        return _REFERENCE.sub(lambda match: _text(lookup(match.group(1))), value)
    if isinstance(value, Mapping):
        return {key: _interpolate(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, lookup) for item in value]
    return value


def _convert(value: Any, kind: str) -> Any:
    if kind == "String":
        return _text(value)
    if kind == "Integer":
        return int(value)
    if kind == "Boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "StringList":
        return [_text(item) for item in value]
    return value


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    text = _text(actual)
    if operator == "StringEquals":
        return text == expected
    if operator == "EqualsIgnoreCase":
        return text.lower() == str(expected).lower()
    if operator == "StartsWith":
        return text.startswith(expected)
    if operator == "EndsWith":
        return text.endswith(expected)
    if operator == "Contains":
        return str(expected) in text
    if operator == "BooleanEquals":
        return text.lower() == str(expected).lower()
    number, limit = float(text), float(expected)
    return {
        "NumericEquals": number == limit, "NumericGreater": number > limit, "NumericLesser": number < limit,
        "NumericGreaterOrEquals": number >= limit, "NumericLesserOrEquals": number <= limit,
    }[operator]  # fmt: skip


def _holds(condition: Mapping[str, Any], lookup: Callable[[str], Any]) -> bool:
    if "And" in condition:
        return all(_holds(part, lookup) for part in condition["And"])
    if "Or" in condition:
        return any(_holds(part, lookup) for part in condition["Or"])
    if "Not" in condition:
        return not _holds(condition["Not"][0], lookup)
    (operator,) = [key for key in condition if key in BRANCH_OPERATORS]
    return _compare(operator, _interpolate(condition["Variable"], lookup), condition[operator])


def _call(clients: Mapping[str, Any], service: str, api: str, request: Mapping[str, Any], validate: bool) -> Any:
    if validate:
        from botocore.validate import ParamValidator

        operation = _operation(service, api)
        if isinstance(operation, str):
            raise StepFailed(operation)
        report = ParamValidator().validate(dict(request), operation.input_shape)
        if report.has_errors():
            raise StepFailed(f"{service} {api} request is invalid: {report.generate_report()}")
    if service not in clients:
        raise SimulationError(f"no fake client for {service!r}")
    from botocore import xform_name

    try:
        return getattr(clients[service], xform_name(api))(**request)
    except Exception as error:  # noqa: BLE001 - any failure of the call fails the step, as in Automation
        raise StepFailed(f"{service} {api} failed: {error}") from None


def simulate(
    doc: Mapping[str, Any],
    parameters: Mapping[str, Any],
    clients: Mapping[str, Any],
    *,
    script_runner: Callable[[str, str, Mapping[str, Any]], Any] = run_python_script,
    system: Mapping[str, str] | None = None,
    validate_requests: bool = True,
) -> Execution:
    """Run an Automation document locally, step by step, as Automation would (a small, honest subset).

    Supported: parameter checks at start (required, allowedValues, allowedPattern, one-element lists for
    String parameters, as EventBridge sends them); ``{{ }}`` interpolation of parameters, system variables
    and step outputs; ``aws:executeAwsApi`` (the request is validated against botocore's model, then
    ``clients[Service].<snake_case Api>(**request)`` is called); ``aws:assertAwsResourceProperty`` and
    ``aws:waitForAwsResourceProperty`` (one call, no waiting); ``aws:executeScript`` through
    ``script_runner(Script, Handler, InputPayload)``, its outputs selected from ``{"Payload": result}``;
    ``aws:branch`` (all operators, ``And``/``Or``/``Not``, ``Default``, fall-through); ``aws:sleep``
    (no wait); output selectors and types; ``nextStep``, ``isEnd``, ``maxAttempts``, ``isCritical`` and
    ``onFailure`` (``Abort``, ``Continue``, ``step:<name>``). Not supported: ``aws:pause``,
    ``aws:approve``, attachments, timeouts and cancellation.
    """
    values = _start_parameters(doc, parameters)
    variables = {**DEFAULT_SYSTEM_VARIABLES, **(system or {})}
    execution = Execution(status="Success")

    def lookup(name: str) -> Any:
        if name in values:
            return values[name]
        if name in variables:
            return variables[name]
        if name in execution.outputs:
            return execution.outputs[name]
        raise StepFailed(f"{{{{ {name} }}}} has no value (its step did not run or did not succeed)")

    steps = doc["mainSteps"]
    index = {step["name"]: position for position, step in enumerate(steps)}
    position: int | None = 0
    for _ in range(10_000):
        if position is None or position >= len(steps):
            break
        step = steps[position]
        name = step["name"]
        execution.steps.append(name)
        attempts = step.get("maxAttempts", 1)
        for attempt in range(1, attempts + 1):
            try:
                jump = _run_step(step, lookup, clients, script_runner, validate_requests, execution)
                break
            except StepFailed as error:
                if attempt == attempts:
                    execution.failures[name] = str(error)
                    jump = error
        if isinstance(jump, StepFailed):
            if step.get("isCritical", True):
                execution.status = "Failed"
            on_failure = step.get("onFailure", "Abort")
            if on_failure == "Abort":
                break
            position = (
                index[on_failure[5:]]
                if on_failure.startswith("step:")
                else index.get(step.get("nextStep"), position + 1)
            )
            continue
        if jump is not None:
            position = index[jump]
        elif step.get("isEnd"):
            break
        elif "nextStep" in step:
            position = index[step["nextStep"]]
        else:
            position += 1
    else:
        raise SimulationError("the automation ran 10,000 steps without ending")
    return execution


def _run_step(
    step: Mapping[str, Any],
    lookup: Callable[[str], Any],
    clients: Mapping[str, Any],
    script_runner: Callable[[str, str, Mapping[str, Any]], Any],
    validate: bool,
    execution: Execution,
) -> str | None:
    """Run one step; return the step a branch jumps to (else None); record outputs."""
    action = step["action"]
    raw = step.get("inputs", {})
    if action == "aws:branch":
        for choice in raw["Choices"]:
            if _holds({k: v for k, v in choice.items() if k != "NextStep"}, lookup):
                return choice["NextStep"]
        return raw.get("Default")
    if action in ("aws:pause", "aws:approve"):
        raise SimulationError(f"{action} is not supported by the simulator")
    if action == "aws:sleep":
        return None
    inputs = _interpolate(raw, lookup)
    if action == "aws:executeScript":
        try:
            result = {"Payload": script_runner(inputs["Script"], inputs["Handler"], inputs.get("InputPayload", {}))}
        except Exception as error:  # noqa: BLE001 - the script's exception fails the step, as in Automation
            raise StepFailed(f"{type(error).__name__}: {error}") from None
    else:
        request = {k: v for k, v in inputs.items() if k not in ("Service", "Api", "PropertySelector", "DesiredValues")}
        result = _call(clients, inputs["Service"], inputs["Api"], request, validate)
        if action in ("aws:assertAwsResourceProperty", "aws:waitForAwsResourceProperty"):
            try:
                actual = select(result, inputs["PropertySelector"])
            except KeyError as error:
                raise StepFailed(str(error)) from None
            if _text(actual) not in [_text(v) for v in inputs["DesiredValues"]]:
                raise StepFailed(f"{inputs['PropertySelector']} is {actual!r}, not one of {inputs['DesiredValues']}")
    for output in step.get("outputs", []):
        try:
            value = select(result, output["Selector"])
        except KeyError as error:
            raise StepFailed(f"output {output['Name']}: {error}") from None
        execution.outputs[f"{step['name']}.{output['Name']}"] = _convert(value, output.get("Type", "String"))
    return None
