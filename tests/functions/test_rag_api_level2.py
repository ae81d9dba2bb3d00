"""Level 2/3 behaviour of the RAG Lambda: Bedrock Guardrail, Prompt Management and the SSM-managed model.

Every AWS call goes through a botocore Stubber, which validates the request and the canned response
against the installed service models (bedrock-runtime, ssm, bedrock-agent).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ConnectTimeoutError

from llm_observability.runtime import telemetry

if TYPE_CHECKING:
    from conftest import Api

QUESTION = "What is the refund policy?"
GUARDRAIL_ID = "gr1abc2def3"
RUNTIME_LINES = (telemetry.LOG_MESSAGE_CALL, telemetry.LOG_MESSAGE_FEEDBACK)  # written by the runtime
GUARDRAIL_VERSION = "3"
PROMPT_PARAMETER = "/rag-api/prompt/active-version"
MODEL_PARAMETER = "/rag-api/model/active"
PROMPT_ID = "PROMPT1234"
PROMPT_BASE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:prompt/{PROMPT_ID}"
MANAGED_TEMPLATE = "Context passages:\n{{passages}}\n\nAnswer this briefly, citing passages: {{question}}"
FALLBACK_MODEL = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
BLOCKED_MESSAGE = "Sorry, I can't help with that request."
MISCONFIGURED = "The service is not configured correctly; the operators have been alerted."


def body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


def passages_text(api: Api) -> str:
    return f"[1] {api.default_passages[0][0]}\n\n[2] {api.default_passages[1][0]}"


def builtin_user_text(api: Api, question: str = QUESTION) -> str:
    return f"Passages:\n{passages_text(api)}\n\nQuestion: {question}"


def managed_user_text(api: Api, question: str = QUESTION) -> str:
    return f"Context passages:\n{passages_text(api)}\n\nAnswer this briefly, citing passages: {question}"


def converse_request(api: Api, user: Any, model_id: str | None = None, guardrail: bool = False) -> dict[str, Any]:
    """The expected Converse request (default inference settings) with ``user`` as the user text or content."""
    content = user if isinstance(user, list) else [{"text": user}]
    request: dict[str, Any] = {
        "modelId": model_id or api.model_id,
        "system": [{"text": api.pipeline.PROMPT_TEMPLATES["v1"].system}],
        "messages": [{"role": "user", "content": content}],
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.2, "topP": 0.9},
        "requestMetadata": {"tenant": "anonymous"},  # the events have no tenant header and no IAM caller
    }
    if guardrail:
        request["guardrailConfig"] = {
            "guardrailIdentifier": GUARDRAIL_ID,
            "guardrailVersion": GUARDRAIL_VERSION,
            "trace": "enabled",
        }
    return request


def guarded_response(
    text: str = "Refunds take 30 days [1].",
    *,
    stop_reason: str = "end_turn",
    input_assessment: dict[str, Any] | None = None,
    output_assessments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Converse response with a guardrail trace."""
    response: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 1200, "outputTokens": 80, "totalTokens": 1280},
        "metrics": {"latencyMs": 840},
        "trace": {"guardrail": {}},
    }
    if input_assessment is not None:
        response["trace"]["guardrail"]["inputAssessment"] = {GUARDRAIL_ID: input_assessment}
    if output_assessments is not None:
        response["trace"]["guardrail"]["outputAssessments"] = {GUARDRAIL_ID: output_assessments}
    return response


def grounding(grounding_score: float, relevance_score: float, *, blocked: bool = False) -> dict[str, Any]:
    """A contextual grounding assessment (thresholds 0.75 / 0.5)."""
    return {
        "contextualGroundingPolicy": {
            "filters": [
                {
                    "type": "GROUNDING",
                    "threshold": 0.75,
                    "score": grounding_score,
                    "action": "BLOCKED" if blocked else "NONE",
                    "detected": blocked,
                },
                {"type": "RELEVANCE", "threshold": 0.5, "score": relevance_score, "action": "NONE", "detected": False},
            ]
        }
    }


def prompt_arn(version: int | str) -> str:
    return f"{PROMPT_BASE_ARN}:{version}"


class Clock:
    """The lookup caches' clock, moved by hand."""

    def __init__(self, api: Api) -> None:
        self.now = 1000.0
        api.monkeypatch.setattr(api.handler, "_ttl_clock", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def stub_prompt_lookup(api: Api, version: int = 3, template: str = MANAGED_TEMPLATE, **prompt: Any) -> None:
    """One GetParameter naming prompt version ``version`` and its GetPrompt."""
    api.ssm.add_response(
        "get_parameter", api.parameter_response(PROMPT_PARAMETER, prompt_arn(version)), {"Name": PROMPT_PARAMETER}
    )
    api.prompts.add_response(
        "get_prompt",
        api.prompt_response(PROMPT_ID, str(version), template, **prompt),
        {"promptIdentifier": PROMPT_BASE_ARN, "promptVersion": str(version)},
    )


def stub_model_lookup(api: Api, value: str = FALLBACK_MODEL) -> None:
    api.ssm.add_response("get_parameter", api.parameter_response(MODEL_PARAMETER, value), {"Name": MODEL_PARAMETER})


def warnings(out: Any) -> list[dict[str, Any]]:
    return [record for record in out.logs if record["level"] == "WARNING"]


def prompt_version_blob(out: Any, version: str) -> dict[str, list[float]]:
    """The {service, PromptVersion=version} metrics: name -> values."""
    found = {
        metric.name: metric.values
        for metric in out.metrics
        if metric.dimensions == (telemetry.DIM_SERVICE, telemetry.DIM_PROMPT_VERSION)
        and metric.dimension_values[telemetry.DIM_PROMPT_VERSION] == version
    }
    return found


# --- Guardrail ------------------------------------------------------------------------------------------
@pytest.fixture
def guarded(api: Api) -> Api:
    api.env(GUARDRAIL_ID=GUARDRAIL_ID, GUARDRAIL_VERSION=GUARDRAIL_VERSION)
    return api


def test_guardrail_config_and_guard_content_blocks_are_sent(guarded: Api) -> None:
    api = guarded
    api.stub_retrieve()
    api.stub_converse(
        guarded_response(output_assessments=[grounding(0.91, 0.88)]),
        expected=converse_request(
            api,
            [
                {"text": "Passages:\n"},
                {"guardContent": {"text": {"text": passages_text(api), "qualifiers": ["grounding_source"]}}},
                {"text": "\n\nQuestion: "},
                {"guardContent": {"text": {"text": QUESTION, "qualifiers": ["query"]}}},
            ],
            guardrail=True,
        ),
    )

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 200
    payload = body(response)
    assert payload["guardrail"] == {"intervened": False, "policies": []}
    assert len(payload["sources"]) == 2
    out = api.output()
    intervened = out.only(telemetry.METRIC_GUARDRAIL_INTERVENED)
    assert (intervened.dimensions, intervened.unit, intervened.values) == ((telemetry.DIM_SERVICE,), "Count", [0.0])
    assert out.metric(telemetry.METRIC_GUARDRAIL_POLICY_INTERVENED) == []
    for name, value in (
        (telemetry.METRIC_GUARDRAIL_GROUNDING_SCORE, 0.91),
        (telemetry.METRIC_GUARDRAIL_RELEVANCE_SCORE, 0.88),
    ):
        metric = out.only(name)
        assert (metric.dimensions, metric.unit, metric.values) == ((telemetry.DIM_SERVICE,), "None", [value])
    assert out.log("ask")["guardrail"] == {
        "intervened": False,
        "policies": [],
        "grounding_score": 0.91,
        "relevance_score": 0.88,
        "guardrail_id": GUARDRAIL_ID,
        "guardrail_version": GUARDRAIL_VERSION,
    }
    postprocess = api.tracing.stage(telemetry.STAGE_POSTPROCESS)
    assert postprocess.attributes[telemetry.SPAN_GUARDRAIL_INTERVENED] is False


def test_guardrail_intervention_returns_the_blocked_message_with_200(guarded: Api) -> None:
    api = guarded
    api.stub_retrieve()
    api.stub_converse(
        guarded_response(
            BLOCKED_MESSAGE,
            stop_reason="guardrail_intervened",
            input_assessment={
                "contentPolicy": {
                    "filters": [
                        {
                            "type": "PROMPT_ATTACK",
                            "confidence": "HIGH",
                            "filterStrength": "HIGH",
                            "action": "BLOCKED",
                            "detected": True,
                        },
                        {
                            "type": "HATE",
                            "confidence": "NONE",
                            "filterStrength": "HIGH",
                            "action": "NONE",
                            "detected": False,
                        },
                    ]
                },
                "sensitiveInformationPolicy": {
                    "piiEntities": [
                        {"match": "jane@example.com", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}
                    ],
                    "regexes": [],
                },
                # detect-only mode: found, but the guardrail let it through
                "topicPolicy": {
                    "topics": [{"name": "Investments", "type": "DENY", "action": "NONE", "detected": True}]
                },
            },
            output_assessments=[grounding(0.2, 0.7, blocked=True)],
        )
    )

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 200
    payload = body(response)
    assert payload["answer"] == BLOCKED_MESSAGE
    assert payload["sources"] == []  # the passages' excerpts are withheld with a blocked answer
    policies = ["contentPolicy", "sensitiveInformationPolicy", "contextualGroundingPolicy"]
    assert payload["guardrail"] == {"intervened": True, "policies": policies}
    out = api.output()
    assert out.only(telemetry.METRIC_GUARDRAIL_INTERVENED).values == [1.0]
    per_policy = out.metric(telemetry.METRIC_GUARDRAIL_POLICY_INTERVENED)
    assert sorted(m.dimension_values[telemetry.DIM_GUARDRAIL_POLICY] for m in per_policy) == sorted(policies)
    for metric in per_policy:
        assert metric.dimensions == (telemetry.DIM_SERVICE, telemetry.DIM_GUARDRAIL_POLICY)
        assert (metric.unit, metric.values) == ("Count", [1.0])
    assert out.only(telemetry.METRIC_GUARDRAIL_GROUNDING_SCORE).values == [0.2]
    assert out.only(telemetry.METRIC_REQUEST_SUCCESS).values == [1.0]
    assert out.metric(telemetry.METRIC_REQUEST_FAILURE) == []
    record = out.log("ask")
    assert record["stop_reason"] == "guardrail_intervened"
    assert record["guardrail"]["intervened"] is True
    assert record["guardrail"]["policies"] == policies


def test_guardrail_intervention_without_findings_still_counts(guarded: Api) -> None:
    api = guarded
    api.stub_retrieve()
    api.stub_converse(guarded_response(BLOCKED_MESSAGE, stop_reason="guardrail_intervened"))

    payload = body(api.ask({"question": QUESTION}))

    assert payload["guardrail"] == {"intervened": True, "policies": []}
    out = api.output()
    assert out.only(telemetry.METRIC_GUARDRAIL_INTERVENED).values == [1.0]
    assert out.metric(telemetry.METRIC_GUARDRAIL_GROUNDING_SCORE) == []
    assert out.metric(telemetry.METRIC_GUARDRAIL_RELEVANCE_SCORE) == []


@pytest.mark.parametrize(
    ("assessment", "policy"),
    [
        ({"topicPolicy": {"topics": [{"name": "Investments", "type": "DENY", "action": "BLOCKED"}]}}, "topicPolicy"),
        (
            {"wordPolicy": {"customWords": [], "managedWordLists": [{"match": "x", "type": "PROFANITY",
                                                                     "action": "BLOCKED"}]}},
            "wordPolicy",
        ),
        (
            {"sensitiveInformationPolicy": {"piiEntities": [], "regexes": [{"name": "order", "match": "A-1",
                                                                          "action": "BLOCKED"}]}},
            "sensitiveInformationPolicy",
        ),
    ],
)  # fmt: skip
def test_each_policy_is_recognised(guarded: Api, assessment: dict[str, Any], policy: str) -> None:
    api = guarded
    api.stub_retrieve()
    api.stub_converse(
        guarded_response(BLOCKED_MESSAGE, stop_reason="guardrail_intervened", input_assessment=assessment)
    )

    assert body(api.ask({"question": QUESTION}))["guardrail"]["policies"] == [policy]
    metric = api.output().only(telemetry.METRIC_GUARDRAIL_POLICY_INTERVENED)
    assert metric.dimension_values[telemetry.DIM_GUARDRAIL_POLICY] == policy


def test_guardrail_scores_are_the_lowest_assessed(api: Api) -> None:
    outcome = api.pipeline.parse_guardrail(
        guarded_response(output_assessments=[grounding(0.9, 0.8), grounding(0.6, 0.95)])
    )
    assert outcome == api.pipeline.GuardrailOutcome(False, (), 0.6, 0.8)
    assert api.pipeline.parse_guardrail({"stopReason": "end_turn"}) == api.pipeline.GuardrailOutcome(
        False, (), None, None
    )


@pytest.mark.parametrize(
    "env",
    [
        {"GUARDRAIL_ID": GUARDRAIL_ID},
        {"GUARDRAIL_VERSION": GUARDRAIL_VERSION},
        {"GUARDRAIL_ID": GUARDRAIL_ID, "GUARDRAIL_VERSION": "latest"},
        {"GUARDRAIL_ID": "Not A Guardrail", "GUARDRAIL_VERSION": "1"},
    ],
)
def test_incomplete_or_invalid_guardrail_settings_are_misconfiguration(api: Api, env: dict[str, str]) -> None:
    api.env(**env)

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 500
    assert body(response)["error"] == MISCONFIGURED
    record = api.output().log("Invalid function configuration")
    assert any("GUARDRAIL" in problem for problem in record["configuration_problems"])


def test_guardrail_arn_and_draft_version_are_accepted(api: Api) -> None:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:guardrail/{GUARDRAIL_ID}"
    settings = api.handler.load_settings(
        api.pipeline.PROMPT_TEMPLATES,
        {"MODEL_ID": "m", "KNOWLEDGE_BASE_ID": "kb", "GUARDRAIL_ID": arn, "GUARDRAIL_VERSION": "DRAFT"},
    )
    assert (settings.guardrail_id, settings.guardrail_version, settings.guardrail) == (arn, "DRAFT", True)


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [
        ("ResourceNotFoundException", 500, telemetry.ERROR_ACCESS_DENIED),
        ("AccessDeniedException", 500, telemetry.ERROR_ACCESS_DENIED),
        ("ValidationException", 502, telemetry.ERROR_MODEL),
    ],
)
def test_guardrail_errors_map_like_other_bedrock_errors(guarded: Api, code: str, status: int, error_class: str) -> None:
    api = guarded
    api.stub_retrieve()
    api.runtime.add_client_error(
        "converse", code, f"The guardrail {GUARDRAIL_ID} version {GUARDRAIL_VERSION} was not found xyzzy", 400
    )

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == status
    assert "xyzzy" not in response["body"] and GUARDRAIL_ID not in response["body"]
    out = api.output()
    assert out.only(telemetry.METRIC_REQUEST_FAILURE).dimensions == (telemetry.DIM_SERVICE,)
    assert out.log("Request failed")["error_class"] == error_class
    assert out.metric(telemetry.METRIC_GUARDRAIL_INTERVENED) == []
    assert out.log("Request failed")["aws_error_code"] == code


# --- Prompt Management ----------------------------------------------------------------------------------
@pytest.fixture
def managed_prompt(api: Api) -> Api:
    api.env(PROMPT_PARAMETER_NAME=PROMPT_PARAMETER)
    return api


def test_managed_prompt_is_used_and_labelled(managed_prompt: Api) -> None:
    api = managed_prompt
    stub_prompt_lookup(api)
    api.stub_retrieve()
    api.stub_converse(expected=converse_request(api, managed_user_text(api)))

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 200
    assert body(response)["prompt_version"] == "managed-3"
    out = api.output()
    handler_lines = [record for record in out.logs if record["message"] not in RUNTIME_LINES]
    assert handler_lines and all(record["prompt_version"] == "managed-3" for record in handler_lines)
    assert out.log("ask")["prompt"]["template_version"] == "managed-3"
    assert out.log("Active prompt version changed")["level"] == "INFO"
    assert out.metric(telemetry.METRIC_PROMPT_LOOKUP_FAILURE) == []
    per_version = prompt_version_blob(out, "managed-3")
    assert set(per_version) == {
        telemetry.METRIC_REQUEST_SUCCESS,
        telemetry.METRIC_END_TO_END_LATENCY,
        telemetry.METRIC_INPUT_TOKENS,
        telemetry.METRIC_OUTPUT_TOKENS,
    }
    assert per_version[telemetry.METRIC_REQUEST_SUCCESS] == [1.0]
    assert per_version[telemetry.METRIC_INPUT_TOKENS] == [1200.0]
    assert per_version[telemetry.METRIC_OUTPUT_TOKENS] == [80.0]
    assert out.log("ask")["estimated_cost_usd"] == pytest.approx(0.4)  # cost per version: Logs Insights
    assert [m.dimensions for m in out.metric(telemetry.METRIC_REQUEST_SUCCESS)] == [
        (telemetry.DIM_SERVICE,),  # the main blob is unchanged
        (telemetry.DIM_SERVICE, telemetry.DIM_PROMPT_VERSION),
    ]
    assert all(blob["request_id"] == "api-request-id-0001" for blob in out.emf)  # metadata, not a dimension
    assembly = api.tracing.stage(telemetry.STAGE_PROMPT_ASSEMBLY)
    assert assembly.attributes[telemetry.SPAN_PROMPT_VERSION] == "managed-3"


def test_managed_prompt_is_cached_within_the_ttl(managed_prompt: Api) -> None:
    api = managed_prompt
    clock = Clock(api)
    stub_prompt_lookup(api)  # stubbed once: a second lookup would fail the test
    api.stub_retrieve()
    for _ in range(2):
        api.stub_converse(expected=converse_request(api, managed_user_text(api)))
    first = api.ask({"question": QUESTION})
    clock.advance(59)
    second = api.ask({"question": QUESTION})

    assert body(first)["prompt_version"] == body(second)["prompt_version"] == "managed-3"
    records = api.output().logs
    assert [r["prompt_version"] for r in records if r["message"] == "ask"] == ["managed-3", "managed-3"]


def test_managed_prompt_is_refreshed_after_the_ttl(managed_prompt: Api) -> None:
    api = managed_prompt
    api.env(PROMPT_CACHE_TTL_SECONDS="30")
    clock = Clock(api)
    stub_prompt_lookup(api, version=3)
    api.stub_retrieve()
    api.stub_converse()
    assert body(api.ask({"question": QUESTION}))["prompt_version"] == "managed-3"

    clock.advance(30)  # a runbook pointed the parameter at version 4
    stub_prompt_lookup(api, version=4, template="Q: {{question}}\nSources:\n{{passages}}")
    api.stub_converse(expected=converse_request(api, f"Q: {QUESTION}\nSources:\n{passages_text(api)}"))
    assert body(api.ask({"question": QUESTION}))["prompt_version"] == "managed-4"

    clock.advance(30)  # back to version 3: versions are immutable, so no second GetPrompt
    api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, prompt_arn(3)))
    api.stub_converse(expected=converse_request(api, managed_user_text(api)))
    assert body(api.ask({"question": QUESTION}))["prompt_version"] == "managed-3"

    out = api.output()
    assert set(prompt_version_blob(out, "managed-3")[telemetry.METRIC_REQUEST_SUCCESS]) == {1.0}
    assert len([m for m in out.metric(telemetry.METRIC_REQUEST_SUCCESS) if m.dimensions[-1] == "PromptVersion"]) == 3


def test_default_variant_is_chosen_else_the_first(api: Api) -> None:
    base = api.pipeline.PROMPT_TEMPLATES["v1"]
    variants = [
        {"name": "short", "templateType": "TEXT", "templateConfiguration": {"text": {"text": "S {{passages}} {{question}}"}}},
        {"name": "long", "templateType": "TEXT", "templateConfiguration": {"text": {"text": "L {{passages}} {{question}}"}}},
    ]  # fmt: skip
    for default, expected in (("long", "L "), (None, "S "), ("missing", "S ")):
        api.prompts.add_response(
            "get_prompt", api.prompt_response(PROMPT_ID, "7", "", variants=variants, default_variant=default)
        )
        template = api.handler.managed.fetch_prompt_template(
            api.prompts_client, prompt_arn(7), base, float("inf"), lambda: 0.0
        )
        assert template.version == "managed-7"
        assert template.system == base.system
        assert template.render("q", ()).user.startswith(expected)


PROMPT_FAILURES = [
    # id, how the lookup fails, reason fragment, aws error code
    ("parameter-missing", ("ssm", "ParameterNotFound"), "ssm:GetParameter failed with ParameterNotFound", "ParameterNotFound"),
    ("ssm-access-denied", ("ssm", "AccessDeniedException"), "AccessDeniedException", "AccessDeniedException"),
    ("ssm-throttled", ("ssm", "ThrottlingException"), "ThrottlingException", "ThrottlingException"),
    ("ssm-timeout", ("ssm-timeout", None), "ssm:GetParameter failed: ConnectTimeoutError", None),
    ("get-prompt-missing", ("agent", "ResourceNotFoundException"), "bedrock-agent:GetPrompt failed", "ResourceNotFoundException"),
    ("get-prompt-denied", ("agent", "AccessDeniedException"), "bedrock-agent:GetPrompt failed", "AccessDeniedException"),
    ("malformed-arn", ("value", "arn:aws:bedrock:us-east-1:123456789012:prompt/PROMPT1234"), "not a prompt version ARN", None),
    ("not-an-arn", ("value", "use the new prompt"), "not a prompt version ARN", None),
    ("no-passages", ("template", "Answer: {{question}}"), "lacks {{passages}}", None),
    ("no-variables", ("template", "Answer the question."), "lacks {{question}}, {{passages}}", None),
    ("extra-variable", ("template", "{{passages}} {{question}} in a {{tone}} tone"), "cannot fill: {{tone}}", None),
    ("chat-template", ("chat", None), "only TEXT templates", None),
]  # fmt: skip


def _fail_prompt_lookup(api: Api, how: tuple[str, str | None]) -> Any:
    """Queue a failing prompt lookup; returns a clean-up function or None."""
    kind, detail = how
    if kind == "ssm":
        api.ssm.add_client_error("get_parameter", detail, f"{detail}: secret detail xyzzy", 400)
    elif kind == "ssm-timeout":

        def raise_timeout(**kwargs: Any) -> None:
            raise ConnectTimeoutError(endpoint_url="https://ssm.us-east-1.amazonaws.com/")

        api.ssm.deactivate()  # the hook stands in for the network and raises what botocore would
        api.ssm_client.meta.events.register("before-call.ssm.GetParameter", raise_timeout)
        return lambda: _restore(api, raise_timeout)
    elif kind == "agent":
        api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, prompt_arn(5)))
        api.prompts.add_client_error("get_prompt", detail, f"{detail}: xyzzy", 400)
    elif kind == "value":
        api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, detail))
    elif kind == "template":
        api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, prompt_arn(5)))
        api.prompts.add_response("get_prompt", api.prompt_response(PROMPT_ID, "5", detail))
    elif kind == "chat":
        api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, prompt_arn(5)))
        api.prompts.add_response("get_prompt", api.prompt_response(PROMPT_ID, "5", "hi", template_type="CHAT"))
    return None


def _restore(api: Api, hook: Any) -> None:
    api.ssm_client.meta.events.unregister("before-call.ssm.GetParameter", hook)
    api.ssm.activate()


@pytest.mark.parametrize(("case", "how", "reason", "code"), PROMPT_FAILURES, ids=[f[0] for f in PROMPT_FAILURES])
def test_prompt_lookup_failure_falls_back_to_the_builtin_prompt(
    managed_prompt: Api, case: str, how: tuple[str, str | None], reason: str, code: str | None
) -> None:
    api = managed_prompt
    cleanup = _fail_prompt_lookup(api, how)
    api.stub_retrieve()
    api.stub_converse(expected=converse_request(api, builtin_user_text(api)))
    try:
        response = api.ask({"question": QUESTION})
    finally:
        if cleanup is not None:
            cleanup()

    assert response["statusCode"] == 200
    assert body(response)["prompt_version"] == "v1"
    assert "xyzzy" not in response["body"]
    out = api.output()
    failure = out.only(telemetry.METRIC_PROMPT_LOOKUP_FAILURE)
    assert (failure.dimensions, failure.unit, failure.values) == ((telemetry.DIM_SERVICE,), "Count", [1.0])
    (warning,) = warnings(out)
    assert warning["message"] == "Prompt lookup failed; serving the last good prompt"
    assert reason in warning["reason"]
    assert warning.get("aws_error_code") == code  # Powertools leaves out None-valued keys
    assert warning["parameter_name"] == PROMPT_PARAMETER
    assert warning["prompt_version"] == "v1"
    assert "exception" not in warning
    assert prompt_version_blob(out, "v1")[telemetry.METRIC_REQUEST_SUCCESS] == [1.0]


def test_prompt_lookup_failure_keeps_the_last_good_prompt_and_retries_after_the_ttl(managed_prompt: Api) -> None:
    api = managed_prompt
    clock = Clock(api)
    stub_prompt_lookup(api, version=3)
    api.stub_retrieve()
    api.stub_converse()
    api.ask({"question": QUESTION})
    api.output()

    clock.advance(60)
    api.ssm.add_client_error("get_parameter", "ThrottlingException", "Rate exceeded", 400)
    api.stub_converse(expected=converse_request(api, managed_user_text(api)))
    api.stub_converse(expected=converse_request(api, managed_user_text(api)))
    failed = api.ask({"question": QUESTION})
    clock.advance(30)  # within the TTL: no new lookup, no new warning
    quiet = api.ask({"question": QUESTION})

    assert body(failed)["prompt_version"] == body(quiet)["prompt_version"] == "managed-3"
    out = api.output()
    assert out.only(telemetry.METRIC_PROMPT_LOOKUP_FAILURE).values == [1.0]
    assert len(warnings(out)) == 1

    clock.advance(30)  # the TTL after the failure has passed: retried, and a new version is found
    stub_prompt_lookup(api, version=4)
    api.stub_converse()
    assert body(api.ask({"question": QUESTION}))["prompt_version"] == "managed-4"
    assert api.output().metric(telemetry.METRIC_PROMPT_LOOKUP_FAILURE) == []


def test_prompt_version_is_on_every_handler_log_line_and_cleared_after_the_request(managed_prompt: Api) -> None:
    api = managed_prompt
    stub_prompt_lookup(api)
    api.stub_retrieve()
    api.stub_converse()
    api.ask({"question": QUESTION})
    api.ask({"question": ""})  # rejected before the prompt is resolved: the container's active version
    api.feedback({"request_id": "abc", "score": 5})

    out = api.output()
    assert [(r["message"], r.get("prompt_version")) for r in out.logs] == [
        ("bedrock_call", None),  # Retrieve; the runtime's lines join the request's by correlation_id
        ("Active prompt version changed", "managed-3"),
        ("bedrock_call", "managed-3"),  # Converse: the handler names the version (llmobs.prompt_version)
        ("ask", "managed-3"),
        ("Request rejected", "managed-3"),
        ("feedback", None),
    ]
    assert len({r["correlation_id"] for r in out.logs}) == 1
    assert "prompt_version" not in api.handler.logger.get_current_keys()


# --- Active model from SSM ----------------------------------------------------------------------------
@pytest.fixture
def managed_model(api: Api) -> Api:
    api.env(MODEL_PARAMETER_NAME=MODEL_PARAMETER)
    return api


def test_model_parameter_selects_the_model(managed_model: Api) -> None:
    api = managed_model
    stub_model_lookup(api)
    api.stub_retrieve()
    api.stub_converse(expected=converse_request(api, builtin_user_text(api), model_id=FALLBACK_MODEL))

    response = api.ask({"question": QUESTION})

    assert body(response)["model_id"] == FALLBACK_MODEL
    out = api.output()
    for name in (telemetry.METRIC_INPUT_TOKENS, telemetry.METRIC_OUTPUT_TOKENS):
        assert out.only(name).dimension_values[telemetry.DIM_MODEL_ID] == FALLBACK_MODEL
    assert out.log("ask")["estimated_cost_usd"] == 0.0  # not in PRICE_TABLE
    assert out.log("ask")["model_id"] == FALLBACK_MODEL
    assert out.log("Active model changed")["model_id"] == FALLBACK_MODEL
    (warning,) = warnings(out)
    assert "PRICE_TABLE" in warning["message"] and warning["model_id"] == FALLBACK_MODEL
    inference = api.tracing.stage(telemetry.STAGE_INFERENCE)
    assert inference.attributes[telemetry.SPAN_MODEL_ID] == FALLBACK_MODEL
    assert out.metric(telemetry.METRIC_MODEL_LOOKUP_FAILURE) == []
    assert not any(m.dimensions[-1] == telemetry.DIM_PROMPT_VERSION for m in out.metrics)


def test_model_price_warning_is_once_per_model(managed_model: Api) -> None:
    api = managed_model
    api.env(MODEL_CACHE_TTL_SECONDS="0")  # read the parameter on every request
    api.stub_retrieve()
    for _ in range(2):
        stub_model_lookup(api)
        api.stub_converse()
        api.ask({"question": QUESTION})
    stub_model_lookup(api, api.model_id)  # priced
    api.stub_converse()
    api.ask({"question": QUESTION})

    out = api.output()
    assert len(warnings(out)) == 1
    costs = [record["estimated_cost_usd"] for record in out.logs if record["message"] == "ask"]
    assert costs == [0.0, 0.0, pytest.approx(0.4)]


@pytest.mark.parametrize(
    ("stub", "reason"),
    [
        (lambda api: api.ssm.add_client_error("get_parameter", "ParameterNotFound", "", 400), "ParameterNotFound"),
        (lambda api: api.ssm.add_client_error("get_parameter", "AccessDeniedException", "", 400), "AccessDenied"),
        (lambda api: stub_model_lookup(api, "gpt-4o"), "not a Bedrock model id"),
        (lambda api: stub_model_lookup(api, "anthropic.claude v2; rm -rf /"), "not a Bedrock model id"),
        (lambda api: stub_model_lookup(api, "arn:aws:s3:::bucket/key"), "not a Bedrock model id"),
    ],
    ids=["missing", "denied", "no-provider", "junk", "wrong-arn"],
)
def test_model_lookup_failure_falls_back_to_model_id(managed_model: Api, stub: Any, reason: str) -> None:
    api = managed_model
    stub(api)
    api.stub_retrieve()
    api.stub_converse(expected=converse_request(api, builtin_user_text(api)))

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 200
    assert body(response)["model_id"] == api.model_id
    out = api.output()
    failure = out.only(telemetry.METRIC_MODEL_LOOKUP_FAILURE)
    assert (failure.dimensions, failure.values) == ((telemetry.DIM_SERVICE,), [1.0])
    (warning,) = warnings(out)
    assert warning["message"] == "Model lookup failed; serving the last good model"
    assert reason in warning["reason"]
    assert warning["model_id"] == api.model_id


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
        "amazon.nova-pro-v1:0",
        "anthropic.claude-v2:1:18k",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
    ],
)
def test_plausible_model_ids(api: Api, model_id: str) -> None:
    assert api.handler.managed.MODEL_ID.fullmatch(model_id)


def test_model_lookup_failure_keeps_the_last_good_model(managed_model: Api) -> None:
    api = managed_model
    clock = Clock(api)
    stub_model_lookup(api)
    api.stub_retrieve()
    api.stub_converse()
    api.ask({"question": QUESTION})
    clock.advance(60)
    api.ssm.add_client_error("get_parameter", "ThrottlingException", "Rate exceeded", 400)
    api.stub_converse(expected=converse_request(api, builtin_user_text(api), model_id=FALLBACK_MODEL))

    assert body(api.ask({"question": QUESTION}))["model_id"] == FALLBACK_MODEL
    assert api.output().metric(telemetry.METRIC_MODEL_LOOKUP_FAILURE)[0].values == [1.0]


# --- Everything together ------------------------------------------------------------------------------------
def test_guardrail_prompt_and_model_together(api: Api) -> None:
    api.env(
        GUARDRAIL_ID=GUARDRAIL_ID,
        GUARDRAIL_VERSION=GUARDRAIL_VERSION,
        PROMPT_PARAMETER_NAME=PROMPT_PARAMETER,
        MODEL_PARAMETER_NAME=MODEL_PARAMETER,
    )
    stub_prompt_lookup(api, template="Question: {{question}}\nUse only:\n{{passages}}")
    stub_model_lookup(api)
    api.stub_retrieve()
    api.stub_converse(
        guarded_response(BLOCKED_MESSAGE, stop_reason="guardrail_intervened", output_assessments=[grounding(0.1, 0.9, blocked=True)]),
        expected=converse_request(
            api,
            [
                {"text": "Question: "},
                {"guardContent": {"text": {"text": QUESTION, "qualifiers": ["query"]}}},
                {"text": "\nUse only:\n"},
                {"guardContent": {"text": {"text": passages_text(api), "qualifiers": ["grounding_source"]}}},
            ],
            model_id=FALLBACK_MODEL,
            guardrail=True,
        ),
    )  # fmt: skip

    payload = body(api.ask({"question": QUESTION}))

    assert (payload["prompt_version"], payload["model_id"]) == ("managed-3", FALLBACK_MODEL)
    assert payload["guardrail"] == {"intervened": True, "policies": ["contextualGroundingPolicy"]}
    per_version = prompt_version_blob(api.output(), "managed-3")
    assert per_version[telemetry.METRIC_GUARDRAIL_INTERVENED] == [1.0]
    assert set(per_version) == set(telemetry.PROMPT_VERSION_METRICS)


def test_lookups_stop_when_the_request_lookup_budget_is_spent(api: Api) -> None:
    api.env(PROMPT_PARAMETER_NAME=PROMPT_PARAMETER, MODEL_PARAMETER_NAME=MODEL_PARAMETER)
    clock = Clock(api)

    def slow_ssm(**kwargs: Any) -> None:
        clock.advance(api.handler.managed.LOOKUP_BUDGET_SECONDS + 0.5)  # GetParameter took longer than the budget

    api.ssm_client.meta.events.register("before-parameter-build.ssm.GetParameter", slow_ssm)
    try:
        api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, prompt_arn(3)))
        api.stub_retrieve()
        api.stub_converse(expected=converse_request(api, builtin_user_text(api)))
        response = api.ask({"question": QUESTION})  # neither GetPrompt nor the model's GetParameter is called
    finally:
        api.ssm_client.meta.events.unregister("before-parameter-build.ssm.GetParameter", slow_ssm)

    assert (body(response)["prompt_version"], body(response)["model_id"]) == ("v1", api.model_id)
    out = api.output()
    assert out.only(telemetry.METRIC_PROMPT_LOOKUP_FAILURE).values == [1.0]
    assert out.only(telemetry.METRIC_MODEL_LOOKUP_FAILURE).values == [1.0]
    assert all("budget" in w["reason"] for w in warnings(out))


def test_lookups_apply_with_instrumentation_off(api: Api) -> None:
    api.env(PROMPT_PARAMETER_NAME=PROMPT_PARAMETER, MODEL_PARAMETER_NAME=MODEL_PARAMETER, INSTRUMENTATION="off")
    stub_prompt_lookup(api)
    stub_model_lookup(api)
    api.stub_retrieve()
    api.stub_converse(expected=converse_request(api, managed_user_text(api), model_id=FALLBACK_MODEL))

    payload = body(api.ask({"question": QUESTION}))

    assert (payload["prompt_version"], payload["model_id"]) == ("managed-3", FALLBACK_MODEL)
    assert api.output().emf == []


# --- Without the new settings nothing changes ------------------------------------------------------------
def test_without_level2_settings_there_are_no_lookups_guardrail_or_new_metrics(api: Api) -> None:
    api.stub_retrieve()
    api.stub_converse(expected=converse_request(api, builtin_user_text(api)))  # no guardrailConfig, plain text

    response = api.ask({"question": QUESTION})  # the ssm and bedrock-agent stubs have nothing queued

    payload = body(response)
    assert set(payload) == {"answer", "sources", "request_id", "model_id", "prompt_version", "usage"}
    assert (payload["model_id"], payload["prompt_version"]) == (api.model_id, "v1")
    out = api.output()
    new = {
        telemetry.METRIC_GUARDRAIL_INTERVENED,
        telemetry.METRIC_GUARDRAIL_POLICY_INTERVENED,
        telemetry.METRIC_GUARDRAIL_GROUNDING_SCORE,
        telemetry.METRIC_GUARDRAIL_RELEVANCE_SCORE,
        telemetry.METRIC_PROMPT_LOOKUP_FAILURE,
        telemetry.METRIC_MODEL_LOOKUP_FAILURE,
    }
    assert not new & {metric.name for metric in out.metrics}
    assert not any(telemetry.DIM_PROMPT_VERSION in metric.dimensions for metric in out.metrics)
    record = out.log("ask")
    assert "guardrail" not in record
    assert record["prompt_version"] == "v1"
    runtime = api.handler._load_runtime()
    assert (runtime.guardrail, runtime.prompts, runtime.models) == (None, None, None)


def test_level2_settings_are_parsed(api: Api) -> None:
    settings = api.handler.load_settings(
        api.pipeline.PROMPT_TEMPLATES,
        {
            "MODEL_ID": "m",
            "KNOWLEDGE_BASE_ID": "kb",
            "PROMPT_PARAMETER_NAME": PROMPT_PARAMETER,
            "PROMPT_CACHE_TTL_SECONDS": "15",
            "MODEL_PARAMETER_NAME": "arn:aws:ssm:us-east-1:123456789012:parameter/shared/model",
            "MODEL_CACHE_TTL_SECONDS": "0",
        },
    )
    assert (settings.prompt_parameter_name, settings.prompt_cache_ttl_seconds) == (PROMPT_PARAMETER, 15)
    assert settings.model_parameter_name == "arn:aws:ssm:us-east-1:123456789012:parameter/shared/model"
    assert settings.model_cache_ttl_seconds == 0
    defaults = api.handler.load_settings(api.pipeline.PROMPT_TEMPLATES, {"MODEL_ID": "m", "KNOWLEDGE_BASE_ID": "kb"})
    assert (defaults.prompt_cache_ttl_seconds, defaults.model_cache_ttl_seconds) == (60, 60)
    assert (defaults.prompt_parameter_name, defaults.model_parameter_name, defaults.guardrail) == (None, None, False)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"PROMPT_CACHE_TTL_SECONDS": "-5"}, "PROMPT_CACHE_TTL_SECONDS"),
        ({"MODEL_CACHE_TTL_SECONDS": "soon"}, "MODEL_CACHE_TTL_SECONDS"),
        ({"PROMPT_PARAMETER_NAME": "has spaces"}, "PROMPT_PARAMETER_NAME"),
        ({"MODEL_PARAMETER_NAME": "bad*name"}, "MODEL_PARAMETER_NAME"),
    ],
)
def test_bad_level2_settings_are_misconfiguration(api: Api, env: dict[str, str], problem: str) -> None:
    api.env(**env)

    response = api.ask({"question": QUESTION})

    assert response["statusCode"] == 500
    record = api.output().log("Invalid function configuration")
    assert any(problem in item for item in record["configuration_problems"])


def test_lookup_clients_are_lazy_with_short_timeouts(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    api.pipeline.reset_clients()
    try:
        ssm, agent = api.pipeline.ssm(), api.pipeline.bedrock_agent()
        assert ssm is api.pipeline.ssm() and agent is api.pipeline.bedrock_agent()
        assert ssm.meta.service_model.service_name == "ssm"
        assert agent.meta.service_model.service_name == "bedrock-agent"
        assert agent.meta.region_name == ssm.meta.region_name == "eu-west-1"
        for client in (ssm, agent):
            config = client.meta.config
            assert (config.connect_timeout, config.read_timeout) == (2, 3)
            assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    finally:
        api.reset()
    assert api.pipeline.ssm() is api.ssm_client and api.pipeline.bedrock_agent() is api.prompts_client


def test_managed_prompt_default_is_the_builtin_v1_template() -> None:
    """The prompt the stack puts in Prompt Management renders exactly like the built-in one."""
    from llm_observability.constructs.managed_prompt import DEFAULT_TEMPLATE
    from tests.functions.conftest import rag_module

    pipeline = rag_module("pipeline")

    builtin = pipeline.PROMPT_TEMPLATES["v1"].user
    assert builtin.replace("{passages}", "{{passages}}").replace("{question}", "{{question}}") == DEFAULT_TEMPLATE


# --- Level 3: CodeGuru Profiler agent, started only when configured and importable -----------------
def test_profiler_is_not_started_without_a_profiling_group(api, monkeypatch) -> None:
    monkeypatch.delenv("AWS_CODEGURU_PROFILER_GROUP_NAME", raising=False)
    assert api.handler._with_profiler(api.handler._handle_event) is api.handler._handle_event


def test_profiler_wraps_the_handler_when_the_agent_imports(api, monkeypatch) -> None:
    import sys
    import types

    calls = []

    def with_lambda_profiler():
        def decorate(fn):
            def profiled(event, context):
                calls.append("profiled")
                return fn(event, context)

            return profiled

        return decorate

    monkeypatch.setenv("AWS_CODEGURU_PROFILER_GROUP_NAME", "rag-demo-rag-api")
    monkeypatch.setitem(sys.modules, "codeguru_profiler_agent", types.SimpleNamespace(with_lambda_profiler=with_lambda_profiler))
    wrapped = api.handler._with_profiler(lambda event, context: {"statusCode": 200})
    assert wrapped({}, None) == {"statusCode": 200} and calls == ["profiled"]


def test_profiler_missing_agent_runs_unprofiled_with_a_warning(api, monkeypatch, capsys) -> None:
    import sys

    monkeypatch.setenv("AWS_CODEGURU_PROFILER_GROUP_NAME", "rag-demo-rag-api")
    monkeypatch.setitem(sys.modules, "codeguru_profiler_agent", None)  # import fails
    handler = lambda event, context: {"statusCode": 200}  # noqa: E731
    assert api.handler._with_profiler(handler) is handler
    assert "CodeGuru Profiler agent not started" in capsys.readouterr().out
