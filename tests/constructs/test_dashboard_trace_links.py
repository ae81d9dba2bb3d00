"""The Level 1 dashboard links the traces: Transaction Search filtered to the workload's service, and the trace map.

A workload that is not the reference app (its own function, name ``their-bot``) is observed in a stack of its own;
the reference app's links are read from the session's Level 1 app.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import SynthResult

CONSOLE = "https://console.aws.amazon.com/cloudwatch/home?region="


@pytest.fixture(scope="module")
def foreign() -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from llm_observability import LlmDashboard, Workload

    stack = Stack(App(), "TheirApp")
    fn = lambda_.Function(
        stack, "TheirFunction", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )  # fmt: skip
    workload = Workload.from_function(fn, name="their-bot", model_ids=("amazon.nova-lite-v1:0",))
    dashboard = LlmDashboard(stack, "Dashboard", workload=workload)
    template = Template.from_stack(stack).to_json()
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    return {"stack": stack, "dashboard": dashboard, "body": resource["Properties"]["DashboardBody"]}


def _heading(body: Any) -> str:
    """The dashboard's first text widget, with ``${Region}`` where the stack's region is filled in at deploy."""
    parts = body["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "${" + str(p.get("Ref", next(iter(p)))) + "}" for p in parts)
    heading = next(w for w in json.loads(text.replace("${AWS::Region}", "REGION"))["widgets"] if w["type"] == "text")
    return str(heading["properties"]["markdown"]).replace("REGION", "${Region}")


def test_heading_links_transaction_search_for_the_workloads_service_and_the_trace_map(foreign: dict[str, Any]) -> None:
    heading = _heading(foreign["body"])
    search = CONSOLE + "${Region}#xray:traces/query?~(query~(expression~'service(*22their-bot*22)'))"
    assert f"[Transaction Search for `their-bot`]({search})" in heading
    assert f"[trace map]({CONSOLE}${{Region}}#xray:service-map/map)" in heading
    assert "traces in the X-Ray trace map" not in heading


def test_the_region_is_the_stacks(foreign: dict[str, Any]) -> None:
    stack, dashboard = foreign["stack"], foreign["dashboard"]
    for url in (dashboard.transaction_search_url, dashboard.trace_map_url):
        resolved = stack.resolve(url)
        assert resolved["Fn::Join"][1][:2] == [CONSOLE, {"Ref": "AWS::Region"}]


def test_the_query_decodes_to_the_service_filter_expression() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.dashboard import transaction_search_url

    stack = Stack(App(), "S")
    fragment = stack.resolve(transaction_search_url("rag-demo"))["Fn::Join"][1][2]
    expression = fragment.split("expression~'", 1)[1].split("'", 1)[0]
    assert unquote(expression.replace("*", "%")) == 'service("rag-demo")'
    assert "%" not in fragment and '"' not in fragment  # the console's encoding: '*' for '%', no raw quotes


def test_the_reference_app_links_its_own_service(level1: SynthResult) -> None:
    (resource,) = level1.resources("AWS::CloudWatch::Dashboard").values()
    heading = _heading(resource["Properties"]["DashboardBody"])
    assert "[Transaction Search for `rag-demo`]" in heading and "service(*22rag-demo*22)" in heading
    assert "#xray:service-map/map" in heading
