"""Micro-benchmarks of the RAG Lambda handler.

Sections
    overhead  per-request handler time in three modes, through real boto3 clients
              whose HTTP responses are made in process (botocore's ``before-send``
              event; no network), so every mode parses the same Retrieve and Converse
              responses: ``traced`` (INSTRUMENTATION=on with the OpenTelemetry SDK: a
              tracer provider exporting to an in-memory exporter through a
              SimpleSpanProcessor, and a meter provider with an in-memory reader; 8
              spans per request), ``untraced`` (INSTRUMENTATION=on, the runtime's
              tracing seam without the OpenTelemetry API, as in a function without
              the ADOT layer) and ``off`` (INSTRUMENTATION=off). Tracing adds
              traced - untraced; all instrumentation (hook, stages, metrics and EMF,
              spans, logging, redaction) adds traced - off. Output goes to a null sink;
              exporting spans out of the process (ADOT's OTLP over UDP) is not part of
              the figure.
    import    cold import time of ``handler``, each sample in a fresh interpreter, and the first
              invocation after it (a request for an unknown route: settings, instrumentation
              set-up, routing), so work moved from import to the first call is still counted.

The function's runtime layer (``llm_observability_runtime``) is a copy of
``llm_observability/runtime`` in a temporary directory on ``sys.path``, as the layer's
``python/`` folder is in Lambda. ``--function-dir`` measures another copy of the
function folder (for example an older revision, for a before/after comparison).

Run ``python benchmarks/bench_handler.py`` (add ``--json`` for machine-readable
output).  Standard library only, besides the function's own dependencies.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "llm_observability" / "functions" / "rag_api"
RUNTIME_DIR = ROOT / "llm_observability" / "runtime"
RUNTIME_PACKAGE = "llm_observability_runtime"
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"

BENCH_ENV = {
    "MODEL_ID": MODEL_ID,
    "KNOWLEDGE_BASE_ID": "KB12345678",
    "PRICE_TABLE": json.dumps({MODEL_ID: {"input_per_1k": 0.00025, "output_per_1k": 0.00125}}),
    "PROMPT_LOGGING": "redacted",
    "RETRIEVAL_CACHE_TTL_SECONDS": "0",  # every request runs the full pipeline
    "POWERTOOLS_SERVICE_NAME": "rag-api-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "LLMObservabilityBench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}

PASSAGE = (
    "Customers may return unused items within 30 days of delivery for a full refund. Refunds are issued "
    "to the original payment method within five business days after the warehouse receives the item. "
) * 4
RETRIEVE_RESPONSE = {
    "retrievalResults": [
        {
            "content": {"text": PASSAGE, "type": "TEXT"},
            "location": {"type": "S3", "s3Location": {"uri": f"s3://kb-docs/policies/returns-{index}.md"}},
            "score": 0.8 - index / 10,
        }
        for index in range(4)
    ]
}
CONVERSE_RESPONSE = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {
                    "text": "You can return unused items within 30 days of delivery [1]. The refund goes to your "
                    "original payment method within five business days of the item reaching the warehouse [1]. "
                    "If you need help, contact support."
                }
            ],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1180, "outputTokens": 64, "totalTokens": 1244},
    "metrics": {"latencyMs": 910},
}
ASK_EVENT = {
    "resource": "/ask",
    "path": "/ask",
    "httpMethod": "POST",
    "headers": {"Content-Type": "application/json"},
    "requestContext": {"requestId": "bench-request-0001", "stage": "prod"},
    "isBase64Encoded": False,
    "body": json.dumps(
        {"question": "Hi, I'm jane.doe@example.com - how long do refunds take for an unused item?", "temperature": 0.1}
    ),
}


class _Raw:
    """The urllib3 response botocore reads (a JSON body, read at once)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Any:
        yield self._data

    def read(self, amt: int | None = None) -> bytes:
        data, self._data = self._data, b""
        return data

    def close(self) -> None:
        """Nothing to close."""


def _client(service: str, reply: dict[str, Any]) -> Any:
    """A real boto3 client (the function's own client config) answering every request with ``reply`` in process."""
    import boto3
    import pipeline
    from botocore.awsrequest import AWSResponse

    body = json.dumps(reply).encode()
    client = boto3.session.Session().client(
        service,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=pipeline.CLIENT_CONFIGS[service],
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        headers = {"content-type": "application/json", "x-amzn-requestid": "bench"}
        return AWSResponse(request.url, 200, headers, _Raw(body))

    client.meta.events.register("before-send", send)
    return client


def runtime_layer(into: Path) -> Path:
    """``into`` holding ``llm_observability_runtime`` (the runtime's source, as the layer's ``python/`` holds it)."""
    shutil.copytree(RUNTIME_DIR, into / RUNTIME_PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


class FakeContext:
    function_name = "rag-api"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:rag-api"
    aws_request_id = "bench-lambda-request-0001"


def _median_ms(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1e6


MODES = ("traced", "untraced", "off")


def _opentelemetry_sdk() -> Any:
    """Set the process's tracer and meter providers (SDK, in-memory export); return the span exporter.

    A SimpleSpanProcessor exports each span as it ends, so the export is timed with the request (ADOT's batch
    processor queues spans for a background thread instead, which on 2 shared cores measured slower still).
    """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return exporter


def bench_overhead(function_dir: Path, layer: Path, calls: int, warmup: int, rounds: int) -> dict[str, Any]:
    """Median per-request time traced, untraced and with instrumentation off (alternating rounds)."""
    os.environ.update(BENCH_ENV)
    sys.path[:0] = [str(function_dir), str(layer)]
    import handler
    import pipeline
    from llm_observability_runtime import _tracing

    exporter = _opentelemetry_sdk()
    otel_trace = _tracing._otel_trace

    agent_runtime = _client("bedrock-agent-runtime", RETRIEVE_RESPONSE)
    bedrock_runtime = _client("bedrock-runtime", CONVERSE_RESPONSE)

    sink = open(os.devnull, "w")  # noqa: SIM115 - kept open for the whole run
    handler.logger.registered_handler.stream = sink
    context = FakeContext()
    samples: dict[str, list[int]] = {mode: [] for mode in MODES}
    responses: dict[str, dict[str, Any]] = {}
    spans_per_request = 0
    real_stdout = sys.stdout
    sys.stdout = sink  # EMF is printed to stdout
    try:
        for _ in range(rounds):
            for mode in MODES:
                os.environ["INSTRUMENTATION"] = "off" if mode == "off" else "on"
                _tracing._otel_trace = otel_trace if mode == "traced" else None  # the API absent: the no-op seam
                handler.reset_state()
                pipeline.set_clients(agent_runtime=agent_runtime, bedrock_runtime=bedrock_runtime)
                invoke: Callable[[dict[str, Any], Any], dict[str, Any]] = handler.lambda_handler
                for _ in range(warmup):
                    invoke(ASK_EVENT, context)
                exporter.clear()
                invoke(ASK_EVENT, context)
                if mode == "traced":
                    spans_per_request = len(exporter.get_finished_spans())
                timings = samples[mode]
                clock = time.perf_counter_ns
                for _ in range(calls // rounds):
                    started = clock()
                    response = invoke(ASK_EVENT, context)
                    timings.append(clock() - started)
                    exporter.clear()  # untimed: in Lambda the ADOT layer exports and drops a request's spans at its end
                responses[mode] = response
    finally:
        _tracing._otel_trace = otel_trace
        sys.stdout = real_stdout
        sink.close()
    for mode, response in responses.items():
        if response["statusCode"] != 200:
            raise RuntimeError(f"{mode} returned {response['statusCode']}: {response['body']}")
    if not responses["traced"] == responses["untraced"] == responses["off"]:
        raise RuntimeError("the modes returned different responses")
    traced, untraced, off = (_median_ms(samples[mode]) for mode in MODES)
    return {
        "calls_per_mode": len(samples["traced"]),
        "spans_per_request": spans_per_request,
        "median_traced_ms": round(traced, 4),
        "median_untraced_ms": round(untraced, 4),
        "median_off_ms": round(off, 4),
        "tracing_added_ms": round(traced - untraced, 4),
        "instrumentation_added_ms": round(traced - off, 4),
        "target_added_ms": 1.0,
        "within_target": traced - untraced <= 1.0,
    }


_IMPORT_PROBE = (
    "import sys, time, types\n"
    "sys.path[:0] = sys.argv[1:]\n"
    "started = time.perf_counter()\n"
    "import handler\n"
    "imported = time.perf_counter()\n"
    "context = types.SimpleNamespace(function_name='rag-api', memory_limit_in_mb=1024, aws_request_id='cold-1',\n"
    "    invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:rag-api')\n"
    "event = {'resource': '/cold', 'path': '/cold', 'httpMethod': 'GET', 'requestContext': {'requestId': 'cold-1'}}\n"
    "assert handler.lambda_handler(event, context)['statusCode'] == 404\n"
    "print((imported - started) * 1000, (time.perf_counter() - imported) * 1000)\n"
)


def bench_cold_import(function_dir: Path, layer: Path, runs: int) -> dict[str, Any]:
    """Median time to ``import handler`` in a fresh interpreter (what a cold start pays before the first call),
    and of the first invocation after it.

    The OpenTelemetry API is importable (the runtime imports it with its tracing seam), no SDK is configured:
    in Lambda the ADOT layer's wrapper has imported and configured it before the handler, so its own start
    is the layer's cost, not the handler's. LAMBDA_TASK_ROOT is set as in Lambda.
    """
    env = {
        **os.environ,
        **BENCH_ENV,
        "INSTRUMENTATION": "on",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "AWS_LAMBDA_FUNCTION_NAME": "rag-api",
    }
    samples = []
    for _ in range(runs):
        completed = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, str(function_dir), str(layer)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(tuple(float(value) for value in completed.stdout.strip().splitlines()[-1].split()))
    imports = [sample[0] for sample in samples]
    return {
        "runs": runs,
        "median_ms": round(statistics.median(imports), 1),
        "min_ms": round(min(imports), 1),
        "max_ms": round(max(imports), 1),
        "first_invocation_median_ms": round(statistics.median(sample[1] for sample in samples), 1),
        "import_and_first_invocation_median_ms": round(statistics.median(sum(sample) for sample in samples), 1),
    }


def _print_table(results: dict[str, dict[str, Any]]) -> None:
    rows: list[tuple[str, str]] = []
    if "overhead" in results:
        overhead = results["overhead"]
        calls = overhead["calls_per_mode"]
        rows += [
            (
                f"handler median, traced: SDK, in-memory export ({calls} calls, {overhead['spans_per_request']} spans)",
                f"{overhead['median_traced_ms']:.4f} ms",
            ),
            (f"handler median, INSTRUMENTATION=on untraced ({calls} calls)",
             f"{overhead['median_untraced_ms']:.4f} ms"),
            (f"handler median, INSTRUMENTATION=off ({calls} calls)", f"{overhead['median_off_ms']:.4f} ms"),
            (
                "tracing added, traced - untraced (target <= 1 ms)",
                f"{overhead['tracing_added_ms']:.4f} ms {'OK' if overhead['within_target'] else 'OVER TARGET'}",
            ),
            ("all instrumentation added, traced - off", f"{overhead['instrumentation_added_ms']:.4f} ms"),
        ]
    if "import" in results:
        cold = results["import"]
        rows.append(
            (
                f"cold `import handler`, median of {cold['runs']}",
                f"{cold['median_ms']:.1f} ms (min {cold['min_ms']:.1f}, max {cold['max_ms']:.1f})",
            )
        )
        rows.append(("first invocation after it (404), median", f"{cold['first_invocation_median_ms']:.1f} ms"))
        both = cold["import_and_first_invocation_median_ms"]
        rows.append(("cold import + first invocation, median", f"{both:.1f} ms"))
    width = max(len(label) for label, _ in rows)
    print(f"{'benchmark'.ljust(width)}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per mode (default 3000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per mode and round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating on/off rounds (default 3)")
    parser.add_argument("--imports", type=int, default=10, help="fresh interpreters for the import benchmark")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--function-dir", type=Path, default=FUNCTION_DIR, help="the RAG function folder to measure (default: this one)"
    )
    args = parser.parse_args(argv)
    for name, value in {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        os.environ.setdefault(name, value)

    with tempfile.TemporaryDirectory() as temp:
        layer = runtime_layer(Path(temp))
        sections: dict[str, Callable[[], dict[str, Any]]] = {
            "import": lambda: bench_cold_import(args.function_dir, layer, args.imports),  # first: clean interpreters
            "overhead": lambda: bench_overhead(args.function_dir, layer, args.calls, args.warmup, args.rounds),
        }
        results = {name: run() for name, run in sections.items()}

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(results)
    overhead = results.get("overhead")
    return 0 if overhead is None or overhead["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
