"""Zero-code use: an unmodified handler started the way Lambda starts it, through the exec wrapper of the layer.

The layer is staged exactly as the construct ships it. A subprocess runs ``$AWS_LAMBDA_EXEC_WRAPPER
bootstrap``; the bootstrap starts the AWS Lambda Runtime Interface Client (``awslambdaric``, what
Lambda's Python runtimes run) on ``$_HANDLER``. It polls a local stub of the Lambda Runtime API for
invocations and posts their results back; the handler's boto3 client talks to a local stub of Bedrock
(``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``). Everything listens on 127.0.0.1, and every wait is bounded.

The end-to-end start test chains all three exec wrappers the way ``LlmInstrumentation(zero_code=True,
tracing=True, codeguru_profiling=True)`` sets them: ours, then a stand-in for the CodeGuru Profiler agent's
``/opt/codeguru_profiler_lambda_exec`` (its script's steps, a module loading the handler as the agent does),
then a stand-in for the ADOT layer's ``/opt/otel-instrument`` (its script's settings and its ``otel_wrapper``,
with the PyPI ``aws-opentelemetry-distro``'s ``opentelemetry-instrument`` as the layer's). The spans leave the
way ADOT sends them in Lambda: OTLP over UDP to ``AWS_XRAY_DAEMON_ADDRESS``, a local listener here.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llm_observability.constructs.instrumentation import stage_layer
from tests.conftest import OFFLINE_AWS_ENV

assert importlib.util.find_spec("awslambdaric"), "the dev extra installs the AWS Lambda Runtime Interface Client"

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
WAIT_SECONDS = 60
UNSAMPLED = "Root=1-00000000-000000000000000000000000;Sampled=0"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:their-fn"
USER_HANDLER = """\
import json

import boto3
from botocore.config import Config

client = boto3.client("bedrock-runtime", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def handler(event, context):
    out = client.converse(
        modelId="MODEL_ID", messages=[{"role": "user", "content": [{"text": event["q"]}]}]
    )
    return {"statusCode": 200, "body": out["output"]["message"]["content"][0]["text"]}
""".replace("MODEL_ID", MODEL_ID)
# What AWS's OpenTelemetry layer does in /opt/otel-instrument: keep _HANDLER as its original, put its own in front.
FAKE_OTEL_WRAPPER = """\
#!/bin/sh
export ORIG_HANDLER="$_HANDLER"
export _HANDLER="fake_otel.handler"
exec "$@"
"""
FAKE_OTEL_HANDLER = """\
import importlib, json, os

_module, _function = os.environ["ORIG_HANDLER"].rsplit(".", 1)
_original = getattr(importlib.import_module(_module), _function)


def handler(event, context):
    print(json.dumps({"message": "fake-otel", "wrapped": os.environ["ORIG_HANDLER"]}), flush=True)
    return _original(event, context)
"""
BOOTSTRAP = """\
#!/bin/sh
exec "$LLMOBS_TEST_PYTHON" -m awslambdaric "$_HANDLER"
"""
# aws/amazon-codeguru-profiler-python-agent, codeguru_profiler_lambda_exec (the layer's /opt script), step for step.
CODEGURU_EXEC = """\
#!/bin/bash
export HANDLER_ENV_NAME_FOR_CODEGURU=$_HANDLER
export _HANDLER="codeguru_profiler_agent.aws_lambda.lambda_handler.call_handler"
exec "$@"
"""
# The agent's codeguru_profiler_agent/aws_lambda/lambda_handler.py: load the original handler with the runtime
# interface client's own loader at import, restore _HANDLER, call it from call_handler (which the agent decorates
# with with_lambda_profiler(); the stand-in reports instead of profiling).
CODEGURU_HANDLER = """\
import json, os

from awslambdaric.bootstrap import _get_handler

_original = os.environ["HANDLER_ENV_NAME_FOR_CODEGURU"]
handler_function = _get_handler(_original)
os.environ["_HANDLER"] = _original


def call_handler(event, context):
    print(json.dumps({"message": "codeguru-profiler", "wrapped": _original}), flush=True)
    return handler_function(event, context)
"""
# aws-observability/aws-otel-python-instrumentation, lambda-layer/src/otel-instrument: the same settings in the same
# order (the fast-start branch left out: it is off unless asked). The layer's /opt/python is LLMOBS_TEST_OTEL_PYTHON,
# and its bin/opentelemetry-instrument the PyPI distribution's.
OTEL_INSTRUMENT = """\
#!/bin/bash
set -ef -o pipefail
export LAMBDA_LAYER_PKGS_DIR="$LLMOBS_TEST_OTEL_PYTHON";
export PYTHONPATH="$LAMBDA_LAYER_PKGS_DIR:$PYTHONPATH";
export PYTHONPATH="$LAMBDA_RUNTIME_DIR:$PYTHONPATH";
if [ -z "${OTEL_SERVICE_NAME}" ]; then
    export OTEL_SERVICE_NAME=$AWS_LAMBDA_FUNCTION_NAME;
fi
export LAMBDA_RESOURCE_ATTRIBUTES="cloud.region=$AWS_REGION,cloud.platform=aws_lambda,cloud.provider=aws,\
faas.name=$AWS_LAMBDA_FUNCTION_NAME,faas.version=$AWS_LAMBDA_FUNCTION_VERSION,faas.instance=$AWS_LAMBDA_LOG_STREAM_NAME,\
aws.log.group.names=$AWS_LAMBDA_LOG_GROUP_NAME";
if [ -z ${OTEL_PROPAGATORS} ]; then
    export OTEL_PROPAGATORS="baggage,xray,tracecontext"
fi
export OTEL_AWS_APPLICATION_SIGNALS_RUNTIME_ENABLED="false";
if [ -z "${OTEL_METRICS_EXPORTER}" ]; then
    export OTEL_METRICS_EXPORTER="none";
fi
if [ -z "${OTEL_LOGS_EXPORTER}" ]; then
    export OTEL_LOGS_EXPORTER="none";
fi
if [ -z "${OTEL_AWS_APPLICATION_SIGNALS_ENABLED}" ]; then
    export OTEL_AWS_APPLICATION_SIGNALS_ENABLED="true";
fi
if [ "${OTEL_AWS_APPLICATION_SIGNALS_ENABLED}" = "true" ]; then
    export OTEL_PYTHON_DISTRO="aws_distro";
    export OTEL_PYTHON_CONFIGURATOR="aws_configurator";
fi
if [ -z "${OTEL_RESOURCE_ATTRIBUTES}" ]; then
    export OTEL_RESOURCE_ATTRIBUTES=$LAMBDA_RESOURCE_ATTRIBUTES;
else
    export OTEL_RESOURCE_ATTRIBUTES="$LAMBDA_RESOURCE_ATTRIBUTES,$OTEL_RESOURCE_ATTRIBUTES";
fi
if [ -z ${OTEL_PYTHON_DISABLED_INSTRUMENTATIONS} ]; then
    export OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="aio-pika,aiohttp-client,aiohttp-server,aiopg,asgi,asyncio,asyncpg,\
boto,boto3,cassandra,celery,confluent_kafka,dbapi,django,falcon,fastapi,flask,grpc_client,grpc_server,grpc_aio_client,\
grpc_aio_server,httpx,jinja2,kafka,logging,mysql,mysqlclient,pika,psycopg,psycopg2,pymemcache,pymongo,pymysql,pyramid,\
redis,remoulade,requests,sklearn,sqlalchemy,sqlite3,starlette,system_metrics,threading,tornado,tortoiseorm,wsgi,\
openai_agents,aws_openai_agents,aws_crewai,aws_langchain,aws_mcp,aws_llama-index"
fi
export OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="$OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,aws-lambda";
export ORIG_HANDLER=$_HANDLER;
export _HANDLER="otel_wrapper.lambda_handler";
exec "$LLMOBS_TEST_PYTHON" "$LLMOBS_TEST_OTEL_INSTRUMENT" "$@"
"""
# The layer's lambda-layer/src/otel_wrapper.py: instrument the handler ORIG_HANDLER names with AwsLambdaInstrumentor,
# whose parent is the event's headers with X-Amzn-Trace-Id replaced by Lambda's own (_X_AMZN_TRACE_ID).
OTEL_WRAPPER = """\
import os
from importlib import import_module

from opentelemetry.context import Context
from opentelemetry.instrumentation.aws_lambda import _X_AMZN_TRACE_ID, AwsLambdaInstrumentor
from opentelemetry.propagate import get_global_textmap
from opentelemetry.propagators.aws.aws_xray_propagator import TRACE_HEADER_KEY
from opentelemetry.trace import get_current_span


def custom_event_context_extractor(lambda_event):
    xray_env_var = os.environ.get(_X_AMZN_TRACE_ID)
    try:
        headers = lambda_event["headers"]
    except (TypeError, KeyError):
        headers = None
    headers = headers.copy() if isinstance(headers, dict) else {}
    if xray_env_var:
        headers = {k: v for k, v in headers.items() if k.lower() != TRACE_HEADER_KEY.lower()}
        headers[TRACE_HEADER_KEY] = xray_env_var
    extracted_context = get_global_textmap().extract(headers)
    if get_current_span(extracted_context).get_span_context():
        return extracted_context
    return Context()


AwsLambdaInstrumentor().instrument(event_context_extractor=custom_event_context_extractor)
mod_name, handler_name = os.environ["ORIG_HANDLER"].rsplit(".", 1)
lambda_handler = getattr(import_module(".".join(mod_name.split("/"))), handler_name)
"""


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the test's stderr."""

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class RuntimeApi:
    """The Lambda Runtime API: hands out ``events`` one by one and records each invocation's result.

    ``trace_header``: Lambda's ``Lambda-Runtime-Trace-Id`` for every invocation. Default: an unsampled trace.
    """

    def __init__(self, events: list[tuple[str, dict[str, Any]]], trace_header: str = UNSAMPLED) -> None:
        self.events = list(events)
        self.results: dict[str, tuple[str, Any]] = {}
        self.finished = threading.Event()
        self.stopping = threading.Event()
        self._expected = len(events)
        api = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b"{}")
                if not api.events:
                    api.stopping.wait(WAIT_SECONDS)  # no more work: hold the poll until the test ends
                    return self.reply(500, b"{}")
                request_id, event = api.events.pop(0)
                self.reply(
                    200,
                    json.dumps(event).encode(),
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": "9999999999999",
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                        "Lambda-Runtime-Trace-Id": trace_header,
                    },
                )

            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                body = json.loads(self.body() or b"null")
                if parts[-2:] == ["init", "error"]:
                    api.results["init"] = ("error", body)
                    api.finished.set()
                else:
                    api.results[parts[-2]] = (parts[-1], body)
                    if len(api.results) == api._expected:
                        api.finished.set()
                self.reply(202, b"{}")

        self.handler = Handler


class BedrockStub:
    """Bedrock's Converse: answers each request with the next queued (status, document)."""

    def __init__(self, replies: list[tuple[int, dict[str, Any]]]) -> None:
        stub = self
        self.replies = list(replies)

        class Handler(_Quiet):
            def do_POST(self) -> None:
                self.body()
                status, document = stub.replies.pop(0)
                headers = {"x-amzn-RequestId": "bedrock-req"}
                if status >= 400:
                    headers["x-amzn-ErrorType"] = f"{document['__type']}:"
                self.reply(status, json.dumps(document).encode(), headers)

        self.handler = Handler


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def layer() -> Path:
    return stage_layer()


def _task(tmp_path: Path, *, with_otel: bool) -> tuple[Path, dict[str, str]]:
    """The function's code folder (``/var/task``), its bootstrap and environment."""
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(USER_HANDLER)
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text(BOOTSTRAP)
    bootstrap.chmod(0o755)
    env = {"LLMOBS_NEXT_WRAPPER": ""}
    if with_otel:
        (task / "fake_otel.py").write_text(FAKE_OTEL_HANDLER)
        otel = tmp_path / "otel-instrument"
        otel.write_text(FAKE_OTEL_WRAPPER)
        otel.chmod(0o755)
        env["LLMOBS_NEXT_WRAPPER"] = str(otel)
    return task, env


def run_function(
    tmp_path: Path,
    layer: Path,
    events: list[tuple[str, dict[str, Any]]],
    replies: list[tuple[int, dict[str, Any]]],
    *,
    with_otel: bool = False,
    env: dict[str, str] | None = None,
    trace_header: str = UNSAMPLED,
) -> tuple[dict[str, tuple[str, Any]], list[dict[str, Any]], str]:
    """Start the function through the layer's exec wrapper; return the results, its JSON lines and its stderr.

    ``env``: the function's variables over the defaults here. ``trace_header``: see :class:`RuntimeApi`.
    """
    task, extra_env = _task(tmp_path, with_otel=with_otel)
    runtime_api, bedrock = RuntimeApi(events, trace_header), BedrockStub(replies)
    function_env = env
    with serving(runtime_api.handler) as api_address, serving(bedrock.handler) as bedrock_address:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **OFFLINE_AWS_ENV,
            **extra_env,
            "_HANDLER": "app.handler",
            "AWS_LAMBDA_EXEC_WRAPPER": str(layer / "llmobs-instrument"),
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://{bedrock_address}",
            "AWS_LAMBDA_FUNCTION_NAME": "their-fn",
            "LAMBDA_TASK_ROOT": str(task),
            "PYTHONPATH": f"{task}{os.pathsep}{layer / 'python'}",  # /var/task and /opt/python
            "LLMOBS_SERVICE_NAME": "their-bot",
            "LLMOBS_PROMPT_LOGGING": "redacted",
            "LLMOBS_PRICES": json.dumps({MODEL_ID: {"input_per_1k": 0.25, "output_per_1k": 1.25}}),
            "LLMOBS_TEST_PYTHON": sys.executable,
            "PYTHONDONTWRITEBYTECODE": "1",  # the staged layer is shared by every synth: keep it as staged
            **(function_env or {}),
        }
        process = subprocess.Popen(
            [env["AWS_LAMBDA_EXEC_WRAPPER"], str(tmp_path / "bootstrap")],
            cwd=task,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            finished = runtime_api.finished.wait(WAIT_SECONDS)
        finally:
            runtime_api.stopping.set()
            process.kill()
            stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert finished, f"the function did not finish its invocations:\n{stdout}\n{stderr}"
    lines = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return runtime_api.results, lines, stderr


def _values(lines: list[dict[str, Any]], name: str, **dims: str) -> list[float]:
    wanted = {"service": "their-bot", **dims}
    found: list[float] = []
    for blob in (line for line in lines if "_aws" in line):
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        (names,) = directive["Dimensions"]
        if {n: blob[n] for n in names} == wanted and name in blob:
            found.extend(blob[name] if isinstance(blob[name], list) else [blob[name]])
    return found


CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hi Jane."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
    "metrics": {"latencyMs": 90},
}
THROTTLED = {"__type": "ThrottlingException", "message": "Too many requests"}


@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
def test_an_unmodified_handler_runs_instrumented_through_the_exec_wrapper(tmp_path: Path, layer: Path) -> None:
    results, lines, _ = run_function(
        tmp_path,
        layer,
        [("inv-1", {"q": "Hello, I am jane@example.com"}), ("inv-2", {"q": "again"})],
        [(200, CONVERSE_OK), (429, THROTTLED)],
    )
    assert results["inv-1"] == ("response", {"statusCode": 200, "body": "Hi Jane."})
    kind, error = results["inv-2"]
    assert kind == "error" and error["errorType"] == "ThrottlingException"  # the user's exception, unchanged

    calls = [line for line in lines if line.get("message") == "bedrock_call"]
    assert [(c["correlation_id"], c["outcome"], c["error_class"]) for c in calls] == [
        ("inv-1", "success", None),
        ("inv-2", "failure", "Throttling"),
    ]
    assert calls[0]["question"] == "Hello, I am [EMAIL]" and calls[0]["service"] == "their-bot"
    assert _values(lines, "RequestSuccess") == [1]
    assert _values(lines, "RequestFailure") == [1]  # counted once, by the invocation, not by call and handler
    assert len(_values(lines, "EndToEndLatency")) == 2
    assert _values(lines, "InputTokens", ModelId=MODEL_ID) == [12]
    assert calls[0]["estimated_cost_usd"] == pytest.approx(12 / 1000 * 0.25 + 3 / 1000 * 1.25)  # LLMOBS_PRICES
    assert all(
        blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LLMObservability" for blob in lines if "_aws" in blob
    )


@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
def test_the_exec_wrapper_chains_with_the_next_wrapper(tmp_path: Path, layer: Path) -> None:
    results, lines, _ = run_function(tmp_path, layer, [("inv-1", {"q": "hi"})], [(200, CONVERSE_OK)], with_otel=True)
    assert results["inv-1"] == ("response", {"statusCode": 200, "body": "Hi Jane."})
    messages = [line.get("message") for line in lines if "_aws" not in line]
    assert messages[:2] == ["fake-otel", "bedrock_call"]  # OpenTelemetry's handler -> ours -> the user's
    assert lines[0]["wrapped"] == "llm_observability_runtime.wrapper.handler"
    assert _values(lines, "RequestSuccess") == [1]


def test_the_exec_wrapper_sets_the_handler_and_skips_a_missing_next_wrapper(layer: Path) -> None:
    run = subprocess.run(
        [str(layer / "llmobs-instrument"), "/usr/bin/env"],
        env={
            "PATH": "/usr/bin:/bin",
            "_HANDLER": "src/app.handler",
            "LLMOBS_NEXT_WRAPPER": "/nonexistent/otel-instrument",
        },
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=True,
    )
    env = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
    assert env["_HANDLER"] == "llm_observability_runtime.wrapper.handler"
    assert env["LLMOBS_ORIGINAL_HANDLER"] == "src/app.handler" and "LLMOBS_NEXT_WRAPPER" not in env
    assert "is not an executable file" in run.stderr


# --- the end-to-end start: ours -> CodeGuru's -> OpenTelemetry's wrapper, spans over UDP as ADOT sends them in Lambda
TRACE_ROOT = "1-6740e1a2-5f1d3b7c9a0e4d2f8b6c1a3e"
GEN_AI_ATTRIBUTES = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.response.finish_reasons",
)
API_GATEWAY_SEGMENT = "aa11bb22cc33dd44"
LAMBDA_SEGMENT = "53995c3f42cd8ad8"  # the function's segment: what Lambda's trace header names as the parent
API_EVENT = {
    "resource": "/ask",
    "path": "/ask",
    "httpMethod": "POST",
    "headers": {"Host": "api.example.com", "X-Amzn-Trace-Id": f"Root={TRACE_ROOT};Parent={API_GATEWAY_SEGMENT};Sampled=1"},
    "requestContext": {"resourcePath": "/ask", "httpMethod": "POST", "stage": "v1", "requestId": "api-req-1"},
    "q": "Hello, I am jane@example.com",
}


class UdpListener:
    """Lambda's X-Ray endpoint (``AWS_XRAY_DAEMON_ADDRESS``) as ADOT's OTLPUdpSpanExporter uses it: each datagram is
    the X-Ray daemon header line, then ``T1S`` (sampled spans) and a base64 OTLP ``ExportTraceServiceRequest``."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.socket.recv(65535))
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT_SECONDS)
        self.socket.close()

    def spans(self, expected: int) -> list[dict[str, Any]]:
        """The spans received, decoded: once ``expected`` arrived (a bounded wait) and nothing more for a moment."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self._decoded()) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything sent with them is in the socket's buffer already: let the thread take it
        return self._decoded()

    def _decoded(self) -> list[dict[str, Any]]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        spans = []
        for datagram in list(self.datagrams):
            header, _, payload = datagram.decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1} and payload.startswith("T1S"), datagram
            request = ExportTraceServiceRequest.FromString(base64.b64decode(payload.removeprefix("T1S")))
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    spans += [
                        {
                            "name": span.name,
                            "kind": span.kind,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "scope": scope_spans.scope.name,
                            "attributes": {a.key: _any_value(a.value) for a in span.attributes},
                            "service": resource.get("service.name"),
                        }
                        for span in scope_spans.spans
                    ]
        return spans


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@pytest.fixture(scope="module")
def chained_environment() -> dict[str, str]:
    """The variables ``LlmInstrumentation(zero_code=True, tracing=True, codeguru_profiling=True)`` gives a function
    (literal ones; the profiling group's name is a token and the stand-in agent posts nothing)."""
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.instrumentation import LlmInstrumentation, environment_of

    stack = Stack(App(), "Theirs", env=Environment(account="123456789012", region="us-east-1"))
    fn = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="app.handler", code=lambda_.Code.from_inline("x")
    )
    LlmInstrumentation(
        stack, "Llmobs", functions=[fn], service_name="their-bot", zero_code=True, tracing=True, codeguru_profiling=True
    )
    return {k: v for k, v in environment_of(fn).items() if isinstance(v, str)}


def _opt(tmp_path: Path, layer: Path, environment: dict[str, str]) -> dict[str, str]:
    """``/opt`` of the function: our layer (as staged), the CodeGuru and ADOT stand-ins; the function's variables with
    their ``/opt/...`` wrapper paths pointing there."""
    opt = tmp_path / "opt"
    python = opt / "python"
    (python / "codeguru_profiler_agent" / "aws_lambda").mkdir(parents=True)
    for package in ("codeguru_profiler_agent", "codeguru_profiler_agent/aws_lambda"):
        (python / package / "__init__.py").write_text("")
    (python / "codeguru_profiler_agent" / "aws_lambda" / "lambda_handler.py").write_text(CODEGURU_HANDLER)
    (python / "otel_wrapper.py").write_text(OTEL_WRAPPER)
    for name, text in (("codeguru_profiler_lambda_exec", CODEGURU_EXEC), ("otel-instrument", OTEL_INSTRUMENT)):
        (opt / name).write_text(text)
        (opt / name).chmod(0o755)
    (opt / "llmobs-instrument").symlink_to(layer / "llmobs-instrument")
    env = {k: v.replace("/opt/", f"{opt}/") for k, v in environment.items() if k != "_HANDLER"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "task"), str(layer / "python"), str(python)])
    env["LLMOBS_TEST_OTEL_PYTHON"] = str(python)
    env["LLMOBS_TEST_OTEL_INSTRUMENT"] = str(Path(sys.executable).parent / "opentelemetry-instrument")
    return env


def test_the_exec_wrapper_runs_a_list_of_next_wrappers_in_order(tmp_path: Path, layer: Path) -> None:
    """``exec next1 next2 ... "$@"``: each next wrapper sees the handler the one before set; a missing one is skipped;
    LLMOBS_ZERO_CODE=false only chains (the handler stays the function's)."""
    wrappers = []
    for name in ("first", "second"):
        wrapper = tmp_path / name
        wrapper.write_text(f'#!/bin/sh\necho "{name} saw $_HANDLER" >&2\nexport _HANDLER="{name}.handler"\nexec "$@"\n')
        wrapper.chmod(0o755)
        wrappers.append(str(wrapper))
    for zero_code, handler_seen in (("true", "llm_observability_runtime.wrapper.handler"), ("false", "app.handler")):
        run = subprocess.run(
            [str(layer / "llmobs-instrument"), "/usr/bin/env"],
            env={
                "PATH": "/usr/bin:/bin",
                "_HANDLER": "app.handler",
                "LLMOBS_ZERO_CODE": zero_code,
                "LLMOBS_NEXT_WRAPPER": f"{wrappers[0]} /nonexistent/wrapper {wrappers[1]}",
            },
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
            check=True,
        )
        env = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
        assert env["_HANDLER"] == "second.handler" and "LLMOBS_NEXT_WRAPPER" not in env  # the last one is outermost
        assert run.stderr.splitlines() == [
            "llmobs-instrument: LLMOBS_NEXT_WRAPPER /nonexistent/wrapper is not an executable file; starting without it",
            f"first saw {handler_seen}",
            "second saw first.handler",
        ]
        assert ("LLMOBS_ORIGINAL_HANDLER" in env) is (zero_code == "true")


@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
def test_an_unmodified_handler_starts_through_all_three_wrappers_in_one_trace(
    tmp_path: Path, layer: Path, chained_environment: dict[str, str]
) -> None:
    """Started as Lambda starts it: llmobs-instrument -> CodeGuru's -> OpenTelemetry's exec wrapper; an invocation runs
    OpenTelemetry's handler -> CodeGuru's -> ours -> the user's, and every span of it is in API Gateway's trace."""
    assert chained_environment["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/llmobs-instrument"
    assert chained_environment["LLMOBS_NEXT_WRAPPER"] == "/opt/codeguru_profiler_lambda_exec /opt/otel-instrument"
    env = _opt(tmp_path, layer, chained_environment)
    listener = UdpListener()
    try:
        env["AWS_XRAY_DAEMON_ADDRESS"] = listener.address
        results, lines, stderr = run_function(
            tmp_path,
            layer,
            [("inv-1", API_EVENT)],
            [(200, CONVERSE_OK)],
            env=env,
            trace_header=f"Root={TRACE_ROOT};Parent={LAMBDA_SEGMENT};Sampled=1",
        )
        spans = listener.spans(expected=2)
    finally:
        listener.close()
    assert results["inv-1"] == ("response", {"statusCode": 200, "body": "Hi Jane."}), stderr
    messages = [line.get("message") for line in lines if "_aws" not in line]
    assert messages[:2] == ["codeguru-profiler", "bedrock_call"], stderr  # CodeGuru's handler, then ours
    assert lines[0]["wrapped"] == "llm_observability_runtime.wrapper.handler"
    assert _values(lines, "RequestSuccess") == [1] and _values(lines, "InputTokens", ModelId=MODEL_ID) == [12]

    assert {span["trace_id"] for span in spans} == {TRACE_ROOT[2:].replace("-", "")}, spans  # one trace: API Gateway's
    (server,) = [span for span in spans if span["kind"] == 2]  # SPAN_KIND_SERVER
    assert server["name"] == "their-fn" and server["parent_span_id"] == LAMBDA_SEGMENT
    assert server["service"] == "their-bot"  # OTEL_SERVICE_NAME from the construct
    bedrock = [span for span in spans if span["attributes"].get("rpc.service") == "Bedrock Runtime"]
    assert len(bedrock) == 1, spans  # exactly one span for the one Bedrock call
    (call,) = bedrock
    assert call["kind"] == 3 and call["parent_span_id"] == server["span_id"]  # CLIENT, child of the Lambda span
    attributes = call["attributes"]
    assert {k: attributes.get(k) for k in GEN_AI_ATTRIBUTES} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": MODEL_ID,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.response.finish_reasons": ["end_turn"],
    }
