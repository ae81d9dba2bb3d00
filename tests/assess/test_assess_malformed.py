"""Malformed templates: a property the tool reads with the wrong type is one sentence naming the file, the resource
and the property (exit 2); anything else malformed is skipped. Never a traceback, never "This is a bug of the tool"."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_observability.assess.cli import main
from llm_observability.assess.queries import FUNCTION_TYPES
from llm_observability.assess.shapes import SHAPES
from tests.assess.conftest import TEMPLATES
from tests.conftest import SynthResult

Run = Callable[..., tuple[int, str, str]]
NO_VALUE = {"Ref": "AWS::NoValue"}


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": 7}},
         "property Metrics of resource 'Broken' (AWS::CloudWatch::Alarm) is 7, expected a list."),
        ({"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)", "Targets": 3}},
         "property Targets of resource 'Broken' (AWS::Events::Rule) is 3, expected a list."),
        ({"Type": "AWS::CloudWatch::Alarm", "Properties": {"Namespace": "AWS/Bedrock", "Dimensions": 5}},
         "property Dimensions of resource 'Broken' (AWS::CloudWatch::Alarm) is 5, expected a list."),
        ({"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [{"Id": "m", "MetricStat": []}]}},
         "property Metrics[0].MetricStat of resource 'Broken' (AWS::CloudWatch::Alarm) is [], expected a mapping."),
        ({"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": {"Fn::If": ["On", 7, NO_VALUE]}}},
         "property Metrics of resource 'Broken' (AWS::CloudWatch::Alarm) is 7, expected a list."),
        ({"Type": "AWS::Lambda::Function", "Properties": {"Layers": 2}},
         "property Layers of resource 'Broken' (AWS::Lambda::Function) is 2, expected a list."),
        ({"Type": "AWS::Lambda::Function", "Properties": {"Environment": 1}},
         "property Environment of resource 'Broken' (AWS::Lambda::Function) is 1, expected a mapping."),
        ({"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": [["A", "b"]]}}},
         "property Environment.Variables of resource 'Broken' (AWS::Lambda::Function) is [[\"A\", \"b\"]], expected a mapping."),
        ({"Type": "AWS::Logs::MetricFilter", "Properties": {"MetricTransformations": [{"Dimensions": 3}]}},
         "property MetricTransformations[0].Dimensions of resource 'Broken' (AWS::Logs::MetricFilter) is 3, expected a list."),
        ({"Type": "AWS::OpenSearchService::Domain", "Properties": {"ClusterConfig": {"InstanceCount": "inf"}}},
         "property ClusterConfig.InstanceCount of resource 'Broken' (AWS::OpenSearchService::Domain) is \"inf\", expected a number."),
        ({"Type": "AWS::SNS::Topic", "Properties": {"Tags": ["team"]}},
         "property Tags of resource 'Broken' (AWS::SNS::Topic) is [\"team\"], expected a list of Key/Value mappings"),
        ({"Type": "AWS::SNS::Topic", "Properties": 7}, "resource 'Broken' (AWS::SNS::Topic) has Properties 7, expected a mapping."),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["assess", "cost"])
def test_a_property_of_the_wrong_type_is_one_sentence_naming_file_resource_and_property(
    run_cli: Run, write_template: Callable[..., Path], resource: dict[str, Any], message: str, command: str
) -> None:
    path = write_template({"Resources": {"Fine": {"Type": "AWS::SNS::Topic"}, "Broken": resource}}, name="app.json")
    code, out, err = run_cli(command, path)
    assert (code, out) == (2, "")
    assert err.startswith(f"llm-observability: {path} is not a valid template: ") and err.count("\n") == 1, err
    assert message in err


@pytest.mark.parametrize(
    "resource",
    [
        {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": {"Ref": "Queries"}, "AlarmActions": {"Ref": "Topics"}}},
        {"Type": "AWS::Lambda::Function", "Properties": {"Layers": {"Ref": "Layers"}, "Environment": {"Fn::If": ["On", {"Variables": {"A": 1}}, NO_VALUE]}}},
        {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)",
                                                      "Targets": {"Fn::If": ["On", [{"Id": "a", "Arn": "arn:x"}], NO_VALUE]}}},
        {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [{"Id": "m", "MetricStat": {"Fn::GetAtt": ["X", "Y"]}}], "Period": "60"}},
    ],
)  # fmt: skip
def test_intrinsic_functions_stand_for_any_value(
    run_cli: Run, write_template: Callable[..., Path], resource: dict[str, Any]
) -> None:
    path = write_template({"Resources": {"R": resource}})
    for command in ("assess", "cost"):
        code, out, err = run_cli(command, path)
        assert (code, err) == (0, "") and out


@pytest.mark.parametrize(
    "body",
    [
        '{"widgets": 7}',
        '{"widgets": [{"properties": []}, 3]}',
        '{"widgets": [{"properties": {"metrics": 7}}]}',
        '{"widgets": [{"properties": {"metrics": [7, [{"expression": 3, "label": 5}], ["...", "x"], [".", "."], []]}}]}',
        '[1, 2]',
        'not JSON ["AWS/Bedrock", "Invocations"',
    ],
)  # fmt: skip
def test_a_malformed_dashboard_body_is_read_as_far_as_it_goes(
    run_cli: Run, write_template: Callable[..., Path], body: str
) -> None:
    """A dashboard body is JSON in a string: CloudFormation does not check it, and the readers skip what is malformed."""
    dashboard = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": body}}
    path = write_template({"Resources": {"D": dashboard}})
    for command in ("assess", "cost"):
        code, out, err = run_cli(command, path)
        assert (code, err) == (0, "") and out


# ----------------------------------------------------------------------------- property-based: mutated real templates

#: Resource types the tool reads: mutations land on them (and on any resource of a template without them).
READ_TYPES = frozenset(SHAPES) | {*FUNCTION_TYPES, "Custom::BedrockInvocationLogging", "AWS::Bedrock::Guardrail"}
_SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)  # fmt: skip
JSON = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
INTRINSIC = st.builds(
    lambda name, argument: {name: argument},
    st.sampled_from(["Ref", "Fn::If", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::ImportValue", "Fn::GetStackOutput",
                     "Condition", "Fn::Select"]),
    JSON,
)  # fmt: skip


def _json_type(value: Any) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def _paths(value: Any, prefix: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """Every position inside a resource's Properties (the Properties mapping itself included)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*prefix, key))


@pytest.fixture(scope="session")
def corpora(level3: SynthResult) -> list[dict[str, dict[str, Any]]]:
    """Real templates to mutate: the bundled app's Levels 1-3 (one folder) and each hand-written template."""
    levels = {p.name: json.loads(p.read_text()) for p in sorted(level3.outdir.glob("*.template.json"))}
    return [levels, *({p.name: json.loads(p.read_text())} for p in sorted(TEMPLATES.glob("*.json")))]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutated")


def _mutate(data: st.DataObject, templates: dict[str, dict[str, Any]]) -> str:
    """Replace one to three values inside resources' Properties by JSON of another type; return what was changed."""
    changes = []
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        name = data.draw(st.sampled_from(sorted(templates)), label="template")
        resources = templates[name]["Resources"]
        read = [k for k, r in resources.items() if r["Type"] in READ_TYPES]
        logical_id = data.draw(st.sampled_from(read or sorted(resources)), label="resource")
        resource = resources[logical_id]
        path = data.draw(st.sampled_from(list(_paths(resource.get("Properties", {}), ("Properties",)))), label="path")
        parent = resource
        for key in path[:-1]:
            parent = parent[key]
        old = parent[path[-1]] if path[-1] in parent or isinstance(parent, list) else None
        new = data.draw(JSON.filter(lambda v: _json_type(v) != _json_type(old)) | INTRINSIC, label="value")
        parent[path[-1]] = new
        changes.append(f"{name} {logical_id} {'.'.join(map(str, path))} = {json.dumps(new)[:80]}")
    return "; ".join(changes)


def _run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@settings(
    max_examples=150, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(data=st.data())
@pytest.mark.slow  # about 3 s of mutated templates: CI (`make test`) runs it, `make test-fast` does not
def test_mutated_templates_give_a_report_or_one_sentence(
    data: st.DataObject, corpora: list[dict[str, dict[str, Any]]], workdir: Path
) -> None:
    corpus = data.draw(st.sampled_from(corpora), label="corpus")
    templates = json.loads(json.dumps(corpus))
    changes = _mutate(data, templates)
    shutil.rmtree(workdir)
    workdir.mkdir()
    for name, template in templates.items():
        (workdir / name).write_text(json.dumps(template))
    for args in (("assess", workdir, "--min-level", "3"), ("cost", workdir)):
        code, out, err = _run(*args)
        assert code in (0, 1, 2), changes
        assert "Traceback" not in err and "bug of the tool" not in err, f"{changes}: {err}"
        assert err.count("\n") <= 1, f"{changes}: {err}"
        if code == 2:
            assert err.startswith(f"llm-observability: {workdir}") and err.rstrip().endswith("."), f"{changes}: {err}"
        else:
            assert out, changes
