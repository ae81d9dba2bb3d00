"""Self-healing runbooks (Level 3) as plain data: SSM Automation documents, their EventBridge wiring, a validator.

Nothing here imports the CDK. :class:`~llm_observability.constructs.runbooks.RemediationRunbooks` puts the
documents (:mod:`.documents`) into ``AWS::SSM::Document`` resources, checks them at synth
(:func:`validate_document`, :mod:`.validator`) and builds each EventBridge rule's pattern and automation
input (:func:`alarm_state_pattern`, :func:`model_failover_input` and friends, :mod:`.rules`). Operators read
the documents as the single description of what a runbook does. The tests replay the whole loop offline with
an EventBridge emulator and an Automation simulator that live with them (``tests/support``).

The three runbooks change what the RAG function reads at run time (an SSM parameter it caches for a
minute, or the API stage's throttling), so a runbook heals the application without a deployment.
Every run, whatever its mode, publishes one SNS message naming the alarm, the mode and the values
before and after, so the alert topic is the audit trail of self-healing.

Caveats a reader should know: EventBridge delivers at least once, so a duplicated ALARM event runs a
runbook twice (harmless for failover and throttling, which set fixed values; a prompt rollback would
step back two versions, and says so in two messages). The parameters are CloudFormation resources: a
deployment that changes their value overwrites what a runbook set.
"""

from llm_observability.automation.documents import (
    ALARM_NAME_PATTERN,
    API_THROTTLE,
    APPLY,
    ASSUME_ROLE,
    BURST_LIMIT_PATH,
    BURST_LIMIT_PATTERN,
    DOCUMENTS,
    FAILURE_STEP,
    FUNCTION_MODEL_ID,
    FUNCTION_PROMPT_VERSION_ARN,
    HEALING_DIMENSION,
    HEALING_ENDED_STEP,
    HEALING_METRIC,
    HEALING_STARTED_STEP,
    METRIC_NAMESPACE_PATTERN,
    MODEL_FAILOVER,
    MODEL_ID_PATTERN,
    PARAMETER_NAME_PATTERN,
    PREVIOUS_VERSION_SCRIPT,
    PROMPT_ROLLBACK,
    RATE_LIMIT_PATH,
    RATE_LIMIT_PATTERN,
    RECORD_OK,
    REST_API_ID_PATTERN,
    RESTORE,
    ROLE_ARN_PATTERN,
    SCHEMA_VERSION,
    SERVICE_NAME_PATTERN,
    STAGE_NAME_PATTERN,
    TOPIC_ARN_PATTERN,
    api_throttle_document,
    model_failover_document,
    prompt_rollback_document,
)
from llm_observability.automation.reference_syntax import references
from llm_observability.automation.rules import (
    ALARM,
    ALARM_NAME,
    ALARM_STATE_CHANGE,
    OK,
    STATE_MODES,
    EventPath,
    InputValue,
    alarm_state_pattern,
    api_throttle_input,
    format_limit,
    model_failover_input,
    prompt_rollback_input,
)
from llm_observability.automation.validator import (
    ACTIONS,
    BRANCH_COMPOSITES,
    BRANCH_OPERATORS,
    DOCUMENT_PROPERTIES,
    OUTPUT_TYPES,
    PARAMETER_PROPERTIES,
    PARAMETER_TYPES,
    SCRIPT_RUNTIMES,
    STEP_PROPERTIES,
    SYSTEM_VARIABLES,
    ActionSpec,
    validate_document,
)

__all__ = [
    "ACTIONS",
    "ALARM",
    "ALARM_NAME",
    "ALARM_NAME_PATTERN",
    "ALARM_STATE_CHANGE",
    "API_THROTTLE",
    "APPLY",
    "ASSUME_ROLE",
    "BRANCH_COMPOSITES",
    "BRANCH_OPERATORS",
    "BURST_LIMIT_PATH",
    "BURST_LIMIT_PATTERN",
    "DOCUMENTS",
    "DOCUMENT_PROPERTIES",
    "FAILURE_STEP",
    "FUNCTION_MODEL_ID",
    "FUNCTION_PROMPT_VERSION_ARN",
    "HEALING_DIMENSION",
    "HEALING_ENDED_STEP",
    "HEALING_METRIC",
    "HEALING_STARTED_STEP",
    "METRIC_NAMESPACE_PATTERN",
    "MODEL_FAILOVER",
    "MODEL_ID_PATTERN",
    "OK",
    "OUTPUT_TYPES",
    "PARAMETER_NAME_PATTERN",
    "PARAMETER_PROPERTIES",
    "PARAMETER_TYPES",
    "PREVIOUS_VERSION_SCRIPT",
    "PROMPT_ROLLBACK",
    "RATE_LIMIT_PATH",
    "RATE_LIMIT_PATTERN",
    "RECORD_OK",
    "RESTORE",
    "REST_API_ID_PATTERN",
    "ROLE_ARN_PATTERN",
    "SCHEMA_VERSION",
    "SCRIPT_RUNTIMES",
    "SERVICE_NAME_PATTERN",
    "STAGE_NAME_PATTERN",
    "STATE_MODES",
    "STEP_PROPERTIES",
    "SYSTEM_VARIABLES",
    "TOPIC_ARN_PATTERN",
    "ActionSpec",
    "EventPath",
    "InputValue",
    "alarm_state_pattern",
    "api_throttle_input",
    "api_throttle_document",
    "format_limit",
    "model_failover_document",
    "model_failover_input",
    "prompt_rollback_document",
    "prompt_rollback_input",
    "references",
    "validate_document",
]
