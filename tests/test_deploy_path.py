"""The deploy path as a new user meets it: a fresh copy, the README's set-up, then its `cdk` lines as written.

Slow: it runs one real `make setup` (venv, pinned Python dependencies, `npm ci`) in a temporary copy of
the repository, once per session. An editable install copied from elsewhere would import the original
tree, so the copy gets its own. No environment is activated: PATH holds neither a virtual environment nor
node_modules, and `python3` is a bare interpreter without the project's dependencies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
STACK = "rag-demo-l1-foundation"


def _clean_path() -> str:
    """PATH without any virtual environment or node_modules entry."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(p for p in parts if p and ".venv" not in p and "node_modules" not in p and "/venv" not in p)


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


@pytest.fixture(scope="session")
def fresh_copy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the repository (tracked and new files, as a clone would have them) and a bare `python3`."""
    copy = tmp_path_factory.mktemp("fresh") / "repo"
    for name in _tracked_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    bare = tmp_path_factory.mktemp("bare-python")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(bare)  # a python3 with no aws-cdk-lib
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(
        PATH=_clean_path(),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    bare_env = {**env, "PATH": f"{bare / 'bin'}{os.pathsep}{env['PATH']}"}
    return {"dir": copy, "env": env, "bare_env": bare_env, "bare_python": bare / "bin" / "python3"}


def _run(command: str | list[str], cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, shell=isinstance(command, str), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def set_up(fresh_copy: dict) -> dict:
    """The copy after the bare-interpreter check and one real `make setup`."""
    bare = _run([str(fresh_copy["bare_python"]), "app.py"], fresh_copy["dir"], fresh_copy["bare_env"])
    setup = _run(["make", "setup"], fresh_copy["dir"], fresh_copy["env"], timeout=1200)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    return {**fresh_copy, "bare": bare}


def test_bare_interpreter_gets_one_sentence_and_a_non_zero_exit(set_up: dict) -> None:
    run = set_up["bare"]
    assert run.returncode == 3
    assert "Traceback" not in run.stderr + run.stdout
    message = run.stderr.strip()
    assert message.count("\n") == 0 and message.endswith(".")
    assert "make setup" in message and "aws_cdk" in message


def _readme_cdk_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return sorted({line for line in lines if line.startswith("npx cdk ")})


def test_readme_shows_synth_and_ls() -> None:
    lines = _readme_cdk_lines()
    assert any(line.startswith("npx cdk synth") for line in lines), lines
    assert any(line.startswith("npx cdk ls") for line in lines), lines


@pytest.mark.parametrize("line", [line for line in _readme_cdk_lines() if line.split()[2] in ("synth", "ls")])
def test_readme_cdk_line_works_as_written(set_up: dict, line: str) -> None:
    # `python3` on PATH is the bare interpreter: app.py must restart itself in the copy's .venv.
    run = _run(line, set_up["dir"], set_up["bare_env"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    if " ls" in line:
        assert STACK in run.stdout


def test_cdk_diff_against_a_fresh_template_shows_no_difference(set_up: dict, tmp_path: Path) -> None:
    synth = _run(f"npx cdk synth --quiet --no-notices -o {tmp_path / 'ref'} -c level=1", set_up["dir"], set_up["bare_env"])
    assert synth.returncode == 0, synth.stderr[-3000:]
    diff = _run(
        f"npx cdk diff --no-notices -o {tmp_path / 'out'} --template {tmp_path / 'ref' / (STACK + '.template.json')} "
        f"{STACK} -c level=1",
        set_up["dir"],
        set_up["bare_env"],
    )
    assert diff.returncode == 0, diff.stderr[-3000:]
    assert "There were no differences" in diff.stdout + diff.stderr


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("deploy", "cdk deploy --all --no-notices -c level=2 -c alarm_email=oncall@example.com"),
        ("destroy", "cdk destroy --all --no-notices -c level=2 -c alarm_email=oncall@example.com"),
        ("diff", "cdk diff --all --no-notices -c level=2 -c alarm_email=oncall@example.com"),
    ],
)
def test_make_targets_pass_level_and_context(set_up: dict, target: str, expected: str) -> None:
    run = _run(["make", "-n", target, "LEVEL=2", "ALARM_EMAIL=oncall@example.com"], set_up["dir"], set_up["env"])
    assert run.returncode == 0, run.stderr
    assert expected in run.stdout
    if target == "destroy":
        assert run.stdout.index("kept_on_destroy.py") < run.stdout.index("cdk destroy")


def test_destroy_lists_what_it_keeps(set_up: dict, tmp_path: Path) -> None:
    synth = _run(f"npx cdk synth --quiet --no-notices -o {tmp_path} -c level=2", set_up["dir"], set_up["bare_env"])
    assert synth.returncode == 0, synth.stderr[-3000:]
    run = _run(
        [sys.executable, "scripts/kept_on_destroy.py", str(tmp_path), "-c", "level=2", "-c", "security_hub=adopt"],
        set_up["dir"],
        set_up["env"],
    )
    assert run.returncode == 0, run.stderr
    assert "AWS::KMS::Key" in run.stdout and "AWS::S3::Bucket" in run.stdout and "AWS::Logs::LogGroup" in run.stdout
    assert "Security Hub hub: adopted" in run.stdout
