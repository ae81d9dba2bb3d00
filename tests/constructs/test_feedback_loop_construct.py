"""FeedbackLoop and ReviewSet: the join function, its schedule, IAM, the review bucket, alarms and widgets.

One app, synthesized once with the cdk-nag AwsSolutions pack (an unacknowledged finding fails the synth):
stack ``Full`` has a workload with the library's log line, redacted prompt logging and a review set; stack
``Foreign`` has an imported log group, a schema without a prompt version, no prompt logging and asks for a review
set it cannot feed (left out with the warning).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from llm_observability.errors import ConfigError
from tests.conftest import CDK_CONTEXT, scrub

MODEL_ID = "amazon.nova-lite-v1:0"


def _workload(
    stack: Any, *, imported: bool = False, prompt_logging: str | None = "redacted", schema: Any = None
) -> Any:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns

    from llm_observability import Workload
    from llm_observability.workload_facts import LogSchema

    log_group = (
        logs.LogGroup.from_log_group_name(stack, "AppLogs", "/aws/lambda/users-app")
        if imported
        else logs.LogGroup(stack, "AppLogs", retention=logs.RetentionDays.ONE_MONTH)
    )
    # The application's own resources are imported: the cdk-nag gate then sees the construct's resources only.
    fn = lambda_.Function.from_function_arn(stack, "AppFunction", "arn:aws:lambda:us-east-1:111111111111:function:app")
    topic = sns.Topic.from_topic_arn(stack, "AppTopic", "arn:aws:sns:us-east-1:111111111111:alerts")
    return (
        Workload.from_function(fn, name="snap", model_ids=(MODEL_ID,), log_group=log_group)
        .with_facts(telemetry="runtime", log_schema=schema or LogSchema.library(), prompt_logging=prompt_logging)
        .with_alert_topic(topic)
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Duration, Environment, Stack, Validations
    from aws_cdk.assertions import Annotations, Match
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.constructs.feedback_loop import FeedbackLoop
    from llm_observability.left_out import WARNING_ID, left_out
    from llm_observability.workload_facts import LogSchema

    outdir = tmp_path_factory.mktemp("feedback-loop")
    app = App(outdir=str(outdir), context={k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")})
    env = Environment(account="111111111111", region="us-east-1")
    full = Stack(app, "Full", env=env)
    loop = FeedbackLoop(full, "Subject", workload=_workload(full), review_set=True, review_days=45,
                        negative_ceiling_percent=25, min_ratings=8)  # fmt: skip
    foreign = Stack(app, "Foreign", env=env)
    schema = LogSchema(
        marker_value="chat_answer", question="q", answer="a", model="llm.model", error_class="err",
        request_id="trace_id", feedback_marker="rating", feedback_request_id="rated_id", feedback_score="stars",
    )  # fmt: skip
    foreign_loop = FeedbackLoop(
        foreign, "Subject", workload=_workload(foreign, imported=True, prompt_logging=None, schema=schema),
        review_set=True, schedule=Duration.minutes(15), lookback=Duration.hours(168),
    )  # fmt: skip
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on an unacknowledged cdk-nag finding
    templates = {
        name: json.loads((Path(outdir) / f"{stack.artifact_id}.template.json").read_text())
        for name, stack in (("full", full), ("foreign", foreign))
    }
    warnings = {
        "foreign": [
            m.entry.data
            for m in Annotations.from_stack(foreign).find_warning("*", Match.string_like_regexp(WARNING_ID))
        ],
        "full": list(left_out(full)),
    }
    return {"templates": templates, "warnings": warnings, "loop": loop, "foreign_loop": foreign_loop}


def _resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type and k.startswith("Subject")}


def _only(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    (resource,) = _resources(template, cfn_type).values()
    return resource["Properties"]


def _join_function(template: dict[str, Any]) -> dict[str, Any]:
    functions = [p for p in (r["Properties"] for r in _resources(template, "AWS::Lambda::Function").values())
                 if "joins user ratings" in p.get("Description", "")]  # fmt: skip
    (function,) = functions
    return function


def _policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for p in _resources(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_snapshot(app: dict[str, Any], snapshot: Any) -> None:
    resources = {k: v for k, v in scrub(app["templates"]["full"])["Resources"].items() if k.startswith("Subject")}
    assert resources == snapshot(extension_class=JSONSnapshotExtension)


def test_review_bucket_is_kms_encrypted_private_logged_and_expires(app: dict[str, Any]) -> None:
    template = app["templates"]["full"]
    buckets = _resources(template, "AWS::S3::Bucket")
    review = next(p["Properties"] for k, p in buckets.items() if "ReviewSetBucket" in k)
    (rule,) = review["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    key_id = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert template["Resources"][key_id]["DeletionPolicy"] == "Retain"
    assert review["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert review["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 45
    assert review["LoggingConfiguration"]["LogFilePrefix"] == "review-set/"
    (access_logs,) = (p["Properties"] for k, p in buckets.items() if "AccessLogs" in k)
    assert access_logs["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    assert all(template["Resources"][k]["DeletionPolicy"] == "Retain" for k in buckets)
    tls = [p for p in _resources(template, "AWS::S3::BucketPolicy").values()
           if any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                  for s in p["Properties"]["PolicyDocument"]["Statement"])]  # fmt: skip
    assert len(tls) == 2


def test_put_object_is_scoped_to_the_feedback_prefix_and_the_key_to_s3(app: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in _policy_statements(app["templates"]["full"]) if "Sid" in s}
    put = statements["WriteReviewObjects"]
    assert put["Action"] == "s3:PutObject"
    joined = put["Resource"]["Fn::Join"][1]
    assert joined[0]["Fn::GetAtt"][1] == "Arn" and "ReviewSetBucket" in joined[0]["Fn::GetAtt"][0]
    assert joined[1] == "/feedback/*"
    kms = statements["EncryptReviewObjects"]
    assert kms["Action"] == "kms:GenerateDataKey"
    assert "ReviewSetKey" in kms["Resource"]["Fn::GetAtt"][0]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
    }
    assert not any("s3:GetObject" in json.dumps(s["Action"]) for s in statements.values())


def test_logs_permissions_start_queries_on_the_workload_log_groups_only(app: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in _policy_statements(app["templates"]["full"]) if "Sid" in s}
    start = statements["QueryLogs"]
    assert start["Action"] == "logs:StartQuery"
    # the one log group, in both ARN forms (log-group:<name>, and log-group:<name>:* as CloudFormation returns it)
    returned, named = sorted(start["Resource"], key=lambda r: "Fn::Join" in r)
    assert "log-group:" in json.dumps(named) and "AppLogs" in json.dumps(named)
    assert returned["Fn::GetAtt"][0].startswith("AppLogs")
    assert statements["ReadQueryResults"]["Action"] == ["logs:GetQueryResults", "logs:StopQuery"]


def test_function_environment_carries_the_fixed_names(app: dict[str, Any]) -> None:
    from llm_observability.workload_facts import LogSchema

    env = _join_function(app["templates"]["full"])["Environment"]["Variables"]
    assert env["FEEDBACK_LOOKBACK_HOURS"] == "24"
    assert env["FEEDBACK_WINDOW_MINUTES"] == "60"
    assert env["LOG_SCHEMA"] == LogSchema.library().document()
    assert env["PROMPT_LOGGING"] == "redacted"
    assert "ReviewSetBucket" in env["REVIEW_BUCKET"]["Ref"]
    assert "AppLogs" in json.dumps(env["LOG_GROUP_NAMES"])
    foreign = _join_function(app["templates"]["foreign"])["Environment"]["Variables"]
    assert json.loads(foreign["LOG_GROUP_NAMES"]) == ["/aws/lambda/users-app"]
    assert (foreign["FEEDBACK_LOOKBACK_HOURS"], foreign["FEEDBACK_WINDOW_MINUTES"]) == ("168", "15")
    assert "REVIEW_BUCKET" not in foreign and foreign["PROMPT_LOGGING"] == "none"
    assert json.loads(foreign["LOG_SCHEMA"])["feedback_marker"] == "rating"


def test_schedule_and_dead_letter_queue(app: dict[str, Any]) -> None:
    template = app["templates"]["full"]
    rule = _only(template, "AWS::Events::Rule")
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    (target,) = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    assert "DeadLetters" in target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert "DeadLetters" in _join_function(template)["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    assert _only(app["templates"]["foreign"], "AWS::Events::Rule")["ScheduleExpression"] == "rate(15 minutes)"


def test_negative_share_alarm_counts_only_hours_with_enough_ratings(app: dict[str, Any]) -> None:
    alarms = {p["Properties"]["AlarmName"].rsplit("-", 1)[1]: p["Properties"]
              for p in _resources(app["templates"]["full"], "AWS::CloudWatch::Alarm").values()}  # fmt: skip
    assert set(alarms) == {"NegativeFeedbackShare", "FeedbackJoinNotStarted"}
    share = alarms["NegativeFeedbackShare"]
    assert (share["Threshold"], share["ComparisonOperator"]) == (25, "GreaterThanThreshold")
    assert (share["EvaluationPeriods"], share["DatapointsToAlarm"]) == (3, 3)
    assert share["TreatMissingData"] == "notBreaching"
    (expression,) = [q for q in share["Metrics"] if "Expression" in q]
    assert expression["Expression"] == "IF(n >= 8, share, 0)"
    stats = {q["Id"]: (q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"], q["MetricStat"]["Period"],
                       q["MetricStat"]["Metric"]["Dimensions"]) for q in share["Metrics"] if "MetricStat" in q}  # fmt: skip
    service = [{"Name": "service", "Value": "snap"}]
    assert stats == {"share": ("NegativeFeedback", "Average", 3600, service),
                     "n": ("NegativeFeedback", "SampleCount", 3600, service)}  # fmt: skip
    assert share["AlarmActions"] and share["OKActions"]


def test_roles_are_quality_and_availability_low_never_cost_or_high(app: dict[str, Any]) -> None:
    from llm_observability.constructs.alarm_factory import AlarmRole, Severity

    roled = {(r.role, r.severity) for r in app["loop"].roled_alarms}
    assert roled == {(AlarmRole.QUALITY, Severity.LOW), (AlarmRole.AVAILABILITY, Severity.LOW)}
    assert set(app["loop"].alarms) == {"NegativeFeedbackShare", "FeedbackJoinNotStarted"}


def test_the_alarm_reads_a_metric_the_function_emits() -> None:
    from llm_observability.functions.feedback_loop import feedback_telemetry as ft
    from llm_observability.runtime import telemetry as rt

    assert (ft.DIM_SERVICE, ft.DIM_MODEL_ID, ft.DIM_PROMPT_VERSION) == (rt.DIM_SERVICE, rt.DIM_MODEL_ID,
                                                                        rt.DIM_PROMPT_VERSION)  # fmt: skip
    assert (ft.METRIC_NEGATIVE_FEEDBACK, frozenset({ft.DIM_SERVICE})) in ft.EMITTED
    assert ft.METRIC_FEEDBACK_SCORE == rt.METRIC_FEEDBACK_SCORE
    # the runtime's FeedbackScore has {service} only: the join's never adds a value to that stream
    assert (ft.METRIC_FEEDBACK_SCORE, frozenset({ft.DIM_SERVICE})) not in ft.EMITTED


def test_foreign_workload_leaves_out_the_review_set_and_versions_with_one_warning(app: dict[str, Any]) -> None:
    assert app["foreign_loop"].review_set is None
    assert not _resources(app["templates"]["foreign"], "AWS::S3::Bucket")
    assert "s3:PutObject" not in json.dumps(_policy_statements(app["templates"]["foreign"]))
    (warning,) = app["warnings"]["foreign"]
    assert "feedback review set (needs Workload 'prompt_logging'" in str(warning)
    assert "feedback per prompt version" in str(warning)
    assert not app["warnings"]["full"]


def test_widgets_search_per_model_and_version(app: dict[str, Any]) -> None:
    from aws_cdk import Stack

    widgets = app["loop"].widgets()
    assert len(widgets) == 3
    rendered = json.dumps([Stack.of(app["loop"]).resolve(w.to_json()) for w in widgets])
    assert 'SEARCH(\'{LLMObservability,service,ModelId,PromptVersion} MetricName=\\"FeedbackScore\\"' in rendered
    assert 'MetricName=\\"NegativeFeedback\\"' in rendered
    assert "ratings unmatched" in rendered and "review objects not written" in rendered
    assert '"value": 25' in rendered.replace('"value":25', '"value": 25')


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "10m"}, "FeedbackLoop 'schedule' is 10 minutes: allowed is a whole number from 15 to 1,440 minutes."),
        ({"schedule": "90s"}, "FeedbackLoop 'schedule' is 1 minute 30 seconds: allowed is a whole number from 15 to 1,440 "
                              "minutes."),
        ({"lookback": "30m"}, "FeedbackLoop 'lookback' is 30 minutes: allowed is a whole number from 1 to 168 hours."),
        ({"lookback": "200h"}, "FeedbackLoop 'lookback' is 8 days 8 hours: allowed is a whole number from 1 to 168 hours."),
        ({"negative_ceiling_percent": 0}, ("FeedbackLoop 'negative_ceiling_percent' is 0: allowed is a number above 0 "
                                           "and at most 100.")),
        ({"min_ratings": 0}, "FeedbackLoop 'min_ratings' is 0: allowed is a whole number from 1 to 10,000."),
        ({"review_days": 400}, "FeedbackLoop 'review_days' is 400: allowed is a whole number from 1 to 365."),
    ],
)  # fmt: skip
def test_bad_input_fails_with_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    from aws_cdk import App, Duration, Stack

    from llm_observability.constructs.feedback_loop import FeedbackLoop

    durations = {"m": Duration.minutes, "s": Duration.seconds, "h": Duration.hours}
    args = {k: durations[v[-1]](int(v[:-1])) if isinstance(v, str) else v for k, v in kwargs.items()}
    stack = Stack(App(), "Bad")
    with pytest.raises(ConfigError) as error:
        FeedbackLoop(stack, "Subject", workload=_workload(stack), **args)
    assert str(error.value) == message


def test_a_schema_without_the_feedback_line_is_rejected() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.feedback_loop import FeedbackLoop
    from llm_observability.workload_facts import LogSchema

    stack = Stack(App(), "NoFeedback")
    schema = LogSchema(marker_value="x", question="q", answer="a", model="m", error_class="e", request_id="r")
    with pytest.raises(ConfigError, match=r"lacks feedback_marker, feedback_request_id, feedback_score: allowed"):
        FeedbackLoop(stack, "Subject", workload=_workload(stack, schema=schema))


def test_review_set_rejects_a_bad_expiry() -> None:
    from aws_cdk import App, Stack

    from llm_observability.constructs.feedback_loop import ReviewSet

    with pytest.raises(
        ConfigError, match=r"^ReviewSet 'expiration_days' is 0: allowed is a whole number from 1 to 365\.$"
    ):
        ReviewSet(Stack(App(), "R"), "Subject", expiration_days=0)
