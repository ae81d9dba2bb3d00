"""Level 2 LLM quality: guardrail, managed prompt versions, quality canary, drift and feedback."""

from __future__ import annotations

import json

from llm_observability.functions.quality_canary import canary_telemetry as ct
from llm_observability.runtime import telemetry as t
from tests.conftest import SynthResult, alarm_metric


def _function_env(result: SynthResult) -> dict:
    (fn,) = [v for k, v in result.resources("AWS::Lambda::Function", level=1).items() if k.startswith("RagAppFunction")]
    return fn["Properties"]["Environment"]["Variables"]


def _function_statements(result: SynthResult) -> str:
    return json.dumps([p for k, p in result.resources("AWS::IAM::Policy", level=1).items() if "RagAppFunctionRole" in k])


def test_level1_alone_has_no_guardrail_or_managed_prompt(level1: SynthResult) -> None:
    types = {r["Type"] for r in level1.template(1)["Resources"].values()}
    assert not types & {"AWS::Bedrock::Guardrail", "AWS::Bedrock::Prompt"}
    assert t.ENV_GUARDRAIL_ID not in _function_env(level1)


def test_guardrail_checks_grounding_relevance_content_attacks_and_pii(level2: SynthResult) -> None:
    (guardrail,) = level2.resources("AWS::Bedrock::Guardrail", level=1).values()
    props = guardrail["Properties"]
    grounding = {f["Type"]: f["Threshold"] for f in props["ContextualGroundingPolicyConfig"]["FiltersConfig"]}
    assert grounding == {"GROUNDING": 0.75, "RELEVANCE": 0.5}
    content = {f["Type"]: (f["InputStrength"], f["OutputStrength"]) for f in props["ContentPolicyConfig"]["FiltersConfig"]}
    assert content["PROMPT_ATTACK"] == ("HIGH", "NONE") and content["HATE"] == ("HIGH", "HIGH")
    pii = {e["Type"]: e["Action"] for e in props["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"]}
    assert pii["EMAIL"] == "ANONYMIZE" and pii["CREDIT_DEBIT_CARD_NUMBER"] == "BLOCK"
    (version_id,) = level2.resources("AWS::Bedrock::GuardrailVersion", level=1)
    env = _function_env(level2)
    assert env[t.ENV_GUARDRAIL_VERSION] == {"Fn::GetAtt": [version_id, "Version"]}
    assert "bedrock:ApplyGuardrail" in _function_statements(level2)


def test_prompt_is_versioned_kept_and_pointed_to_by_a_parameter(level2: SynthResult) -> None:
    (prompt,) = level2.resources("AWS::Bedrock::Prompt", level=1).values()
    (variant,) = prompt["Properties"]["Variants"]
    text = variant["TemplateConfiguration"]["Text"]["Text"]
    assert "{{question}}" in text and "{{passages}}" in text
    ((version_id, version),) = level2.resources("AWS::Bedrock::PromptVersion", level=1).items()
    assert version["DeletionPolicy"] == "Retain"  # superseded versions stay for rollbacks
    (parameter_id, parameter) = next(iter(level2.resources("AWS::SSM::Parameter", level=1).items()))
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": [version_id, "Arn"]}
    assert _function_env(level2)[t.ENV_PROMPT_PARAMETER_NAME] == {"Ref": parameter_id}
    statements = _function_statements(level2)
    assert "bedrock:GetPrompt" in statements and "ssm:GetParameter" in statements


def test_quality_canary_runs_the_rag_function_on_a_schedule(level2: SynthResult) -> None:
    functions = level2.resources("AWS::Lambda::Function", level=2)
    (canary,) = [f for k, f in functions.items() if k.startswith("QualityCanaryFunction")]
    env = canary["Properties"]["Environment"]["Variables"]
    assert ct.ENV_TARGET_FUNCTION_NAME in env and env["POWERTOOLS_SERVICE_NAME"] == "rag-demo"
    contract = json.loads(env[ct.ENV_REQUEST_CONTRACT])  # the reference app's: POST /ask {"question"} -> answer
    assert (contract["method"], contract["path"], contract["body"]) == ("POST", "/ask", {"question": "{question}"})
    assert (contract["answer_path"], contract["model_path"]) == ("$.answer", "$.model_id")
    ((rule_id, rule),) = [
        (k, r) for k, r in level2.resources("AWS::Events::Rule", level=2).items() if k.startswith("QualityCanarySchedule")
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    # A run EventBridge could not start is kept (#15 item 9), and only this rule may put it there.
    (target,) = rule["Properties"]["Targets"]
    (queue_id,) = [k for k in level2.resources("AWS::SQS::Queue", level=2) if k.startswith("QualityCanaryDeadLetters")]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
    (queue_policy,) = [p for p in level2.resources("AWS::SQS::QueuePolicy", level=2).values()
                       if p["Properties"]["Queues"] == [{"Ref": queue_id}]]  # fmt: skip
    (send,) = [s for s in queue_policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sqs:SendMessage"]
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    policy = json.dumps([p for k, p in level2.resources("AWS::IAM::Policy", level=2).items() if "QualityCanary" in k])
    assert "lambda:InvokeFunction" in policy and ":*" not in policy


def test_quality_alarms_drop_drift_refusals_and_a_silent_canary(level2: SynthResult) -> None:
    alarms = {k: v["Properties"] for k, v in level2.resources("AWS::CloudWatch::Alarm", level=2).items() if k.startswith("QualityCanary")}
    by_name = {k.removeprefix("QualityCanary").rstrip("0123456789ABCDEF"): v for k, v in alarms.items()}
    assert set(by_name) == {
        "QualityDrop", "QualityDrift", "Refusals", "CanaryFailures", "CanaryNotRunning", "CanaryNotStarted"
    }  # fmt: skip
    assert alarm_metric(by_name["CanaryNotStarted"])["MetricName"] == "ApproximateNumberOfMessagesVisible"
    drop = by_name["QualityDrop"]
    assert alarm_metric(drop)["MetricName"] == ct.METRIC_ROUGE_L and drop["Threshold"] == 0.2
    assert alarm_metric(drop)["Dimensions"] == [{"Name": "service", "Value": "rag-demo"}]
    assert alarm_metric(drop)["Period"] == 3600
    assert by_name["QualityDrift"]["ComparisonOperator"] == "LessThanLowerThreshold"
    assert by_name["CanaryNotRunning"]["TreatMissingData"] == "breaching"
    # A quality drop is an incident: it is a member of the health alarm, which opens the OpsItem (it does not itself).
    drop_id = next(k for k in alarms if k.startswith("QualityCanaryQualityDrop"))
    (health,) = level2.resources("AWS::CloudWatch::CompositeAlarm", level=2).values()
    assert drop_id in json.dumps(health["Properties"]["AlarmRule"]) and ":opsitem:" not in json.dumps(drop)


def test_guardrail_intervention_rate_alarm_uses_the_guardrail_metrics(level2: SynthResult) -> None:
    (alarm,) = [v["Properties"] for k, v in level2.resources("AWS::CloudWatch::Alarm", level=2).items() if k.startswith("GuardrailInterventionRate")]
    text = json.dumps(alarm)
    assert "AWS/Bedrock/Guardrails" in text and "InvocationsIntervened" in text and "GuardrailVersion" in text


def test_level2_dashboard_has_the_quality_section(level2: SynthResult) -> None:
    (dashboard,) = level2.resources("AWS::CloudWatch::Dashboard", level=2).values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("Output quality, prompt effectiveness and human feedback", "SEARCH(", ct.METRIC_ROUGE_L,
                   ct.METRIC_BLEU, t.METRIC_FEEDBACK_SCORE, t.METRIC_GUARDRAIL_POLICY_INTERVENED,
                   "PromptVersion", "Quality drift"):  # fmt: skip
        assert needle in body, needle
