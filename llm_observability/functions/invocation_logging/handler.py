"""CloudFormation custom resource that manages Amazon Bedrock model invocation logging.

Model invocation logging is an account+region singleton without a CloudFormation
resource type.  CloudFormation invokes this function directly (a plain
``AWS::CloudFormation::CustomResource`` whose ServiceToken is this function's
ARN), so the function itself PUTs the result to the pre-signed ``ResponseURL``.

ResourceProperties
    ``LoggingConfig`` (required)
        The Bedrock ``loggingConfig`` shape.  At least one of ``cloudWatchConfig``
        (``logGroupName`` + ``roleArn``) or ``s3Config`` (``bucketName``) is
        required.  CloudFormation stringifies booleans, so the
        ``*DataDeliveryEnabled`` flags are accepted as ``"true"``/``"false"``
        and converted before Bedrock is called.
    ``ExistingConfiguration`` (optional)
        ``"keep"`` (default) or ``"replace"``.
    Other properties (``ServiceToken``, ...) are ignored.

Ownership
    The current configuration is "ours" when its destinations - CloudWatch
    ``logGroupName`` + ``roleArn`` and S3 ``bucketName`` + ``keyPrefix`` - equal
    those of our ``LoggingConfig``.  On Update (and on Delete, if present) the
    destinations of ``OldResourceProperties`` count as ours too, so changing our
    own destinations works.  Nothing else (data-type flags, large-data bucket)
    decides ownership.

Create / Update
    Read the current configuration.  If none is configured, it is ours, or
    ``ExistingConfiguration`` is ``"replace"``: put ours, answer with physical
    id ``bedrock-invocation-logging:managed`` and Data ``{"Managed": "true"}``.
    Otherwise someone else's configuration is left untouched: physical id
    ``bedrock-invocation-logging:adopted``, Data ``{"Managed": "false",
    "Reason": "an existing configuration was kept"}``.  A physical id change on
    Update makes CloudFormation send a Delete for the old id, which is safe.

Delete
    Only a ``...:managed`` resource whose current configuration is still ours is
    deleted.  An adopted resource, a configuration someone changed since, no
    configuration at all, or the request id of a failed Create leave the account
    untouched and succeed: deleting a stack never switches off a configuration it
    did not create.  Get and Delete are retried on ThrottlingException like the
    put; any error (after the retries) answers SUCCESS with the Reason and leaves
    the configuration in place, so a Delete never blocks a rollback.

Failure handling
    Every invocation answers CloudFormation exactly once (the shared ``cfn_response``
    module): FAILED with a one-sentence Reason (no traceback, at most 500
    characters) on any error, including a watchdog answer shortly before the
    function times out (SUCCESS for a Delete).  The put is retried with backoff on
    ValidationException / AccessDeniedException (a freshly created role is not yet
    usable by Bedrock) and ThrottlingException, the Get on ThrottlingException, as
    long as the remaining time allows.  Every write (put, delete) first checks the
    invocation's shared "answered" flag: once the watchdog has answered, the
    account-wide configuration is no longer changed.  The response
    PUT is retried on network errors; if it cannot be delivered the invocation
    raises, so Lambda's asynchronous retry runs the (idempotent) request again.

Environment: ``POWERTOOLS_SERVICE_NAME`` (the log records' ``service``; default
``bedrock-invocation-logging``); boto3 reads the usual variables (``AWS_REGION``,
``AWS_ENDPOINT_URL_BEDROCK``, ...).  Imports the standard library, boto3, the
Powertools layer and its sibling ``cfn_response``.

Test seams: ``set_client()`` injects a Bedrock client, ``sleep`` is the backoff
sleeper, and the response goes through ``urllib.request.urlopen``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
import cfn_response
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.validate import validate_parameters
from cfn_response import Deadline, Outcome, RequestFailed

PHYSICAL_ID_MANAGED: Final = "bedrock-invocation-logging:managed"
PHYSICAL_ID_ADOPTED: Final = "bedrock-invocation-logging:adopted"
PHYSICAL_ID_FAILED: Final = "bedrock-invocation-logging:failed"
DATA_MANAGED: Final = {"Managed": "true"}
DATA_ADOPTED: Final = {"Managed": "false", "Reason": "an existing configuration was kept"}
MODE_KEEP: Final = "keep"
MODE_REPLACE: Final = "replace"

GET_API: Final = "GetModelInvocationLoggingConfiguration"
PUT_API: Final = "PutModelInvocationLoggingConfiguration"
DELETE_API: Final = "DeleteModelInvocationLoggingConfiguration"

RETRY_DELAYS_S: Final = (2.0, 4.0, 8.0, 16.0, 30.0)
PUT_RETRY_DELAYS_S: Final = RETRY_DELAYS_S
THROTTLING_CODES: Final = frozenset({"ThrottlingException"})
PUT_RETRYABLE_CODES: Final = frozenset({"ValidationException", "AccessDeniedException", *THROTTLING_CODES})
# Time one more attempt may take (client timeouts below).
ATTEMPT_ALLOWANCE_MS: Final = 15_000
DEFAULT_SERVICE_NAME: Final = "bedrock-invocation-logging"

CLIENT_CONFIG: Final = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME)

sleep: Callable[[float], None] = time.sleep
_client: BaseClient | None = None


@dataclass(frozen=True)
class Destinations:
    """Where a logging configuration delivers to; equal destinations mean the same owner."""

    cloudwatch: tuple[str, str] | None  # (logGroupName, roleArn)
    s3: tuple[str, str] | None  # (bucketName, keyPrefix)

    @classmethod
    def of(cls, config: Any) -> Destinations | None:
        """Destinations of a ``loggingConfig``-shaped value; None if it has none (tolerates any input)."""
        if not isinstance(config, Mapping):
            return None
        cloudwatch = config.get("cloudWatchConfig")
        s3 = config.get("s3Config")
        found = cls(
            (_text(cloudwatch, "logGroupName"), _text(cloudwatch, "roleArn"))
            if isinstance(cloudwatch, Mapping)
            else None,
            (_text(s3, "bucketName"), _text(s3, "keyPrefix")) if isinstance(s3, Mapping) else None,
        )
        return found if found.cloudwatch or found.s3 else None

    def describe(self) -> dict[str, str]:
        """A log-friendly view."""
        described: dict[str, str] = {}
        if self.cloudwatch:
            described["logGroupName"], described["roleArn"] = self.cloudwatch
        if self.s3:
            described["bucketName"], described["keyPrefix"] = self.s3
        return described


@dataclass(frozen=True)
class Properties:
    """Validated ResourceProperties."""

    logging_config: dict[str, Any]
    destinations: Destinations
    mode: str


def set_client(client: BaseClient | None) -> None:
    """Use ``client`` for Bedrock calls (tests); None makes the next call create a fresh one."""
    global _client
    _client = client


def bedrock_client() -> BaseClient:
    """The Bedrock control-plane client, created once per container from the standard configuration."""
    global _client
    if _client is None:
        _client = boto3.client("bedrock", config=CLIENT_CONFIG)
    return _client


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


# --- ResourceProperties ---------------------------------------------------------------------------------------------


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise RequestFailed(f'LoggingConfig.{key} must be "true" or "false", got {value!r}.')


def _require_object(config: Mapping[str, Any], key: str, required: tuple[str, ...]) -> None:
    value = config.get(key)
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise RequestFailed(f"LoggingConfig.{key} must be an object.")
    for name in required:
        if not isinstance(value.get(name), str) or not value[name].strip():
            raise RequestFailed(f"LoggingConfig.{key}.{name} is required and must be a non-empty string.")
    if "keyPrefix" in value and not isinstance(value["keyPrefix"], str):
        raise RequestFailed(f"LoggingConfig.{key}.keyPrefix must be a string.")


def parse_properties(raw: Any) -> Properties:
    """Validate ResourceProperties and convert them into a Bedrock-ready ``loggingConfig``."""
    if not isinstance(raw, Mapping):
        raise RequestFailed("ResourceProperties are missing.")
    config = raw.get("LoggingConfig")
    if config is None:
        raise RequestFailed("The LoggingConfig property is required.")
    if not isinstance(config, Mapping):
        raise RequestFailed("The LoggingConfig property must be an object.")
    mode = raw.get("ExistingConfiguration", MODE_KEEP)
    if mode not in (MODE_KEEP, MODE_REPLACE):
        raise RequestFailed(f'ExistingConfiguration must be "{MODE_KEEP}" or "{MODE_REPLACE}", got {mode!r}.')
    logging_config = {
        key: _flag(key, value) if key.endswith("DataDeliveryEnabled") else value for key, value in config.items()
    }
    if logging_config.get("cloudWatchConfig") is None and logging_config.get("s3Config") is None:
        raise RequestFailed("LoggingConfig needs at least one destination: cloudWatchConfig or s3Config.")
    _require_object(logging_config, "cloudWatchConfig", ("logGroupName", "roleArn"))
    _require_object(logging_config, "s3Config", ("bucketName",))
    destinations = Destinations.of(logging_config)
    assert destinations is not None  # guaranteed by the checks above
    return Properties(logging_config, destinations, mode)


def _check_against_api(client: BaseClient, logging_config: dict[str, Any]) -> None:
    """Validate ``logging_config`` against the Bedrock API model, whichever path is taken."""
    shape = client.meta.service_model.operation_model(PUT_API).input_shape
    try:
        validate_parameters({"loggingConfig": logging_config}, shape)
    except ParamValidationError as exc:
        details = "; ".join(line.strip() for line in str(exc).splitlines()[1:] if line.strip())
        raise RequestFailed(f"LoggingConfig does not match the Bedrock API: {details or exc}.") from exc


# --- Bedrock --------------------------------------------------------------------------------------------------------


def _api_failure(api: str, exc: Exception, attempts: int = 1, note: str = "") -> RequestFailed:
    """A one-sentence failure naming the API, the AWS error code and its message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "UnknownError"
        message = (error.get("Message") or "").rstrip(".")
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        detail = f": {message}." if message else "."
        return RequestFailed(cfn_response.one_sentence(f"{api} failed with {code}{tried}{note}{detail}"))
    return RequestFailed(f"{api} could not be called ({type(exc).__name__}){note}.")


def _retrying(api: str, call: Callable[[], Any], deadline: Deadline, retryable: frozenset[str]) -> Any:
    """``call()``, retried with backoff on the ``retryable`` error codes while time allows.

    :raises RequestFailed: a BotoCoreError, another error code, or a retryable one that outlived the retries.
    """
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
        try:
            return call()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in retryable or delay is None:
                raise _api_failure(api, exc, attempt) from exc
            if not deadline.allows(delay, ATTEMPT_ALLOWANCE_MS):
                raise _api_failure(api, exc, attempt, " (no time left for another attempt)") from exc
            logger.warning(
                "call rejected, retrying", extra={"api": api, "code": code, "attempt": attempt, "delay_s": delay}
            )
            sleep(delay)
        except BotoCoreError as exc:
            raise _api_failure(api, exc) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _current_destinations(client: BaseClient, deadline: Deadline) -> Destinations | None:
    call = client.get_model_invocation_logging_configuration
    response = _retrying(GET_API, call, deadline, THROTTLING_CODES)
    current = Destinations.of(response.get("loggingConfig") if isinstance(response, Mapping) else None)
    logger.info("current configuration", extra={"destinations": current.describe() if current else None})
    return current


def _put(client: BaseClient, logging_config: dict[str, Any], deadline: Deadline) -> None:
    """Put ``logging_config``, retrying errors a fresh IAM role or throttling cause while time allows.

    Each attempt first checks that CloudFormation was not answered yet (the watchdog may have answered FAILED).
    """

    def attempt() -> None:
        deadline.ensure_unanswered("the configuration put")
        client.put_model_invocation_logging_configuration(loggingConfig=logging_config)

    _retrying(PUT_API, attempt, deadline, PUT_RETRYABLE_CODES)


def _delete(client: BaseClient, deadline: Deadline) -> None:
    """Delete the configuration, retrying throttling; each attempt first checks CloudFormation was not answered."""

    def attempt() -> None:
        deadline.ensure_unanswered("the configuration delete")
        client.delete_model_invocation_logging_configuration()

    _retrying(DELETE_API, attempt, deadline, THROTTLING_CODES)


# --- Request types --------------------------------------------------------------------------------------------------


def _logging_config(properties: Any) -> Any:
    return properties.get("LoggingConfig") if isinstance(properties, Mapping) else None


def _create_or_update(request: CloudFormationCustomResourceEvent, deadline: Deadline) -> Outcome:
    properties = parse_properties(request.get("ResourceProperties"))
    client = bedrock_client()
    _check_against_api(client, properties.logging_config)
    ours = {properties.destinations}
    if request.request_type == "Update" and (old := Destinations.of(_logging_config(request.old_resource_properties))):
        ours.add(old)
    current = _current_destinations(client, deadline)
    if current is not None and current not in ours and properties.mode == MODE_KEEP:
        logger.warning(
            "existing configuration kept: another configuration is in place and ExistingConfiguration is keep",
            extra={"current": current.describe(), "requested": properties.destinations.describe()},
        )
        reason = "An existing model invocation logging configuration was kept."
        return Outcome("SUCCESS", PHYSICAL_ID_ADOPTED, reason, dict(DATA_ADOPTED))
    why = "none configured" if current is None else ("ours" if current in ours else "replace requested")
    _put(client, properties.logging_config, deadline)
    logger.info("configuration applied", extra={"why": why, "destinations": properties.destinations.describe()})
    reason = "Model invocation logging is configured by this stack."
    return Outcome("SUCCESS", PHYSICAL_ID_MANAGED, reason, dict(DATA_MANAGED))


def _delete_request(request: CloudFormationCustomResourceEvent, physical_id: str, deadline: Deadline) -> Outcome:
    """Delete our configuration if it is still ours; any error answers SUCCESS with the reason (never blocks a
    rollback or a stack deletion) and leaves the account as it is."""
    try:
        return _delete_if_ours(request, physical_id, deadline)
    except RequestFailed as exc:
        logger.error("configuration left in place after an error", extra={"reason": str(exc)})
        reason = f"The configuration was left in place: {str(exc).rstrip('.')}."
    except Exception as exc:  # a Delete must never answer FAILED
        logger.exception("configuration left in place after an unexpected error", extra={"error": type(exc).__name__})
        reason = f"The configuration was left in place after an unexpected {type(exc).__name__}; see the logs."
    return Outcome("SUCCESS", physical_id, reason)


def _delete_if_ours(request: CloudFormationCustomResourceEvent, physical_id: str, deadline: Deadline) -> Outcome:
    if physical_id != PHYSICAL_ID_MANAGED:
        logger.info(
            "nothing deleted: this resource never managed the configuration", extra={"physical_id": physical_id}
        )
        return Outcome("SUCCESS", physical_id, "Nothing to delete: the configuration was not managed by this stack.")
    ours = {
        found
        for properties in (request.resource_properties, request.old_resource_properties)
        if (found := Destinations.of(_logging_config(properties)))
    }
    if not ours:
        logger.warning("nothing deleted: the properties name no destinations, ownership cannot be proven")
        return Outcome("SUCCESS", physical_id, "Nothing deleted: the resource properties name no destinations.")
    client = bedrock_client()
    current = _current_destinations(client, deadline)
    if current is None:
        logger.info("nothing deleted: no configuration is in place")
        return Outcome("SUCCESS", physical_id, "Nothing to delete: no configuration is in place.")
    if current not in ours:
        logger.warning("nothing deleted: the configuration was changed outside", extra={"current": current.describe()})
        return Outcome("SUCCESS", physical_id, "Nothing deleted: the configuration was changed outside this stack.")
    _delete(client, deadline)
    logger.info("configuration deleted", extra={"destinations": current.describe()})
    return Outcome("SUCCESS", physical_id, "Model invocation logging configuration deleted.")


def _process(request: CloudFormationCustomResourceEvent, deadline: Deadline, physical_id: str) -> Outcome:
    request_type = request.get("RequestType")
    if request_type == "Delete":
        return _delete_request(request, physical_id, deadline)
    if request_type in ("Create", "Update"):
        return _create_or_update(request, deadline)
    raise RequestFailed(f"Unsupported RequestType {request_type!r}: expected Create, Update or Delete.")


# --- Entry point ----------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(log_event=False, clear_state=True)
def on_event(event: dict[str, Any], context: LambdaContext) -> None:
    """Lambda entry point: handle one CloudFormation custom resource request and answer it (``cfn_response``)."""
    cfn_response.handle(event, context, _process, logger=logger, failed_id=PHYSICAL_ID_FAILED, sleep=sleep)
