"""Fixtures for the Lambda function tests (most of them for the RAG function).

The RAG function folder and ``functions/_shared`` are put on ``sys.path`` and their modules are imported
as top-level modules, exactly as Lambda does; the runtime layer's package ``llm_observability_runtime`` is
``llm_observability/runtime`` under that name (``use_runtime_layer``), one module for both names, so the
handler and the runtime tests share one hook and one recorder.  Bedrock, SSM and Prompt
Management calls go to real boto3 clients wrapped in ``botocore.stub.Stubber``
(no network; the stubber validates requests and responses against the service
models); EMF and log lines
are read back from captured stdout; spans from the OpenTelemetry SDK's in-memory exporter, set once per session
(``tests.runtime.tracing_sdk``).
"""

from __future__ import annotations

import base64
import datetime
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.conftest import OFFLINE_AWS_ENV
from tests.fakes import CurrentStdout
from tests.runtime.tracing_sdk import OtelSdk, otel_sdk

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "llm_observability" / "functions"
FUNCTION_DIR = FUNCTIONS_DIR / "rag_api"
# Shared Lambda modules are copied beside each handler that uses them at synth time; here the shared folder
# itself is on sys.path, so a handler loaded by file path imports them as siblings (``import cfn_response``).
SHARED_DIR = FUNCTIONS_DIR / "_shared"
for _folder in (FUNCTION_DIR, SHARED_DIR):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
RUNTIME_PACKAGE = "llm_observability_runtime"  # the package's name in the layer (python/llm_observability_runtime)


def use_runtime_layer() -> Any:
    """Make ``import llm_observability_runtime`` give ``llm_observability.runtime``, as the layer gives it in Lambda.

    The same module object under both names (not a second copy from another path): the boto3 hook and the
    recorder the handler uses are the ones the runtime tests reset. The staged layer itself is imported by the
    asset test (``tests/functions/test_assets.py``).
    """
    runtime = importlib.import_module("llm_observability.runtime")
    sys.modules.setdefault(RUNTIME_PACKAGE, runtime)
    assert sys.modules[RUNTIME_PACKAGE] is runtime, f"another {RUNTIME_PACKAGE} was imported first"
    return runtime


use_runtime_layer()


def rag_module(name: str) -> Any:
    """The RAG function's module ``name`` (``handler``, ``pipeline``), imported as Lambda imports it: its folder
    first on ``sys.path``, whatever other function folders a test left there (they have a ``handler`` too)."""
    for folder in (SHARED_DIR, FUNCTION_DIR):
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        sys.path.insert(0, str(folder))
    module = importlib.import_module(name)
    assert Path(module.__file__).parent == FUNCTION_DIR, f"{name} is {module.__file__}, not the RAG function's"
    return module

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
KNOWLEDGE_BASE_ID = "KB12345678"
SERVICE = "rag-api-test"
NAMESPACE = "RagApiTest"
PRICE = {"input_per_1k": 0.25, "output_per_1k": 1.25}

# Read at import of ``handler`` or by boto3; kept for the whole test module.
PROCESS_ENV = {
    **OFFLINE_AWS_ENV,
    "POWERTOOLS_SERVICE_NAME": SERVICE,
    "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
PROCESS_ENV_UNSET = (
    "POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED", "AWS_PROFILE", "AWS_ENDPOINT_URL",
    # the runtime's own settings: LlmInstrumentation sets them alike; the handler passes its own to instrument()
    "LLMOBS_SERVICE_NAME", "LLMOBS_NAMESPACE", "LLMOBS_PROMPT_LOGGING", "LLMOBS_PRICES",
)  # fmt: skip

FUNCTION_ENV_NAMES = (
    "MODEL_ID",
    "KNOWLEDGE_BASE_ID",
    "RETRIEVAL_TOP_K",
    "PROMPT_LOGGING",
    "PRICE_TABLE",
    "PROMPT_TEMPLATE_VERSION",
    "RETRIEVAL_CACHE_TTL_SECONDS",
    "RETRIEVAL_CACHE_MAX_ENTRIES",
    "MAX_QUESTION_CHARS",
    "INSTRUMENTATION",
    "GUARDRAIL_ID",
    "GUARDRAIL_VERSION",
    "PROMPT_PARAMETER_NAME",
    "PROMPT_CACHE_TTL_SECONDS",
    "MODEL_PARAMETER_NAME",
    "MODEL_CACHE_TTL_SECONDS",
)


@dataclass(frozen=True)
class EmfMetric:
    """One metric of one EMF blob."""

    name: str
    unit: str
    dimensions: tuple[str, ...]
    dimension_values: dict[str, str]
    values: list[float]
    namespace: str


@dataclass
class Output:
    """Stdout of one or more invocations, split into EMF blobs and log records."""

    lines: list[dict[str, Any]]
    raw: str

    @property
    def emf(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "_aws" in line]

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "level" in line and "_aws" not in line]

    def log(self, message: str) -> dict[str, Any]:
        """The single log record with ``message``."""
        matches = [record for record in self.logs if record.get("message") == message]
        assert len(matches) == 1, f"expected one {message!r} log record, got {len(matches)}: {self.logs}"
        return matches[0]

    @property
    def metrics(self) -> list[EmfMetric]:
        found = []
        for blob in self.emf:
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                assert len(directive["Dimensions"]) == 1
                dimensions = tuple(directive["Dimensions"][0])
                for definition in directive["Metrics"]:
                    value = blob[definition["Name"]]
                    found.append(
                        EmfMetric(
                            name=definition["Name"],
                            unit=definition["Unit"],
                            dimensions=dimensions,
                            dimension_values={name: blob[name] for name in dimensions},
                            values=value if isinstance(value, list) else [value],
                            namespace=directive["Namespace"],
                        )
                    )
        return found

    def metric(self, name: str) -> list[EmfMetric]:
        return [metric for metric in self.metrics if metric.name == name]

    def only(self, name: str) -> EmfMetric:
        """The single occurrence of metric ``name``."""
        matches = self.metric(name)
        assert len(matches) == 1, f"expected one {name}, got {matches}"
        return matches[0]


@dataclass
class LambdaContext:
    function_name: str = "rag-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:rag-api"
    aws_request_id: str = "lambda-request-id-0001"


def api_event(
    path: str = "/ask",
    body: Any = None,
    *,
    method: str = "POST",
    raw_body: str | None = None,
    base64_encoded: bool = False,
    request_id: str | None = "api-request-id-0001",
) -> dict[str, Any]:
    """An API Gateway REST (Lambda proxy) event."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if base64_encoded and text is not None:
        text = base64.b64encode(text.encode()).decode()
    event: dict[str, Any] = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "body": text,
        "isBase64Encoded": base64_encoded,
        "requestContext": {"resourcePath": path, "httpMethod": method, "stage": "prod"},
    }
    if request_id is not None:
        event["requestContext"]["requestId"] = request_id
    return event


def retrieve_response(*passages: tuple[str, str, float]) -> dict[str, Any]:
    """A Knowledge Base Retrieve response with (text, uri, score) passages."""
    return {
        "retrievalResults": [
            {
                "content": {"text": text, "type": "TEXT"},
                "location": {"type": "S3", "s3Location": {"uri": uri}},
                "score": score,
            }
            for text, uri, score in passages
        ]
    }


def converse_response(text: str, input_tokens: int = 1200, output_tokens: int = 80, latency_ms: int = 840) -> dict:
    """A Bedrock Converse response."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": latency_ms},
    }


def parameter_response(name: str, value: str, version: int = 1) -> dict[str, Any]:
    """An SSM GetParameter response for a String parameter."""
    return {
        "Parameter": {
            "Name": name,
            "Type": "String",
            "Value": value,
            "Version": version,
            "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter{name if name.startswith('/') else '/' + name}",
            "DataType": "text",
        }
    }


def prompt_response(
    prompt_id: str,
    version: str,
    text: str,
    *,
    template_type: str = "TEXT",
    variants: list[dict[str, Any]] | None = None,
    default_variant: str | None = "default",
) -> dict[str, Any]:
    """A Prompt Management GetPrompt response for one prompt version."""
    arn = f"arn:aws:bedrock:us-east-1:123456789012:prompt/{prompt_id}"
    if variants is None:
        configuration: dict[str, Any] = (
            {"text": {"text": text, "inputVariables": [{"name": "question"}, {"name": "passages"}]}}
            if template_type == "TEXT"
            else {"chat": {"messages": [{"role": "user", "content": [{"text": text}]}]}}
        )
        variants = [{"name": "default", "templateType": template_type, "templateConfiguration": configuration}]
    response: dict[str, Any] = {
        "name": "rag-prompt",
        "id": prompt_id,
        "arn": f"{arn}:{version}",
        "version": version,
        "variants": variants,
        "createdAt": datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
        "updatedAt": datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    }
    if default_variant is not None:
        response["defaultVariant"] = default_variant
    return response


DEFAULT_PASSAGES = (
    ("Refunds are issued within 30 days of purchase when the item is unused. " * 5, "s3://docs/refunds.md", 0.82),
    ("Shipping is free for orders above 50 EUR.", "s3://docs/shipping.md", 0.41),
)


@dataclass
class Api:
    """Invokes the handler and exposes stubs, captured output and finished spans."""

    handler: Any
    pipeline: Any
    agent: Stubber
    runtime: Stubber
    agent_client: Any
    runtime_client: Any
    tracing: OtelSdk  # the session's OpenTelemetry SDK: finished spans of this test
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    ssm: Stubber
    prompts: Stubber  # bedrock-agent (Prompt Management)
    ssm_client: Any
    prompts_client: Any
    context: LambdaContext = field(default_factory=LambdaContext)

    # Shared test data, reachable from tests through the fixture.
    model_id = MODEL_ID
    knowledge_base_id = KNOWLEDGE_BASE_ID
    service = SERVICE
    namespace = NAMESPACE
    price = PRICE
    default_passages = DEFAULT_PASSAGES
    event = staticmethod(api_event)
    retrieve_response = staticmethod(retrieve_response)
    converse_response = staticmethod(converse_response)
    parameter_response = staticmethod(parameter_response)
    prompt_response = staticmethod(prompt_response)

    def env(self, **values: str | None) -> None:
        """Change function environment variables (None unsets) as for a new container."""
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        self.reset()

    def reset(self) -> None:
        """Simulate a new container: fresh settings, cache and metrics, stubbed clients."""
        self.handler.reset_state()
        self.pipeline.set_clients(
            agent_runtime=self.agent_client,
            bedrock_runtime=self.runtime_client,
            ssm=self.ssm_client,
            agent=self.prompts_client,
        )

    def invoke(self, event: Any) -> dict[str, Any]:
        return self.handler.lambda_handler(event, self.context)

    def ask(self, body: Any = None, **event: Any) -> dict[str, Any]:
        return self.invoke(api_event("/ask", body, **event))

    def feedback(self, body: Any = None, **event: Any) -> dict[str, Any]:
        return self.invoke(api_event("/feedback", body, **event))

    def stub_retrieve(
        self,
        response: dict[str, Any] | None = None,
        question: str | None = None,
        top_k: int = 4,
    ) -> None:
        expected = None
        if question is not None:
            expected = {
                "knowledgeBaseId": KNOWLEDGE_BASE_ID,
                "retrievalQuery": {"text": question},
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": top_k}},
            }
        self.agent.add_response("retrieve", response or retrieve_response(*DEFAULT_PASSAGES), expected)

    def stub_converse(self, response: dict[str, Any] | None = None, expected: dict[str, Any] | None = None) -> None:
        self.runtime.add_response("converse", response or converse_response("Refunds take 30 days [1]."), expected)

    def output(self) -> Output:
        raw = self.capsys.readouterr().out
        lines = [json.loads(line) for line in raw.splitlines() if line.startswith("{")]
        return Output(lines, raw)


@pytest.fixture(scope="module")
def process_env() -> Iterator[None]:
    """AWS dummy credentials/region and Powertools settings for this test module only."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in PROCESS_ENV.items():
            patch.setenv(name, value)
        for name in PROCESS_ENV_UNSET:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def bedrock_clients(process_env: None) -> tuple[Any, Any]:
    """Real boto3 clients (region us-east-1, dummy credentials), built once per module."""
    pipeline = rag_module("pipeline")

    return (
        boto3.client(
            "bedrock-agent-runtime", region_name="us-east-1", config=pipeline.CLIENT_CONFIGS["bedrock-agent-runtime"]
        ),
        boto3.client("bedrock-runtime", region_name="us-east-1", config=pipeline.CLIENT_CONFIGS["bedrock-runtime"]),
    )


@pytest.fixture(scope="module")
def lookup_clients(process_env: None) -> tuple[Any, Any]:
    """Real ssm and bedrock-agent clients for the managed-configuration lookups, built once per module."""
    pipeline = rag_module("pipeline")

    return (
        boto3.client("ssm", region_name="us-east-1", config=pipeline.CLIENT_CONFIGS["ssm"]),
        boto3.client("bedrock-agent", region_name="us-east-1", config=pipeline.CLIENT_CONFIGS["bedrock-agent"]),
    )


@pytest.fixture
def api(
    process_env: None,
    bedrock_clients: tuple[Any, Any],
    lookup_clients: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Api]:
    """A freshly reset handler with stubbed AWS clients; its spans in ``tracing`` (cleared)."""
    handler = rag_module("handler")
    pipeline = rag_module("pipeline")

    for name in FUNCTION_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_ID", MODEL_ID)
    monkeypatch.setenv("KNOWLEDGE_BASE_ID", KNOWLEDGE_BASE_ID)
    monkeypatch.setenv("PRICE_TABLE", json.dumps({MODEL_ID: PRICE}))

    monkeypatch.setattr(handler.logger.registered_handler, "stream", CurrentStdout())
    tracing = otel_sdk()
    tracing.clear()

    agent_client, runtime_client = bedrock_clients
    ssm_client, prompts_client = lookup_clients
    with (
        Stubber(agent_client) as agent,
        Stubber(runtime_client) as runtime,
        Stubber(ssm_client) as ssm,
        Stubber(prompts_client) as prompts,
    ):
        harness = Api(
            handler, pipeline, agent, runtime, agent_client, runtime_client, tracing, monkeypatch, capsys,
            ssm, prompts, ssm_client, prompts_client,
        )  # fmt: skip
        harness.reset()
        yield harness
        agent.assert_no_pending_responses()
        runtime.assert_no_pending_responses()
        ssm.assert_no_pending_responses()
        prompts.assert_no_pending_responses()
    handler.reset_state()
