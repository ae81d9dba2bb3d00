"""Micro-benchmarks of llm_observability_runtime, the runtime layer for users' functions.

Sections
    overhead  median time of one Bedrock call through a real boto3 client whose HTTP responses are made
              in process (botocore's ``before-send`` event; no network), with the runtime instrumenting it
              and without. Both paths parse the same wire-format response, so the difference is the
              runtime's own work: reading the request and response, redaction (prompt logging
              ``redacted``), the JSON log line and the EMF lines. Output goes to a null sink. Measured for
              Converse, InvokeModel (body read by the caller) and ConverseStream (stream consumed), each
              with a flush per call (no ``observe``) and inside an observed invocation of 10 calls.
    import    cold ``import llm_observability_runtime`` on top of ``import boto3`` in fresh interpreters,
              from a copy of the package without bytecode (like a layer, whose /opt is read-only), and the
              same plus ``instrument()``.

Run ``python benchmarks/bench_runtime.py`` (``--json`` for machine-readable output). Targets: <= 1 ms added
per Bedrock call (median), <= 50 ms import cost on top of boto3 (median of 10).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from llm_observability.runtime import api, hook, recorder

ROOT = Path(__file__).resolve().parents[1]

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
PRICES = {MODEL_ID: {"input_per_1k": 0.00025, "output_per_1k": 0.00125}}
QUESTION = "Hi, I'm jane.doe@example.com - how long do refunds take for an unused item? Call me on +1 415 555 2671."
ANSWER = (
    "You can return unused items within 30 days of delivery [1]. The refund goes to your original payment "
    "method within five business days of the item reaching the warehouse [1]. If you need help, contact support."
)
MESSAGES = [{"role": "user", "content": [{"text": QUESTION}]}]
CONVERSE_BODY = json.dumps(
    {
        "output": {"message": {"role": "assistant", "content": [{"text": ANSWER}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1180, "outputTokens": 64, "totalTokens": 1244},
        "metrics": {"latencyMs": 910},
    }
).encode()
INVOKE_REQUEST = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 256, "messages": [{"role": "user", "content": QUESTION}]}
)
INVOKE_BODY = json.dumps({"content": [{"type": "text", "text": ANSWER}], "stop_reason": "end_turn"}).encode()
TARGET_CALL_MS = 1.0
TARGET_IMPORT_MS = 50.0


class _Raw:
    """The urllib3 response botocore reads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self._data = b"".join(chunks)
        self._offset = 0

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Iterator[bytes]:
        yield from self._chunks

    def read(self, amt: int | None = None) -> bytes:
        end = len(self._data) if amt is None else self._offset + amt
        chunk, self._offset = self._data[self._offset : end], min(end, len(self._data))
        return chunk

    def close(self) -> None:
        """Nothing to close."""


def _event_stream() -> list[bytes]:
    """The ConverseStream events of ANSWER, as AWS event stream messages (see tests/runtime/bedrock_fakes.py)."""
    import binascii
    import struct

    def header(name: str, value: str) -> bytes:
        return bytes([len(name)]) + name.encode() + bytes([7]) + struct.pack(">H", len(value)) + value.encode()

    def message(event_type: str, payload: dict[str, Any]) -> bytes:
        headers = header(":message-type", "event") + header(":event-type", event_type)
        headers += header(":content-type", "application/json")
        body = json.dumps(payload).encode()
        prelude = struct.pack(">II", 16 + len(headers) + len(body), len(headers))
        prelude += struct.pack(">I", binascii.crc32(prelude))
        data = prelude + headers + body
        return data + struct.pack(">I", binascii.crc32(data))

    words = ANSWER.split(" ")
    return [
        message("messageStart", {"role": "assistant"}),
        *(message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w + " "}}) for w in words),
        message("contentBlockStop", {"contentBlockIndex": 0}),
        message("messageStop", {"stopReason": "end_turn"}),
        message(
            "metadata",
            {"usage": {"inputTokens": 1180, "outputTokens": 64, "totalTokens": 1244}, "metrics": {"latencyMs": 900}},
        ),
    ]


STREAM_CHUNKS = _event_stream()
REPLIES: dict[str, tuple[dict[str, str], list[bytes]]] = {
    "Converse": ({"content-type": "application/json"}, [CONVERSE_BODY]),
    "InvokeModel": (
        {
            "content-type": "application/json",
            "content-length": str(len(INVOKE_BODY)),
            "x-amzn-bedrock-input-token-count": "1180",
            "x-amzn-bedrock-output-token-count": "64",
            "x-amzn-bedrock-invocation-latency": "910",
        },
        [INVOKE_BODY],
    ),
    "ConverseStream": ({"content-type": "application/vnd.amazon.eventstream"}, STREAM_CHUNKS),
}


def _client() -> Any:
    client = boto3.session.Session().client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        operation = request.url.rsplit("/", 1)[-1]
        name = {"converse": "Converse", "invoke": "InvokeModel", "converse-stream": "ConverseStream"}[operation]
        headers, chunks = REPLIES[name]
        return AWSResponse(request.url, 200, {**headers, "x-amzn-requestid": "bench"}, _Raw(chunks))

    client.meta.events.register("before-send", send)
    return client


def _calls(client: Any) -> dict[str, Callable[[], Any]]:
    def converse() -> Any:
        return client.converse(modelId=MODEL_ID, messages=MESSAGES, inferenceConfig={"maxTokens": 256})

    def invoke_model() -> Any:
        return client.invoke_model(modelId=MODEL_ID, body=INVOKE_REQUEST)["body"].read()

    def converse_stream() -> Any:
        return [event for event in client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)["stream"]]

    return {"Converse": converse, "InvokeModel": invoke_model, "ConverseStream": converse_stream}


def _time(call: Callable[[], Any], count: int, observed: bool) -> list[int]:
    """Per-call times in ns; ``observed`` runs them in invocations of 10 calls (one flush per invocation)."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    rec = recorder.current() if hook.installed() else None
    for index in range(count):
        if observed and rec is not None and index % 10 == 0:
            rec.begin("bench-request", "bench-request")
        started = clock()
        call()
        samples.append(clock() - started)
        if observed and rec is not None and index % 10 == 9:
            flush_started = clock()
            rec.end()
            samples[-1] += clock() - flush_started  # the invocation's flush is paid by its last call
    if observed and rec is not None and rec.invocation is not None:
        rec.end()
    return samples


def bench_overhead(calls: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Median per-call time with and without the runtime, alternating rounds; added ms per operation and mode."""
    client = _calls(_client())
    results: dict[str, Any] = {}
    for observed in (False, True):
        for name, call in client.items():
            samples: dict[str, list[int]] = {"bare": [], "instrumented": []}
            for _ in range(rounds):
                for mode in ("bare", "instrumented"):
                    if mode == "instrumented":
                        api.instrument(service_name="bench", prompt_logging="redacted", prices=PRICES)
                        recorder.current().write = lambda line: None
                    else:
                        hook.uninstall()
                    _time(call, warmup, observed)
                    samples[mode] += _time(call, calls // rounds, observed)
            hook.uninstall()
            bare = statistics.median(samples["bare"]) / 1e6
            instrumented = statistics.median(samples["instrumented"]) / 1e6
            if observed:  # the flush is in 1 of 10 samples: compare means of invocations, per call
                bare = statistics.fmean(samples["bare"]) / 1e6
                instrumented = statistics.fmean(samples["instrumented"]) / 1e6
            key = f"{name}{' (observed, 10 calls/invocation)' if observed else ' (flush per call)'}"
            results[key] = {
                "bare_ms": round(bare, 4),
                "instrumented_ms": round(instrumented, 4),
                "added_ms": round(instrumented - bare, 4),
                "within_target": instrumented - bare <= TARGET_CALL_MS,
            }
    return results


_IMPORT_PROBE = (
    "import sys, time\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "started = time.perf_counter()\n"
    "import boto3\n"
    "boto3_done = time.perf_counter()\n"
    "import llm_observability_runtime as llmobs\n"
    "imported = time.perf_counter()\n"
    "llmobs.instrument()\n"
    "instrumented = time.perf_counter()\n"
    "print((boto3_done - started) * 1000, (imported - boto3_done) * 1000, (instrumented - boto3_done) * 1000)\n"
)


def bench_import(runs: int) -> dict[str, Any]:
    """Cold import of the runtime on top of boto3, fresh interpreters, the package copied without bytecode."""
    with tempfile.TemporaryDirectory() as layer:
        shutil.copytree(
            ROOT / "llm_observability" / "runtime",
            Path(layer) / "llm_observability_runtime",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "exec_wrapper"),
        )
        env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_REGION": "us-east-1",
        }
        samples = []
        for _ in range(runs):
            completed = subprocess.run(
                [sys.executable, "-c", _IMPORT_PROBE, layer],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            samples.append([float(v) for v in completed.stdout.split()])
    boto3_ms, import_ms, instrument_ms = (statistics.median(column) for column in zip(*samples, strict=True))
    return {
        "runs": runs,
        "boto3_ms": round(boto3_ms, 1),
        "runtime_import_ms": round(import_ms, 1),
        "runtime_import_and_instrument_ms": round(instrument_ms, 1),
        "within_target": instrument_ms <= TARGET_IMPORT_MS,
    }


def _print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    for name, row in results["overhead"].items():
        verdict = "OK" if row["within_target"] else "OVER TARGET"
        rows.append(
            (
                f"{name}: added per call",
                f"{row['added_ms']:.4f} ms ({row['bare_ms']:.4f} -> {row['instrumented_ms']:.4f}) {verdict}",
            )
        )
    cold = results["import"]
    rows.append((f"import boto3, median of {cold['runs']}", f"{cold['boto3_ms']:.1f} ms"))
    rows.append(("+ import llm_observability_runtime", f"{cold['runtime_import_ms']:.1f} ms"))
    verdict = "OK" if cold["within_target"] else "OVER TARGET"
    rows.append(
        ("+ import and instrument() (target <= 50 ms)", f"{cold['runtime_import_and_instrument_ms']:.1f} ms {verdict}")
    )
    width = max(len(label) for label, _ in rows)
    print(f"{'benchmark'.ljust(width)}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per operation and mode (default 2000)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating bare/instrumented rounds (default 4)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls per round (default 50)")
    parser.add_argument("--imports", type=int, default=10, help="fresh interpreters for the import benchmark")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    for name, value in {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        os.environ.setdefault(name, value)
    results = {"import": bench_import(args.imports), "overhead": bench_overhead(args.calls, args.rounds, args.warmup)}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(results)
    ok = results["import"]["within_target"] and all(row["within_target"] for row in results["overhead"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
