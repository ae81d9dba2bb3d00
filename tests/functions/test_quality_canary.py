"""Quality canary Lambda (functions/quality_canary/handler.py).

The handler is loaded under a unique module name with its folder on
``sys.path`` only while it loads, so its sibling modules cannot collide with
the RAG function's (``tests/functions/conftest.py`` keeps ``rag_api`` on
``sys.path``).  Invoke calls go to a real boto3 Lambda client wrapped in
``botocore.stub.Stubber`` (no network); EMF blobs and log records are read back
from captured stdout.  One test routes the canary's Invoke to the real RAG
handler in process.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from hypothesis import given, settings, strategies as st

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import CurrentStdout
from tests.support.loader import load_file

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions"
CANARY_DIR = FUNCTIONS_DIR / "quality_canary"
CORPUS_DIR = FUNCTIONS_DIR.parent / "corpus"
SIBLINGS = ("scoring", "canary_telemetry", "canary_contract")

SERVICE = "quality-canary-test-workload"
NAMESPACE = "QualityCanaryTest"
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:rag-api"
MODEL_A = "anthropic.claude-3-haiku-20240307-v1:0"
MODEL_B = "us.amazon.nova-pro-v1:0"
RUN_ID = "3f1c2a9e-0b7d-4c55-9a61-8d2e4f6a7b10"

GOLDEN = [
    {
        "id": "level1-tracing",
        "question": "At Level 1, which service traces requests end to end?",
        "reference": "AWS X-Ray traces requests end to end.",
    },
    {"id": "inference-api", "question": "Which Bedrock API sends the prompt?", "reference": "The Converse API."},
    {"id": "level2-incidents", "question": "Which service enhances incidents?", "reference": "AWS Systems Manager."},
]
ANSWERS = [
    "AWS X-Ray traces requests end to end [1].",
    "The prompt is sent with the Converse API of Amazon Bedrock [2].",
    "I don't know: the provided passages do not say.",
]


def load_function(name: str, path: Path, folder: Path, siblings: tuple[str, ...]) -> ModuleType:
    """Import ``path`` as module ``name`` as Lambda would (``folder`` first on sys.path), then undo the path change.

    Sibling modules imported meanwhile are dropped from ``sys.modules`` (the
    loaded module keeps its references) and any same-named modules restored.
    """
    return load_file(name, path, search=[folder], siblings=siblings)


def load_by_path(name: str, path: Path) -> ModuleType:
    """Import one dependency-free file under a unique module name."""
    return load_file(name, path, register=False)


# --- Captured output --------------------------------------------------------------------------
@dataclass(frozen=True)
class Blob:
    """One EMF blob of the canary's namespace."""

    dimensions: dict[str, str]
    metrics: dict[str, tuple[str, list[float]]]  # name -> (unit, values)
    metadata: dict[str, Any]


@dataclass
class Output:
    lines: list[dict[str, Any]]

    @property
    def blobs(self) -> list[Blob]:
        found = []
        for line in self.lines:
            if "_aws" not in line:
                continue
            (directive,) = line["_aws"]["CloudWatchMetrics"]
            if directive["Namespace"] != NAMESPACE:
                continue
            (names,) = directive["Dimensions"]
            metrics = {}
            for definition in directive["Metrics"]:
                value = line[definition["Name"]]
                metrics[definition["Name"]] = (definition["Unit"], value if isinstance(value, list) else [value])
            known = set(names) | set(metrics) | {"_aws"}
            found.append(
                Blob(
                    dimensions={name: line[name] for name in names},
                    metrics=metrics,
                    metadata={k: v for k, v in line.items() if k not in known},
                )
            )
        return found

    def blob(self, **dimensions: str) -> Blob:
        """The single blob with exactly these dimensions."""
        matches = [blob for blob in self.blobs if blob.dimensions == dimensions]
        assert len(matches) == 1, f"expected one blob with {dimensions}, got {self.blobs}"
        return matches[0]

    def version_blob(self, model_id: str, prompt_version: str) -> Blob:
        return self.blob(service=SERVICE, ModelId=model_id, PromptVersion=prompt_version)

    @property
    def failures_blob(self) -> Blob:
        return self.blob(service=SERVICE)

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "level" in line and "_aws" not in line]

    def logs_with(self, message: str) -> list[dict[str, Any]]:
        return [record for record in self.logs if record.get("message") == message]

    def log(self, message: str) -> dict[str, Any]:
        (record,) = self.logs_with(message)
        return record


@dataclass
class LambdaContext:
    function_name: str = "quality-canary"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:quality-canary"
    aws_request_id: str = RUN_ID
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2025-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/quality-canary"],
    "detail": {},
}


def payload(data: Any) -> StreamingBody:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def proxy_response(
    answer: str, model_id: str = MODEL_A, prompt_version: str = "v1", request_id: str = "r"
) -> dict[str, Any]:
    """A 200 response of the RAG API's POST /ask, as its handler returns it."""
    body = {
        "answer": answer,
        "sources": [{"index": 1, "uri": "s3://corpus/01-maturity-model.md", "score": 0.8, "excerpt": "..."}],
        "request_id": request_id,
        "model_id": model_id,
        "prompt_version": prompt_version,
        "usage": {"input_tokens": 900, "output_tokens": 20, "total_tokens": 920},
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Request-Id": request_id},
        "body": json.dumps(body),
    }


@dataclass
class Canary:
    """Runs the handler against a stubbed Lambda client and reads back its output."""

    handler: ModuleType
    scoring: ModuleType
    telemetry: ModuleType
    stubber: Stubber
    client: Any
    invocations: list[dict[str, Any]]
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    golden_path: Path
    context: LambdaContext = field(default_factory=LambdaContext)

    def env(self, **values: str | None) -> None:
        """Change environment variables (None unsets) as for a new container."""
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        self.reset()

    def reset(self) -> None:
        self.handler.reset_state()
        self.handler.set_client(self.client)

    def golden(self, document: Any) -> None:
        """Replace the golden set file's content (a JSON document, or raw text)."""
        text = document if isinstance(document, str) else json.dumps(document)
        self.golden_path.write_text(text, encoding="utf-8")
        self.reset()

    def run(self) -> dict[str, Any]:
        return self.handler.lambda_handler(SCHEDULED_EVENT, self.context)

    def stub_invoke(self, response: dict[str, Any]) -> None:
        expected = {"FunctionName": TARGET, "InvocationType": "RequestResponse", "Payload": ANY}
        self.stubber.add_response("invoke", {"StatusCode": 200, "ExecutedVersion": "$LATEST", **response}, expected)

    def stub_answer(self, answer: str, model_id: str = MODEL_A, prompt_version: str = "v1") -> None:
        self.stub_invoke({"Payload": payload(proxy_response(answer, model_id, prompt_version))})

    def stub_answers(self, answers: list[str] = ANSWERS) -> None:
        for answer in answers:
            self.stub_answer(answer)

    def events(self) -> list[dict[str, Any]]:
        """The events the RAG function received, decoded from the Invoke payloads."""
        return [json.loads(call["Payload"]) for call in self.invocations]

    def output(self) -> Output:
        raw = self.capsys.readouterr().out
        return Output([json.loads(line) for line in raw.splitlines() if line.startswith("{")])

    def scores(self, answers: list[str] = ANSWERS, golden: list[dict[str, str]] = GOLDEN) -> dict[str, list[float]]:
        """Expected metric values of answers to the golden questions, from ``scoring``."""
        pairs = [(item["reference"], answer) for item, answer in zip(golden, answers)]
        return {
            "QualityRougeL": [self.scoring.rouge_l(r, a) for r, a in pairs],
            "QualityBleu": [self.scoring.bleu(r, a) for r, a in pairs],
            "QualityTokenF1": [self.scoring.token_f1(r, a) for r, a in pairs],
            "AnswerLength": [float(len(a.split())) for _, a in pairs],
            "RefusalRate": [100.0 if self.scoring.is_refusal(a) else 0.0 for _, a in pairs],
        }


# --- Fixtures ---------------------------------------------------------------------------------
CANARY_ENV_NAMES = ("TARGET_FUNCTION_NAME", "GOLDEN_SET_PATH", "MAX_QUESTIONS", "PER_QUESTION_TIMEOUT", "REQUEST_CONTRACT")


@pytest.fixture(scope="module")
def canary_env() -> Iterator[None]:
    """Dummy AWS credentials and region, the workload's Powertools settings, for this module only."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            **OFFLINE_AWS_ENV,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }.items():
            patch.setenv(name, value)
        for name in ("POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def modules(canary_env: None) -> SimpleNamespace:
    """The canary's handler, scoring and telemetry modules, as the handler imported them."""
    handler = load_function("quality_canary_handler", CANARY_DIR / "handler.py", CANARY_DIR, SIBLINGS)
    return SimpleNamespace(handler=handler, scoring=handler.scoring, telemetry=handler.telemetry)


@pytest.fixture(scope="module")
def lambda_client(modules: SimpleNamespace) -> Any:
    """A real boto3 Lambda client (us-east-1, dummy credentials) with the handler's configuration."""
    return boto3.client("lambda", region_name="us-east-1", config=modules.handler.client_config())


@pytest.fixture
def canary(
    modules: SimpleNamespace,
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Iterator[Canary]:
    """A fresh handler with a stubbed Lambda client and a three-question golden set."""
    handler = modules.handler
    for name in CANARY_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    golden_path = tmp_path / "golden_set.json"
    golden_path.write_text(json.dumps({"questions": GOLDEN}), encoding="utf-8")
    monkeypatch.setenv("TARGET_FUNCTION_NAME", TARGET)
    monkeypatch.setenv("GOLDEN_SET_PATH", str(golden_path))
    monkeypatch.setattr(handler.logger.registered_handler, "stream", CurrentStdout())

    invocations: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        invocations.append(dict(params))

    events = lambda_client.meta.events
    events.register("before-parameter-build.lambda.Invoke", record, unique_id="quality-canary-test-record")
    try:
        with Stubber(lambda_client) as stubber:
            harness = Canary(
                handler, modules.scoring, modules.telemetry, stubber, lambda_client, invocations,
                monkeypatch, capsys, golden_path,
            )  # fmt: skip
            harness.reset()
            yield harness
            stubber.assert_no_pending_responses()
    finally:
        events.unregister("before-parameter-build.lambda.Invoke", unique_id="quality-canary-test-record")
        handler.reset_state()


# --- Happy path --------------------------------------------------------------------------------
def test_happy_path_publishes_scores_per_question(canary: Canary) -> None:
    canary.stub_answers()

    summary = canary.run()

    out = canary.output()
    expected = canary.scores()
    blob = out.version_blob(MODEL_A, "v1")
    assert blob.metrics == {
        "QualityRougeL": ("None", expected["QualityRougeL"]),
        "QualityBleu": ("None", expected["QualityBleu"]),
        "QualityTokenF1": ("None", expected["QualityTokenF1"]),
        "AnswerLength": ("Count", expected["AnswerLength"]),
        "RefusalRate": ("Percent", [0.0, 0.0, 100.0]),
        "CanaryQuestions": ("Count", [3.0]),
    }
    assert blob.metadata == {"run_id": RUN_ID}
    assert out.failures_blob.metrics["CanaryFailures"] == ("Count", [0.0])
    # The service-only blob repeats every score, so alarms need not know the prompt version.
    assert out.failures_blob.metrics["QualityRougeL"] == ("None", expected["QualityRougeL"])
    assert out.failures_blob.metrics["CanaryQuestions"] == ("Count", [3.0])
    assert len(out.blobs) == 2
    # The reference plus a citation scores high; the refusal scores low.
    assert expected["QualityRougeL"][0] == pytest.approx(16 / 17) and expected["QualityRougeL"][2] < 0.2
    assert 0 < expected["QualityBleu"][1] < 100

    version = summary["by_version"][f"{MODEL_A}|v1"]
    assert summary["questions"] == 3 and summary["failures"] == 0 and summary["skipped"] == 0
    assert summary["run_id"] == RUN_ID
    assert version["model_id"] == MODEL_A and version["prompt_version"] == "v1" and version["questions"] == 3
    assert version["rouge_l"] == pytest.approx(sum(expected["QualityRougeL"]) / 3)
    assert version["bleu"] == pytest.approx(sum(expected["QualityBleu"]) / 3)
    assert version["token_f1"] == pytest.approx(sum(expected["QualityTokenF1"]) / 3)
    assert version["refusal_rate"] == pytest.approx(100 / 3)

    scored = out.logs_with("Canary question scored")
    assert [record["question_id"] for record in scored] == [item["id"] for item in GOLDEN]
    assert scored[0]["request_id"] == f"canary-{RUN_ID}-level1-tracing"
    assert scored[0]["rag_request_id"] == "r"
    assert scored[0]["rouge_l"] == expected["QualityRougeL"][0] and scored[2]["refusal"] is True
    run_log = out.log("Canary run")
    assert run_log["summary"] == summary
    assert run_log["correlation_id"] == RUN_ID and run_log["service"] == SERVICE and run_log["level"] == "INFO"


def test_each_question_is_sent_as_a_proxy_event_for_post_ask(canary: Canary) -> None:
    canary.stub_answers()

    canary.run()

    assert [call["FunctionName"] for call in canary.invocations] == [TARGET] * 3
    assert {call["InvocationType"] for call in canary.invocations} == {"RequestResponse"}
    for item, raw in zip(GOLDEN, canary.events()):
        event = APIGatewayProxyEvent(raw)
        assert (event.resource, event.path, event.http_method) == ("/ask", "/ask", "POST")
        assert event.json_body == {"question": item["question"]}
        assert event.is_base64_encoded is False
        assert event.headers["Content-Type"] == "application/json"
        assert event.request_context.request_id == f"canary-{RUN_ID}-{item['id']}"
        assert event.request_context.resource_path == "/ask" and event.request_context.http_method == "POST"
        # A request id the RAG API accepts as /feedback's request_id.
        assert re.fullmatch(r"[A-Za-z0-9-]{1,128}", event.request_context.request_id)


#: Another app's API as the CDK side writes its RequestContract (RequestContract.document): PUT /v1/chat.
CHAT_CONTRACT = {
    "method": "PUT", "path": "/v1/chat", "body": {"input": {"messages": [{"text": "{question}"}], "stream": False}},
    "answer_path": "$.output.choices[0].text", "model_path": None, "prompt_version_path": None,
    "default_model_id": MODEL_B,
}  # fmt: skip


def test_a_request_contract_says_how_to_ask_and_where_the_answer_is(canary: Canary) -> None:
    canary.env(REQUEST_CONTRACT=json.dumps(CHAT_CONTRACT))
    for answer in ANSWERS:
        body = {"output": {"choices": [{"text": answer}]}, "id": "x"}
        canary.stub_invoke({"Payload": payload({"statusCode": 200, "body": json.dumps(body)})})

    summary = canary.run()

    for item, raw in zip(GOLDEN, canary.events()):
        event = APIGatewayProxyEvent(raw)
        assert (event.resource, event.path, event.http_method) == ("/v1/chat", "/v1/chat", "PUT")
        assert event.json_body == {"input": {"messages": [{"text": item["question"]}], "stream": False}}
    # No model or prompt version in the response: the workload's primary model, "unversioned".
    assert list(summary["by_version"]) == [f"{MODEL_B}|unversioned"] and summary["failures"] == 0
    blob = canary.output().version_blob(MODEL_B, "unversioned")
    assert blob.metrics["QualityRougeL"][1] == pytest.approx(canary.scores()["QualityRougeL"])


def test_an_answer_missing_at_the_contracts_path_is_a_malformed_response(canary: Canary) -> None:
    canary.env(REQUEST_CONTRACT=json.dumps(CHAT_CONTRACT))
    for _ in GOLDEN:  # the reference app's body: no output.choices
        canary.stub_answer("An answer where the contract does not look.")

    with pytest.raises(canary.handler.CanaryRunFailed):
        canary.run()

    records = canary.output().logs_with("Canary question failed")
    assert {r["reason"] for r in records} == {"MalformedResponse"} and len(records) == 3


@pytest.mark.parametrize(
    ("contract", "problem"),
    [
        ("not json", "REQUEST_CONTRACT must be a JSON object."),
        ({**CHAT_CONTRACT, "method": "GET"}, "REQUEST_CONTRACT method must be one of POST, PUT, PATCH, got 'GET'."),
        ({**CHAT_CONTRACT, "path": "/a?b=1"}, "REQUEST_CONTRACT path must start with / and carry no query string"),
        ({**CHAT_CONTRACT, "body": {"q": "x"}}, "REQUEST_CONTRACT body must hold the string '{question}' as a value."),
        ({**CHAT_CONTRACT, "answer_path": "$.a..b"}, "REQUEST_CONTRACT answer_path must be a JSON path"),
    ],
)  # fmt: skip
def test_a_bad_request_contract_is_a_configuration_error(canary: Canary, contract: Any, problem: str) -> None:
    canary.env(REQUEST_CONTRACT=contract if isinstance(contract, str) else json.dumps(contract))
    with pytest.raises(canary.handler.CanaryConfigError, match=re.escape(problem)):
        canary.run()


def test_the_real_rag_handler_answers_the_canary(canary: Canary, api: Any) -> None:
    """End to end in process: canary event -> RAG handler (stubbed Bedrock) -> canary scores."""

    class InProcessRagFunction:
        """A Lambda client whose Invoke runs the RAG handler as Lambda would (JSON in, JSON out)."""

        def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
            assert (FunctionName, InvocationType) == (TARGET, "RequestResponse")
            response = api.invoke(json.loads(Payload))
            return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload(response)}

    canary.env(MAX_QUESTIONS="2")
    canary.handler.set_client(InProcessRagFunction())
    for item, answer in zip(GOLDEN[:2], ANSWERS[:2]):
        api.stub_retrieve(question=item["question"])
        api.stub_converse(api.converse_response(answer))

    summary = canary.run()

    out = canary.output()
    assert summary["failures"] == 0 and summary["questions"] == 2
    blob = out.version_blob(api.model_id, "v1")
    assert blob.metrics["QualityRougeL"][1] == canary.scores(ANSWERS[:2], GOLDEN[:2])["QualityRougeL"]
    rag_asks = [
        record for record in out.logs if record.get("message") == "ask" and record.get("service") == api.service
    ]
    assert [record["correlation_id"] for record in rag_asks] == [f"canary-{RUN_ID}-{item['id']}" for item in GOLDEN[:2]]
    scored = out.logs_with("Canary question scored")
    assert [record["rag_request_id"] for record in scored] == [record["request_id"] for record in scored]


def test_model_and_prompt_versions_get_separate_blobs(canary: Canary) -> None:
    golden = GOLDEN + [{"id": "q4", "question": "Which encryption?", "reference": "With AWS KMS."}]
    answers = [*ANSWERS, "With AWS KMS [3]."]
    versions = [(MODEL_A, "v1"), (MODEL_A, "v2"), (MODEL_B, "v1"), (MODEL_A, "v1")]
    canary.golden({"questions": golden})
    for answer, (model_id, prompt_version) in zip(answers, versions):
        canary.stub_answer(answer, model_id, prompt_version)

    summary = canary.run()

    out = canary.output()
    expected = canary.scores(answers, golden)
    assert len(out.blobs) == 4
    for (model_id, prompt_version), indexes in {
        (MODEL_A, "v1"): [0, 3],
        (MODEL_A, "v2"): [1],
        (MODEL_B, "v1"): [2],
    }.items():
        blob = out.version_blob(model_id, prompt_version)
        for name, values in expected.items():
            assert blob.metrics[name][1] == [values[i] for i in indexes], (model_id, prompt_version, name)
        assert blob.metrics["CanaryQuestions"] == ("Count", [float(len(indexes))])
        entry = summary["by_version"][f"{model_id}|{prompt_version}"]
        assert entry["questions"] == len(indexes)
        assert entry["bleu"] == pytest.approx(sum(expected["QualityBleu"][i] for i in indexes) / len(indexes))
    assert summary["by_version"][f"{MODEL_B}|v1"]["refusal_rate"] == 100.0
    assert summary["by_version"][f"{MODEL_A}|v1"]["refusal_rate"] == 0.0
    assert out.failures_blob.metrics["CanaryFailures"] == ("Count", [0.0])


def test_a_refusal_counts_in_refusal_rate(canary: Canary) -> None:
    canary.stub_answers(["I do not know.", ANSWERS[1], "The passages don\u2019t contain the answer."])

    summary = canary.run()

    blob = canary.output().version_blob(MODEL_A, "v1")
    assert blob.metrics["RefusalRate"] == ("Percent", [100.0, 0.0, 100.0])
    assert summary["by_version"][f"{MODEL_A}|v1"]["refusal_rate"] == pytest.approx(200 / 3)


# --- Failures of one question --------------------------------------------------------------------
def _failure(out: Output) -> dict[str, Any]:
    (record,) = out.logs_with("Canary question failed")
    assert record["level"] == "WARNING"
    assert record["question_id"] == GOLDEN[1]["id"]
    assert record["request_id"] == f"canary-{RUN_ID}-{GOLDEN[1]['id']}"
    return record


def _assert_one_failure(canary: Canary, summary: dict[str, Any], reason: str) -> dict[str, Any]:
    """The middle question failed for ``reason``; the other two were scored and published."""
    out = canary.output()
    assert summary["questions"] == 3 and summary["failures"] == 1
    assert summary["failures_by_reason"] == {reason: 1}
    assert out.failures_blob.metrics["CanaryFailures"] == ("Count", [1.0])
    blob = out.version_blob(MODEL_A, "v1")
    answers, golden = [ANSWERS[0], ANSWERS[2]], [GOLDEN[0], GOLDEN[2]]
    assert blob.metrics["QualityRougeL"][1] == canary.scores(answers, golden)["QualityRougeL"]
    assert blob.metrics["CanaryQuestions"] == ("Count", [2.0])
    record = _failure(out)
    assert record["reason"] == reason
    return record


def test_function_error_is_a_failure(canary: Canary) -> None:
    canary.stub_answer(ANSWERS[0])
    canary.stub_invoke(
        {
            "FunctionError": "Unhandled",
            "Payload": payload({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 29.00 seconds"}),
        }
    )
    canary.stub_answer(ANSWERS[2])

    summary = canary.run()

    record = _assert_one_failure(canary, summary, "FunctionError")
    assert record["function_error"] == "Unhandled"
    assert record["error_type"] == "Sandbox.Timedout"
    assert record["error_message"] == "Task timed out after 29.00 seconds"


def test_http_429_from_the_rag_api_is_a_failure(canary: Canary) -> None:
    canary.stub_answer(ANSWERS[0])
    throttled = {
        "statusCode": 429,
        "headers": {"Content-Type": "application/json", "Retry-After": "2"},
        "body": json.dumps({"error": "The model service is busy.", "request_id": "r"}),
    }
    canary.stub_invoke({"Payload": payload(throttled)})
    canary.stub_answer(ANSWERS[2])

    summary = canary.run()

    record = _assert_one_failure(canary, summary, "HttpStatus")
    assert record["status"] == 429 and record["error"] == "The model service is busy."


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        json.dumps(["statusCode", 200]).encode(),
        json.dumps({"statusCode": "200", "body": "{}"}).encode(),
        json.dumps({"statusCode": True, "body": "{}"}).encode(),
        json.dumps({"statusCode": 200, "body": "not json"}).encode(),
        json.dumps({"statusCode": 200, "body": None}).encode(),
        json.dumps({"statusCode": 200, "body": json.dumps({"answer": 42, "model_id": MODEL_A, "prompt_version": "v1"})}).encode(),
        json.dumps({"statusCode": 200, "body": json.dumps({"answer": "x", "prompt_version": "v1"})}).encode(),
        json.dumps({"statusCode": 200, "body": json.dumps({"answer": "x", "model_id": MODEL_A, "prompt_version": ""})}).encode(),
        json.dumps({"statusCode": 200, "body": json.dumps({"answer": "x", "model_id": "a\nb", "prompt_version": "v1"})}).encode(),
        json.dumps({"statusCode": 200, "body": "AAA", "isBase64Encoded": True}).encode(),
    ],
    ids=[
        "not-json", "empty", "list", "status-string", "status-bool", "body-not-json", "body-null", "answer-not-string",
        "no-model-id", "empty-prompt-version", "model-id-control-char", "bad-base64",
    ],
)  # fmt: skip
def test_malformed_payload_is_a_failure(canary: Canary, raw: bytes) -> None:
    canary.stub_answer(ANSWERS[0])
    canary.stub_invoke({"Payload": payload(raw)})
    canary.stub_answer(ANSWERS[2])

    summary = canary.run()

    _assert_one_failure(canary, summary, "MalformedResponse")


def test_base64_encoded_proxy_body_is_accepted(canary: Canary) -> None:
    import base64

    response = proxy_response(ANSWERS[1])
    response.update(body=base64.b64encode(response["body"].encode()).decode(), isBase64Encoded=True)
    canary.stub_answer(ANSWERS[0])
    canary.stub_invoke({"Payload": payload(response)})
    canary.stub_answer(ANSWERS[2])

    summary = canary.run()

    assert summary["failures"] == 0
    assert canary.output().version_blob(MODEL_A, "v1").metrics["QualityRougeL"][1] == canary.scores()["QualityRougeL"]


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("TooManyRequestsException", 429, "Throttled"),
        ("AccessDeniedException", 403, "InvokeError"),
        ("ResourceNotFoundException", 404, "InvokeError"),
    ],
)
def test_invoke_client_errors_are_failures(canary: Canary, code: str, status: int, reason: str) -> None:
    canary.stub_answer(ANSWERS[0])
    canary.stubber.add_client_error(
        "invoke", service_error_code=code, http_status_code=status, expected_params={
            "FunctionName": TARGET, "InvocationType": "RequestResponse", "Payload": ANY,
        },
    )  # fmt: skip
    canary.stub_answer(ANSWERS[2])

    summary = canary.run()

    record = _assert_one_failure(canary, summary, reason)
    assert record["aws_error_code"] == code


def test_read_timeout_is_a_failure_after_one_retry(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (unstubbed) client: the HTTP send raises ReadTimeoutError; standard retries try twice."""
    client = boto3.client("lambda", region_name="us-east-1", config=canary.handler.client_config())
    sends: list[str] = []

    def time_out(request: Any, **kwargs: Any) -> None:
        sends.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send.lambda.Invoke", time_out)
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps.append))
    canary.env(MAX_QUESTIONS="1")
    canary.handler.set_client(client)

    with pytest.raises(canary.handler.CanaryRunFailed, match=r"All 1 canary questions .* failed \(Timeout: 1\)"):
        canary.run()

    assert len(sends) == 2 and len(sleeps) == 1
    assert (
        sends[0]
        == f"https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/{TARGET.replace(':', '%3A')}/invocations"
    )
    out = canary.output()
    (record,) = out.logs_with("Canary question failed")
    assert record["reason"] == "Timeout" and record["error"] == "ReadTimeoutError"
    assert out.failures_blob.metrics["CanaryFailures"] == ("Count", [1.0])


def test_all_questions_failing_raises_after_flushing_metrics(canary: Canary) -> None:
    for _ in GOLDEN:
        canary.stub_invoke({"FunctionError": "Unhandled", "Payload": payload({"errorType": "Runtime.ExitError"})})

    with pytest.raises(canary.handler.CanaryRunFailed) as raised:
        canary.run()

    assert str(raised.value) == (
        f"All 3 canary questions to {TARGET} failed (FunctionError: 3); see the 'Canary question failed' log records."
    )
    out = canary.output()
    assert out.blobs == [out.failures_blob]
    assert out.failures_blob.metrics["CanaryFailures"] == ("Count", [3.0])
    record = out.log("Canary run failed: no question got a scorable answer")
    assert record["level"] == "ERROR" and record["summary"]["failures"] == 3
    assert len(out.logs_with("Canary question failed")) == 3
    assert out.logs_with("Canary run") == []


# --- Configuration -------------------------------------------------------------------------------
def test_max_questions_is_respected(canary: Canary) -> None:
    canary.env(MAX_QUESTIONS="2")
    canary.stub_answers(ANSWERS[:2])

    summary = canary.run()

    assert [event["requestContext"]["requestId"] for event in canary.events()] == [
        f"canary-{RUN_ID}-{item['id']}" for item in GOLDEN[:2]
    ]
    assert summary["questions"] == 2
    assert canary.output().version_blob(MODEL_A, "v1").metrics["CanaryQuestions"] == ("Count", [2.0])


def test_max_questions_above_the_golden_set_asks_every_question(canary: Canary) -> None:
    canary.env(MAX_QUESTIONS="50")
    canary.stub_answers()

    assert canary.run()["questions"] == 3


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "must be a JSON object with a non-empty 'questions' list"),
        ('{"questions": []}', "must be a JSON object with a non-empty 'questions' list"),
        ('{"items": [{"id": "a", "question": "q", "reference": "r"}]}', "non-empty 'questions' list"),
        ('{"questions": ["q"]}', "questions[0] must be an object"),
        ('{"questions": [{"id": "a", "question": "q"}]}', "questions[0] needs non-empty strings 'reference'"),
        ('{"questions": [{"id": "a", "question": " ", "reference": 3}]}', "needs non-empty strings 'question', 'reference'"),
        ('{"questions": [{"id": "a b", "question": "q", "reference": "r"}]}', "id 'a b' must be 1 to 64 letters"),
        (
            '{"questions": [{"id": "a", "question": "q", "reference": "r"}, {"id": "a", "question": "q", "reference": "r"}]}',
            "questions[1] id 'a' is used more than once",
        ),
    ],
)  # fmt: skip
def test_malformed_golden_set_is_a_clear_error(canary: Canary, content: str, problem: str) -> None:
    canary.golden(content)

    with pytest.raises(canary.handler.CanaryConfigError, match=re.escape(problem)) as raised:
        canary.run()

    assert str(canary.golden_path) in str(raised.value)
    out = canary.output()
    record = out.log("Invalid quality canary configuration")
    assert record["level"] == "ERROR" and any(problem in p for p in record["configuration_problems"])
    assert canary.invocations == [] and out.blobs == []


def test_missing_golden_set_is_a_clear_error(canary: Canary) -> None:
    canary.env(GOLDEN_SET_PATH=str(canary.golden_path.with_name("missing.json")))

    with pytest.raises(canary.handler.CanaryConfigError, match=r"missing\.json cannot be read"):
        canary.run()


def test_every_configuration_problem_is_reported_at_once(canary: Canary) -> None:
    canary.env(TARGET_FUNCTION_NAME=" ", MAX_QUESTIONS="0", PER_QUESTION_TIMEOUT="soon")

    with pytest.raises(canary.handler.CanaryConfigError) as raised:
        canary.run()

    assert raised.value.problems == [
        "TARGET_FUNCTION_NAME is required and must not be empty.",
        "MAX_QUESTIONS must be a positive integer, got '0'.",
        "PER_QUESTION_TIMEOUT must be a number of seconds from 1 to 900, got 'soon'.",
    ]


def test_configuration_is_read_once_per_container(canary: Canary) -> None:
    canary.stub_answers()
    canary.run()
    canary.golden_path.unlink()
    canary.stub_answers()

    assert canary.run()["failures"] == 0


def test_shipped_golden_set_is_valid_and_drawn_from_the_corpus(canary: Canary) -> None:
    canary.env(GOLDEN_SET_PATH=None)

    config = canary.handler.get_config()

    assert 8 <= len(config.questions) <= 12
    assert config.target_function == TARGET
    corpus = " ".join(path.read_text(encoding="utf-8") for path in sorted(CORPUS_DIR.glob("*.md")))
    corpus_words = set(canary.scoring.rouge_tokens(corpus))
    for item in config.questions:
        assert len(item.reference.split()) <= 20, item.id
        # Every reference word appears in the corpus: the answers are in the sample documents.
        assert set(canary.scoring.rouge_tokens(item.reference)) <= corpus_words, item.id


def test_too_little_time_left_stops_the_run_early(canary: Canary) -> None:
    canary.context.remaining_ms = 60_000  # less than a worst-case Invoke with its retry (71 s)
    canary.stub_answer(ANSWERS[0])

    summary = canary.run()

    assert summary["questions"] == 1 and summary["skipped"] == 2 and summary["failures"] == 0
    record = canary.output().log("Canary run stopped early: not enough time left for another question")
    assert record["level"] == "WARNING" and record["skipped"] == 2


# --- Client and telemetry vocabulary -------------------------------------------------------------
def test_client_uses_standard_configuration(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://localhost:4566")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")  # Lambda sets both
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    canary.handler.reset_state()

    client = canary.handler.get_client(45)

    assert canary.handler.get_client() is client  # one per container
    assert client.meta.endpoint_url == "http://localhost:4566"
    assert client.meta.region_name == "eu-west-3"
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 45)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert "llm-observability-quality-canary" in config.user_agent_extra
    default = canary.handler.client_config()
    assert (default.connect_timeout, default.read_timeout) == (5, 30)


def test_per_question_timeout_sets_the_read_timeout(canary: Canary) -> None:
    canary.env(PER_QUESTION_TIMEOUT="12.5")

    assert canary.handler.get_config().read_timeout == 12.5


def test_dimension_names_equal_the_runtime_telemetry(modules: SimpleNamespace) -> None:
    rag = load_by_path("rag_api_telemetry_for_canary", FUNCTIONS_DIR.parent / "runtime" / "telemetry.py")
    ours = load_by_path("quality_canary_telemetry_by_path", CANARY_DIR / "canary_telemetry.py")
    for module in (ours, modules.telemetry):
        assert module.DIM_SERVICE == rag.DIM_SERVICE == "service"
        assert module.DIM_MODEL_ID == rag.DIM_MODEL_ID == "ModelId"
        assert module.DIM_PROMPT_VERSION == rag.DIM_PROMPT_VERSION == "PromptVersion"
        assert module.DEFAULT_NAMESPACE == rag.DEFAULT_NAMESPACE
        assert module.DEFAULT_SERVICE_NAME == rag.DEFAULT_SERVICE_NAME
        assert module.ENV_POWERTOOLS_SERVICE_NAME == rag.ENV_POWERTOOLS_SERVICE_NAME
        assert module.ENV_POWERTOOLS_METRICS_NAMESPACE == rag.ENV_POWERTOOLS_METRICS_NAMESPACE
    rag_metrics = {value for name, value in vars(rag).items() if name.startswith("METRIC_")}
    canary_metrics = {value for name, value in vars(ours).items() if name.startswith("METRIC_")}
    assert canary_metrics == {
        "QualityRougeL", "QualityBleu", "QualityTokenF1", "AnswerLength", "RefusalRate", "CanaryQuestions",
        "CanaryFailures",
    }  # fmt: skip
    assert not canary_metrics & rag_metrics


def test_function_folder_imports_only_the_runtime_and_powertools() -> None:
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "aws_lambda_powertools", "textstats", *SIBLINGS}
    for path in CANARY_DIR.glob("*.py"):
        imported = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", path.read_text(), flags=re.MULTILINE)
        assert set(imported) <= allowed, (path.name, set(imported) - allowed)


# --- Unexpected exceptions mid-run (issue 15, item 7) ----------------------------------------------
class _Unreadable:
    """A Payload stream whose read fails."""

    def read(self) -> bytes:
        raise OSError(5, "Input/output error")


class _ScriptedClient:
    """A Lambda client whose Invoke answers from a list: a response dict, or an exception to raise."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = list(outcomes)

    def invoke(self, **params: Any) -> dict[str, Any]:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _ok(answer: str) -> dict[str, Any]:
    return {"StatusCode": 200, "Payload": payload(proxy_response(answer))}


@pytest.mark.parametrize(
    ("middle", "error"),
    [
        (RuntimeError("Cannot send a request, as the client has been closed."), "RuntimeError"),
        ({"StatusCode": 200}, "KeyError"),
        ({"StatusCode": 200, "Payload": _Unreadable()}, "OSError"),
        ({"StatusCode": 200, "Payload": None}, "AttributeError"),
    ],
    ids=["client-runtime-error", "no-payload", "payload-read-oserror", "payload-none"],
)
def test_an_unexpected_invoke_error_is_one_failure_and_the_run_publishes(
    canary: Canary, middle: Any, error: str
) -> None:
    canary.handler.set_client(_ScriptedClient([_ok(ANSWERS[0]), middle, _ok(ANSWERS[2])]))

    summary = canary.run()

    record = _assert_one_failure(canary, summary, "InvokeError")
    assert record["error"] == error


def test_an_answer_that_cannot_be_scored_is_one_failure(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    real = canary.scoring.bleu

    def flaky(reference: str, candidate: str) -> float:
        if candidate == ANSWERS[1]:
            raise RecursionError("maximum recursion depth exceeded")
        return real(reference, candidate)

    monkeypatch.setattr(canary.scoring, "bleu", flaky)
    canary.stub_answers()

    summary = canary.run()

    record = _assert_one_failure(canary, summary, "MalformedResponse")
    assert record["error"] == "RecursionError"


_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "a\udfffb", "[" * 100_000, "9" * 5000, "\x00", '{"answer": "\\ud800"}']),
)
_HOSTILE_BODY = st.one_of(
    _HOSTILE_TEXT,
    st.builds(lambda text: json.dumps({"answer": text, "model_id": MODEL_A, "prompt_version": "v1"}), _HOSTILE_TEXT),
)


def _raw(text: str) -> StreamingBody:
    """A payload of ``text``'s bytes, lone surrogates included (as invalid UTF-8)."""
    return payload(text.encode("utf-8", "surrogatepass"))


_HOSTILE_OUTCOME = st.one_of(
    st.builds(lambda raw: {"StatusCode": 200, "Payload": _raw(raw)}, _HOSTILE_TEXT),
    st.builds(
        lambda body, status, b64: {
            "StatusCode": 200,
            "Payload": _raw(json.dumps({"statusCode": status, "body": body, "isBase64Encoded": b64})),
        },
        _HOSTILE_BODY,
        st.one_of(st.just(200), st.integers(min_value=-(10**30), max_value=10**30)),
        st.booleans(),
    ),
    st.builds(lambda raw: {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _raw(raw)}, _HOSTILE_TEXT),
    st.sampled_from([RuntimeError("boom"), ValueError("bad"), OSError(5, "EIO"), KeyError("Payload")]),
    st.just({"StatusCode": 200}),
    st.just({"StatusCode": 200, "Payload": _Unreadable()}),
)


@given(bad=_HOSTILE_OUTCOME, position=st.integers(min_value=0, max_value=2))
@settings(max_examples=150, deadline=None, database=None)
def test_property_one_bad_answer_never_stops_the_run(modules: SimpleNamespace, bad: Any, position: int) -> None:
    """Whatever one Invoke returns or raises, the other questions are scored and every count is published."""
    handler = modules.handler
    outcomes: list[Any] = [_ok(ANSWERS[0]), _ok(ANSWERS[1]), _ok(ANSWERS[2])]
    outcomes[position] = bad
    config = handler.CanaryConfig(TARGET, tuple(handler.GoldenQuestion(**item) for item in GOLDEN))
    stream = io.StringIO()
    original = handler.logger.registered_handler.stream
    handler.logger.registered_handler.stream = stream
    try:
        run = handler.run_canary(config, _ScriptedClient(outcomes), RUN_ID)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            handler.publish(run)
    finally:
        handler.logger.registered_handler.stream = original
    assert run.asked == 3 and len(run.scored) >= 2
    assert set(run.failures) <= set(modules.telemetry.FAILURE_REASONS)
    blobs = [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]
    (overall,) = [blob for blob in blobs if set(blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == {"service"}]
    failures = overall["CanaryFailures"]
    assert (failures if isinstance(failures, list) else [failures]) == [3 - len(run.scored)]
    json.dumps(run.summary())
