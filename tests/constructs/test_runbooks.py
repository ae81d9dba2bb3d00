"""RemediationRunbooks and SsmAutomationTarget, synthesized once.

Stack ``RunbooksWorkload`` holds what a Level 1/2 app has (an AlertTopic, the model parameter, a managed prompt
with its active-version parameter, a small REST API with a deployment stage, alarms) and RemediationRunbooks
with all three runbooks. Stack ``RunbooksCrossStack`` holds a second RemediationRunbooks on those resources
(cross-stack references, as Level 3 has them). Stack ``RunbooksTarget`` uses the target alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from llm_observability import automation as a
from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT
from tests.support.eventbridge import transform_input

PRIMARY = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK = "amazon.nova-micro-v1:0"
ALARM_NAME = "rag-demo-l1-Alarms-BedrockThrottles"
NAMESPACE, SERVICE = "LLMObservability", "rag-demo"  # where the first RemediationRunbooks says it heals
STACKS = ("RunbooksWorkload", "RunbooksCrossStack", "RunbooksTarget")
#: Which fixture alarms (by index) start which runbook in RunbooksWorkload.
ALARMS = {a.MODEL_FAILOVER: [0, 1], a.PROMPT_ROLLBACK: [2], a.API_THROTTLE: [3]}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Aspects, Stack, Validations
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_events as events
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_ssm as ssm
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.alert_topic import AlertTopic
    from llm_observability.constructs.managed_prompt import ManagedPrompt
    from llm_observability.constructs.runbooks import (
        ApiThrottleProps,
        ModelFailoverProps,
        PromptRollbackProps,
        RemediationRunbooks,
        start_automation,
    )
    from llm_observability.hygiene import NoRedundantDependsOn
    from llm_observability.nag import acknowledge

    outdir = tmp_path_factory.mktemp("runbooks")
    app = App(context=CDK_CONTEXT, outdir=str(outdir))
    workload = Stack(app, "RunbooksWorkload")
    alerts = AlertTopic(workload, "Alerts")
    model = ssm.StringParameter(workload, "ModelParameter", string_value=PRIMARY, description="Active model id.")
    prompt = ManagedPrompt(workload, "Prompt")
    access_logs = logs.LogGroup(workload, "AccessLogs", retention=logs.RetentionDays.ONE_WEEK)
    api = apigw.RestApi(
        workload,
        "Api",
        deploy_options=apigw.StageOptions(
            stage_name="prod", throttling_rate_limit=10, throttling_burst_limit=20, tracing_enabled=True,
            access_log_destination=apigw.LogGroupLogDestination(access_logs), access_log_format=apigw.AccessLogFormat.clf(),
            logging_level=apigw.MethodLoggingLevel.ERROR,
        ),
        default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
    )  # fmt: skip
    validator = api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
    method = api.root.add_method("GET", apigw.MockIntegration(), request_validator=validator)
    acknowledge(method, "AwsSolutions-COG4", "The fixture API uses IAM (SigV4) authorization, not a Cognito user pool.")
    acknowledge(
        api.deployment_stage,
        "AwsSolutions-APIG3",
        "The fixture stage has no WAF web ACL: it only gives the runbook a stage.",
    )
    metric = cw.Metric(namespace="AWS/Bedrock", metric_name="InvocationThrottles")
    alarms = [cw.Alarm(workload, f"Alarm{i}", metric=metric, threshold=1, evaluation_periods=1) for i in range(4)]
    rollback = PromptRollbackProps(alarms=alarms[2:3], prompt_parameter=prompt.active_version, prompt_arn=prompt.prompt_arn)
    runbooks = RemediationRunbooks(
        workload, "Runbooks", topic=alerts.topic, topic_key=alerts.key,
        model_failover=ModelFailoverProps(alarms=alarms[:2], model_parameter=model, primary_model_id=PRIMARY,
                                          fallback_model_id=FALLBACK),
        prompt_rollback=rollback,
        api_throttle=ApiThrottleProps(alarms=alarms[3:], rest_api=api, stage_name=api.deployment_stage.stage_name,
                                      normal_rate_limit=10, normal_burst_limit=20),
        metric_namespace=NAMESPACE, service=SERVICE,
    )  # fmt: skip

    level3 = Stack(app, "RunbooksCrossStack")
    cross = RemediationRunbooks(
        level3, "Runbooks", topic=alerts.topic, topic_key=alerts.key,
        model_failover=ModelFailoverProps(alarms=alarms[:1], model_parameter=model, primary_model_id=PRIMARY,
                                          fallback_model_id=FALLBACK),
        prompt_rollback=rollback,
    )  # fmt: skip

    alone = Stack(app, "RunbooksTarget")
    target = start_automation(
        "AWS-PublishSNSNotification",
        parameters={"TopicArn": "arn:aws:sns:us-east-1:123456789012:ops", "Message": a.ALARM_NAME},
    )
    for state in (a.ALARM, a.OK):
        rule = events.Rule(
            alone, f"On{state.capitalize()}", event_pattern=events.EventPattern(source=["aws.cloudwatch"])
        )
        rule.add_target(target)

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Aspects.of(app).add(NoRedundantDependsOn())
    app.synth()  # raises RuntimeError("...ValidationFailed...") on an unacknowledged cdk-nag finding
    stacks = {"RunbooksWorkload": workload, "RunbooksCrossStack": level3, "RunbooksTarget": alone}
    files = {name: outdir / f"{stack.artifact_id}.template.json" for name, stack in stacks.items()}
    return {
        "outdir": outdir,
        "files": files,
        "templates": {name: json.loads(path.read_text()) for name, path in files.items()},
        "runbooks": runbooks,
        "cross": cross,
        "ids": {
            "alarms": [workload.get_logical_id(alarm.node.default_child) for alarm in alarms],
            "topic": workload.get_logical_id(alerts.topic.node.default_child),
            "key": workload.get_logical_id(alerts.key.node.default_child),
            "model": workload.get_logical_id(model.node.default_child),
            "prompt_parameter": workload.get_logical_id(prompt.active_version.node.default_child),
            "prompt": workload.get_logical_id(prompt.prompt),
            "api": workload.get_logical_id(api.node.default_child),
            "stage": workload.get_logical_id(api.deployment_stage.node.default_child),
        },
    }


def _resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _id(construct: Any) -> str:
    from aws_cdk import CfnElement, Stack

    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    return Stack.of(element).get_logical_id(element)


def _policy_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        p for p in _resources(template, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _arn(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


PARTITION, REGION, ACCOUNT = {"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}


def _definition(document_id: str) -> dict[str, Any]:
    return _arn(
        "arn:", PARTITION, ":ssm:", REGION, ":", ACCOUNT, ":automation-definition/", {"Ref": document_id}, ":$DEFAULT"
    )


def _render(value: Any) -> str:
    """An InputTemplate as text: references become ``<<Ref:Id>>`` / ``<<Id.Attr>>`` placeholders."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(_render(item) for item in items)
    if "Ref" in value:
        return f"<<Ref:{value['Ref']}>>"
    return f"<<{'.'.join(value['Fn::GetAtt'])}>>"


# --- security gate -----------------------------------------------------------------------------------------------
def test_cdk_nag_reports_nothing(app: dict[str, Any]) -> None:
    report = json.loads((app["outdir"] / "validation-report.json").read_text())
    assert report["pluginReports"] == []


@pytest.mark.slow  # cfn-lint: `make test` (CI) runs it, `make test-fast` does not
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_reports_nothing(app: dict[str, Any], stack: str) -> None:
    matches = lint_file(app["files"][stack], ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def _acknowledged(construct: Any) -> dict[str, str]:
    from aws_cdk import Validations

    found: dict[str, str] = {}
    for node in construct.node.find_all():
        for entry in node.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found.update(entry.data)
    return found


def test_the_only_acknowledgments_are_getprompt_and_the_dead_letter_queue(app: dict[str, Any]) -> None:
    same, cross = _acknowledged(app["runbooks"]), _acknowledged(app["cross"])
    dead_letters = {"Annotation::AwsSolutions-SQS3"}  # the queue is itself the dead-letter queue: its own reason
    assert _acknowledged(app["runbooks"].dead_letter_queue).keys() == dead_letters
    assert "dead-letter queue of the runbooks' EventBridge targets" in same.pop("Annotation::AwsSolutions-SQS3")
    cross.pop("Annotation::AwsSolutions-SQS3")
    # PutMetricData has no resource-level permissions: its grant is scoped by the namespace condition instead.
    assert "cloudwatch:namespace condition" in same.pop("AwsSolutions-IAM5[Resource::*]")
    assert "cloudwatch:namespace condition" in cross.pop("AwsSolutions-IAM5[Resource::*]")
    assert list(same) == [f"AwsSolutions-IAM5[Resource::<{app['ids']['prompt']}.Arn>:*]"]
    # Across stacks the ARN is a stack output reference, resolved only when the app is prepared for synthesis.
    (finding,) = cross
    assert finding.startswith('AwsSolutions-IAM5[Resource::{"Fn::GetStackOutput":') and finding.endswith(":*]")
    assert app["ids"]["prompt"] in finding
    assert all("run time" in reason for reason in [*same.values(), *cross.values()])


def test_nag_resource_renders_like_cdk_nag() -> None:
    from llm_observability.nag import render_resource as nag_resource

    assert nag_resource({"Fn::Join": ["", [{"Fn::GetAtt": ["Prompt", "Arn"]}, ":*"]]}) == "<Prompt.Arn>:*"
    assert nag_resource({"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "x/*"]]}) == "arn:<AWS::Partition>:x/*"
    assert nag_resource({"Fn::ImportValue": "Stack:Export"}) == "Stack:Export"
    assert nag_resource({"Fn::Sub": "arn:${AWS::Partition}:x"}) == "arn:<AWS::Partition>:x"
    assert nag_resource({"Fn::GetStackOutput": {"OutputName": "O"}}) == '{"Fn::GetStackOutput":{"OutputName":"O"}}'


# --- documents ---------------------------------------------------------------------------------------------------
def test_each_runbook_is_an_automation_document_that_validates(app: dict[str, Any]) -> None:
    documents = _resources(app["templates"]["RunbooksWorkload"], "AWS::SSM::Document")
    assert set(documents) == {_id(d) for d in app["runbooks"].documents.values()}
    for runbook, document in app["runbooks"].documents.items():
        properties = documents[_id(document)]["Properties"]
        assert (properties["DocumentType"], properties["DocumentFormat"]) == ("Automation", "JSON")
        assert "Name" not in properties  # generated: two apps in one account never collide
        content = properties["Content"]
        content = json.loads(content) if isinstance(content, str) else content
        assert content == a.DOCUMENTS[runbook]()
        assert a.validate_document(content) == []
    assert set(app["cross"].documents) == {a.MODEL_FAILOVER, a.PROMPT_ROLLBACK}  # no rest_api: no throttle runbook


# --- EventBridge rules and targets -------------------------------------------------------------------------------
def test_rules_match_exactly_their_alarms_and_states(app: dict[str, Any]) -> None:
    rules = _resources(app["templates"]["RunbooksWorkload"], "AWS::Events::Rule")
    assert len(rules) == 6
    for runbook, by_state in app["runbooks"].rules.items():
        assert set(by_state) == {a.ALARM, a.OK}
        arns = [{"Fn::GetAtt": [app["ids"]["alarms"][i], "Arn"]} for i in ALARMS[runbook]]
        for state, rule in by_state.items():
            assert rules[_id(rule)]["Properties"]["EventPattern"] == {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": arns,
                "detail": {"state": {"value": [state]}},
            }
            assert rules[_id(rule)]["Properties"]["State"] == "ENABLED"


def test_targets_start_the_default_version_of_their_document(app: dict[str, Any]) -> None:
    rules = _resources(app["templates"]["RunbooksWorkload"], "AWS::Events::Rule")
    for runbook, by_state in app["runbooks"].rules.items():
        for rule in by_state.values():
            (target,) = rules[_id(rule)]["Properties"]["Targets"]
            assert target["Arn"] == _definition(_id(app["runbooks"].documents[runbook]))
            assert target["RoleArn"] == {"Fn::GetAtt": [_id(app["runbooks"].target_roles[runbook]), "Arn"]}


def test_each_target_role_may_start_exactly_its_document(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksWorkload"]
    roles = _resources(template, "AWS::IAM::Role")
    automation_role = _id(app["runbooks"].role)
    rules_by_id = _resources(template, "AWS::Events::Rule")
    for runbook, role in app["runbooks"].target_roles.items():
        assert _policy_of(template, _id(role)) == [
            {"Sid": "StartAutomation", "Effect": "Allow", "Action": "ssm:StartAutomationExecution",
             "Resource": _definition(_id(app["runbooks"].documents[runbook]))},
            {"Sid": "PassAutomationRole", "Effect": "Allow", "Action": "iam:PassRole",
             "Resource": {"Fn::GetAtt": [automation_role, "Arn"]},
             "Condition": {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}},
        ]  # fmt: skip
        (trust,) = roles[_id(role)]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "events.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
        # Exactly its own rules (by their names: #15 item 12), not any rule of the account.
        names = [rules_by_id[_id(rule)]["Properties"]["Name"] for rule in app["runbooks"].rules[runbook].values()]
        assert trust["Condition"]["ArnEquals"] == {
            "aws:SourceArn": [_arn("arn:", PARTITION, ":events:", REGION, ":", ACCOUNT, f":rule/{n}") for n in names]
        }
        assert all(len(n) <= 64 for n in names) and len(set(names)) == len(names)
        assert "ManagedPolicyArns" not in roles[_id(role)]["Properties"]


def test_each_rule_sends_the_document_parameters_with_its_mode(app: dict[str, Any]) -> None:
    ids, rb = app["ids"], app["runbooks"]
    rules = _resources(app["templates"]["RunbooksWorkload"], "AWS::Events::Rule")
    role, topic = f"<<{_id(rb.role)}.Arn>>", f"<<Ref:{ids['topic']}>>"
    healing = {"metric_namespace": NAMESPACE, "service_name": SERVICE}
    inputs = {
        a.MODEL_FAILOVER: lambda mode: a.model_failover_input(
            mode, assume_role_arn=role, model_parameter_name=f"<<Ref:{ids['model']}>>", primary_model_id=PRIMARY,
            fallback_model_id=FALLBACK, topic_arn=topic, **healing),
        a.PROMPT_ROLLBACK: lambda mode: a.prompt_rollback_input(
            mode, assume_role_arn=role, prompt_parameter_name=f"<<Ref:{ids['prompt_parameter']}>>", topic_arn=topic,
            **healing),
        a.API_THROTTLE: lambda mode: a.api_throttle_input(
            mode, assume_role_arn=role, rest_api_id=f"<<Ref:{ids['api']}>>", stage_name=f"<<Ref:{ids['stage']}>>",
            normal_rate_limit=10, normal_burst_limit=20, tightened_rate_limit=2, tightened_burst_limit=5, topic_arn=topic,
            **healing),
    }  # fmt: skip
    event = {"detail": {"alarmName": ALARM_NAME}}
    for runbook, by_state in rb.rules.items():
        for state, rule in by_state.items():
            (target,) = rules[_id(rule)]["Properties"]["Targets"]
            transformer = target["InputTransformer"]
            assert transformer["InputPathsMap"] == {"detail-alarmName": "$.detail.alarmName"}
            text = _render(transformer["InputTemplate"]).replace("<detail-alarmName>", json.dumps(ALARM_NAME))
            sent = json.loads(text)  # what EventBridge passes to StartAutomationExecution as Parameters
            mode = a.STATE_MODES[runbook][state]
            assert sent["Mode"] == [mode]
            assert sent == transform_input(inputs[runbook](mode), event)
            assert set(sent) == set(a.DOCUMENTS[runbook]()["parameters"])


# --- the automation role -----------------------------------------------------------------------------------------
def test_automation_role_is_trusted_by_automation_of_this_account_only(app: dict[str, Any]) -> None:
    role = _resources(app["templates"]["RunbooksWorkload"], "AWS::IAM::Role")[_id(app["runbooks"].role)]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": _arn("arn:", PARTITION, ":ssm:", REGION, ":", ACCOUNT, ":automation-execution/*")},
    }
    assert "ManagedPolicyArns" not in role and "Policies" not in role


def test_automation_role_may_do_exactly_what_the_documents_do(app: dict[str, Any]) -> None:
    ids = app["ids"]
    statements = _policy_of(app["templates"]["RunbooksWorkload"], _id(app["runbooks"].role))

    def parameter(logical_id: str) -> dict[str, Any]:
        return _arn("arn:", PARTITION, ":ssm:", REGION, ":", ACCOUNT, ":parameter/", {"Ref": logical_id})

    prompt = {"Fn::GetAtt": [ids["prompt"], "Arn"]}
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in statements} == {
        "RecordRuns": ("sns:Publish", {"Ref": ids["topic"]}),
        "EncryptRecords": (["kms:Decrypt", "kms:GenerateDataKey"], {"Fn::GetAtt": [ids["key"], "Arn"]}),
        "SwitchModel": (["ssm:GetParameter", "ssm:PutParameter"], parameter(ids["model"])),
        "RollBackPrompt": (["ssm:GetParameter", "ssm:PutParameter"], parameter(ids["prompt_parameter"])),
        "ReadPromptVersions": ("bedrock:GetPrompt", [prompt, _arn(prompt, ":*")]),
        "ThrottleStage": ("apigateway:PATCH", _arn(
            "arn:", PARTITION, ":apigateway:", REGION, "::/restapis/", {"Ref": ids["api"]}, "/stages/", {"Ref": ids["stage"]}
        )),
        "PublishHealing": ("cloudwatch:PutMetricData", "*"),
    }  # fmt: skip
    assert all(s["Effect"] == "Allow" for s in statements)
    # PutMetricData has no resource-level permissions: the namespace condition is its only scope, and the only condition.
    assert {s["Sid"]: s["Condition"] for s in statements if "Condition" in s} == {
        "PublishHealing": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}
    }
    # The API calls of the documents, mapped to IAM actions: nothing more is granted.
    called = {(s["inputs"]["Service"], s["inputs"]["Api"]) for d in a.DOCUMENTS.values() for s in d()["mainSteps"]
              if "Service" in s.get("inputs", {})}  # fmt: skip
    assert called == {("ssm", "GetParameter"), ("ssm", "PutParameter"), ("sns", "Publish"), ("bedrock-agent", "GetPrompt"),
                      ("apigateway", "UpdateStage"), ("cloudwatch", "PutMetricData")}  # fmt: skip


def test_the_topic_and_its_key_allow_nothing_new(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksWorkload"]
    (policy,) = _resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    principals = json.dumps([s.get("Principal") for s in statements])
    assert "ssm.amazonaws.com" not in principals and "events.amazonaws.com" not in principals
    assert sorted(s["Effect"] for s in statements) == ["Allow", "Deny"]  # CloudWatch may publish; non-TLS is denied
    (key,) = _resources(template, "AWS::KMS::Key").values()
    assert "ssm.amazonaws.com" not in json.dumps(key) and "events.amazonaws.com" not in json.dumps(key)


def test_cross_stack_runbooks_reference_the_workload_s_resources(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksCrossStack"]
    text = json.dumps(template)
    assert "RunbooksWorkload" in text and app["ids"]["prompt"] in text
    assert len(_resources(template, "AWS::Events::Rule")) == 4 and len(_resources(template, "AWS::SSM::Document")) == 2


# --- the target alone --------------------------------------------------------------------------------------------
def test_a_target_without_a_role_creates_one_and_reuses_it(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksTarget"]
    (role_id,) = _resources(template, "AWS::IAM::Role")
    definition = _arn(
        "arn:", PARTITION, ":ssm:", REGION, ":", ACCOUNT, ":automation-definition/AWS-PublishSNSNotification:$DEFAULT"
    )
    assert _policy_of(template, role_id) == [
        {"Sid": "StartAutomation", "Effect": "Allow", "Action": "ssm:StartAutomationExecution", "Resource": definition}
    ]
    for rule in _resources(template, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == definition and target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"] == {"detail-alarmName": "$.detail.alarmName"}
        assert json.loads(transformer["InputTemplate"].replace("<detail-alarmName>", '"x"')) == {
            "TopicArn": ["arn:aws:sns:us-east-1:123456789012:ops"],
            "Message": ["x"],
        }


# --- bad input ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scratch() -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_ssm as ssm

    from llm_observability.constructs.runbooks import ModelFailoverProps

    stack = Stack(App(), "Scratch")
    alarm = cw.Alarm(
        stack, "Alarm", metric=cw.Metric(namespace="X", metric_name="Y"), threshold=1, evaluation_periods=1
    )
    model = ssm.StringParameter(stack, "Model", string_value=PRIMARY)
    return {
        "stack": stack,
        "topic": sns.Topic(stack, "Topic"),
        "failover": ModelFailoverProps(alarms=[alarm], model_parameter=model, primary_model_id=PRIMARY,
                                       fallback_model_id=FALLBACK),  # fmt: skip
        "base": {
            "ModelFailoverProps": {
                "alarms": [alarm], "model_parameter": model, "primary_model_id": PRIMARY, "fallback_model_id": FALLBACK,
            },
            "PromptRollbackProps": {
                "alarms": [alarm], "prompt_arn": PROMPT,
                "prompt_parameter": ssm.StringParameter(
                    stack, "PromptVersion", string_value="arn:aws:bedrock:us-east-1:123456789012:prompt/P:1"
                ),
            },
            "ApiThrottleProps": {
                "alarms": [alarm], "rest_api": apigw.RestApi.from_rest_api_id(stack, "Api", "a1b2c3d4e5"),
                "stage_name": "prod", "normal_rate_limit": 10, "normal_burst_limit": 20,
            },
        },  # fmt: skip
    }


PROMPT = "arn:aws:bedrock:us-east-1:123456789012:prompt/PROMPT1234"
BAD = [
    ("primary", "ModelFailoverProps", {"primary_model_id": "gpt 4"},
     (r"^ModelFailoverProps 'primary_model_id' is 'gpt 4': allowed is a Bedrock model id, inference-profile id or model "
     r"ARN that the RAG function accepts, such as amazon\.nova-lite-v1:0\.$")),
    ("fallback-case", "ModelFailoverProps", {"fallback_model_id": "Amazon.Nova-Micro"},
     r"^ModelFailoverProps 'fallback_model_id' is 'Amazon\.Nova-Micro': allowed"),
    ("same-model", "ModelFailoverProps", {"fallback_model_id": PRIMARY},
     rf"^ModelFailoverProps 'fallback_model_id' is '{PRIMARY}': allowed is a model other than 'primary_model_id'\.$"),
    ("no-failover-alarm", "ModelFailoverProps", {"alarms": []},
     r"^ModelFailoverProps 'alarms' is empty: allowed is one or more CloudWatch alarms that start the model failover\.$"),
    ("alarm-name-not-alarm", "ModelFailoverProps", {"alarms": "BedrockThrottles"},
     r"^ModelFailoverProps 'alarms' is 'BedrockThrottles': allowed is one or more CloudWatch alarms that start"),
    ("versioned-arn", "PromptRollbackProps", {"prompt_arn": f"{PROMPT}:3"},
     r"^PromptRollbackProps 'prompt_arn' is '.*:3': allowed is a prompt ARN without a version, such as arn:aws:bedrock:"),
    ("no-arn", "PromptRollbackProps", {"prompt_arn": None}, r"^PromptRollbackProps 'prompt_arn' is None: allowed is a prompt ARN"),
    ("no-quality-alarm", "PromptRollbackProps", {"alarms": ()},
     r"^PromptRollbackProps 'alarms' is empty: allowed is one or more CloudWatch alarms that start the prompt rollback\.$"),
    ("no-stage", "ApiThrottleProps", {"stage_name": None},
     r"^ApiThrottleProps 'stage_name' is None: allowed is the name of a stage of 'rest_api'"),
    ("bad-stage", "ApiThrottleProps", {"stage_name": "prod stage"}, r"^ApiThrottleProps 'stage_name' is 'prod stage': allowed"),
    ("zero-rate", "ApiThrottleProps", {"normal_rate_limit": 0},
     r"^ApiThrottleProps 'normal_rate_limit' is 0: allowed is a number of requests per second above 0"),
    ("negative-tightened", "ApiThrottleProps", {"tightened_rate_limit": -1}, r"^ApiThrottleProps 'tightened_rate_limit' is -1:"),
    ("fractional-burst", "ApiThrottleProps", {"normal_burst_limit": 2.5},
     r"^ApiThrottleProps 'normal_burst_limit' is 2\.5: allowed is a whole number from 1 to 9999\.$"),
    ("rate-not-below", "ApiThrottleProps", {"tightened_rate_limit": 10},
     r"^ApiThrottleProps 'tightened_rate_limit' is 10: allowed is a limit below 'normal_rate_limit' \(10\)\.$"),
    ("burst-above", "ApiThrottleProps", {"tightened_burst_limit": 25},
     r"^ApiThrottleProps 'tightened_burst_limit' is 25: allowed is at most 'normal_burst_limit' \(20\)\.$"),
    ("no-throttle-alarm", "ApiThrottleProps", {"alarms": []},
     r"^ApiThrottleProps 'alarms' is empty: allowed is one or more CloudWatch alarms that start the API throttle\.$"),
]  # fmt: skip


@pytest.mark.parametrize(("props", "overrides", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_runbook_props_fail_with_one_sentence(
    scratch: dict[str, Any], props: str, overrides: dict[str, Any], message: str
) -> None:
    from llm_observability.constructs import runbooks

    with pytest.raises(ConfigError, match=message) as error:
        getattr(runbooks, props)(**{**scratch["base"][props], **overrides})
    assert "\n" not in str(error.value) and str(error.value).endswith(".")


def test_valid_props_are_frozen_and_hold_the_alarms_as_a_tuple(scratch: dict[str, Any]) -> None:
    from dataclasses import FrozenInstanceError

    from llm_observability.constructs.runbooks import ApiThrottleProps

    props = ApiThrottleProps(**scratch["base"]["ApiThrottleProps"])
    assert props.alarms == tuple(scratch["base"]["ApiThrottleProps"]["alarms"])
    assert (props.tightened_rate_limit, props.tightened_burst_limit) == (2, 5)
    with pytest.raises(FrozenInstanceError):
        props.stage_name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_failover": None},
         r"^RemediationRunbooks has no runbook: allowed is at least one of 'model_failover', 'prompt_rollback' and "
         r"'api_throttle'\.$"),
        ({"prompt_rollback": "failover"},
         r"^RemediationRunbooks 'prompt_rollback' is a ModelFailoverProps: allowed is a PromptRollbackProps, or None\.$"),
    ],
    ids=["no-runbook", "wrong-props"],
)  # fmt: skip
def test_runbooks_take_one_props_object_per_runbook(scratch: dict[str, Any], overrides: dict[str, Any], message: str) -> None:
    from llm_observability.constructs.runbooks import RemediationRunbooks

    kwargs = {"model_failover": scratch["failover"], **overrides}
    kwargs = {k: scratch["failover"] if v == "failover" else v for k, v in kwargs.items()}
    with pytest.raises(ConfigError, match=message):
        RemediationRunbooks(scratch["stack"], "Runbooks", topic=scratch["topic"], **kwargs)
    assert scratch["stack"].node.try_find_child("Runbooks") is None  # nothing half-built is left behind


def test_an_invalid_document_stops_synth(scratch: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_observability.constructs.runbooks import RemediationRunbooks

    monkeypatch.setitem(a.DOCUMENTS, a.MODEL_FAILOVER, lambda: {**a.model_failover_document(), "schemaVersion": "0.2"})
    with pytest.raises(
        ConfigError,
        match=r"^RemediationRunbooks document 'model_failover' is invalid \(schemaVersion is '0\.2': allowed is '0\.3' "
        r"\(Automation runbooks\)\): allowed is a document that passes llm_observability\.automation\.validate_document\.$",
    ):
        RemediationRunbooks(scratch["stack"], "Invalid", topic=scratch["topic"], model_failover=scratch["failover"])
    assert scratch["stack"].node.try_find_child("Invalid") is None


def test_a_throttle_alone_is_one_runbook_without_the_model_grant(scratch: dict[str, Any]) -> None:
    """A workload without a model parameter gets the runbooks it can feed: here the API throttle alone."""
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from llm_observability.constructs.runbooks import ApiThrottleProps, RemediationRunbooks

    stack = Stack(scratch["stack"].node.root, "ThrottleOnly")
    props = {**scratch["base"]["ApiThrottleProps"]}
    runbooks = RemediationRunbooks(stack, "Runbooks", topic=scratch["topic"], api_throttle=ApiThrottleProps(**props))
    assert list(runbooks.documents) == [a.API_THROTTLE] and list(runbooks.rules) == [a.API_THROTTLE]
    policies = json.dumps(Template.from_stack(stack).find_resources("AWS::IAM::Policy"))
    assert "apigateway:PATCH" in policies and "ssm:PutParameter" not in policies


# --- a start EventBridge could not make is kept and pages (#15 item 9) ------------------------------------------------
def test_every_runbook_target_has_the_dead_letter_queue_and_retries(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksWorkload"]
    rules = _resources(template, "AWS::Events::Rule")
    queue_id = _id(app["runbooks"].dead_letter_queue)
    for by_state in app["runbooks"].rules.values():
        for rule in by_state.values():
            (target,) = rules[_id(rule)]["Properties"]["Targets"]
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
            assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2}
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_only_the_runbooks_rules_may_send_to_the_dead_letter_queue(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksWorkload"]
    queue_id = _id(app["runbooks"].dead_letter_queue)
    (policy,) = [p for p in _resources(template, "AWS::SQS::QueuePolicy").values() if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    sends = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    rule_ids = {_id(rule) for by_state in app["runbooks"].rules.values() for rule in by_state.values()}
    assert {s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0] for s in sends} == rule_ids
    assert all(s["Principal"] == {"Service": "events.amazonaws.com"} and s["Effect"] == "Allow" for s in sends)
    assert [s for s in statements if s["Effect"] == "Deny"]  # TLS only


def test_the_dead_letter_alarm_pages_on_the_topic(app: dict[str, Any]) -> None:
    template = app["templates"]["RunbooksWorkload"]
    alarm = template["Resources"][_id(app["runbooks"].dead_letter_alarm)]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Namespace"] == "AWS/SQS"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": app["ids"]["topic"]}]


def test_the_healing_alarm_watches_the_metric_the_documents_put(app: dict[str, Any]) -> None:
    for stack, runbooks, service in (
        ("RunbooksWorkload", app["runbooks"], SERVICE),
        ("RunbooksCrossStack", app["cross"], "RunbooksCrossStack-Runbooks-41793254"),  # Default: its unique name
    ):
        alarm = app["templates"][stack]["Resources"][_id(runbooks.healing_alarm)]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, a.HEALING_METRIC)
        assert alarm["Dimensions"] == [{"Name": a.HEALING_DIMENSION, "Value": service}]
        assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 60, 1)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
        assert alarm["TreatMissingData"] == "notBreaching"  # a run that died before its last step clears too
        assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(alarm)  # it only suppresses
    # What the rules send is what the alarm watches.
    (rule,) = [r for r in app["runbooks"].rules[a.MODEL_FAILOVER].values()][:1]
    template = _resources(app["templates"]["RunbooksWorkload"], "AWS::Events::Rule")[_id(rule)]["Properties"]
    sent = json.loads(_render(template["Targets"][0]["InputTransformer"]["InputTemplate"]).replace("<detail-alarmName>", '"x"'))
    assert (sent["MetricNamespace"], sent["ServiceName"]) == ([NAMESPACE], [SERVICE])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"metric_namespace": "AWS/Bedrock"}, "RemediationRunbooks 'metric_namespace' is 'AWS/Bedrock': allowed is a custom"),
        ({"service": "rag demo!"}, "RemediationRunbooks 'service' is 'rag demo!': allowed is 1-255 letters"),
    ],
)
def test_bad_healing_settings_fail_with_one_sentence(scratch: dict[str, Any], overrides: dict[str, Any], message: str) -> None:
    from llm_observability.constructs.runbooks import RemediationRunbooks

    with pytest.raises(ConfigError, match=re.escape(message)):
        RemediationRunbooks(scratch["stack"], "Healing", topic=scratch["topic"], model_failover=scratch["failover"], **overrides)


def test_a_standalone_target_without_a_queue_has_none(app: dict[str, Any]) -> None:
    rules = _resources(app["templates"]["RunbooksTarget"], "AWS::Events::Rule")
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" not in target


@pytest.mark.parametrize("attempts", [-1, 186, True, 1.5])
def test_bad_retry_attempts_fail_with_one_sentence(attempts: Any) -> None:
    from llm_observability.constructs.runbooks import SsmAutomationTarget
    from llm_observability.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^SsmAutomationTarget 'retry_attempts' is .*: allowed is a whole number"):
        SsmAutomationTarget("Doc", parameters={}, retry_attempts=attempts)
