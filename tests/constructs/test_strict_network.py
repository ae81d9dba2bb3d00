"""The strict profile's network: every function in the user's VPC (CT.LAMBDA.PR.3), Lambda permissions with their
source account and ARN (CT.LAMBDA.PR.2), the OpenSearch domain as CT.OPENSEARCH.PR.10/13/14/15/16 require, and the
interface endpoints ``vpc_endpoints`` asks for; the bundled Level 3 app is synthesized once (strict, in a VPC, all
endpoints) with cdk-nag and the Control Tower rules as policy validation plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Aspects, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from llm_observability.compliance_profile import CONTEXT_KEY
from llm_observability.config import ObservabilityConfig
from llm_observability.config.rules import ENDPOINT_SERVICES
from llm_observability.constructs.log_analytics import DomainCapacity, OpenSearchDomainDestination, VpcPlacement
from llm_observability.constructs.vpc_endpoints import (
    FunctionNetwork,
    StrictFunctions,
    endpoint_services,
)
from llm_observability.errors import ConfigError
from llm_observability.stacks import build_app
from scripts.control_tower_report import plugin_failures, violations
from tests.conftest import CDK_CONTEXT, STRICT_VPC

VPC = STRICT_VPC
SUBNETS, ZONES = VPC["vpc_subnet_ids"], VPC["vpc_availability_zones"]


@pytest.fixture(scope="module")
def strict(strict_level3: dict[str, Any]) -> dict[str, Any]:
    """The strict level-3 app of the session (tests/conftest.py): every endpoint, a concrete account."""
    return strict_level3


def _of_type(templates: dict[str, Any], cfn_type: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        f"{stack}/{key}": (stack, resource)
        for stack, template in templates.items()
        for key, resource in template["Resources"].items()
        if resource["Type"] == cfn_type
    }


def _l1(strict: dict[str, Any]) -> dict[str, Any]:
    (name,) = [n for n in strict["templates"] if "-l1-" in n]
    return strict["templates"][name]


@pytest.mark.slow
def test_every_function_runs_in_the_vpc_with_network_permissions(strict: dict[str, Any]) -> None:
    functions = _of_type(strict["templates"], "AWS::Lambda::Function")
    # RAG app, AwsCustomResource provider, invocation logging, canary, forwarder, 2 x OS; judge, feedback join,
    # output drift, incident outcomes
    assert len(functions) == 7 + 4
    for path, (stack, function) in functions.items():
        config = function["Properties"]["VpcConfig"]
        assert config["SubnetIds"] == SUBNETS, path
        assert config["SecurityGroupIds"], path
        resources = strict["templates"][stack]["Resources"]
        depends = function.get("DependsOn", [])
        vpc_policies = [d for d in depends if resources[d]["Type"] == "AWS::IAM::Policy" and "VpcAccess" in d]
        assert vpc_policies, f"{path} is created before its role may manage network interfaces"
        (statement,) = resources[vpc_policies[0]]["Properties"]["PolicyDocument"]["Statement"]
        assert "ec2:CreateNetworkInterface" in statement["Action"]


@pytest.mark.slow
def test_each_stack_has_one_function_group_https_out_only(strict: dict[str, Any]) -> None:
    groups = {p: r for p, (_, r) in _of_type(strict["templates"], "AWS::EC2::SecurityGroup").items()
              if "FunctionNetworkFunctionSecurityGroup" in p}  # fmt: skip
    assert len(groups) == len(strict["templates"]) == 3  # local references only (CT.LAMBDA.PR.3)
    for group in groups.values():
        assert group["Properties"]["SecurityGroupEgress"] == [
            {"CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS APIs", "FromPort": 443, "IpProtocol": "tcp",
             "ToPort": 443}
        ]  # fmt: skip
    for stack, template in strict["templates"].items():
        for path, function in template["Resources"].items():
            if function["Type"] == "AWS::Lambda::Function" and "IndexTemplate" not in path:
                (group,) = function["Properties"]["VpcConfig"]["SecurityGroupIds"]
                assert group["Fn::GetAtt"][0].startswith("FunctionNetworkFunctionSecurityGroup"), (stack, path)


@pytest.mark.slow
def test_permissions_carry_source_account_and_arn(strict: dict[str, Any]) -> None:
    permissions = _of_type(strict["templates"], "AWS::Lambda::Permission")
    assert permissions
    for path, (_, permission) in permissions.items():
        assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}, path  # the stack's account
        assert permission["Properties"]["SourceArn"], path
        assert permission["Properties"]["Principal"] != "apigateway.amazonaws.com", path


@pytest.mark.slow
def test_the_api_invokes_the_function_with_a_role_of_its_own(strict: dict[str, Any]) -> None:
    """No resource policy for API Gateway (CT.LAMBDA.PR.2 cannot read an environment-agnostic SourceArn): each
    method's integration carries credentials, a role API Gateway assumes that may invoke the RAG function only."""
    (template,) = (t for name, t in strict["templates"].items() if "-l1-" in name)
    resources = template["Resources"]
    methods = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert len(methods) == 2
    roles = {json.dumps(m["Properties"]["Integration"]["Credentials"]) for m in methods}
    assert len(roles) == 1
    role_id = json.loads(roles.pop())["Fn::GetAtt"][0]
    (statement,) = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    policies = [
        r["Properties"] for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]  # fmt: skip
    (policy,) = policies
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert grant["Action"] == "lambda:InvokeFunction"
    assert grant["Resource"]["Fn::GetAtt"][0].startswith("RagAppFunction") and grant["Resource"]["Fn::GetAtt"][1] == "Arn"
    for method in methods:
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY" and integration["IntegrationHttpMethod"] == "POST"
        assert ":lambda:path/2015-03-31/functions/" in json.dumps(integration["Uri"])


@pytest.mark.slow
def test_endpoints_once_with_private_dns_and_their_group(strict: dict[str, Any]) -> None:
    endpoints = _of_type(strict["templates"], "AWS::EC2::VPCEndpoint")
    assert len(endpoints) == len(ENDPOINT_SERVICES)
    assert {stack for stack, _ in endpoints.values()} == {next(n for n in strict["templates"] if "-l1-" in n)}
    for path, (_, endpoint) in endpoints.items():
        props = endpoint["Properties"]
        assert props["VpcEndpointType"] == "Interface", path
        assert props["PrivateDnsEnabled"] is True, path
        assert props["SubnetIds"] == SUBNETS, path
    names = {json.dumps(e["Properties"]["ServiceName"]) for _, e in endpoints.values()}
    assert any("bedrock-runtime" in n for n in names) and any("bedrock-agent-runtime" in n for n in names)
    resources = _l1(strict)["Resources"]
    ingress = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert any(
        i["FromPort"] == 443 and "FunctionSecurityGroup" in json.dumps(i["SourceSecurityGroupId"]) for i in ingress
    )
    # Later stacks admit their own function group, with the rule written in their own template (no cycle).
    for name, template in strict["templates"].items():
        if "-l1-" not in name:
            rules = [r["Properties"] for r in template["Resources"].values()
                     if r["Type"] == "AWS::EC2::SecurityGroupIngress"
                     and "FunctionNetworkEndpointSecurityGroup" in json.dumps(r["Properties"]["GroupId"])]  # fmt: skip
            # the stack's function group, and at level 3 the index-template function's own group
            assert len(rules) == (2 if "-l3-" in name else 1), name
            assert {r["FromPort"] for r in rules} == {443}, name


@pytest.mark.slow
def test_domain_meets_the_opensearch_controls(strict: dict[str, Any]) -> None:
    ((_, domain),) = _of_type(strict["templates"], "AWS::OpenSearchService::Domain").values()
    props = domain["Properties"]
    assert props["VPCOptions"]["SubnetIds"] == SUBNETS  # CT.OPENSEARCH.PR.10
    assert props["LogPublishingOptions"]["AUDIT_LOGS"]["Enabled"] is True  # PR.13
    cluster = props["ClusterConfig"]  # PR.14
    assert cluster["ZoneAwarenessEnabled"] is True and cluster["InstanceCount"] == 3
    assert cluster["ZoneAwarenessConfig"] == {"AvailabilityZoneCount": 3}
    assert props["AdvancedSecurityOptions"]["Enabled"] is True  # PR.15
    assert "InternalUserDatabaseEnabled" in props["AdvancedSecurityOptions"]
    assert props["DomainEndpointOptions"] == {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"}


@pytest.mark.slow
def test_control_tower_lambda_and_opensearch_rules_pass(strict: dict[str, Any]) -> None:
    found = violations(strict["report"])
    remaining = {control: paths for by_control in found.values() for control, paths in by_control.items()}
    assert not any(c.startswith("CT.OPENSEARCH.") or c == "CT.LAMBDA.PR.3" for c in remaining), remaining
    # CT.LAMBDA.PR.2 in template mode reads SourceAccount as a string: an environment-agnostic stack writes
    # {"Ref": "AWS::AccountId"}, which the Control Tower hook sees resolved (see test_source_account_is_literal...).
    assert set(remaining) <= {"CT.LAMBDA.PR.2"} | {c for c in remaining if not c.startswith("CT.LAMBDA.")}
    assert plugin_failures(strict["report"], "AwsSolutions") == 0


@pytest.mark.slow
def test_cost_prices_each_endpoint_per_hour_per_zone(strict: dict[str, Any]) -> None:
    from llm_observability.assess.cost import estimate
    from llm_observability.assess.loader import load

    items = [i for i in estimate(load(strict["outdir"])).items if i.id == "vpc-endpoint"]
    assert len(items) == len(ENDPOINT_SERVICES)
    for item in items:  # 3 zones x 730 h x 0.01 USD
        assert item.quantity == 3 * 730 and item.unit_usd == 0.01 and item.monthly_usd == pytest.approx(21.9)


@pytest.mark.slow
def test_cost_keeps_a_year_of_logs_in_the_strict_profile(strict: dict[str, Any]) -> None:
    from llm_observability.assess.cost import estimate
    from llm_observability.assess.loader import load

    report = estimate(load(strict["outdir"]))
    storage = report.item("log-storage")
    assert storage.quantity == pytest.approx(report.item("log-ingestion").quantity * 12)  # 365-day retention
    assert "a year's retention" in storage.assumption


# --- small units ---------------------------------------------------------------------------------------------


def _strict_app(**context: Any) -> App:
    return App(context={**CDK_CONTEXT, CONTEXT_KEY: "strict", **context})


def test_strict_without_a_vpc_names_the_settings() -> None:
    app = _strict_app()
    with pytest.raises(ConfigError, match="vpc_id, vpc_subnet_ids and vpc_availability_zones"):
        build_app(app, config=ObservabilityConfig(compliance_profile="strict"), nag=False)


def test_vpc_endpoints_setting() -> None:
    assert ObservabilityConfig(vpc_endpoints=["all"]).vpc_endpoints == ("all",)
    assert endpoint_services(("all",)) == ENDPOINT_SERVICES
    assert endpoint_services(["ssm", "logs"]) == ("ssm", "logs")
    assert endpoint_services(()) == ()
    for bad in (["ssm", "ssm"], ["dynamodb"], "ssm"):
        with pytest.raises(ConfigError, match="vpc_endpoints"):
            endpoint_services(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'vpc_endpoints'"):
        ObservabilityConfig(vpc_endpoints=["dynamodb"])


def test_source_account_is_literal_with_an_account_and_functions_move_into_the_vpc() -> None:
    app = _strict_app()
    stack = Stack(app, "S", env={"account": "111111111111", "region": "us-east-1"})
    placement = VpcPlacement(vpc_id=VPC["vpc_id"], subnet_ids=SUBNETS[:1], availability_zones=ZONES[:1])
    network = FunctionNetwork(stack, "FunctionNetwork", placement=placement)
    Aspects.of(stack).add(StrictFunctions(network))
    function = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): return e"), timeout=Duration.seconds(3),
    )  # fmt: skip
    function.add_permission(
        "Invoke",
        principal=iam.ServicePrincipal("events.amazonaws.com"),
        source_arn="arn:aws:events:us-east-1:111111111111:rule/r",
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Lambda::Permission", {"SourceAccount": "111111111111"})
    template.has_resource_properties(
        "AWS::Lambda::Function", {"VpcConfig": {"SubnetIds": SUBNETS[:1], "SecurityGroupIds": Match.any_value()}}
    )
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_a_raw_provider_function_moves_into_the_vpc_with_its_role_allowed() -> None:
    """aws-cdk-lib's bucket-notifications handler is a raw AWS::Lambda::Function beside an L2 Role."""
    app = _strict_app()
    stack = Stack(app, "S")
    placement = VpcPlacement(vpc_id=VPC["vpc_id"], subnet_ids=SUBNETS[:1], availability_zones=ZONES[:1])
    Aspects.of(stack).add(StrictFunctions(FunctionNetwork(stack, "FunctionNetwork", placement=placement)))
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True)
    bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(sqs.Queue(stack, "Queue")))
    template = Template.from_stack(stack).to_json()
    (handler,) = [(k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    assert handler[1]["Properties"]["VpcConfig"]["SubnetIds"] == SUBNETS[:1]
    policy = next(k for k in handler[1]["DependsOn"] if "VpcAccess" in k)
    statement = template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"][0]
    assert "ec2:CreateNetworkInterface" in statement["Action"]


def test_domain_capacity_three_zones() -> None:
    assert DomainCapacity.strict() == DomainCapacity(instance_count=3, zone_awareness=True, zone_count=3)
    with pytest.raises(ConfigError, match="multiple of zone_count"):
        DomainCapacity(instance_count=4, zone_awareness=True, zone_count=3)
    with pytest.raises(ConfigError, match="zone_count"):
        DomainCapacity(zone_count=4)  # type: ignore[arg-type]
    zones = ["us-east-1a", "us-east-1a", "us-east-1c"]
    two_zones = VpcPlacement(vpc_id=VPC["vpc_id"], subnet_ids=SUBNETS, availability_zones=zones)
    with pytest.raises(ConfigError, match="first three subnets are in three different Availability Zones"):
        OpenSearchDomainDestination(vpc=two_zones, capacity=DomainCapacity.strict())


def test_strict_domain_needs_vpc_and_three_zone_aware_nodes() -> None:
    with pytest.raises(ConfigError, match="CT.OPENSEARCH.PR.10"):
        OpenSearchDomainDestination()._check_strict()
    placement = VpcPlacement(vpc_id=VPC["vpc_id"], subnet_ids=SUBNETS, availability_zones=ZONES)
    with pytest.raises(ConfigError, match="CT.OPENSEARCH.PR.14"):
        OpenSearchDomainDestination(vpc=placement)._check_strict()
    OpenSearchDomainDestination(vpc=placement, capacity=DomainCapacity.strict())._check_strict()


def test_standard_profile_adds_no_network(tmp_path: Path) -> None:
    app = App(context={**CDK_CONTEXT, **VPC}, outdir=str(tmp_path))
    build_app(app, nag=False)
    (stack,) = [c for c in app.node.children if isinstance(c, Stack)]
    assert stack.network is None and stack.node.try_find_child("FunctionNetwork") is None
