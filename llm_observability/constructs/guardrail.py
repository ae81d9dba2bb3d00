"""A versioned Amazon Bedrock Guardrail for a RAG application, with its metrics and an alarm."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from aws_cdk import Names
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from llm_observability.errors import ConfigError
from llm_observability.validation import Range, choice

#: Strength of the content filters.
FilterStrength = Literal["LOW", "MEDIUM", "HIGH"]
#: Contextual grounding and relevance thresholds: 0 blocks nothing, 1 would block every answer.
SCORE_THRESHOLD = Range(0, 1, hi_open=True)
CONTENT_FILTERS = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")
#: PII the guardrail masks in answers (and in questions, before the model sees them).
ANONYMIZED_PII = ("EMAIL", "PHONE", "NAME", "ADDRESS", "IP_ADDRESS")
#: PII the guardrail refuses to pass at all.
BLOCKED_PII = ("CREDIT_DEBIT_CARD_NUMBER", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "US_SOCIAL_SECURITY_NUMBER", "PASSWORD")


def _score(name: str, value: float) -> float:
    return float(SCORE_THRESHOLD.check(name, value, owner="LlmGuardrail"))


class LlmGuardrail(Construct):
    """A Bedrock Guardrail with contextual grounding and relevance checks, content filters, prompt-attack
    detection and PII handling, published as an immutable version.

    A new version is published whenever the configuration changes (its logical id carries a hash of the
    configuration), so applications always run a reviewed snapshot, never the editable draft.

    :param grounding_threshold: answers less grounded in the passages than this are blocked. Default: 0.75.
    :param relevance_threshold: answers less relevant to the question than this are blocked. Default: 0.5.
    :param filter_strength: strength of the content filters (LOW, MEDIUM, HIGH). Default: HIGH.
    :param key: KMS key encrypting the guardrail. Default: AWS-owned key.
    :param blocked_message: what users see when the guardrail blocks. Default: a neutral sentence.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        grounding_threshold: float = 0.75,
        relevance_threshold: float = 0.5,
        filter_strength: FilterStrength = "HIGH",
        key: kms.IKey | None = None,
        blocked_message: str = "Sorry, I can't help with that request.",
    ) -> None:
        super().__init__(scope, id)
        choice("filter_strength", filter_strength, FilterStrength, owner="LlmGuardrail")
        if not blocked_message or len(blocked_message) > 500:
            raise ConfigError("LlmGuardrail 'blocked_message' is empty or too long: allowed is 1-500 characters.")
        filters = [
            {"type": f, "inputStrength": filter_strength, "outputStrength": filter_strength} for f in CONTENT_FILTERS
        ]
        filters.append({"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"})
        # CloudFormation's property shapes (plain dicts reach jsii as-is, so the keys are camelCase);
        # hashed below to version the configuration.
        config = {
            "content_policy_config": {"filtersConfig": filters},
            "contextual_grounding_policy_config": {
                "filtersConfig": [
                    {"type": "GROUNDING", "threshold": _score("grounding_threshold", grounding_threshold)},
                    {"type": "RELEVANCE", "threshold": _score("relevance_threshold", relevance_threshold)},
                ]
            },
            "sensitive_information_policy_config": {
                "piiEntitiesConfig": [{"type": p, "action": "ANONYMIZE"} for p in ANONYMIZED_PII]
                + [{"type": p, "action": "BLOCK"} for p in BLOCKED_PII]
            },
        }
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Resource",
            name=Names.unique_resource_name(self, max_length=50, separator="-"),
            description="RAG answers: grounding, relevance, harmful content, prompt attacks, PII.",
            blocked_input_messaging=blocked_message,
            blocked_outputs_messaging=blocked_message,
            kms_key_arn=key.key_arn if key else None,
            **config,
        )
        digest = hashlib.sha256(json.dumps([config, blocked_message], sort_keys=True).encode()).hexdigest()[:8]
        self.version = bedrock.CfnGuardrailVersion(
            self, f"Version{digest}", guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=f"Configuration {digest}",
        )  # fmt: skip
        self.guardrail_id: str = self.guardrail.attr_guardrail_id
        self.guardrail_arn: str = self.guardrail.attr_guardrail_arn
        self.guardrail_version: str = self.version.attr_version

    def grant_apply(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow applying this guardrail (Converse with a guardrail configuration, ApplyGuardrail)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["bedrock:ApplyGuardrail"], resource_arns=[self.guardrail_arn]
        )
