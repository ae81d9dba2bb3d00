"""Bedrock model invocation logging custom resource (functions/invocation_logging/handler.py).

The handler is loaded under a unique module name so it cannot collide with the
``handler`` module of another function folder.  Bedrock calls go to a real boto3
client wrapped in ``botocore.stub.Stubber``; the response PUT is captured by
replacing ``urllib.request.urlopen``; time is a fake clock shared by the Lambda
context and the handler's injectable ``sleep``.  The response protocol itself lives in the shared
``cfn_response`` module (imported from ``functions/_shared`` as the handler's sibling, as in the asset);
log records are the Powertools JSON lines the handler prints.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import cfn_response
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import FakeClock, FakeHttpResponse
from tests.support.loader import load_file

HANDLER_PATH = (
    Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "invocation_logging" / "handler.py"
)
MODULE_NAME = "invocation_logging_handler"

SIGNATURE = "X-Amz-Signature=c2VjcmV0LXNpZ25hdHVyZQ"
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
    f"arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/demo/id%7CLogging%7Creq?{SIGNATURE}"
)
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/0a1b2c3d"
REQUEST_ID = "5d3f2a10-1111-2222-3333-444455556666"
LOGICAL_ID = "InvocationLogging"
MANAGED = "bedrock-invocation-logging:managed"
ADOPTED = "bedrock-invocation-logging:adopted"
ROLE = "arn:aws:iam::123456789012:role/bedrock-invocation-logging"
OTHER_ROLE = "arn:aws:iam::123456789012:role/someone-else"

# As CloudFormation sends it: booleans stringified.
OURS = {
    "cloudWatchConfig": {
        "logGroupName": "/llm/bedrock/invocations",
        "roleArn": ROLE,
        "largeDataDeliveryS3Config": {"bucketName": "llm-large-data", "keyPrefix": "large/"},
    },
    "s3Config": {"bucketName": "llm-invocation-logs", "keyPrefix": "bedrock/"},
    "textDataDeliveryEnabled": "true",
    "imageDataDeliveryEnabled": "true",
    "embeddingDataDeliveryEnabled": "true",
    "videoDataDeliveryEnabled": "false",
}
# As Bedrock must receive it.
OURS_API = {
    **OURS,
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": True,
    "videoDataDeliveryEnabled": False,
}
THEIRS = {
    "cloudWatchConfig": {"logGroupName": "/security/bedrock", "roleArn": OTHER_ROLE},
    "textDataDeliveryEnabled": True,
}


def with_log_group(config: dict[str, Any], name: str) -> dict[str, Any]:
    return {**config, "cloudWatchConfig": {**config["cloudWatchConfig"], "logGroupName": name}}


def props(config: Any = OURS, **extra: Any) -> dict[str, Any]:
    properties = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:invocation-logging", **extra}
    if config is not None:
        properties["LoggingConfig"] = config
    return properties


def cfn_event(
    request_type: str,
    properties: dict[str, Any] | None = None,
    *,
    physical_id: str | None = None,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom resource request."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:invocation-logging",
        "ResponseURL": RESPONSE_URL,
        "StackId": STACK_ID,
        "RequestId": REQUEST_ID,
        "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::BedrockInvocationLogging",
        "ResourceProperties": props() if properties is None else properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = old
    return event


@dataclass
class FakeUrlopen:
    """Records response PUTs; raises the queued errors first."""

    errors: list[Exception] = field(default_factory=list)
    requests: list[tuple[urllib.request.Request, float | None]] = field(default_factory=list)
    delivered: threading.Event = field(default_factory=threading.Event)

    def __call__(self, request: urllib.request.Request, timeout: float | None = None) -> FakeHttpResponse:
        self.requests.append((request, timeout))
        if self.errors:
            raise self.errors.pop(0)
        self.delivered.set()
        return FakeHttpResponse()


@dataclass
class Harness:
    module: ModuleType
    stubber: Stubber
    client: Any
    clock: FakeClock
    http: FakeUrlopen
    caplog: pytest.LogCaptureFixture
    log_stream: io.StringIO

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log records the handler printed."""
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines()]

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.module.on_event(event, self.clock)
        return self.response()

    def response(self) -> dict[str, Any]:
        """The single response PUT, checked for method, URL and headers."""
        assert len(self.http.requests) >= 1
        request, timeout = self.http.requests[-1]
        assert request.get_method() == "PUT"
        assert request.full_url == RESPONSE_URL
        assert isinstance(request.data, bytes)
        assert request.get_header("Content-type") == ""
        assert request.get_header("Content-length") == str(len(request.data))
        assert timeout is not None and timeout > 0
        body = json.loads(request.data)
        assert set(body) == {
            "Status",
            "Reason",
            "PhysicalResourceId",
            "StackId",
            "RequestId",
            "LogicalResourceId",
            "NoEcho",
            "Data",
        }
        assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (STACK_ID, REQUEST_ID, LOGICAL_ID)
        assert body["NoEcho"] is False
        assert isinstance(body["Reason"], str) and len(body["Reason"]) <= 500 and "\n" not in body["Reason"]
        return body

    def stub_get(self, config: dict[str, Any] | None) -> None:
        self.stubber.add_response(
            "get_model_invocation_logging_configuration", {} if config is None else {"loggingConfig": config}, {}
        )

    def stub_put(self, config: dict[str, Any] = OURS_API) -> None:
        self.stubber.add_response("put_model_invocation_logging_configuration", {}, {"loggingConfig": config})

    def stub_put_error(self, code: str, message: str = "Failed to validate permissions for log group") -> None:
        self.stubber.add_client_error(
            "put_model_invocation_logging_configuration",
            service_error_code=code,
            service_message=message,
            http_status_code=400,
            expected_params={"loggingConfig": OURS_API},
        )

    def stub_delete(self) -> None:
        self.stubber.add_response("delete_model_invocation_logging_configuration", {}, {})


@pytest.fixture(scope="module")
def il() -> Iterator[ModuleType]:
    """The handler module, loaded under a unique name with dummy AWS credentials and region."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE_AWS_ENV.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK"):
            patch.delenv(name, raising=False)
        yield load_file(MODULE_NAME, HANDLER_PATH)
        sys.modules.pop(MODULE_NAME, None)


@pytest.fixture(scope="module")
def bedrock(il: ModuleType) -> Any:
    return boto3.client("bedrock", region_name="us-east-1", config=il.CLIENT_CONFIG)


@pytest.fixture
def cr(
    il: ModuleType, bedrock: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Harness]:
    clock = FakeClock()
    http = FakeUrlopen()
    monkeypatch.setattr(il, "sleep", clock.sleep)
    monkeypatch.setattr(urllib.request, "urlopen", http)
    log_stream = io.StringIO()
    monkeypatch.setattr(il.logger.registered_handler, "stream", log_stream)
    caplog.set_level(logging.INFO, logger=il.logger.name)
    il.set_client(bedrock)
    with Stubber(bedrock) as stubber:
        yield Harness(il, stubber, bedrock, clock, http, caplog, log_stream)
        stubber.assert_no_pending_responses()
    il.set_client(None)


# --- Create -----------------------------------------------------------------------------------------------------------


def test_create_without_existing_configuration_puts_ours_with_booleans(cr: Harness) -> None:
    cr.stub_get(None)
    cr.stub_put(OURS_API)

    body = cr.invoke(cfn_event("Create"))

    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == MANAGED
    assert body["Data"] == {"Managed": "true"}


def test_create_keeps_someone_elses_configuration(cr: Harness) -> None:
    cr.stub_get(THEIRS)

    body = cr.invoke(cfn_event("Create"))

    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == ADOPTED
    assert body["Data"] == {"Managed": "false", "Reason": "an existing configuration was kept"}
    assert "existing configuration kept" in cr.caplog.text


def test_create_replaces_someone_elses_configuration_when_asked(cr: Harness) -> None:
    cr.stub_get(THEIRS)
    cr.stub_put()

    body = cr.invoke(cfn_event("Create", props(ExistingConfiguration="replace")))

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", MANAGED, {"Managed": "true"})


def test_create_when_configuration_is_already_ours_puts_and_manages(cr: Harness) -> None:
    # Same destinations, different data-type flags and no large-data bucket: still ours.
    current = {
        "cloudWatchConfig": {"logGroupName": "/llm/bedrock/invocations", "roleArn": ROLE},
        "s3Config": {"bucketName": "llm-invocation-logs", "keyPrefix": "bedrock/"},
        "textDataDeliveryEnabled": False,
    }
    cr.stub_get(current)
    cr.stub_put()

    body = cr.invoke(cfn_event("Create"))

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", MANAGED, {"Managed": "true"})


def test_create_with_s3_only_and_missing_key_prefix_matches_current(cr: Harness) -> None:
    config = {"s3Config": {"bucketName": "llm-invocation-logs"}, "textDataDeliveryEnabled": "TRUE"}
    cr.stub_get({"s3Config": {"bucketName": "llm-invocation-logs", "keyPrefix": ""}})
    cr.stub_put({"s3Config": {"bucketName": "llm-invocation-logs"}, "textDataDeliveryEnabled": True})

    body = cr.invoke(cfn_event("Create", props(config)))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)


# --- Update -----------------------------------------------------------------------------------------------------------


def test_update_changing_our_log_group_puts_new_configuration(cr: Harness) -> None:
    old = with_log_group(OURS, "/llm/bedrock/old")
    cr.stub_get(with_log_group(OURS_API, "/llm/bedrock/old"))
    cr.stub_put(with_log_group(OURS_API, "/llm/bedrock/new"))

    body = cr.invoke(
        cfn_event("Update", props(with_log_group(OURS, "/llm/bedrock/new")), physical_id=MANAGED, old=props(old))
    )

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", MANAGED, {"Managed": "true"})


def test_update_keeps_a_configuration_someone_else_put_in_place(cr: Harness) -> None:
    cr.stub_get(THEIRS)

    body = cr.invoke(cfn_event("Update", props(), physical_id=MANAGED, old=props(with_log_group(OURS, "/old"))))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", ADOPTED)
    assert body["Data"]["Managed"] == "false"


def test_update_of_adopted_resource_to_replace_takes_over(cr: Harness) -> None:
    cr.stub_get(THEIRS)
    cr.stub_put()

    body = cr.invoke(cfn_event("Update", props(ExistingConfiguration="replace"), physical_id=ADOPTED, old=props()))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)


# --- Delete -----------------------------------------------------------------------------------------------------------


def test_delete_managed_configuration_that_is_still_ours(cr: Harness) -> None:
    cr.stub_get(OURS_API)
    cr.stub_delete()

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", MANAGED, {})


def test_delete_managed_configuration_changed_by_someone_else_leaves_it(cr: Harness) -> None:
    cr.stub_get(THEIRS)  # no delete stubbed: a delete call would fail the Stubber

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)
    assert "changed outside" in body["Reason"]


def test_delete_managed_when_nothing_is_configured(cr: Harness) -> None:
    cr.stub_get(None)

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)


@pytest.mark.parametrize(
    "physical_id",
    [ADOPTED, REQUEST_ID],
    ids=["adopted", "after-failed-create"],
)
def test_delete_of_unmanaged_resource_touches_nothing(cr: Harness, physical_id: str) -> None:
    body = cr.invoke(cfn_event("Delete", physical_id=physical_id))  # no Bedrock call stubbed

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", physical_id, {})


def test_delete_after_failed_create_with_malformed_properties_succeeds(cr: Harness) -> None:
    body = cr.invoke(cfn_event("Delete", props(None, ExistingConfiguration="bogus"), physical_id=REQUEST_ID))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", REQUEST_ID)


# --- Put retries ------------------------------------------------------------------------------------------------------


def test_put_is_retried_while_the_new_role_propagates(cr: Harness) -> None:
    cr.stub_get(None)
    cr.stub_put_error("ValidationException")
    cr.stub_put_error("AccessDeniedException", "not authorized to perform PutLogEvents")
    cr.stub_put_error("ThrottlingException", "Too many requests")
    cr.stub_put()

    body = cr.invoke(cfn_event("Create"))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)
    assert cr.clock.sleeps == [2.0, 4.0, 8.0]


def test_put_that_keeps_failing_reports_api_and_error_code(cr: Harness) -> None:
    cr.stub_get(None)
    for _ in range(len(cr.module.PUT_RETRY_DELAYS_S) + 1):
        cr.stub_put_error("ValidationException")

    body = cr.invoke(cfn_event("Create"))

    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == REQUEST_ID
    assert "PutModelInvocationLoggingConfiguration" in body["Reason"]
    assert "ValidationException" in body["Reason"]
    assert "Failed to validate permissions for log group" in body["Reason"]
    assert cr.clock.sleeps == list(cr.module.PUT_RETRY_DELAYS_S)


def test_put_error_that_is_not_transient_fails_at_once(cr: Harness) -> None:
    cr.stub_get(None)
    cr.stubber.add_client_error(
        "put_model_invocation_logging_configuration", service_error_code="InternalServerException", http_status_code=500
    )

    body = cr.invoke(cfn_event("Update", physical_id=MANAGED, old=props()))

    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", MANAGED)
    assert body["Reason"].startswith("PutModelInvocationLoggingConfiguration failed with InternalServerException")
    assert cr.clock.sleeps == []


def test_put_retries_stop_before_the_function_times_out(cr: Harness) -> None:
    cr.clock.remaining_ms = 40_000
    cr.stub_get(None)
    for _ in range(4):
        cr.stub_put_error("AccessDeniedException", "role not ready")

    body = cr.invoke(cfn_event("Create"))

    assert body["Status"] == "FAILED"
    assert "PutModelInvocationLoggingConfiguration failed with AccessDeniedException after 4 attempts" in body["Reason"]
    assert "no time left" in body["Reason"]
    assert cr.clock.sleeps == [2.0, 4.0, 8.0]


# --- Failures ---------------------------------------------------------------------------------------------------------


def test_access_denied_on_get_fails_with_clear_reason(cr: Harness) -> None:
    cr.stubber.add_client_error(
        "get_model_invocation_logging_configuration",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: bedrock:GetModelInvocationLoggingConfiguration",
        http_status_code=403,
    )

    body = cr.invoke(cfn_event("Create"))

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("FAILED", REQUEST_ID, {})
    assert body["Reason"].startswith("GetModelInvocationLoggingConfiguration failed with AccessDeniedException: ")


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        (props(None), "The LoggingConfig property is required."),
        (props("s3://bucket"), "The LoggingConfig property must be an object."),
        (
            props({"textDataDeliveryEnabled": "true"}),
            "LoggingConfig needs at least one destination: cloudWatchConfig or s3Config.",
        ),
        (
            props(ExistingConfiguration="overwrite"),
            'ExistingConfiguration must be "keep" or "replace", got \'overwrite\'.',
        ),
        (
            props({**OURS, "textDataDeliveryEnabled": "yes"}),
            'LoggingConfig.textDataDeliveryEnabled must be "true" or "false", got \'yes\'.',
        ),
        (
            props({"cloudWatchConfig": {"logGroupName": "/llm"}}),
            "LoggingConfig.cloudWatchConfig.roleArn is required and must be a non-empty string.",
        ),
        (props({**OURS, "textDelivery": "true"}), "LoggingConfig does not match the Bedrock API: Unknown parameter"),
    ],
    ids=["missing", "not-object", "no-destination", "bad-mode", "bad-flag", "no-role", "unknown-key"],
)
def test_malformed_properties_fail_without_calling_bedrock(
    cr: Harness, properties: dict[str, Any], reason: str
) -> None:
    body = cr.invoke(cfn_event("Create", properties))

    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", REQUEST_ID)
    assert body["Reason"].startswith(reason)


def test_unsupported_request_type_fails(cr: Harness) -> None:
    body = cr.invoke(cfn_event("Rename", physical_id=MANAGED))

    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", MANAGED)
    assert "Unsupported RequestType 'Rename'" in body["Reason"]


def test_unexpected_exception_fails_without_traceback_in_reason(cr: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(raw: Any) -> Any:
        raise RuntimeError('internal detail\nTraceback (most recent call last):\n  File "x.py", line 1')

    monkeypatch.setattr(cr.module, "parse_properties", explode)

    body = cr.invoke(cfn_event("Create"))

    assert body["Status"] == "FAILED"
    assert body["Reason"] == "Unexpected RuntimeError while handling the Create request; see the logs."
    (record,) = [record for record in cr.logs() if record["message"] == "unexpected error"]  # one JSON line
    assert record["level"] == "ERROR" and record["error"] == "RuntimeError"
    assert "in explode" in record["exception"]  # the traceback goes to the logs only


def test_too_little_time_left_answers_failed_without_calling_bedrock(cr: Harness) -> None:
    cr.clock.remaining_ms = 3_000

    body = cr.invoke(cfn_event("Create"))

    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", REQUEST_ID)
    assert body["Reason"] == "Only 3000 ms were left, too little time to handle the Create request safely."


def test_watchdog_answers_failed_once_when_the_function_is_about_to_time_out(
    cr: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    class HangingClient:
        """Blocks in the first Bedrock call until the watchdog has answered."""

        meta = cr.client.meta

        def get_model_invocation_logging_configuration(self) -> dict[str, Any]:
            assert cr.http.delivered.wait(timeout=2)
            return {}

        def put_model_invocation_logging_configuration(self, **kwargs: Any) -> dict[str, Any]:
            return {}

    monkeypatch.setattr(cfn_response, "MIN_START_MS", 0)
    cr.clock.remaining_ms = cfn_response.RESPONSE_RESERVE_MS + 20
    cr.module.set_client(HangingClient())

    body = cr.invoke(cfn_event("Update", physical_id=MANAGED, old=props()))

    assert len(cr.http.requests) == 1  # the late SUCCESS is not sent
    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", MANAGED)
    assert "did not finish within the function's timeout" in body["Reason"]
    assert "response already sent by the timeout watchdog" in cr.caplog.text


# --- Response delivery and logging ------------------------------------------------------------------------------------


def test_response_put_is_retried_on_network_errors(cr: Harness) -> None:
    cr.http.errors = [urllib.error.URLError("connection reset"), TimeoutError("timed out")]
    cr.stub_get(None)
    cr.stub_put()

    body = cr.invoke(cfn_event("Create"))

    assert len(cr.http.requests) == 3
    assert body["Status"] == "SUCCESS"
    assert cr.clock.sleeps == [1.0, 2.0]


def test_undeliverable_response_raises_so_lambda_retries(cr: Harness) -> None:
    cr.http.errors = [urllib.error.HTTPError(RESPONSE_URL, 403, "Forbidden", {}, None)]  # type: ignore[arg-type]

    with pytest.raises(cfn_response.ResponseNotDelivered) as raised:
        cr.module.on_event(cfn_event("Delete", physical_id=ADOPTED), cr.clock)

    assert len(cr.http.requests) == 1  # a 4xx from S3 is not retried
    assert SIGNATURE not in str(raised.value)


def test_response_url_never_reaches_the_logs(cr: Harness) -> None:
    cr.http.errors = [urllib.error.URLError(f"cannot reach {RESPONSE_URL}")]
    cr.stub_get(THEIRS)

    cr.invoke(cfn_event("Create"))

    logged = cr.log_stream.getvalue()
    (received,) = [record for record in cr.logs() if record["message"] == "request received"]
    assert received["event"]["ResponseURL"] == "<redacted>"
    assert received["event"]["RequestId"] == REQUEST_ID
    assert SIGNATURE not in logged and SIGNATURE not in cr.caplog.text
    assert "cloudformation-custom-resource-response" not in logged


def test_event_without_response_url_is_rejected(cr: Harness) -> None:
    event = cfn_event("Create")
    del event["ResponseURL"]

    with pytest.raises(ValueError, match="no usable ResponseURL"):
        cr.module.on_event(event, cr.clock)

    assert cr.http.requests == []


def test_client_is_created_lazily_once_and_honours_the_bedrock_endpoint_variable(
    il: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", "http://localhost:4566")
    il.set_client(None)
    try:
        client = il.bedrock_client()
        assert il.bedrock_client() is client
        assert client.meta.endpoint_url == "http://localhost:4566"
        assert client.meta.region_name == "us-east-1"
    finally:
        il.set_client(None)


# --- Hardening: no write after the watchdog answered; a Delete never blocks a rollback --------------------------------


class RecordingClient:
    """A Bedrock client whose Get blocks until the watchdog has answered; writes are recorded."""

    def __init__(self, cr: Harness, current: dict[str, Any] | None) -> None:
        self.meta = cr.client.meta
        self._cr = cr
        self._current = current
        self.writes: list[str] = []

    def get_model_invocation_logging_configuration(self) -> dict[str, Any]:
        assert self._cr.http.delivered.wait(timeout=2)
        return {} if self._current is None else {"loggingConfig": self._current}

    def put_model_invocation_logging_configuration(self, **kwargs: Any) -> dict[str, Any]:
        self.writes.append("put")
        return {}

    def delete_model_invocation_logging_configuration(self) -> dict[str, Any]:
        self.writes.append("delete")
        return {}


@pytest.mark.parametrize(
    ("event", "current"),
    [
        (cfn_event("Create"), None),
        (cfn_event("Update", physical_id=MANAGED, old=props()), OURS_API),
        (cfn_event("Delete", physical_id=MANAGED), OURS_API),
    ],
    ids=["create", "update", "delete"],
)
def test_nothing_is_written_after_the_watchdog_answered(
    cr: Harness, monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], current: dict[str, Any] | None
) -> None:
    client = RecordingClient(cr, current)
    monkeypatch.setattr(cfn_response, "MIN_START_MS", 0)
    cr.clock.remaining_ms = cfn_response.RESPONSE_RESERVE_MS + 20
    cr.module.set_client(client)

    body = cr.invoke(event)

    assert len(cr.http.requests) == 1
    assert client.writes == []
    assert "already answered" in cr.log_stream.getvalue()
    # A Delete answered by the watchdog succeeds (leaving the configuration), so it never blocks a rollback.
    assert body["Status"] == ("SUCCESS" if event["RequestType"] == "Delete" else "FAILED")
    assert "did not finish within the function's timeout" in body["Reason"]


def test_a_delete_with_too_little_time_left_succeeds_without_calling_bedrock(cr: Harness) -> None:
    cr.clock.remaining_ms = 3_000

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)
    assert body["Reason"].startswith("Only 3000 ms were left") and "left in place" in body["Reason"]


def stub_error(cr: Harness, method: str, code: str, status: int = 400) -> None:
    cr.stubber.add_client_error(method, service_error_code=code, service_message="slow down", http_status_code=status)


def test_delete_retries_throttling_on_get_and_delete(cr: Harness) -> None:
    stub_error(cr, "get_model_invocation_logging_configuration", "ThrottlingException")
    cr.stub_get(OURS_API)
    stub_error(cr, "delete_model_invocation_logging_configuration", "ThrottlingException")
    cr.stub_delete()

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert (body["Status"], body["Reason"]) == ("SUCCESS", "Model invocation logging configuration deleted.")
    assert cr.clock.sleeps == [2.0, 2.0]


@pytest.mark.parametrize(
    ("errors", "reason"),
    [
        ([("get_model_invocation_logging_configuration", "AccessDeniedException")], "GetModelInvocation"),
        (
            [("get_model_invocation_logging_configuration", "ThrottlingException")] * 6,
            "GetModelInvocationLoggingConfiguration failed with ThrottlingException after 6 attempts",
        ),
        (
            [("get", None), ("delete_model_invocation_logging_configuration", "InternalServerException")],
            "DeleteModelInvocationLoggingConfiguration failed with InternalServerException",
        ),
    ],
    ids=["get-denied", "get-throttled", "delete-error"],
)
def test_delete_errors_answer_success_with_the_reason_and_delete_nothing_unproven(
    cr: Harness, errors: list[tuple[str, str | None]], reason: str
) -> None:
    for method, code in errors:
        if code is None:
            cr.stub_get(OURS_API)
        else:
            stub_error(cr, method, code)

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", MANAGED)
    assert reason in body["Reason"] and "left in place" in body["Reason"]


def test_an_unexpected_error_during_delete_answers_success(cr: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(cr.module, "bedrock_client", broken)

    body = cr.invoke(cfn_event("Delete", physical_id=MANAGED))

    assert body["Status"] == "SUCCESS" and "RuntimeError" in body["Reason"]


# --- Properties (hypothesis): always one answer, a Delete always SUCCESS, nothing raises ------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
_HOSTILE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.text(max_size=20),
        st.sampled_from(["\ud800", "true", "false", DEEP, ROLE, "keep", "replace"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_CONFIGS = st.one_of(
    _HOSTILE,
    st.just(OURS),
    st.fixed_dictionaries({"cloudWatchConfig": _HOSTILE, "s3Config": _HOSTILE, "textDataDeliveryEnabled": _HOSTILE}),
)
_BEDROCK = st.sampled_from(["none", "ours", "theirs", "throttled", "denied", "internal"])


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    request_type=st.sampled_from(["Create", "Update", "Delete", "Bogus"]),
    config=_CONFIGS,
    old=_CONFIGS,
    mode=st.one_of(st.just("keep"), _HOSTILE),
    physical_id=st.one_of(st.sampled_from([MANAGED, ADOPTED, REQUEST_ID]), st.text(max_size=10)),
    bedrock=_BEDROCK,
)
def test_any_request_is_answered_and_a_delete_always_succeeds(
    cr: Harness, request_type: str, config: Any, old: Any, mode: Any, physical_id: str, bedrock: str
) -> None:
    class Client:
        meta = cr.client.meta

        def _answer(self) -> dict[str, Any]:
            if bedrock in ("throttled", "denied", "internal"):
                code = {"throttled": "ThrottlingException", "denied": "AccessDeniedException"}.get(bedrock, "Internal")
                raise ClientError({"Error": {"Code": code, "Message": "\ud800"}}, "Call")
            return {"none": {}, "ours": {"loggingConfig": OURS_API}, "theirs": {"loggingConfig": THEIRS}}[bedrock]

        def get_model_invocation_logging_configuration(self) -> dict[str, Any]:
            return self._answer()

        def put_model_invocation_logging_configuration(self, **kwargs: Any) -> dict[str, Any]:
            return self._answer()

        def delete_model_invocation_logging_configuration(self) -> dict[str, Any]:
            return self._answer()

    cr.http.requests.clear()
    cr.clock.remaining_ms = 300_000
    cr.module.set_client(Client())
    event = cfn_event(request_type, props(config, ExistingConfiguration=mode), physical_id=physical_id, old=old)

    body = cr.invoke(event)

    assert len(cr.http.requests) == 1 and body["Status"] in ("SUCCESS", "FAILED")
    if request_type == "Delete":
        assert body["Status"] == "SUCCESS"
