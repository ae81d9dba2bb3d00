"""Builds the bundled CDK app: the stacks of levels 1..N with cdk-nag registered (with ``targets``: one stage each)."""

from __future__ import annotations

from aws_cdk import App, Aspects, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

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

    Settings are read from the app's context unless ``config`` is given. With ``targets`` set, the app is the
    organization app instead (:func:`llm_observability.stacks.organization.build_organization`): one stage per
    target at its own level, plus the monitoring stages. With ``nag`` (the default) the cdk-nag AwsSolutions pack
    runs at synth over every stack of every stage, and any unacknowledged finding fails it.
    """
    app = app or App()
    config = config or ObservabilityConfig.from_context(app.node)
    levels = {t.level for t in config.target_list} or {config.level}
    missing = [n for n in range(1, max(levels) + 1) if n not in IMPLEMENTED_LEVELS]
    if missing:
        raise ConfigError(
            f"Setting 'level' is {max(levels)}: allowed in this release are "
            f"{', '.join(map(str, IMPLEMENTED_LEVELS))} (level {missing[0]} is not built yet)."
        )
    if profile_of(app) != config.compliance_profile:  # the constructs read the profile from context
        if app.node.children:
            raise ConfigError(
                f"Setting '{CONTEXT_KEY}' is '{config.compliance_profile}' but the app's context says "
                f"'{profile_of(app)}': allowed is the same value in both (set the context before adding constructs)."
            )
        app.node.set_context(CONTEXT_KEY, config.compliance_profile)
    if config.target_list:
        from llm_observability.stacks.organization import build_organization  # loaded only for the organization app

        build_organization(app, config)
    else:
        env = Environment(account=app.node.try_get_context("account"), region=app.node.try_get_context("region"))
        build_levels(app, config, env=env)
        finish(app, config)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # on the App: it checks the stages' stacks too
    return app


def build_levels(scope: Construct, config: ObservabilityConfig, *, env: Environment) -> list[Stack]:
    """The stacks of levels 1..``config.level`` in ``scope`` (the app, or a target's stage), each tagged with its
    level; the same stack names in either."""
    foundation = FoundationStack(
        scope,
        stack_name(config, 1),
        stack_name=stack_name(config, 1),  # in a stage too (the default prefixes the stage)
        config=config,
        env=env,
        description="LLM observability Level 1 (Foundation): RAG reference app, tracing, metrics, logs, alarms.",
    )
    stacks: list[Stack] = [foundation]
    if config.level >= 2:
        from llm_observability.stacks.proactive import ProactiveStack  # loaded only for the levels built

        proactive = ProactiveStack(
            scope,
            stack_name(config, 2),
            stack_name=stack_name(config, 2),
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
                scope,
                stack_name(config, 3),
                stack_name=stack_name(config, 3),
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
    # One composite alarm pages for the workload, in the top stack (it names the alarms of every level below).
    from llm_observability.stacks.health import add_health_alarm

    add_health_alarm(stacks[-1], config)
    return stacks


def finish(scope: Construct, config: ObservabilityConfig) -> None:
    """The project's tags and the hygiene aspect on ``scope``: the app, or each stage (an App's aspects, tags
    included, stop at stage boundaries)."""
    for key, value in {"Project": PROJECT_TAG, "Workload": config.workload_name, **config.tags}.items():
        Tags.of(scope).add(key, value)
    Aspects.of(scope).add(NoRedundantDependsOn())
