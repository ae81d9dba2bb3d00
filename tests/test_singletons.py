"""Account and region singletons claimed across one app: a second creation in one environment is a ConfigError.

Every case builds constructs only (no synth): the claim is made, or refused, at construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

import pytest

from llm_observability.config.choices import SingletonMode
from llm_observability.errors import ConfigError

MONITOR_ARN = "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"


def _compliance(
    stack: Any, *, security_hub: SingletonMode = "adopt", config_recorder: SingletonMode = "adopt",
    cloudtrail: bool = False,
) -> Any:
    from llm_observability.constructs.compliance import ComplianceBaseline

    return ComplianceBaseline(
        stack, "Compliance", security_hub=security_hub, config_recorder=config_recorder, cloudtrail=cloudtrail,
        standards=(),
    )  # fmt: skip


def _cost_guard(stack: Any, adopt: bool) -> Any:
    from aws_cdk import aws_sns as sns

    from llm_observability.constructs.cost_guard import CostGuard

    return CostGuard(
        stack, "CostGuard", topic=sns.Topic(stack, "CostTopic"), monthly_budget_usd=100,
        anomaly_monitor_arn=MONITOR_ARN if adopt else None,
    )  # fmt: skip


def _devops_guru(stack: Any, adopt: bool) -> Any:
    from aws_cdk import aws_sns as sns

    from llm_observability.constructs.aiops import DevOpsGuruCoverage

    return DevOpsGuruCoverage(
        stack, "DevOpsGuru", stack_names=[stack.stack_name], topic=sns.Topic(stack, "InsightTopic"),
        coverage="adopt" if adopt else "create",
    )  # fmt: skip


def _rag_app(stack: Any, adopt: bool) -> Any:
    from llm_observability.config import ObservabilityConfig
    from llm_observability.constructs.rag_app import RagReferenceApp

    config = ObservabilityConfig(knowledge_base_id="KBID123456", create_api_gateway_cloudwatch_role=not adopt)
    return RagReferenceApp(stack, "RagApp", config=config)


def _invocation_logging(stack: Any, adopt: bool) -> Any:
    from llm_observability.constructs.invocation_logging import InvocationLogging

    # "keep" adopts a configuration made outside the app, but writes one where the account has none: it claims.
    return InvocationLogging(stack, "InvocationLogging", existing_configuration="keep" if adopt else "replace")


def _transaction_search(stack: Any, adopt: bool) -> Any:
    from llm_observability.constructs.transaction_search import TransactionSearch

    return TransactionSearch(stack, "TransactionSearch", mode="adopt" if adopt else "create")


def _lambda_insights(stack: Any, adopt: bool) -> Any:
    from aws_cdk import aws_lambda as lambda_

    from llm_observability.constructs.lambda_insights import FunctionInsights
    from llm_observability.workload import Workload

    # A function to observe: without one FunctionInsights builds nothing (and claims nothing).
    fn = lambda_.Function(stack, "InsightsFn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                          code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"))  # fmt: skip
    workload = Workload(name="snap", model_ids=("amazon.nova-lite-v1:0",), functions=(fn,))
    return FunctionInsights(stack, "LambdaInsights", workload=workload, log_group_mode="adopt" if adopt else "create")


#: kind -> (builder(stack, adopt), path of what it builds under its stack, setting named in the error).
BUILDERS: dict[str, tuple[Callable[[Any, bool], Any], str, str]] = {
    "security-hub": (
        lambda s, adopt: _compliance(s, security_hub="adopt" if adopt else "create"), "Compliance",
        "security_hub='adopt'",
    ),
    "config-recorder": (
        lambda s, adopt: _compliance(s, config_recorder="adopt" if adopt else "create"), "Compliance",
        "config_recorder='adopt'",
    ),
    "cloudtrail": (lambda s, adopt: _compliance(s, cloudtrail=not adopt), "Compliance", "cloudtrail=False"),
    "cost-anomaly-monitor": (_cost_guard, "CostGuard", "anomaly_monitor_arn (setting cost_anomaly_monitor_arn)"),
    "devops-guru-coverage": (_devops_guru, "DevOpsGuru", "coverage='adopt' (setting devops_guru_coverage)"),
    "api-gateway-account": (_rag_app, "RagApp", "create_api_gateway_cloudwatch_role=false"),
    "invocation-logging": (_invocation_logging, "InvocationLogging", "invocation_logging=false"),
    "transaction-search": (
        _transaction_search, "TransactionSearch", "mode='adopt' (setting transaction_search_existing)",
    ),
    "lambda-insights-log-group": (
        _lambda_insights, "LambdaInsights", "log_group_mode='adopt' (setting lambda_insights_log_group)",
    ),
}
#: Kinds with a mode that adopts the account's singleton instead of creating one (invocation logging has none:
#: its alternative is leaving the construct out, setting invocation_logging=false).
ADOPTABLE = [k for k in BUILDERS if k != "invocation-logging"]
ACCOUNT_WIDE = ("cloudtrail", "cost-anomaly-monitor")


def _stacks(*envs: tuple[str, str] | None) -> list[Any]:
    """One app with a workload stack per environment (``None``: no explicit account and region)."""
    from aws_cdk import App, Environment, Stack

    app = App()
    return [
        Stack(app, f"Workload{i}", env=Environment(account=env[0], region=env[1]) if env else None)
        for i, env in enumerate(envs)
    ]


def test_every_kind_has_its_message_and_a_test() -> None:
    from llm_observability.singletons import _SINGLETONS, SingletonKind

    assert set(_SINGLETONS) == set(get_args(SingletonKind)) == set(BUILDERS)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_a_second_creation_in_one_unresolved_environment_names_both_paths(kind: str) -> None:
    build, child, setting = BUILDERS[kind]
    first, second = _stacks(None, None)
    build(first, False)
    with pytest.raises(ConfigError) as raised:
        build(second, False)
    message = str(raised.value)
    assert f"by 'Workload0/{child}' and by 'Workload1/{child}'" in message
    assert "in the unresolved environment (every stack without an explicit account and region counts as one)" in message
    assert setting in message and message.count(".") >= 1 and message.endswith(".") and "\n" not in message


def test_the_message_is_one_sentence_with_the_environment() -> None:
    first, second = _stacks((ACCOUNT_A, "eu-west-1"), (ACCOUNT_A, "eu-west-1"))
    _compliance(first, security_hub="create")
    with pytest.raises(ConfigError) as raised:
        _compliance(second, security_hub="create")
    assert str(raised.value) == (
        "A Security Hub hub is created twice in account 111111111111, region eu-west-1, by 'Workload0/Compliance' "
        "and by 'Workload1/Compliance': set security_hub='adopt' on one of them."
    )


@pytest.mark.parametrize("kind", ADOPTABLE)
def test_the_second_in_adopt_mode_is_fine(kind: str) -> None:
    build, _, _ = BUILDERS[kind]
    first, second, third = _stacks(None, None, None)
    build(first, False)
    build(second, True)
    build(third, True)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_different_accounts_never_clash(kind: str) -> None:
    build, _, _ = BUILDERS[kind]
    first, second = _stacks((ACCOUNT_A, "eu-west-1"), (ACCOUNT_B, "eu-west-1"))
    build(first, False)
    build(second, False)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_two_regions_of_one_account_clash_only_for_account_wide_kinds(kind: str) -> None:
    build, _, _ = BUILDERS[kind]
    first, second = _stacks((ACCOUNT_A, "eu-west-1"), (ACCOUNT_A, "us-east-1"))
    build(first, False)
    if kind not in ACCOUNT_WIDE:
        build(second, False)
        return
    with pytest.raises(ConfigError, match=r"twice in account 111111111111, by 'Workload0/\w+' and by 'Workload1/"):
        build(second, False)


def test_the_trail_is_one_per_account() -> None:
    first, second = _stacks((ACCOUNT_A, "eu-west-1"), (ACCOUNT_A, "us-east-1"))
    _compliance(first, security_hub="create", config_recorder="create", cloudtrail=True)
    with pytest.raises(ConfigError) as raised:
        _compliance(second, security_hub="create", config_recorder="create", cloudtrail=True)
    assert str(raised.value) == (
        "A multi-region CloudTrail trail (one per account) is created twice in account 111111111111, by "
        "'Workload0/Compliance' and by 'Workload1/Compliance': set cloudtrail=False on one of them."
    )


def test_an_explicit_environment_and_an_unresolved_one_are_compared_by_what_is_known() -> None:
    """Only unresolved stacks share the unresolved environment; an account-only env is unresolved too."""
    envs = ((ACCOUNT_A, "eu-west-1"), None, (ACCOUNT_A, None))
    explicit, unresolved, account_only = _stacks(*envs)  # type: ignore[arg-type]
    _compliance(explicit, security_hub="create")
    _compliance(unresolved, security_hub="create")
    with pytest.raises(ConfigError, match=r"by 'Workload1/Compliance' and by 'Workload2/Compliance'"):
        _compliance(account_only, security_hub="create")


def test_stages_in_different_environments_never_clash_and_in_one_they_do() -> None:
    from aws_cdk import App, Environment, Stack, Stage

    app = App()
    dev = Stage(app, "Dev", env=Environment(account=ACCOUNT_A, region="eu-west-1"))
    prod = Stage(app, "Prod", env=Environment(account=ACCOUNT_B, region="eu-west-1"))
    _compliance(Stack(dev, "Workload"), security_hub="create")
    _compliance(Stack(prod, "Workload"), security_hub="create")
    again = Stage(app, "DevAgain", env=Environment(account=ACCOUNT_A, region="eu-west-1"))
    with pytest.raises(ConfigError, match=r"by 'Dev/Workload/Compliance' and by 'DevAgain/Workload/Compliance'"):
        _compliance(Stack(again, "Workload"), security_hub="create")


def test_two_apps_in_one_process_never_share_their_claims() -> None:
    from aws_cdk import App, Stack

    for _ in range(2):
        app = App()
        _compliance(Stack(app, "Workload"), security_hub="create", config_recorder="create")


def test_the_registry_is_a_resource_less_child_of_the_app_root() -> None:
    from aws_cdk import App, Stack

    from llm_observability.singletons import REGISTRY_ID, _Registry

    app = App()
    _compliance(Stack(app, "Workload"), security_hub="create")
    registry = app.node.try_find_child(REGISTRY_ID)
    assert isinstance(registry, _Registry) and registry.node.children == []
    assert list(registry.claims.values()) == ["Workload/Compliance"]
    assert [c.node.id for c in app.node.children if isinstance(c, Stack)] == ["Workload"]


def test_an_unknown_kind_and_a_taken_registry_id_fail_with_one_sentence() -> None:
    from aws_cdk import App, Stack
    from constructs import Construct

    from llm_observability.singletons import claim

    app = App()
    stack = Stack(app, "Workload")
    with pytest.raises(ConfigError, match=r"^claim 'kind' is 'hub': allowed are security-hub, config-recorder, "):
        claim(stack, "hub")  # type: ignore[arg-type]
    Construct(app, "LlmObservabilitySingletons")
    with pytest.raises(ConfigError, match=r"^The construct id 'LlmObservabilitySingletons' directly under the app"):
        claim(stack, "security-hub")
