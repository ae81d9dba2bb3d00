"""The Lambda assets as deployed: each function folder plus the shared modules it declares, and nothing else.

Shared Lambda code has one source file in ``functions/_shared``; the function builder copies the modules a
function declares (``shared=``) into a staging directory beside the function's own files. These tests stage
the real folders, import every handler from its staged asset in a fresh interpreter whose ``sys.path`` holds
only the asset, the standard library and site-packages (standing in for the Lambda runtime's boto3 and the
Powertools layer), and call its entry point once with a request it must refuse.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_observability.constructs._common import ASSET_EXCLUDES, SHARED_DIR, STAGING_DIR, staged_asset
from llm_observability.errors import ConfigError
from tests.conftest import OFFLINE_AWS_ENV, ROOT

FUNCTIONS_DIR = ROOT / "llm_observability" / "functions"

#: folder -> (entry point, shared modules, what the entry point does with a request it must refuse)
FUNCTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "invocation_logging": ("on_event", ("cfn_response",), "ValueError"),
    "opensearch_index_template": ("on_event", ("cfn_response", "sigv4"), "ValueError"),
    "log_records_processor": ("lambda_handler", (), "ValueError"),
    "prometheus_forwarder": ("lambda_handler", ("sigv4",), "ConfigurationError"),
    "quality_canary": ("lambda_handler", ("textstats",), "CanaryConfigError"),
    "rag_api": ("lambda_handler", (), "HTTP 500"),
    "online_judge": ("lambda_handler", ("logs_query",), "JudgeConfigError"),
    "feedback_loop": ("lambda_handler", ("logs_query",), "FeedbackConfigError"),
    "output_drift": ("lambda_handler", ("logs_query", "textstats"), "DriftConfigError"),
    "incident_outcomes": ("lambda_handler", (), "returned"),  # never raises: a bad event is logged and counted
}
#: What a function may import besides the standard library, its own modules and its shared ones: the Lambda
#: runtime's boto3, the Powertools layer, the CodeGuru Profiler layer, the library's runtime layer
#: (``LlmInstrumentation``) and the OpenTelemetry API (the ADOT layer; optional in the runtime). No X-Ray SDK: the
#: X-Ray SDKs reach end of support on 2027-02-25 (issue 14).
RUNTIME_AND_LAYERS = {
    "boto3", "botocore", "aws_lambda_powertools", "codeguru_profiler_agent", "llm_observability_runtime",
    "opentelemetry",
}  # fmt: skip
#: Functions that get the library's runtime layer (its ``python/`` folder is on their path in Lambda).
RUNTIME_LAYER_FUNCTIONS = frozenset({"rag_api"})

_PROBE = """
import json, sys, types
asset, entry = sys.argv[1], sys.argv[2]
repo, layers = sys.argv[3], sys.argv[4:]
sys.path[:] = [asset, *layers] + [p for p in sys.path if p and ("site-packages" in p or not p.startswith(repo))]
import handler
context = types.SimpleNamespace(
    function_name="probe", memory_limit_in_mb=128, aws_request_id="probe-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:probe",
    get_remaining_time_in_millis=lambda: 60_000,
)
try:
    response = getattr(handler, entry)(["not", "an", "event"], context)
    outcome = f"HTTP {response['statusCode']}" if isinstance(response, dict) and "statusCode" in response else "returned"
except Exception as exc:
    outcome = type(exc).__name__
modules = {
    name: getattr(module, "__file__", None)
    for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not name.startswith(("_", "encodings"))
}
print(json.dumps({"outcome": outcome, "modules": modules, "path": sys.path}))
"""


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and not any(part == "__pycache__" or part.endswith(".pyc") for part in path.parts)
    }


def test_every_function_is_listed_and_declares_the_shared_modules_it_imports() -> None:
    folders = {p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders == set(FUNCTIONS)
    for folder, (_, shared, _) in FUNCTIONS.items():
        if shared:
            staged_asset(folder, shared)  # declared as imported: accepted
        else:
            assert staged_asset(folder) == FUNCTIONS_DIR / folder  # nothing shared: the folder itself


def test_a_staged_asset_is_the_folder_plus_its_shared_modules_in_a_content_named_directory() -> None:
    staged = staged_asset("opensearch_index_template", ("cfn_response", "sigv4"))

    assert staged.parent == STAGING_DIR and staged.name.startswith("opensearch_index_template-")
    own = _files(FUNCTIONS_DIR / "opensearch_index_template")
    shared = {f"{name}.py": (SHARED_DIR / f"{name}.py").read_bytes() for name in ("cfn_response", "sigv4")}
    assert _files(staged) == {**own, **shared}
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in staged.rglob("*") if path.is_file())
    assert staged_asset("opensearch_index_template", ("cfn_response", "sigv4")) == staged  # staged once


@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
def test_the_staged_asset_hash_is_the_same_from_another_temp_dir(tmp_path: Path) -> None:
    """Same sources, same asset: the staging place does not enter CDK's fingerprint of the directory."""
    from aws_cdk import FileSystem

    script = (
        "from llm_observability.constructs._common import staged_asset\n"
        "print(staged_asset('invocation_logging', ('cfn_response',)))\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    other = Path(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                check=True, cwd=ROOT).stdout.strip())  # fmt: skip
    ours = staged_asset("invocation_logging", ("cfn_response",))

    assert other.parent == tmp_path / STAGING_DIR.name and other.name == ours.name
    fingerprint = FileSystem.fingerprint(str(ours), exclude=ASSET_EXCLUDES)
    assert FileSystem.fingerprint(str(other), exclude=ASSET_EXCLUDES) == fingerprint


@pytest.mark.parametrize("folder", sorted(FUNCTIONS))
def test_a_staged_handler_runs_with_nothing_but_its_asset(folder: str, tmp_path: Path) -> None:
    entry, shared, refusal = FUNCTIONS[folder]
    asset = staged_asset(folder, shared)
    env = {"PATH": os.environ.get("PATH", ""), **OFFLINE_AWS_ENV, "POWERTOOLS_TRACE_DISABLED": "true"}
    layers = []
    if folder in RUNTIME_LAYER_FUNCTIONS:  # the staged runtime layer, as LlmInstrumentation deploys it
        from llm_observability.constructs.instrumentation import stage_layer

        layers.append(str(stage_layer() / "python"))

    completed = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _PROBE, str(asset), entry, str(ROOT), *layers],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(completed.stdout.splitlines()[-1])
    for layer in layers:  # the runtime came from the layer, not from the repository
        assert result["modules"]["llm_observability_runtime"].startswith(layer)

    assert result["outcome"] == refusal
    assert [p for p in result["path"] if p.startswith(str(ROOT)) and "site-packages" not in p] in ([], [str(asset)])
    own = {path.stem for path in asset.glob("*.py")}
    assert {"handler", *shared} <= own
    for name in own & set(result["modules"]):  # every module of the asset that loaded came from the asset
        assert Path(result["modules"][name]).parent == asset, (name, result["modules"][name])
    from_repo = {
        name for name, file in result["modules"].items() if file.startswith(str(ROOT)) and "site-packages" not in file
    }
    assert from_repo <= own and all(result["modules"][name].startswith(str(asset)) for name in from_repo), from_repo


@pytest.mark.parametrize("folder", sorted(FUNCTIONS))
def test_a_function_imports_only_the_standard_library_its_layers_and_its_asset(folder: str) -> None:
    _, shared, _ = FUNCTIONS[folder]
    source = FUNCTIONS_DIR / folder
    own = {path.stem for path in source.glob("*.py")}
    allowed = RUNTIME_AND_LAYERS | own | set(shared)
    for path in [*source.glob("*.py"), *(SHARED_DIR / f"{name}.py" for name in shared)]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = {node.module.split(".")[0]}
            else:
                continue
            assert all(top in allowed or top in sys.stdlib_module_names for top in tops), f"{path}: {tops}"
    assert (source / "__init__.py").exists()


def test_shared_modules_must_be_declared_and_must_exist() -> None:
    with pytest.raises(ConfigError, match="imports the shared module 'cfn_response'"):
        staged_asset("invocation_logging")
    with pytest.raises(ConfigError, match="shared= must include 'sigv4'"):
        staged_asset("opensearch_index_template", ("cfn_response",))
    with pytest.raises(ConfigError, match="'telemetry' of function 'rag_api' does not exist; allowed: cfn_response"):
        staged_asset("rag_api", ("telemetry",))  # type: ignore[arg-type]
