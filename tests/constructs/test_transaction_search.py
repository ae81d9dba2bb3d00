"""TransactionSearch: the resource policy X-Ray needs, then the account's Transaction Search config; adopt creates
nothing.

One app, synthesized once: stack ``Created`` (explicit account and region) creates Transaction Search with 5 %
indexing; stack ``Adopted`` adopts the account's. The Level 1 stack is read from the session's bundled app.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT, SynthResult

ACCOUNT, REGION = "111111111111", "eu-west-1"
POLICY = "AWS::Logs::ResourcePolicy"
CONFIG = "AWS::XRay::TransactionSearchConfig"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, CfnWaitConditionHandle, Environment, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability import TransactionSearch
    from llm_observability.hygiene import NoRedundantDependsOn

    outdir = tmp_path_factory.mktemp("transaction-search")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    created_stack = Stack(app, "Created", env=Environment(account=ACCOUNT, region=REGION))
    created = TransactionSearch(created_stack, "TransactionSearch", indexing_percentage=5)
    adopted_stack = Stack(app, "Adopted")
    adopted = TransactionSearch(adopted_stack, "TransactionSearch", mode="adopt")
    CfnWaitConditionHandle(adopted_stack, "NotEmpty")  # a stack without resources is not a template
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    assembly = app.synth()  # raises on an unacknowledged cdk-nag finding
    files = {"created": outdir / "Created.template.json", "adopted": outdir / "Adopted.template.json"}
    return {
        "created": created,
        "adopted": adopted,
        "files": files,
        "templates": {k: json.loads(f.read_text()) for k, f in files.items()},
        "adopted_messages": assembly.get_stack_artifact(adopted_stack.artifact_id).messages,
    }


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == cfn_type}


def _text(value: Any) -> str:
    """A ``Fn::Join`` of strings and ``Ref AWS::Partition`` as the text CloudFormation makes of it in aws."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    (name, (delimiter, parts)), = value.items()
    assert name == "Fn::Join", value
    return delimiter.join(_text(p) for p in parts)


def test_create_adds_the_documented_resource_policy(app: dict[str, Any]) -> None:
    (policy,) = _of_type(app["templates"]["created"], POLICY).values()
    document = json.loads(_text(policy["Properties"]["PolicyDocument"]))
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TransactionSearchXRayAccess",
                "Effect": "Allow",
                "Principal": {"Service": "xray.amazonaws.com"},
                "Action": "logs:PutLogEvents",
                "Resource": [
                    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws/spans:*",
                    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/application-signals/data:*",
                ],
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:xray:{REGION}:{ACCOUNT}:*"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ],
    }


def test_the_policy_name_is_derived_from_the_path_and_valid(app: dict[str, Any]) -> None:
    import re

    (policy,) = _of_type(app["templates"]["created"], POLICY).values()
    name = policy["Properties"]["PolicyName"]
    assert name.startswith("Created-TransactionSearch") and len(name) <= 255
    assert re.fullmatch(r"([^:*/]+/?)*[^:*/]+", name)  # the CloudFormation pattern of PolicyName


def test_the_config_indexes_the_given_share_and_waits_for_the_policy(app: dict[str, Any]) -> None:
    template = app["templates"]["created"]
    (policy_id,) = _of_type(template, POLICY)
    (config,) = _of_type(template, CONFIG).values()
    assert config["Properties"] == {"IndexingPercentage": 5}
    assert config["DependsOn"] == [policy_id]
    assert "DeletionPolicy" not in config  # the stack's own: deleting it switches off only what it switched on
    assert app["created"].config is not None and app["created"].resource_policy is not None


def test_adopt_creates_nothing_and_says_so(app: dict[str, Any]) -> None:
    assert not _of_type(app["templates"]["adopted"], POLICY) and not _of_type(app["templates"]["adopted"], CONFIG)
    assert app["adopted"].config is None and app["adopted"].resource_policy is None
    infos = [str(m.entry.data) for m in app["adopted_messages"] if m.entry.type == "aws:cdk:info"]
    notes = [i for i in infos if "Transaction Search" in i]
    assert len(notes) == 1 and "nothing is created" in notes[0]


@pytest.mark.parametrize("stack", ["created"])
def test_cfn_lint_reports_nothing(app: dict[str, Any], stack: str) -> None:
    matches = lint_file(app["files"][stack], ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_the_default_indexes_the_free_one_percent() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.transaction_search import FREE_INDEXING_PERCENT, TransactionSearch

    stack = Stack(App(), "S")
    construct = TransactionSearch(stack, "TransactionSearch")
    assert construct.mode == "create" and FREE_INDEXING_PERCENT == 1
    assert stack.resolve(construct.config.indexing_percentage) == 1  # type: ignore[union-attr]


BAD_PERCENT = "TransactionSearch 'indexing_percentage' is {}: allowed is a number from 0 to 100."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"indexing_percentage": 101}, BAD_PERCENT.format(101)),
        ({"indexing_percentage": -1}, BAD_PERCENT.format(-1)),
        ({"indexing_percentage": True}, BAD_PERCENT.format(True)),
        ({"mode": "enable"}, "TransactionSearch 'mode' is 'enable': allowed are create, adopt."),
    ],
)
def test_bad_input_fails_with_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.transaction_search import TransactionSearch

    with pytest.raises(ConfigError) as raised:
        TransactionSearch(Stack(App(), "S"), "TransactionSearch", **kwargs)
    assert str(raised.value) == message


# ----------------------------------------------------------------------------- Level 1 stack, from the settings


def test_level1_creates_transaction_search_by_default(level1: SynthResult) -> None:
    (config,) = level1.resources(CONFIG).values()
    assert config["Properties"] == {"IndexingPercentage": 1}
    (policy_id,) = level1.resources(POLICY)
    assert config["DependsOn"] == [policy_id]


@pytest.mark.parametrize(
    ("settings", "note"),
    [
        ({"transaction_search": False}, "CloudWatch Transaction Search is left out (transaction_search=false)"),
        ({"transaction_search_existing": "adopt"}, "adopts the account's CloudWatch Transaction Search"),
    ],
)
def test_level1_off_or_adopted_creates_nothing_and_says_so(settings: dict[str, Any], note: str) -> None:
    from aws_cdk import App

    from llm_observability.config import ObservabilityConfig
    from llm_observability.stacks import FoundationStack

    config = ObservabilityConfig(knowledge_base_id="KBID123456", **settings)
    stack = FoundationStack(App(), "S", config=config)
    types = {c.cfn_resource_type for c in stack.node.find_all() if hasattr(c, "cfn_resource_type")}
    assert CONFIG not in types and POLICY not in types
    infos = [e.data for c in stack.node.find_all() for e in c.node.metadata if e.type == "aws:cdk:info"]
    assert any(note in str(i) for i in infos), infos


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"transaction_search_existing": "keep"},
         "Setting 'transaction_search_existing' is 'keep': allowed are create, adopt."),
        ({"transaction_search_indexing_percentage": 150},
         "Setting 'transaction_search_indexing_percentage' is 150: allowed is a number from 0 to 100."),
    ],
)  # fmt: skip
def test_bad_settings_fail_with_one_sentence(settings: dict[str, Any], message: str) -> None:
    from llm_observability.config import ObservabilityConfig

    with pytest.raises(ConfigError) as raised:
        ObservabilityConfig(**settings)
    assert str(raised.value) == message
