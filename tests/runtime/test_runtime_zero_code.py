"""Zero-code use: an unmodified handler started the way Lambda starts it, through the exec wrapper of the layer.

The layer is staged exactly as the construct ships it. A subprocess runs ``$AWS_LAMBDA_EXEC_WRAPPER
bootstrap``; the bootstrap starts the AWS Lambda Runtime Interface Client (``awslambdaric``, what
Lambda's Python runtimes run) on ``$_HANDLER``. It polls a local stub of the Lambda Runtime API for
invocations and posts their results back; the handler's boto3 client talks to a local stub of Bedrock
(``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``). Everything listens on 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
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
    """The Lambda Runtime API: hands out ``events`` one by one and records each invocation's result."""

    def __init__(self, events: list[tuple[str, dict[str, Any]]]) -> None:
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
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
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
) -> tuple[dict[str, tuple[str, Any]], list[dict[str, Any]], str]:
    """Start the function through the layer's exec wrapper; return the results, its JSON lines and its stderr."""
    task, extra_env = _task(tmp_path, with_otel=with_otel)
    runtime_api, bedrock = RuntimeApi(events), BedrockStub(replies)
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
