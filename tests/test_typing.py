"""The public names are typed for mypy and IDEs, while ``import llm_observability`` stays light at run time."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAZY_PACKAGES = ("llm_observability", "llm_observability.constructs", "llm_observability.stacks")

#: mypy reads the package's own modules; aws-cdk-lib's (huge) stubs are skipped, their types become Any.
MYPY_CONFIG = """\
[mypy]
python_version = 3.11
warn_unused_configs = False
[mypy-aws_cdk.*,constructs.*,cdk_nag.*,jsii.*,aws_lambda_powertools.*,boto3.*,botocore.*]
follow_imports = skip
ignore_missing_imports = True
"""


def _type_checking_imports(module: str) -> dict[str, str]:
    """Names imported under ``if TYPE_CHECKING:`` in ``module``'s ``__init__.py``, with the module they come from."""
    path = ROOT / Path(*module.split(".")) / "__init__.py"
    names: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                names.update({alias.name: statement.module for alias in statement.names})
    return names


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_export_has_a_type_checking_import_of_the_same_object(package: str) -> None:
    module = importlib.import_module(package)
    typed = _type_checking_imports(package)
    assert set(typed) == set(module._EXPORTS)  # a new export needs its TYPE_CHECKING import too
    for name, source in typed.items():
        assert getattr(importlib.import_module(source), name) is getattr(module, name), name


def test_importing_the_package_or_its_config_loads_no_cdk() -> None:
    code = (
        "import sys, llm_observability, llm_observability.config, llm_observability.validation\n"
        "print(sorted(m for m in ('aws_cdk', 'constructs', 'jsii') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "[]"


@pytest.mark.slow  # mypy starts in about 3 s: CI (`make test`) runs it
def test_mypy_sees_the_real_type_of_a_lazily_exported_name(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        textwrap.dedent(
            """\
            from llm_observability import ObservabilityConfig, Workload
            from llm_observability.constructs import CostGuard

            reveal_type(Workload)
            reveal_type(ObservabilityConfig().security_hub)
            reveal_type(CostGuard)
            """
        )
    )
    config = tmp_path / "mypy.ini"
    config.write_text(MYPY_CONFIG)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    revealed = [line.split("Revealed type is ", 1)[1] for line in run.stdout.splitlines() if "Revealed type is" in line]
    assert len(revealed) == 3, run.stdout + run.stderr
    workload, security_hub, cost_guard = revealed
    assert workload.endswith('-> llm_observability.workload.Workload"')  # the class itself, not "Any"
    assert security_hub == "\"Literal['create'] | Literal['adopt']\""  # the settings' choices are Literal types
    assert "llm_observability.constructs.cost_guard.CostGuard" in cost_guard
