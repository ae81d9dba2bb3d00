"""OnlineJudge: the construct around functions/online_judge, on user-shaped workloads.

One app, synthesized once with cdk-nag: stack ``Judge`` (the runtime's log schema with passages, a log group of the
stack, redacted prompt logging) and stack ``Bare`` (a schema without passages, an imported log group, a custom
rubric and an unpriced judge model). Construction errors are checked on stacks that are never synthesized.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.errors import ConfigError
from llm_observability.functions.online_judge import judge_telemetry as jt
from llm_observability.runtime import telemetry as t
from tests.conftest import CDK_CONTEXT, alarm_metric, scrub

JUDGE_MODEL = "us.amazon.nova-lite-v1:0"
UNPRICED = "meta.llama3-70b-instruct-v1:0"
ACCOUNT, REGION = "111111111111", "us-east-1"


def _workload(stack: Any, *, imported: bool = False, passages: bool = True, prompt_logging: str | None = "redacted",
              schema: bool = True) -> Any:  # fmt: skip
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns

    from llm_observability import Workload
    from llm_observability.workload_facts import LogSchema

    if imported:
        log_group = logs.LogGroup.from_log_group_name(stack, "AppLogs", "/aws/lambda/their-app")
    else:
        log_group = logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
    fn = lambda_.Function(
        stack, "AppFunction", runtime=lambda_.Runtime.PYTHON_3_14, handler="app.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )  # fmt: skip
    log_schema = LogSchema.library()
    if not passages:
        from dataclasses import replace

        log_schema = replace(log_schema, passages=None)
    facts: dict[str, Any] = {"telemetry": "runtime", "log_schema": log_schema if schema else None}
    if prompt_logging is not None:
        facts["prompt_logging"] = prompt_logging
    workload = Workload.from_function(fn, name="their-app", model_ids=("amazon.nova-pro-v1:0",), log_group=log_group)
    return workload.with_facts(**facts).with_alert_topic(sns.Topic(stack, "AppTopic", enforce_ssl=True))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Duration, Environment, Stack, Validations
    from aws_cdk import aws_cloudwatch as cw
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.online_judge import OnlineJudge
    from llm_observability.functions.online_judge.rubric import Rubric
    from llm_observability.left_out import left_out

    outdir = tmp_path_factory.mktemp("online-judge")
    app = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    env = Environment(account=ACCOUNT, region=REGION)
    judge_stack, bare_stack = Stack(app, "Judge", env=env), Stack(app, "Bare", env=env)
    judge = OnlineJudge(judge_stack, "Subject", workload=_workload(judge_stack), model_id=JUDGE_MODEL)
    cw.Dashboard(judge_stack, "Dashboard", widgets=[judge.widgets()])
    rubric = Rubric.load().document()
    rubric["version"] = "acme-1"
    bare = OnlineJudge(
        bare_stack, "Subject", workload=_workload(bare_stack, imported=True, passages=False), model_id=UNPRICED,
        rubric=rubric, sample_percent=2.5, schedule=Duration.minutes(30),
    )  # fmt: skip
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        assembly = app.synth()
    except RuntimeError as error:  # the stand-in app's own function and topic are not nag-clean; the judge must be
        assert "ValidationFailed" in str(error)
        assembly = None
    report = json.loads((Path(outdir) / "validation-report.json").read_text())
    templates = {s.stack_name: json.loads((Path(outdir) / f"{s.artifact_id}.template.json").read_text())
                 for s in (judge_stack, bare_stack)}  # fmt: skip
    assert assembly is None  # the report exists either way
    return {"templates": templates, "report": report, "judge": judge, "bare": bare,
            "left_out": {"Judge": left_out(judge_stack), "Bare": left_out(bare_stack)}, "outdir": Path(outdir)}  # fmt: skip


def _resources(template: dict[str, Any], cfn_type: str | None = None) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items()
            if k.startswith("Subject") and (cfn_type is None or v["Type"] == cfn_type)}  # fmt: skip


def _env(template: dict[str, Any]) -> dict[str, Any]:
    (fn,) = _resources(template, "AWS::Lambda::Function").values()
    return fn["Properties"]["Environment"]["Variables"]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = _resources(template, "AWS::IAM::Policy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_snapshot(app: dict[str, Any], snapshot: Any) -> None:
    subject = {"Resources": _resources(scrub(app["templates"]["Judge"]))}
    assert subject == snapshot(extension_class=JSONSnapshotExtension)


def test_the_judge_is_nag_clean(app: dict[str, Any]) -> None:
    for plugin in app["report"]["pluginReports"]:
        for violation in plugin.get("violations", []):
            paths = [c["constructPath"] for c in violation["violatingConstructs"]]
            assert not [p for p in paths if "/Subject/" in p], (violation["ruleName"], paths)


def test_invoke_is_scoped_to_the_judge_model_and_queries_to_the_app_logs(app: dict[str, Any]) -> None:
    statements = {s.get("Sid"): s for s in _statements(app["templates"]["Judge"])}
    invoke = json.dumps(statements["InvokeJudgeModel"]["Resource"])
    assert statements["InvokeJudgeModel"]["Action"] == "bedrock:InvokeModel"
    assert "inference-profile/us.amazon.nova-lite-v1:0" in invoke and "foundation-model/amazon.nova-lite-v1:0" in invoke
    assert '"*"' not in invoke
    query = statements["QueryLogs"]
    assert query["Action"] == "logs:StartQuery" and "AppLogs" in json.dumps(query["Resource"])
    assert statements["ReadQueryResults"]["Resource"] == "*"
    assert sorted(statements["ReadQueryResults"]["Action"]) == [
        "cloudwatch:GetMetricData", "logs:GetQueryResults", "logs:StopQuery"]  # fmt: skip
    bare = json.dumps(_statements(app["templates"]["Bare"]))
    assert "log-group:/aws/lambda/their-app" in bare and "foundation-model/meta.llama3-70b-instruct-v1:0" in bare


def test_the_environment_names_what_the_function_reads(app: dict[str, Any]) -> None:
    env = _env(app["templates"]["Judge"])
    assert env[jt.ENV_JUDGE_MODEL_ID] == JUDGE_MODEL and env[jt.ENV_SAMPLE_PERCENT] == "10"
    assert (env[jt.ENV_MAX_PER_RUN], env[jt.ENV_WINDOW_MINUTES], env[jt.ENV_MONTHLY_TOKEN_CAP]) == (
        "50",
        "15",
        "2000000",
    )
    assert json.loads(env[jt.ENV_JUDGE_PRICE]) == {"input_per_1k": 0.00006, "output_per_1k": 0.00024}
    assert json.loads(env[jt.ENV_LOG_SCHEMA])["passages"] == t.LOG_FIELD_PASSAGES
    assert jt.ENV_JUDGE_RUBRIC not in env  # the shipped rubric is in the asset
    assert env["POWERTOOLS_SERVICE_NAME"] == "their-app"
    bare = _env(app["templates"]["Bare"])
    assert (
        bare[jt.ENV_JUDGE_PRICE] == "{}"
        and bare[jt.ENV_SAMPLE_PERCENT] == "2.5"
        and bare[jt.ENV_WINDOW_MINUTES] == "30"
    )
    assert json.loads(bare[jt.ENV_JUDGE_RUBRIC])["version"] == "acme-1"
    assert json.loads(bare[jt.ENV_LOG_GROUP_NAMES]) == ["/aws/lambda/their-app"]


def test_a_failed_run_is_not_retried_and_waits_in_the_dead_letter_queue(app: dict[str, Any]) -> None:
    template = app["templates"]["Judge"]
    (config,) = _resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    (rule,) = _resources(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_alarms_are_low_severity_quality_and_availability(app: dict[str, Any]) -> None:
    judge = app["judge"]
    assert set(judge.alarms) == {"JudgeFaithfulnessDrop", "JudgeRelevanceDrop", "HarmfulAnswers", "JudgeCapReached",
                                 "JudgeNotStarted"}  # fmt: skip
    roles = {r.alarm.node.id: (r.role.value, r.severity.value) for r in judge.roled_alarms}
    assert roles == {
        "JudgeFaithfulnessDrop": ("quality", "low"), "JudgeRelevanceDrop": ("quality", "low"),
        "HarmfulAnswers": ("quality", "low"), "JudgeCapReached": ("availability", "low"),
        "JudgeNotStarted": ("availability", "low"),
    }  # fmt: skip
    alarms = _resources(app["templates"]["Judge"], "AWS::CloudWatch::Alarm")
    (harmful,) = [a["Properties"] for k, a in alarms.items() if k.startswith("SubjectHarmfulAnswers")]
    assert harmful["Threshold"] == 5 and alarm_metric(harmful)["Period"] == 3600
    (drop,) = [a["Properties"] for k, a in alarms.items() if k.startswith("SubjectJudgeFaithfulnessDrop")]
    assert drop["ComparisonOperator"] == "LessThanLowerThreshold" and drop["EvaluationPeriods"] == 3


def test_every_alarm_metric_is_one_the_function_emits_with_that_dimension_set(app: dict[str, Any]) -> None:
    emitted = set(jt.SCORE_METRICS) | set(jt.RUN_METRICS)
    checked = 0
    for key, alarm in _resources(app["templates"]["Judge"], "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if "Metrics" in props and any("ANOMALY_DETECTION_BAND" in q.get("Expression", "") for q in props["Metrics"]):
            (stat,) = [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]
            metric = {**stat["Metric"], "Dimensions": stat["Metric"].get("Dimensions", [])}
        else:
            metric = alarm_metric(props)
        if metric["Namespace"] == "AWS/SQS":
            continue
        checked += 1
        assert metric["Namespace"] == t.DEFAULT_NAMESPACE and metric["MetricName"] in emitted, key
        assert metric["Dimensions"] == [{"Name": jt.DIM_SERVICE, "Value": "their-app"}], key
        assert jt.SERVICE_DIMENSIONS == (t.DIM_SERVICE,) and jt.VERSION_DIMENSIONS[1:] == (t.DIM_MODEL_ID,
                                                                                           t.DIM_PROMPT_VERSION)  # fmt: skip
    assert checked == 4


def test_without_passages_faithfulness_is_left_out(app: dict[str, Any]) -> None:
    bare = app["bare"]
    assert "JudgeFaithfulnessDrop" not in bare.alarms and "JudgeRelevanceDrop" in bare.alarms
    assert "faithfulness" not in bare.criteria and jt.METRIC_FAITHFULNESS not in bare.metrics
    (item,) = app["left_out"]["Bare"]
    assert (item.feature, item.field) == ("Judge faithfulness (needs retrieved passages in the log line)", "log_schema")
    assert app["left_out"]["Judge"] == ()
    # ... and the dashboard says so (the issue: "only relevance and coherence are judged, and the dashboard says so")
    from aws_cdk import Stack
    from aws_cdk import aws_cloudwatch as cw

    (note,) = [w for w in bare.widgets() if isinstance(w, cw.TextWidget)]
    text = json.dumps(Stack.of(bare).resolve(note.to_json()))
    assert "Faithfulness is not judged" in text
    (full,) = [w for w in app["judge"].widgets() if isinstance(w, cw.TextWidget)]
    assert "not judged" not in json.dumps(Stack.of(app["judge"]).resolve(full.to_json()))


def test_without_a_prompt_version_field_scores_are_unversioned_and_that_is_said() -> None:
    from dataclasses import replace

    from aws_cdk import App, Stack

    from llm_observability.constructs.online_judge import OnlineJudge
    from llm_observability.left_out import report_of

    stack = Stack(App(), "Unversioned")
    workload = _workload(stack)
    workload = replace(workload, log_schema=replace(workload.log_schema, prompt_version=None))
    OnlineJudge(stack, "Subject", workload=workload, model_id=JUDGE_MODEL)
    assert [(i.feature, i.field) for i in report_of(stack).items] == [
        ("Judge scores per prompt version (every answer counts as 'unversioned')", "log_schema")]  # fmt: skip


def test_the_widgets_chart_scores_by_version_harm_tokens_and_the_rubric(app: dict[str, Any]) -> None:
    (dashboard,) = [
        v for v in app["templates"]["Judge"]["Resources"].values() if v["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert body.count("SEARCH(") == 3 and "JudgeFaithfulness" in body and "RUNNING_SUM" in body
    assert "Rubric **r2**" in body and "monthly token cap" in body
    assert len(app["judge"].widgets()) == 6 and len(app["bare"].widgets()) == 5


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [({"prompt_logging": "none"}, "workload.prompt_logging"), ({"prompt_logging": None}, "workload.prompt_logging"),
     ({"schema": False}, "workload.log_schema")],
)  # fmt: skip
def test_a_workload_without_what_the_judge_reads_is_a_config_error(kwargs: dict[str, Any], problem: str) -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.online_judge import OnlineJudge

    stack = Stack(App(), "Unsynthesized")
    with pytest.raises(ConfigError, match=problem):
        OnlineJudge(stack, "Subject", workload=_workload(stack, **kwargs), model_id=JUDGE_MODEL)


def test_no_log_groups_is_a_config_error() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sns as sns

    from llm_observability import Workload
    from llm_observability.constructs.online_judge import OnlineJudge
    from llm_observability.workload_facts import LogSchema

    stack = Stack(App(), "Unsynthesized")
    workload = Workload(name="x", model_ids=("amazon.nova-pro-v1:0",), alert_topic=sns.Topic(stack, "T"),
                        log_schema=LogSchema.library(), prompt_logging="full")  # fmt: skip
    with pytest.raises(ConfigError, match="workload.log_groups"):
        OnlineJudge(stack, "Subject", workload=workload, model_id=JUDGE_MODEL)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [({"sample_percent": 0}, "sample_percent"), ({"sample_percent": 101}, "sample_percent"),
     ({"max_per_run": 501}, "max_per_run"), ({"monthly_token_cap": 9_999}, "monthly_token_cap"),
     ({"schedule": "minutes:90"}, "schedule"), ({"schedule": "seconds:90"}, "schedule"),
     ({"harmful_ceiling_percent": 100}, "harmful_ceiling_percent"), ({"model_id": "not a model"}, "model_id"),
     ({"rubric": {"version": "r9"}}, "rubric"), ({"prices": ["x"]}, "prices"), ({"band_width": 0}, "band_width")],
)  # fmt: skip
def test_bad_props_name_the_setting(kwargs: dict[str, Any], setting: str) -> None:
    from aws_cdk import App, Duration, Stack

    from llm_observability.constructs.online_judge import OnlineJudge

    if isinstance(kwargs.get("schedule"), str):
        unit, amount = kwargs["schedule"].split(":")
        kwargs = {"schedule": getattr(Duration, unit)(int(amount))}
    stack = Stack(App(), "Unsynthesized")
    with pytest.raises(ConfigError, match=f"'{setting}'"):
        OnlineJudge(stack, "Subject", workload=_workload(stack), **{"model_id": JUDGE_MODEL, **kwargs})


def test_a_rubric_too_long_for_the_environment_is_refused() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.online_judge import OnlineJudge
    from llm_observability.functions.online_judge.rubric import Rubric

    rubric = Rubric.load().document()
    for criterion in rubric["criteria"]:
        criterion["description"] = "d" * 480
    stack = Stack(App(), "Unsynthesized")
    with pytest.raises(ConfigError, match="4 KB"):
        OnlineJudge(stack, "Subject", workload=_workload(stack), model_id=JUDGE_MODEL, rubric=rubric)


def test_an_unpriced_judge_model_gets_a_synth_info(app: dict[str, Any]) -> None:
    infos = [n for n in app["bare"].node.metadata if n.type == "aws:cdk:info"]
    assert any("unpriced" in str(n.data) for n in infos)
    assert not [n for n in app["judge"].node.metadata if n.type == "aws:cdk:info"]
