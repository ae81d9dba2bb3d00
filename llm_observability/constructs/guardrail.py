"""A versioned Amazon Bedrock Guardrail for a RAG application, with its metrics and an alarm."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Duration, Names
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from llm_observability.constructs.alarms import LOW
from llm_observability.errors import ConfigError

GUARDRAILS_NAMESPACE = "AWS/Bedrock/Guardrails"
CONTENT_FILTERS = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")
#: PII the guardrail masks in answers (and in questions, before the model sees them).
ANONYMIZED_PII = ("EMAIL", "PHONE", "NAME", "ADDRESS", "IP_ADDRESS")
#: PII the guardrail refuses to pass at all.
BLOCKED_PII = ("CREDIT_DEBIT_CARD_NUMBER", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "US_SOCIAL_SECURITY_NUMBER", "PASSWORD")


def _score(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"LlmGuardrail '{name}' is {value!r}: allowed is a number from 0 up to (not including) 1.")
    return float(value)


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
        filter_strength: str = "HIGH",
        key: kms.IKey | None = None,
        blocked_message: str = "Sorry, I can't help with that request.",
    ) -> None:
        super().__init__(scope, id)
        if filter_strength not in ("LOW", "MEDIUM", "HIGH"):
            raise ConfigError(f"LlmGuardrail 'filter_strength' is {filter_strength!r}: allowed are LOW, MEDIUM, HIGH.")
        if not blocked_message or len(blocked_message) > 500:
            raise ConfigError("LlmGuardrail 'blocked_message' is empty or too long: allowed is 1-500 characters.")
        filters = [
            {"type": f, "input_strength": filter_strength, "output_strength": filter_strength} for f in CONTENT_FILTERS
        ]
        filters.append({"type": "PROMPT_ATTACK", "input_strength": "HIGH", "output_strength": "NONE"})
        config = {  # keyword arguments of CfnGuardrail, hashed below to version the configuration
            "content_policy_config": {"filters_config": filters},
            "contextual_grounding_policy_config": {
                "filters_config": [
                    {"type": "GROUNDING", "threshold": _score("grounding_threshold", grounding_threshold)},
                    {"type": "RELEVANCE", "threshold": _score("relevance_threshold", relevance_threshold)},
                ]
            },
            "sensitive_information_policy_config": {
                "pii_entities_config": [{"type": p, "action": "ANONYMIZE"} for p in ANONYMIZED_PII]
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

    def metric(self, name: str, *, statistic: str = "Sum", period: Duration = Duration.minutes(5)) -> cw.Metric:
        """An AWS/Bedrock/Guardrails metric of this guardrail's published version."""
        return cw.Metric(
            namespace=GUARDRAILS_NAMESPACE,
            metric_name=name,
            dimensions_map={"GuardrailArn": self.guardrail_arn, "GuardrailVersion": self.guardrail_version},
            statistic=statistic,
            period=period,
            label=name,
        )

    def metric_invocations(self) -> cw.Metric:
        return self.metric("Invocations")

    def metric_invocations_intervened(self) -> cw.Metric:
        return self.metric("InvocationsIntervened")

    def metric_intervention_rate(self) -> cw.MathExpression:
        """Percentage of guarded invocations where the guardrail intervened."""
        return cw.MathExpression(
            expression="100 * FILL(i, 0) / n",
            using_metrics={"i": self.metric_invocations_intervened(), "n": self.metric_invocations()},
            label="intervention rate %",
            period=Duration.minutes(5),
        )

    def alarm_intervention_rate(self, scope: Construct, id: str, *, topic: sns.ITopic, threshold_percent: float = 20) -> cw.Alarm:
        """An alarm when the intervention rate exceeds ``threshold_percent`` (attack, or a filter too strict)."""
        alarm = cw.Alarm(
            scope,
            id,
            alarm_description=f"[{LOW}] Guardrail intervened in more than {threshold_percent:g}% of invocations.",
            metric=self.metric_intervention_rate(),
            threshold=threshold_percent,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        alarm.add_ok_action(cw_actions.SnsAction(topic))
        return alarm
