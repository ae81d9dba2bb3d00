"""Builds the bundled CDK app: the stacks of levels 1..N with cdk-nag registered."""

from __future__ import annotations

from aws_cdk import App, Aspects, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from llm_observability.compliance_profile import CONTEXT_KEY, profile_of
from llm_observability.config import ObservabilityConfig
from llm_observability.errors import ConfigError
from llm_observability.hygiene import NoRedundantDependsOn
from llm_observability.stacks.foundation import FoundationStack

IMPLEMENTED_LEVELS = (1, 2, 3)
PROJECT_TAG = "llm-observability"


def stack_name(config: ObservabilityConfig, level: int) -> str:
    """Stack name of ``level`` for this workload, e.g. ``rag-demo-l1-foundation``."""
    return f"{config.workload_name}-l{level}-{('foundation', 'proactive', 'aiops')[level - 1]}"


def build_app(app: App | None = None, *, config: ObservabilityConfig | None = None, nag: bool = True) -> App:
    """Add the stacks of levels 1..``config.level`` to ``app`` (a new ``App`` by default).

    Settings are read from the app's context unless ``config`` is given. With ``nag`` (the
    default) the cdk-nag AwsSolutions pack runs at synth and any unacknowledged finding fails it.
    """
    app = app or App()
    config = config or ObservabilityConfig.from_context(app.node)
    missing = [n for n in range(1, config.level + 1) if n not in IMPLEMENTED_LEVELS]
    if missing:
        raise ConfigError(
            f"Setting 'level' is {config.level}: allowed in this release are "
            f"{', '.join(map(str, IMPLEMENTED_LEVELS))} (level {missing[0]} is not built yet)."
        )
    if profile_of(app) != config.compliance_profile:  # the constructs read the profile from context
        if app.node.children:
            raise ConfigError(
                f"Setting '{CONTEXT_KEY}' is '{config.compliance_profile}' but the app's context says "
                f"'{profile_of(app)}': allowed is the same value in both (set the context before adding constructs)."
            )
        app.node.set_context(CONTEXT_KEY, config.compliance_profile)
    env = Environment(account=app.node.try_get_context("account"), region=app.node.try_get_context("region"))
    foundation = FoundationStack(
        app,
        stack_name(config, 1),
        config=config,
        env=env,
        description="LLM observability Level 1 (Foundation): RAG reference app, tracing, metrics, logs, alarms.",
    )
    stacks: list[Stack] = [foundation]
    if config.level >= 2:
        from llm_observability.stacks.proactive import ProactiveStack  # loaded only for the levels built

        proactive = ProactiveStack(
            app,
            stack_name(config, 2),
            workload=foundation.workload,
            config=config,
            env=env,
            description="LLM observability Level 2 (Proactive): anomaly detection, log intelligence, compliance, cost.",
        )
        stacks.append(proactive)
    if config.level >= 3:
        from llm_observability.stacks.aiops import AiOpsStack

        stacks.append(
            AiOpsStack(
                app,
                stack_name(config, 3),
                workload=proactive.workload,
                observed_stacks=[s.stack_name for s in stacks],
                # The runbooks' alarms are selected by role from the workload (AiOpsStack's defaults): failover on
                # Level 1's Bedrock MODEL_HEALTH and THROTTLING alarms (missing data counts as OK, so once traffic
                # has left the primary the alarm clears and fails back: a half-open breaker), prompt rollback on the
                # high-severity QUALITY alarm, API throttling on the COST anomalies.
                config=config,
                env=env,
                description="LLM observability Level 3 (AIOps): DevOps Guru, CodeGuru Profiler, self-healing, AMP, OpenSearch.",
            )
        )
    for level, stack in enumerate(stacks, start=1):
        Tags.of(stack).add("MaturityLevel", str(level))
    for key, value in {"Project": PROJECT_TAG, "Workload": config.workload_name, **config.tags}.items():
        Tags.of(app).add(key, value)
    Aspects.of(app).add(NoRedundantDependsOn())
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
