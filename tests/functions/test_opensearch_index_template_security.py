"""The index-template custom resource as the domain's master user: the ``Security`` property (roles, role
mappings, audit logging) is applied before the template, and a bad one fails the Create with one sentence."""

from __future__ import annotations

import json

import pytest

from tests.functions.test_opensearch_index_template import (  # noqa: F401  (the fixture and its helpers)
    COLLECTION,
    DOMAIN,
    Harness,
    cfn_event,
    handler,
    props,
    resource,
)

ARN = "arn:aws:iam::123456789012:role/delivery"
SECURITY = {
    "roles": {"llm-log-writer": {"cluster_permissions": ["cluster_monitor"], "index_permissions": []}},
    "role_mappings": {"llm-log-writer": [ARN]},
    "audit_logging": True,
}


def test_create_sets_up_security_before_the_template(resource: Harness) -> None:  # noqa: F811
    response = resource.invoke(cfn_event("Create", {**props(), "Security": json.dumps(SECURITY)}))
    assert response["Status"] == "SUCCESS"
    calls = [(r.get_method(), r.full_url.removeprefix(f"https://{DOMAIN}")) for r in resource.http.calls]
    assert calls == [
        ("PUT", "/_plugins/_security/api/roles/llm-log-writer"),
        ("PUT", "/_plugins/_security/api/rolesmapping/llm-log-writer"),
        ("PATCH", "/_plugins/_security/api/audit"),
        ("PUT", "/_index_template/llm-logs-template"),
    ]
    bodies = [json.loads(r.data) for r in resource.http.calls]  # type: ignore[arg-type]
    assert bodies[0] == SECURITY["roles"]["llm-log-writer"] and bodies[1] == {"backend_roles": [ARN]}
    assert bodies[2] == [{"op": "add", "path": "/config/enabled", "value": True}]
    assert all("Authorization" in r.headers for r in resource.http.calls)  # SigV4-signed as the master


def test_a_rejected_security_call_fails_the_create_and_puts_no_template(resource: Harness) -> None:  # noqa: F811
    from tests.fakes import http_error

    resource.http.outcomes = [http_error(400, b'{"error":"bad role"}')]
    response = resource.invoke(cfn_event("Create", {**props(), "Security": json.dumps(SECURITY)}))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("PUT /_plugins/_security/api/roles/llm-log-writer was rejected with HTTP 400")
    assert len(resource.http.calls) == 1


@pytest.mark.parametrize(
    ("security", "service"),
    [
        (json.dumps(SECURITY), "aoss"),  # Serverless has no security plugin
        ("{not json", "es"),
        (json.dumps({**SECURITY, "users": {}}), "es"),
        (json.dumps({**SECURITY, "role_mappings": {"llm-log-writer": ["arn:aws:iam::123456789012:user/x"]}}), "es"),
        (json.dumps({**SECURITY, "roles": {"../_index_template/x": {}}}), "es"),
        (json.dumps({**SECURITY, "audit_logging": "yes"}), "es"),
        ({"roles": {}}, "es"),  # not a JSON string
    ],
)
def test_a_bad_security_property_fails_with_one_sentence(resource: Harness, security: object, service: str) -> None:  # noqa: F811
    endpoint = COLLECTION if service == "aoss" else DOMAIN
    response = resource.invoke(cfn_event("Create", {**props(endpoint, service), "Security": security}))
    assert response["Status"] == "FAILED" and response["Reason"].startswith("The Security property must be")
    assert resource.http.calls == []


def test_without_security_only_the_template_is_put(resource: Harness) -> None:  # noqa: F811
    assert handler.parse_security(None, "es") == () and handler.parse_security("", "aoss") == ()
    resource.invoke(cfn_event("Create"))
    assert [r.get_method() for r in resource.http.calls] == ["PUT"]
