"""The three self-healing runbooks as SSM Automation documents (schema 0.3), and the patterns their parameters enforce.

Each builder returns plain JSON, exactly what goes into an ``AWS::SSM::Document`` ``Content``:

===================  =============================  ===================================================
runbook              on ALARM (``Mode=apply``)      on OK
===================  =============================  ===================================================
model failover       model parameter := fallback    ``Mode=restore``: model parameter := primary
prompt rollback      prompt parameter := version-1  ``Mode=record-ok``: only recorded (no roll forward)
API throttle         stage limits := tightened      ``Mode=restore``: stage limits := normal
===================  =============================  ===================================================

Every run, whatever its mode, publishes one SNS message naming the alarm, the mode and the values
before and after. A step that fails jumps to a step recording the failure (the automation still ends
as Failed).

Every run also says that healing is in progress: its first step puts ``HealingInProgress`` = 1
(:data:`HEALING_METRIC`, namespace ``MetricNamespace``, dimension ``service`` = ``ServiceName``) and its last
step, reached from every record (success, refusal and failure alike), puts 0. An alarm on the metric's
one-minute maximum (``RemediationRunbooks.healing_alarm``) suppresses the workload's health alarm while a
runbook acts. Publishing the metric never stops the healing: those two steps are not critical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llm_observability.runtime.telemetry import DIM_SERVICE

SCHEMA_VERSION = "0.3"
ASSUME_ROLE = "{{ AutomationAssumeRole }}"

MODEL_FAILOVER = "model_failover"
PROMPT_ROLLBACK = "prompt_rollback"
API_THROTTLE = "api_throttle"

APPLY = "apply"
RESTORE = "restore"
RECORD_OK = "record-ok"

# --- Parameter patterns (anchored; valid in Python and in Java, which SSM uses) ---------------------------
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
ALARM_NAME_PATTERN = r"^[^\x00-\x1F\x7F]{1,255}$"
PARAMETER_NAME_PATTERN = r"^(?:arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?/?[A-Za-z0-9_.\-/]{1,1011}$"
TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$"
REST_API_ID_PATTERN = r"^[a-z0-9]{10}$"
STAGE_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
RATE_LIMIT_PATTERN = r"^[0-9]{1,5}(?:\.[0-9]{1,3})?$"
BURST_LIMIT_PATTERN = r"^[0-9]{1,4}$"
#: A CloudWatch namespace of custom metrics: 1-255 of the characters CloudWatch allows, not ``AWS/...``.
METRIC_NAMESPACE_PATTERN = r"^(?!AWS/)[A-Za-z0-9.\-_/#: ]{1,255}$"
#: The ``service`` dimension value (a workload name: validation.WORKLOAD_NAME_RE allows less).
SERVICE_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,255}$"

#: The metric every runbook publishes while it acts: 1 at its first step, 0 at its last (unit Count).
HEALING_METRIC = "HealingInProgress"
#: Its one dimension (the library's ``service`` dimension), valued with the ``ServiceName`` parameter.
HEALING_DIMENSION = DIM_SERVICE
#: The first and the last step of every runbook.
HEALING_STARTED_STEP = "PublishHealingStarted"
HEALING_ENDED_STEP = "PublishHealingEnded"
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
        "MetricNamespace": _param(
            f"Namespace of the {HEALING_METRIC} metric this run publishes (the workload's metric namespace).",
            pattern=METRIC_NAMESPACE_PATTERN,
        ),
        "ServiceName": _param(
            f"Value of the '{HEALING_DIMENSION}' dimension of {HEALING_METRIC} (the workload's name).",
            pattern=SERVICE_NAME_PATTERN,
        ),
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
    """A step publishing what the run did; then (also when publishing fails) the run says healing has ended."""
    step = _api(
        name,
        "sns",
        "Publish",
        "Record this run on the alert topic.",
        TopicArn="{{ TopicArn }}",
        Subject=_SUBJECT.format(what=what),
        Message=f"{message} {_EXECUTION}",
    )
    step["nextStep"] = HEALING_ENDED_STEP
    step["onFailure"] = f"step:{HEALING_ENDED_STEP}"
    return step


def _healing(name: str, value: int, description: str) -> dict[str, Any]:
    """A step putting ``HealingInProgress`` = ``value``; not critical (a failed put never stops the healing)."""
    datum = {
        "MetricName": HEALING_METRIC,
        "Dimensions": [{"Name": HEALING_DIMENSION, "Value": "{{ ServiceName }}"}],
        "Value": value,
        "Unit": "Count",
    }
    step = _api(name, "cloudwatch", "PutMetricData", description, Namespace="{{ MetricNamespace }}", MetricData=[datum])
    return {**step, "onFailure": "Continue", "isCritical": False}


def _healing_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``steps`` between the healing-started step and the healing-ended step (the last one, reached from every
    record)."""
    return [
        _healing(HEALING_STARTED_STEP, 1, "Say that self-healing is in progress (suppresses the health alarm)."),
        *steps,
        {**_healing(HEALING_ENDED_STEP, 0, "Say that self-healing has ended."), "isEnd": True},
    ]


FAILURE_STEP = "RecordFailure"


def _on_failure(step: dict[str, Any]) -> dict[str, Any]:
    """``step`` that, when it fails, still gets the run recorded (the automation ends as Failed)."""
    return {**step, "onFailure": f"step:{FAILURE_STEP}"}


def _read_parameter(name: str, parameter: str, description: str, output: str) -> dict[str, Any]:
    """Step reading the SSM parameter named by document parameter ``parameter`` into output ``output``."""
    return {
        **_on_failure(_api(name, "ssm", "GetParameter", description, Name=f"{{{{ {parameter} }}}}")),
        "outputs": [{"Name": output, "Selector": "$.Parameter.Value", "Type": "String"}],
    }


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
        "mainSteps": _healing_steps([
            _read_parameter(
                "ReadActiveModel", "ModelParameterName", "Read the model id in use before changing it.", "ModelIdBefore"
            ),
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
        ]),
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
        "mainSteps": _healing_steps([
            _read_parameter(
                "ReadActiveVersion", "PromptParameterName", "Read the active prompt version ARN.", "ActiveVersionArn"
            ),
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
        ]),
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
        "mainSteps": _healing_steps([
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
        ]),
    }


#: Builder of each runbook's document.
DOCUMENTS: Mapping[str, Callable[[], dict[str, Any]]] = {
    MODEL_FAILOVER: model_failover_document,
    PROMPT_ROLLBACK: prompt_rollback_document,
    API_THROTTLE: api_throttle_document,
}
