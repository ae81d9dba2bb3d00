"""Level 3, AIOps: machine-learning insights, profiling, self-healing and third-party tooling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from llm_observability.config import ObservabilityConfig
from llm_observability.constructs.aiops import CodeGuruProfiling, DevOpsGuruCoverage
from llm_observability.errors import ConfigError
from llm_observability.workload import Workload


class AiOpsStack(Stack):
    """Level 3: takes any :class:`Workload` and adds AIOps.

    Provisions :class:`DevOpsGuruCoverage` over ``observed_stacks`` (the application's and the
    observability stacks) with insights to the alert topic, and :class:`CodeGuruProfiling` for the
    workload's first function.

    :param workload: the observed application (with an alert topic).
    :param observed_stacks: CloudFormation stack names DevOps Guru analyses. Default: this stack only.
    :param config: validated settings. Default: ``ObservabilityConfig(level=3)``.
    :param stack_props: passed to :class:`aws_cdk.Stack`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workload: Workload,
        observed_stacks: Sequence[str] = (),
        config: ObservabilityConfig | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.config = config = config or ObservabilityConfig(level=3)
        if workload.alert_topic is None:
            raise ConfigError("AiOpsStack 'workload.alert_topic' is missing: allowed is a workload with an SNS topic.")
        self.devops_guru = DevOpsGuruCoverage(
            self,
            "DevOpsGuru",
            stack_names=[*observed_stacks, self.stack_name] if self.stack_name not in observed_stacks else list(observed_stacks),
            topic=workload.alert_topic,
            topic_key=workload.alert_topic_key,
            coverage=config.devops_guru_coverage,
        )
        self.profiling: CodeGuruProfiling | None = None
        if config.codeguru_profiler and workload.functions:
            function = workload.functions[0]
            if not isinstance(function, lambda_.Function):
                raise ConfigError(
                    f"Workload function {function.node.path} is imported: allowed is a function defined in this app "
                    "(the profiler agent is added to it), or 'codeguru_profiler' false."
                )
            self.profiling = CodeGuruProfiling(self, "Profiler", function=function, name=f"{workload.name}-rag-api")
        self.workload = workload
