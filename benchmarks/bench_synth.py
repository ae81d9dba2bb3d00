"""Synth time of the level-1 app against an empty CDK app, measured in the same run.

Each sample is a fresh Python process (jsii starts its Node.js kernel once per process,
which is what a user pays on every `cdk synth`). Prints medians; `--json` for machines.

    python benchmarks/bench_synth.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EMPTY_APP = """
from aws_cdk import App, Stack
app = App(outdir={outdir!r})
Stack(app, "Empty")
app.synth()
"""

LEVEL1_APP = """
import json
from aws_cdk import App
from llm_observability.stacks import build_app
context = json.load(open({cdk_json!r}))["context"]
app = App(context=context, outdir={outdir!r})
build_app(app, nag={nag})
app.synth()
"""

CASES = {
    "empty CDK app": lambda out: EMPTY_APP.format(outdir=out),
    "level-1 app, cdk-nag on": lambda out: LEVEL1_APP.format(cdk_json=str(ROOT / "cdk.json"), outdir=out, nag=True),
    "level-1 app, cdk-nag off": lambda out: LEVEL1_APP.format(cdk_json=str(ROOT / "cdk.json"), outdir=out, nag=False),
}


def time_case(script: str, runs: int) -> list[float]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            code = CASES[script](out)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # Interleave nothing: run each case back to back, empty first, in this one process.
    results = {name: statistics.median(time_case(name, args.runs)) for name in CASES}
    empty = results["empty CDK app"]
    ratio = results["level-1 app, cdk-nag on"] / empty
    if args.json:
        print(json.dumps({"median_seconds": results, "ratio_level1_to_empty": ratio, "runs": args.runs}))
        return 0
    print(f"Synth time, median of {args.runs} fresh processes each:")
    for name, seconds in results.items():
        print(f"  {name:<28} {seconds:6.2f} s   ({seconds / empty:4.2f}x empty)")
    print(f"Level-1 (with cdk-nag) / empty: {ratio:.2f}x  (target <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
