"""OpenSearch index-template custom resource (functions/opensearch_index_template/handler.py).

The handler is loaded under a unique module name; its shared siblings ``cfn_response`` and ``sigv4`` come
from ``functions/_shared`` (on ``sys.path``, as they sit beside the handler in the asset). Both the signed
OpenSearch calls and the response PUT to CloudFormation go through a fake ``urllib.request.urlopen`` that
routes by URL; time is a fake clock shared by the Lambda context and the handler's ``sleep``.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sigv4
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import FakeClock, FakeHttpResponse, http_error
from tests.support.loader import load_file

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "opensearch_index_template"
RESPONSE_URL = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/stack?X-Amz-Signature=secret"
DOMAIN = "search-rag-api-abc123.us-east-1.es.amazonaws.com"
COLLECTION = "https://0a1b2c3d4e.us-east-1.aoss.amazonaws.com"
TEMPLATE = {"index_patterns": ["llm-logs*"], "priority": 100, "template": {"mappings": {"properties": {}}}}


handler = load_file("opensearch_index_template_handler", FUNCTION_DIR / "handler.py")


def props(endpoint: str = DOMAIN, service: str = "es", name: str = "llm-logs-template", body: Any = None) -> dict:
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:template",
        "Endpoint": endpoint,
        "Service": service,
        "TemplateName": name,
        "TemplateBody": json.dumps(TEMPLATE) if body is None else body,
    }


def cfn_event(request_type: str, properties: dict | None = None, physical_id: str | None = None) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": RESPONSE_URL,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/l3/id",
        "RequestId": "req-1",
        "LogicalResourceId": "IndexTemplate",
        "ResourceType": "Custom::OpenSearchIndexTemplate",
        "ResourceProperties": properties or props(),
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


@dataclass
class FakeHttp:
    """OpenSearch calls get the queued outcomes (default 200); CloudFormation responses are recorded."""

    outcomes: list[Exception | int] = field(default_factory=list)
    calls: list[urllib.request.Request] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, timeout: float | None = None) -> FakeHttpResponse:
        if request.full_url == RESPONSE_URL:
            self.responses.append(json.loads(request.data))  # type: ignore[arg-type]
            return FakeHttpResponse()
        self.calls.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(outcome, Exception):
            raise outcome
        return FakeHttpResponse(outcome)


@dataclass
class Harness:
    http: FakeHttp
    clock: FakeClock

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        handler.on_event(event, self.clock)
        (response,) = self.http.responses
        assert response["RequestId"] == "req-1" and response["LogicalResourceId"] == "IndexTemplate"
        assert len(response["Reason"]) <= 500 and "\n" not in response["Reason"]
        return response


@pytest.fixture
def resource(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    http = FakeHttp()
    clock = FakeClock()
    monkeypatch.setattr(urllib.request, "urlopen", http)
    monkeypatch.setattr(handler, "sleep", clock.sleep)

    class Session:
        def get_credentials(self) -> Credentials:
            return Credentials("AKIDEXAMPLE", "secret", "token")

    sigv4.set_session(Session())
    yield Harness(http, clock)
    sigv4.set_session(None)


@pytest.mark.parametrize(("endpoint", "service"), [(DOMAIN, "es"), (COLLECTION, "aoss")])
def test_create_puts_the_template_signed_for_the_service(resource: Harness, endpoint: str, service: str) -> None:
    response = resource.invoke(cfn_event("Create", props(endpoint, service)))
    host = endpoint.removeprefix("https://")
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == f"{host}/_index_template/llm-logs-template"
    assert response["Data"] == {"TemplateName": "llm-logs-template"}
    (call,) = resource.http.calls
    assert call.get_method() == "PUT" and call.full_url == f"https://{host}/_index_template/llm-logs-template"
    assert json.loads(call.data) == TEMPLATE  # type: ignore[arg-type]
    headers = {k.lower(): v for k, v in call.header_items()}
    assert f"/us-east-1/{service}/aws4_request" in headers["authorization"]
    assert len(headers["x-amz-content-sha256"]) == 64 and headers["content-type"] == "application/json"


def test_access_denied_while_policies_propagate_is_retried(resource: Harness) -> None:
    resource.http.outcomes = [http_error(403, b"no permissions"), http_error(429), 200]
    assert resource.invoke(cfn_event("Create"))["Status"] == "SUCCESS"
    assert resource.clock.sleeps == [2.0, 4.0]


def test_a_bad_template_fails_with_the_reason(resource: Harness) -> None:
    resource.http.outcomes = [http_error(400, b'{"error":{"type":"mapper_parsing_exception"}}')]
    response = resource.invoke(cfn_event("Create"))
    assert response["Status"] == "FAILED"
    assert "HTTP 400" in response["Reason"] and "mapper_parsing_exception" in response["Reason"]
    assert response["PhysicalResourceId"] == "req-1"


def test_server_errors_fail_after_the_retries_time_allows(resource: Harness) -> None:
    resource.clock.remaining_ms = 40_000
    resource.http.outcomes = [http_error(503)] * 10
    response = resource.invoke(cfn_event("Update", physical_id=f"{DOMAIN}/_index_template/llm-logs-template"))
    assert response["Status"] == "FAILED" and "HTTP 503" in response["Reason"]
    assert len(resource.http.calls) < 10


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        (props(endpoint=""), "Endpoint"),
        (props(endpoint="http://plain.example.com"), "https"),
        (props(service="opensearch"), "Service"),
        (props(name="Bad Name"), "TemplateName"),
        (props(body="{not json"), "not valid JSON"),
        (props(body=json.dumps({"template": {}})), "index_patterns"),
    ],
)
def test_bad_properties_fail_without_calls(resource: Harness, properties: dict, reason: str) -> None:
    response = resource.invoke(cfn_event("Create", properties))
    assert response["Status"] == "FAILED" and reason in response["Reason"]
    assert resource.http.calls == []


def test_delete_removes_the_template(resource: Harness) -> None:
    physical = f"{DOMAIN}/_index_template/llm-logs-template"
    response = resource.invoke(cfn_event("Delete", physical_id=physical))
    assert response["Status"] == "SUCCESS" and response["PhysicalResourceId"] == physical
    (call,) = resource.http.calls
    assert call.get_method() == "DELETE"


@pytest.mark.parametrize("outcome", [http_error(404), http_error(400, b"bad")])
def test_delete_never_blocks_stack_deletion(resource: Harness, outcome: Exception) -> None:
    resource.http.outcomes = [outcome]
    response = resource.invoke(cfn_event("Delete", physical_id=f"{DOMAIN}/_index_template/llm-logs-template"))
    assert response["Status"] == "SUCCESS"


def test_delete_of_a_failed_create_calls_nothing(resource: Harness) -> None:
    assert resource.invoke(cfn_event("Delete", physical_id="req-0"))["Status"] == "SUCCESS"
    assert resource.http.calls == []


def test_the_response_url_and_template_body_are_never_logged(
    resource: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", stream)
    resource.invoke(cfn_event("Create"))
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    (received,) = [record for record in records if record["message"] == "request received"]
    assert received["event"]["ResponseURL"] == "<redacted>"
    assert received["event"]["ResourceProperties"]["TemplateBody"] == f"<{len(json.dumps(TEMPLATE))} characters>"
    assert "X-Amz-Signature" not in stream.getvalue() and "secret" not in stream.getvalue()


def test_not_a_custom_resource_request_raises() -> None:
    with pytest.raises(ValueError, match="ResponseURL"):
        handler.on_event({"RequestType": "Create"}, FakeClock())


# --- Hardening: a Delete never blocks a rollback; cosmetic endpoint changes keep the physical id ----------------------

DEEP_BODY = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "properties",
    [
        props(endpoint="https://[::1"),
        props(body=DEEP_BODY),
        props(body='{"index_patterns": [], "priority": 1' + "0" * 5_000 + "}"),
        props(endpoint="https://host:99999"),
        props(name="\ud800"),
    ],
    ids=["unclosed-ipv6", "deep-body", "huge-integer", "bad-port", "lone-surrogate"],
)
def test_hostile_properties_fail_create_and_the_following_delete_succeeds(resource: Harness, properties: dict) -> None:
    created = resource.invoke(cfn_event("Create", properties))
    assert created["Status"] == "FAILED" and not created["Reason"].startswith("Unexpected")
    resource.http.responses.clear()
    deleted = resource.invoke(cfn_event("Delete", properties, physical_id=created["PhysicalResourceId"]))
    assert deleted["Status"] == "SUCCESS" and deleted["PhysicalResourceId"] == "req-1"
    assert resource.http.calls == []


def test_any_error_during_delete_is_logged_and_answers_success(
    resource: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", stream)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler, "call", broken)
    physical = f"{DOMAIN}/_index_template/llm-logs-template"
    response = resource.invoke(cfn_event("Delete", physical_id=physical))
    assert response["Status"] == "SUCCESS" and response["PhysicalResourceId"] == physical
    assert "RuntimeError" in response["Reason"]
    assert "RuntimeError" in stream.getvalue()


@pytest.mark.parametrize("endpoint", [DOMAIN.upper(), f"{DOMAIN}:443", f"HTTPS://{DOMAIN.title()}:443/"])
def test_an_update_that_only_changes_the_endpoints_spelling_keeps_the_physical_id(
    resource: Harness, endpoint: str
) -> None:
    physical = f"{DOMAIN}/_index_template/llm-logs-template"
    response = resource.invoke(cfn_event("Update", props(endpoint), physical_id=physical))
    assert response["Status"] == "SUCCESS" and response["PhysicalResourceId"] == physical
    (call,) = resource.http.calls
    assert call.full_url == f"https://{DOMAIN}/_index_template/llm-logs-template"


def test_delete_recognises_a_physical_id_written_with_another_spelling(resource: Harness) -> None:
    response = resource.invoke(
        cfn_event("Delete", physical_id=f"{DOMAIN.upper()}:443/_index_template/llm-logs-template")
    )
    assert response["Status"] == "SUCCESS" and response["Reason"] == "Index template deleted."
    (call,) = resource.http.calls
    assert call.get_method() == "DELETE"


def test_a_port_other_than_443_stays_part_of_the_physical_id(resource: Harness) -> None:
    response = resource.invoke(cfn_event("Create", props(f"{DOMAIN}:9200")))
    assert response["PhysicalResourceId"] == f"{DOMAIN}:9200/_index_template/llm-logs-template"


# --- Properties (hypothesis): always one answer, a Delete always SUCCESS, nothing raises ------------------------------

_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "https://[::1", "https://h:0", "https://h:99999", "[[[[", DOMAIN, f"{DOMAIN}:443"]),
)
_HOSTILE_VALUE = st.one_of(
    _HOSTILE_TEXT,
    st.none(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.just(DEEP_BODY),
    st.just('{"index_patterns": ["x"], "priority": ' + "9" * 5_000 + "}"),
    st.just(json.dumps({**TEMPLATE, "_meta": {"note": "\ud800"}})),
    st.just(json.dumps(TEMPLATE)),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    request_type=st.sampled_from(["Create", "Update", "Delete", "Bogus"]),
    endpoint=_HOSTILE_VALUE,
    service=st.one_of(st.sampled_from(["es", "aoss"]), _HOSTILE_VALUE),
    name=st.one_of(st.just("llm-logs-template"), _HOSTILE_VALUE),
    body=_HOSTILE_VALUE,
    physical_id=st.one_of(st.none(), _HOSTILE_TEXT, st.just(f"{DOMAIN}/_index_template/llm-logs-template")),
    outcome=st.one_of(st.just(200), st.sampled_from([404, 400, 403, 500]).map(http_error), st.just(OSError("down"))),
)
def test_any_request_is_answered_once_and_a_delete_always_succeeds(
    resource: Harness,
    request_type: str,
    endpoint: Any,
    service: Any,
    name: Any,
    body: Any,
    physical_id: str | None,
    outcome: Any,
) -> None:
    resource.http.responses.clear()
    resource.http.outcomes = [outcome] * 20
    properties = {"Endpoint": endpoint, "Service": service, "TemplateName": name, "TemplateBody": body}
    event = cfn_event(request_type, properties, physical_id)
    response = resource.invoke(event)
    assert response["Status"] in ("SUCCESS", "FAILED")
    if request_type == "Delete":
        assert response["Status"] == "SUCCESS"
