"""Usage per tenant in the runtime: ``tenant_of`` reads an API Gateway event, ``tenant`` tags Bedrock calls.

Converse calls carry ``requestMetadata={"tenant": ...}`` on the wire (what the model invocation log records),
InvokeModel calls the ``X-Amzn-Bedrock-Request-Metadata`` header; every ``bedrock_call`` line carries ``tenant``.
Real boto3 clients answered by ``FakeBedrock``, so the assertions read the HTTP request botocore sent.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime import api, calls, tenancy
from llm_observability.runtime import telemetry as t
from tests.runtime.bedrock_fakes import MODEL_ID, FakeBedrock, error_reply, invoke_reply, json_reply
from tests.runtime.conftest import Output

MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": "Hello"}]}]
CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hi."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
    "metrics": {"latencyMs": 80},
}
ROLE_ARN = "arn:aws:sts::123456789012:assumed-role/CallerRole/jane@example.com"


def rest_event(headers: dict[str, str] | None = None, *, user_arn: str | None = ROLE_ARN, **extra: Any) -> dict:
    identity = {"userArn": user_arn, "caller": "AROAEXAMPLE:jane@example.com"} if user_arn else {}
    return {"headers": headers or {}, "requestContext": {"requestId": "r-1", "identity": identity}, **extra}


@pytest.fixture(autouse=True)
def _no_tenant() -> Any:
    """Each test starts, and leaves the process, without a tenant."""
    api.tenant(None)
    yield
    api.tenant(None)


# --- tenant_of ------------------------------------------------------------------------------------------
def test_the_header_names_the_tenant_whatever_its_case() -> None:
    assert tenancy.tenant_of(rest_event({"X-Tenant-Id": " acme-eu "})) == "acme-eu"
    assert tenancy.tenant_of(rest_event({"x-customer": "c@1"}), "x-customer") == "c@1"


def test_without_the_header_the_iam_caller_is_the_tenant() -> None:
    assert tenancy.tenant_of(rest_event()) == ROLE_ARN
    caller_only = {"requestContext": {"identity": {"userArn": None, "caller": "AROAEXAMPLE:session"}}}
    assert tenancy.tenant_of(caller_only) == "AROAEXAMPLE:session"
    http_api = {"headers": {}, "requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/bob"}}}}
    assert tenancy.tenant_of(http_api) == "arn:aws:iam::1:user/bob"


def test_without_header_and_caller_the_tenant_is_anonymous() -> None:
    assert tenancy.tenant_of(rest_event(user_arn=None)) == tenancy.ANONYMOUS
    assert tenancy.tenant_of("not an event") == tenancy.ANONYMOUS
    assert tenancy.tenant_of({"requestContext": "x"}) == tenancy.ANONYMOUS


def test_a_caller_is_made_a_request_metadata_value() -> None:
    odd = "arn:aws:sts::1:assumed-role/R/" + "name with spaces;" + "x" * 300
    tenant = tenancy.tenant_of(rest_event(user_arn=odd))
    assert tenancy.is_tenant_key(tenant) and len(tenant) == tenancy.MAX_KEY_CHARS
    assert tenant.startswith("arn:aws:sts::1:assumed-role/R/name_with_spaces_")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-tenant-id": ""},
        {"x-tenant-id": "acme corp"},
        {"x-tenant-id": "a" * 65},
        {"x-tenant-id": "acme;drop"},
        {"x-tenant-id": "acme,globex"},  # an HTTP API joins a repeated header with commas
    ],
)
def test_a_bad_header_value_is_refused_naming_the_header(headers: dict[str, str]) -> None:
    with pytest.raises(tenancy.InvalidTenant, match="The x-tenant-id header must be") as raised:
        tenancy.tenant_of(rest_event(headers))
    assert raised.value.header == "x-tenant-id"


def test_a_header_sent_twice_with_two_values_is_refused() -> None:
    event = rest_event({"x-tenant-id": "b"}, multiValueHeaders={"X-Tenant-Id": ["a", "b"]})
    with pytest.raises(tenancy.InvalidTenant):
        tenancy.tenant_of(event)
    same_twice = rest_event({"x-tenant-id": "a"}, multiValueHeaders={"x-tenant-id": ["a", "a "]})
    assert tenancy.tenant_of(same_twice) == "a"


def test_a_bad_header_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="header is 'X-Tenant'"):
        tenancy.tenant_of(rest_event(), "X-Tenant")


@given(value=st.text(max_size=80), arn=st.one_of(st.none(), st.text(max_size=300)))
@settings(max_examples=150, deadline=None, database=None)
def test_property_any_header_gives_a_refusal_or_a_valid_key(value: str, arn: str | None) -> None:
    try:
        tenant = tenancy.tenant_of(rest_event({"x-tenant-id": value}, user_arn=arn))
    except tenancy.InvalidTenant as exc:
        assert exc.header == "x-tenant-id"
    else:
        assert tenancy.TENANT_ID_RE.fullmatch(tenant) and tenant == value.strip()
    assert tenancy.is_tenant_key(tenancy.tenant_of(rest_event(user_arn=arn)))


# --- tenant() and the calls ------------------------------------------------------------------------------
def test_tenant_refuses_what_request_metadata_would_refuse() -> None:
    for bad in ("", "a b", "x" * 257, "tab\t", 7):
        with pytest.raises(ValueError, match="tenant is"):
            api.tenant(bad)  # type: ignore[arg-type]
    api.tenant("arn:aws:sts::1:assumed-role/R/s,e=s@x.y+z#$")


def _sent_body(fake: FakeBedrock) -> dict[str, Any]:
    body = fake.requests[-1].body
    return json.loads(body.decode() if isinstance(body, bytes) else body)


def test_converse_carries_the_tenant_as_request_metadata_and_in_its_log_line(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), json_reply(CONVERSE_OK))
    api.tenant("acme")
    params = {"modelId": MODEL_ID, "messages": MESSAGES}
    client.converse(**params)
    assert _sent_body(fake)["requestMetadata"] == {"tenant": "acme"}
    assert "requestMetadata" not in params  # the user's parameters are not changed

    client.converse(**params, requestMetadata={"team": "search"})  # the user's own metadata wins
    assert _sent_body(fake)["requestMetadata"] == {"team": "search"}
    assert [line[t.LOG_FIELD_TENANT] for line in out.calls()] == ["acme", "acme"]


def test_without_a_tenant_nothing_is_added(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK))
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert "requestMetadata" not in _sent_body(fake)
    (line,) = out.calls()
    assert t.LOG_FIELD_TENANT not in line


def test_invoke_model_carries_the_tenant_header_and_log_field(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(invoke_reply({"content": [{"type": "text", "text": "Hi"}]}, input_tokens=9, output_tokens=2))
    api.tenant("globex")
    response = client.invoke_model(modelId=MODEL_ID, body=json.dumps({"messages": MESSAGES}))
    assert json.loads(response["body"].read())["content"][0]["text"] == "Hi"
    header = fake.requests[-1].headers["X-Amzn-Bedrock-Request-Metadata"]
    assert json.loads(header) == {"tenant": "globex"}
    (line,) = out.calls()
    assert line[t.LOG_FIELD_TENANT] == "globex" and line[t.LOG_FIELD_OPERATION] == "InvokeModel"
    assert line["usage"]["input_tokens"] == 9


def test_an_sdk_without_the_invoke_model_header_is_sent_nothing_new() -> None:
    op = calls.OPERATIONS[("bedrock-runtime", "InvokeModel")]
    old_model = SimpleNamespace(input_shape=SimpleNamespace(members={"body": None, "modelId": None}))
    old_service = SimpleNamespace(operation_model=lambda _: old_model)
    old_client = SimpleNamespace(meta=SimpleNamespace(service_model=old_service))
    params = {"modelId": MODEL_ID, "body": "{}"}
    assert calls.with_tenant(op, old_client, params, "acme") is params
    retrieve = calls.OPERATIONS[("bedrock-agent-runtime", "Retrieve")]
    assert calls.with_tenant(retrieve, old_client, {"knowledgeBaseId": "KB"}, "acme") == {"knowledgeBaseId": "KB"}


def test_a_failed_call_keeps_its_exception_and_logs_its_tenant(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(error_reply("ThrottlingException", 429))
    api.tenant("acme")
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    (line,) = out.calls()
    assert line[t.LOG_FIELD_TENANT] == "acme" and line[t.LOG_FIELD_OUTCOME] == t.LOG_OUTCOME_FAILURE


def test_a_broken_tenant_hook_never_breaks_the_call(out: Output, fake: FakeBedrock, monkeypatch: Any) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("llm_observability.runtime.hook.with_tenant", broken)
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK))
    api.tenant("acme")
    assert client.converse(modelId=MODEL_ID, messages=MESSAGES)["stopReason"] == "end_turn"
    assert "requestMetadata" not in _sent_body(fake)
    assert out.values(t.METRIC_INSTRUMENTATION_ERRORS) == [1.0]


def test_each_observed_invocation_starts_without_a_tenant(out: Output, fake: FakeBedrock) -> None:
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK), json_reply(CONVERSE_OK))

    @api.observe
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("headers"):
            api.tenant(tenancy.tenant_of(event))
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        return {"statusCode": 200}

    handler(rest_event({"x-tenant-id": "acme"}), None)
    handler({"requestContext": {"requestId": "r-2"}}, None)
    first, second = out.calls()
    assert first[t.LOG_FIELD_TENANT] == "acme" and t.LOG_FIELD_TENANT not in second
    assert tenancy.current_tenant.get() is None


def test_an_aliased_profile_is_reported_as_its_model(out: Output, fake: FakeBedrock, monkeypatch: Any) -> None:
    monkeypatch.setattr(calls, "MODEL_ALIASES", {})
    profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    api.alias_model(profile, MODEL_ID)
    with pytest.raises(ValueError, match="model_id is ''"):
        api.alias_model(profile, "")
    client = fake.client("bedrock-runtime")
    fake.queue(json_reply(CONVERSE_OK))
    client.converse(modelId=profile, messages=MESSAGES)
    assert fake.requests[-1].url.endswith("/converse") and "application-inference-profile" in fake.requests[-1].url
    (line,) = out.calls()
    assert line[t.LOG_FIELD_MODEL] == MODEL_ID and line["invoked_model_id"] == profile
    assert out.values(t.METRIC_INPUT_TOKENS, ModelId=MODEL_ID) == [12.0]
    assert line["estimated_cost_usd"] is not None  # priced as the model it copies
