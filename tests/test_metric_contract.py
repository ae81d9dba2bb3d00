"""The metric contract: every metric a dashboard or alarm of the bundled app reads in the app's namespace is one
that is emitted with exactly that dimension set, and every Logs Insights query reads fields the handler writes;
the same for a user's function instrumented by the library's runtime (the reference handler's metrics are the
runtime's too: one implementation).

Read side: the synthesized templates of the session fixtures (``level1``/``level2``/``level3``, no extra synth):
dashboard widgets (metric rows, metric-math inputs and SEARCH expressions), alarms (single metric and metric
math), and the queries of Logs Insights widgets and saved queries.
Emit side: the real RAG handler (``tests/functions`` fixtures: stubbed Bedrock, SSM and Prompt Management
clients) run through a happy ``/ask`` (cache miss, then hit), every error class, ``/feedback``, and with the
guardrail, the managed prompt and the managed model on (lookups answered and failing); its EMF is read back
from stdout. Metrics of the app's namespace that other emitters write are matched against those emitters:
the metric filters in the templates, the quality canary's vocabulary (``canary_telemetry``; the canary's
own tests check it emits exactly that) and Level 2's evaluation functions' vocabularies (judge, feedback, drift,
outcomes; likewise checked by their own tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import llm_observability.runtime as llmobs
from llm_observability.assess.intrinsics import render
from llm_observability.functions.feedback_loop import feedback_telemetry as ft
from llm_observability.functions.incident_outcomes import outcomes_telemetry as ot
from llm_observability.functions.online_judge import judge_telemetry as jt
from llm_observability.functions.output_drift import drift_telemetry as dt
from llm_observability.functions.quality_canary import canary_telemetry as ct
from llm_observability.runtime import recorder
from llm_observability.runtime import telemetry as t
from tests.conftest import CDK_CONTEXT, OFFLINE_AWS_ENV, SynthResult
from tests.functions.conftest import Api, Output, api, bedrock_clients, lookup_clients, process_env  # noqa: F401
from tests.runtime.bedrock_fakes import MODEL_ID, FakeBedrock, error_reply, invoke_reply
from tests.runtime.conftest import reset_runtime

Triple = tuple[str, str, frozenset[str]]  # namespace, metric name, dimension names

QUESTION = "What is the refund policy?"
GUARDRAIL_ID = "gr1abc2def3"
PROMPT_PARAMETER = "/rag-api/prompt/active-version"
MODEL_PARAMETER = "/rag-api/model/active"
PROMPT_ID = "PROMPT1234"
PROMPT_TEMPLATE = "Passages:\n{{passages}}\n\nAnswer briefly: {{question}}"
_SEARCH = re.compile(r"SEARCH\(\s*'\{([^}]*)\}\s+MetricName=\"([^\"]+)\"")


# --- read side: what the templates' dashboards and alarms read -------------------------------------------------------
def _dashboard_reads(body: dict[str, Any]) -> Iterator[tuple[str, str, frozenset[str]]]:
    for widget in body.get("widgets", []):
        for row in widget.get("properties", {}).get("metrics", []):
            values = [v for v in row if not isinstance(v, dict)]
            if len(values) >= 2:
                dims = values[2:]
                yield values[0], values[1], frozenset(dims[0::2])
            for item in row:
                if isinstance(item, dict) and (match := _SEARCH.search(item.get("expression", ""))):
                    namespace, *dims = [part.strip() for part in match.group(1).split(",")]
                    yield namespace, match.group(2), frozenset(dims)


def _alarm_reads(props: dict[str, Any]) -> Iterator[tuple[str, str, frozenset[str]]]:
    queries = props.get("Metrics", [])
    specs = [props] if "MetricName" in props else [q["MetricStat"]["Metric"] for q in queries if "MetricStat" in q]
    for spec in specs:
        yield spec["Namespace"], spec["MetricName"], frozenset(d["Name"] for d in spec.get("Dimensions", []))


def template_reads(template: dict[str, Any]) -> set[Triple]:
    """Every (namespace, metric, dimension names) a dashboard or alarm of one template reads."""
    found: set[Triple] = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            found |= set(_dashboard_reads(json.loads(render(resource["Properties"]["DashboardBody"]))))
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            found |= set(_alarm_reads(resource["Properties"]))
    return found


def reads(result: SynthResult) -> set[Triple]:
    """Every (namespace, metric, dimension names) a dashboard or alarm of the app reads."""
    return {r for template in result.templates.values() for r in template_reads(template)}


def metric_filter_emits(result: SynthResult) -> set[Triple]:
    """What the metric filters of the templates write: (namespace, metric, dimension names)."""
    return {
        (m["MetricNamespace"], m["MetricName"], frozenset(d["Key"] for d in m.get("Dimensions", [])))
        for template in result.templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Logs::MetricFilter"
        for m in resource["Properties"]["MetricTransformations"]
    }


def canary_emits(namespace: str) -> set[Triple]:
    """The quality canary's metrics: per model and prompt version, the same for the whole service, and failures."""
    service = frozenset({ct.DIM_SERVICE})
    per_version = service | {ct.DIM_MODEL_ID, ct.DIM_PROMPT_VERSION}
    emitted = {(namespace, name, dims) for name in ct.VERSION_METRICS for dims in (per_version, service)}
    return emitted | {(namespace, ct.METRIC_CANARY_FAILURES, service)}


def evaluation_emits(namespace: str) -> set[Triple]:
    """What Level 2's scheduled and event functions emit (each one's own tests check it emits exactly its
    vocabulary): the online judge, the feedback join, output drift and incident outcomes."""
    service = frozenset({t.DIM_SERVICE})
    emitted = {(name, frozenset(dims)) for name in jt.SCORE_METRICS
               for dims in (jt.VERSION_DIMENSIONS, jt.SERVICE_DIMENSIONS)}  # fmt: skip
    emitted |= {(name, service) for name in jt.RUN_METRICS}
    emitted |= {(name, frozenset(dims)) for name, dims in ft.EMITTED}
    emitted |= {(dt.METRIC_OUTPUT_DRIFT, service | {dt.DIM_MODEL_ID, dt.DIM_SIGNAL}),
                (dt.METRIC_OUTPUT_DRIFT_MAX, service)} | {(name, service) for name in dt.DIVERSITY_METRICS}  # fmt: skip
    emitted |= {(name, service | {ot.DIM_SEVERITY}) for name in ot.SEVERITY_METRICS}
    emitted |= {(ot.METRIC_EVENTS_UNPARSED, service)}
    return {(namespace, name, dims) for name, dims in emitted}


def runbook_emits(result: SynthResult, namespace: str) -> set[Triple]:
    """The metrics the SSM Automation runbooks publish (``PutMetricData`` steps: healing in progress), in the
    workload's namespace (each document's ``MetricNamespace`` parameter is the workload's)."""
    emitted = set()
    for template in result.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::SSM::Document":
                continue
            for step in resource["Properties"]["Content"]["mainSteps"]:
                inputs = step.get("inputs", {})
                if inputs.get("Api") == "PutMetricData" and inputs.get("Namespace") == "{{ MetricNamespace }}":
                    for datum in inputs["MetricData"]:
                        dims = frozenset(d["Name"] for d in datum.get("Dimensions", []))
                        emitted.add((namespace, datum["MetricName"], dims))
    return emitted


def log_queries(result: SynthResult) -> set[str]:
    """The query text of every Logs Insights dashboard widget and saved query (without the SOURCE clause)."""
    found = set()
    for template in result.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::CloudWatch::Dashboard":
                body = json.loads(render(resource["Properties"]["DashboardBody"]))
                for widget in body["widgets"]:
                    if widget["type"] == "log":
                        found.add(widget["properties"]["query"].split("| ", 1)[1])
            elif resource["Type"] == "AWS::Logs::QueryDefinition":
                found.add(resource["Properties"]["QueryString"])
    return found


# --- emit side: the RAG handler, run --------------------------------------------------------------------------------
def _guarded_response() -> dict[str, Any]:
    """A Converse answer the guardrail blocked for lack of grounding (a policy, grounding and relevance scores)."""
    filters = [
        {"type": "GROUNDING", "threshold": 0.75, "score": 0.1, "action": "BLOCKED", "detected": True},
        {"type": "RELEVANCE", "threshold": 0.5, "score": 0.9, "action": "NONE", "detected": False},
    ]
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "Sorry, I can't help with that."}]}},
        "stopReason": "guardrail_intervened",
        "usage": {"inputTokens": 1200, "outputTokens": 80, "totalTokens": 1280},
        "metrics": {"latencyMs": 840},
        "trace": {
            "guardrail": {"outputAssessments": {GUARDRAIL_ID: [{"contextualGroundingPolicy": {"filters": filters}}]}}
        },
    }


def _run_level1(api: Api) -> None:
    """Level 1 settings: every route and outcome the handler has."""
    api.stub_retrieve()
    api.stub_converse()
    assert api.ask({"question": QUESTION})["statusCode"] == 200  # retrieval cache miss
    api.stub_converse()
    assert api.ask({"question": QUESTION})["statusCode"] == 200  # hit
    for code, aws_status, status in (
        ("ThrottlingException", 429, 429), ("ModelTimeoutException", 408, 504), ("ModelErrorException", 424, 502),
        ("ServiceUnavailableException", 503, 503), ("AccessDeniedException", 403, 500),
    ):  # fmt: skip
        api.runtime.add_client_error("converse", code, code, aws_status)
        assert api.ask({"question": QUESTION})["statusCode"] == status
    with pytest.MonkeyPatch.context() as patch:  # Internal: anything unexpected while answering

        def explode(response: Any) -> None:
            raise RuntimeError("kaboom")

        patch.setattr(api.pipeline, "parse_completion", explode)
        api.stub_converse()
        assert api.ask({"question": QUESTION})["statusCode"] == 500
    assert api.ask({"question": 42})["statusCode"] == 400  # Validation: the caller's fault
    assert api.invoke(api.event("/admin", {}))["statusCode"] == 404
    assert api.feedback({"request_id": "c0ffee-1234", "score": 4, "comment": "mail me at jane@example.com"})[
        "statusCode"
    ] == 202  # fmt: skip


def _run_level2_and_3(api: Api) -> None:
    """Guardrail, managed prompt and managed model on (Levels 2 and 3): lookups answered, then failing."""
    api.env(
        GUARDRAIL_ID=GUARDRAIL_ID, GUARDRAIL_VERSION="3", PROMPT_PARAMETER_NAME=PROMPT_PARAMETER,
        MODEL_PARAMETER_NAME=MODEL_PARAMETER, PROMPT_CACHE_TTL_SECONDS="0", MODEL_CACHE_TTL_SECONDS="0",
    )  # fmt: skip
    arn = f"arn:aws:bedrock:us-east-1:123456789012:prompt/{PROMPT_ID}"
    api.ssm.add_response("get_parameter", api.parameter_response(PROMPT_PARAMETER, f"{arn}:3"))
    api.prompts.add_response("get_prompt", api.prompt_response(PROMPT_ID, "3", PROMPT_TEMPLATE))
    api.ssm.add_response("get_parameter", api.parameter_response(MODEL_PARAMETER, api.model_id))
    api.stub_retrieve()
    api.stub_converse(_guarded_response())
    assert api.ask({"question": QUESTION})["statusCode"] == 200
    api.ssm.add_client_error("get_parameter", "ParameterNotFound", "", 400)  # the prompt, then the model
    api.ssm.add_client_error("get_parameter", "ParameterNotFound", "", 400)
    api.stub_converse()
    assert api.ask({"question": QUESTION})["statusCode"] == 200


@pytest.fixture
def handler_output(api: Api) -> dict[str, Any]:
    """What the RAG handler writes at Level 1 settings and with the Level 2/3 settings on: EMF and log lines."""
    _run_level1(api)
    level1 = api.output()
    _run_level2_and_3(api)
    level23 = api.output()
    return {"level1": level1, "all": [level1, level23], "namespace": api.namespace}


def _emitted(outputs: list[Any]) -> set[tuple[str, frozenset[str]]]:
    return {(m.name, frozenset(m.dimensions)) for out in outputs for m in out.metrics}


# --- the contract ----------------------------------------------------------------------------------------------------
def test_every_metric_read_in_the_app_namespace_is_emitted_with_that_dimension_set(
    level1: SynthResult, level2: SynthResult, level3: SynthResult, handler_output: dict[str, Any]
) -> None:
    foundation = level1.stacks["rag-demo-l1-foundation"]
    namespace, service = foundation.workload.metric_namespace, foundation.workload.name
    environments = [
        r["Properties"].get("Environment", {}).get("Variables", {})
        for r in level1.template(1)["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    (env,) = [e for e in environments if t.ENV_PRICE_TABLE in e]  # the RAG function
    assert (env[t.ENV_POWERTOOLS_METRICS_NAMESPACE], env[t.ENV_POWERTOOLS_SERVICE_NAME]) == (namespace, service)
    # It emits through the runtime layer, configured alike (the handler passes these to instrument()).
    assert (env[t.ENV_RUNTIME_NAMESPACE], env[t.ENV_RUNTIME_SERVICE_NAME]) == (namespace, service)
    assert {m.namespace for out in handler_output["all"] for m in out.metrics} == {handler_output["namespace"]}

    read = {r for result in (level1, level2, level3) for r in reads(result) if r[0] == namespace}
    others = (
        canary_emits(namespace)
        | evaluation_emits(namespace)
        | runbook_emits(level3, namespace)
        | {f for result in (level2, level3) for f in metric_filter_emits(result)}
    )
    handler_read = {(name, dims) for ns, name, dims in read - others}
    assert {name for name, _ in handler_read} >= {t.METRIC_REQUEST_SUCCESS, t.METRIC_INPUT_TOKENS, t.METRIC_STAGE_LATENCY}
    missing = handler_read - _emitted(handler_output["all"])
    assert not missing, f"read by a dashboard or alarm but never emitted with these dimensions: {sorted(missing)}"
    # every metric name a dashboard or alarm reads from the app namespace has an emitter
    assert {name for _, name, _ in read} <= {name for name, _ in handler_read} | {name for _, name, _ in others}


def test_one_model_at_level_1_costs_twelve_custom_metric_series(handler_output: dict[str, Any]) -> None:
    metrics = handler_output["level1"].metrics
    series = {(m.name, tuple(sorted(m.dimension_values.items()))) for m in metrics}
    assert len(series) == 12, sorted(series)
    assert {m.name for m in metrics} == {
        t.METRIC_STAGE_LATENCY, t.METRIC_END_TO_END_LATENCY, t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE,
        t.METRIC_INPUT_TOKENS, t.METRIC_OUTPUT_TOKENS, t.METRIC_RETRIEVAL_CACHE_HIT, t.METRIC_FEEDBACK_SCORE,
    }  # fmt: skip
    lookups = [m.values for m in metrics if m.name == t.METRIC_RETRIEVAL_CACHE_HIT]
    assert lookups[:2] == [[0.0], [1.0]]  # a miss, then a hit: Average is the hit rate
    failures = [m for m in metrics if m.name == t.METRIC_REQUEST_FAILURE]
    assert len(failures) == len(t.FAILURE_ERROR_CLASSES)  # one per server-side class; Validation (400, 404) none


# --- a user's function (InvokeModel, no EMF of its own) instrumented by the runtime ----------------------------------
USER_SERVICE, USER_NAMESPACE = "support-bot", "SupportBot"
#: The runtime's helpers a user may call for what only their code knows (not needed for the call metrics).
RUNTIME_HELPER_METRICS = frozenset({t.METRIC_RETRIEVAL_CACHE_HIT, t.METRIC_FEEDBACK_SCORE})
USER_CODE = """
import json, boto3
client = boto3.client("bedrock-runtime")
def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    if "question" not in body:
        return {"statusCode": 400, "body": "question is required"}
    reply = client.invoke_model(modelId="%s", body=json.dumps({"inputText": body["question"]}))
    return {"statusCode": 200, "body": json.loads(reply["body"].read())["results"][0]["outputText"]}
""" % MODEL_ID


@pytest.fixture(scope="module")
def user_app_reads() -> set[tuple[str, frozenset[str]]]:
    """What the Level 1 alarms and dashboard of a user's instrumented function read in its namespace."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from llm_observability.constructs.alarms import LlmAlarms
    from llm_observability.constructs.dashboard import LlmDashboard
    from llm_observability.constructs.instrumentation import LlmInstrumentation
    from llm_observability.workload import Workload

    stack = Stack(App(context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")}), "SupportBot")
    fn = lambda_.Function(
        stack, "Function", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
        code=lambda_.Code.from_inline(USER_CODE),
    )  # fmt: skip
    instrumentation = LlmInstrumentation(
        stack, "Instrumentation", functions=[fn], service_name=USER_SERVICE, namespace=USER_NAMESPACE, zero_code=True
    )
    workload = instrumentation.instrumented(
        Workload.from_function(fn, name=USER_SERVICE, model_ids=(MODEL_ID,), metric_namespace=USER_NAMESPACE)
    )  # telemetry="runtime": the Level 1 app-metric alarms and widgets are built
    alarms = LlmAlarms(stack, "Alarms", workload=workload, topic=sns.Topic(stack, "Alerts"))
    LlmDashboard(stack, "Dashboard", workload=workload, alarms=[r.alarm for r in alarms.roled_alarms])
    found = template_reads(Template.from_stack(stack).to_json())
    return {(name, dims) for namespace, name, dims in found if namespace == USER_NAMESPACE}


def _run_user_function() -> tuple[Output, Output]:
    """The user's code, unmodified, run as the zero-code wrapper runs it (``instrument()`` then ``observe``), against
    real boto3 clients with wire-format Bedrock responses; then the runtime's helpers. Their EMF, separately."""
    namespace: dict[str, Any] = {}
    fake = FakeBedrock()
    reset_runtime()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE_AWS_ENV.items():
            patch.setenv(name, value)
        try:
            return _run_instrumented(namespace, fake)
        finally:
            reset_runtime()


def _run_instrumented(namespace: dict[str, Any], fake: FakeBedrock) -> tuple[Output, Output]:
    """Instrument, load the user's module, answer, be throttled, reject; then call the helpers."""
    llmobs.instrument(service_name=USER_SERVICE, namespace=USER_NAMESPACE)
    lines: list[str] = []
    recorder.current().write = lines.append
    exec(compile(USER_CODE, "index.py", "exec"), namespace)  # noqa: S102 - the user's module, as Lambda loads it
    namespace["client"] = fake.client("bedrock-runtime")
    handler = llmobs.observe(namespace["handler"])
    fake.queue(invoke_reply({"results": [{"outputText": "30 days."}]}, input_tokens=12, output_tokens=3))
    assert handler({"body": json.dumps({"question": "Refunds?"})}, None)["statusCode"] == 200
    fake.queue(error_reply("ThrottlingException", 429))
    with pytest.raises(namespace["client"].exceptions.ThrottlingException):
        handler({"body": json.dumps({"question": "Refunds?"})}, None)
    assert handler({"body": "{}"}, None)["statusCode"] == 400
    unmodified = Output([json.loads(line) for line in lines], "")
    lines.clear()
    llmobs.cache_lookup(False)
    llmobs.feedback("req-1", 4)
    helpers = Output([json.loads(line) for line in lines], "")
    return unmodified, helpers


def test_every_metric_read_for_a_users_instrumented_function_is_emitted_by_the_runtime(
    user_app_reads: set[tuple[str, frozenset[str]]],
) -> None:
    unmodified, helpers = _run_user_function()
    assert {m.namespace for out in (unmodified, helpers) for m in out.metrics} == {USER_NAMESPACE}
    assert all(m.dimension_values[t.DIM_SERVICE] == USER_SERVICE for out in (unmodified, helpers) for m in out.metrics)
    emitted = _emitted([unmodified])
    assert {name for name, _ in emitted} == {
        t.METRIC_STAGE_LATENCY, t.METRIC_END_TO_END_LATENCY, t.METRIC_REQUEST_SUCCESS, t.METRIC_REQUEST_FAILURE,
        t.METRIC_INPUT_TOKENS, t.METRIC_OUTPUT_TOKENS,
    }  # fmt: skip; the 400 answer is neither a success nor a failure
    assert {t.METRIC_REQUEST_SUCCESS, t.METRIC_INPUT_TOKENS, t.METRIC_STAGE_LATENCY} <= {n for n, _ in user_app_reads}
    missing = user_app_reads - emitted - _emitted([helpers])
    assert not missing, f"read by the Level 1 dashboard or alarms but never emitted by the runtime: {sorted(missing)}"
    # What an unmodified function does not feed is only what the runtime's helpers are for.
    assert {name for name, _ in user_app_reads - emitted} <= RUNTIME_HELPER_METRICS


# --- Logs Insights: the fields every query reads are in the handler's log lines -------------------------------------
_STRING = re.compile(r'"[^"]*"')
_IDENTIFIER = re.compile(r"(?<![\w.@])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*\b(?!\s*\()")
_ALIAS = re.compile(r"\bas\s+([A-Za-z_][A-Za-z0-9_]*)")
_KEYWORDS = {"fields", "filter", "stats", "sort", "limit", "by", "as", "desc", "asc", "and", "or", "not", "in", "like"}


def query_fields(query: str) -> set[str]:
    """The log fields a Logs Insights query reads (built-in ``@`` fields, functions, aliases and keywords left out)."""
    text = _STRING.sub('""', query)
    aliases = set(_ALIAS.findall(text))
    return {name for name in _IDENTIFIER.findall(text) if name not in _KEYWORDS and name not in aliases}


def _has(record: dict[str, Any], dotted: str) -> bool:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def test_every_logs_insights_query_reads_fields_of_the_handlers_log_lines(
    level1: SynthResult, level2: SynthResult, level3: SynthResult, handler_output: dict[str, Any]
) -> None:
    lines = [record for out in handler_output["all"] for record in out.logs]
    queries = log_queries(level1) | log_queries(level2) | log_queries(level3)
    assert len(queries) >= 10
    for query in sorted(queries):
        messages = re.findall(r'message\s*=\s*"([^"]+)"', query)
        candidates = [r for r in lines if r.get("message") in messages] if messages else lines
        assert candidates, f"no log line has the message {messages} that this query selects:\n{query}"
        for field in sorted(query_fields(query)):
            assert any(_has(r, field) for r in candidates), f"no {messages or 'log'} line has {field!r}:\n{query}"


def test_the_query_field_parser() -> None:
    query = (
        'filter message = "ask" and pii_redactions > 0\n'
        "| stats count(*) as n, pct(latency_ms.stages.Retrieval, 90) as p90 by prompt.template_version, bin(5m)"
    )
    assert query_fields(query) == {"message", "pii_redactions", "latency_ms.stages.Retrieval", "prompt.template_version"}
