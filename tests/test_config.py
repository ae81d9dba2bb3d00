"""ObservabilityConfig: defaults, coercion of -c strings, and one clear sentence per bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.config import ObservabilityConfig, PromptLogging, base_model_id, config_reference_rows
from llm_observability.config.fields import context_defaults
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry
from llm_observability.validation import WORKLOAD_NAME_MAX_LENGTH
from tests.conftest import CDK_CONTEXT, ROOT


def test_cdk_json_context_holds_every_setting_with_its_declared_default() -> None:
    # The default is written once, on the setting's field; cdk.json is checked against it.
    defaults = context_defaults(ObservabilityConfig)
    assert list(defaults) == list(ObservabilityConfig.keys())
    assert {key: CDK_CONTEXT.get(key, "<missing>") for key in defaults} == defaults


def test_the_defaults_pass_their_own_rules_and_the_reference_lists_every_setting() -> None:
    ObservabilityConfig.from_mapping(CDK_CONTEXT_SETTINGS)
    rows = config_reference_rows()
    assert [r.key for r in rows] == list(ObservabilityConfig.keys())
    by_key = {r.key: r for r in rows}
    assert by_key["quality_rouge_l_floor"][1:4] == ("number", "0.2", "a number above 0 and below 1")
    assert by_key["security_hub"].allowed == "create, adopt" and by_key["level"].type == "integer"
    assert by_key["budget_services"].default == '["Amazon Bedrock"]' and by_key["tags"].type == "object"
    assert {r.concern for r in rows} == {"app", "level1", "level2", "level3", "organization"}
    assert all(r.doc.endswith(".") and r.allowed for r in rows)


def test_prompt_logging_choices_are_the_lambda_code_s_modes() -> None:
    assert get_args(PromptLogging) == telemetry.PROMPT_LOGGING_MODES


OPEN_UNIT = "allowed is a number above 0 and below 1."
CDK_CONTEXT_SETTINGS = {k: v for k, v in CDK_CONTEXT.items() if k in ObservabilityConfig.keys()}


def test_docs_document_every_setting() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    for key in ObservabilityConfig.keys():
        assert f"`{key}`" in reference, key


def test_strings_from_the_command_line_are_converted() -> None:
    config = ObservabilityConfig.from_mapping(
        {
            "level": "1",
            "invocation_logging": "false",
            "retrieval_top_k": "7",
            "model_prices": '{"my.model-v1:0": {"input_per_1k": 0.1, "output_per_1k": 0.2}}',
            "tags": '{"CostCenter": "42"}',
            "alarm_thresholds": '{"bedrock_latency_p90_ms": 5000}',
        }
    )
    assert config.thresholds.bedrock_latency_p90_ms == 5000 and config.thresholds.api_5xx == 5
    assert config.level == 1 and config.invocation_logging is False and config.retrieval_top_k == 7
    assert config.model_prices["my.model-v1:0"] == {"input_per_1k": 0.1, "output_per_1k": 0.2}
    assert "amazon.nova-lite-v1:0" in config.model_prices  # merged over the built-in table
    assert dict(config.tags) == {"CostCenter": "42"}


def test_lists_from_the_command_line_may_be_comma_separated() -> None:
    config = ObservabilityConfig.from_mapping(
        {
            "vpc_id": "vpc-0123456789abcdef0",
            "vpc_subnet_ids": "subnet-0123456789abcdef0, subnet-0123456789abcdef1",
            "vpc_availability_zones": '["us-east-1a", "us-east-1b"]',
        }
    )
    assert config.vpc_subnet_ids == ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1")
    assert config.vpc_availability_zones == ("us-east-1a", "us-east-1b")
    with pytest.raises(ConfigError, match=r"^Setting 'vpc_subnet_ids' is 'subnet-a,,subnet-b': allowed is a JSON"):
        ObservabilityConfig.from_mapping({"vpc_subnet_ids": "subnet-a,,subnet-b"})


_ITEM = st.text(st.characters(blacklist_characters=",[", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None, database=None)
@given(items=st.lists(_ITEM.filter(str.strip), min_size=1, max_size=5), spaces=st.sampled_from(["", " "]))
def test_any_comma_separated_list_reads_back_as_its_items_or_one_sentence(items: list[str], spaces: str) -> None:
    from llm_observability.config.context import coerce

    text = f",{spaces}".join(items)
    try:
        value = coerce("vpc_subnet_ids", "list", text)
    except ConfigError as error:  # only JSON-looking input may be refused, with one sentence
        assert text.strip().startswith("[") and "\n" not in str(error)
        return
    assert value == [item.strip() for item in items]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"level": 0}, "Setting 'level' is 0: allowed are 1, 2, 3."),
        ({"level": "4"}, "Setting 'level' is 4: allowed are 1, 2, 3."),
        ({"level": "two"}, "Setting 'level' is 'two': allowed is a whole number."),
        ({"level": True}, "Setting 'level' is True: allowed is a whole number."),
        ({"model_id": ""}, "Setting 'model_id' is '': allowed is a Bedrock model id"),
        ({"model_id": "gpt 4"}, "Setting 'model_id' is 'gpt 4'"),
        ({"alarm_email": "oncall@"}, "Setting 'alarm_email' is 'oncall@': allowed is empty or one e-mail address"),
        ({"alarm_email": "a@b.c d"}, "Setting 'alarm_email'"),
        ({"retrieval_top_k": "-1"}, "Setting 'retrieval_top_k' is -1: allowed is a whole number from 1 to 20."),
        ({"api_throttle_rate_limit": -5}, "Setting 'api_throttle_rate_limit' is -5"),
        ({"api_throttle_rate_limit": 50, "api_throttle_burst_limit": 10}, "Setting 'api_throttle_burst_limit' is 10"),
        ({"log_retention_days": 31}, "Setting 'log_retention_days' is 31: allowed are 1, 3, 5"),
        ({"prompt_logging": "some"}, "Setting 'prompt_logging' is 'some': allowed are full, redacted, none."),
        ({"invocation_logging": "maybe"}, "Setting 'invocation_logging' is 'maybe': allowed are true or false."),
        ({"knowledge_base_id": "kb-1"}, "Setting 'knowledge_base_id' is 'kb-1'"),
        ({"embedding_dimensions": 768}, "Setting 'embedding_dimensions' is 768: allowed are 256, 512, 1024."),
        ({"workload_name": "My App"}, "Setting 'workload_name' is 'My App': allowed is 1-82 lowercase letters"),
        ({"workload_name": "RagDemo"}, "Setting 'workload_name' is 'RagDemo': allowed is 1-82 lowercase letters"),
        ({"workload_name": "a" * 83}, "Setting 'workload_name' is 'aaaa"),
        ({"workload_name": "rag-"}, "Setting 'workload_name' is 'rag-'"),
        ({"quality_rouge_l_floor": 0}, f"Setting 'quality_rouge_l_floor' is 0.0: {OPEN_UNIT}"),
        ({"quality_rouge_l_floor": "1"}, f"Setting 'quality_rouge_l_floor' is 1.0: {OPEN_UNIT}"),
        ({"security_standards": ["cis", "cis"]}, "Setting 'security_standards' is ['cis', 'cis']: allowed is a list"),
        ({"security_hub": "enable"}, "Setting 'security_hub' is 'enable': allowed are create, adopt."),
        ({"log_analytics": "on"}, "Setting 'log_analytics' is 'on': allowed are domain, serverless, off."),
        ({"cost_anomaly_monitor_arn": "m-1"}, "Setting 'cost_anomaly_monitor_arn' is 'm-1': allowed is empty"),
        ({"throttled_rate_limit": 10}, "Setting 'throttled_rate_limit' is 10: allowed is a limit below"),
        ({"fallback_model_id": "amazon.nova-lite-v1:0"}, "Setting 'fallback_model_id' is 'amazon.nova-lite-v1:0'"),
        ({"metric_namespace": "AWS/Bedrock"}, "Setting 'metric_namespace' is 'AWS/Bedrock': allowed is 1-255 letters"),
        ({"model_prices": {"m.x": {"input_per_1k": -1, "output_per_1k": 0}}}, "Setting 'model_prices' has 'm.x'"),
        ({"model_prices": "{not json"}, "Setting 'model_prices' is not valid JSON"),
        ({"tags": {"aws:owner": "x"}}, "Setting 'tags' has the pair 'aws:owner'"),
        ({"powertools_layer_version": "v3"}, "Setting 'powertools_layer_version' is 'v3'"),
        ({"alarm_thresholds": {"api_5xx": 0}}, "Alarm threshold 'api_5xx' is 0: allowed is a number above 0."),
        ({"alarm_thresholds": {"latency": 1}}, "Setting 'alarm_thresholds' has the unknown threshold 'latency'"),
        ({"alarm_thresholds": '{"datapoints_to_alarm": 5}'}, "Alarm threshold 'datapoints_to_alarm' is 5"),
        ({"monthly_budget_usd": 0}, "Setting 'monthly_budget_usd' is 0.0: allowed is a number above 0 and at most 1,0"),
        ({"monthly_budget_usd": "lots"}, "Setting 'monthly_budget_usd' is 'lots': allowed is a number."),
        ({"budget_services": "[]"}, "Setting 'budget_services' is []: allowed is a list of one or more"),
        ({"budget_warning_percent": 100}, "Setting 'budget_warning_percent' is 100.0"),
        ({"anomaly_band_width": 0}, "Setting 'anomaly_band_width' is 0.0: allowed is a number from 0.1 to 10."),
        ({"targets": [{"account": "1", "region": "us-east-1"}]}, "Setting 'targets' is {'account': '1'"),
        ({"targets": '[{"account": "111111111111", "region": "us-east-1"}, {"account": "111111111111", '
          '"region": "us-east-1"}]'}, "Setting 'targets' names account 111111111111 in us-east-1 twice"),
        ({"monitoring": {"account": "999999999999"}}, "Setting 'monitoring' is {'account': '999999999999'}: allowed "
         "is empty unless 'targets' lists the accounts it monitors."),
        ({"targets": [{"account": "111111111111", "region": "us-east-1"}], "monitoring": {
            "account": "999999999999", "sink_arns": {"us-east-1": "arn:aws:oam:us-west-2:999999999999:sink/x"}}},
         "Setting 'monitoring' has the sink ARN"),
        ({"organization_services": "central"}, "Setting 'organization_services' is 'central': allowed are "
         "per_account, delegated_admin."),
        ({"tenant_header": "X Tenant"}, "Setting 'tenant_header' is 'X Tenant'"),
        ({"levle": 2}, "Unknown setting 'levle': did you mean 'level'?"),
        ({"alarm_emial": "x@y.com"}, "Unknown setting 'alarm_emial': did you mean 'alarm_email'?"),
    ],
)
def test_bad_values_fail_with_one_sentence(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ObservabilityConfig.from_mapping(values)
    text = str(caught.value)
    assert text.startswith(message)
    assert text.endswith((".", "?")) and "\n" not in text


def test_workload_names_at_the_bound_are_accepted_and_fit_every_derived_name() -> None:
    from llm_observability.stacks.app import stack_name

    longest = "a" + "b1-" * 26 + "c9z"
    assert len(longest) == WORKLOAD_NAME_MAX_LENGTH == 82
    config = ObservabilityConfig(workload_name=longest)
    assert max(len(stack_name(config, level)) for level in (1, 2, 3)) <= 128
    assert len(f"{longest}-llm-observability") == 100  # the Prometheus workspace alias: the limit that sets the bound
    assert ObservabilityConfig(workload_name="r").workload_name == "r"


def test_rouge_l_floor_takes_the_whole_open_interval() -> None:
    assert ObservabilityConfig(quality_rouge_l_floor=0.995).quality_rouge_l_floor == 0.995


def test_context_typo_is_caught_but_cdk_keys_are_left_alone() -> None:
    from aws_cdk import App

    app = App(context={"@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:enable-path-metadata": True, "modle_id": "x"})
    with pytest.raises(ConfigError, match="did you mean 'model_id'"):
        ObservabilityConfig.from_context(app.node)
    assert ObservabilityConfig.from_context(App(context={"@aws-cdk/x:y": True, "unrelated_key_of_yours": 1}).node).level == 1


@pytest.mark.parametrize(
    ("model_id", "base"),
    [
        ("amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("global.amazon.nova-2-lite-v1:0", "amazon.nova-2-lite-v1:0"),
        ("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
    ],
)
def test_base_model_id(model_id: str, base: str) -> None:
    assert base_model_id(model_id) == base
    assert ObservabilityConfig(model_id=model_id).model_id == model_id


def test_inference_profile_is_priced_as_its_foundation_model() -> None:
    table = json.loads(ObservabilityConfig(model_id="eu.amazon.nova-lite-v1:0").price_table_json())
    assert table == {"eu.amazon.nova-lite-v1:0": {"input_per_1k": 0.00006, "output_per_1k": 0.00024}}
    assert json.loads(ObservabilityConfig(model_id="unknown.model-v9:0").price_table_json()) == {}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"level": 4}, "Configuration error: Setting 'level' is 4: allowed are 1, 2, 3."),
        ({"alarm_email": "not-an-address"}, "Configuration error: Setting 'alarm_email' is 'not-an-address'"),
    ],
)
@pytest.mark.slow  # a subprocess or a large synth: `make test` (CI) runs it
def test_app_exits_non_zero_with_the_sentence_and_no_traceback(context: dict, message: str) -> None:
    # The CDK CLI hands -c values to the app through CDK_CONTEXT_JSON, exactly like this.
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({**CDK_CONTEXT, **context}), "CDK_OUTDIR": "/nonexistent"}
    run = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_model_ids_given_as_tokens_pass_and_are_priced_only_by_their_token() -> None:
    from aws_cdk import App, CfnParameter, Stack

    stack = Stack(App(), "S")
    primary, fallback = (CfnParameter(stack, name).value_as_string for name in ("ModelId", "FallbackModelId"))
    price = {"input_per_1k": 0.001, "output_per_1k": 0.002}
    config = ObservabilityConfig(level=3, model_id=primary, fallback_model_id=fallback, model_prices={primary: price})
    assert (config.model_id, config.fallback_model_id) == (primary, fallback)
    with pytest.raises(ConfigError, match=r"^Setting 'model_prices' has no price for 'fallback_model_id', a token"):
        config.price_table_json()
    priced = ObservabilityConfig(level=3, model_id=primary, fallback_model_id=fallback,
                                 model_prices={primary: price, fallback: price})  # fmt: skip
    rendered = json.dumps(stack.resolve(priced.price_table_json()))
    assert '{\\"' in rendered and '{"Ref": "ModelId"}' in rendered and '{"Ref": "FallbackModelId"}' in rendered
    with pytest.raises(ConfigError, match=r"^Setting 'model_id' is 'nova': allowed is a Bedrock model id"):
        ObservabilityConfig(model_id="nova")  # a literal is still checked


def test_powertools_is_pinned_to_the_tested_release(level3: Any) -> None:
    """#15 item 12: no function resolves 'latest' at deploy time; the pin is the release the tests import."""
    import re as _re

    from llm_observability.config.bounds import POWERTOOLS_VERSION

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"aws-lambda-powertools=={POWERTOOLS_VERSION}"' in pyproject
    for template in level3.templates.values():
        parameters = [p["Default"] for p in template.get("Parameters", {}).values() if "powertools" in str(p.get("Default"))]
        assert parameters and all(p.endswith(f"/{POWERTOOLS_VERSION}") for p in parameters), parameters
        assert not _re.search(r"/aws/service/powertools/[^\"]*/latest", json.dumps(template))
