"""The real aws-cdk CLI (pinned in package.json) against the bundled app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

CDK = ROOT / "node_modules" / ".bin" / "cdk"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CDK.exists(), reason="run `make setup` (npm ci) to install the pinned CDK CLI"),
]


def _cdk(*args: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "PATH": f"{Path(os.sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "-o", str(outdir), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_cli_synthesizes_level_1(tmp_path: Path) -> None:
    run = _cdk("-c", "level=1", outdir=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = [n for n, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"]
    assert stacks == ["rag-demo-l1-foundation"]


def test_cli_stops_on_bad_level_with_one_sentence(tmp_path: Path) -> None:
    run = _cdk("-c", "level=4", outdir=tmp_path)
    assert run.returncode != 0
    assert "Configuration error: Setting 'level' is 4: allowed are 1, 2, 3." in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_scripts_list_the_stacks_written(tmp_path: Path) -> None:
    run = _cdk(outdir=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    listing = subprocess.run(
        [os.sys.executable, "scripts/stacks_written.py", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert listing.returncode == 0
    assert "rag-demo-l1-foundation" in listing.stdout and "resources" in listing.stdout
    shutil.rmtree(tmp_path)
