"""The ``llm-observability`` command line: exit codes, JSON schema, --min-level, robustness to bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from llm_observability.assess.report import JSON_SCHEMA
from tests.assess.conftest import TEMPLATES, run_process, schema_errors
from tests.conftest import ROOT, SynthResult

Run = Callable[..., tuple[int, str, str]]


def test_json_report_follows_the_schema(run_cli: Run, level1: SynthResult) -> None:
    for path in (level1.outdir, TEMPLATES / "plain_serverless.json", TEMPLATES / "foreign_short_intrinsics.yaml"):
        code, out, err = run_cli("assess", path, "--format", "json")
        assert (code, err) == (0, "")
        report = json.loads(out)
        assert schema_errors(report, JSON_SCHEMA) == []
    assert report["level"] == 1 and report["level_name"] == "Foundation"
    ids = [c["id"] for c in report["capabilities"]]
    assert len(ids) == len(set(ids)) == 21
    row = next(c for c in report["capabilities"] if c["id"] == "invocation-logging")
    assert row == {**row, "level": 1, "status": "present", "next_step": None}
    assert row["evidence"] == [{"stack": "foreign_short_intrinsics", "logical_ids": ["InvocationLogging"]}]


def test_schema_checker_catches_a_bad_report() -> None:
    assert schema_errors({"level": "1"}, JSON_SCHEMA)  # missing keys and a wrong type


def test_min_level(run_cli: Run, level1: SynthResult) -> None:
    assert run_cli("assess", level1.outdir, "--min-level", "1")[0] == 0
    code, out, err = run_cli("assess", level1.outdir, "--min-level", "2", "--format", "json")
    assert code == 1
    assert json.loads(out)["level"] == 1  # the report is still printed
    assert (
        err.strip() == "llm-observability: maturity level 1 (Foundation) is below the required minimum 2 (Proactive)."
    )
    code, _, err = run_cli("assess", TEMPLATES / "plain_serverless.json", "--min-level", "1")
    assert code == 1 and "maturity level 0 (none)" in err


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("assess",),
        ("score", "x"),
        ("assess", "x", "--format", "yaml"),
        ("assess", "x", "--min-level", "4"),
        ("assess", "x", "--min-level", "one"),
        ("cost", "x", "--requests-per-month", "-1"),
        ("cost", "x", "--requests-per-month", "lots"),
    ],
)
def test_usage_errors_exit_2(run_cli: Run, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(*args)
    assert code == 2 and out == ""
    assert "usage: llm-observability" in err and "Traceback" not in err


def test_help_exits_0(run_cli: Run) -> None:
    code, out, _ = run_cli("assess", "--help")
    assert code == 0 and "--min-level N" in out


def _binary(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


BAD_INPUTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing path": (lambda d: d / "nope.json", "does not exist"),
    "empty file": (lambda d: _file(d / "t.json", ""), "is empty"),
    "whitespace yaml": (lambda d: _file(d / "t.yaml", "\n  \n"), "is empty"),
    "malformed json": (lambda d: _file(d / "t.json", '{"Resources": {"A": '), "is not valid JSON"),
    "malformed yaml": (lambda d: _file(d / "t.yaml", "Resources:\n  A: [unclosed\n"), "is not valid YAML (line"),
    "yaml tab indent": (lambda d: _file(d / "t.yml", "Resources:\n\tA: 1\n"), "is not valid YAML"),
    "json list": (lambda d: _file(d / "t.json", "[1, 2]"), "top level is not a mapping"),
    "yaml scalar": (lambda d: _file(d / "t.yaml", "just words"), "top level is not a mapping"),
    "no Resources": (lambda d: _file(d / "t.json", '{"Description": "x"}'), "has no Resources section"),
    "Resources is a list": (lambda d: _file(d / "t.json", '{"Resources": []}'), "Resources is not a mapping"),
    "resource without Type": (lambda d: _file(d / "t.json", '{"Resources": {"A": {"Properties": {}}}}'), "resource 'A' has no Type"),
    "deep nesting": (lambda d: _file(d / "t.json", "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "binary file": (lambda d: (_binary(d / "t.json"), d / "t.json")[1], "is a binary file"),
    "latin-1 file": (lambda d: (d / "t.yaml").write_bytes(b"Description: caf\xe9\n") and d / "t.yaml", "not UTF-8"),
    "folder without templates": (lambda d: (_file(d / "readme.txt", "hi"), d)[1], "no manifest.json and no CloudFormation templates"),
    "malformed manifest": (lambda d: (_file(d / "manifest.json", "{oops"), d)[1], "manifest.json is not valid JSON"),
    "manifest without stacks": (lambda d: (_file(d / "manifest.json", '{"version": "55.0.0", "artifacts": {}}'), d)[1],
                                "no CloudFormation stacks"),
    "manifest names a missing template": (
        lambda d: (_file(d / "manifest.json", json.dumps({"artifacts": {"S": {"type": "aws:cloudformation:stack",
                                                          "properties": {"templateFile": "S.template.json"}}}})), d)[1],
        "the template of stack 'S'",
    ),
}  # fmt: skip


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["assess", "cost"])
def test_bad_input_is_one_sentence_and_exit_2(run_cli: Run, tmp_path: Path, case: str, command: str) -> None:
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    code, out, err = run_cli(command, path)
    assert code == 2 and out == ""
    assert err.startswith("llm-observability: ") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err


def test_cloud_assembly_without_manifest_is_read_as_a_folder(run_cli: Run, level1: SynthResult, tmp_path: Path) -> None:
    for template in level1.outdir.glob("*.json"):
        if template.name != "manifest.json":
            (tmp_path / template.name).write_bytes(template.read_bytes())
    code, out, _ = run_cli("assess", tmp_path, "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["source"]["kind"] == "directory" and report["level"] == 1
    assert len(report["source"]["stacks"]) == 1  # tree.json, assets and the validation report are not templates
    assert any("skipped" in n for n in report["notes"])


def test_yaml_without_pyyaml_degrades_with_a_clear_message(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    code, _, err = run_cli("assess", TEMPLATES / "foreign_short_intrinsics.yaml")
    assert code == 2 and "needs PyYAML" in err and "pip install pyyaml" in err
    assert run_cli("assess", TEMPLATES / "plain_serverless.json")[0] == 0  # JSON needs nothing


def test_unknown_yaml_tags_and_odd_values_do_not_crash(run_cli: Run, write_template: Callable[..., Path]) -> None:
    path = write_template(
        "Resources:\n  A:\n    Type: AWS::New::Thing\n    Properties:\n      X: !Unknown [1, {a: !Ref B}]\n"
        "      Y: !GetAtt [B, Arn]\n      Z: ~\n      W: 2024-01-01\n  B:\n    Type: AWS::SNS::Topic\n    Properties: ~\n",
        name="odd.yaml",
    )
    code, out, err = run_cli("assess", path, "--format", "json")
    assert code == 0 and err == "" and json.loads(out)["level"] == 0


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (("assess", TEMPLATES / "plain_serverless.json", "--min-level", "1"), 1, "below the required minimum 1"),
        (("assess", "{tmp}/broken.json"), 2, "is not valid JSON"),
        (("cost", "{tmp}/image.json"), 2, "is a binary file"),
        (("assess", "{tmp}"), 2, "no manifest.json and no CloudFormation templates"),
    ],
)
def test_real_process_exit_codes_without_traceback(
    tmp_path: Path, args: tuple[object, ...], code: int, stderr: str
) -> None:
    (tmp_path / "broken.json").write_text('{"Resources": {')
    _binary(tmp_path / "image.json")
    if args[-1] == "{tmp}":
        (tmp_path / "broken.json").unlink()
        (tmp_path / "image.json").unlink()
    run = run_process(*(str(a).replace("{tmp}", str(tmp_path)) for a in args))
    assert run.returncode == code, run.stderr
    assert stderr in run.stderr and "Traceback" not in run.stderr + run.stdout


def test_cost_command_json(run_cli: Run) -> None:
    code, out, err = run_cli("cost", TEMPLATES / "cost_small.json", "--format", "json", "--requests-per-month", "0")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["schema"] == "llm-observability/cost/v1" and report["fixed_monthly_usd"] == 5.6
    assert report["prices_as_of"] and report["requests_per_month"] == 0
    assert all(item["assumption"] and item["source"] in report["sources"] for item in report["items"])


def test_the_command_line_runs_without_the_cdk() -> None:
    """``import llm_observability.assess`` and both commands load neither aws-cdk-lib nor jsii: the CLI starts fast."""
    assess_args, cost_args = (
        ["assess", str(TEMPLATES / "plain_serverless.json")],
        ["cost", str(TEMPLATES / "cost_small.json")],
    )
    code = (
        f"import sys; from llm_observability.assess.cli import main; main({assess_args!r}); main({cost_args!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'constructs', 'cdk_nag')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip().splitlines()[-1] == "[]"
    assert "Observability cost estimate" in run.stdout and "LLM observability maturity" in run.stdout
