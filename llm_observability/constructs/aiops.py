"""Level 3 machine-learning operations: Amazon DevOps Guru coverage and CodeGuru Profiler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from aws_cdk import Aws, Stack
from aws_cdk import aws_codeguruprofiler as profiler
from aws_cdk import aws_devopsguru as devopsguru
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.config.choices import SingletonMode
from llm_observability.constructs.alert_topic import allow_publish
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry
from llm_observability.singletons import claim
from llm_observability.validation import choice, distinct_choices

DEVOPS_GURU = "devops-guru.amazonaws.com"
#: Severities of DevOps Guru insights.
InsightSeverity = Literal["HIGH", "MEDIUM", "LOW"]
#: The official CodeGuru Profiler Python agent layer (version 11), published in each region by this account.
PROFILER_LAYER_ACCOUNT = "157417159150"
PROFILER_LAYER_VERSION = 11
#: Environment variables the agent reads (CodeGuru Profiler user guide, "Apply the function decorator").
ENV_PROFILING_GROUP = telemetry.ENV_CODEGURU_PROFILING_GROUP
ENV_PROFILER_REGION = "AWS_CODEGURU_PROFILER_TARGET_REGION"


class DevOpsGuruCoverage(Construct):
    """Amazon DevOps Guru watching the given CloudFormation stacks, with insights sent to the alert topic.

    DevOps Guru's resource collection is an account + region singleton: ``coverage="create"`` sets it
    to ``stack_names`` (replacing the account's current stack list), ``"adopt"`` leaves the account's
    coverage alone (it must already include these stacks, or all resources). The notification channel
    is this construct's own and is always created.

    :param stack_names: CloudFormation stacks to analyse (up to 1,000).
    :param topic: SNS topic for insights.
    :param topic_key: the topic's KMS key. Default: none.
    :param coverage: ``create`` or ``adopt``. Default: ``create``.
    :param severities: insight severities notified. Default: HIGH and MEDIUM.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stack_names: Sequence[str],
        topic: sns.ITopic,
        topic_key: kms.IKey | None = None,
        coverage: SingletonMode = "create",
        severities: Sequence[InsightSeverity] = ("HIGH", "MEDIUM"),
    ) -> None:
        choice("coverage", coverage, SingletonMode, owner="DevOpsGuruCoverage")
        if not stack_names or len(stack_names) > 1000:
            raise ConfigError("DevOpsGuruCoverage 'stack_names' is empty or too long: allowed are 1-1,000 stack names.")
        distinct_choices("severities", severities, InsightSeverity, non_empty=True, owner="DevOpsGuruCoverage")
        super().__init__(scope, id)
        self.collection: devopsguru.CfnResourceCollection | None = None
        if coverage == "create":
            claim(self, "devops-guru-coverage")
            self.collection = devopsguru.CfnResourceCollection(
                self,
                "Resource",
                resource_collection_filter=devopsguru.CfnResourceCollection.ResourceCollectionFilterProperty(
                    cloud_formation=devopsguru.CfnResourceCollection.CloudFormationCollectionFilterProperty(
                        stack_names=list(stack_names)
                    )
                ),
            )
        allow_publish(topic, DEVOPS_GURU, key=topic_key)
        self.channel = devopsguru.CfnNotificationChannel(
            self,
            "Channel",
            config=devopsguru.CfnNotificationChannel.NotificationChannelConfigProperty(
                sns=devopsguru.CfnNotificationChannel.SnsChannelConfigProperty(topic_arn=topic.topic_arn),
                filters=devopsguru.CfnNotificationChannel.NotificationFilterConfigProperty(
                    severities=list(severities),
                    message_types=["NEW_INSIGHT", "CLOSED_INSIGHT", "SEVERITY_UPGRADED", "NEW_RECOMMENDATION"],
                ),
            ),
        )
        # DevOps Guru checks the topic policy when the channel is created.
        self.channel.node.add_dependency(topic)


class CodeGuruProfiling(Construct):
    """A CodeGuru Profiler profiling group for a Python Lambda function, with the Python agent wired in.

    The function gets the official agent layer, ``AWS_CODEGURU_PROFILER_GROUP_NAME`` /
    ``..._TARGET_REGION`` and permission to post profiles; the RAG handler starts the agent
    (``with_lambda_profiler``) when the variable is set and the agent imports, and runs unprofiled
    (with one warning) when it does not. The group has a fixed name derived from ``name``, so a
    function in another stack can be wired without a cross-stack reference.

    AWS documents the Lambda integration of the Python agent for Python 3.7-3.9 on x86_64; the agent
    is pure Python, and the guarded start keeps an unsupported runtime from breaking the function.

    :param function: the function to profile.
    :param name: base of the profiling group name (letters, digits, ``-``, ``_``; up to 200).
    :param agent_layer_arn: layer providing ``codeguru_profiler_agent``. Default: the official layer
        ``arn:<partition>:lambda:<region>:157417159150:layer:AWSCodeGuruProfilerPythonAgentLambdaLayer:11``.
    """

    def __init__(
        self, scope: Construct, id: str, *, function: lambda_.Function, name: str, agent_layer_arn: str | None = None
    ) -> None:
        super().__init__(scope, id)
        if not name or len(name) > 200 or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"CodeGuruProfiling 'name' is {name!r}: allowed are 1-200 letters, digits, - or _.")
        group_name = name  # profiling groups are regional: one name per region is enough
        self.group = profiler.ProfilingGroup(
            self, "Resource", profiling_group_name=group_name, compute_platform=profiler.ComputePlatform.AWS_LAMBDA
        )
        function_stack = Stack.of(function)
        group_arn = function_stack.format_arn(
            service="codeguru-profiler", resource="profilingGroup", resource_name=group_name
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PostProfiles",
                actions=["codeguru-profiler:ConfigureAgent", "codeguru-profiler:PostAgentProfile"],
                resources=[group_arn],
            )
        )
        layer_arn = agent_layer_arn or (
            f"arn:{Aws.PARTITION}:lambda:{function_stack.region}:{PROFILER_LAYER_ACCOUNT}:layer:"
            f"AWSCodeGuruProfilerPythonAgentLambdaLayer:{PROFILER_LAYER_VERSION}"
        )
        function.add_layers(lambda_.LayerVersion.from_layer_version_arn(function_stack, f"{id}AgentLayer", layer_arn))
        function.add_environment(ENV_PROFILING_GROUP, group_name)
        function.add_environment(ENV_PROFILER_REGION, function_stack.region)
        self.profiling_group_name = group_name
