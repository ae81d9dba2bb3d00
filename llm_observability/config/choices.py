"""The choices of settings and construct props as ``Literal`` types, each list of values written once.

Checks read the values with :func:`typing.get_args` (``validation.choice(setting, value, SingletonMode)``),
so the type a reader or mypy sees and the values synth accepts cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

#: Maturity level: stacks 1..level are built.
Level = Literal[1, 2, 3]
#: Output sizes Titan Text Embeddings V2 supports (the vector index must match).
EmbeddingDimensions = Literal[256, 512, 1024]
#: How prompt and answer text is logged; the same values as ``telemetry.PROMPT_LOGGING_MODES`` (a test keeps
#: them equal: the Lambda code cannot import this package).
PromptLogging = Literal["full", "redacted", "none"]
#: What Bedrock invocation logging does with a configuration the account already has.
ExistingConfiguration = Literal["keep", "replace"]
#: Account+region singletons (Security Hub hub, Config recorder, DevOps Guru coverage): create one, or adopt the
#: account's.
SingletonMode = Literal["create", "adopt"]
#: Security Hub standards by short name.
SecurityStandard = Literal["fsbp", "cis", "nist"]
#: Where Level 3 streams the application's logs: an OpenSearch domain, an OpenSearch Serverless collection, or nowhere.
LogAnalyticsMode = Literal["domain", "serverless", "off"]
#: ``standard``: the library's defaults; ``strict``: the AWS Control Tower proactive controls met
#: (:mod:`llm_observability.compliance_profile`).
ComplianceProfile = Literal["standard", "strict"]
#: Account singletons across an organization: each target creates its own, or a delegated administrator has them.
OrganizationServices = Literal["per_account", "delegated_admin"]
#: The statistic that compares production output with its trailing baseline: population stability index or
#: the two-sample Kolmogorov-Smirnov distance.
DriftStatistic = Literal["psi", "ks"]
