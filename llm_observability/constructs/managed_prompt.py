"""The RAG prompt in Amazon Bedrock Prompt Management, with immutable versions and an active-version pointer."""

from __future__ import annotations

import hashlib

from aws_cdk import Names, RemovalPolicy
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_observability.errors import ConfigError

#: The built-in ``v1`` user message of the RAG function (functions/rag_api/pipeline.py), in Prompt
#: Management's ``{{variable}}`` syntax. A test keeps the two identical.
DEFAULT_TEMPLATE = "Passages:\n{{passages}}\n\nQuestion: {{question}}"
VARIABLES = ("question", "passages")


class ManagedPrompt(Construct):
    """A Bedrock Prompt Management prompt with one TEXT variant, versioned on every template change.

    Each distinct template becomes an immutable prompt version (kept when superseded, so a rollback
    has somewhere to go) and an SSM parameter owned by the stack points at the active version's ARN.
    The RAG function reads the parameter (cached for a minute), so pointing it at another version
    (a runbook, or ``aws ssm put-parameter``) switches prompts without a deployment.

    :param template: the user-message template, with ``{{question}}`` and ``{{passages}}``.
        Default: the function's built-in ``v1`` template.
    """

    def __init__(self, scope: Construct, id: str, *, template: str = DEFAULT_TEMPLATE) -> None:
        super().__init__(scope, id)
        missing = [v for v in VARIABLES if "{{" + v + "}}" not in template]
        if missing:
            raise ConfigError(
                f"ManagedPrompt 'template' lacks {', '.join('{{' + v + '}}' for v in missing)}: allowed is a template "
                "with both {{question}} and {{passages}}."
            )
        self.prompt = bedrock.CfnPrompt(
            self,
            "Resource",
            name=Names.unique_resource_name(self, max_length=100, separator="-"),
            description="User message of the RAG reference application.",
            default_variant="default",
            variants=[
                bedrock.CfnPrompt.PromptVariantProperty(
                    name="default",
                    template_type="TEXT",
                    template_configuration=bedrock.CfnPrompt.PromptTemplateConfigurationProperty(
                        text=bedrock.CfnPrompt.TextPromptTemplateConfigurationProperty(
                            text=template,
                            input_variables=[bedrock.CfnPrompt.PromptInputVariableProperty(name=v) for v in VARIABLES],
                        )
                    ),
                )
            ],
        )
        digest = hashlib.sha256(template.encode()).hexdigest()[:8]
        self.version = bedrock.CfnPromptVersion(
            self, f"Version{digest}", prompt_arn=self.prompt.attr_arn, description=f"Template {digest}"
        )
        # Superseded versions stay, so the prompt can be rolled back to them.
        self.version.apply_removal_policy(RemovalPolicy.RETAIN)
        self.active_version = ssm.StringParameter(
            self,
            "ActiveVersion",
            description="ARN of the prompt version the RAG function uses (changed by rollbacks).",
            string_value=self.version.attr_arn,
        )
        self.prompt_arn: str = self.prompt.attr_arn
        self.parameter_name: str = self.active_version.parameter_name

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Allow reading the active-version parameter and any version of the prompt."""
        self.active_version.grant_read(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["bedrock:GetPrompt"],
            resource_arns=[self.prompt_arn, f"{self.prompt_arn}:*"],
        )
