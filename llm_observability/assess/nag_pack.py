"""``LlmObservabilityChecks``: the maturity scorecard as a synth-time check in any CDK app.

Usage::

    from aws_cdk import App, Validations
    from llm_observability.assess.nag_pack import LlmObservabilityChecks

    app = App()
    ...  # your stacks
    Validations.of(app).add_plugins(LlmObservabilityChecks(app, level=2))
    app.synth()  # fails when a capability of Level 1 or 2 is missing or partial

Each capability of level ``<= level`` that is not *present* is one violation: the rule name is the
capability id (``alarms``, ``invocation-logging`` ...), the description is the scorecard's reason and
next step. Acknowledge one deliberately (for example, invocation logging configured by another team)
with the CDK-native acknowledgment, qualified by this plugin's name::

    Validations.of(stack).acknowledge(Acknowledgment(id="LlmObservability::invocation-logging", reason="..."))

Why not a ``cdk_nag.NagPack``: cdk-nag 3.x packs are ``IPolicyValidationPlugin`` implementations whose
``validate`` walks the construct tree and calls ``checkResource(node)`` for every ``CfnResource``;
``applyRule`` judges one resource at a time and attaches a finding to that resource. Maturity is a
property of the whole app (a *missing* alarm has no resource to attach a finding to, and Level 2's
alarms live in another stack than the workload they watch), which that per-resource contract cannot
express. So this class implements CDK's ``IPolicyValidationPlugin`` directly - the same interface
``NagPack`` implements and ``Validations.of(app).add_plugins`` accepts - over the synthesized
templates of all stacks the plugin sees (``context.stack_templates``), reusing
:mod:`llm_observability.assess.scorecard`; findings are reported at stack level, so acknowledgments on
a stack or on the app suppress them through CDK's own mechanism.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import IPolicyValidationPlugin, PolicyValidationPluginReport, PolicyViolatingResource, PolicyViolation
from constructs import IConstruct

from llm_observability.assess.capabilities import CAPABILITIES
from llm_observability.assess.loader import (
    AssessError,
    Source,
    StackTemplate,
    parse_template,
    read_text,
    unique_names,
)
from llm_observability.assess.model import LEVEL_NAMES, MAX_LEVEL, Status
from llm_observability.assess.report import Scorecard
from llm_observability.assess.scorecard import assess
from llm_observability.errors import ConfigError

PLUGIN_NAME = "LlmObservability"
PLUGIN_VERSION = "0.1.0"


@jsii.implements(IPolicyValidationPlugin)
class LlmObservabilityChecks:
    """Fail synthesis when the app is below maturity ``level`` of the LLM observability model.

    :param scope: the app (accepted for symmetry with cdk-nag packs: ``LlmObservabilityChecks(app, level=2)``;
        not needed, the plugin reads the synthesized templates). Default: none.
    :param level: required maturity level, 1-3: every capability of this level and below must be present.
        Default: 1.
    :param severity: severity of the violations, ``error`` (fails synthesis) or ``warning`` (reported only).
        Default: ``error``.
    """

    def __init__(self, scope: IConstruct | None = None, *, level: int = 1, severity: str = "error") -> None:
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
            raise ConfigError(f"LlmObservabilityChecks 'level' is {level!r}: allowed are 1-{MAX_LEVEL}.")
        if severity not in ("error", "warning"):
            raise ConfigError(f"LlmObservabilityChecks 'severity' is {severity!r}: allowed are error, warning.")
        self._level = level
        self._severity = severity
        self.last_scorecard: Scorecard | None = None  # the scorecard of the latest validation, for inspection

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str | None:
        return PLUGIN_VERSION

    @property
    def rule_ids(self) -> list[str] | None:
        return [c.id for c in CAPABILITIES if c.level <= self._level]

    @property
    def level(self) -> int:
        return self._level

    def validate(self, context: Any) -> PolicyValidationPluginReport:
        """Called by CDK at synthesis with the stacks' template paths."""
        stacks = [(s.stack_construct_path, s.template_path) for s in context.stack_templates]
        return self.check_templates(stacks)

    def check_templates(self, stacks: list[tuple[str, str]]) -> PolicyValidationPluginReport:
        """Score the given ``(stack construct path, template path)`` pairs; usable without a synthesis."""
        try:
            source = _source(stacks)
        except AssessError as error:
            violation = PolicyViolation(
                rule_name="template-unreadable", description=str(error), severity=self._severity,
                violating_resources=[PolicyViolatingResource(locations=["Resources"], construct_path=p, template_path=t) for p, t in stacks],
            )  # fmt: skip
            return PolicyValidationPluginReport(success=False, violations=[violation], plugin_version=PLUGIN_VERSION)
        card = assess(source)
        self.last_scorecard = card
        violations = []
        for row in card.results:
            capability = row.capability
            if capability.level > self._level or row.status is Status.PRESENT:
                continue
            violations.append(
                PolicyViolation(
                    rule_name=capability.id,
                    description=(
                        f"Level {capability.level} ({LEVEL_NAMES[capability.level]}) capability '{capability.title}' is "
                        f"{row.status.value}: {row.reason} Next step: {capability.next_step}"
                    ),
                    fix=capability.next_step,
                    severity=self._severity,
                    rule_metadata={
                        "level": str(capability.level),
                        "status": row.status.value,
                        "provided_by": capability.provided_by,
                    },
                    violating_resources=[
                        PolicyViolatingResource(locations=["Resources"], construct_path=path, template_path=template)
                        for path, template in stacks
                    ],
                )
            )
        failed = any(v.severity == "error" for v in violations)
        return PolicyValidationPluginReport(
            success=not failed,
            violations=violations,
            plugin_version=PLUGIN_VERSION,
            metadata={"level_reached": str(card.level), "level_required": str(self._level)},
        )


def _source(stacks: list[tuple[str, str]]) -> Source:
    """The templates as a :class:`Source`, named by their CloudFormation stack names (from the manifest)."""
    loaded = []
    manifests: dict[Path, dict[str, str]] = {}
    for construct_path, template_path in stacks:
        path = Path(template_path)
        names = manifests.setdefault(path.parent, _stack_names(path.parent))
        name = names.get(path.name) or construct_path
        template = parse_template(read_text(path), str(path))
        stage = path.parent.name.removeprefix("assembly-") if path.parent.name.startswith("assembly-") else ""
        loaded.append(
            StackTemplate(
                name, path, template if isinstance(template.get("Resources", {}), dict) else {"Resources": {}},
                stage=stage,
            )
        )
    return Source(path=Path(stacks[0][1]).parent if stacks else Path("."), kind="synthesized app",
                  stacks=unique_names(loaded))  # fmt: skip


def _stack_names(directory: Path) -> dict[str, str]:
    """template file name -> stack name, from the assembly manifest beside the templates."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    names = {}
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        props = artifact.get("properties") or {} if isinstance(artifact, dict) else {}
        if (
            isinstance(artifact, dict)
            and artifact.get("type") == "aws:cloudformation:stack"
            and isinstance(props.get("templateFile"), str)
        ):
            names[props["templateFile"]] = str(props.get("stackName") or artifact_id)
    return names
